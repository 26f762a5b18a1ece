// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The durable log's domain interface. The consensus driver talks to this, never to the engine
 * behind it (node:sqlite today). Contract, as etcd/raft puts it: persist before send. Every
 * method that writes returns only once the write is durable (synced), so a caller may act on it.
 */

/** A replicated log entry. Indexes start at 1; index 0 / term 0 is the empty log's sentinel. */
export interface LogEntry {
  /** Position in the log, from 1. */
  readonly index: number;
  /** The term of the leader that created the entry. */
  readonly term: number;
  /** Transport identity (hex public key) of the leader that created the entry. */
  readonly leader: string;
  /** `hash` of the entry at `index - 1`, or GENESIS_HASH for index 1. */
  readonly prevHash: string;
  /** Opaque payload (a block of transfers, a deposit credit, a seal, ...). */
  readonly data: Uint8Array;
  /** `hashEntry(index, term, leader, prevHash, data)`: chains entries and detects corruption. */
  readonly hash: string;
}

/** Durable election state. Written, and synced, before the node acts on it. */
export interface HardState {
  /** Highest term this node has seen. */
  readonly term: number;
  /** Highest term in which this node granted a vote (one vote per term). */
  readonly votedTerm: number;
  /** The candidate it voted for in `votedTerm`, or null. */
  readonly votedFor: string | null;
  /** Highest index known committed (a hint; commitment is re-derived after restart). */
  readonly commitIndex: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, votedTerm: 0, votedFor: null, commitIndex: 0 });

/** Where the log starts after compaction: everything up to `index` is in the snapshot. */
export interface SnapshotMeta {
  /** Last log index covered by the snapshot (0: no snapshot). */
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly term: number;
  /** Hash of the entry at `index` (chains to the first retained entry's prevHash). */
  readonly hash: string;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application state up to `meta.index` (the ledger's snapshot bytes). */
  readonly data: Uint8Array;
}

/** What `open()` found and repaired on disk. */
export interface RecoveryReport {
  /** Entries read back intact. */
  readonly entries: number;
  /** Entries dropped from the tail because a record was torn or corrupt (never applied). */
  readonly droppedTail: number;
}

export interface LogStore {
  /** Durable election state (EMPTY_HARD_STATE on a new store). */
  hardState(): HardState;
  /** Replaces the election state; durable on return. */
  saveHardState(state: HardState): Promise<void>;
  /** The write-once leader of `term`, or undefined. */
  leaderOfTerm(term: number): string | undefined;
  /**
   * Records `leader` as the leader of `term`, durable on return. Write-once: returns false (and
   * changes nothing) when another leader is already recorded for that term.
   */
  recordLeaderOfTerm(term: number, leader: string): Promise<boolean>;
  /** Index of the first entry kept (snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry (snapshot index when the log is empty after it). */
  lastIndex(): number;
  /** Term of the entry at `index` (the snapshot's term at its index); undefined if unknown. */
  termAt(index: number): number | undefined;
  /** Entries [from, to] inclusive, at most `maxBytes` of data (at least one entry). */
  entries(from: number, to: number, maxBytes?: number): LogEntry[];
  /** The entry at `index`, or undefined (compacted or beyond the end). */
  entry(index: number): LogEntry | undefined;
  /**
   * Appends `entries`, which must continue the log (first index = lastIndex + 1, chained by hash);
   * one durable write for the whole batch.
   */
  append(entries: readonly LogEntry[]): Promise<void>;
  /** Removes every entry with index >= `index` (a follower's conflicting tail); durable on return. */
  truncateFrom(index: number): Promise<void>;
  /** The latest snapshot, or undefined. */
  snapshot(): Snapshot | undefined;
  /**
   * Stores `snapshot` and drops log entries up to its index (compaction). Entries after it stay.
   * If the log does not reach the snapshot's index (installed from a leader), the whole log is
   * replaced by the snapshot.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Closes the store; later calls throw. */
  close(): Promise<void>;
}
