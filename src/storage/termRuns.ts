// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The in-memory term index of a log: which term each stored index has, as runs of equal terms.
 * Raft logs change term only when leadership changes, so a log of millions of entries is a handful
 * of runs. `termAt` of the tail (the consensus core's hot path: last term, prevTerm of the next
 * append) is O(1); older indexes cost a binary search over the runs. Pure, no I/O.
 */

interface TermRun {
  /** First index of the run. */
  start: number;
  readonly term: number;
}

/** Terms of the indexes (base, last], plus the base (snapshot) index and its term. */
export class TermRuns {
  #baseIndex: number;
  #baseTerm: number;
  #last: number;
  /** Ascending by start; run i covers [runs[i].start, runs[i+1].start - 1], the last one up to #last. */
  #runs: TermRun[] = [];

  /** An empty index after `baseIndex` (0 for a log without snapshot) whose term is `baseTerm`. */
  constructor(baseIndex = 0, baseTerm = 0) {
    this.#baseIndex = baseIndex;
    this.#baseTerm = baseTerm;
    this.#last = baseIndex;
  }

  /** The snapshot index (0 without one). */
  get baseIndex(): number {
    return this.#baseIndex;
  }

  /** The last index (baseIndex when no entries follow it). */
  get lastIndex(): number {
    return this.#last;
  }

  /** Term of the last index (the base term when no entries follow it). */
  get lastTerm(): number {
    return this.#runs.at(-1)?.term ?? this.#baseTerm;
  }

  /** Records that `index` (which must be lastIndex + 1) has `term`. */
  push(index: number, term: number): void {
    if (index !== this.#last + 1) throw new RangeError(`term index: expected ${this.#last + 1}, got ${index}`);
    const tail = this.#runs.at(-1);
    if (tail === undefined || tail.term !== term) this.#runs.push({ start: index, term });
    this.#last = index;
  }

  /** Term of `index`, or undefined when it is before the base or after the last index. */
  termAt(index: number): number | undefined {
    if (index === this.#baseIndex) return this.#baseTerm;
    if (index < this.#baseIndex || index > this.#last) return undefined;
    const runs = this.#runs;
    const tail = runs[runs.length - 1];
    if (tail !== undefined && index >= tail.start) return tail.term;
    // Largest run whose start is <= index; run 0 starts at baseIndex + 1 <= index, so one exists.
    let lo = 0;
    let hi = runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      const run = runs[mid];
      if (run !== undefined && run.start <= index) lo = mid;
      else hi = mid - 1;
    }
    return runs[lo]?.term;
  }

  /** Forgets every index >= `index` (which must be after the base). */
  truncateFrom(index: number): void {
    if (index <= this.#baseIndex) throw new RangeError(`term index: cannot truncate at ${index}, base is ${this.#baseIndex}`);
    if (index > this.#last) return;
    while (this.#runs.length > 0 && (this.#runs.at(-1)?.start ?? 0) >= index) this.#runs.pop();
    this.#last = index - 1;
  }

  /** Makes `index` (with `term`) the new base: drops the runs at or before it. */
  compactTo(index: number, term: number): void {
    if (index > this.#last) {
      this.#runs = [];
      this.#last = index;
    } else {
      const keep = this.#runs.filter((_run, i) => (this.#runs[i + 1]?.start ?? this.#last + 1) > index + 1);
      const head = keep[0];
      if (head !== undefined && head.start <= index) head.start = index + 1;
      this.#runs = keep;
    }
    this.#baseIndex = index;
    this.#baseTerm = term;
  }
}
