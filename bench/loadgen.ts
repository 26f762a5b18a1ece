// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The e2e benchmark's load generator, in its own process (bench/e2e.ts starts it). Reads a JSON
 * plan from argv[2] and prints one JSON result line on stdout.
 *
 * - mode "batch": `streams` of pre-signed rounds. Each stream owns disjoint accounts and a node;
 *   round r holds nonce r of each of its accounts, posted as one POST /v1/transfers/batch, the next
 *   round only after the answer (an account's nonces arrive in order). Runs until `durationMs`
 *   has passed or the rounds run out; counts committed transfers.
 * - mode "single": each account sends its next transfer with POST /v1/transfers once per
 *   `periodMs` (the previous one answered first), spread evenly in time: accounts / period is
 *   the offered rate. Records submit-to-answer latency.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";

interface BatchPlan {
  readonly mode: "batch";
  readonly durationMs: number;
  /** streams[s] = { node, rounds: [ [wire transfer, ...], ... ] } */
  readonly streams: readonly { readonly node: string; readonly rounds: readonly unknown[][] }[];
}

interface SinglePlan {
  readonly mode: "single";
  readonly durationMs: number;
  readonly periodMs: number;
  readonly nodes: readonly string[];
  /** accounts[a] = that account's pre-signed transfers in nonce order. */
  readonly accounts: readonly unknown[][];
}

interface SpamPlan {
  readonly mode: "spam";
  readonly durationMs: number;
  /** Items per second to post (batches of `bodies[i]`'s size, evenly spaced). */
  readonly itemsPerSec: number;
  readonly itemsPerBody: number;
  readonly nodes: readonly string[];
  /** Pre-serialised POST /v1/transfers/batch bodies, posted round-robin to the nodes and cycled. */
  readonly bodies: readonly string[];
  /** Requests in flight at most; a send due while at the cap is skipped (and counted). */
  readonly maxInFlight: number;
}

/**
 * Keep-alive connections through node:http: on this 2-core machine the load generator shares the
 * CPU with the three nodes, and fetch (undici) cost it about twice the CPU per request.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/**
 * The nodes cap connections and requests in progress per client address (docs/api.md "Bounded
 * work"). A benchmark stands for many clients, so each stream or account sends from its own
 * loopback address, 127.0.0.x (Linux routes all of 127/8 to lo); `SOURCE_ADDRESSES` of them.
 */
const SOURCE_ADDRESSES = 200;
function sourceAddress(k: number): string {
  return `127.0.${1 + Math.floor((k % SOURCE_ADDRESSES) / 250)}.${2 + (k % SOURCE_ADDRESSES) % 250}`;
}

function post(url: string, body: unknown, from?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return postRaw(url, Buffer.from(JSON.stringify(body), "utf8"), from);
}

function postRaw(url: string, payload: Buffer, from?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, ...(from === undefined ? {} : { localAddress: from }), headers: { "content-type": "application/json", "content-length": payload.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> }); // the API answers JSON objects
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

async function runBatch(plan: BatchPlan) {
  let committed = 0;
  let refused = 0;
  const codes: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + plan.durationMs;
  await Promise.all(
    plan.streams.map(async (stream, s) => {
      for (const round of stream.rounds) {
        if (performance.now() > deadline) break;
        const r = await post(`${stream.node}/v1/transfers/batch`, { transfers: round }, sourceAddress(s));
        const results = (r.json["results"] as { status?: string; error?: { code: string } }[] | undefined) ?? [];
        if (r.status !== 200) {
          refused += round.length;
          const code = String((r.json["error"] as { code?: string } | undefined)?.code ?? r.status);
          codes[code] = (codes[code] ?? 0) + round.length;
          continue;
        }
        for (const item of results) {
          if (item.status === "committed") committed++;
          else {
            refused++;
            const code = item.error?.code ?? "UNKNOWN";
            codes[code] = (codes[code] ?? 0) + 1;
          }
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { mode: "batch", committed, refused, codes, seconds, tps: committed / seconds };
}

async function runSingle(plan: SinglePlan) {
  const latencies: number[] = [];
  /** [ms since start when sent, latency ms] per answered request, for the timeline. */
  const samples: [number, number][] = [];
  const codes: Record<string, number> = {};
  const started = performance.now();
  const n = plan.accounts.length;
  await Promise.all(
    plan.accounts.map(async (transfers, a) => {
      // Spread the accounts' sends evenly over each period.
      let due = started + (a * plan.periodMs) / n;
      for (const t of transfers) {
        if (due - started > plan.durationMs) break;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const sent = performance.now();
        const r = await post(`${plan.nodes[a % plan.nodes.length]}/v1/transfers`, t, sourceAddress(a));
        if (r.status === 200) {
          latencies.push(performance.now() - sent);
          samples.push([sent - started, performance.now() - sent]);
        }
        else {
          const code = String((r.json["error"] as { code?: string } | undefined)?.code ?? r.status);
          codes[code] = (codes[code] ?? 0) + 1;
        }
        due += plan.periodMs;
      }
    }),
  );
  latencies.sort((x, y) => x - y);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  const seconds = (performance.now() - started) / 1000;
  // Where in time the slow answers were: per 500 ms of sending, how many and the worst.
  const timeline: { fromMs: number; answered: number; over50Ms: number; maxMs: number }[] = [];
  for (const [at, ms] of samples) {
    const slot = Math.floor(at / 500);
    const t = (timeline[slot] ??= { fromMs: slot * 500, answered: 0, over50Ms: 0, maxMs: 0 });
    t.answered++;
    if (ms > 50) t.over50Ms++;
    t.maxMs = Math.max(t.maxMs, Math.round(ms));
  }
  return { mode: "single", answered: latencies.length, codes, seconds, p50Ms: pct(50), p95Ms: pct(95), p99Ms: pct(99), maxMs: latencies.at(-1) ?? NaN, timeline: timeline.filter(Boolean) };
}

/**
 * Posts pre-serialised batches at a fixed item rate, without waiting for answers (up to
 * maxInFlight at once), and counts the items' answers by code: the abuse benchmark's flood.
 */
async function runSpam(plan: SpamPlan) {
  const payloads = plan.bodies.map((b) => Buffer.from(b, "utf8"));
  const codes: Record<string, number> = {};
  let sent = 0;
  let skipped = 0;
  let inFlight = 0;
  let failed = 0;
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  const gapMs = (1000 * plan.itemsPerBody) / plan.itemsPerSec;
  for (let k = 0; ; k++) {
    const due = started + k * gapMs;
    if (due - started >= plan.durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight >= plan.maxInFlight) {
      skipped++;
      continue;
    }
    inFlight++;
    sent++;
    // The flood comes from its own addresses (127.0.9.x), apart from the honest clients'.
    const p = postRaw(`${plan.nodes[k % plan.nodes.length]}/v1/transfers/batch`, payloads[k % payloads.length]!, `127.0.9.${2 + (k % 16)}`)
      .then((r) => {
        const results = (r.json["results"] as { status?: string; error?: { code: string } }[] | undefined) ?? [];
        if (r.status !== 200) {
          const code = String((r.json["error"] as { code?: string } | undefined)?.code ?? r.status);
          codes[code] = (codes[code] ?? 0) + plan.itemsPerBody;
        }
        for (const item of results) {
          const code = item.status ?? item.error?.code ?? "UNKNOWN";
          codes[code] = (codes[code] ?? 0) + 1;
        }
      })
      .catch(() => void failed++)
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  }
  const sendingSeconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  return { mode: "spam", bodiesSent: sent, bodiesSkipped: skipped, bodiesFailed: failed, itemsSent: sent * plan.itemsPerBody, sendingSeconds, itemsPerSec: (sent * plan.itemsPerBody) / sendingSeconds, codes };
}

const plan = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as BatchPlan | SinglePlan | SpamPlan; // written by bench/e2e.ts or bench/abuse.ts
const result = plan.mode === "batch" ? await runBatch(plan) : plan.mode === "single" ? await runSingle(plan) : await runSpam(plan);
process.stdout.write(JSON.stringify(result) + "\n");
agent.destroy();
