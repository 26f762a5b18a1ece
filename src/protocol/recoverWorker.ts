// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Worker thread of RecoveryPool: recovers each chunk it is sent with `recoverBatch` and posts the
 * results back. Loaded by URL (`new Worker(new URL("./recoverWorker.ts", import.meta.url))`);
 * Node strips the types in workers as in the main thread. Run directly (no parent port), it does
 * nothing, so a test runner that globs every .ts file passes over it harmlessly.
 */
import { parentPort } from "node:worker_threads";
import { DeltaError } from "../errors.ts";
import { isNativeSecp256k1, type RecoveryItem, recoverBatch } from "./recover.ts";
import type { Address } from "./types.ts";

/** Pool -> worker: recover these items. */
export interface RecoverRequest {
  readonly id: number;
  readonly items: readonly RecoveryItem[];
}

/** Worker -> pool: ready once loaded, then one result per request, in the order received. */
export type RecoverWorkerMessage =
  | { readonly type: "ready"; readonly native: boolean }
  | { readonly type: "result"; readonly id: number; readonly results: readonly (Address | null)[] };

function isRecoverRequest(message: unknown): message is RecoverRequest {
  if (typeof message !== "object" || message === null) return false;
  const { id, items } = message as { id?: unknown; items?: unknown }; // a non-null object: its fields are read as unknown
  // Items only need to be objects here: recoverBatch answers null for a malformed digest or signature.
  return typeof id === "number" && Array.isArray(items) && items.every((item) => typeof item === "object" && item !== null);
}

if (parentPort !== null) {
  const port = parentPort;
  port.on("message", (message: unknown) => {
    if (!isRecoverRequest(message)) {
      // Uncaught here means the worker exits; the pool then fails the chunk and replaces the worker.
      throw new DeltaError("INTERNAL", "recovery worker received a malformed request");
    }
    const reply: RecoverWorkerMessage = { type: "result", id: message.id, results: recoverBatch(message.items) };
    port.postMessage(reply);
  });
  const ready: RecoverWorkerMessage = { type: "ready", native: isNativeSecp256k1 };
  port.postMessage(ready);
}
