// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npm run bench:log`: the replicated log with three real node processes on loopback (each with
 * its own SQLite file, one fsync per block), driven through the leader:
 * - throughput with blocks of 1 entry and of 2,000 entries of 250 bytes (a window of proposals in
 *   flight, for a fixed time): committed blocks/s and entries/s;
 * - time to the first leader (from all processes ready) and to a new one after SIGKILL of the leader;
 * - commit latency (propose at the leader -> committed at the leader, so replicated to a
 *   majority and durable there) p50/p99 at 1,000 entries/s offered (blocks of 10 every 10 ms).
 * Prints a table and writes bench/results/log.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { Cluster } from "../test/integration/consensus/cluster.ts";

const ENTRY_BYTES = 250;
const THROUGHPUT_MS = Number(process.env["BENCH_LOG_MS"] ?? 5_000);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Keeps `window` proposals of `blockSize` entries in flight for `ms`; returns committed figures. */
async function throughput(cluster: Cluster, blockSize: number, window: number, ms: number) {
  let leader = cluster.nodes[await cluster.waitForLeader(30_000)]!;
  let blocks = 0;
  let refused = 0;
  const reasons: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const r = await leader.request({ cmd: "propose", count: blockSize, size: ENTRY_BYTES }, 60_000);
      if (r["committed"] === true) blocks++;
      else {
        refused++;
        const why = String(r["reason"] ?? (r["lost"] === true ? "lost" : r["timedOut"] === true ? "timedOut" : "unknown"));
        reasons[why] = (reasons[why] ?? 0) + 1;
        // A real client follows the leader: find it again (one of the workers does, the rest wait).
        if (why === "not-leader" || why === "not-established" || why === "quorum-lost") leader = cluster.nodes[await cluster.waitForLeader(30_000)]!;
      }
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { blockSize, window, blocks, refused, reasons, seconds, blocksPerSec: blocks / seconds, entriesPerSec: (blocks * blockSize) / seconds };
}

/** Offers `entriesPerSec` as blocks of `blockSize` on a fixed schedule; returns latency percentiles. */
async function latency(cluster: Cluster, entriesPerSec: number, blockSize: number, ms: number) {
  const leader = cluster.nodes[await cluster.waitForLeader(30_000)]!;
  const intervalMs = (1000 * blockSize) / entriesPerSec;
  const samples: number[] = [];
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let k = 0; performance.now() - started < ms; k++) {
    const due = started + k * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      leader.request({ cmd: "propose", count: blockSize, size: ENTRY_BYTES }, 60_000).then((r) => {
        if (r["committed"] === true) samples.push(Number(r["ms"]));
      }),
    );
  }
  await Promise.all(pending);
  samples.sort((a, b) => a - b);
  return { offeredEntriesPerSec: entriesPerSec, blockSize, samples: samples.length, p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99), maxMs: samples.at(-1) ?? NaN };
}

/** "leadership changed" events with leading=true across the nodes: elections won during the run. */
function leaderChanges(cluster: Cluster): number {
  return cluster.nodes.reduce((n, node) => n + (node?.events.filter((e) => e["message"] === "leadership changed" && e["leading"] === true && e["canPropose"] === true).length ?? 0), 0);
}

const cluster = await Cluster.create({ size: 3 });
try {
  await cluster.startAll();
  const electionStart = performance.now();
  await cluster.waitForLeader(30_000);
  const firstLeaderMs = performance.now() - electionStart;
  process.stdout.write(`first leader ${firstLeaderMs.toFixed(0)} ms after all three processes were ready\n`);
  await throughput(cluster, 100, 4, 1_000); // warm-up: JIT, connections, SQLite caches

  process.stdout.write("throughput, blocks of 1 entry...\n");
  const single = await throughput(cluster, 1, 64, THROUGHPUT_MS);
  process.stdout.write("throughput, blocks of 2,000 entries...\n");
  const big = await throughput(cluster, 2_000, 4, THROUGHPUT_MS);
  process.stdout.write("latency at 1,000 entries/s offered...\n");
  const lat = await latency(cluster, 1_000, 10, THROUGHPUT_MS);

  // Failover: SIGKILL the leader, time until the two others agree on a new one that can propose.
  const oldLeader = await cluster.waitForLeader(30_000);
  const killedAt = performance.now();
  await cluster.nodes[oldLeader]!.kill("SIGKILL");
  await cluster.waitForLeader(30_000);
  const failoverMs = performance.now() - killedAt;
  process.stdout.write(`new leader ${failoverMs.toFixed(0)} ms after the leader was killed\n`);

  const result = {
    bench: "log",
    nodes: 3,
    entryBytes: ENTRY_BYTES,
    entriesPerSec: Math.round(big.entriesPerSec),
    blocksPerSec: Math.round(single.blocksPerSec),
    p50Ms: Number(lat.p50Ms.toFixed(2)),
    p99Ms: Number(lat.p99Ms.toFixed(2)),
    firstLeaderMs: Math.round(firstLeaderMs),
    failoverMs: Math.round(failoverMs),
    leaderChanges: leaderChanges(cluster),
    runs: { blocksOf1: single, blocksOf2000: big, latency: lat },
    goals: { entriesPerSec: 20_000, p99Ms: 50 },
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, totalMemGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    at: new Date().toISOString(),
  };
  console.table({
    "blocks of 1 entry": { "blocks/s": Math.round(single.blocksPerSec), "entries/s": Math.round(single.entriesPerSec), p50Ms: "", p99Ms: "" },
    "blocks of 2,000 entries": { "blocks/s": Math.round(big.blocksPerSec), "entries/s": Math.round(big.entriesPerSec), p50Ms: "", p99Ms: "" },
    "1,000 entries/s offered (blocks of 10)": { "blocks/s": "", "entries/s": "", p50Ms: result.p50Ms, p99Ms: result.p99Ms },
  });
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/log.json", import.meta.url), JSON.stringify(result, null, 2) + "\n");
  process.stdout.write("wrote bench/results/log.json\n");
} finally {
  await cluster.destroy();
}
