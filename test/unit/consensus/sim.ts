// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Deterministic simulation of 3- or 5-node clusters of log cores. One seeded PRNG drives
 * everything: a network that loses, duplicates, delays and reorders messages, partitions,
 * crashes and restarts from each node's in-memory "disk" (which holds only what a Ready asked to
 * persist), snapshots, and an election model that imitates Mokka with its defects (no vote
 * persistence, double votes through the unhookable self-vote race, leaders that are never
 * demoted by a lost quorum), plus an adversary that tells two nodes they both lead one term and
 * tells followers different leaders. Safety invariants are checked after every core step.
 */
import type { HardState, LogEntry, Snapshot } from "../../../src/storage/index.ts";
import { EMPTY_HARD_STATE, GENESIS_HASH } from "../../../src/storage/index.ts";
import type { ConsensusMessage } from "../../../src/consensus/messages.ts";
import type { LogCore, LogCoreConfig, LogInput, MokkaRole, Ready } from "../../../src/consensus/logCore.ts";
import { createLogCore, heartbeatData, lastIndex, restoreLogCore, step, termAt, voteRequestData } from "../../../src/consensus/logCore.ts";

/** mulberry32: small, fast, good enough to schedule a simulation. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type SimMode = "calm" | "faults" | "adversarial" | "chaos";

export interface SimOptions {
  readonly seed: number;
  readonly nodes: 3 | 5;
  readonly steps: number;
  readonly mode: SimMode;
}

export interface SimResult {
  readonly maxCommit: number;
  readonly proposalsAccepted: number;
  readonly coreSteps: number;
  /** The last events, for a person replaying a seed. */
  readonly trace: readonly string[];
}

export class SimFailure extends Error {
  readonly seed: number;
  constructor(seed: number, message: string) {
    super(message);
    this.name = "SimFailure";
    this.seed = seed;
  }
}

interface Disk {
  hs: HardState;
  leaders: Map<number, string>;
  snapshot: Snapshot | undefined;
  entries: LogEntry[];
}

interface SimNode {
  readonly id: string;
  readonly disk: Disk;
  core: LogCore | undefined;
  /** Volatile application state: last applied index and its hash (the hash chain stands for the state). */
  applied: number;
  mokka: { role: MokkaRole; term: number; leader: string | null };
}

interface InFlight {
  readonly from: string;
  readonly to: string;
  readonly message: ConsensusMessage;
  readonly at: number;
}

/** Mokka's follower timeout, in ticks. */
const ELECTION_TICKS = 10;
/**
 * Entries are 0-3 bytes, so each costs 512-516 estimated wire bytes (wire.ts entryWireBytes): the
 * byte budgets cap a full append at 3 entries and the in-flight appends at 7 entries, so the byte
 * limits and the count limits (maxBatchEntries, maxInflight) each bind some of the time.
 */
const CONFIG = { electionTimeoutTicks: 12, heartbeatTicks: 3, maxInflight: 4, maxBatchEntries: 6, maxBatchBytes: 1_600, maxInflightBytes: 4_000, termStartEntry: true };

/** Runs one seed; throws SimFailure (with a trace of the last events) when an invariant breaks. */
export function runSim(opts: SimOptions): SimResult {
  const rand = prng(opts.seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const chance = (p: number): boolean => rand() < p;
  const pick = <T>(xs: readonly T[]): T => {
    const x = xs[int(xs.length)];
    if (x === undefined) throw new Error("pick from empty list");
    return x;
  };
  const faults = opts.mode === "faults" || opts.mode === "chaos";
  const adversarial = opts.mode === "adversarial" || opts.mode === "chaos";
  const loss = faults ? 0.1 : 0;
  const dup = faults ? 0.05 : 0;

  const ids = Array.from({ length: opts.nodes }, (_, i) => `n${i}`);
  const majority = Math.floor(opts.nodes / 2) + 1;
  const configOf = (self: string): LogCoreConfig => ({ ...CONFIG, self, members: ids });
  const nodes = new Map<string, SimNode>();
  for (const id of ids) {
    nodes.set(id, {
      id,
      disk: { hs: EMPTY_HARD_STATE, leaders: new Map(), snapshot: undefined, entries: [] },
      core: createLogCore(configOf(id)),
      applied: 0,
      mokka: { role: "follower", term: 0, leader: null },
    });
  }
  const node = (id: string): SimNode => {
    const n = nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  };

  let now = 0;
  /** Tick of the last Mokka heartbeat each node heard. */
  const heard = new Map<string, number>();
  let net: InFlight[] = [];
  let partition: Map<string, number> | undefined;
  const reachable = (a: string, b: string): boolean => partition === undefined || partition.get(a) === partition.get(b);

  // Global observations for the invariants.
  const hashByIndexTerm = new Map<string, string>();
  const committed: string[] = []; // index -> hash of the committed entry
  const committedTerm: number[] = []; // index -> the term in which it was committed (an upper bound)
  let maxCommit = 0;
  let proposalsAccepted = 0;
  let coreSteps = 0;
  let stepNo = 0;
  const trace: string[] = [];
  const note = (s: string): void => {
    trace.push(`#${stepNo} t${now} q${net.length} ${s}`);
    if (trace.length > Number(process.env.SIM_TRACE ?? 60)) trace.shift();
  };
  const fail = (msg: string): never => {
    throw new SimFailure(opts.seed, `${msg}\nlast events:\n  ${trace.join("\n  ")}`);
  };

  const diskLast = (d: Disk): { index: number; hash: string } => {
    const e = d.entries[d.entries.length - 1];
    if (e !== undefined) return e;
    return d.snapshot === undefined ? { index: 0, hash: GENESIS_HASH } : d.snapshot.meta;
  };

  const markCommitted = (index: number, hash: string, term: number, who: string): void => {
    const known = committed[index];
    // The term in which the entry was committed is at most that of any node applying it (the
    // committing leader applies first).
    committedTerm[index] = Math.min(committedTerm[index] ?? Infinity, term);
    if (known === undefined) committed[index] = hash;
    else if (known !== hash) fail(`${who} committed a different entry at index ${index}`);
    if (index > maxCommit) maxCommit = index;
  };

  /** Applies a Ready the way the driver contract says, checking it on the way. */
  const handleReady = (n: SimNode, r: Ready, commitBefore: number): void => {
    const d = n.disk;
    if (r.anomalies.length > 0) fail(`${n.id} anomalies: ${r.anomalies.join("; ")}`);
    if (r.hardState !== undefined) {
      if (r.hardState.term < d.hs.term || r.hardState.votedTerm < d.hs.votedTerm) fail(`${n.id} hard state went backwards`);
      d.hs = r.hardState;
    }
    if (r.leaderOfTerm !== undefined) {
      const prev = d.leaders.get(r.leaderOfTerm.term);
      if (prev !== undefined && prev !== r.leaderOfTerm.leader) fail(`${n.id} rewrote leaderOfTerm[${r.leaderOfTerm.term}] ${prev} -> ${r.leaderOfTerm.leader}`);
      d.leaders.set(r.leaderOfTerm.term, r.leaderOfTerm.leader);
    }
    if (r.truncateFrom !== undefined) {
      if (r.truncateFrom <= commitBefore) fail(`${n.id} truncates from ${r.truncateFrom} at or below its commit ${commitBefore}`);
      const from = r.truncateFrom;
      const keep = d.entries.filter((e) => e.index < from);
      for (const e of d.entries) if (e.index >= from && committed[e.index] === e.hash) fail(`${n.id} truncated committed entry ${e.index}`);
      d.entries = keep;
    }
    if (r.snapshotToInstall !== undefined) {
      const meta = r.snapshotToInstall.meta;
      const at = d.entries.find((e) => e.index === meta.index);
      d.entries = at !== undefined && at.hash === meta.hash ? d.entries.filter((e) => e.index > meta.index) : [];
      d.snapshot = r.snapshotToInstall;
    }
    for (const e of r.entriesToAppend) {
      const last = diskLast(d);
      if (e.index !== last.index + 1 || e.prevHash !== last.hash) fail(`${n.id} Ready appends index ${e.index} that does not continue its disk log (last ${last.index})`);
      const key = `${e.index}:${e.term}`;
      const seen = hashByIndexTerm.get(key);
      if (seen === undefined) hashByIndexTerm.set(key, e.hash);
      else if (seen !== e.hash) fail(`log matching: two different entries at index ${e.index} term ${e.term} (${n.id})`);
      d.entries.push(e);
    }
    // Leader completeness: a node appending its own new entries holds every committed entry.
    const core = n.core;
    // (Raft's Leader Completeness: every entry committed in an earlier term.)
    const leadTerm = core?.lead?.term;
    if (core !== undefined && leadTerm !== undefined && r.entriesToAppend.some((e) => e.leader === n.id && e.term === leadTerm)) {
      let i = maxCommit;
      while (i > 0 && (committedTerm[i] === undefined || (committedTerm[i] ?? 0) >= leadTerm)) i--;
      const snapIndex = core.snapMeta.index;
      if (i > snapIndex) {
        const have = core.log[i - snapIndex - 1];
        if (have === undefined || have.hash !== committed[i]) fail(`leader ${n.id} (term ${leadTerm}) lacks entry ${i} committed in term ${committedTerm[i]}`);
      }
    }
    // Messages: sent only now, after the persist above.
    for (const m of r.messages) send(n.id, m.to, m.message);
    // Application.
    if (r.snapshotToInstall !== undefined) {
      const meta = r.snapshotToInstall.meta;
      if (meta.index <= n.applied) fail(`${n.id} installs snapshot ${meta.index} at or below applied ${n.applied}`);
      markCommitted(meta.index, meta.hash, d.hs.term, n.id);
      n.applied = meta.index;
    }
    for (const e of r.committed) {
      if (e.index !== n.applied + 1) fail(`${n.id} applies index ${e.index} after ${n.applied}`);
      markCommitted(e.index, e.hash, d.hs.term, n.id);
      n.applied = e.index;
    }
    if (r.proposal?.accepted === true) proposalsAccepted++;
    if (r.proposal !== undefined) note(`${n.id} proposal: ${r.proposal.accepted ? `${r.proposal.firstIndex}..${r.proposal.lastIndex}` : r.proposal.reason}`);
    if (r.leader !== undefined) note(`${n.id} leader status: ${JSON.stringify(r.leader)}`);
    if (r.committed.length > 0) note(`${n.id} applied up to ${n.applied}`);
  };

  const stepNode = (n: SimNode, input: LogInput): Ready | undefined => {
    const core = n.core;
    if (core === undefined) return undefined;
    const commitBefore = core.commitIndex;
    coreSteps++;
    const r = step(core, input);
    handleReady(n, r, commitBefore);
    return r;
  };

  const send = (from: string, to: string, message: ConsensusMessage): void => {
    if (chance(loss)) return;
    const copies = chance(dup) ? 2 : 1;
    for (let i = 0; i < copies; i++) net.push({ from, to, message, at: now + int(4) });
  };

  const tell = (n: SimNode, role: MokkaRole, term: number, leader: string | null): void => {
    n.mokka = { role, term, leader };
    note(`${n.id} told ${role} t${term} leader=${leader}`);
    stepNode(n, { kind: "leadership", role, term, leader });
  };

  // ---- actions ----

  /** Network latency is well under a heartbeat: several messages arrive per tick. */
  const deliverSome = (): void => {
    const k = 1 + int(opts.nodes + 1);
    for (let j = 0; j < k; j++) if (!deliver()) break;
  };

  /** Delivers one ready message; false when none is ready. */
  const deliver = (): boolean => {
    const ready: number[] = [];
    for (let i = 0; i < net.length; i++) if ((net[i]?.at ?? Infinity) <= now) ready.push(i);
    if (ready.length === 0) return false;
    // Mostly the oldest message first; sometimes any ready one (reordering).
    const i = chance(0.7) ? (ready[0] ?? 0) : pick(ready);
    const m = net[i];
    net.splice(i, 1);
    if (m === undefined) return true;
    const to = node(m.to);
    if (to.core === undefined || !reachable(m.from, m.to)) return true;
    if (process.env.SIM_VERBOSE === "1") note(`deliver ${m.from}->${m.to} ${JSON.stringify(m.message, (k, v: unknown) => (k === "entries" && Array.isArray(v) ? v.length : k.endsWith("ash") ? undefined : v))}`);
    stepNode(to, { kind: "message", from: m.from, message: m.message });
    return true;
  };

  const tick = (): void => {
    now++;
    for (const n of nodes.values()) stepNode(n, { kind: "tick" });
  };

  const propose = (): void => {
    const up = [...nodes.values()].filter((n) => n.core !== undefined);
    if (up.length === 0) return;
    const leaders = up.filter((n) => n.mokka.role === "leader");
    const n = leaders.length > 0 && chance(0.85) ? pick(leaders) : pick(up);
    const count = 1 + int(3);
    const data = Array.from({ length: count }, () => Uint8Array.of(int(256), int(256), int(256)));
    stepNode(n, { kind: "propose", data });
  };

  /** Mokka's election, defects included: candidate at its own term + 1; voters check only their own term. */
  const campaign = (anyone: boolean): void => {
    // Mokka followers campaign when they have not heard a leader for their election timeout.
    const up = [...nodes.values()].filter((n) => n.core !== undefined && (anyone || (n.mokka.role !== "leader" && now - (heard.get(n.id) ?? 0) >= ELECTION_TICKS)));
    if (up.length === 0) return;
    // Sometimes two candidates at once (Mokka's double-vote scenario).
    const candidates = chance(0.3) && up.length > 1 ? [pick(up), pick(up)].filter((c, i, a) => a.indexOf(c) === i) : [pick(up)];
    const terms = new Map<string, number>();
    const votes = new Map<string, number>();
    const lateSelfVote = new Set<string>();
    for (const c of candidates) {
      // The driver keeps Mokka's term at least the core's persisted term (docs/consensus.md, driver rules).
      const term = Math.max(c.mokka.term, c.core?.hardState.term ?? 0) + 1;
      terms.set(c.id, term);
      votes.set(c.id, 1);
      // The self-vote cannot be hooked: the core may hear of the candidacy only after voting for a rival.
      if (candidates.length > 1 && chance(0.5)) lateSelfVote.add(c.id);
      else tell(c, "candidate", term, null);
    }
    for (const v of [...nodes.values()]) {
      for (const c of candidates) {
        if (v === c || v.core === undefined || !reachable(c.id, v.id) || c.core === undefined) continue;
        const t = terms.get(c.id) ?? 0;
        if (v.mokka.term >= t) continue; // Mokka's own check; it never records the vote (the defect)
        const req = { term: t, candidate: c.id, ...voteRequestData(c.core) };
        const r = stepNode(v, { kind: "voteRequest", request: req });
        const granted = r?.voteVerdicts[0]?.granted === true;
        note(`${v.id} vote for ${c.id} t${t}: ${granted}`);
        if (granted) votes.set(c.id, (votes.get(c.id) ?? 0) + 1);
      }
    }
    for (const c of candidates) {
      if (c.core === undefined) continue;
      const t = terms.get(c.id) ?? 0;
      if (lateSelfVote.has(c.id)) tell(c, "candidate", t, null);
      if ((votes.get(c.id) ?? 0) >= majority) tell(c, "leader", t, c.id);
      else tell(c, "follower", t, null);
    }
  };

  /** A Mokka heartbeat from every Mokka leader: followers adopt it, and the backstop data rides along. */
  const mokkaHeartbeat = (): void => {
    for (const l of nodes.values()) {
      if (l.mokka.role !== "leader" || l.core === undefined) continue;
      const hb = heartbeatData(l.core);
      for (const v of nodes.values()) {
        if (v === l || v.core === undefined || !reachable(l.id, v.id) || chance(loss)) continue;
        if (l.mokka.term >= v.mokka.term) heard.set(v.id, now);
        if (l.mokka.term > v.mokka.term || (l.mokka.term === v.mokka.term && v.mokka.role !== "leader" && v.mokka.leader !== l.id)) {
          tell(v, "follower", l.mokka.term, l.id);
        }
        if (hb !== undefined) stepNode(v, { kind: "message", from: l.id, message: hb });
      }
    }
  };

  /** Two nodes told they both lead one term; followers told different leaders. */
  const doubleLeader = (): void => {
    const up = [...nodes.values()].filter((n) => n.core !== undefined);
    if (up.length < 2) return;
    const a = pick(up);
    const others = up.filter((n) => n !== a);
    const b = pick(others);
    const t = Math.max(...up.map((n) => n.mokka.term)) + (chance(0.7) ? 1 : 0);
    note(`adversary: ${a.id} and ${b.id} both lead t${t}`);
    tell(a, "leader", t, a.id);
    tell(b, "leader", t, b.id);
    for (const n of up) if (n !== a && n !== b) tell(n, "follower", t, chance(0.5) ? a.id : b.id);
  };

  /** Leadership changes without the core's consent. */
  const usurp = (): void => {
    const up = [...nodes.values()].filter((n) => n.core !== undefined);
    if (up.length === 0) return;
    const n = pick(up);
    if (n.mokka.role === "leader") tell(n, "follower", n.mokka.term, pick(ids));
    else tell(n, "leader", n.mokka.term + int(2), n.id);
  };

  /** Mokka's forced rotation (proofExpiration): the leader steps down and campaigns again. */
  const rotate = (): void => {
    const leaders = [...nodes.values()].filter((n) => n.core !== undefined && n.mokka.role === "leader");
    if (leaders.length === 0) return;
    const l = pick(leaders);
    tell(l, "follower", l.mokka.term, null);
    heard.set(l.id, -ELECTION_TICKS);
    campaign(false);
  };

  /** The driver's liveness rule: a Mokka leader whose core refuses to lead is made to step down. */
  const demoteRefused = (): void => {
    for (const n of nodes.values()) {
      if (n.core === undefined || n.mokka.role !== "leader" || n.core.lead !== undefined) continue;
      tell(n, "follower", n.mokka.term, null);
      heard.set(n.id, -ELECTION_TICKS);
    }
  };

  const crash = (): void => {
    const up = [...nodes.values()].filter((n) => n.core !== undefined);
    if (up.length === 0) return;
    const n = pick(up);
    n.core = undefined;
    n.applied = 0;
    n.mokka = { role: "follower", term: 0, leader: null };
    net = net.filter((m) => m.to !== n.id);
    note(`${n.id} crashed`);
  };

  const restart = (): void => {
    const down = [...nodes.values()].filter((n) => n.core === undefined);
    if (down.length === 0) return;
    const n = pick(down);
    const d = n.disk;
    n.core = restoreLogCore(configOf(n.id), { hardState: d.hs, leaderOfCurrentTerm: d.leaders.get(d.hs.term), snapshot: d.snapshot, entries: d.entries });
    n.applied = d.snapshot?.meta.index ?? 0;
    note(`${n.id} restarted (term ${d.hs.term}, last ${lastIndex(n.core)})`);
    tell(n, "follower", 0, null);
  };

  const partitionNet = (): void => {
    partition = new Map(ids.map((id) => [id, int(2)]));
    note(`partition ${[...partition].map(([k, v]) => `${k}:${v}`).join(" ")}`);
  };

  const takeSnapshot = (): void => {
    const ns = [...nodes.values()].filter((n) => n.core !== undefined && n.applied > n.core.snapMeta.index);
    if (ns.length === 0) return;
    const n = pick(ns);
    const core = n.core;
    if (core === undefined) return;
    const index = n.applied;
    const e = core.log[index - core.snapMeta.index - 1];
    if (e === undefined) return;
    const snap: Snapshot = { meta: { index, term: termAt(core, index) ?? 0, hash: e.hash }, data: new Uint8Array(0) };
    n.disk.snapshot = snap;
    n.disk.entries = n.disk.entries.filter((x) => x.index > index);
    note(`${n.id} snapshot at ${index}`);
    stepNode(n, { kind: "snapshotTaken", snapshot: snap });
  };

  const actions: [number, () => void][] = [
    [60, deliverSome],
    [14, tick],
    [10, propose],
    [4, mokkaHeartbeat],
    [3, () => campaign(false)],
    [0.3, rotate],
    [2, demoteRefused],
    [2, takeSnapshot],
  ];
  if (faults) actions.push([1, crash], [2, restart], [1, partitionNet], [2, () => void (partition = undefined)]);
  if (adversarial) actions.push([1, doubleLeader], [1, usurp], [1, () => campaign(true)]);
  const total = actions.reduce((s, [w]) => s + w, 0);

  // Calm seeds run on (up to 1,000 more steps) until something commits: a liveness sanity check.
  const extra = opts.mode === "calm" ? 1000 : 0;
  for (stepNo = 0; stepNo < opts.steps || (stepNo < opts.steps + extra && maxCommit === 0); stepNo++) {
    // Mokka campaigns far more often when nobody leads.
    const someoneLeads = [...nodes.values()].some((n) => n.core !== undefined && n.mokka.role === "leader");
    if (!someoneLeads && chance(0.2)) {
      campaign(false);
      continue;
    }
    let x = rand() * total;
    for (const [w, act] of actions) {
      x -= w;
      if (x < 0) {
        act();
        break;
      }
    }
  }
  return { maxCommit, proposalsAccepted, coreSteps, trace };
}
