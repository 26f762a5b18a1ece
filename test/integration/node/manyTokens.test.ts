// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Junk tokens cannot stall settlement (issue 15), on the real devnet pieces: Ganache with its 30M
 * gas blocks, the bridge, three node processes. One user deploys 360 worthless ERC-20s
 * (contracts/test/JunkToken.sol), deposits each, and withdraws part of every one of them in ONE
 * epoch: 360 debits and 360 payouts in 360 distinct tokens. Withdrawals stay valid whatever the fee
 * policy (a token not accepted for transfers can always be withdrawn). The epoch is sealed by hand
 * and must land on-chain by itself: `lastEpoch()` reaches it, every payout is withdrawable.
 *
 * Before the token cap, the node put all 720 items in one chunk (its budget was 923 items at 26,000
 * gas each, whatever the tokens). The bridge finds each token's running sum by a linear scan, about
 * 151 gas per step and T^2 steps for T tokens: that chunk needs more than a block's 30M gas, so its
 * estimate fails on every try and settlement stops there for good (epochs land in order). Now the
 * plan caps the tokens per chunk and sizes the items by the measured gas model.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, Interface, Wallet } from "ethers";
import { DeltaClient, fastSignWithdrawal } from "../../../src/client/index.ts";
import { depositJunkTokens } from "../../../src/devnet/junkTokens.ts";
import { getJson, pollUntil, startTestDevnet, TEST_ADMIN_TOKEN, type Json, type TestDevnet } from "./devnetFixture.ts";

const TOKENS = 360;
const DEPOSIT = 1_000n;
const WITHDRAW = 400n;
const DEADLINE = BigInt(Math.floor(Date.now() / 1000) + 3600);

describe("settlement with 360 distinct tokens in one epoch (Ganache + 3 node processes)", { timeout: 420_000 }, () => {
  let devnet: TestDevnet;

  before(async () => {
    // Epochs seal only by hand, so the 360 withdrawals share one.
    devnet = await startTestDevnet("many-tokens", { epoch: { intervalMs: 0, maxMessages: 0 } });
  });
  after(async () => {
    await devnet?.stop();
  });

  it("settles on-chain in chunks that each fit a block, and every payout is withdrawable", async () => {
    const { chain, rests } = devnet;
    const holder = new Wallet(chain.users[0]!.privateKey, chain.provider);
    // Checksummed, as the API writes addresses.
    const tokens = (await depositJunkTokens(holder, chain.provider, chain.bridgeAddress, TOKENS, DEPOSIT)).map((t) => getAddress(t));
    assert.equal(new Set(tokens).size, TOKENS);

    // Every node credits the 360 deposits.
    await pollUntil("360 junk token deposits credited on every node", 120_000, async () => {
      const views = await Promise.all(rests.map((r) => getJson(`${r}/v1/accounts/${holder.address}`)));
      return views.every((v) => tokens.every((t) => (v["balances"] as Record<string, string>)[t] === DEPOSIT.toString())) ? true : undefined;
    });

    // One withdrawal of each token, nonces 0..359, spread over the three nodes, 24 in flight at a time.
    const clients = rests.map((r) => new DeltaClient({ baseUrls: [r] }));
    const domain = await clients[0]!.domain();
    const signed = tokens.map((token, i) => fastSignWithdrawal(holder.privateKey, domain, { token, amount: WITHDRAW, nonce: BigInt(i), deadline: DEADLINE }));
    const epochs = new Set<bigint>();
    for (let i = 0; i < signed.length; i += 24) {
      const answers = await Promise.all(signed.slice(i, i + 24).map((w, k) => clients[(i + k) % clients.length]!.submitWithdrawal(w)));
      for (const a of answers) epochs.add(a.epoch);
    }
    assert.equal(epochs.size, 1, "all 360 withdrawals in one epoch");

    const sealed = await fetch(`${rests[0]}/v1/admin/seal`, { method: "POST", headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    assert.equal(sealed.status, 200);
    const epoch = BigInt(((await sealed.json()) as Json)["epoch"] as string);
    assert.equal(epoch, [...epochs][0]);

    // The epoch lands on-chain by itself: the leader plans, gathers signatures and submits every chunk.
    await pollUntil(`bridge.lastEpoch() reaches ${epoch}`, 240_000, async () => (((await chain.bridge.lastEpoch()) as bigint) >= epoch ? true : undefined));

    // The served settlement: every chunk within the token cap, each landed well inside a block.
    const settlement = await getJson(`${rests[0]}/v1/epochs/${epoch}/settlement`);
    const chunks = settlement["chunks"] as { settlement: { deltas: { token: string }[]; payouts: { token: string }[] } }[];
    assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
    const items = chunks.reduce((n, c) => n + c.settlement.deltas.length + c.settlement.payouts.length, 0);
    assert.equal(items, 2 * TOKENS);
    const bridge = new Interface(["event Settled(uint64 indexed epoch, uint32 chunk, uint32 chunks, uint256 deltas, uint256 payouts)"]);
    const logs = await chain.provider.getLogs({ address: chain.bridgeAddress, topics: [bridge.getEvent("Settled")!.topicHash], fromBlock: 0 });
    const landed = logs.filter((l) => BigInt(l.topics[1]!) === epoch);
    assert.equal(landed.length, chunks.length);
    for (const log of landed) {
      const receipt = await chain.provider.getTransactionReceipt(log.transactionHash);
      const block = await chain.provider.getBlock(log.blockNumber);
      assert.ok(receipt !== null && block !== null && receipt.gasUsed * 10n <= block.gasLimit * 8n, `chunk gas ${receipt?.gasUsed} within 80% of the block`);
    }

    // On-chain: every token's 400 withdrawable and 600 still settled, for the holder.
    for (const token of tokens) {
      assert.equal((await chain.bridge.withdrawable(token, holder.address)) as bigint, WITHDRAW, token);
      assert.equal((await chain.bridge.balanceOf(token, holder.address)) as bigint, DEPOSIT - WITHDRAW, token);
    }
    // And every node marks the epoch settled.
    await pollUntil(`epoch ${epoch} settled on every node`, 60_000, async () => {
      const views = await Promise.all(rests.map((r) => getJson(`${r}/v1/epochs/${epoch}`)));
      return views.every((v) => v["status"] === "settled") ? true : undefined;
    });
  });
});
