// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npm run bench:idle`: what one write costs on a quiet cluster, per node (Ganache + 3 node
 * processes, as on the devnet). One payer per node sends single transfers one after the other
 * (the next only after the answer), so no block carries anything else and nothing else moves the
 * log: this is where read your writes costs most, since a follower answers only once it has
 * applied the block, which it can only do once it learns the block committed. Each answer is
 * followed at once by a read of the transfer on the same node, which must show it.
 *
 * Prints per node (leader or follower) the answer time's mean, p50 and p99, and writes
 * bench/results/idle.json. Env: BENCH_IDLE_WRITES (per node, default 100).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Wallet, parseEther } from "ethers";
import { connectAs } from "../src/chain/index.ts";
import { DeltaClient, fastSignTransfer } from "../src/client/index.ts";
import { startDevnetChain } from "../src/devnet/chain.ts";
import { nodeOptionsFor, startDevnetNodes } from "../src/devnet/nodes.ts";
import { NATIVE_TOKEN, type Address, type BridgeDomain } from "../src/protocol/index.ts";

const WRITES = Number(process.env["BENCH_IDLE_WRITES"] ?? 100);
const log = (line: string): void => void process.stdout.write(`${line}\n`);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const dir = mkdtempSync(join(tmpdir(), "delta-idle-"));
const chain = await startDevnetChain({ log });
let cluster: Awaited<ReturnType<typeof startDevnetNodes>> | undefined;
try {
  cluster = await startDevnetNodes({ dir, ...nodeOptionsFor(chain), adminToken: randomBytes(16).toString("hex"), log, epoch: { intervalMs: 0, maxMessages: 0 } });
  const rests = cluster.nodes.map((n) => n.rest);
  const domain: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: BigInt(chain.chainId), verifyingContract: chain.bridgeAddress as Address };
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const payers = chain.users.slice(0, 3).map((u) => new Wallet(u.privateKey, chain.provider));
  for (const p of payers) await (await connectAs(chain.bridge, p).deposit({ value: parseEther("1") })).wait();
  // One client per node, monotonic reads off: each node is measured on its own.
  const clients = rests.map((baseUrl) => new DeltaClient({ baseUrl, monotonicReads: false }));
  for (const [i, p] of payers.entries()) {
    for (let k = 0; (await clients[i]!.account(p.address)).balances[NATIVE_TOKEN] === undefined; k++) {
      if (k > 600) throw new Error(`deposit of ${p.address} not credited`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const leader = (await clients[0]!.status()).leader;
  const rows: Record<string, unknown>[] = [];
  for (const i of rests.keys()) {
    const role = cluster.nodes[i]!.address === leader ? "leader" : "follower";
    log(`node ${i + 1} (${role}): ${WRITES} single transfers, one after the other...`);
    const times: number[] = [];
    let stale = 0;
    for (let n = 0; n < WRITES; n++) {
      const t = fastSignTransfer(payers[i]!.privateKey, domain, { to: chain.users[10]!.address, token: NATIVE_TOKEN, amount: 1n, fee: 0n, nonce: BigInt(n), deadline });
      const started = performance.now();
      const answer = await clients[i]!.submitTransfer(t);
      times.push(performance.now() - started);
      if ((await clients[i]!.transfer(answer.hash))?.status !== "committed") stale++;
    }
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    rows.push({ node: i + 1, role, writes: WRITES, meanMs: +mean.toFixed(2), p50Ms: +percentile(times, 50).toFixed(2), p99Ms: +percentile(times, 99).toFixed(2), staleReads: stale });
  }
  console.table(rows);
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/idle.json", import.meta.url), JSON.stringify({ when: new Date().toISOString(), writesPerNode: WRITES, nodes: rows }, null, 2) + "\n");
  log("wrote bench/results/idle.json");
} finally {
  await cluster?.stop();
  await chain.close();
  rmSync(dir, { recursive: true, force: true });
}
