// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The leader's mempool (PROTOCOL.md §1): messages waiting for a block. Higher fees go first when
 * more wait than a block takes, but an account's own messages stay in nonce order; a hash is held
 * once. Pure data structure: the node cuts blocks from it on a timer or when it is full.
 */
import type { LedgerMessage } from "../ledger/index.ts";

function signerOf(m: LedgerMessage): string {
  return (m.kind === "transfer" ? m.from : m.account).toLowerCase();
}

function feeOf(m: LedgerMessage): bigint {
  return m.kind === "transfer" ? m.fee : 0n;
}

export class Mempool {
  /** Per signer, messages sorted by nonce. */
  readonly #bySigner = new Map<string, LedgerMessage[]>();
  readonly #hashes = new Set<string>();

  get size(): number {
    return this.#hashes.size;
  }

  has(hash: string): boolean {
    return this.#hashes.has(hash);
  }

  /** Adds `m`; false when a message with its hash is already waiting. */
  add(m: LedgerMessage): boolean {
    if (this.#hashes.has(m.hash)) return false;
    this.#hashes.add(m.hash);
    const key = signerOf(m);
    const queue = this.#bySigner.get(key);
    if (queue === undefined) {
      this.#bySigner.set(key, [m]);
      return true;
    }
    // Insert by nonce; equal nonces keep arrival order (the ledger takes the first, refuses the rest).
    let i = queue.length;
    while (i > 0 && queue[i - 1]!.nonce > m.nonce) i--;
    queue.splice(i, 0, m);
    return true;
  }

  /**
   * Removes and returns up to `max` messages for the next block: repeatedly the highest-fee head
   * among the signers' queues (ties: earlier signer first, by address, so the order is
   * deterministic), each signer's messages in nonce order.
   */
  take(max: number): LedgerMessage[] {
    const out: LedgerMessage[] = [];
    if (max <= 0 || this.#hashes.size === 0) return out;
    if (this.#hashes.size <= max) {
      // Everything fits: no ordering by fee is needed, only nonce order per signer.
      for (const queue of this.#bySigner.values()) for (const m of queue) out.push(m);
      this.#bySigner.clear();
      this.#hashes.clear();
      return out;
    }
    const heads = [...this.#bySigner.keys()].sort();
    while (out.length < max) {
      let best: string | undefined;
      let bestFee = -1n;
      for (const key of heads) {
        const head = this.#bySigner.get(key)?.[0];
        if (head !== undefined && feeOf(head) > bestFee) {
          best = key;
          bestFee = feeOf(head);
        }
      }
      if (best === undefined) break;
      const queue = this.#bySigner.get(best)!;
      const m = queue.shift()!;
      if (queue.length === 0) this.#bySigner.delete(best);
      this.#hashes.delete(m.hash);
      out.push(m);
    }
    return out;
  }
}
