// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue 15, admission control, on the real devnet pieces (Ganache + 3 node processes):
 * 1. 2,000 transfers signed by fresh keys that hold nothing, each with a fee of 10^30, posted as
 *    one batch to the leader and again to a follower: every one is refused 422
 *    INSUFFICIENT_BALANCE and the leader proposes no message at all (before: one block of all
 *    2,000 per post);
 * 2. two transfers in one batch that the balance pays only one of: the second is refused at once
 *    and never reaches a block (before: both went into the block, the ledger refused the second);
 * 3. a body of badly signed transfers posted twice: the second time every refusal comes from
 *    memory (no signature recovery);
 * 4. a nonce too far past the account's next one is refused at once;
 * 5. a leader whose mempool is full (3 messages, blocks held back) refuses a lower fee at once and
 *    pushes the lowest fee out for a higher one, answering its client 503 MEMPOOL_FULL.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import { fastSignTransfer } from "../../../src/client/index.ts";
import { encodeTransferRequest, NATIVE_TOKEN, type Address, type BridgeDomain } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, post, startTestDevnet, type Json, type TestDevnet, metricValue } from "./devnetFixture.ts";

const deadline = BigInt(Math.floor(Date.now() / 1000) + 3_600);

async function domainOf(rest: string): Promise<BridgeDomain> {
  const d = await getJson(`${rest}/v1/domain`);
  return { name: "DeltaBridge", version: "1", chainId: BigInt(String(d["chainId"])), verifyingContract: String(d["verifyingContract"]) as Address };
}

/** The leader's REST URL and the followers'. */
async function roles(rests: readonly string[]): Promise<{ leader: string; followers: string[]; term: number }> {
  return pollUntil("a leader known to every node", 20_000, async () => {
    const all = await Promise.all(rests.map((r) => getJson(`${r}/v1/status`)));
    const leaders = all.map((s, i) => (s["role"] === "leader" ? rests[i]! : undefined)).filter((r) => r !== undefined);
    if (leaders.length !== 1 || !all.every((s) => s["leader"] === all.find((x) => x["role"] === "leader")?.["address"])) return undefined;
    return { leader: leaders[0]!, followers: rests.filter((r) => r !== leaders[0]), term: Number(all[0]!["term"]) };
  });
}

/** Messages the node has put into blocks as leader (the sum of its block-size histogram). */
const proposed = (rest: string): Promise<number> => metricValue(rest, "delta_block_messages_sum");

async function fund(devnet: TestDevnet, wallets: readonly Wallet[], amount: bigint): Promise<void> {
  for (const w of wallets) await (await connectAs(devnet.chain.bridge, w.connect(devnet.chain.provider)).deposit({ value: amount })).wait();
  for (const rest of devnet.rests) {
    for (const w of wallets) {
      await pollUntil(`the deposit of ${w.address} on ${rest}`, 30_000, async () => {
        const b = (await getJson(`${rest}/v1/accounts/${w.address}`))["balances"] as Record<string, string>;
        return b[NATIVE_TOKEN] === amount.toString() ? true : undefined;
      });
    }
  }
}

function codes(body: Json): string[] {
  return (body["results"] as { error?: { code: string }; status?: string }[]).map((r) => r.error?.code ?? r.status ?? "?");
}

describe("admission: refused at once, before the log", () => {
  let devnet: TestDevnet;
  let domain: BridgeDomain;
  let alice: Wallet;
  let stranger: Wallet;
  const bob = "0x00000000000000000000000000000000000000b0";

  before(async () => {
    devnet = await startTestDevnet("admission", { epoch: { intervalMs: 0, maxMessages: 0 } });
    domain = await domainOf(devnet.rests[0]!);
    alice = new Wallet(devnet.chain.users[0]!.privateKey);
    stranger = new Wallet(devnet.chain.users[1]!.privateKey);
    await fund(devnet, [alice], 1_000n);
  });
  after(async () => {
    await devnet?.stop();
  });

  it("2,000 unfunded high-fee transfers, posted twice to the leader and a follower, add nothing to any block", async () => {
    const { leader, followers, term } = await roles(devnet.rests);
    const body = {
      transfers: Array.from({ length: 2_000 }, () =>
        encodeTransferRequest(fastSignTransfer(`0x${randomBytes(32).toString("hex")}`, domain, { to: bob, token: NATIVE_TOKEN, amount: 1n, fee: 10n ** 30n, nonce: 0n, deadline })),
      ),
    };
    const before = await proposed(leader);
    const refusedBefore = await metricValue(leader, "delta_admission_refusals_total", '{code="INSUFFICIENT_BALANCE",stage="intake"}');
    for (const rest of [leader, followers[0]!, leader]) {
      const answer = await post(`${rest}/v1/transfers/batch`, body);
      assert.equal(answer.status, 200, JSON.stringify(answer.body).slice(0, 300));
      assert.deepEqual(new Set(codes(answer.body)), new Set(["INSUFFICIENT_BALANCE"]), rest);
    }
    assert.equal(await proposed(leader), before, "the leader put none of them in a block");
    assert.equal((await roles(devnet.rests)).term, term, "no leader change");
    assert.equal(await metricValue(leader, "delta_admission_refusals_total", '{code="INSUFFICIENT_BALANCE",stage="intake"}'), refusedBefore + 4_000);
    // An honest transfer still goes through, at once.
    const honest = await post(`${followers[0]}/v1/transfers`, encodeTransferRequest(fastSignTransfer(alice.privateKey, domain, { to: bob, token: NATIVE_TOKEN, amount: 10n, fee: 0n, nonce: 0n, deadline })));
    assert.equal(honest.status, 200, JSON.stringify(honest.body));
  });

  it("counts what the account has in flight: the second of two transfers the balance pays once never reaches a block", async () => {
    const { leader, followers } = await roles(devnet.rests);
    // Alice holds 990 now.
    const sign = (amount: bigint, nonce: bigint) => encodeTransferRequest(fastSignTransfer(alice.privateKey, domain, { to: bob, token: NATIVE_TOKEN, amount, fee: 0n, nonce, deadline }));
    for (const rest of [leader, followers[1]!]) {
      const account = await getJson(`${rest}/v1/accounts/${alice.address}`);
      const nonce = BigInt(String(account["nonce"]));
      const balance = BigInt((account["balances"] as Record<string, string>)[NATIVE_TOKEN]!);
      const before = await proposed(leader);
      const part = balance / 2n + 1n;
      const answer = await post(`${rest}/v1/transfers/batch`, { transfers: [sign(part, nonce), sign(part, nonce + 1n)] });
      assert.deepEqual(codes(answer.body), ["committed", "INSUFFICIENT_BALANCE"], `${rest}: ${JSON.stringify(answer.body)}`);
      assert.equal(await proposed(leader), before + 1, "only the first reached a block");
    }
  });

  it("remembers bad signatures: the same body again is refused from memory", async () => {
    const { followers } = await roles(devnet.rests);
    const rest = followers[0]!;
    const nonce = BigInt(String((await getJson(`${rest}/v1/accounts/${alice.address}`))["nonce"]));
    // Alice's fields, the stranger's signatures.
    const body = {
      transfers: Array.from({ length: 20 }, (_, i) =>
        encodeTransferRequest(fastSignTransfer(stranger.privateKey, domain, { from: alice.address as Address, to: bob, token: NATIVE_TOKEN, amount: BigInt(i + 1), fee: 0n, nonce, deadline })),
      ),
    };
    const label = '{code="INVALID_SIGNATURE",stage="remembered"}';
    const before = await metricValue(rest, "delta_admission_refusals_total", label);
    const first = await post(`${rest}/v1/transfers/batch`, body);
    assert.deepEqual(new Set(codes(first.body)), new Set(["INVALID_SIGNATURE"]));
    assert.equal(await metricValue(rest, "delta_admission_refusals_total", label), before, "the first time, each signature was checked");
    const again = await post(`${rest}/v1/transfers/batch`, body);
    assert.deepEqual(new Set(codes(again.body)), new Set(["INVALID_SIGNATURE"]));
    assert.equal(await metricValue(rest, "delta_admission_refusals_total", label), before + 20);
    // The right signature of the same message is not refused for the wrong ones.
    const good = await post(`${rest}/v1/transfers`, encodeTransferRequest(fastSignTransfer(alice.privateKey, domain, { to: bob, token: NATIVE_TOKEN, amount: 1n, fee: 0n, nonce, deadline })));
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });

  it("refuses a nonce more than maxNonceAhead (10,000) past the next one at once", async () => {
    const { leader } = await roles(devnet.rests);
    const nonce = BigInt(String((await getJson(`${leader}/v1/accounts/${alice.address}`))["nonce"]));
    const before = await proposed(leader);
    const far = await post(`${leader}/v1/transfers`, encodeTransferRequest(fastSignTransfer(alice.privateKey, domain, { to: bob, token: NATIVE_TOKEN, amount: 1n, fee: 0n, nonce: nonce + 10_000n, deadline })));
    assert.equal(far.status, 409, JSON.stringify(far.body));
    assert.equal((far.body["error"] as Json)["code"], "NONCE_GAP");
    assert.match(String((far.body["error"] as Json)["message"]), /too far ahead/);
    assert.equal(await proposed(leader), before);
  });
});

describe("admission: the leader's mempool is bounded and evicts the lowest fee", () => {
  let devnet: TestDevnet;
  let domain: BridgeDomain;
  let payers: Wallet[];
  const bob = "0x00000000000000000000000000000000000000b0";

  before(async () => {
    // Blocks held back: no timer cuts one in the test's time, and the mempool (3) never reaches a
    // block's size (10), so what is admitted waits there.
    devnet = await startTestDevnet("mempool-cap", { epoch: { intervalMs: 0, maxMessages: 0 }, block: { intervalMs: 600_000, maxMessages: 10 }, mempool: { maxMessages: 3 } });
    domain = await domainOf(devnet.rests[0]!);
    payers = [2, 3, 4, 5, 6].map((i) => new Wallet(devnet.chain.users[i]!.privateKey));
    await fund(devnet, payers, 1_000n);
  });
  after(async () => {
    await devnet?.stop();
  });

  it("refuses a fee no higher than the lowest waiting, and pushes the lowest out for a higher one", async () => {
    const { leader } = await roles(devnet.rests);
    const pay = (i: number, fee: bigint) => post(`${leader}/v1/transfers`, encodeTransferRequest(fastSignTransfer(payers[i]!.privateKey, domain, { to: bob, token: NATIVE_TOKEN, amount: 1n, fee, nonce: 0n, deadline })));
    // Three wait in the mempool (fees 1, 2, 3); their answers stay open.
    const waiting = [pay(0, 1n), pay(1, 2n), pay(2, 3n)];
    await pollUntil("three messages in the leader's mempool", 10_000, async () => ((await metricValue(leader, "delta_mempool_size")) === 3 ? true : undefined));
    const low = await pay(3, 1n);
    assert.equal(low.status, 503, JSON.stringify(low.body));
    assert.equal((low.body["error"] as Json)["code"], "MEMPOOL_FULL");
    const high = pay(4, 5n);
    const pushedOut = await waiting[0]!;
    assert.equal(pushedOut.status, 503, JSON.stringify(pushedOut.body));
    assert.equal((pushedOut.body["error"] as Json)["code"], "MEMPOOL_FULL");
    assert.equal(await metricValue(leader, "delta_mempool_evicted_total", '{reason="fee"}'), 1);
    assert.equal(await metricValue(leader, "delta_mempool_size"), 3);
    // The rest are still waiting for a block; the stop answers them.
    void Promise.all([high, ...waiting.slice(1)]);
  });
});
