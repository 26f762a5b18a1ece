// SPDX-License-Identifier: AGPL-3.0-or-later
/** storage/: the durable log behind the LogStore interface. Other folders import this file only. */

/** Log entry, election state, snapshot types and the LogStore contract (durable on return). */
export type { LogEntry, HardState, SnapshotMeta, Snapshot, RecoveryReport, LogStore } from "./logStore.ts";
/** The election state of a new store: term 0, no vote, nothing committed. */
export { EMPTY_HARD_STATE } from "./logStore.ts";
/** Entry hashing (sha256, hex) and its genesis prevHash. */
export { GENESIS_HASH, hashEntry, makeEntry, isEntryIntact } from "./entry.ts";
/** The durable LogStore on node:sqlite (WAL, synced after every write, off the event loop); `SqliteLogStore.open(path)` recovers and reports a dropped tail. */
export { SqliteLogStore, SQLITE_LOG_SCHEMA_VERSION } from "./sqliteLogStore.ts";
/** Options and result of `SqliteLogStore.open` (tail cache size; the store and its RecoveryReport). */
export type { SqliteLogStoreOptions, OpenedSqliteLogStore } from "./sqliteLogStore.ts";
