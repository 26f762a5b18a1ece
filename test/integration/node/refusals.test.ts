// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Every refusal of PROTOCOL.md §2 against a real node process (Ganache + 3 nodes), table-driven:
 * each answers its status and code, and leaves the node's ledger state hash (GET /v1/admin/state)
 * unchanged, on the node asked and on the leader. (503 NO_LEADER needs a cluster without a quorum;
 * the API tests cover its mapping.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import { NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, post, startTestDevnet, TEST_ADMIN_TOKEN, type Json, type TestDevnet } from "./devnetFixture.ts";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The same signature with s -> n - s and v flipped: valid for ecrecover, refused as high-s. */
function highS(signature: string): string {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = parseInt(signature.slice(130, 132), 16);
  return `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}`;
}

/** `address` (EIP-55) with the case of its first hex letter flipped: a broken checksum. */
function flipCaseOfFirstLetter(address: string): string {
  const i = [...address].findIndex((ch, k) => k >= 2 && /[a-fA-F]/.test(ch));
  assert.ok(i > 0, "the address has a hex letter");
  const ch = address[i]!;
  return address.slice(0, i) + (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase()) + address.slice(i + 1);
}

async function stateOf(rest: string): Promise<string> {
  const r = await fetch(`${rest}/v1/admin/state`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  assert.equal(r.status, 200);
  return String(((await r.json()) as Json)["stateHash"]); // the state view
}

interface Case {
  readonly name: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: string | undefined;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly code: string;
}

describe("every refusal of PROTOCOL.md §2 on a real node changes nothing", { timeout: 180_000 }, () => {
  let devnet: TestDevnet;
  let follower: string;
  let leader: string;
  const cases: Case[] = [];

  before(async () => {
    // No automatic seal: every refusal is checked against an unchanged state hash.
    devnet = await startTestDevnet("refusals", { epoch: { intervalMs: 0, maxMessages: 0 } });
    const { chain, rests } = devnet;
    const alice = new Wallet(chain.users[0]!.privateKey, chain.provider);
    const bob = chain.users[1]!.address;
    await (await connectAs(chain.bridge, alice).deposit({ value: 1_000n })).wait();
    for (const rest of rests) {
      await pollUntil(`credit on ${rest}`, 20_000, async () => {
        const a = await getJson(`${rest}/v1/accounts/${alice.address}`);
        return (a["balances"] as Record<string, string>)[NATIVE_TOKEN] === "1000" ? true : undefined;
      });
    }
    const status = await getJson(`${rests[0]}/v1/status`);
    const leaderIndex = devnet.cluster.nodes.findIndex((n) => n.address === status["leader"]);
    leader = rests[leaderIndex]!;
    follower = rests[(leaderIndex + 1) % 3]!;

    const domain = { name: "DeltaBridge", version: "1", chainId: BigInt(chain.chainId), verifyingContract: chain.bridgeAddress };
    const far = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const sign = async (fields: { to?: string; amount?: bigint; nonce?: bigint; deadline?: bigint }, signer: Wallet = alice) => {
      const t = { from: alice.address, to: fields.to ?? bob, token: NATIVE_TOKEN, amount: fields.amount ?? 10n, fee: 0n, nonce: fields.nonce ?? 0n, deadline: fields.deadline ?? far };
      const signature = await signer.signTypedData(domain, TYPES.Transfer, t);
      return { ...t, amount: t.amount.toString(), fee: "0", nonce: t.nonce.toString(), deadline: t.deadline.toString(), signature };
    };
    // One committed transfer (nonce 0), so that nonce 0 is then reused.
    const first = await sign({});
    const committed = await post(`${follower}/v1/transfers`, first);
    assert.equal(committed.status, 200, JSON.stringify(committed.body));
    // Followers learn a commit with the next append or heartbeat: wait until every node applied it.
    await pollUntil("all nodes at the same state", 10_000, async () => {
      const hashes = await Promise.all(rests.map(stateOf));
      return hashes.every((h) => h === hashes[0]) ? true : undefined;
    });
    const good = await sign({ nonce: 1n });
    const json = (v: unknown): string => JSON.stringify(v);
    const transfer = (name: string, body: unknown, status: number, code: string): Case => ({ name, method: "POST", path: "/v1/transfers", body: json(body), status, code });
    cases.push(
      { name: "malformed JSON", method: "POST", path: "/v1/transfers", body: "{", status: 400, code: "INVALID_BODY" },
      transfer("an unknown field", { ...good, memo: "hi" }, 400, "UNKNOWN_FIELD"),
      transfer("a missing field", { ...good, signature: undefined }, 400, "MISSING_FIELD"),
      transfer("amount 0", { ...good, amount: "0" }, 400, "AMOUNT_ZERO"),
      transfer("a negative amount", { ...good, amount: "-5" }, 400, "INVALID_AMOUNT"),
      transfer("a JSON number for an amount", { ...good, amount: 10 }, 400, "AMOUNT_NOT_STRING"),
      transfer("an amount above 2^256-1", { ...good, amount: (1n << 256n).toString() }, 400, "AMOUNT_TOO_LARGE"),
      transfer("a short address", { ...good, to: "0x1234" }, 400, "INVALID_ADDRESS"),
      transfer("a bad mixed-case checksum", { ...good, to: flipCaseOfFirstLetter(bob) }, 400, "BAD_CHECKSUM"),
      transfer("the zero address as receiver", await sign({ to: NATIVE_TOKEN, nonce: 1n }), 400, "ZERO_ADDRESS"),
      transfer("from == to", await sign({ to: alice.address, nonce: 1n }), 400, "SELF_TRANSFER"),
      transfer("a high-s signature", { ...good, signature: highS(good.signature) }, 400, "HIGH_S_SIGNATURE"),
      transfer("v outside 27/28", { ...good, signature: good.signature.slice(0, 130) + "1d" }, 400, "INVALID_V"),
      transfer("someone else's signature", await sign({ nonce: 1n }, new Wallet(chain.users[2]!.privateKey)), 400, "INVALID_SIGNATURE"),
      { name: "an empty batch", method: "POST", path: "/v1/transfers/batch", body: json({ transfers: [] }), status: 400, code: "BATCH_SIZE" },
      { name: "seal without a token", method: "POST", path: "/v1/admin/seal", status: 401, code: "UNAUTHORIZED" },
      { name: "seal with a wrong token", method: "POST", path: "/v1/admin/seal", headers: { authorization: "Bearer nope-nope-nope-nope" }, status: 401, code: "UNAUTHORIZED" },
      { name: "an unknown transfer", method: "GET", path: `/v1/transfers/0x${"ab".repeat(32)}`, status: 404, code: "NOT_FOUND" },
      { name: "an epoch that does not exist", method: "GET", path: "/v1/epochs/99", status: 404, code: "NOT_FOUND" },
      { name: "an unknown route", method: "GET", path: "/v1/nothing", status: 404, code: "NOT_FOUND" },
      transfer("a reused nonce", await sign({ nonce: 0n, amount: 11n }), 409, "NONCE_REUSED"),
      transfer("a gapped nonce", await sign({ nonce: 5n }), 409, "NONCE_GAP"),
      transfer("the committed transfer again", first, 409, "NONCE_REUSED"),
      { name: "a body over 8 MiB", method: "POST", path: "/v1/transfers", body: json({ ...good, pad: "x".repeat(8 * 1024 * 1024 + 10) }), status: 413, code: "PAYLOAD_TOO_LARGE" },
      { name: "not JSON", method: "POST", path: "/v1/transfers", body: "amount=10", headers: { "content-type": "text/plain" }, status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
      transfer("more than the balance", await sign({ nonce: 1n, amount: 5_000n }), 422, "INSUFFICIENT_BALANCE"),
      transfer("an expired deadline", await sign({ nonce: 1n, deadline: 1_000n }), 422, "DEADLINE_EXPIRED"),
    );
  });
  after(async () => {
    await devnet?.stop();
  });

  it("answers each with its status and code, and neither the node asked nor the leader changes", async () => {
    assert.ok(cases.length >= 25);
    for (const c of cases) {
      for (const target of [follower, leader]) {
        const before = [await stateOf(target), await stateOf(leader)];
        const headers: Record<string, string> = { ...(c.body !== undefined ? { "content-type": "application/json" } : {}), ...c.headers };
        const r = await fetch(`${target}${c.path}`, { method: c.method, headers, body: c.body });
        const body = (await r.json()) as Json; // every answer, refusals included, is a JSON object
        assert.equal(r.status, c.status, `${c.name} at ${target}: ${JSON.stringify(body).slice(0, 300)}`);
        assert.equal((body["error"] as Json | undefined)?.["code"], c.code, `${c.name} at ${target}`);
        assert.deepEqual([await stateOf(target), await stateOf(leader)], before, `${c.name} changed the state at ${target}`);
      }
    }
    // And the node still works: a good transfer commits.
    const ok = await post(`${leader}/v1/transfers`, JSON.parse(cases.find((c) => c.name === "an unknown field")!.body!, (k, v) => (k === "memo" ? undefined : v)));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });
});
