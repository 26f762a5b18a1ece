// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { keccak_256 } from "@noble/hashes/sha3.js";
import type * as Secp256k1 from "secp256k1";
import { DeltaError } from "../../../src/errors.ts";
import { type RecoveryItem, recoverBatch, recoverSigner } from "../../../src/protocol/recover.ts";
import { RecoveryPool } from "../../../src/protocol/recoveryPool.ts";
import type { Address, Hex } from "../../../src/protocol/types.ts";
import { bytesToHex } from "./arbitraries.ts";

// `require` is untyped; the package exports the API @types/secp256k1 declares.
const secp256k1: typeof Secp256k1 = createRequire(import.meta.url)("secp256k1");
const run = promisify(execFile);

/** `count` signatures by deterministic keys over deterministic digests, every `badEvery`-th one broken. */
function makeItems(count: number, badEvery = 0): RecoveryItem[] {
  return Array.from({ length: count }, (_, i) => {
    const seed = new TextEncoder().encode(`pool test ${i}`);
    const privateKey = keccak_256(seed);
    const digest = keccak_256(privateKey);
    const { signature, recid } = secp256k1.ecdsaSign(digest, privateKey);
    const v = badEvery > 0 && i % badEvery === badEvery - 1 ? 29 : 27 + recid;
    const sig: Hex = `${bytesToHex(signature)}${v.toString(16)}`;
    return { digest: bytesToHex(digest), signature: sig };
  });
}

function expectedOf(items: readonly RecoveryItem[]): (Address | null)[] {
  return items.map((item) => {
    try {
      return recoverSigner(item.digest, item.signature);
    } catch {
      return null;
    }
  });
}

const RECOVER_URL = new URL("../../../src/protocol/recover.ts", import.meta.url).href;
const POOL_URL = new URL("../../../src/protocol/recoveryPool.ts", import.meta.url).href;

/** A worker module given inline: it speaks the pool's protocol but dies on a digest of 0x…dead. */
const DYING_WORKER = new URL(
  `data:text/javascript,${encodeURIComponent(`
import { parentPort } from "node:worker_threads";
import { recoverBatch } from ${JSON.stringify(RECOVER_URL)};
parentPort.on("message", (m) => {
  if (m.items.some((item) => item.digest.endsWith("dead"))) process.exit(3);
  parentPort.postMessage({ type: "result", id: m.id, results: recoverBatch(m.items) });
});
parentPort.postMessage({ type: "ready", native: true });
`)}`,
);

describe("RecoveryPool", () => {
  let pool: RecoveryPool;
  before(async () => {
    // Small chunks, so that even modest batches are split over both workers and queue.
    pool = await RecoveryPool.create({ threads: 2, chunkSize: 16 });
  });
  after(async () => {
    await pool.close();
  });

  test("starts the requested threads with the native binding", () => {
    assert.equal(pool.threads, 2);
    assert.equal(pool.native, true);
  });

  test("gives the same results as single recovery for a batch split across workers", async () => {
    const items = makeItems(203, 10);
    const expected = expectedOf(items);
    assert.equal(expected.filter((a) => a === null).length, 20);
    assert.deepEqual(await pool.recover(items), expected);
    assert.deepEqual(recoverBatch(items), expected);
  });

  test("answers small batches (inline) and the empty batch", async () => {
    const items = makeItems(3);
    assert.deepEqual(await pool.recover(items), expectedOf(items));
    assert.deepEqual(await pool.recover([]), []);
  });

  test("keeps concurrent batches apart", async () => {
    const batches = [makeItems(50), makeItems(120, 7), makeItems(17, 3), makeItems(64)];
    const results = await Promise.all(batches.map((b) => pool.recover(b)));
    results.forEach((result, i) => assert.deepEqual(result, expectedOf(batches[i] ?? [])));
  });

  test("answers null for malformed items instead of failing the batch", async () => {
    const items: RecoveryItem[] = [...makeItems(40), { digest: "0x12", signature: "0x34" }];
    const result = await pool.recover(items);
    assert.equal(result.length, 41);
    assert.equal(result[40], null);
    assert.deepEqual(result.slice(0, 40), expectedOf(items.slice(0, 40)));
  });

  test("refuses bad options with INVALID_CONFIG", async () => {
    await assert.rejects(RecoveryPool.create({ threads: 0 }), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_CONFIG");
    await assert.rejects(RecoveryPool.create({ threads: 1.5 }), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_CONFIG");
    await assert.rejects(
      RecoveryPool.create({ threads: 1, chunkSize: 0 }),
      (e: unknown) => e instanceof DeltaError && e.code === "INVALID_CONFIG",
    );
  });
});

describe("RecoveryPool lifecycle", () => {
  test("rejects batches in flight and after close with INTERNAL; close is idempotent", async () => {
    const pool = await RecoveryPool.create({ threads: 1, inlineBelow: 0, chunkSize: 8 });
    // Attach the expectation before close() so that the rejection is never momentarily unhandled.
    const inFlight = assert.rejects(pool.recover(makeItems(64)), (e: unknown) => e instanceof DeltaError && e.code === "INTERNAL");
    await pool.close();
    await inFlight;
    await assert.rejects(pool.recover(makeItems(2)), (e: unknown) => e instanceof DeltaError && e.code === "INTERNAL");
    await pool.close();
    assert.equal(pool.threads, 0);
  });

  test("fails only the batch whose worker died, and keeps answering correctly", async () => {
    const pool = await RecoveryPool.create({ threads: 1, inlineBelow: 0, workerUrl: DYING_WORKER });
    try {
      const poison: RecoveryItem[] = [...makeItems(3), { digest: `0x${"00".repeat(30)}dead`, signature: "0x00" }];
      await assert.rejects(pool.recover(poison), (e: unknown) => e instanceof DeltaError && e.code === "INTERNAL" && /exited \(code 3\)/.test(e.message));
      // Whether the replacement worker is up yet or the pool runs inline meanwhile, answers stay right.
      const items = makeItems(30, 4);
      assert.deepEqual(await pool.recover(items), expectedOf(items));
      assert.deepEqual(await pool.recover(items), expectedOf(items));
    } finally {
      await pool.close();
    }
  });

  test("create rejects with INTERNAL, leaving nothing running, when a worker cannot start", async () => {
    const broken = new URL(`data:text/javascript,${encodeURIComponent("throw new Error('cannot load');")}`);
    await assert.rejects(RecoveryPool.create({ threads: 2, workerUrl: broken }), (e: unknown) => e instanceof DeltaError && e.code === "INTERNAL");
    const silent = new URL(`data:text/javascript,${encodeURIComponent("process.exit(2);")}`);
    await assert.rejects(RecoveryPool.create({ threads: 1, workerUrl: silent }), (e: unknown) => e instanceof DeltaError && e.code === "INTERNAL");
  });

  /** Runs `body` as an ES module in a fresh Node process; resolves with its stdout once it exits. */
  async function runChild(body: string): Promise<string> {
    const script = `import { RecoveryPool } from ${JSON.stringify(POOL_URL)};\n${body}`;
    // The deadline is the assertion: a pool that keeps the process alive makes the child time out.
    // No --input-type flag: workers inherit the parent's execArgv, and that flag is refused for a
    // worker's file entry point; Node 22 detects the module syntax of --eval on its own.
    const { stdout } = await run(process.execPath, ["--eval", script], { timeout: 30_000 });
    return stdout.trim();
  }

  test("a process exits by itself after close()", async () => {
    const items = makeItems(40, 5);
    const out = await runChild(`
const pool = await RecoveryPool.create({ threads: 2, inlineBelow: 0 });
const results = await pool.recover(${JSON.stringify(items)});
await pool.close();
console.log(JSON.stringify(results));
`);
    assert.deepEqual(JSON.parse(out), expectedOf(items));
  });

  test("an idle pool never closed does not keep its process alive", async () => {
    const items = makeItems(10);
    const out = await runChild(`
const pool = await RecoveryPool.create({ threads: 2, inlineBelow: 0 });
const results = await pool.recover(${JSON.stringify(items)});
console.log(JSON.stringify(results));
`);
    assert.deepEqual(JSON.parse(out), expectedOf(items));
  });
});
