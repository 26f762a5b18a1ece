// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The newest log entries, kept in memory so a leader replicating what it just appended, and a
 * follower a few entries behind, are served without touching the disk. Contiguous: it always
 * holds [start, end] of the log for some start. Bounded by a count and by payload bytes; the
 * oldest go first. Pure, no I/O.
 */
import type { LogEntry } from "./logStore.ts";

export class TailCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #items: LogEntry[] = [];
  /** Index into #items of the oldest live entry; the slots before it are dead and reclaimed in bulk. */
  #head = 0;
  #bytes = 0;

  /** At most `maxEntries` entries and `maxBytes` bytes of payload (the newest entry always stays unless maxEntries is 0). */
  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** Entries held. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Index of the oldest entry held, or undefined when empty. */
  get start(): number | undefined {
    return this.#items[this.#head]?.index;
  }

  /** Adds the entry after the newest one (the caller keeps them contiguous), evicting the oldest. */
  push(entry: LogEntry): void {
    if (this.#maxEntries === 0) return;
    this.#items.push(entry);
    this.#bytes += entry.data.length;
    while (this.size > this.#maxEntries || (this.#bytes > this.#maxBytes && this.size > 1)) this.#dropOldest();
    // Reclaim dead slots once they are the majority: amortised O(1) per push.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The entry at `index` if held. */
  get(index: number): LogEntry | undefined {
    const start = this.start;
    if (start === undefined || index < start) return undefined;
    return this.#items[this.#head + index - start];
  }

  /** Forgets the entries at and after `index`. */
  truncateFrom(index: number): void {
    while (this.size > 0 && (this.#items.at(-1)?.index ?? 0) >= index) {
      const e = this.#items.pop();
      this.#bytes -= e?.data.length ?? 0;
    }
    if (this.size === 0) this.clear();
  }

  /** Forgets the entries at and before `index`. */
  dropUpTo(index: number): void {
    while (this.size > 0 && (this.start ?? 0) <= index) this.#dropOldest();
    if (this.size === 0) this.clear();
  }

  /** Forgets everything. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #dropOldest(): void {
    const e = this.#items[this.#head];
    if (e === undefined) return;
    this.#bytes -= e.data.length;
    this.#items[this.#head] = EVICTED;
    this.#head++;
  }
}

/** Placeholder for evicted slots, so evicted payloads can be collected before the array is compacted. */
const EVICTED: LogEntry = Object.freeze({ index: 0, term: 0, leader: "", prevHash: "", data: new Uint8Array(0), hash: "" });
