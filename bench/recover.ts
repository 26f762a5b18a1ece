// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Signature recovery figures: native single thread, the pure-JS fallback, and batches over the
 * worker pool; plus the crossover sweep that sets RecoveryPool's inline threshold.
 *
 *   node bench/recover.ts            (prints both tables)
 *
 * bench/ledger.ts imports `measureRecovery`. Figures depend on the machine and its load: compare
 * them side by side from one run, never against a fixed number.
 */
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import type * as Secp256k1 from "secp256k1";
import { DEFAULT_INLINE_BELOW, RecoveryPool, type RecoveryItem, recoverBatch, recoverSigner, recoverSignerJs } from "../src/protocol/index.ts";

// `require` is untyped; the package exports the API @types/secp256k1 declares.
const secp256k1: typeof Secp256k1 = createRequire(import.meta.url)("secp256k1");

function hex(bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

/** `count` valid signatures by random keys over random digests (native signing: fast to prepare). */
export function makeRecoveryItems(count: number): RecoveryItem[] {
  return Array.from({ length: count }, () => {
    const privateKey = randomBytes(32);
    const digest = randomBytes(32);
    const { signature, recid } = secp256k1.ecdsaSign(digest, privateKey);
    return { digest: hex(digest), signature: `${hex(signature)}${(27 + recid).toString(16)}` };
  });
}

function perSec(count: number, ms: number): number {
  return Math.round((count * 1000) / ms);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Recoveries per second of `recover` over `items`, after a warm-up on the first tenth. */
function measureSingle(recover: (digest: `0x${string}`, signature: `0x${string}`) => string, items: readonly RecoveryItem[]): number {
  for (const item of items.slice(0, Math.ceil(items.length / 10))) recover(item.digest, item.signature);
  const start = performance.now();
  for (const item of items) recover(item.digest, item.signature);
  return perSec(items.length, performance.now() - start);
}

/** Figures of one run; `threads` is the pool size used for `recoverPerSecBatched`. */
export interface RecoveryFigures {
  recoverPerSec: number;
  recoverPerSecJs: number;
  recoverPerSecBatched: number;
  threads: number;
}

/**
 * Native single-thread, pure-JS and pooled recoveries per second. The pooled figure is the median
 * of 3 batches of `batch` items (default 10,000, the largest batch PROTOCOL.md allows).
 */
export async function measureRecovery(options: { threads?: number; batch?: number } = {}): Promise<RecoveryFigures> {
  const threads = options.threads ?? availableParallelism();
  const batch = options.batch ?? 10_000;
  const items = makeRecoveryItems(batch);

  const recoverPerSec = measureSingle(recoverSigner, items.slice(0, 4000));
  const recoverPerSecJs = measureSingle(recoverSignerJs, items.slice(0, 300));

  const pool = await RecoveryPool.create({ threads });
  try {
    await pool.recover(items.slice(0, 2000)); // warm-up: each worker JIT-compiles its own copy
    const runs: number[] = [];
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      await pool.recover(items);
      runs.push(perSec(items.length, performance.now() - start));
    }
    return { recoverPerSec, recoverPerSecJs, recoverPerSecBatched: median(runs), threads };
  } finally {
    await pool.close();
  }
}

/** One row of the crossover sweep: median wall time of one batch inline and over the pool. */
export interface CrossoverRow {
  items: number;
  inlineMs: number;
  poolMs: number;
}

/**
 * Median wall time of a batch of each size, inline on this thread versus always over the pool
 * (`inlineBelow: 0`). The smallest size from which the pool wins is the threshold to pick.
 */
export async function measurePoolCrossover(
  options: { threads?: number; sizes?: readonly number[]; reps?: number } = {},
): Promise<CrossoverRow[]> {
  const threads = options.threads ?? availableParallelism();
  const sizes = options.sizes ?? [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256, 1024];
  const reps = options.reps ?? 41;
  const items = makeRecoveryItems(Math.max(...sizes));
  const pool = await RecoveryPool.create({ threads, inlineBelow: 0 });
  try {
    recoverBatch(items); // warm-up
    await pool.recover(items);
    const rows: CrossoverRow[] = [];
    for (const size of sizes) {
      const batch = items.slice(0, size);
      const inline: number[] = [];
      const pooled: number[] = [];
      for (let rep = 0; rep < reps; rep++) {
        let start = performance.now();
        recoverBatch(batch);
        inline.push(performance.now() - start);
        start = performance.now();
        await pool.recover(batch);
        pooled.push(performance.now() - start);
      }
      rows.push({ items: size, inlineMs: median(inline), poolMs: median(pooled) });
    }
    return rows;
  } finally {
    await pool.close();
  }
}

if (import.meta.main) {
  const figures = await measureRecovery();
  console.log("recovery                           per second");
  console.log(`native, 1 thread                   ${figures.recoverPerSec}`);
  console.log(`pure JS (fallback), 1 thread       ${figures.recoverPerSecJs}`);
  console.log(`pool, ${figures.threads} threads, 10,000-item batch  ${figures.recoverPerSecBatched}`);
  console.log();
  const rows = await measurePoolCrossover();
  console.log(`items   inline ms   pool ms   (pool wins from the first row where pool < inline; default threshold ${DEFAULT_INLINE_BELOW})`);
  for (const row of rows) {
    console.log(`${String(row.items).padStart(5)}   ${row.inlineMs.toFixed(3).padStart(9)}   ${row.poolMs.toFixed(3).padStart(7)}`);
  }
}
