// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The messages a node accepted (signature verified) and has not yet answered: each with its
 * waiting clients, the message to forward again, and the time by which it must be answered (issue #6: unconfirmed messages are not lost with a leader). One entry per hash, so a
 * message sent twice to the same node is routed once and both clients get the same verdict.
 * Pure data structure: time comes in as an argument; the node routes, forwards and settles.
 */
import type { BatchItemResult } from "../api/index.ts";
import type { LedgerMessage } from "../ledger/index.ts";

export interface PendingMessage {
  /** The verified message as the ledger sees it (hash computed here). */
  readonly message: LedgerMessage;
  /** Wall-clock ms after which the clients are answered OUTCOME_UNKNOWN (or NO_LEADER if it was never sent). */
  readonly deadlineMs: number;
  /** Handed to a leader at least once (its mempool, or forwarded): from then on it may commit. */
  sent: boolean;
  /**
   * Sent towards a leader more than once (a forward that failed, a block lost to a leader
   * change): a later refusal as DUPLICATE or NONCE_REUSED may be about its own earlier copy,
   * which committed; the node then answers with the committed view.
   */
  resent: boolean;
  /**
   * Forwarded once and waiting for the leader's verdict, which is relayed as it is (so a message
   * committed before it was sent here is refused as a duplicate, as PROTOCOL.md says), even if
   * this node's own ledger applies the committed copy first.
   */
  relayed: boolean;
  /**
   * Decided by the leader at an index this node has not applied yet: its answer waits for that
   * apply (read your writes) and it is never routed again.
   */
  decided: boolean;
  /** The member it was last forwarded to, and when (ms): with no verdict in time it goes again. */
  forwardedTo: string | undefined;
  forwardedAtMs: number;
  readonly waiters: ((result: BatchItemResult) => void)[];
}

export interface AddPendingResult {
  readonly entry: PendingMessage;
  readonly answer: Promise<BatchItemResult>;
  /** False when the hash was already pending here: the new client waits on the same entry. */
  readonly isNew: boolean;
}

export class PendingMessages {
  /** Insertion order is deadline order: every entry gets the same bound when it is added. */
  readonly #byHash = new Map<string, PendingMessage>();
  #expiredTotal = 0;

  /** Entries answered by `expire` since the start (for the node's log). */
  get expiredTotal(): number {
    return this.#expiredTotal;
  }

  get size(): number {
    return this.#byHash.size;
  }

  get(hash: string): PendingMessage | undefined {
    return this.#byHash.get(hash);
  }

  /** True while `entry` is the one pending under its hash (not settled or expired since). */
  isPending(entry: PendingMessage): boolean {
    return this.#byHash.get(entry.message.hash) === entry;
  }

  /** Registers a client waiting for `message`'s verdict; `boundMs` from `nowMs` if new. */
  add(message: LedgerMessage, nowMs: number, boundMs: number): AddPendingResult {
    const hash = message.hash;
    const existing = this.#byHash.get(hash);
    const entry = existing ?? { message, deadlineMs: nowMs + boundMs, sent: false, resent: false, relayed: false, decided: false, forwardedTo: undefined, forwardedAtMs: 0, waiters: [] };
    if (existing === undefined) this.#byHash.set(hash, entry);
    const answer = new Promise<BatchItemResult>((resolve) => entry.waiters.push(resolve));
    return { entry, answer, isNew: existing === undefined };
  }

  /** Answers every client waiting on `hash` with `result`; false when none was pending. */
  settle(hash: string, result: BatchItemResult): boolean {
    const entry = this.#byHash.get(hash);
    if (entry === undefined) return false;
    this.#byHash.delete(hash);
    for (const w of entry.waiters) w(result);
    return true;
  }

  /** Answers every pending client with `resultOf(entry)` (shutdown). */
  settleAll(resultOf: (entry: PendingMessage) => BatchItemResult): void {
    for (const [hash, entry] of [...this.#byHash]) this.settle(hash, resultOf(entry));
  }

  /** Answers `resultOf(entry)` to the entries whose deadline passed at `nowMs`; returns how many. */
  expire(nowMs: number, resultOf: (entry: PendingMessage) => BatchItemResult): number {
    let n = 0;
    for (const [hash, entry] of this.#byHash) {
      if (entry.deadlineMs > nowMs) break; // later entries have later deadlines
      this.settle(hash, resultOf(entry));
      n++;
    }
    this.#expiredTotal += n;
    return n;
  }
}
