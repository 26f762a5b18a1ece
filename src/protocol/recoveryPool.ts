// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * RecoveryPool: signer recovery for large batches on worker threads, so that a 10,000-transfer
 * batch (about 0.8 s of native recovery) neither blocks the event loop nor runs on one core.
 *
 * Small batches run inline: posting to a worker and back costs a fixed overhead that a few
 * recoveries do not repay, and inline answers need no thread hop. DEFAULT_INLINE_BELOW comes from
 * bench/recover.ts (`measurePoolCrossover`); the figures are in the constant's comment.
 *
 * Lifecycle: `create()` starts the workers and waits until each has loaded; `close()` terminates
 * them. Idle workers are unref'd, so a pool that was never closed does not keep the process alive,
 * while a worker busy with a chunk does (its caller is waiting for the answer).
 */
import { Worker } from "node:worker_threads";
import { DeltaError } from "../errors.ts";
import { type RecoveryItem, recoverBatch } from "./recover.ts";
import type { RecoverRequest, RecoverWorkerMessage } from "./recoverWorker.ts";
import type { Address } from "./types.ts";

/**
 * Batches below this many items run inline. Measured with bench/recover.ts on the 2-core machine
 * of TOOLCHAIN.md (Node 22.23, 2 workers): see docs in the bench output; below about 16 items the
 * two thread hops cost more than the work they spread.
 */
export const DEFAULT_INLINE_BELOW = 16;

/**
 * Most items one worker gets in one message: large batches are cut into chunks of at most this
 * size so that idle workers pick up the rest and concurrent batches interleave. At ~75 µs per
 * recovery, 512 items keep a worker busy ~40 ms, against well under 1 ms of messaging.
 */
export const DEFAULT_CHUNK_SIZE = 512;

/** Options of `RecoveryPool.create`. */
export interface RecoveryPoolOptions {
  /** Worker threads to start, 1 or more (typically the cores left over by the main thread). */
  readonly threads: number;
  /** Batches with fewer items run inline on the calling thread (default DEFAULT_INLINE_BELOW; 0: never inline). */
  readonly inlineBelow?: number;
  /** Most items per worker message (default DEFAULT_CHUNK_SIZE). */
  readonly chunkSize?: number;
  /** The worker module (default ./recoverWorker.ts); tests replace it to exercise worker failures. */
  readonly workerUrl?: URL;
}

interface Job {
  readonly results: (Address | null)[];
  pending: number;
  done: boolean;
  readonly resolve: (results: (Address | null)[]) => void;
  readonly reject: (error: unknown) => void;
}

interface Chunk {
  readonly job: Job;
  readonly start: number;
  readonly items: readonly RecoveryItem[];
}

interface Slot {
  readonly worker: Worker;
  busy: { readonly chunk: Chunk; readonly id: number } | null;
  /** Why the worker failed, kept for the `exit` event that follows an `error`. */
  error: unknown;
}

const DEFAULT_WORKER_URL = new URL("./recoverWorker.ts", import.meta.url);

function isWorkerMessage(message: unknown): message is RecoverWorkerMessage {
  if (typeof message !== "object" || message === null) return false;
  const { type } = message as { type?: unknown }; // a non-null object: its field is read as unknown
  return type === "ready" || type === "result";
}

/** Starts one worker and resolves once it has loaded recover.ts and said so. */
function startWorker(url: URL): Promise<{ worker: Worker; native: boolean }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url);
    const cleanup = (): void => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    const onMessage = (message: unknown): void => {
      if (isWorkerMessage(message) && message.type === "ready") {
        cleanup();
        resolve({ worker, native: message.native });
      }
    };
    const onError = (error: unknown): void => {
      cleanup();
      void worker.terminate();
      reject(new DeltaError("INTERNAL", "recovery worker failed to start", { cause: error }));
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new DeltaError("INTERNAL", `recovery worker exited with code ${code} before it was ready`));
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}

function positiveInteger(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new DeltaError("INVALID_CONFIG", `${name} must be an integer of at least ${min}; got ${String(value)}`, { details: { [name]: value } });
  }
  return value;
}

/** A pool of recovery worker threads; see the module comment. */
export class RecoveryPool {
  readonly #url: URL;
  readonly #inlineBelow: number;
  readonly #chunkSize: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Chunk[] = [];
  #native: boolean;
  #nextId = 0;
  /** Replacement workers still starting; close() waits for them, so none outlives the pool. */
  readonly #starting = new Set<Promise<void>>();
  #closed = false;

  private constructor(
    started: readonly { worker: Worker; native: boolean }[],
    url: URL,
    inlineBelow: number,
    chunkSize: number,
  ) {
    this.#url = url;
    this.#inlineBelow = inlineBelow;
    this.#chunkSize = chunkSize;
    this.#native = started.every((s) => s.native);
    for (const { worker } of started) this.#adopt(worker);
  }

  /**
   * Starts `threads` workers and resolves once all have loaded.
   * @throws DeltaError INVALID_CONFIG on bad options, INTERNAL when a worker cannot start
   */
  static async create(options: RecoveryPoolOptions): Promise<RecoveryPool> {
    const threads = positiveInteger(options.threads, "threads", 1);
    const inlineBelow = positiveInteger(options.inlineBelow ?? DEFAULT_INLINE_BELOW, "inlineBelow", 0);
    const chunkSize = positiveInteger(options.chunkSize ?? DEFAULT_CHUNK_SIZE, "chunkSize", 1);
    const url = options.workerUrl ?? DEFAULT_WORKER_URL;
    const attempts = await Promise.allSettled(Array.from({ length: threads }, () => startWorker(url)));
    const started = attempts.flatMap((a) => (a.status === "fulfilled" ? [a.value] : []));
    const failure = attempts.find((a) => a.status === "rejected");
    if (failure !== undefined) {
      await Promise.all(started.map((s) => s.worker.terminate()));
      throw failure.reason;
    }
    return new RecoveryPool(started, url, inlineBelow, chunkSize);
  }

  /** Worker threads currently running. */
  get threads(): number {
    return this.#slots.length;
  }

  /** True when every worker loaded the native libsecp256k1 binding. */
  get native(): boolean {
    return this.#native;
  }

  /**
   * Recovers every item: one result per item, in order, `null` where `recoverSigner` would throw
   * (malformed, high-s, bad v, unrecoverable). Batches below the inline threshold run inline.
   * Rejects with DeltaError INTERNAL if the pool is closed meanwhile or a worker dies on the batch.
   */
  recover(items: readonly RecoveryItem[]): Promise<(Address | null)[]> {
    if (this.#closed) return Promise.reject(new DeltaError("INTERNAL", "the recovery pool is closed"));
    if (items.length === 0) return Promise.resolve([]);
    // With no live worker (all died, none replaced yet) the pool degrades to inline: slower, still right.
    if (items.length < this.#inlineBelow || this.#slots.length === 0) {
      try {
        return Promise.resolve(recoverBatch(items));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => {
      const job: Job = { results: new Array<Address | null>(items.length), pending: 0, done: false, resolve, reject };
      // Even shares per worker, capped, so every worker starts at once and none idles at the end.
      const size = Math.max(1, Math.min(this.#chunkSize, Math.ceil(items.length / this.#slots.length)));
      for (let start = 0; start < items.length; start += size) {
        this.#queue.push({ job, start, items: items.slice(start, start + size) });
        job.pending++;
      }
      this.#pump();
    });
  }

  /**
   * Terminates every worker; pending batches reject with DeltaError INTERNAL. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new DeltaError("INTERNAL", "the recovery pool was closed before the batch finished");
    for (const chunk of this.#queue) this.#fail(chunk.job, closed);
    this.#queue.length = 0;
    const slots = this.#slots.splice(0);
    for (const slot of slots) if (slot.busy !== null) this.#fail(slot.busy.chunk.job, closed);
    // A replacement that finishes starting now sees #closed and terminates itself.
    await Promise.all([...slots.map((slot) => slot.worker.terminate()), ...this.#starting]);
  }

  #adopt(worker: Worker): void {
    const slot: Slot = { worker, busy: null, error: undefined };
    worker.on("message", (message: unknown) => this.#onResult(slot, message));
    worker.on("error", (error: unknown) => {
      slot.error = error;
    });
    worker.on("exit", (code: number) => this.#onExit(slot, code));
    worker.unref();
    this.#slots.push(slot);
  }

  #pump(): void {
    for (const slot of this.#slots) {
      if (slot.busy !== null) continue;
      const chunk = this.#queue.shift();
      if (chunk === undefined) return;
      const id = this.#nextId++;
      slot.busy = { chunk, id };
      slot.worker.ref();
      const request: RecoverRequest = { id, items: chunk.items };
      slot.worker.postMessage(request);
    }
    if (this.#slots.length === 0 && this.#starting.size === 0) this.#drainInline();
  }

  #onResult(slot: Slot, message: unknown): void {
    const busy = slot.busy;
    if (!isWorkerMessage(message) || message.type !== "result" || busy === null || message.id !== busy.id) {
      // The worker speaks only this protocol: anything else is a bug, fatal to that worker alone.
      slot.error = new DeltaError("INTERNAL", "recovery worker sent an unexpected message");
      void slot.worker.terminate();
      return;
    }
    slot.busy = null;
    if (this.#queue.length === 0) slot.worker.unref();
    const { job, start, items } = busy.chunk;
    if (!job.done) {
      if (message.results.length !== items.length) {
        this.#fail(job, new DeltaError("INTERNAL", "recovery worker answered the wrong number of results"));
      } else {
        for (let i = 0; i < items.length; i++) job.results[start + i] = message.results[i] ?? null;
        job.pending--;
        if (job.pending === 0) {
          job.done = true;
          job.resolve(job.results);
        }
      }
    }
    this.#pump();
  }

  #onExit(slot: Slot, code: number): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return; // closed: the pool removed it before terminating it
    this.#slots.splice(index, 1);
    if (slot.busy !== null) {
      this.#fail(
        slot.busy.chunk.job,
        new DeltaError("INTERNAL", `a recovery worker exited (code ${code}) while recovering a batch`, { cause: slot.error }),
      );
    }
    if (this.#closed) return;
    // Keep the pool at strength. One replacement per death, so a worker that cannot start does
    // not respawn in a loop: when it fails, the pool runs on with fewer threads (or inline).
    const starting: Promise<void> = startWorker(this.#url).then(
      async ({ worker, native }) => {
        this.#starting.delete(starting);
        if (this.#closed) {
          await worker.terminate();
          return;
        }
        this.#native &&= native;
        this.#adopt(worker);
        this.#pump();
      },
      () => {
        this.#starting.delete(starting);
        if (!this.#closed) this.#pump();
      },
    );
    this.#starting.add(starting);
    this.#pump();
  }

  /** Rejects `job` once, and drops its chunks still waiting: their answers could not be used. */
  #fail(job: Job, error: DeltaError): void {
    if (job.done) return;
    job.done = true;
    for (let i = this.#queue.length - 1; i >= 0; i--) if (this.#queue[i]?.job === job) this.#queue.splice(i, 1);
    job.reject(error);
  }

  /** No worker left and none coming: finish the queued chunks on this thread. */
  #drainInline(): void {
    for (let chunk = this.#queue.shift(); chunk !== undefined; chunk = this.#queue.shift()) {
      const { job, start, items } = chunk;
      if (job.done) continue;
      const results = recoverBatch(items);
      for (let i = 0; i < results.length; i++) job.results[start + i] = results[i] ?? null;
      job.pending--;
      if (job.pending === 0) {
        job.done = true;
        job.resolve(job.results);
      }
    }
  }
}
