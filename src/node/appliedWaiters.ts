// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Callbacks waiting for the node to apply a log index: a write's answer waits for the index that
 * decided it (read your writes, PROTOCOL.md §2), a GET with `?minIndex=` for the index asked.
 * A binary min-heap on the index, so `advance` costs nothing when no waiter is due, and waiters
 * parked by different leaders' verdicts (indexes out of order) are still run in index order.
 * Pure: the caller says how far the node has applied.
 */

interface Waiter {
  readonly index: number;
  readonly run: () => void;
  cancelled: boolean;
}

export class AppliedWaiters {
  readonly #heap: Waiter[] = [];
  #cancelled = 0;

  /** Entries held, cancelled ones not yet dropped included (the tests check that cancelling frees them). */
  get stored(): number {
    return this.#heap.length;
  }

  /** Waiters not yet run or cancelled. */
  get size(): number {
    return this.#heap.length - this.#cancelled;
  }

  /**
   * Runs `run` once `advance` reaches `index` (the caller runs it itself when already there).
   * Returns a cancel function: a GET that gave up waiting must not stay here (a hostile
   * `?minIndex=` far ahead would otherwise pile up waiters that never run).
   */
  add(index: number, run: () => void): () => void {
    const w: Waiter = { index, run, cancelled: false };
    this.#push(w);
    return () => {
      if (w.cancelled) return;
      w.cancelled = true;
      this.#cancelled++;
      if (this.#cancelled > 64 && this.#cancelled * 2 > this.#heap.length) this.#compact();
    };
  }

  /** Rebuilds the heap without the cancelled waiters. */
  #compact(): void {
    const live = this.#heap.filter((w) => !w.cancelled);
    this.#heap.length = 0;
    this.#cancelled = 0;
    for (const w of live) this.#push(w);
  }

  #push(w: Waiter): void {
    const h = this.#heap;
    h.push(w);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.index <= h[i]!.index) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  /** The node has applied up to `applied`: runs (and drops) every waiter at or below it, lowest first. */
  advance(applied: number): void {
    const h = this.#heap;
    while (h.length > 0 && h[0]!.index <= applied) {
      const top = h[0]!;
      const last = h.pop()!;
      if (h.length > 0) {
        h[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < h.length && h[l]!.index < h[m]!.index) m = l;
          if (r < h.length && h[r]!.index < h[m]!.index) m = r;
          if (m === i) break;
          [h[m], h[i]] = [h[i]!, h[m]!];
          i = m;
        }
      }
      if (top.cancelled) this.#cancelled--;
      else {
        top.cancelled = true; // run once; a later cancel is a no-op
        top.run();
      }
    }
  }

  /** Runs every waiter now, whatever its index (shutdown: they answer with what they have). */
  drain(): void {
    const all = this.#heap.splice(0);
    this.#cancelled = 0;
    for (const w of all) {
      if (w.cancelled) continue;
      w.cancelled = true;
      w.run();
    }
  }
}
