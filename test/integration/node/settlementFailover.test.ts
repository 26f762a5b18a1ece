// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * An epoch that needs several chunks settles completely, exactly once and in order, although the
 * leader is killed (SIGKILL) twice: once after the signatures are gathered and before any chunk is
 * sent, and once between two chunks. Real Ganache, three node processes, the public API and the
 * contract only. Chunks of at most 4 items and a pause before each chunk (settlement.chunkDelayMs)
 * open the windows the test kills in. The epoch seals by itself when it reaches 10 messages.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Interface, Wallet, type InterfaceAbi } from "ethers";
import { connectAs, loadArtifact } from "../../../src/chain/index.ts";
import { DeltaClient, fastSignTransfer, type DomainInfo } from "../../../src/client/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import { NATIVE_TOKEN } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, type Json, type TestDevnet, startTestDevnet } from "./devnetFixture.ts";

const U = 10n ** 15n;
const USERS = 10;
const DEADLINE = BigInt(Math.floor(Date.now() / 1000) + 3600);

describe("settlement across leader kills (Ganache + 3 node processes)", { timeout: 300_000 }, () => {
  let devnet: TestDevnet;
  let chain: DevnetChain;
  let client: DeltaClient;
  let domain: DomainInfo;

  before(async () => {
    devnet = await startTestDevnet("settle-failover", {
      epoch: { intervalMs: 0, maxMessages: USERS },
      settlement: { maxItemsPerChunk: 4, chunkDelayMs: 2_500 },
    });
    chain = devnet.chain;
    client = new DeltaClient({ baseUrls: devnet.rests });
    domain = await client.domain();
  });
  after(async () => {
    await devnet?.stop();
  });

  /** Index of the node every live node names as leader. */
  async function leaderIndex(live: readonly number[]): Promise<number> {
    return pollUntil("a leader named by every live node", 30_000, async () => {
      const statuses = await Promise.all(live.map((i) => getJson(`${devnet.rests[i]}/v1/status`)));
      const leader = statuses[0]?.["leader"];
      if (leader === null || !statuses.every((s) => s["leader"] === leader)) return undefined;
      const i = devnet.cluster.nodes.findIndex((n) => n.address === leader);
      return live.includes(i) ? i : undefined;
    });
  }

  async function kill(i: number): Promise<void> {
    const p = devnet.cluster.nodes[i]!.process;
    const exited = new Promise((resolve) => p.once("exit", resolve));
    p.kill("SIGKILL");
    await exited;
  }

  const chainHead = async (): Promise<{ lastEpoch: bigint; nextChunk: bigint }> => ({
    lastEpoch: (await chain.bridge.lastEpoch()) as bigint,
    nextChunk: (await chain.bridge.nextChunk()) as bigint,
  });

  it("settles every chunk exactly once, in order, with the leader killed before the first chunk and between two", async () => {
    const users = chain.users.slice(0, USERS).map((u) => new Wallet(u.privateKey, chain.provider));
    for (const u of users) await (await connectAs(chain.bridge, u).deposit({ value: 20n * U })).wait();
    for (const u of users) {
      await pollUntil(`credit of ${u.address}`, 30_000, async () => {
        const a = await getJson(`${devnet.rests[0]}/v1/accounts/${u.address}`);
        return (a["balances"] as Record<string, string>)[NATIVE_TOKEN] === (20n * U).toString() ? true : undefined;
      });
    }
    const settledBefore = new Map<string, bigint>();
    for (const u of users) settledBefore.set(u.address, (await chain.bridge.balanceOf(NATIVE_TOKEN, u.address)) as bigint);

    // A ring of payments: user i pays user i+1 (i+1) units, so every account has its own delta.
    const ring = users.map((u, i) => fastSignTransfer(u.privateKey, domain, { to: users[(i + 1) % USERS]!.address, token: NATIVE_TOKEN, amount: BigInt(i + 1) * U, nonce: 0n, deadline: DEADLINE }));
    for (const r of await client.submitTransfers(ring)) assert.ok("status" in r, JSON.stringify(r, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
    // The epoch seals by size (epoch.maxMessages 10): the ring's tenth transfer fills it.
    const epoch = 1n;
    await pollUntil("epoch 1 sealed by size", 30_000, async () => ((await client.epoch(epoch))?.status === "sealed" ? true : undefined));

    // 1. Signatures gathered (any node serves them), nothing on-chain yet: kill the leader.
    const signed = await pollUntil("the signed settlement", 30_000, async () => {
      const r = await fetch(`${devnet.rests[0]}/v1/epochs/${epoch}/settlement`);
      return r.status === 200 ? ((await r.json()) as Json) : undefined;
    });
    const chunks = (signed["chunks"] as unknown[]).length;
    assert.ok(chunks >= 3, `several chunks (${chunks})`);
    assert.deepEqual(await chainHead(), { lastEpoch: epoch - 1n, nextChunk: 0n }, "no chunk sent yet (chunkDelayMs window)");
    const first = await leaderIndex([0, 1, 2]);
    await kill(first);
    const survivors = [0, 1, 2].filter((i) => i !== first);
    await leaderIndex(survivors);
    await devnet.cluster.restart(first);
    // Whoever leads once the restarted node is back (the leader may have changed meanwhile).
    const second = await leaderIndex([0, 1, 2]);

    // 2. The new leader sends chunk 0 (the chain is the truth); between chunk 0 and 1: kill it.
    await pollUntil("chunk 0 on-chain", 60_000, async () => ((await chainHead()).nextChunk >= 1n ? true : undefined));
    assert.deepEqual(await chainHead(), { lastEpoch: epoch - 1n, nextChunk: 1n }, "killed between chunk 0 and chunk 1");
    await kill(second);
    const live = [0, 1, 2].filter((i) => i !== second);
    await leaderIndex(live);

    // 3. The third leader finishes; every live node marks the epoch settled.
    const view = await pollUntil(`epoch ${epoch} settled`, 120_000, async () => {
      const views = await Promise.all(live.map((i) => getJson(`${devnet.rests[i]}/v1/epochs/${epoch}`)));
      return views.every((v) => v["status"] === "settled") ? views[0] : undefined;
    });
    assert.deepEqual(await chainHead(), { lastEpoch: epoch, nextChunk: 0n });

    // Exactly one settle transaction per chunk ever reached the chain, in chunk order, none reverted.
    const bridge = new Interface(loadArtifact("DeltaBridge").abi as InterfaceAbi);
    const settleSelector = bridge.getFunction("settle")!.selector;
    const sent: { chunk: number; status: number | null }[] = [];
    const senders: string[] = [];
    const head = await chain.provider.getBlockNumber();
    for (let b = 0; b <= head; b++) {
      const block = await chain.provider.getBlock(b, true);
      for (const tx of block?.prefetchedTransactions ?? []) {
        if (tx.to?.toLowerCase() !== chain.bridgeAddress.toLowerCase() || !tx.data.startsWith(settleSelector)) continue;
        const args = bridge.decodeFunctionData("settle", tx.data);
        const s = args[0] as { epoch: bigint; chunk: bigint };
        if (s.epoch !== epoch) continue;
        sent.push({ chunk: Number(s.chunk), status: (await chain.provider.getTransactionReceipt(tx.hash))?.status ?? null });
        senders.push(tx.from);
      }
    }
    assert.deepEqual(
      sent,
      Array.from({ length: chunks }, (_, k) => ({ chunk: k, status: 1 })),
    );
    // The kills really fell in the windows: chunk 0 was not sent by the first leader, chunk 1 not
    // by the second (each was dead by then), whatever the machine's load.
    assert.notEqual(senders[0], devnet.cluster.nodes[first]!.address, "chunk 0 sent by a later leader");
    assert.notEqual(senders[1], devnet.cluster.nodes[second]!.address, "chunk 1 sent by a later leader");
    const txs = view["settlementTxs"] as string[];
    assert.equal(txs.length, chunks);

    // On-chain settled balances moved by exactly the epoch's deltas.
    const deltas = new Map((view["deltas"] as Json[]).map((d) => [String(d["account"]), BigInt(String(d["delta"]))]));
    for (const [i, u] of users.entries()) {
      const expected = i === 0 ? (BigInt(USERS) - 1n) * U : -1n * U;
      assert.equal(deltas.get(u.address), expected);
      assert.equal(((await chain.bridge.balanceOf(NATIVE_TOKEN, u.address)) as bigint) - settledBefore.get(u.address)!, expected);
    }
  });
});
