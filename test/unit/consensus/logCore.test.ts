// SPDX-License-Identifier: AGPL-3.0-or-later
/** Scripted checks of the log core's rules, one rule per test (the simulation covers their interplay). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeltaError } from "../../../src/errors.ts";
import type { LogEntry } from "../../../src/storage/index.ts";
import { EMPTY_HARD_STATE, GENESIS_HASH, makeEntry } from "../../../src/storage/index.ts";
import type { AppendMessage, ConsensusMessage } from "../../../src/consensus/messages.ts";
import { tryParseMessage, tryParseVoteRequest } from "../../../src/consensus/messages.ts";
import type { LogCore, LogCoreConfig, Ready } from "../../../src/consensus/logCore.ts";
import { createLogCore, lastIndex, restoreLogCore, step } from "../../../src/consensus/logCore.ts";
import { encodeMessage, entryWireBytes } from "../../../src/consensus/wire.ts";

const MEMBERS = ["a", "b", "c"];

function config(self: string, members: readonly string[] = MEMBERS): LogCoreConfig {
  return { self, members, electionTimeoutTicks: 10, heartbeatTicks: 2, maxInflight: 4, maxBatchEntries: 16, maxBatchBytes: 1 << 20, maxInflightBytes: 1 << 22, termStartEntry: false };
}

const bytes = (n: number): Uint8Array => Uint8Array.of(n);

/** A chain of entries of the given terms, created by `leader`, after `prev`. */
function chain(leader: string, terms: readonly number[], prev: { index: number; hash: string } = { index: 0, hash: GENESIS_HASH }): LogEntry[] {
  const out: LogEntry[] = [];
  let p = prev;
  for (const t of terms) {
    const e = makeEntry(p.index + 1, t, leader, p.hash, bytes(p.index + 1));
    out.push(e);
    p = e;
  }
  return out;
}

function append(leader: string, term: number, prev: LogEntry | undefined, entries: readonly LogEntry[], leaderCommit: number, last?: LogEntry): AppendMessage {
  const end = last ?? entries[entries.length - 1] ?? prev;
  return {
    type: "append",
    term,
    leader,
    prevIndex: prev?.index ?? 0,
    prevTerm: prev?.term ?? 0,
    prevHash: prev?.hash ?? GENESIS_HASH,
    entries,
    leaderCommit,
    lastIndex: end?.index ?? 0,
    lastTerm: end?.term ?? 0,
  };
}

function deliver(core: LogCore, from: string, message: ConsensusMessage): Ready {
  return step(core, { kind: "message", from, message });
}

function onlyAck(r: Ready): Extract<ConsensusMessage, { type: "appendAck" }> {
  assert.equal(r.messages.length, 1);
  const m = r.messages[0]?.message;
  assert.ok(m !== undefined && m.type === "appendAck");
  return m;
}

/** A leader `a` of `term`, established by an ack from `b`. */
function establishedLeader(term: number): LogCore {
  const a = createLogCore(config("a"));
  step(a, { kind: "leadership", role: "leader", term, leader: "a" });
  deliver(a, "b", { type: "appendAck", term, accepted: true, success: true, matchIndex: 0, rejectIndex: 0, hint: 0 });
  return a;
}

describe("log core: configuration", () => {
  it("refuses cluster sizes other than 3 and 5 with INVALID_CLUSTER_SIZE", () => {
    for (const members of [["a"], ["a", "b"], ["a", "b", "c", "d"], ["a", "b", "c", "d", "e", "f"]]) {
      assert.throws(() => createLogCore(config("a", members)), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_CLUSTER_SIZE");
    }
    assert.doesNotThrow(() => createLogCore(config("a", ["a", "b", "c", "d", "e"])));
  });

  it("refuses a member list without itself or with duplicates", () => {
    assert.throws(() => createLogCore(config("z")), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_CONFIG");
    assert.throws(() => createLogCore(config("a", ["a", "a", "b"])), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_CONFIG");
  });
});

describe("log core: votes", () => {
  it("grants one vote per term and persists it in the same Ready", () => {
    const c = createLogCore(config("c"));
    const r1 = step(c, { kind: "voteRequest", request: { term: 3, candidate: "a", lastIndex: 0, lastTerm: 0 } });
    assert.equal(r1.voteVerdicts[0]?.granted, true);
    assert.deepEqual(r1.hardState, { term: 3, votedTerm: 3, votedFor: "a", commitIndex: 0 });
    const r2 = step(c, { kind: "voteRequest", request: { term: 3, candidate: "b", lastIndex: 0, lastTerm: 0 } });
    assert.equal(r2.voteVerdicts[0]?.granted, false);
    assert.equal(r2.hardState, undefined);
    const again = step(c, { kind: "voteRequest", request: { term: 3, candidate: "a", lastIndex: 0, lastTerm: 0 } });
    assert.equal(again.voteVerdicts[0]?.granted, false, "not even twice to the same candidate");
  });

  it("remembers its vote across a restart", () => {
    const c = restoreLogCore(config("c"), { hardState: { term: 3, votedTerm: 3, votedFor: "a", commitIndex: 0 }, leaderOfCurrentTerm: undefined, snapshot: undefined, entries: [] });
    const r = step(c, { kind: "voteRequest", request: { term: 3, candidate: "b", lastIndex: 9, lastTerm: 3 } });
    assert.equal(r.voteVerdicts[0]?.granted, false);
  });

  it("refuses a candidate whose log is less up to date", () => {
    const entries = chain("a", [1, 2, 2]);
    const c = restoreLogCore(config("c"), { hardState: { ...EMPTY_HARD_STATE, term: 2 }, leaderOfCurrentTerm: "a", snapshot: undefined, entries });
    const shorter = step(c, { kind: "voteRequest", request: { term: 4, candidate: "b", lastIndex: 2, lastTerm: 2 } });
    assert.equal(shorter.voteVerdicts[0]?.granted, false);
    const olderTerm = step(c, { kind: "voteRequest", request: { term: 5, candidate: "b", lastIndex: 9, lastTerm: 1 } });
    assert.equal(olderTerm.voteVerdicts[0]?.granted, false);
    const fine = step(c, { kind: "voteRequest", request: { term: 6, candidate: "b", lastIndex: 3, lastTerm: 2 } });
    assert.equal(fine.voteVerdicts[0]?.granted, true);
  });

  it("refuses to vote while Mokka says it leads or campaigns", () => {
    const c = createLogCore(config("c"));
    step(c, { kind: "leadership", role: "candidate", term: 1, leader: null });
    const r = step(c, { kind: "voteRequest", request: { term: 2, candidate: "a", lastIndex: 0, lastTerm: 0 } });
    assert.equal(r.voteVerdicts[0]?.granted, false);
  });

  it("will not lead a term in which it voted for someone else", () => {
    const c = createLogCore(config("c"));
    step(c, { kind: "voteRequest", request: { term: 2, candidate: "a", lastIndex: 0, lastTerm: 0 } });
    const r = step(c, { kind: "leadership", role: "leader", term: 2, leader: "c" });
    assert.equal(r.leaderOfTerm, undefined);
    assert.equal(c.lead, undefined);
    assert.equal(r.messages.length, 0);
  });
});

describe("log core: followers", () => {
  it("records the first leader of a term and refuses appends in that term from anyone else", () => {
    const c = createLogCore(config("c"));
    const r1 = deliver(c, "a", append("a", 1, undefined, [], 0));
    assert.deepEqual(r1.leaderOfTerm, { term: 1, leader: "a" });
    assert.equal(onlyAck(r1).accepted, true);
    const r2 = deliver(c, "b", append("b", 1, undefined, chain("b", [1]), 0));
    const ack = onlyAck(r2);
    assert.equal(ack.accepted, false);
    assert.equal(r2.entriesToAppend.length, 0);
    assert.equal(r2.leaderOfTerm, undefined);
  });

  it("keeps leaderOfTerm across a restart", () => {
    const c = restoreLogCore(config("c"), { hardState: { ...EMPTY_HARD_STATE, term: 1 }, leaderOfCurrentTerm: "a", snapshot: undefined, entries: [] });
    assert.equal(onlyAck(deliver(c, "b", append("b", 1, undefined, [], 0))).accepted, false);
  });

  it("refuses a leader whose log is behind its own", () => {
    const c = restoreLogCore(config("c"), { hardState: { ...EMPTY_HARD_STATE, term: 1 }, leaderOfCurrentTerm: "a", snapshot: undefined, entries: chain("a", [1, 1]) });
    const r = deliver(c, "b", append("b", 2, undefined, [], 0));
    assert.equal(onlyAck(r).accepted, false);
    assert.equal(r.leaderOfTerm, undefined);
  });

  it("refuses appends from an older term", () => {
    const c = restoreLogCore(config("c"), { hardState: { ...EMPTY_HARD_STATE, term: 5 }, leaderOfCurrentTerm: undefined, snapshot: undefined, entries: [] });
    const ack = onlyAck(deliver(c, "a", append("a", 4, undefined, chain("a", [4]), 0)));
    assert.equal(ack.accepted, false);
    assert.equal(ack.term, 5);
  });

  it("refuses an append whose prev does not match, with a back-off hint", () => {
    const c = createLogCore(config("c"));
    const entries = chain("a", [1, 1, 1]);
    const r = deliver(c, "a", append("a", 1, entries[1], entries.slice(2), 0));
    const ack = onlyAck(r);
    assert.equal(ack.success, false);
    assert.equal(ack.rejectIndex, 2);
    assert.equal(ack.hint, 0);
    assert.equal(r.entriesToAppend.length, 0);
  });

  it("truncates a conflicting uncommitted tail and appends the leader's entries", () => {
    const base = chain("a", [1, 1]);
    const stale = chain("a", [1, 1], base[1]); // indexes 3, 4 of term 1, never committed
    const c = restoreLogCore(config("c"), { hardState: { ...EMPTY_HARD_STATE, term: 1, commitIndex: 2 }, leaderOfCurrentTerm: "a", snapshot: undefined, entries: [...base, ...stale] });
    const fresh = chain("b", [2], base[1]);
    const r = deliver(c, "b", append("b", 2, base[1], fresh, 2));
    assert.equal(r.truncateFrom, 3);
    assert.deepEqual(r.entriesToAppend.map((e) => e.hash), fresh.map((e) => e.hash));
    assert.equal(lastIndex(c), 3);
    assert.deepEqual(onlyAck(r), { type: "appendAck", term: 2, accepted: true, success: true, matchIndex: 3, rejectIndex: 0, hint: 0 });
  });

  it("never rewrites a committed entry, even when told to", () => {
    const base = chain("a", [1, 1]);
    const c = restoreLogCore(config("c"), { hardState: { ...EMPTY_HARD_STATE, term: 1, commitIndex: 2 }, leaderOfCurrentTerm: "a", snapshot: undefined, entries: base });
    const other = chain("b", [2, 2]);
    const r = deliver(c, "b", append("b", 2, undefined, other, 0));
    assert.equal(r.truncateFrom, undefined);
    assert.equal(r.entriesToAppend.length, 0);
    assert.equal(r.anomalies.length, 1);
  });

  it("refuses entries whose hash chain is broken", () => {
    const c = createLogCore(config("c"));
    const [e1] = chain("a", [1]);
    assert.ok(e1 !== undefined);
    const forged = { ...e1, data: bytes(99) };
    const r = deliver(c, "a", append("a", 1, undefined, [forged], 0));
    assert.equal(r.entriesToAppend.length, 0);
    assert.equal(r.anomalies.length, 1);
  });

  it("applies up to leaderCommit, only what matches the leader, in order and once", () => {
    const c = createLogCore(config("c"));
    const entries = chain("a", [1, 1, 1]);
    const r1 = deliver(c, "a", append("a", 1, undefined, entries.slice(0, 2), 5));
    assert.deepEqual(r1.committed.map((e) => e.index), [1, 2], "not beyond what the append verified");
    const r2 = deliver(c, "a", append("a", 1, entries[1], entries.slice(2), 5));
    assert.deepEqual(r2.committed.map((e) => e.index), [3]);
    const r3 = deliver(c, "a", append("a", 1, entries[1], entries.slice(2), 5));
    assert.deepEqual(r3.committed, []);
  });
});

describe("log core: leaders", () => {
  it("records itself as leaderOfTerm and probes every follower", () => {
    const a = createLogCore(config("a"));
    const r = step(a, { kind: "leadership", role: "leader", term: 1, leader: "a" });
    assert.deepEqual(r.leaderOfTerm, { term: 1, leader: "a" });
    assert.deepEqual(r.hardState, { term: 1, votedTerm: 1, votedFor: "a", commitIndex: 0 });
    assert.deepEqual(r.messages.map((m) => m.to).sort(), ["b", "c"]);
    assert.deepEqual(r.leader, { leading: true, term: 1, canPropose: false });
  });

  it("takes proposals only once a majority has recorded it", () => {
    const a = createLogCore(config("a"));
    step(a, { kind: "leadership", role: "leader", term: 1, leader: "a" });
    assert.deepEqual(step(a, { kind: "propose", data: [bytes(1)] }).proposal, { accepted: false, reason: "not-established" });
    const r = deliver(a, "b", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 0, rejectIndex: 0, hint: 0 });
    assert.deepEqual(r.leader, { leading: true, term: 1, canPropose: true });
    const p = step(a, { kind: "propose", data: [bytes(1), bytes(2)] });
    assert.deepEqual(p.proposal, { accepted: true, firstIndex: 1, lastIndex: 2 });
    assert.equal(p.entriesToAppend.length, 2);
    assert.ok(p.messages.some((m) => m.message.type === "append" && m.message.entries.length === 2), "replicates at once");
  });

  it("pipelines appends without waiting for acks, up to maxInflight", () => {
    const a = establishedLeader(1);
    let sentToB = 0;
    for (let i = 0; i < 10; i++) {
      const r = step(a, { kind: "propose", data: [bytes(i)] });
      sentToB += r.messages.filter((m) => m.to === "b" && m.message.type === "append").length;
    }
    assert.equal(sentToB, 4);
  });

  it("commits on a majority and only entries of its own term", () => {
    const old = chain("z", [1, 1]);
    const a = restoreLogCore(config("a"), { hardState: { ...EMPTY_HARD_STATE, term: 1 }, leaderOfCurrentTerm: "z", snapshot: undefined, entries: old });
    step(a, { kind: "leadership", role: "leader", term: 2, leader: "a" });
    deliver(a, "b", { type: "appendAck", term: 2, accepted: true, success: true, matchIndex: 2, rejectIndex: 0, hint: 0 });
    assert.equal(a.commitIndex, 0, "entries of term 1 do not commit by counting");
    step(a, { kind: "propose", data: [bytes(3)] });
    const r = deliver(a, "b", { type: "appendAck", term: 2, accepted: true, success: true, matchIndex: 3, rejectIndex: 0, hint: 0 });
    assert.equal(a.commitIndex, 3);
    assert.deepEqual(r.committed.map((e) => e.index), [1, 2, 3]);
  });

  it("tells followers of a new commit without waiting for the next block or heartbeat, and only when nothing in flight will carry it", () => {
    const a = establishedLeader(1);
    // c is in step too (it has acked the probe), so both followers replicate.
    deliver(a, "c", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 0, rejectIndex: 0, hint: 0 });
    step(a, { kind: "propose", data: [bytes(1)] });
    const r = deliver(a, "b", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 1, rejectIndex: 0, hint: 0 });
    assert.equal(a.commitIndex, 1);
    const told = (x: Ready): string[] => x.messages.filter((m) => m.message.type === "append" && m.message.leaderCommit === 1).map((m) => m.to).sort();
    assert.deepEqual(told(r), ["b"], "b, whose ack made the commit, learns it now; c still has entry 1 in flight");
    const fromC = deliver(a, "c", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 1, rejectIndex: 0, hint: 0 });
    assert.deepEqual(told(fromC), ["c"], "c learns it with the answer to its ack");
    // Everyone knows commit 1 and nothing is new: no more messages.
    assert.equal(deliver(a, "c", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 1, rejectIndex: 0, hint: 0 }).messages.length, 0);
    assert.equal(deliver(a, "b", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 1, rejectIndex: 0, hint: 0 }).messages.length, 0);
  });

  it("stops taking proposals when no majority acked within the election timeout (check-quorum)", () => {
    const a = establishedLeader(1);
    let status: Ready["leader"];
    for (let t = 0; t < 12 && status === undefined; t++) status = step(a, { kind: "tick" }).leader;
    assert.deepEqual(status, { leading: true, term: 1, canPropose: false });
    assert.deepEqual(step(a, { kind: "propose", data: [bytes(1)] }).proposal, { accepted: false, reason: "quorum-lost" });
    const back = deliver(a, "c", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 0, rejectIndex: 0, hint: 0 });
    assert.deepEqual(back.leader, { leading: true, term: 1, canPropose: true });
  });

  it("steps down when a follower answers with a higher term", () => {
    const a = establishedLeader(1);
    const r = deliver(a, "b", { type: "appendAck", term: 4, accepted: false, success: false, matchIndex: 0, rejectIndex: 0, hint: 0 });
    assert.deepEqual(r.leader, { leading: false, term: 4, canPropose: false });
    assert.equal(r.hardState?.term, 4);
  });

  it("ignores a stale refusal that answers an older append", () => {
    const a = establishedLeader(1);
    step(a, { kind: "propose", data: [bytes(1), bytes(2)] });
    deliver(a, "b", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 2, rejectIndex: 0, hint: 0 });
    const r = deliver(a, "b", { type: "appendAck", term: 1, accepted: true, success: false, matchIndex: 0, rejectIndex: 0, hint: 0 });
    assert.equal(r.messages.length, 0);
  });
});

describe("messages: validation at the boundary", () => {
  it("accepts a well-formed append and refuses malformed input without throwing", () => {
    const ok = tryParseMessage(append("a", 1, undefined, chain("a", [1]), 0));
    assert.equal(ok.ok, true);
    const bad: unknown[] = [
      null,
      42,
      "append",
      {},
      { type: "append" },
      { ...append("a", 1, undefined, [], 0), term: -1 },
      { ...append("a", 1, undefined, [], 0), prevHash: "zz" },
      { ...append("a", 1, undefined, [], 0), extra: 1 },
      { ...append("a", 1, undefined, [], 0), entries: [{ index: 1 }] },
      { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 1.5, rejectIndex: 0, hint: 0 },
      new Proxy({}, { get: () => { throw new Error("hostile"); }, ownKeys: () => { throw new Error("hostile"); } }),
    ];
    for (const [i, b] of bad.entries()) assert.equal(tryParseMessage(b).ok, false, `case ${i}`);
  });

  it("checks vote requests", () => {
    assert.equal(tryParseVoteRequest({ term: 2, candidate: "a", lastIndex: 0, lastTerm: 0 }).ok, true);
    assert.equal(tryParseVoteRequest({ term: 2, candidate: "", lastIndex: 0, lastTerm: 0 }).ok, false);
    assert.equal(tryParseVoteRequest({ term: 2, candidate: "a" }).ok, false);
    assert.equal(tryParseVoteRequest(undefined).ok, false);
  });
});

// ---- append size: the transport drops any frame over its cap, so appends must stay under it ----

/** Estimated wire bytes of an append's entries, as the core counts them against its budgets. */
function batchBytes(m: AppendMessage): number {
  return m.entries.reduce((sum, e) => sum + entryWireBytes(e.data.length), 0);
}

/** The appends in `r` addressed to `to`. */
function appendsTo(r: Ready, to: string): AppendMessage[] {
  return r.messages.flatMap((m) => (m.to === to && m.message.type === "append" ? [m.message] : []));
}

/** A leader `a` of term 1, established by an ack from `b`, with `sizes` for its byte budgets. */
function sizedLeader(sizes: Partial<LogCoreConfig>): LogCore {
  const a = createLogCore({ ...config("a"), maxInflight: 16, ...sizes });
  step(a, { kind: "leadership", role: "leader", term: 1, leader: "a" });
  deliver(a, "b", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 0, rejectIndex: 0, hint: 0 });
  return a;
}

const blobs = (...sizes: number[]): Uint8Array[] => sizes.map((n, k) => new Uint8Array(n).fill(k + 1));

/** Encoded size of a message as the transport would carry it (the JSON the driver sends, Mokka's envelope aside). */
function encodedBytes(message: ConsensusMessage): number {
  return Buffer.byteLength(JSON.stringify(encodeMessage(message)));
}

interface CatchUpRun {
  readonly caughtUp: boolean;
  readonly ticks: number;
  /** Messages the emulated transport dropped for exceeding its frame cap. */
  readonly oversizeDrops: number;
  /** Appends with more than one entry whose entries exceed maxBatchBytes. */
  readonly overBudget: number;
}

/**
 * Leader `a` commits `data` (one proposal per item) with `b` while `c` is cut off, then `c` comes
 * back. Messages travel through an emulated transport that, like TcpTransport, silently drops any
 * message encoding to more than `frameCap` bytes. Runs until `c` holds and has committed the
 * leader's whole log, or `maxTicks` heartbeat rounds pass.
 */
function catchUp(sizes: Partial<LogCoreConfig>, data: readonly Uint8Array[], frameCap: number, maxTicks: number): CatchUpRun {
  const cores = new Map<string, LogCore>([
    ["a", createLogCore({ ...config("a"), ...sizes })],
    ["b", createLogCore({ ...config("b"), ...sizes })],
    ["c", createLogCore({ ...config("c"), ...sizes })],
  ]);
  const a = cores.get("a")!;
  const c = cores.get("c")!;
  let cutOff = true;
  let oversizeDrops = 0;
  let overBudget = 0;
  const queue: { from: string; to: string; message: ConsensusMessage }[] = [];
  const post = (from: string, r: Ready): void => {
    for (const m of r.messages) queue.push({ from, to: m.to, message: m.message });
  };
  const drain = (): void => {
    for (let k = 0; k < 100_000 && queue.length > 0; k++) {
      const m = queue.shift()!;
      if (cutOff && (m.to === "c" || m.from === "c")) continue;
      if (m.message.type === "append" && m.message.entries.length > 1 && batchBytes(m.message) > (sizes.maxBatchBytes ?? config("a").maxBatchBytes)) overBudget++;
      if (encodedBytes(m.message) > frameCap) {
        oversizeDrops++;
        continue;
      }
      post(m.to, deliver(cores.get(m.to)!, m.from, m.message));
    }
  };
  post("a", step(a, { kind: "leadership", role: "leader", term: 1, leader: "a" }));
  drain();
  for (const d of data) {
    const r = step(a, { kind: "propose", data: [d] });
    assert.equal(r.proposal?.accepted, true, "the leader takes the proposal");
    post("a", r);
    drain();
  }
  assert.equal(a.commitIndex, data.length, "a and b commit without c");
  assert.equal(lastIndex(c), 0);
  cutOff = false;
  for (let t = 1; t <= maxTicks; t++) {
    for (const [id, core] of cores) post(id, step(core, { kind: "tick" }));
    drain();
    if (lastIndex(c) === lastIndex(a) && c.commitIndex === a.commitIndex) return { caughtUp: true, ticks: t, oversizeDrops, overBudget };
  }
  return { caughtUp: false, ticks: maxTicks, oversizeDrops, overBudget };
}

describe("log core: append size", () => {
  it("an append carries at most maxBatchBytes of entries, by estimated wire size", () => {
    const per = entryWireBytes(1000);
    const a = sizedLeader({ maxBatchBytes: 3 * per });
    const r = step(a, { kind: "propose", data: blobs(...Array.from({ length: 10 }, () => 1000)) });
    const toB = appendsTo(r, "b");
    assert.deepEqual(toB.map((m) => m.entries.length), [3, 3, 3, 1]);
    for (const m of toB) assert.ok(batchBytes(m) <= 3 * per);
    assert.deepEqual(toB.map((m) => m.prevIndex), [0, 3, 6, 9], "consecutive, pipelined");
  });

  it("an entry over the budget still goes, alone, and the entries after it follow", () => {
    const a = sizedLeader({ maxBatchBytes: 2000 });
    assert.ok(entryWireBytes(5000) > 2000 && 2 * entryWireBytes(100) <= 2000);
    const r = step(a, { kind: "propose", data: blobs(100, 5000, 100, 100) });
    const toB = appendsTo(r, "b");
    assert.deepEqual(toB.map((m) => m.entries.map((e) => e.data.length)), [[100], [5000], [100, 100]]);
  });

  it("pipelines appends up to maxInflightBytes, and always sends one when none is in flight", () => {
    const per = entryWireBytes(1000);
    const a = sizedLeader({ maxBatchBytes: per, maxInflightBytes: 3 * per });
    const r = step(a, { kind: "propose", data: blobs(...Array.from({ length: 10 }, () => 1000)) });
    assert.deepEqual(appendsTo(r, "b").map((m) => m.prevIndex), [0, 1, 2], "three appends' worth of bytes in flight");
    const more = deliver(a, "b", { type: "appendAck", term: 1, accepted: true, success: true, matchIndex: 1, rejectIndex: 0, hint: 0 });
    assert.deepEqual(appendsTo(more, "b").map((m) => m.prevIndex), [3], "an ack frees room for one more");

    const tight = sizedLeader({ maxBatchBytes: 4 * per, maxInflightBytes: 1 });
    const one = step(tight, { kind: "propose", data: blobs(1000, 1000) });
    assert.deepEqual(appendsTo(one, "b").map((m) => m.entries.length), [2], "one append even over the in-flight budget");
    assert.deepEqual(appendsTo(step(tight, { kind: "propose", data: blobs(1000) }), "b"), [], "then none until acked");
  });

  it("refuses byte budgets that are not positive integers", () => {
    for (const bad of [{ maxBatchBytes: 0 }, { maxInflightBytes: -1 }, { maxBatchBytes: 1.5 }, { maxInflightBytes: Number.NaN }]) {
      assert.throws(() => createLogCore({ ...config("a"), ...bad }), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_CONFIG", JSON.stringify(bad));
    }
  });

  it("a follower far behind with large entries catches up over a transport that drops oversized frames", () => {
    // 40 entries of 10 kB (13.8 kB each on the wire, 550 kB in all) and one of 100 kB (133 kB on
    // the wire: over the byte budget, under the frame cap), against a 200 kB frame cap.
    const frameCap = 200_000;
    const data = [...blobs(...Array.from({ length: 20 }, () => 10_000)), ...blobs(100_000), ...blobs(...Array.from({ length: 20 }, () => 10_000))];
    const run = catchUp({ maxBatchBytes: frameCap / 4, maxInflightBytes: frameCap }, data, frameCap, 50);
    assert.equal(run.oversizeDrops, 0, "no append ever exceeded the frame cap");
    assert.equal(run.overBudget, 0, "no multi-entry append exceeded the byte budget");
    assert.ok(run.caughtUp, `caught up within 50 heartbeat rounds: ${JSON.stringify(run)}`);
  });

  it("(control) without a byte budget the same follower never catches up: its catch-up append is always too big", () => {
    const frameCap = 200_000;
    const data = blobs(...Array.from({ length: 40 }, () => 10_000));
    const run = catchUp({ maxBatchBytes: Number.MAX_SAFE_INTEGER, maxInflightBytes: Number.MAX_SAFE_INTEGER }, data, frameCap, 50);
    assert.equal(run.caughtUp, false);
    assert.ok(run.oversizeDrops >= 10, `the leader kept resending the oversized append: ${JSON.stringify(run)}`);
  });
});
