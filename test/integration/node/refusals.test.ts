// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Every refusal of PROTOCOL.md §2 against a real node process (Ganache + 3 nodes), table-driven:
 * each answers its status and code, and leaves the node's ledger state hash (GET /v1/admin/state)
 * unchanged, on the node asked and on the leader. Rows: transfers and withdrawals (malformed,
 * badly signed, nonce gap and reuse, a committed message again (DUPLICATE), insufficient balance,
 * amount + fee over the balance, expired deadline, 413, 415), batches (size 0 and over 10,000, a
 * bad envelope, and a 200 answer whose items are each refused), path parameters (address,
 * checksum, hash, percent-encoding, epoch number), proofs and settlements of an open epoch, and
 * the admin seal (401, 400, 415). Every row is tried, then the failures are listed together.
 * (503 NO_LEADER needs a cluster without a quorum; the API tests cover its mapping.)
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

/** An error code other than INTERNAL (for a refusal whose code PROTOCOL.md leaves to the project). */
const ANY_CLIENT_CODE = /^(?!INTERNAL$)[A-Z][A-Z0-9_]*$/;

interface Case {
  readonly name: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: string | undefined;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** The error code of a refused request. */
  readonly code?: string | RegExp;
  /** A batch answered 200: each item's error code, in the order sent (every item refused). */
  readonly items?: readonly string[];
}

describe("every refusal of PROTOCOL.md §2 on a real node changes nothing", { timeout: 300_000 }, () => {
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
    const sign = async (fields: { to?: string; amount?: bigint; fee?: bigint; nonce?: bigint; deadline?: bigint }, signer: Wallet = alice) => {
      const t = { from: alice.address, to: fields.to ?? bob, token: NATIVE_TOKEN, amount: fields.amount ?? 10n, fee: fields.fee ?? 0n, nonce: fields.nonce ?? 0n, deadline: fields.deadline ?? far };
      const signature = await signer.signTypedData(domain, TYPES.Transfer, t);
      return { ...t, amount: t.amount.toString(), fee: t.fee.toString(), nonce: t.nonce.toString(), deadline: t.deadline.toString(), signature };
    };
    const signW = async (fields: { token?: string; amount?: bigint; nonce?: bigint; deadline?: bigint }, signer: Wallet = alice) => {
      const w = { account: alice.address, token: fields.token ?? NATIVE_TOKEN, amount: fields.amount ?? 10n, nonce: fields.nonce ?? 2n, deadline: fields.deadline ?? far };
      const signature = await signer.signTypedData(domain, TYPES.Withdrawal, w);
      return { ...w, amount: w.amount.toString(), nonce: w.nonce.toString(), deadline: w.deadline.toString(), signature };
    };
    // One committed transfer (nonce 0) and one committed withdrawal (nonce 1), so that both are
    // then sent again and their nonces reused. Alice holds 980 wei after them; her next nonce is 2.
    const first = await sign({});
    const committed = await post(`${follower}/v1/transfers`, first);
    assert.equal(committed.status, 200, JSON.stringify(committed.body));
    const firstWithdrawal = await signW({ nonce: 1n });
    const withdrawn = await post(`${follower}/v1/withdrawals`, firstWithdrawal);
    assert.equal(withdrawn.status, 200, JSON.stringify(withdrawn.body));
    // Followers learn a commit with the next append or heartbeat: wait until every node applied it.
    await pollUntil("all nodes at the same state", 10_000, async () => {
      const hashes = await Promise.all(rests.map(stateOf));
      return hashes.every((h) => h === hashes[0]) ? true : undefined;
    });
    const openEpoch = String((await getJson(`${leader}/v1/status`))["epoch"]);
    const good = await sign({ nonce: 2n });
    const goodW = await signW({});
    const json = (v: unknown): string => JSON.stringify(v);
    const transfer = (name: string, body: unknown, status: number, code: string): Case => ({ name, method: "POST", path: "/v1/transfers", body: json(body), status, code });
    const withdrawal = (name: string, body: unknown, status: number, code: string): Case => ({ name, method: "POST", path: "/v1/withdrawals", body: json(body), status, code });
    const batch = (name: string, body: unknown, status: number, code: string): Case => ({ name, method: "POST", path: "/v1/transfers/batch", body: json(body), status, code });
    const get = (name: string, path: string, status: number, code: string | RegExp): Case => ({ name, method: "GET", path, status, code });
    const seal = (name: string, body: string, contentType: string, status: number, code: string): Case => ({
      name,
      method: "POST",
      path: "/v1/admin/seal",
      body,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": contentType },
      status,
      code,
    });
    const stranger = new Wallet(chain.users[2]!.privateKey);
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
      transfer("the zero address as receiver", await sign({ to: NATIVE_TOKEN, nonce: 2n }), 400, "ZERO_ADDRESS"),
      transfer("from == to", await sign({ to: alice.address, nonce: 2n }), 400, "SELF_TRANSFER"),
      transfer("a high-s signature", { ...good, signature: highS(good.signature) }, 400, "HIGH_S_SIGNATURE"),
      transfer("v outside 27/28", { ...good, signature: good.signature.slice(0, 130) + "1d" }, 400, "INVALID_V"),
      transfer("someone else's signature", await sign({ nonce: 2n }, stranger), 400, "INVALID_SIGNATURE"),
      batch("an empty batch", { transfers: [] }, 400, "BATCH_SIZE"),
      // 10,001 copies of one good transfer (about 3.5 MB, under the 8 MiB limit): refused whole,
      // so its one valid transfer does not commit either.
      batch("a batch of 10,001 transfers", { transfers: Array.from({ length: 10_001 }, () => good) }, 400, "BATCH_SIZE"),
      batch("a batch envelope with an unknown field", { transfers: [good], memo: "hi" }, 400, "UNKNOWN_FIELD"),
      batch("a batch without its transfers", {}, 400, "MISSING_FIELD"),
      {
        // PROTOCOL.md §2: a batch answers 200 with each item's verdict; each of these is refused.
        name: "a batch whose every item is refused",
        method: "POST",
        path: "/v1/transfers/batch",
        body: json({
          transfers: [
            { ...good, memo: "hi" },
            { ...good, amount: "0" },
            await sign({ nonce: 2n, amount: 12n }, stranger),
            await sign({ nonce: 0n, amount: 12n }),
            await sign({ nonce: 7n }),
            await sign({ nonce: 2n, amount: 5_000n }),
            await sign({ nonce: 2n, amount: 900n, fee: 100n }),
            await sign({ nonce: 2n, deadline: 1_000n }),
          ],
        }),
        status: 200,
        items: ["UNKNOWN_FIELD", "AMOUNT_ZERO", "INVALID_SIGNATURE", "NONCE_REUSED", "NONCE_GAP", "INSUFFICIENT_BALANCE", "INSUFFICIENT_BALANCE", "DEADLINE_EXPIRED"],
      },
      {
        name: "the committed transfer again inside a batch",
        method: "POST",
        path: "/v1/transfers/batch",
        body: json({ transfers: [first] }),
        status: 200,
        items: ["DUPLICATE"],
      },
      { name: "seal without a token", method: "POST", path: "/v1/admin/seal", status: 401, code: "UNAUTHORIZED" },
      { name: "seal with a wrong token", method: "POST", path: "/v1/admin/seal", headers: { authorization: "Bearer nope-nope-nope-nope" }, status: 401, code: "UNAUTHORIZED" },
      seal("seal with an unknown field", json({ now: true }), "application/json", 400, "UNKNOWN_FIELD"),
      seal("seal with a JSON array", "[]", "application/json", 400, "INVALID_BODY"),
      seal("seal with malformed JSON", "{", "application/json", 400, "INVALID_BODY"),
      seal("seal with a body that is not JSON", "now=1", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
      get("an unknown transfer", `/v1/transfers/0x${"ab".repeat(32)}`, 404, "NOT_FOUND"),
      get("an epoch that does not exist", "/v1/epochs/99", 404, "NOT_FOUND"),
      get("an unknown route", "/v1/nothing", 404, "NOT_FOUND"),
      get("an account path that is no address", "/v1/accounts/0x1234", 400, "INVALID_ADDRESS"),
      get("an account path with a bad checksum", `/v1/accounts/${flipCaseOfFirstLetter(alice.address)}`, 400, "BAD_CHECKSUM"),
      get("a transfer path that is no hash", "/v1/transfers/0x1234", 400, "INVALID_HASH"),
      get("a transfer path of 65 hex digits", `/v1/transfers/0x${"a".repeat(65)}`, 400, "INVALID_HASH"),
      // PROTOCOL.md §2 names the status (400 malformed), not the code.
      get("a transfer path with bad percent-encoding", "/v1/transfers/%ZZ", 400, ANY_CLIENT_CODE),
      get("a proof path that is no hash", "/v1/transfers/0x1234/proof", 400, "INVALID_HASH"),
      get("an unknown transfer's proof", `/v1/transfers/0x${"ab".repeat(32)}/proof`, 404, "NOT_FOUND"),
      get("a proof while the epoch is open", `/v1/transfers/${String(committed.body["hash"])}/proof`, 409, "EPOCH_OPEN"),
      get("an epoch path that is not a number", "/v1/epochs/abc", 400, "INVALID_BODY"),
      get("an epoch path that is negative", "/v1/epochs/-1", 400, "INVALID_BODY"),
      get("an epoch path above 2^64-1", `/v1/epochs/${(1n << 64n).toString()}`, 400, "INVALID_BODY"),
      get("a settlement path that is not a number", "/v1/epochs/abc/settlement", 400, "INVALID_BODY"),
      get("the open epoch's settlement", `/v1/epochs/${openEpoch}/settlement`, 409, "EPOCH_OPEN"),
      transfer("a reused nonce", await sign({ nonce: 0n, amount: 11n }), 409, "NONCE_REUSED"),
      transfer("a gapped nonce", await sign({ nonce: 5n }), 409, "NONCE_GAP"),
      transfer("the committed transfer again", first, 409, "DUPLICATE"),
      { name: "a body over 8 MiB", method: "POST", path: "/v1/transfers", body: json({ ...good, pad: "x".repeat(8 * 1024 * 1024 + 10) }), status: 413, code: "PAYLOAD_TOO_LARGE" },
      { name: "not JSON", method: "POST", path: "/v1/transfers", body: "amount=10", headers: { "content-type": "text/plain" }, status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
      transfer("more than the balance", await sign({ nonce: 2n, amount: 5_000n }), 422, "INSUFFICIENT_BALANCE"),
      // 900 alone fits the 980 wei Alice holds; 900 + a fee of 100 does not.
      transfer("amount + fee over the balance", await sign({ nonce: 2n, amount: 900n, fee: 100n }), 422, "INSUFFICIENT_BALANCE"),
      transfer("an expired deadline", await sign({ nonce: 2n, deadline: 1_000n }), 422, "DEADLINE_EXPIRED"),
      // POST /v1/withdrawals: the same refusals as a transfer.
      { name: "a withdrawal of malformed JSON", method: "POST", path: "/v1/withdrawals", body: "{", status: 400, code: "INVALID_BODY" },
      withdrawal("a withdrawal with an unknown field", { ...goodW, to: bob }, 400, "UNKNOWN_FIELD"),
      withdrawal("a withdrawal without a signature", { ...goodW, signature: undefined }, 400, "MISSING_FIELD"),
      withdrawal("a withdrawal of 0", { ...goodW, amount: "0" }, 400, "AMOUNT_ZERO"),
      withdrawal("a withdrawal with a JSON number for a nonce", { ...goodW, nonce: 2 }, 400, "AMOUNT_NOT_STRING"),
      withdrawal("a withdrawal from a short address", { ...goodW, account: "0x1234" }, 400, "INVALID_ADDRESS"),
      withdrawal("a withdrawal from a bad checksum", { ...goodW, account: flipCaseOfFirstLetter(alice.address) }, 400, "BAD_CHECKSUM"),
      withdrawal("a withdrawal from the zero address", { ...goodW, account: NATIVE_TOKEN }, 400, "ZERO_ADDRESS"),
      withdrawal("a withdrawal with a high-s signature", { ...goodW, signature: highS(goodW.signature) }, 400, "HIGH_S_SIGNATURE"),
      withdrawal("a withdrawal with v outside 27/28", { ...goodW, signature: goodW.signature.slice(0, 130) + "1d" }, 400, "INVALID_V"),
      withdrawal("a withdrawal signed by someone else", await signW({}, stranger), 400, "INVALID_SIGNATURE"),
      withdrawal("a withdrawal reusing a nonce", await signW({ nonce: 0n }), 409, "NONCE_REUSED"),
      withdrawal("a withdrawal with a gapped nonce", await signW({ nonce: 5n }), 409, "NONCE_GAP"),
      withdrawal("the committed withdrawal again", firstWithdrawal, 409, "DUPLICATE"),
      withdrawal("a withdrawal over the balance", await signW({ amount: 981n }), 422, "INSUFFICIENT_BALANCE"),
      withdrawal("a withdrawal of a token the account does not hold", await signW({ token: chain.tokenAddress }), 422, "INSUFFICIENT_BALANCE"),
      withdrawal("an expired withdrawal", await signW({ deadline: 1_000n }), 422, "DEADLINE_EXPIRED"),
      { name: "a withdrawal that is not JSON", method: "POST", path: "/v1/withdrawals", body: "amount=10", headers: { "content-type": "text/plain" }, status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
    );
  });
  after(async () => {
    await devnet?.stop();
  });

  it("answers each with its status and code, and neither the node asked nor the leader changes", async () => {
    assert.equal(cases.length, 68, "every row of the table is there");
    const failures: string[] = [];
    for (const c of cases) {
      for (const target of [follower, leader]) {
        const before = [await stateOf(target), await stateOf(leader)];
        const headers: Record<string, string> = { ...(c.body !== undefined ? { "content-type": "application/json" } : {}), ...c.headers };
        const r = await fetch(`${target}${c.path}`, { method: c.method, headers, body: c.body });
        const text = await r.text();
        const problems: string[] = [];
        let body: Json = {};
        try {
          body = JSON.parse(text) as Json; // every answer, refusals included, is a JSON object
        } catch {
          problems.push("the answer is not JSON");
        }
        if (r.status !== c.status) problems.push(`status ${r.status}, expected ${c.status}`);
        if (c.items === undefined) {
          const code = (body["error"] as Json | undefined)?.["code"];
          const ok = typeof c.code === "string" ? code === c.code : typeof code === "string" && c.code!.test(code);
          if (!ok) problems.push(`code ${String(code)}, expected ${String(c.code)}`);
        } else {
          const results = Array.isArray(body["results"]) ? (body["results"] as Json[]) : [];
          const codes = results.map((x) => String((x["error"] as Json | undefined)?.["code"] ?? x["status"]));
          if (JSON.stringify(codes) !== JSON.stringify(c.items)) problems.push(`items ${JSON.stringify(codes)}, expected ${JSON.stringify(c.items)}`);
        }
        const after = [await stateOf(target), await stateOf(leader)];
        if (JSON.stringify(after) !== JSON.stringify(before)) problems.push("the state hash changed");
        if (problems.length > 0) failures.push(`${c.name} at ${target === leader ? "the leader" : "a follower"}: ${problems.join("; ")}: ${text.slice(0, 200)}`);
      }
    }
    // Every row is tried before failing, so one run lists every refusal that is off.
    assert.deepEqual(failures, []);
    // And the node still works: a good transfer commits.
    const ok = await post(`${leader}/v1/transfers`, JSON.parse(cases.find((c) => c.name === "an unknown field")!.body!, (k, v) => (k === "memo" ? undefined : v)));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });
});
