// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The durable log on node:sqlite (docs/storage.md). One SQLite file in WAL mode with
 * `synchronous=NORMAL`, and the store's own fdatasync of the `-wal` file after every write
 * transaction, on libuv's thread pool: every method that writes is durable when its promise
 * resolves, a batch of entries costs one sync, and the event loop is free while the disk syncs.
 * (NORMAL keeps SQLite's own syncs around checkpoints, so the file is never corrupted; the sync at
 * COMMIT, which FULL would do on the event loop, is the one done here instead.)
 *
 * Torn writes: SQLite appends a transaction to the WAL as checksummed frames and replays, after a
 * crash, only the frames up to the last intact commit frame, so a half-written transaction is
 * dropped whole and the log ends at the last batch whose append returned. What SQLite does not
 * check is the content of pages (bit rot, a lying disk, someone editing the file): every entry
 * carries its own hash, chained to the previous entry, and `open()` verifies the whole chain,
 * dropping everything from the first bad record on, so a bad entry is never returned.
 *
 * Reads and the SQL of writes run synchronously (node:sqlite is synchronous); only the commit
 * sync is asynchronous. Checkpoints (SQLite's, every 1,000 WAL pages) still sync synchronously.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { closeSync, fdatasync, openSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { DatabaseSync, SQLOutputValue, StatementSync } from "node:sqlite";
import { DeltaError } from "../errors.ts";
import { GENESIS_HASH, isEntryIntact } from "./entry.ts";
import { EMPTY_HARD_STATE, type HardState, type LogEntry, type LogStore, type RecoveryReport, type Snapshot, type SnapshotMeta } from "./logStore.ts";
import { TailCache } from "./tailCache.ts";
import { TermRuns } from "./termRuns.ts";

/** Schema version kept in `PRAGMA user_version`; a new layout gets a new number and a migration. */
export const SQLITE_LOG_SCHEMA_VERSION = 1;

/** Tuning of the in-memory tail cache (the entries a leader is about to replicate). */
export interface SqliteLogStoreOptions {
  /** Most entries kept in memory after the last one (default 4096). */
  readonly tailCacheEntries?: number;
  /** Most payload bytes kept in memory (default 64 MiB). */
  readonly tailCacheBytes?: number;
}

/** What `SqliteLogStore.open` returns: the store and what recovery found. */
export interface OpenedSqliteLogStore {
  readonly store: SqliteLogStore;
  readonly report: RecoveryReport;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hard_state (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  term         INTEGER NOT NULL,
  voted_term   INTEGER NOT NULL,
  voted_for    TEXT,
  commit_index INTEGER NOT NULL,
  checksum     TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS leader_of_term (
  term     INTEGER PRIMARY KEY,
  leader   TEXT NOT NULL,
  checksum TEXT NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS leader_of_term_write_once BEFORE UPDATE ON leader_of_term
BEGIN SELECT RAISE(ABORT, 'leader_of_term is write-once'); END;
CREATE TABLE IF NOT EXISTS entries (
  idx       INTEGER PRIMARY KEY,
  term      INTEGER NOT NULL,
  leader    TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  data      BLOB NOT NULL,
  hash      TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS snapshot (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  idx      INTEGER NOT NULL,
  term     INTEGER NOT NULL,
  hash     TEXT NOT NULL,
  data     BLOB NOT NULL,
  checksum TEXT NOT NULL
) STRICT;
`;

const HASH_RE = /^[0-9a-f]{64}$/;
const NO_SNAPSHOT: SnapshotMeta = Object.freeze({ index: 0, term: 0, hash: GENESIS_HASH });

/** sha256 over typed, length-prefixed parts: the checksum of a hard-state, leader or snapshot row. */
function checksum(...parts: (string | number | null | Uint8Array)[]): string {
  const h = sha256.create();
  for (const part of parts) {
    const tag = part === null ? 0 : typeof part === "number" ? 1 : typeof part === "string" ? 2 : 3;
    const bytes = part === null ? new Uint8Array(0) : part instanceof Uint8Array ? part : utf8ToBytes(String(part));
    const head = new Uint8Array(9);
    head[0] = tag;
    new DataView(head.buffer).setBigUint64(1, BigInt(bytes.length));
    h.update(head);
    h.update(bytes);
  }
  return bytesToHex(h.digest());
}

function isPosition(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** A caller broke the LogStore contract: a bug upstream, never a disk problem. */
function misuse(message: string, details: Record<string, unknown>): DeltaError {
  return new DeltaError("INTERNAL", message, { details });
}

function corrupt(message: string, details: Record<string, unknown>): DeltaError {
  return new DeltaError("STORAGE_CORRUPT", message, { details });
}

// Row readers: node:sqlite types every column as SQLOutputValue; these narrow it, and a value of
// the wrong type (which STRICT tables should make impossible) reads as undefined = corrupt.
function intCol(row: Record<string, SQLOutputValue>, name: string): number | undefined {
  const v = row[name];
  return isPosition(v) ? v : undefined;
}
function textCol(row: Record<string, SQLOutputValue>, name: string): string | undefined {
  const v = row[name];
  return typeof v === "string" ? v : undefined;
}
function blobCol(row: Record<string, SQLOutputValue>, name: string): Uint8Array | undefined {
  const v = row[name];
  return v instanceof Uint8Array ? v : undefined;
}

/** An `entries` row as a LogEntry, or undefined when a column has the wrong type. */
function readEntryRow(row: Record<string, SQLOutputValue>): LogEntry | undefined {
  const index = intCol(row, "idx");
  const term = intCol(row, "term");
  const leader = textCol(row, "leader");
  const prevHash = textCol(row, "prev_hash");
  const data = blobCol(row, "data");
  const hash = textCol(row, "hash");
  if (index === undefined || term === undefined || leader === undefined || prevHash === undefined || data === undefined || hash === undefined) {
    return undefined;
  }
  return Object.freeze({ index, term, leader, prevHash, data, hash });
}

interface Statements {
  readonly saveHardState: StatementSync;
  readonly insertLeader: StatementSync;
  readonly insertEntry: StatementSync;
  readonly selectRange: StatementSync;
  readonly selectOne: StatementSync;
  readonly selectHash: StatementSync;
  readonly deleteFrom: StatementSync;
  readonly deleteUpTo: StatementSync;
  readonly deleteAll: StatementSync;
  readonly saveSnapshot: StatementSync;
  readonly selectSnapshotData: StatementSync;
}

function prepareStatements(db: DatabaseSync): Statements {
  return {
    saveHardState: db.prepare(
      `INSERT INTO hard_state (id, term, voted_term, voted_for, commit_index, checksum) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET term = excluded.term, voted_term = excluded.voted_term,
         voted_for = excluded.voted_for, commit_index = excluded.commit_index, checksum = excluded.checksum`,
    ),
    insertLeader: db.prepare("INSERT INTO leader_of_term (term, leader, checksum) VALUES (?, ?, ?)"),
    insertEntry: db.prepare("INSERT INTO entries (idx, term, leader, prev_hash, data, hash) VALUES (?, ?, ?, ?, ?, ?)"),
    selectRange: db.prepare("SELECT idx, term, leader, prev_hash, data, hash FROM entries WHERE idx BETWEEN ? AND ? ORDER BY idx"),
    selectOne: db.prepare("SELECT idx, term, leader, prev_hash, data, hash FROM entries WHERE idx = ?"),
    selectHash: db.prepare("SELECT hash FROM entries WHERE idx = ?"),
    deleteFrom: db.prepare("DELETE FROM entries WHERE idx >= ?"),
    deleteUpTo: db.prepare("DELETE FROM entries WHERE idx <= ?"),
    deleteAll: db.prepare("DELETE FROM entries"),
    saveSnapshot: db.prepare(
      `INSERT INTO snapshot (id, idx, term, hash, data, checksum) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term, hash = excluded.hash,
         data = excluded.data, checksum = excluded.checksum`,
    ),
    selectSnapshotData: db.prepare("SELECT data, checksum FROM snapshot WHERE id = 1"),
  };
}

/** What the open-time scan found, handed to the constructor (which does no I/O itself). */
interface Recovered {
  readonly hardState: HardState;
  readonly leaders: Map<number, string>;
  readonly snapshot: SnapshotMeta;
  readonly terms: TermRuns;
  readonly lastHash: string;
  readonly tail: TailCache;
}

/** LogStore on node:sqlite. Open with `SqliteLogStore.open(path)`; one process per file. */
export class SqliteLogStore implements LogStore {
  #db: DatabaseSync | undefined;
  readonly #stmt: Statements;
  #hardState: HardState;
  readonly #leaders: Map<number, string>;
  #snapshot: SnapshotMeta;
  #terms: TermRuns;
  /** Hash of the entry at lastIndex (the snapshot's hash when no entry follows it). */
  #lastHash: string;
  /** The newest entries, contiguous, ending at lastIndex. */
  readonly #tail: TailCache;
  /** The `-wal` file this store syncs after each write (undefined for ":memory:"), and its inode. */
  readonly #walPath: string | undefined;
  #walFd: number | undefined;
  #walIno = -1;

  private constructor(db: DatabaseSync, stmt: Statements, recovered: Recovered, walPath: string | undefined) {
    this.#db = db;
    this.#walPath = walPath;
    this.#stmt = stmt;
    this.#hardState = recovered.hardState;
    this.#leaders = recovered.leaders;
    this.#snapshot = recovered.snapshot;
    this.#terms = recovered.terms;
    this.#lastHash = recovered.lastHash;
    this.#tail = recovered.tail;
  }

  /**
   * Opens (or creates) the store at `path`, takes an exclusive lock on it, verifies every stored
   * record and drops a torn or corrupt tail. Throws STORAGE_CORRUPT when a record that cannot be
   * dropped (election state, leader of a term, the snapshot) fails its checksum, INVALID_CONFIG
   * when another process holds the file or its schema is unknown.
   */
  static async open(path: string, options: SqliteLogStoreOptions = {}): Promise<OpenedSqliteLogStore> {
    for (const key of ["tailCacheEntries", "tailCacheBytes"] as const) {
      const v = options[key];
      if (v !== undefined && !isPosition(v)) throw new DeltaError("INVALID_CONFIG", `${key} must be a non-negative integer`, { details: { [key]: v } });
    }
    if (path !== ":memory:") await mkdir(dirname(path), { recursive: true });
    // Loaded here, not at the top: importing storage/ for its types and hashing (as consensus/
    // does) then neither loads SQLite nor prints its ExperimentalWarning.
    const { DatabaseSync } = await import("node:sqlite");
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (cause) {
      throw new DeltaError("INVALID_CONFIG", `cannot open the log store at ${path}`, { details: { path }, cause });
    }
    try {
      prepareDatabase(db, path);
      const stmt = prepareStatements(db);
      const tail = new TailCache(options.tailCacheEntries ?? 4096, options.tailCacheBytes ?? 64 * 1024 * 1024);
      const { recovered, report } = recover(db, tail);
      return { store: new SqliteLogStore(db, stmt, recovered, path === ":memory:" ? undefined : `${path}-wal`), report };
    } catch (err) {
      db.close();
      if (err instanceof DeltaError) throw err;
      throw new DeltaError("STORAGE_CORRUPT", `cannot read the log store at ${path}`, { details: { path }, cause: err });
    }
  }

  hardState(): HardState {
    this.#open();
    return this.#hardState;
  }

  async saveHardState(state: HardState): Promise<void> {
    const db = this.#open();
    const { term, votedTerm, votedFor, commitIndex } = state;
    if (!isPosition(term) || !isPosition(votedTerm) || !isPosition(commitIndex) || !(votedFor === null || typeof votedFor === "string")) {
      throw misuse("hard state must hold non-negative integers and a string or null vote", { term, votedTerm, votedFor, commitIndex });
    }
    this.#write(db, () => {
      this.#stmt.saveHardState.run(term, votedTerm, votedFor, commitIndex, checksum(term, votedTerm, votedFor, commitIndex));
    });
    this.#hardState = Object.freeze({ term, votedTerm, votedFor, commitIndex });
    await this.#syncWal(db);
  }

  leaderOfTerm(term: number): string | undefined {
    this.#open();
    return this.#leaders.get(term);
  }

  async recordLeaderOfTerm(term: number, leader: string): Promise<boolean> {
    const db = this.#open();
    if (!isPosition(term) || term === 0 || typeof leader !== "string" || leader.length === 0) {
      throw misuse("leader of term needs a term from 1 and a non-empty leader", { term, leader });
    }
    const known = this.#leaders.get(term);
    if (known !== undefined) return known === leader;
    this.#write(db, () => {
      this.#stmt.insertLeader.run(term, leader, checksum(term, leader));
    });
    this.#leaders.set(term, leader);
    await this.#syncWal(db);
    return true;
  }

  firstIndex(): number {
    this.#open();
    return this.#snapshot.index + 1;
  }

  lastIndex(): number {
    this.#open();
    return this.#terms.lastIndex;
  }

  termAt(index: number): number | undefined {
    this.#open();
    return this.#terms.termAt(index);
  }

  /**
   * Entries [from, to], `to` clamped to lastIndex, stopping before the entry that would take the
   * payload past `maxBytes` (the first entry always comes). Throws INTERNAL when `from` is
   * compacted (send the snapshot instead), STORAGE_CORRUPT when a record read from disk fails its
   * hash.
   */
  entries(from: number, to: number, maxBytes = Number.POSITIVE_INFINITY): LogEntry[] {
    this.#open();
    if (!isPosition(from) || !isPosition(to) || !(maxBytes >= 0)) throw misuse("entries() needs integer bounds", { from, to, maxBytes });
    if (from < this.firstIndex()) throw misuse("entries are compacted; send the snapshot", { from, firstIndex: this.firstIndex() });
    const last = Math.min(to, this.#terms.lastIndex);
    if (from > last) return [];
    const out: LogEntry[] = [];
    let bytes = 0;
    const take = (entry: LogEntry): boolean => {
      if (out.length > 0 && bytes + entry.data.length > maxBytes) return false;
      out.push(entry);
      bytes += entry.data.length;
      return true;
    };
    const tailStart = this.#tail.start;
    if (tailStart !== undefined && from >= tailStart) {
      for (let i = from; i <= last; i++) {
        const entry = this.#tail.get(i);
        if (entry === undefined || !take(entry)) break;
      }
      return out;
    }
    let full = false;
    for (const row of this.#stmt.selectRange.iterate(from, last)) {
      if (!take(this.#checkedRow(row, from + out.length))) {
        full = true;
        break;
      }
    }
    if (!full && out.length !== last - from + 1) throw corrupt("entries are missing from the log store", { from, to: last, read: out.length });
    return out;
  }

  entry(index: number): LogEntry | undefined {
    this.#open();
    if (!isPosition(index) || index < this.firstIndex() || index > this.#terms.lastIndex) return undefined;
    const cached = this.#tail.get(index);
    if (cached !== undefined) return cached;
    const row = this.#stmt.selectOne.get(index);
    if (row === undefined) throw corrupt("an entry is missing from the log store", { index });
    return this.#checkedRow(row, index);
  }

  /**
   * Appends a batch in one transaction (one sync). Throws INTERNAL, changing nothing, when the
   * batch does not continue the log: wrong index, prevHash not the previous hash, a term lower
   * than the one before, or a hash that does not match the entry.
   */
  async append(entries: readonly LogEntry[]): Promise<void> {
    const db = this.#open();
    if (entries.length === 0) return;
    let index = this.#terms.lastIndex;
    let term = this.#terms.lastTerm;
    let prevHash = this.#lastHash;
    for (const e of entries) {
      if (e.index !== index + 1) throw misuse("appended entry does not follow the last index", { expected: index + 1, got: e.index });
      if (e.prevHash !== prevHash) throw misuse("appended entry does not chain to the previous hash", { index: e.index, expected: prevHash, got: e.prevHash });
      if (!isPosition(e.term) || e.term < term || e.term === 0) throw misuse("appended entry's term is below the previous term", { index: e.index, previous: term, got: e.term });
      if (typeof e.leader !== "string" || !(e.data instanceof Uint8Array) || !isEntryIntact(e)) {
        throw misuse("appended entry's hash does not match its fields", { index: e.index, hash: e.hash });
      }
      index = e.index;
      term = e.term;
      prevHash = e.hash;
    }
    // Copies, so a caller reusing its buffers cannot change what the cache returns.
    const stored = entries.map((e) => Object.freeze({ index: e.index, term: e.term, leader: e.leader, prevHash: e.prevHash, data: new Uint8Array(e.data), hash: e.hash }));
    this.#write(db, () => {
      db.exec("BEGIN IMMEDIATE");
      try {
        for (const e of stored) this.#stmt.insertEntry.run(e.index, e.term, e.leader, e.prevHash, e.data, e.hash);
        db.exec("COMMIT");
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw err;
      }
    });
    for (const e of stored) {
      this.#terms.push(e.index, e.term);
      this.#tail.push(e);
    }
    this.#lastHash = prevHash;
    await this.#syncWal(db);
  }

  /** Throws INTERNAL when `index` is at or before the snapshot (compacted entries are committed). */
  async truncateFrom(index: number): Promise<void> {
    const db = this.#open();
    if (!isPosition(index) || index <= this.#snapshot.index) {
      throw misuse("cannot truncate at or before the snapshot", { index, snapshotIndex: this.#snapshot.index });
    }
    if (index > this.#terms.lastIndex) return;
    const newLastHash = index - 1 === this.#snapshot.index ? this.#snapshot.hash : this.#hashAt(index - 1);
    this.#write(db, () => {
      this.#stmt.deleteFrom.run(index);
    });
    this.#terms.truncateFrom(index);
    this.#lastHash = newLastHash;
    this.#tail.truncateFrom(index);
    await this.#syncWal(db);
  }

  snapshot(): Snapshot | undefined {
    this.#open();
    if (this.#snapshot.index === 0) return undefined;
    const row = this.#stmt.selectSnapshotData.get();
    const data = row === undefined ? undefined : blobCol(row, "data");
    const meta = this.#snapshot;
    if (row === undefined || data === undefined || textCol(row, "checksum") !== checksum(meta.index, meta.term, meta.hash, data)) {
      throw corrupt("the stored snapshot fails its checksum", { index: meta.index });
    }
    return { meta, data };
  }

  /**
   * Stores the snapshot and compacts the log up to its index, in one transaction. When the log
   * holds the snapshot's entry (same index, term and hash) the entries after it stay; otherwise
   * (the log is shorter, or conflicts there, as when a leader installs it) the whole log goes, as
   * Raft's InstallSnapshot does. Throws INTERNAL for a snapshot older than the stored one, or a
   * different one at the same index.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const db = this.#open();
    const { index, term, hash } = snapshot.meta;
    if (!isPosition(index) || index === 0 || !isPosition(term) || term === 0 || typeof hash !== "string" || !HASH_RE.test(hash) || !(snapshot.data instanceof Uint8Array)) {
      throw misuse("snapshot needs an index and term from 1, a 64-hex hash and bytes", { index, term, hash });
    }
    const current = this.#snapshot;
    if (index < current.index) throw misuse("snapshot is older than the stored one", { index, storedIndex: current.index });
    if (index === current.index && (term !== current.term || hash !== current.hash)) {
      throw misuse("snapshot conflicts with the stored one at the same index", { index, term, hash, storedTerm: current.term, storedHash: current.hash });
    }
    const keepTail = index === current.index || (index <= this.#terms.lastIndex && this.#terms.termAt(index) === term && this.#hashAt(index) === hash);
    const meta: SnapshotMeta = Object.freeze({ index, term, hash });
    const data = new Uint8Array(snapshot.data);
    this.#write(db, () => {
      db.exec("BEGIN IMMEDIATE");
      try {
        this.#stmt.saveSnapshot.run(index, term, hash, data, checksum(index, term, hash, data));
        if (keepTail) this.#stmt.deleteUpTo.run(index);
        else this.#stmt.deleteAll.run();
        db.exec("COMMIT");
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw err;
      }
    });
    this.#snapshot = meta;
    if (keepTail) {
      this.#terms.compactTo(index, term);
      this.#tail.dropUpTo(index);
    } else {
      this.#terms = new TermRuns(index, term);
      this.#lastHash = hash;
      this.#tail.clear();
    }
    await this.#syncWal(db);
  }

  /** Closes the database (checkpointing the WAL into the main file). A second close does nothing. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    db?.close();
    this.#closeWalFd();
  }

  #closeWalFd(): void {
    if (this.#walFd === undefined) return;
    try {
      closeSync(this.#walFd);
    } catch {
      // Closing a read handle cannot lose data; nothing to report.
    }
    this.#walFd = undefined;
  }

  /**
   * Makes the last write durable: fdatasync of the `-wal` file (which SQLite, at NORMAL, did not
   * sync at COMMIT), off the event loop. Any descriptor of a file syncs its data on Linux; the
   * file is reopened if SQLite replaced it. No `-wal` file means nothing is pending in one (a
   * checkpoint moved it into the database, which SQLite syncs itself at NORMAL). A failed sync
   * leaves the disk in an unknown state: the store closes itself, as for a failed write.
   */
  async #syncWal(db: DatabaseSync): Promise<void> {
    const path = this.#walPath;
    if (path === undefined) return;
    try {
      const ino = statSync(path, { throwIfNoEntry: false })?.ino;
      if (ino === undefined) return;
      if (this.#walFd === undefined || ino !== this.#walIno) {
        this.#closeWalFd();
        this.#walFd = openSync(path, "r");
        this.#walIno = ino;
      }
      const fd = this.#walFd;
      await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err === null ? resolve() : reject(err))));
    } catch (cause) {
      if (this.#db === db) {
        this.#db = undefined;
        try {
          db.close();
        } catch {
          // Already failing; the original error is the one to report.
        }
      }
      this.#closeWalFd();
      throw new DeltaError("INTERNAL", "syncing the log store failed; the store is closed, reopen it to recover", { cause });
    }
  }

  #open(): DatabaseSync {
    if (this.#db === undefined) throw misuse("the log store is closed", {});
    return this.#db;
  }

  /**
   * Runs a write. A write that fails (disk full, fsync error) leaves the disk in a state this
   * process no longer knows for sure, so the store closes itself: the node must reopen (recover).
   */
  #write(db: DatabaseSync, fn: () => void): void {
    try {
      fn();
    } catch (cause) {
      this.#db = undefined;
      try {
        db.close();
      } catch {
        // Already failing; the original error is the one to report.
      }
      throw new DeltaError("INTERNAL", "a log store write failed; the store is closed, reopen it to recover", { cause });
    }
  }

  /** Hash of the stored entry at `index` (which must be in the log). */
  #hashAt(index: number): string {
    const cached = this.#tail.get(index);
    if (cached !== undefined) return cached.hash;
    const row = this.#stmt.selectHash.get(index);
    const hash = row === undefined ? undefined : textCol(row, "hash");
    if (hash === undefined) throw corrupt("an entry is missing from the log store", { index });
    return hash;
  }

  /** A row read after open: must be the expected index and intact, or the disk changed under us. */
  #checkedRow(row: Record<string, SQLOutputValue>, index: number): LogEntry {
    const entry = readEntryRow(row);
    if (entry === undefined || entry.index !== index || !isEntryIntact(entry)) {
      throw corrupt("a log entry read from disk fails its hash", { index });
    }
    return entry;
  }
}

/** Pragmas, exclusive lock, schema. Throws INVALID_CONFIG for a locked file or unknown schema. */
function prepareDatabase(db: DatabaseSync, path: string): void {
  // EXCLUSIVE before WAL: the WAL index lives in process memory (no -shm file), and the lock taken
  // below keeps a second node process off this file for as long as we hold it.
  try {
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    const mode = db.prepare("PRAGMA journal_mode = WAL").get();
    if (mode === undefined || (path !== ":memory:" && textCol(mode, "journal_mode") !== "wal")) {
      throw new DeltaError("INVALID_CONFIG", "the log store's file system does not support SQLite WAL", { details: { path } });
    }
    // NORMAL: SQLite syncs around checkpoints (never a corrupt file) but not at COMMIT; the store
    // syncs the WAL itself after each write, off the event loop (#syncWal), before it resolves.
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("BEGIN EXCLUSIVE");
  } catch (cause) {
    if (isBusy(cause)) throw new DeltaError("INVALID_CONFIG", `the log store at ${path} is in use by another process`, { details: { path }, cause });
    throw cause;
  }
  try {
    const versionRow = db.prepare("PRAGMA user_version").get();
    const version = versionRow === undefined ? undefined : intCol(versionRow, "user_version");
    if (version !== 0 && version !== SQLITE_LOG_SCHEMA_VERSION) {
      throw new DeltaError("INVALID_CONFIG", `the log store at ${path} has an unknown schema version`, { details: { path, version } });
    }
    db.exec(SCHEMA);
    db.exec(`PRAGMA user_version = ${SQLITE_LOG_SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

/** SQLITE_BUSY (5) or SQLITE_LOCKED (6): another connection holds the file. */
function isBusy(err: unknown): boolean {
  return err instanceof Error && "errcode" in err && (err.errcode === 5 || err.errcode === 6);
}

/** Reads everything back and verifies it; drops the entries from the first bad one on. */
function recover(db: DatabaseSync, tail: TailCache): { recovered: Recovered; report: RecoveryReport } {
  const hardState = readHardState(db);
  const leaders = new Map<number, string>();
  for (const row of db.prepare("SELECT term, leader, checksum FROM leader_of_term").iterate()) {
    const term = intCol(row, "term");
    const leader = textCol(row, "leader");
    if (term === undefined || leader === undefined || textCol(row, "checksum") !== checksum(term, leader)) {
      throw corrupt("a stored leader of term fails its checksum", { term: row["term"] ?? null });
    }
    leaders.set(term, leader);
  }
  const snapshot = readSnapshotMeta(db);

  // Entries at or before the snapshot cannot exist (compaction deletes them in the snapshot's
  // transaction); should one appear, it is not part of the log.
  db.prepare("DELETE FROM entries WHERE idx <= ?").run(snapshot.index);
  const terms = new TermRuns(snapshot.index, snapshot.term);
  let lastHash = snapshot.hash;
  let intact = 0;
  for (const row of db.prepare("SELECT idx, term, leader, prev_hash, data, hash FROM entries ORDER BY idx").iterate()) {
    const entry = readEntryRow(row);
    const ok =
      entry !== undefined &&
      entry.index === terms.lastIndex + 1 &&
      entry.prevHash === lastHash &&
      entry.term >= terms.lastTerm &&
      isEntryIntact(entry);
    if (!ok) break;
    terms.push(entry.index, entry.term);
    lastHash = entry.hash;
    tail.push(entry);
    intact++;
  }
  const droppedTail = Number(db.prepare("DELETE FROM entries WHERE idx > ?").run(terms.lastIndex).changes);
  return {
    recovered: { hardState, leaders, snapshot, terms, lastHash, tail },
    report: Object.freeze({ entries: intact, droppedTail }),
  };
}

function readHardState(db: DatabaseSync): HardState {
  const row = db.prepare("SELECT term, voted_term, voted_for, commit_index, checksum FROM hard_state WHERE id = 1").get();
  if (row === undefined) return EMPTY_HARD_STATE;
  const term = intCol(row, "term");
  const votedTerm = intCol(row, "voted_term");
  const votedForRaw = row["voted_for"];
  const votedFor = typeof votedForRaw === "string" ? votedForRaw : votedForRaw === null ? null : undefined;
  const commitIndex = intCol(row, "commit_index");
  if (term === undefined || votedTerm === undefined || votedFor === undefined || commitIndex === undefined || textCol(row, "checksum") !== checksum(term, votedTerm, votedFor, commitIndex)) {
    throw corrupt("the stored election state fails its checksum; the node cannot know whom it voted for", {});
  }
  return Object.freeze({ term, votedTerm, votedFor, commitIndex });
}

function readSnapshotMeta(db: DatabaseSync): SnapshotMeta {
  const row = db.prepare("SELECT idx, term, hash, data, checksum FROM snapshot WHERE id = 1").get();
  if (row === undefined) return NO_SNAPSHOT;
  const index = intCol(row, "idx");
  const term = intCol(row, "term");
  const hash = textCol(row, "hash");
  const data = blobCol(row, "data");
  if (index === undefined || term === undefined || hash === undefined || data === undefined || textCol(row, "checksum") !== checksum(index, term, hash, data)) {
    throw corrupt("the stored snapshot fails its checksum", {});
  }
  return Object.freeze({ index, term, hash });
}
