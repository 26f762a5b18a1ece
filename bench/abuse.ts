// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npm run bench:abuse`: honest single transfers while the cluster is flooded with transfers
 * nobody can pay for (issue 15). Ganache + 3 node processes as on the devnet, in one run:
 *
 * 1. quiet: honest accounts each send a single POST /v1/transfers every BENCH_ABUSE_PERIOD_MS
 *    (spread over the three nodes) for BENCH_ABUSE_SECONDS; submit-to-answer p50/p99;
 * 2. flood: the same honest load (fresh accounts, same rate) while a second load generator posts
 *    BENCH_ABUSE_SPAM_RATE (20,000) transfers per second signed by fresh keys that hold nothing,
 *    each with a fee of 10^30 and a far deadline, as batches of 1,000 round-robin to the nodes
 *    (BENCH_ABUSE_DISTINCT distinct ones, cycled).
 *
 * Reports honest p50/p99 of both phases side by side, the log entries and block messages the
 * spam added (block messages the leader proposed beyond the honest transfers committed: goal 0),
 * the leader's worst event-loop delay over the flood, and whether the leader or its term changed
 * (goal: no). Writes bench/results/abuse.json. The load generators run in their own processes
 * (bench/loadgen.ts), as in bench/e2e.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { computeAddress, parseEther, Wallet } from "ethers";
import { connectAs } from "../src/chain/index.ts";
import { DeltaClient, fastSignTransfer } from "../src/client/index.ts";
import { startDevnetChain } from "../src/devnet/chain.ts";
import { nodeOptionsFor, startDevnetNodes } from "../src/devnet/nodes.ts";
import { loadgen, scrape, signFast } from "./benchKit.ts";
import { encodeTransferRequest, NATIVE_TOKEN, type Address, type BridgeDomain } from "../src/protocol/index.ts";

const SECONDS = Number(process.env["BENCH_ABUSE_SECONDS"] ?? 15);
const SPAM_RATE = Number(process.env["BENCH_ABUSE_SPAM_RATE"] ?? 20_000);
const SPAM_BATCH = 1_000;
const DISTINCT = Number(process.env["BENCH_ABUSE_DISTINCT"] ?? 40_000);
const HONEST_ACCOUNTS = 60;
const PERIOD_MS = Number(process.env["BENCH_ABUSE_PERIOD_MS"] ?? 600);
const log = (line: string): void => void process.stdout.write(`${line}\n`);

const dir = mkdtempSync(join(tmpdir(), "delta-abuse-"));
const chain = await startDevnetChain({ log });
let cluster: Awaited<ReturnType<typeof startDevnetNodes>> | undefined;
try {
  // No automatic seal: nothing but the two loads moves the log.
  cluster = await startDevnetNodes({ dir, ...nodeOptionsFor(chain), adminToken: randomBytes(16).toString("hex"), log, epoch: { intervalMs: 0, maxMessages: 0 } });
  const rests = cluster.nodes.map((n) => n.rest);
  const domain: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: BigInt(chain.chainId), verifyingContract: chain.bridgeAddress as Address };
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const client = new DeltaClient({ baseUrl: rests[0]!, monotonicReads: false });

  log("1/4 funding honest accounts...");
  const funder = new Wallet(chain.users[0]!.privateKey, chain.provider);
  await (await connectAs(chain.bridge, funder).deposit({ value: parseEther("100") })).wait();
  for (let k = 0; (await client.account(funder.address)).balances[NATIVE_TOKEN] === undefined; k++) {
    if (k > 600) throw new Error("the funder's deposit was not credited");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const keys = Array.from({ length: 2 * HONEST_ACCOUNTS }, () => randomBytes(32));
  const accounts = keys.map((k) => computeAddress(`0x${k.toString("hex")}`) as Address);
  const funding = await client.submitTransfers(
    accounts.map((to, n) => fastSignTransfer(funder.privateKey, domain, { to, token: NATIVE_TOKEN, amount: parseEther("0.5"), fee: 0n, nonce: BigInt(n), deadline })),
  );
  if (funding.some((r) => "error" in r)) throw new Error(`funding refused: ${JSON.stringify(funding.find((r) => "error" in r))}`);
  const perAccount = Math.ceil((SECONDS * 1000) / PERIOD_MS) + 2;
  const honest = (first: number) =>
    Array.from({ length: HONEST_ACCOUNTS }, (_, a) =>
      Array.from({ length: perAccount }, (_, n) =>
        encodeTransferRequest(
          signFast(domain, keys[first + a]!, { from: accounts[first + a]!, to: accounts[(first + a + 1) % accounts.length]!, token: NATIVE_TOKEN, amount: 1n, fee: 0n, nonce: BigInt(n), deadline }),
        ),
      ),
    );

  log(`2/4 pre-signing ${DISTINCT} unfunded transfers (fee 10^30)...`);
  const spamKeys = Array.from({ length: Math.ceil(DISTINCT / 10) }, () => randomBytes(32));
  const spamFrom = spamKeys.map((k) => computeAddress(`0x${k.toString("hex")}`) as Address);
  const bodies: string[] = [];
  for (let b = 0; b * SPAM_BATCH < DISTINCT; b++) {
    const items = [];
    for (let i = 0; i < SPAM_BATCH; i++) {
      const n = b * SPAM_BATCH + i;
      const k = n % spamKeys.length;
      items.push(encodeTransferRequest(signFast(domain, spamKeys[k]!, { from: spamFrom[k]!, to: accounts[n % accounts.length]!, token: NATIVE_TOKEN, amount: 1n, fee: 10n ** 30n, nonce: BigInt(Math.floor(n / spamKeys.length)), deadline })));
    }
    bodies.push(JSON.stringify({ transfers: items }));
  }

  const status0 = await client.status();
  const leaderIndex = cluster.nodes.findIndex((n) => n.address === status0.leader);
  const leaderRest = rests[leaderIndex]!;
  const offered = Math.round((HONEST_ACCOUNTS * 1000) / PERIOD_MS);

  log(`3/4 quiet: ${offered} honest single transfers/s for ${SECONDS} s...`);
  const quietBefore = await scrape(leaderRest);
  const quiet = await loadgen({ mode: "single", durationMs: SECONDS * 1000, periodMs: PERIOD_MS, nodes: rests, accounts: honest(0) }, dir, "quiet");
  const quietAfter = await scrape(leaderRest);

  log(`4/4 flood: the same honest load while ${SPAM_RATE} unfunded transfers/s are posted for ${SECONDS} s...`);
  const before = await scrape(leaderRest); // also resets the event-loop maximum
  const [flood, spam] = await Promise.all([
    loadgen({ mode: "single", durationMs: SECONDS * 1000, periodMs: PERIOD_MS, nodes: rests, accounts: honest(HONEST_ACCOUNTS) }, dir, "flood"),
    loadgen({ mode: "spam", durationMs: SECONDS * 1000, itemsPerSec: SPAM_RATE, itemsPerBody: SPAM_BATCH, nodes: rests, bodies, maxInFlight: 48 }, dir, "spam"),
  ]);
  const afterMetrics = await scrape(leaderRest);
  const status1 = await client.status();

  const d = (a: Map<string, number>, b: Map<string, number>, name: string): number => (b.get(name) ?? 0) - (a.get(name) ?? 0);
  const honestCommitted = Number(flood["answered"]);
  const blockMessages = d(before, afterMetrics, "delta_block_messages_sum");
  const result = {
    when: new Date().toISOString(),
    machine: "2 cores (this repository's CI box), Ganache + 3 node processes + 2 load generators on one host",
    seconds: SECONDS,
    honestOfferedPerSec: offered,
    spamOfferedPerSec: SPAM_RATE,
    spamSentPerSec: Math.round(Number(spam["itemsPerSec"])),
    spamAnswers: spam["codes"],
    spamBodiesSkippedAtCap: spam["bodiesSkipped"],
    quiet: { answered: quiet["answered"], p50Ms: +Number(quiet["p50Ms"]).toFixed(2), p99Ms: +Number(quiet["p99Ms"]).toFixed(2), maxMs: +Number(quiet["maxMs"]).toFixed(2), refused: quiet["codes"] },
    flood: { answered: flood["answered"], p50Ms: +Number(flood["p50Ms"]).toFixed(2), p99Ms: +Number(flood["p99Ms"]).toFixed(2), maxMs: +Number(flood["maxMs"]).toFixed(2), refused: flood["codes"] },
    p99Ratio: +(Number(flood["p99Ms"]) / Number(quiet["p99Ms"])).toFixed(2),
    // Messages the leader put into blocks during the flood, beyond the honest ones committed.
    spamInLog: blockMessages - honestCommitted,
    blocksDuringFlood: d(before, afterMetrics, "delta_block_messages_count"),
    blocksDuringQuiet: d(quietBefore, quietAfter, "delta_block_messages_count"),
    leaderEventLoopDelayMaxMs: +(1000 * (afterMetrics.get("nodejs_eventloop_lag_max_seconds") ?? Number.NaN)).toFixed(1),
    leaderBefore: status0.leader,
    leaderAfter: status1.leader,
    termBefore: status0.term,
    termAfter: status1.term,
  };
  console.table([
    { phase: "quiet", answered: result.quiet.answered, p50Ms: result.quiet.p50Ms, p99Ms: result.quiet.p99Ms, maxMs: result.quiet.maxMs },
    { phase: `flood (${result.spamSentPerSec}/s unfunded)`, answered: result.flood.answered, p50Ms: result.flood.p50Ms, p99Ms: result.flood.p99Ms, maxMs: result.flood.maxMs },
  ]);
  log(`spam answers: ${JSON.stringify(result.spamAnswers)}; spam messages in the log: ${result.spamInLog}; honest p99 ratio flood/quiet: ${result.p99Ratio}`);
  log(`leader event-loop delay max over the flood: ${result.leaderEventLoopDelayMaxMs} ms; term ${result.termBefore} -> ${result.termAfter}, leader ${result.leaderBefore === result.leaderAfter ? "unchanged" : "CHANGED"}`);
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/abuse.json", import.meta.url), JSON.stringify(result, null, 2) + "\n");
  log("wrote bench/results/abuse.json");
} finally {
  await cluster?.stop();
  await chain.close();
  rmSync(dir, { recursive: true, force: true });
}
