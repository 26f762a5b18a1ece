// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { DeltaError } from "../../../src/errors.ts";
import {
  EMPTY_HARD_STATE,
  GENESIS_HASH,
  isEntryIntact,
  makeEntry,
  SqliteLogStore,
  type LogEntry,
  type LogStore,
  type SqliteLogStoreOptions,
} from "../../../src/storage/index.ts";

const root = await mkdtemp(join(tmpdir(), "delta-logstore-"));
const opened: LogStore[] = [];
const children: ChildProcess[] = [];
let dirs = 0;

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const store of opened) await store.close();
  await rm(root, { recursive: true, force: true });
});

function freshPath(): string {
  dirs++;
  return join(root, `node-${dirs}`, "log.db");
}

async function open(path: string, options?: SqliteLogStoreOptions): Promise<Awaited<ReturnType<typeof SqliteLogStore.open>>> {
  const result = await SqliteLogStore.open(path, options);
  opened.push(result.store);
  return result;
}

/** `count` entries chained after (`after`, `prevHash`), in `term`, with payloads that vary in size. */
function chain(afterIndex: number, prevHash: string, count: number, term: number, leader = "02aa"): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = 1; i <= count; i++) {
    const index = afterIndex + i;
    const e = makeEntry(index, term, leader, out.at(-1)?.hash ?? prevHash, new TextEncoder().encode(`payload ${index} `.repeat(index % 5 + 1)));
    out.push(e);
  }
  return out;
}

/** Every entry of the store, read back, checked intact and chained from the snapshot (or genesis). */
function assertValidChain(store: LogStore): LogEntry[] {
  const all = store.entries(store.firstIndex(), store.lastIndex());
  let prevHash = store.snapshot()?.meta.hash ?? GENESIS_HASH;
  let index = store.firstIndex();
  for (const e of all) {
    assert.equal(e.index, index, "contiguous");
    assert.equal(e.prevHash, prevHash, `entry ${e.index} chains`);
    assert.ok(isEntryIntact(e), `entry ${e.index} intact`);
    assert.equal(store.termAt(e.index), e.term);
    prevHash = e.hash;
    index++;
  }
  assert.equal(index - 1, store.lastIndex());
  return all;
}

function isCode(code: string): (err: unknown) => boolean {
  return (err) => err instanceof DeltaError && err.code === code;
}

/** Opens the SQLite file directly (the store closed) and runs `sql` on it, as a disk fault would. */
function tamper(path: string, sql: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe("SqliteLogStore: append, read, reopen", () => {
  it("starts empty", async () => {
    const { store, report } = await open(freshPath());
    assert.deepEqual(report, { entries: 0, droppedTail: 0 });
    assert.deepEqual(store.hardState(), EMPTY_HARD_STATE);
    assert.equal(store.firstIndex(), 1);
    assert.equal(store.lastIndex(), 0);
    assert.equal(store.termAt(0), 0);
    assert.equal(store.termAt(1), undefined);
    assert.deepEqual(store.entries(1, 10), []);
    assert.equal(store.snapshot(), undefined);
  });

  it("reads back what it appended, from memory and after a reopen from disk", async () => {
    const path = freshPath();
    const { store } = await open(path);
    const first = chain(0, GENESIS_HASH, 5, 1);
    const second = chain(5, first[4]?.hash ?? "", 7, 2);
    await store.append(first);
    await store.append(second);
    const all = [...first, ...second];
    assert.equal(store.lastIndex(), 12);
    assert.equal(store.termAt(5), 1);
    assert.equal(store.termAt(6), 2);
    assert.deepEqual(store.entries(1, 12), all);
    assert.deepEqual(store.entries(4, 100), all.slice(3));
    assert.deepEqual(store.entry(7), all[6]);
    await store.close();

    const again = await open(path, { tailCacheEntries: 0 });
    assert.deepEqual(again.report, { entries: 12, droppedTail: 0 });
    assert.equal(again.store.lastIndex(), 12);
    assert.equal(again.store.termAt(12), 2);
    assert.deepEqual(again.store.entries(1, 12), all);
    assert.deepEqual(again.store.entry(3), all[2]);
    assertValidChain(again.store);
  });

  it("keeps appending across SQLite's checkpoints (12 MiB through a 4 MiB WAL) and has every batch after a reopen", async () => {
    // Each write is made durable by the store's own sync of the -wal file (synchronous=NORMAL);
    // checkpoints move pages into the database and reuse the WAL, and the store follows.
    const path = freshPath();
    const { store } = await open(path, { tailCacheEntries: 16 });
    const payload = new Uint8Array(4096).fill(7);
    let prevHash = GENESIS_HASH;
    let index = 0;
    for (let batch = 0; batch < 300; batch++) {
      const entries: LogEntry[] = [];
      for (let k = 0; k < 10; k++) {
        index++;
        const e = makeEntry(index, 1, "02aa", prevHash, payload);
        entries.push(e);
        prevHash = e.hash;
      }
      await store.append(entries);
    }
    await store.close();
    const again = await open(path, { tailCacheEntries: 0 });
    assert.deepEqual(again.report, { entries: 3000, droppedTail: 0 });
    assert.equal(again.store.lastIndex(), 3000);
    assert.equal(assertValidChain(again.store).length, 3000);
  });

  it("stops at maxBytes but always returns the first entry, from memory and from disk", async () => {
    for (const tailCacheEntries of [4096, 0]) {
      const { store } = await open(freshPath(), { tailCacheEntries });
      const entries = chain(0, GENESIS_HASH, 10, 1);
      await store.append(entries);
      const size = (i: number): number => entries[i]?.data.length ?? 0;
      assert.deepEqual(store.entries(2, 10, size(1) + size(2)), entries.slice(1, 3), `cache ${tailCacheEntries}`);
      assert.deepEqual(store.entries(2, 10, size(1) + size(2) - 1), entries.slice(1, 2));
      assert.deepEqual(store.entries(2, 10, 0), entries.slice(1, 2));
    }
  });

  it("keeps a copy, so a caller reusing its buffer does not change the log", async () => {
    const { store } = await open(freshPath());
    const [e] = chain(0, GENESIS_HASH, 1, 1);
    assert.ok(e !== undefined);
    await store.append([e]);
    e.data.fill(0); // a careless caller reusing its buffer
    assert.ok(isEntryIntact(store.entry(1) ?? e));
  });
});

describe("SqliteLogStore: refuses appends that do not continue the log, changing nothing", () => {
  it("refuses a gap, a broken chain, a lower term, a bad hash, and keeps the whole batch out", async () => {
    const path = freshPath();
    const { store } = await open(path);
    const base = chain(0, GENESIS_HASH, 3, 2);
    await store.append(base);
    const last = base[2]?.hash ?? "";
    const gap = chain(4, last, 2, 2);
    const badChain = chain(3, "f".repeat(64), 2, 2);
    const lowerTerm = chain(3, last, 2, 1);
    const [good] = chain(3, last, 1, 2);
    assert.ok(good !== undefined);
    const badHash = [{ ...good, data: new TextEncoder().encode("swapped") }];
    const goodThenBad = [good, ...chain(4, "e".repeat(64), 1, 2)];
    for (const batch of [gap, badChain, lowerTerm, badHash, goodThenBad]) {
      await assert.rejects(store.append(batch), isCode("INTERNAL"));
      assert.equal(store.lastIndex(), 3);
    }
    await store.close();
    const again = await open(path);
    assert.equal(again.store.lastIndex(), 3);
    await again.store.append([good]);
    assert.equal(again.store.lastIndex(), 4);
  });

  it("accepts an empty batch as a no-op", async () => {
    const { store } = await open(freshPath());
    await store.append([]);
    assert.equal(store.lastIndex(), 0);
  });
});

describe("SqliteLogStore: election state", () => {
  it("keeps the hard state across a reopen", async () => {
    const path = freshPath();
    const { store } = await open(path);
    const state = { term: 7, votedTerm: 7, votedFor: "02bb", commitIndex: 3 };
    await store.saveHardState(state);
    assert.deepEqual(store.hardState(), state);
    await store.saveHardState({ ...state, term: 8, votedFor: null });
    await store.close();
    const again = await open(path);
    assert.deepEqual(again.store.hardState(), { ...state, term: 8, votedFor: null });
    await assert.rejects(again.store.saveHardState({ ...state, term: -1 }), isCode("INTERNAL"));
  });

  it("records the leader of a term once and keeps it across a reopen", async () => {
    const path = freshPath();
    const { store } = await open(path);
    assert.equal(store.leaderOfTerm(3), undefined);
    assert.equal(await store.recordLeaderOfTerm(3, "02aa"), true);
    assert.equal(await store.recordLeaderOfTerm(3, "02bb"), false);
    assert.equal(await store.recordLeaderOfTerm(3, "02aa"), true, "the same leader again is no conflict");
    assert.equal(await store.recordLeaderOfTerm(4, "02bb"), true);
    await store.close();
    const again = await open(path);
    assert.equal(again.store.leaderOfTerm(3), "02aa");
    assert.equal(again.store.leaderOfTerm(4), "02bb");
    assert.equal(await again.store.recordLeaderOfTerm(3, "02cc"), false);
    assert.equal(again.store.leaderOfTerm(3), "02aa");
  });

  it("write-once holds in the database too: an UPDATE of a recorded leader aborts", async () => {
    const path = freshPath();
    const { store } = await open(path);
    await store.recordLeaderOfTerm(1, "02aa");
    await store.close();
    assert.throws(() => tamper(path, "UPDATE leader_of_term SET leader = '02bb' WHERE term = 1"), /write-once/);
  });

  it("refuses to open when the election state fails its checksum", async () => {
    const path = freshPath();
    const { store } = await open(path);
    await store.saveHardState({ term: 5, votedTerm: 5, votedFor: "02aa", commitIndex: 0 });
    await store.close();
    tamper(path, "UPDATE hard_state SET voted_term = 4");
    await assert.rejects(SqliteLogStore.open(path), isCode("STORAGE_CORRUPT"));
  });
});

describe("SqliteLogStore: truncateFrom", () => {
  it("drops a conflicting tail, takes a new one, and keeps it across a reopen", async () => {
    const path = freshPath();
    const { store } = await open(path, { tailCacheEntries: 4 });
    const old = chain(0, GENESIS_HASH, 10, 1);
    await store.append(old);
    await store.truncateFrom(6);
    assert.equal(store.lastIndex(), 5);
    assert.equal(store.termAt(6), undefined);
    assert.equal(store.entry(6), undefined);
    const fresh = chain(5, old[4]?.hash ?? "", 3, 2, "02bb");
    await store.append(fresh);
    await store.truncateFrom(100);
    assert.equal(store.lastIndex(), 8);
    await store.close();
    const again = await open(path);
    assert.deepEqual(again.store.entries(1, 8), [...old.slice(0, 5), ...fresh]);
    assert.equal(again.store.termAt(6), 2);
    assertValidChain(again.store);
  });

  it("can empty the log and refuses to cut into the snapshot", async () => {
    const { store } = await open(freshPath());
    const entries = chain(0, GENESIS_HASH, 6, 1);
    await store.append(entries);
    const at3 = entries[2];
    assert.ok(at3 !== undefined);
    await store.saveSnapshot({ meta: { index: 3, term: 1, hash: at3.hash }, data: new Uint8Array([1]) });
    await assert.rejects(store.truncateFrom(3), isCode("INTERNAL"));
    await store.truncateFrom(4);
    assert.equal(store.lastIndex(), 3);
    assert.equal(store.termAt(3), 1);
    await store.append(chain(3, at3.hash, 1, 2));
    assert.equal(store.lastIndex(), 4);
  });
});

describe("SqliteLogStore: snapshots and compaction", () => {
  it("compacts up to the snapshot, keeps the entries after it, and survives a reopen", async () => {
    const path = freshPath();
    const { store } = await open(path, { tailCacheEntries: 2 });
    const entries = chain(0, GENESIS_HASH, 10, 1);
    await store.append(entries);
    const at6 = entries[5];
    assert.ok(at6 !== undefined);
    const snap = { meta: { index: 6, term: 1, hash: at6.hash }, data: new TextEncoder().encode("ledger at 6") };
    await store.saveSnapshot(snap);
    assert.equal(store.firstIndex(), 7);
    assert.equal(store.lastIndex(), 10);
    assert.equal(store.entry(6), undefined);
    assert.equal(store.termAt(6), 1);
    assert.equal(store.termAt(5), undefined);
    assert.throws(() => store.entries(5, 10), isCode("INTERNAL"));
    assert.deepEqual(store.entries(7, 10), entries.slice(6));
    assert.deepEqual(store.snapshot(), snap);
    await store.close();

    const again = await open(path);
    assert.deepEqual(again.report, { entries: 4, droppedTail: 0 });
    assert.deepEqual(again.store.snapshot(), snap);
    assert.equal(again.store.firstIndex(), 7);
    assertValidChain(again.store);
    await again.store.append(chain(10, entries[9]?.hash ?? "", 2, 3));
    assert.equal(again.store.lastIndex(), 12);
    await assert.rejects(again.store.saveSnapshot({ meta: { index: 5, term: 1, hash: entries[4]?.hash ?? "" }, data: new Uint8Array() }), isCode("INTERNAL"), "older snapshot");
    await assert.rejects(again.store.saveSnapshot({ ...snap, meta: { ...snap.meta, hash: "a".repeat(64) } }), isCode("INTERNAL"), "different snapshot at the same index");
  });

  it("a snapshot beyond the log (installed from a leader) replaces the whole log", async () => {
    const path = freshPath();
    const { store } = await open(path);
    await store.append(chain(0, GENESIS_HASH, 4, 1));
    const hash = "c".repeat(64);
    await store.saveSnapshot({ meta: { index: 20, term: 3, hash }, data: new Uint8Array([9]) });
    assert.equal(store.firstIndex(), 21);
    assert.equal(store.lastIndex(), 20);
    assert.equal(store.termAt(20), 3);
    assert.deepEqual(store.entries(21, 30), []);
    await assert.rejects(store.append(chain(20, GENESIS_HASH, 1, 3)), isCode("INTERNAL"), "must chain to the snapshot");
    await store.append(chain(20, hash, 2, 3));
    await store.close();
    const again = await open(path);
    assert.deepEqual(again.report, { entries: 2, droppedTail: 0 });
    assertValidChain(again.store);
  });

  it("a snapshot that conflicts with the log at its index replaces the whole log (Raft InstallSnapshot)", async () => {
    const { store } = await open(freshPath());
    await store.append(chain(0, GENESIS_HASH, 8, 1));
    await store.saveSnapshot({ meta: { index: 5, term: 2, hash: "d".repeat(64) }, data: new Uint8Array() });
    assert.equal(store.lastIndex(), 5);
    assert.equal(store.termAt(5), 2);
    assert.equal(store.entry(6), undefined);
  });

  it("refuses to open when the snapshot fails its checksum", async () => {
    const path = freshPath();
    const { store } = await open(path);
    await store.append(chain(0, GENESIS_HASH, 2, 1));
    await store.saveSnapshot({ meta: { index: 2, term: 1, hash: store.entry(2)?.hash ?? "" }, data: new Uint8Array([1, 2, 3]) });
    await store.close();
    tamper(path, "UPDATE snapshot SET data = X'010204'");
    await assert.rejects(SqliteLogStore.open(path), isCode("STORAGE_CORRUPT"));
  });
});

describe("SqliteLogStore: torn and corrupt records", () => {
  async function written(count: number): Promise<{ path: string; entries: LogEntry[] }> {
    const path = freshPath();
    const { store } = await open(path);
    const entries = chain(0, GENESIS_HASH, count, 1);
    await store.append(entries.slice(0, count - 1));
    await store.append(entries.slice(count - 1));
    await store.close();
    return { path, entries };
  }

  it("drops a corrupt last record on reopen and reports it, and the log goes on from there", async () => {
    const { path, entries } = await written(5);
    tamper(path, "UPDATE entries SET data = substr(data, 1, length(data) - 3) WHERE idx = 5"); // a truncated record
    const { store, report } = await open(path);
    assert.deepEqual(report, { entries: 4, droppedTail: 1 });
    assert.equal(store.lastIndex(), 4);
    assert.equal(store.entry(5), undefined);
    assert.deepEqual(assertValidChain(store), entries.slice(0, 4));
    await store.append(entries.slice(4));
    assert.equal(store.lastIndex(), 5);
  });

  it("drops everything from a corrupt middle record on", async () => {
    const { path, entries } = await written(8);
    tamper(path, "UPDATE entries SET data = X'00' WHERE idx = 3");
    const { store, report } = await open(path);
    assert.deepEqual(report, { entries: 2, droppedTail: 6 });
    assert.deepEqual(assertValidChain(store), entries.slice(0, 2));
  });

  it("drops from a record whose hash, prevHash or term was altered, or a missing record", async () => {
    const cases = [
      ["UPDATE entries SET hash = '" + "b".repeat(64) + "' WHERE idx = 4", 3],
      ["UPDATE entries SET prev_hash = '" + "b".repeat(64) + "' WHERE idx = 6", 5],
      ["UPDATE entries SET term = 9 WHERE idx = 2", 1],
      ["DELETE FROM entries WHERE idx = 5", 4],
    ] as const;
    for (const [sql, kept] of cases) {
      const { path } = await written(7);
      tamper(path, sql);
      const { store, report } = await open(path);
      assert.equal(report.entries, kept, sql);
      assert.equal(store.lastIndex(), kept, sql);
      assertValidChain(store);
    }
  });

  it("a WAL torn in its last transaction loses that whole batch and nothing before it", async () => {
    const path = freshPath();
    const { store } = await open(path);
    const entries = chain(0, GENESIS_HASH, 6, 1);
    await store.append(entries.slice(0, 3));
    await store.append(entries.slice(3));
    // Copy the files as a crash would leave them (both appends returned, nothing checkpointed yet),
    // then cut the copy's WAL inside its last frame, as a write torn by power loss would.
    const copy = freshPath();
    await mkdir(dirname(copy), { recursive: true });
    await copyFile(path, copy);
    await copyFile(`${path}-wal`, `${copy}-wal`);
    const walSize = (await stat(`${copy}-wal`)).size;
    await truncate(`${copy}-wal`, walSize - 100);
    const { store: recovered, report } = await open(copy);
    assert.deepEqual(report, { entries: 3, droppedTail: 0 });
    assert.deepEqual(assertValidChain(recovered), entries.slice(0, 3));
  });
});

describe("SqliteLogStore: lifecycle", () => {
  it("refuses a second open of a file another store holds", async () => {
    const path = freshPath();
    await open(path);
    await assert.rejects(SqliteLogStore.open(path), isCode("INVALID_CONFIG"));
  });

  it("throws after close, and a second close does nothing", async () => {
    const { store } = await open(freshPath());
    await store.close();
    await store.close();
    assert.throws(() => store.lastIndex(), isCode("INTERNAL"));
    await assert.rejects(store.append([]), isCode("INTERNAL"));
  });
});

/** Resolves with the child's line matching `want`, or rejects at the deadline or the child's exit. */
function awaitLine(child: ChildProcess, lines: AsyncIterableIterator<string>, want: (line: string) => boolean, deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching line from the writer within ${deadlineMs} ms`)), deadlineMs);
    const onExit = (): void => reject(new Error(`writer exited early (${child.exitCode ?? child.signalCode})`));
    child.once("exit", onExit);
    void (async () => {
      for (let r = await lines.next(); !r.done; r = await lines.next()) {
        if (want(r.value)) {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve(r.value);
          return;
        }
      }
    })().catch(reject);
  });
}

describe("SqliteLogStore: SIGKILL", () => {
  it("keeps every append the killed writer saw return, across three kills and restarts from its own disk", async () => {
    const path = freshPath();
    const fixture = fileURLToPath(new URL("./writer.fixture.ts", import.meta.url));
    let durable = 0;
    for (let round = 1; round <= 3; round++) {
      const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", fixture, path, String(round)], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(child);
      assert.ok(child.stdout !== null);
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      const recovered = await awaitLine(child, lines, (l) => l.startsWith("recovered "), 10_000);
      const [, , droppedTail, lastIndex] = recovered.split(" ").map(Number);
      assert.equal(droppedTail, 0, "a killed process leaves no torn record behind (SQLite drops a torn WAL transaction)");
      assert.ok((lastIndex ?? -1) >= durable, `round ${round}: restart from disk keeps index ${durable}`);
      const target = (lastIndex ?? 0) + 200;
      let reported = 0;
      await awaitLine(child, lines, (l) => {
        reported = Number(l.split(" ")[1]);
        return l.startsWith("durable ") && reported >= target;
      }, 10_000);
      child.kill("SIGKILL");
      await exited;
      assert.equal(child.signalCode, "SIGKILL");
      durable = reported;
    }
    const { store, report } = await open(path);
    assert.equal(report.droppedTail, 0);
    assert.ok(store.lastIndex() >= durable, `every index the writer reported durable is there (${store.lastIndex()} >= ${durable})`);
    const all = assertValidChain(store);
    assert.equal(all.length, store.lastIndex());
    assert.equal(store.termAt(durable), 3);
  });
});
