// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The replicated log's pure core, as etcd/raft does it: `step(core, input) -> Ready`. No I/O, no
 * timers, no clock, no randomness; time is abstract ticks. Leader election is Mokka's job; the
 * core is told what Mokka believes (`leadership`) and judges Mokka's vote requests
 * (`voteRequest`), but safety never trusts Mokka (docs/consensus.md "Safety argument").
 *
 * DRIVER CONTRACT (for every Ready, before the next `step`):
 *   1. Persist, durably, in this order: `hardState`, `leaderOfTerm` (write-once), `truncateFrom`
 *      (drop entries >= it), `snapshotToInstall` (LogStore.saveSnapshot), `entriesToAppend`.
 *   2. Only then send `messages` (a vote verdict is returned to Mokka only after step 1 too).
 *   3. Then hand `snapshotToInstall` (if any) and then `committed` to the application, in order.
 *      Each index is committed exactly once per core instance (after a restart the application
 *      restarts from the snapshot, and the core commits again from there).
 * The core assumes everything a Ready asked to persist is durable when the next step runs: the
 * leader counts its own log as acknowledged on that basis. A crash in the middle is fine (the
 * core is rebuilt from disk with `restoreLogCore`), as long as nothing was sent before the persist.
 */
import { DeltaError } from "../errors.ts";
import type { HardState, LogEntry, Snapshot, SnapshotMeta } from "../storage/index.ts";
import { EMPTY_HARD_STATE, GENESIS_HASH, isEntryIntact, makeEntry } from "../storage/index.ts";
import type { AppendAckMessage, AppendMessage, ConsensusMessage, HeartbeatMessage, SnapshotMessage, VoteRequest } from "./messages.ts";
import { entryWireBytes } from "./wire.ts";

/** Static settings of a core. */
export interface LogCoreConfig {
  /** This node's transport identity (as in LogEntry.leader and Mokka's publicKey). */
  readonly self: string;
  /** Every member including self; 3 or 5 distinct identities. */
  readonly members: readonly string[];
  /** Check-quorum window: a leader without acks from a majority for this long stops taking proposals. */
  readonly electionTimeoutTicks: number;
  /** How often a leader probes/heartbeats each follower. */
  readonly heartbeatTicks: number;
  /** Pipelining cap: unacknowledged append messages per follower. */
  readonly maxInflight: number;
  /** Entries per append message. */
  readonly maxBatchEntries: number;
  /**
   * Byte budget of one append: the sum of its entries' estimated wire sizes (wire.ts
   * `entryWireBytes`: base64 data plus a fixed per-entry overhead). The transport drops a frame
   * over its cap, so without this a follower far behind was sent the same oversized catch-up
   * append forever. An append always carries at least one entry, even one over the budget, so a
   * large entry never blocks the log (the driver refuses entries too large for any frame).
   */
  readonly maxBatchBytes: number;
  /**
   * Byte budget (same estimate) of the unacknowledged appends to one follower. The transport's
   * per-peer queue drops its oldest payloads when full, so pipelined appends of large entries
   * must not outgrow it; one append always goes when none is in flight.
   */
  readonly maxInflightBytes: number;
  /**
   * Append an empty-data entry when a leader is established, so entries of earlier terms commit
   * without waiting for a proposal (Raft §5.4.2). The application must skip empty data.
   */
  readonly termStartEntry: boolean;
}

/** What the core is rebuilt from after a (re)start: the LogStore's contents. */
export interface PersistedLogState {
  readonly hardState: HardState;
  /** LogStore.leaderOfTerm(hardState.term). */
  readonly leaderOfCurrentTerm: string | undefined;
  readonly snapshot: Snapshot | undefined;
  /** The entries after the snapshot (firstIndex..lastIndex), contiguous. */
  readonly entries: readonly LogEntry[];
}

export type MokkaRole = "leader" | "follower" | "candidate";

export type LogInput =
  /** What Mokka's state/term/leaderPublicKey getters say now. */
  | { readonly kind: "leadership"; readonly role: MokkaRole; readonly term: number; readonly leader: string | null }
  /** A vote request from Mokka's customVoteRule; the verdict comes back in Ready.voteVerdicts. */
  | { readonly kind: "voteRequest"; readonly request: VoteRequest }
  /** New entries' data (one entry each); only a leader that can propose takes them. */
  | { readonly kind: "propose"; readonly data: readonly Uint8Array[] }
  /** A message from an authenticated peer, already shape-checked by tryParseMessage. */
  | { readonly kind: "message"; readonly from: string; readonly message: ConsensusMessage }
  /** One unit of abstract time. */
  | { readonly kind: "tick" }
  /** The driver saved a snapshot (meta.index <= applied): the core compacts its log to it. */
  | { readonly kind: "snapshotTaken"; readonly snapshot: Snapshot };

export interface OutboundMessage {
  readonly to: string;
  readonly message: ConsensusMessage;
}

export interface VoteVerdict {
  readonly term: number;
  readonly candidate: string;
  readonly granted: boolean;
  readonly reason: string;
}

export type ProposalOutcome =
  | { readonly accepted: true; readonly firstIndex: number; readonly lastIndex: number }
  | { readonly accepted: false; readonly reason: "not-leader" | "not-established" | "quorum-lost" };

/** Whether this node leads, and whether it takes proposals; in a Ready only when it changed. */
export interface LeaderStatus {
  readonly leading: boolean;
  readonly term: number;
  /** Established (a majority recorded us as leaderOfTerm) and check-quorum holds. */
  readonly canPropose: boolean;
}

export interface Ready {
  readonly hardState: HardState | undefined;
  readonly leaderOfTerm: { readonly term: number; readonly leader: string } | undefined;
  readonly truncateFrom: number | undefined;
  readonly snapshotToInstall: Snapshot | undefined;
  readonly entriesToAppend: readonly LogEntry[];
  readonly messages: readonly OutboundMessage[];
  /** In index order, each exactly once. */
  readonly committed: readonly LogEntry[];
  readonly voteVerdicts: readonly VoteVerdict[];
  readonly proposal: ProposalOutcome | undefined;
  readonly leader: LeaderStatus | undefined;
  /** Input the core refused as impossible for an honest peer (broken chain, conflict below commit); for logs. */
  readonly anomalies: readonly string[];
}

interface PeerProgress {
  match: number;
  next: number;
  mode: "probe" | "replicate" | "snapshot";
  /** Last index and estimated wire bytes of each unacknowledged append (replicate mode). */
  inflight: { readonly last: number; readonly bytes: number }[];
  /** Probe sent, waiting for its answer or the next heartbeat. */
  paused: boolean;
  lastAckTick: number;
  lastProgressTick: number;
  snapshotIndex: number;
  snapshotSentTick: number;
  /** Consecutive refusals of an index this peer had acknowledged (see onAck). */
  refusedMatched: number;
  /** The highest commit index sent to this peer (every append carries the leader's). */
  toldCommit: number;
}

interface LeaderState {
  readonly term: number;
  established: boolean;
  readonly acceptedBy: Set<string>;
  quorumActive: boolean;
  readonly peers: Map<string, PeerProgress>;
  nextHeartbeatTick: number;
}

/** The core's state. Mutated only by `step`; read-only to everyone else. */
export interface LogCore {
  readonly config: LogCoreConfig;
  readonly majority: number;
  hardState: HardState;
  /** leaderOfTerm[hardState.term], write-once. */
  termLeader: string | undefined;
  snapshot: Snapshot | undefined;
  snapMeta: SnapshotMeta;
  /** Entries snapMeta.index + 1 .. lastIndex. */
  log: LogEntry[];
  commitIndex: number;
  applied: number;
  /** Highest index known to equal the log of termLeader (only such entries may commit on a follower). */
  verified: number;
  now: number;
  mokka: { role: MokkaRole; term: number; leader: string | null };
  lead: LeaderState | undefined;
}

const NO_SNAPSHOT: SnapshotMeta = Object.freeze({ index: 0, term: 0, hash: GENESIS_HASH });

function checkConfig(config: LogCoreConfig): void {
  const n = config.members.length;
  if (n !== 3 && n !== 5) {
    throw new DeltaError("INVALID_CLUSTER_SIZE", `a cluster must have 3 or 5 members, got ${n}: even sizes and 1 have no safe majority with Mokka`, {
      details: { members: n },
    });
  }
  if (new Set(config.members).size !== n || !config.members.includes(config.self)) {
    throw new DeltaError("INVALID_CONFIG", "cluster members must be distinct and include this node", { details: { self: config.self } });
  }
  for (const [name, v] of [
    ["electionTimeoutTicks", config.electionTimeoutTicks],
    ["heartbeatTicks", config.heartbeatTicks],
    ["maxInflight", config.maxInflight],
    ["maxBatchEntries", config.maxBatchEntries],
    ["maxBatchBytes", config.maxBatchBytes],
    ["maxInflightBytes", config.maxInflightBytes],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new DeltaError("INVALID_CONFIG", `${name} must be a positive integer, got ${v}`, { details: { [name]: v } });
  }
  if (config.electionTimeoutTicks <= config.heartbeatTicks) {
    throw new DeltaError("INVALID_CONFIG", "electionTimeoutTicks must exceed heartbeatTicks", { details: { ...config } });
  }
}

/** A new core on an empty log. Throws DeltaError INVALID_CLUSTER_SIZE / INVALID_CONFIG. */
export function createLogCore(config: LogCoreConfig): LogCore {
  return restoreLogCore(config, { hardState: EMPTY_HARD_STATE, leaderOfCurrentTerm: undefined, snapshot: undefined, entries: [] });
}

/** A core rebuilt from what the LogStore holds. Throws DeltaError on a bad config or a broken log. */
export function restoreLogCore(config: LogCoreConfig, persisted: PersistedLogState): LogCore {
  checkConfig(config);
  const snapMeta = persisted.snapshot?.meta ?? NO_SNAPSHOT;
  let prev = snapMeta;
  for (const e of persisted.entries) {
    if (e.index !== prev.index + 1 || e.prevHash !== prev.hash) {
      throw new DeltaError("STORAGE_CORRUPT", `persisted log is not contiguous at index ${e.index}`, { details: { index: e.index } });
    }
    prev = e;
  }
  const lastIndex = prev.index;
  const commitIndex = Math.max(snapMeta.index, Math.min(persisted.hardState.commitIndex, lastIndex));
  return {
    config,
    majority: Math.floor(config.members.length / 2) + 1,
    hardState: persisted.hardState,
    termLeader: persisted.leaderOfCurrentTerm,
    snapshot: persisted.snapshot,
    snapMeta,
    log: [...persisted.entries],
    commitIndex,
    applied: snapMeta.index,
    verified: commitIndex,
    now: 0,
    mokka: { role: "follower", term: 0, leader: null },
    lead: undefined,
  };
}

// ---- log helpers ----

export function lastIndex(core: LogCore): number {
  return core.snapMeta.index + core.log.length;
}

function entryAt(core: LogCore, index: number): LogEntry | undefined {
  return core.log[index - core.snapMeta.index - 1];
}

/** Term of the entry at index (0 for index 0); undefined when compacted away or beyond the end. */
export function termAt(core: LogCore, index: number): number | undefined {
  if (index === core.snapMeta.index) return core.snapMeta.term;
  if (index === 0) return 0;
  return entryAt(core, index)?.term;
}

function hashAt(core: LogCore, index: number): string | undefined {
  if (index === core.snapMeta.index) return core.snapMeta.hash;
  if (index === 0) return GENESIS_HASH;
  return entryAt(core, index)?.hash;
}

export function lastTerm(core: LogCore): number {
  return termAt(core, lastIndex(core)) ?? 0;
}

function isAtLeastAsUpToDate(term: number, index: number, ourTerm: number, ourIndex: number): boolean {
  return term > ourTerm || (term === ourTerm && index >= ourIndex);
}

/** What the candidate's resMiddleware adds to Mokka's vote packet. */
export function voteRequestData(core: LogCore): { lastIndex: number; lastTerm: number } {
  return { lastIndex: lastIndex(core), lastTerm: lastTerm(core) };
}

/** The backstop the leader's resMiddleware puts on Mokka heartbeats, or undefined when not leading. */
export function heartbeatData(core: LogCore): HeartbeatMessage | undefined {
  if (core.lead === undefined) return undefined;
  return { type: "heartbeat", term: core.lead.term, leader: core.config.self, commitIndex: core.commitIndex, lastIndex: lastIndex(core) };
}

export function leaderStatus(core: LogCore): LeaderStatus {
  const lead = core.lead;
  if (lead === undefined) return { leading: false, term: core.hardState.term, canPropose: false };
  return { leading: true, term: lead.term, canPropose: lead.established && lead.quorumActive };
}

// ---- step ----

interface MutableReady {
  hardState: HardState | undefined;
  leaderOfTerm: { term: number; leader: string } | undefined;
  truncateFrom: number | undefined;
  snapshotToInstall: Snapshot | undefined;
  entriesToAppend: LogEntry[];
  messages: OutboundMessage[];
  committed: LogEntry[];
  voteVerdicts: VoteVerdict[];
  proposal: ProposalOutcome | undefined;
  leader: LeaderStatus | undefined;
  anomalies: string[];
}

/** Advances the core by one input. Never throws on network input (refused input yields anomalies). */
export function step(core: LogCore, input: LogInput): Ready {
  const r: MutableReady = {
    hardState: undefined,
    leaderOfTerm: undefined,
    truncateFrom: undefined,
    snapshotToInstall: undefined,
    entriesToAppend: [],
    messages: [],
    committed: [],
    voteVerdicts: [],
    proposal: undefined,
    leader: undefined,
    anomalies: [],
  };
  const before = leaderStatus(core);
  switch (input.kind) {
    case "leadership":
      onLeadership(core, input.role, input.term, input.leader, r);
      break;
    case "voteRequest":
      onVoteRequest(core, input.request, r);
      break;
    case "propose":
      onPropose(core, input.data, r);
      break;
    case "message":
      onMessage(core, input.from, input.message, r);
      break;
    case "tick":
      onTick(core, r);
      break;
    case "snapshotTaken":
      onSnapshotTaken(core, input.snapshot, r);
      break;
  }
  // Committed entries, each once, in order. Entries up to commitIndex are always in the log:
  // compaction only goes up to `applied`.
  while (core.applied < core.commitIndex) {
    const e = entryAt(core, core.applied + 1);
    if (e === undefined) break;
    r.committed.push(e);
    core.applied++;
  }
  const after = leaderStatus(core);
  if (after.leading !== before.leading || after.canPropose !== before.canPropose || (after.leading && after.term !== before.term)) r.leader = after;
  return r;
}

function setHardState(core: LogCore, hs: HardState, r: MutableReady): void {
  core.hardState = { ...hs, commitIndex: core.commitIndex };
  r.hardState = core.hardState;
}

/** Moves to a higher term (no leader recorded for it yet). */
function enterTerm(core: LogCore, term: number, r: MutableReady): void {
  if (term <= core.hardState.term) return;
  setHardState(core, { ...core.hardState, term }, r);
  core.termLeader = undefined;
  core.verified = core.commitIndex;
  if (core.lead !== undefined && core.lead.term < term) core.lead = undefined;
}

function recordLeader(core: LogCore, term: number, leader: string, r: MutableReady): void {
  enterTerm(core, term, r);
  core.termLeader = leader;
  r.leaderOfTerm = { term, leader };
  core.verified = core.commitIndex;
}

// ---- Mokka's view ----

function onLeadership(core: LogCore, role: MokkaRole, term: number, leader: string | null, r: MutableReady): void {
  core.mokka = { role, term, leader: leader === "" ? null : leader };
  const self = core.config.self;
  if (role !== "leader") {
    // Mokka demoted us (or never promoted us): stop producing entries. Safe either way.
    core.lead = undefined;
    const hs = core.hardState;
    if (role === "candidate" && term > hs.votedTerm && term >= hs.term && !(term === hs.term && core.termLeader !== undefined)) {
      // Mokka's self-vote cannot be hooked; record it so we grant nobody else this term.
      if (term > hs.term) {
        core.termLeader = undefined;
        core.verified = core.commitIndex;
      }
      setHardState(core, { ...hs, term, votedTerm: term, votedFor: self }, r);
    }
    return;
  }
  if (core.lead?.term === term) return;
  core.lead = undefined;
  const hs = core.hardState;
  // Lead `term` only if we have not promised it (or a later term) to anyone else.
  if (term < hs.term) return;
  if (hs.votedTerm > term || (hs.votedTerm === term && hs.votedFor !== self)) return;
  if (term === hs.term && core.termLeader !== undefined && core.termLeader !== self) return;
  if (term > hs.term || core.termLeader === undefined) {
    setHardState(core, { ...hs, term, votedTerm: term, votedFor: self }, r);
    core.termLeader = self;
    r.leaderOfTerm = { term, leader: self };
    core.verified = core.commitIndex;
  } else if (hs.votedTerm !== term) {
    setHardState(core, { ...hs, votedTerm: term, votedFor: self }, r);
  }
  const peers = new Map<string, PeerProgress>();
  const next = lastIndex(core) + 1;
  for (const m of core.config.members) {
    if (m === self) continue;
    peers.set(m, {
      match: 0,
      next,
      mode: "probe",
      inflight: [],
      paused: false,
      lastAckTick: core.now,
      lastProgressTick: core.now,
      snapshotIndex: 0,
      snapshotSentTick: 0,
      refusedMatched: 0,
      toldCommit: 0,
    });
  }
  core.lead = { term, established: false, acceptedBy: new Set([self]), quorumActive: true, peers, nextHeartbeatTick: core.now + core.config.heartbeatTicks };
  for (const peer of peers.keys()) sendAppend(core, peer, true, r);
}

function onVoteRequest(core: LogCore, req: VoteRequest, r: MutableReady): void {
  const hs = core.hardState;
  const verdict = (granted: boolean, reason: string): void => {
    r.voteVerdicts.push({ term: req.term, candidate: req.candidate, granted, reason });
  };
  if (req.candidate === core.config.self) return verdict(false, "own request");
  if (!core.config.members.includes(req.candidate)) return verdict(false, "not a member");
  if (req.term <= hs.votedTerm) return verdict(false, "already voted in this term");
  if (req.term < hs.term || (req.term === hs.term && core.termLeader !== undefined)) return verdict(false, "stale term");
  if (core.lead !== undefined || core.mokka.role !== "follower") return verdict(false, "leader or candidate");
  if (!isAtLeastAsUpToDate(req.lastTerm, req.lastIndex, lastTerm(core), lastIndex(core))) {
    // Adopt the higher term without voting (Raft does): the driver raises Mokka's term to ours,
    // so an up-to-date node can out-campaign candidates that are behind instead of livelocking.
    enterTerm(core, req.term, r);
    return verdict(false, "candidate log is behind");
  }
  // Persisted (Ready.hardState) before the driver lets Mokka sign the vote.
  if (req.term > hs.term) {
    core.termLeader = undefined;
    core.verified = core.commitIndex;
  }
  setHardState(core, { ...hs, term: req.term, votedTerm: req.term, votedFor: req.candidate }, r);
  verdict(true, "granted");
}

// ---- leader side ----

function onPropose(core: LogCore, data: readonly Uint8Array[], r: MutableReady): void {
  const lead = core.lead;
  if (lead === undefined) return void (r.proposal = { accepted: false, reason: "not-leader" });
  if (!lead.established) return void (r.proposal = { accepted: false, reason: "not-established" });
  if (!lead.quorumActive) return void (r.proposal = { accepted: false, reason: "quorum-lost" });
  const first = lastIndex(core) + 1;
  appendOwn(core, data, r);
  r.proposal = { accepted: true, firstIndex: first, lastIndex: lastIndex(core) };
  for (const peer of lead.peers.keys()) sendAppend(core, peer, false, r);
}

function appendOwn(core: LogCore, data: readonly Uint8Array[], r: MutableReady): void {
  const term = core.lead?.term ?? 0;
  for (const d of data) {
    const index = lastIndex(core) + 1;
    const e = makeEntry(index, term, core.config.self, hashAt(core, index - 1) ?? GENESIS_HASH, d);
    core.log.push(e);
    r.entriesToAppend.push(e);
  }
}

/** Sends what `peer` needs next. `force`: send even an empty append (probe/heartbeat). */
function sendAppend(core: LogCore, peer: string, force: boolean, r: MutableReady): void {
  const lead = core.lead;
  const p = lead?.peers.get(peer);
  if (lead === undefined || p === undefined) return;
  if (p.mode === "snapshot" || (p.mode === "probe" && p.paused)) return;
  for (;;) {
    const prevIndex = p.next - 1;
    if (prevIndex < core.snapMeta.index) return sendSnapshot(core, peer, p, r);
    if (prevIndex > lastIndex(core)) {
      p.next = lastIndex(core) + 1; // a stale hint beyond our end
      continue;
    }
    // Defined for every index from snapMeta.index to lastIndex.
    const prevTerm = termAt(core, prevIndex) ?? 0;
    const prevHash = hashAt(core, prevIndex) ?? GENESIS_HASH;
    if (p.mode === "replicate" && p.inflight.length >= core.config.maxInflight) return;
    // Until a majority has recorded us as leaderOfTerm (established), send no entries: a leader
    // Mokka promoted may lack committed entries, and its entries would make a follower truncate
    // them. Empty probes only record us and find where logs match.
    const batch = lead.established ? nextBatch(core, prevIndex) : { last: prevIndex, bytes: 0 };
    const last = batch.last;
    if (last <= prevIndex && !force) return;
    if (p.mode === "replicate" && p.inflight.length > 0 && inflightBytes(p) + batch.bytes > core.config.maxInflightBytes) return;
    const entries = core.log.slice(prevIndex + 1 - core.snapMeta.index - 1, last - core.snapMeta.index);
    const msg: AppendMessage = {
      type: "append",
      term: lead.term,
      leader: core.config.self,
      prevIndex,
      prevTerm,
      prevHash,
      entries,
      leaderCommit: core.commitIndex,
      lastIndex: lastIndex(core),
      lastTerm: lastTerm(core),
    };
    r.messages.push({ to: peer, message: msg });
    p.toldCommit = core.commitIndex;
    if (p.mode === "probe") {
      p.paused = true;
      return;
    }
    p.inflight.push({ last, bytes: batch.bytes });
    p.next = last + 1;
    force = false;
  }
}

/**
 * Where the next append after `prevIndex` ends, and its entries' estimated wire bytes: at most
 * maxBatchEntries entries and maxBatchBytes bytes, but at least one entry when there is one (an
 * entry over the budget goes alone rather than never).
 */
function nextBatch(core: LogCore, prevIndex: number): { last: number; bytes: number } {
  const end = Math.min(lastIndex(core), prevIndex + core.config.maxBatchEntries);
  let last = prevIndex;
  let bytes = 0;
  while (last < end) {
    const e = entryAt(core, last + 1);
    if (e === undefined) break; // not reached: every index after snapMeta.index up to lastIndex is held
    const size = entryWireBytes(e.data.length);
    if (last > prevIndex && bytes + size > core.config.maxBatchBytes) break;
    bytes += size;
    last++;
  }
  return { last, bytes };
}

function inflightBytes(p: PeerProgress): number {
  let sum = 0;
  for (const f of p.inflight) sum += f.bytes;
  return sum;
}

function sendSnapshot(core: LogCore, peer: string, p: PeerProgress, r: MutableReady): void {
  const lead = core.lead;
  const snap = core.snapshot;
  if (lead === undefined || snap === undefined) return;
  p.mode = "snapshot";
  p.snapshotIndex = snap.meta.index;
  p.snapshotSentTick = core.now;
  p.inflight = [];
  const msg: SnapshotMessage = {
    type: "snapshot",
    term: lead.term,
    leader: core.config.self,
    meta: snap.meta,
    data: snap.data,
    lastIndex: lastIndex(core),
    lastTerm: lastTerm(core),
  };
  r.messages.push({ to: peer, message: msg });
}

function onAck(core: LogCore, from: string, ack: AppendAckMessage, r: MutableReady): void {
  const lead = core.lead;
  if (lead === undefined) return;
  if (ack.term > lead.term) {
    // Someone moved on: this leadership is over (Mokka will tell us who leads now).
    enterTerm(core, ack.term, r);
    core.lead = undefined;
    return;
  }
  const p = lead.peers.get(from);
  if (p === undefined || ack.term !== lead.term || !ack.accepted) return;
  p.lastAckTick = core.now;
  if (!lead.acceptedBy.has(from)) {
    lead.acceptedBy.add(from);
    if (!lead.established && lead.acceptedBy.size >= core.majority) {
      // A majority recorded us as leaderOfTerm[term], write-once: no other node can lead this
      // term to a majority, so from now on our entries of this term are the only ones.
      lead.established = true;
      lead.quorumActive = true;
      if (core.config.termStartEntry) {
        appendOwn(core, [new Uint8Array(0)], r);
        for (const peer of lead.peers.keys()) if (peer !== from) sendAppend(core, peer, false, r);
      }
    }
  }
  updateQuorum(core);
  if (ack.success) {
    if (ack.matchIndex > lastIndex(core)) return; // not an honest answer to anything we sent
    p.refusedMatched = 0;
    if (ack.matchIndex > p.match) {
      p.match = ack.matchIndex;
      p.lastProgressTick = core.now;
    }
    p.inflight = p.inflight.filter((f) => f.last > p.match);
    if (p.mode === "probe" || (p.mode === "snapshot" && p.match >= p.snapshotIndex)) {
      p.mode = "replicate";
      p.paused = false;
      p.inflight = [];
      p.next = p.match + 1;
    } else if (p.next <= p.match) p.next = p.match + 1;
    const advanced = maybeCommit(core);
    sendAppend(core, from, false, r);
    // Tell followers the commit index without waiting for the next block or heartbeat (up to
    // heartbeatMs on a quiet cluster): a follower answers a write only once it has applied it
    // (read your writes, PROTOCOL.md §2), so its clients wait for this.
    if (advanced) for (const peer of lead.peers.keys()) if (peer !== from) notifyCommit(core, peer, r);
    notifyCommit(core, from, r);
  } else {
    // A refusal answers one append; drop it when it answers an older one (duplicated, reordered,
    // or sent before a back-off), as etcd/raft's maybeDecrTo does.
    if (p.mode === "snapshot") return;
    if (p.mode === "replicate" && ack.rejectIndex <= p.match) return;
    if (p.mode === "probe" && ack.rejectIndex !== p.next - 1) return;
    if (ack.rejectIndex <= p.match && ack.hint < p.match) {
      // The follower refuses an index it had acknowledged. Once may be a stale refusal overtaken
      // by a later success; twice in a row, each answering a fresh probe, means it lost part of
      // its log (a torn tail dropped at restart). Then forget that match and repair it from its
      // hint. Lowering match only delays later commits; the commit index never goes down.
      p.refusedMatched++;
      if (p.refusedMatched >= 2) {
        // Not an anomaly: an honest follower does this after losing a torn tail, and duplicated
        // stale refusals can look the same; either way only liveness is at stake.
        p.match = ack.hint;
        p.refusedMatched = 0;
      }
    }
    // Fast back-off: retry from the follower's hint, never below what it already matched.
    p.mode = "probe";
    p.paused = false;
    p.inflight = [];
    p.next = Math.max(p.match + 1, Math.min(ack.hint + 1, ack.rejectIndex, lastIndex(core) + 1));
    sendAppend(core, from, true, r);
  }
}

/**
 * An empty append carrying the commit index to a follower that has not been told it and has no
 * append in flight. One with appends in flight learns it from the append that answers its next
 * ack (this runs on every ack), so under load, when pipelines are busy, this adds no messages.
 */
function notifyCommit(core: LogCore, peer: string, r: MutableReady): void {
  const p = core.lead?.peers.get(peer);
  if (p === undefined || p.mode !== "replicate" || p.inflight.length > 0 || p.toldCommit >= core.commitIndex) return;
  sendAppend(core, peer, true, r);
}

/** Advances the commit index to what a majority holds (of this term); true when it moved. */
function maybeCommit(core: LogCore): boolean {
  const lead = core.lead;
  if (lead === undefined || !lead.established) return false;
  const matches = [lastIndex(core)];
  for (const p of lead.peers.values()) matches.push(p.match);
  matches.sort((a, b) => b - a);
  const n = matches[core.majority - 1] ?? 0;
  // Only entries of our own term commit by counting (Raft §5.4.2); earlier ones ride along.
  if (n <= core.commitIndex || termAt(core, n) !== lead.term) return false;
  core.commitIndex = n;
  return true;
}

function updateQuorum(core: LogCore): void {
  const lead = core.lead;
  if (lead === undefined) return;
  let active = 1;
  for (const p of lead.peers.values()) if (core.now - p.lastAckTick < core.config.electionTimeoutTicks) active++;
  lead.quorumActive = active >= core.majority;
}

function onTick(core: LogCore, r: MutableReady): void {
  core.now++;
  const lead = core.lead;
  if (lead === undefined) return;
  updateQuorum(core);
  if (core.now < lead.nextHeartbeatTick) return;
  lead.nextHeartbeatTick = core.now + core.config.heartbeatTicks;
  for (const [peer, p] of lead.peers) {
    if (p.mode === "snapshot") {
      if (core.now - p.snapshotSentTick >= 2 * core.config.heartbeatTicks) {
        p.mode = "probe";
        p.next = p.match + 1;
      } else continue;
    }
    if (p.mode === "replicate" && p.inflight.length > 0 && core.now - p.lastProgressTick >= 2 * core.config.heartbeatTicks) {
      // No progress: appends were probably lost. Start again from what the follower has.
      p.mode = "probe";
      p.inflight = [];
      p.next = p.match + 1;
    }
    if (p.mode === "probe") {
      p.paused = false;
      sendAppend(core, peer, true, r);
    } else if (p.inflight.length === 0) sendAppend(core, peer, true, r);
  }
}

function onSnapshotTaken(core: LogCore, snap: Snapshot, r: MutableReady): void {
  const { index, hash } = snap.meta;
  if (index <= core.snapMeta.index) return;
  if (index > core.applied || hashAt(core, index) !== hash) {
    r.anomalies.push(`snapshotTaken at ${index} does not match the applied log`);
    return;
  }
  core.log = core.log.slice(index - core.snapMeta.index);
  core.snapMeta = snap.meta;
  core.snapshot = snap;
}

// ---- follower side ----

function onMessage(core: LogCore, from: string, msg: ConsensusMessage, r: MutableReady): void {
  if (!core.config.members.includes(from) || from === core.config.self) return;
  switch (msg.type) {
    case "append":
      if (msg.leader === from) onAppend(core, from, msg, r);
      return;
    case "snapshot":
      if (msg.leader === from) onSnapshot(core, from, msg, r);
      return;
    case "appendAck":
      onAck(core, from, msg, r);
      return;
    case "heartbeat":
      if (msg.leader === from) onHeartbeat(core, from, msg, r);
      return;
  }
}

function ack(core: LogCore, to: string, fields: { accepted: boolean; success: boolean; matchIndex: number; rejectIndex: number; hint: number }, r: MutableReady): void {
  r.messages.push({ to, message: { type: "appendAck", term: core.hardState.term, ...fields } });
}

/**
 * True when `from` is (or has just been recorded as) leaderOfTerm[term]. Recording is
 * write-once per term and needs: no vote for someone else this term, Mokka not naming someone
 * else, and the leader's log at least as up to date as ours (so it is a vote in all but name).
 */
function acceptLeader(core: LogCore, from: string, term: number, leaderLastTerm: number, leaderLastIndex: number, r: MutableReady): boolean {
  const hs = core.hardState;
  if (term < hs.term) return false;
  if (term === hs.term && core.termLeader !== undefined) return core.termLeader === from;
  // A vote for another candidate (or ourselves) in this term does not bar accepting its leader:
  // safety rests on the write-once leaderOfTerm record, not on votes (docs/consensus.md), and a
  // losing candidate that refused the winner would sit out the whole term.
  if (hs.votedTerm > term) return false;
  if (core.mokka.term === term && core.mokka.leader !== null && core.mokka.leader !== from) return false;
  if (core.mokka.term === term && core.mokka.role !== "follower") return false;
  if (!isAtLeastAsUpToDate(leaderLastTerm, leaderLastIndex, lastTerm(core), lastIndex(core))) return false;
  recordLeader(core, term, from, r);
  return true;
}

function refuse(core: LogCore, to: string, r: MutableReady): void {
  ack(core, to, { accepted: false, success: false, matchIndex: 0, rejectIndex: 0, hint: lastIndex(core) }, r);
}

function onAppend(core: LogCore, from: string, m: AppendMessage, r: MutableReady): void {
  if (!acceptLeader(core, from, m.term, m.lastTerm, m.lastIndex, r)) return refuse(core, from, r);
  const nack = (hint: number): void => ack(core, from, { accepted: true, success: false, matchIndex: 0, rejectIndex: m.prevIndex, hint }, r);
  const snapIndex = core.snapMeta.index;
  const last = lastIndex(core);
  if (m.prevIndex > last) return nack(last);
  if (m.prevIndex >= snapIndex && hashAt(core, m.prevIndex) !== m.prevHash) return nack(conflictHint(core, m.prevIndex));
  // The entries must continue prevHash as one chain, and be intact: we do not trust the wire.
  let prevHash = m.prevHash;
  let prevTerm = m.prevTerm;
  let idx = m.prevIndex;
  for (const e of m.entries) {
    if (e.index !== idx + 1 || e.prevHash !== prevHash || e.term < prevTerm || e.term > m.term || !isEntryIntact(e)) {
      r.anomalies.push(`append from ${from}: broken chain at index ${e.index}`);
      return;
    }
    idx = e.index;
    prevHash = e.hash;
    prevTerm = e.term;
  }
  let appendFrom = -1;
  for (let k = 0; k < m.entries.length; k++) {
    const e = m.entries[k];
    if (e === undefined || e.index <= snapIndex) continue;
    if (e.index > lastIndex(core)) {
      appendFrom = k;
      break;
    }
    if (hashAt(core, e.index) === e.hash) continue;
    if (e.index <= core.commitIndex) {
      // Cannot happen with an honest leader (leader completeness); never rewrite committed entries.
      r.anomalies.push(`append from ${from} conflicts with committed index ${e.index}`);
      return;
    }
    core.log.length = e.index - snapIndex - 1;
    r.truncateFrom = e.index;
    appendFrom = k;
    break;
  }
  if (appendFrom >= 0) {
    const first = m.entries[appendFrom];
    if (first !== undefined && first.prevHash !== hashAt(core, first.index - 1)) {
      r.anomalies.push(`append from ${from} does not continue our log at index ${first.index}`);
      return;
    }
    for (let k = appendFrom; k < m.entries.length; k++) {
      const e = m.entries[k];
      if (e === undefined) continue;
      core.log.push(e);
      r.entriesToAppend.push(e);
    }
  }
  const matched = m.prevIndex + m.entries.length;
  if (matched > core.verified) core.verified = matched;
  const commit = Math.min(m.leaderCommit, matched);
  if (commit > core.commitIndex) core.commitIndex = commit;
  ack(core, from, { accepted: true, success: true, matchIndex: matched, rejectIndex: 0, hint: 0 }, r);
}

/** Where the leader should retry after a mismatch at `index`: before our run of that term, not below commit. */
function conflictHint(core: LogCore, index: number): number {
  const floor = Math.max(core.commitIndex, core.snapMeta.index);
  const t = termAt(core, index);
  let i = index - 1;
  while (i > floor && termAt(core, i) === t) i--;
  return Math.max(i, floor);
}

function onSnapshot(core: LogCore, from: string, m: SnapshotMessage, r: MutableReady): void {
  if (!acceptLeader(core, from, m.term, m.lastTerm, m.lastIndex, r)) return refuse(core, from, r);
  const meta = m.meta;
  if (meta.index <= core.commitIndex) {
    // Already have it all, committed: tell the leader where to continue.
    return ack(core, from, { accepted: true, success: true, matchIndex: core.commitIndex, rejectIndex: 0, hint: 0 }, r);
  }
  if (hashAt(core, meta.index) === meta.hash) {
    core.log = core.log.slice(meta.index - core.snapMeta.index);
  } else {
    // Our log falls short of the snapshot or disagrees at its index: the snapshot replaces it
    // all (LogStore.saveSnapshot does so when the log does not reach meta.index). A disagreeing
    // tail from meta.index on is cut first; meta.index > commitIndex, so nothing committed goes.
    if (lastIndex(core) >= meta.index) r.truncateFrom = meta.index;
    core.log = [];
  }
  const snap: Snapshot = { meta, data: m.data };
  core.snapMeta = meta;
  core.snapshot = snap;
  core.commitIndex = meta.index;
  core.applied = meta.index;
  if (core.verified < meta.index) core.verified = meta.index;
  r.snapshotToInstall = snap;
  ack(core, from, { accepted: true, success: true, matchIndex: meta.index, rejectIndex: 0, hint: 0 }, r);
}

function onHeartbeat(core: LogCore, from: string, m: HeartbeatMessage, r: MutableReady): void {
  // Never records a leader: only appends (which carry the leader's log position) can.
  if (m.term !== core.hardState.term || core.termLeader !== from) return;
  const commit = Math.min(m.commitIndex, core.verified);
  if (commit > core.commitIndex) core.commitIndex = commit;
  if (core.verified < m.lastIndex) {
    // Lagging: say what we know matches (verified >= commitIndex), so the leader sends the rest now.
    ack(core, from, { accepted: true, success: true, matchIndex: core.verified, rejectIndex: 0, hint: 0 }, r);
  }
}
