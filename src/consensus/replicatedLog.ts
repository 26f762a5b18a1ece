// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The replicated log of one node: the thin stateful driver around the pure core (logCore.ts).
 *
 * - Mokka elects the leader. Its packets travel over our authenticated TcpTransport; every packet
 *   is shape-checked and bound to the transport-authenticated sender's Mokka key before Mokka sees
 *   it (Mokka crashes on malformed input and trusts any claimed key, MOKKA.md §3, §6).
 * - Log replication rides custom Mokka packets (type 100) sent through `messageApi.message`; our
 *   data on Mokka's heartbeats (resMiddleware, type 10) and vote requests (type 11) carries the
 *   commit backstop and the candidate's log position; `customVoteRule` asks the core.
 * - Every core step runs alone, in order (a promise chain). For each Ready the driver persists
 *   (durable on return), then sends, then hands committed entries to `onCommit`: the core's
 *   contract, see logCore.ts.
 * A failed write to disk stops the node (it must restart from its disk); nothing is sent after it.
 */
import { EventEmitter } from "node:events";
import { Mokka } from "mokka";
import secp256k1 from "secp256k1";
import { DeltaError } from "../errors.ts";
import { SqliteLogStore, type LogEntry, type Snapshot } from "../storage/index.ts";
import type { NodeIdentity } from "./identity.ts";
import {
  createLogCore,
  heartbeatData,
  lastIndex,
  leaderStatus,
  restoreLogCore,
  step,
  voteRequestData,
  type LogCore,
  type LogInput,
  type MokkaRole,
  type ProposalOutcome,
  type Ready,
} from "./logCore.ts";
import { DEFAULT_MAX_FRAME_BYTES, SEALED_OVERHEAD_BYTES } from "./frames.ts";
import { tryParseVoteRequest } from "./messages.ts";
import { DEFAULT_MAX_QUEUED_BYTES, TcpTransport, type TransportLogger, type TransportStats } from "./tcpTransport.ts";
import {
  APP_PACKET_TYPE,
  decodeMessage,
  encodeMessage,
  LOG_PACKET_TYPE,
  MESSAGE_WIRE_OVERHEAD_BYTES,
  maxEntryDataBytes,
  maxSnapshotDataBytes,
} from "./wire.ts";

/** A cluster member: transport identity, where it listens, and its Mokka public key. */
export interface LogMember {
  /** Transport identity public key (64 hex digits, see identity.ts). */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Compressed secp256k1 public key, 66 hex digits (Mokka's node key; protects nothing else). */
  readonly mokkaPublicKey: string;
}

/** Timing settings; docs/consensus.md "Timing settings" gives the reasons. */
export interface LogTiming {
  /** One core tick. */
  readonly tickMs: number;
  /** Mokka's heartbeat. */
  readonly heartbeatMs: number;
  /** Mokka's election timeout, and the core's check-quorum window. */
  readonly electionTimeoutMs: number;
  /** Mokka's proof lifetime: long, so leadership does not rotate by itself. */
  readonly proofExpirationMs: number;
}

export const DEFAULT_TIMING: LogTiming = Object.freeze({
  tickMs: 10,
  heartbeatMs: 200,
  electionTimeoutMs: 1_000,
  proofExpirationMs: 24 * 3_600_000,
});

/** The largest payload the transport sends (its default frame cap, less the seal): larger ones are dropped. */
const MAX_PAYLOAD_BYTES = DEFAULT_MAX_FRAME_BYTES - SEALED_OVERHEAD_BYTES;

/**
 * Default byte budget of one append (estimated wire size of its entries): a quarter of a frame
 * (4 MiB). Far from the cap whatever the estimate's slack, and small enough that heartbeats and
 * acks interleave with a catch-up instead of waiting behind one huge message.
 */
export const DEFAULT_MAX_BATCH_BYTES = DEFAULT_MAX_FRAME_BYTES / 4;

/**
 * Unacknowledged append bytes per follower: two full appends (8 MiB), one being stored by the
 * follower while the next travels, which keeps a catch-up streaming. An eighth of the transport's
 * per-peer queue, which drops its oldest payloads when full: pipelined appends never push each
 * other out, even with a stale batch still queued when the leader restarts a stalled follower.
 * Small on purpose: the first burst to a follower is encoded in one step, and a 16 MiB burst
 * took ~145 ms per follower on this machine (about half that now), against a 300 ms follower
 * timeout.
 */
const DEFAULT_MAX_INFLIGHT_BYTES = Math.min(2 * DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_QUEUED_BYTES / 8);

/** One entry's data at most (about 12 MiB): larger, its append could never fit a transport frame. */
export const MAX_ENTRY_DATA_BYTES = maxEntryDataBytes(MAX_PAYLOAD_BYTES);

/** A snapshot's data at most: larger, the snapshot message could never fit a transport frame. */
export const MAX_SNAPSHOT_DATA_BYTES = maxSnapshotDataBytes(MAX_PAYLOAD_BYTES);

/** The pino-style subset the log uses. */
export interface ConsensusLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

export interface ReplicatedLogOptions {
  readonly identity: NodeIdentity;
  /** Mokka's private key, 64 hex digits; its public key must be this node's `mokkaPublicKey`. */
  readonly mokkaPrivateKey: string;
  /** Every member, this node included; 3 or 5. */
  readonly members: readonly LogMember[];
  /** Bound into every transport handshake. */
  readonly clusterId: string;
  /** The SQLite file of this node's log. */
  readonly storePath: string;
  /** Addresses the transport also accepts sockets from, beside the members' hosts (NAT, containers: docs/consensus.md "Who may connect"). */
  readonly extraAllowedAddresses?: readonly string[];
  readonly timing?: Partial<LogTiming>;
  readonly logger?: ConsensusLogger;
  /** Entries per append message (default 512: big blocks go as several messages, so heartbeats interleave). */
  readonly maxBatchEntries?: number;
  /** Estimated wire bytes of entries per append (default DEFAULT_MAX_BATCH_BYTES); at most a frame's payload less the message overhead. */
  readonly maxBatchBytes?: number;
  /** Called once per committed entry, in index order (entries with empty data are term markers). */
  readonly onCommit: (entry: LogEntry) => void;
  /** Called when a snapshot from the leader replaces the application state. */
  readonly onSnapshot?: (snapshot: Snapshot) => void;
}

/** What a node knows about the cluster now. */
export interface LogStatus {
  readonly id: string;
  readonly role: MokkaRole;
  readonly term: number;
  /** Transport id of the leader Mokka names, or null. */
  readonly leader: string | null;
  /** This node leads an established term with a live quorum. */
  readonly canPropose: boolean;
  readonly commitIndex: number;
  readonly lastIndex: number;
}

const MOKKA_STATE: Record<number, MokkaRole> = { 1: "leader", 2: "candidate", 3: "follower" };
const MOKKA_ACK = 10;
const MOKKA_VOTE = 11;
const MOKKA_VOTED = 12;
const ADDRESS_PREFIX = "delta:";
const NOOP = (): void => {};

/** Compressed secp256k1 public key (hex) of a Mokka private key (hex). */
export function mokkaPublicKeyOf(privateKeyHex: string): string {
  if (!/^[0-9a-f]{64}$/.test(privateKeyHex)) throw new DeltaError("INVALID_CONFIG", "the Mokka private key must be 64 lowercase hex digits");
  const key = Buffer.from(privateKeyHex, "hex");
  if (!secp256k1.privateKeyVerify(key)) throw new DeltaError("INVALID_CONFIG", "the Mokka private key is not a valid secp256k1 key");
  return Buffer.from(secp256k1.publicKeyCreate(key, true)).toString("hex");
}

/** Refuses data no append could carry: its entry would stall replication instead of failing here. */
function checkEntrySizes(data: readonly Uint8Array[]): void {
  for (const [i, d] of data.entries()) {
    if (d.length <= MAX_ENTRY_DATA_BYTES) continue;
    throw new DeltaError(
      "PAYLOAD_TOO_LARGE",
      `entry ${i} of the proposal has ${d.length} bytes of data; one entry carries at most ${MAX_ENTRY_DATA_BYTES} (it must fit one transport frame once base64-encoded): split it`,
      { details: { entry: i, bytes: d.length, maxBytes: MAX_ENTRY_DATA_BYTES } },
    );
  }
}

/** The transport logs through the node's logger (drops of oversized payloads, session changes). */
function transportLogger(log: ConsensusLogger | undefined): TransportLogger | undefined {
  if (log === undefined) return undefined;
  return {
    warn: (obj, msg) => log.warn({ ...obj }, msg),
    info: (obj, msg) => log.info({ ...obj }, msg),
    debug: (obj, msg) => log.debug({ ...obj }, msg),
  };
}

/** Mokka with its `write` sending over our transport. */
class MokkaOverTransport extends Mokka {
  sendTo: (peerId: string, payload: Uint8Array) => void = NOOP;

  override write(address: string, packet: Buffer): void {
    // Addresses are "delta:<transport id>" (see members); anything else is a bug, dropped.
    if (address.startsWith(ADDRESS_PREFIX)) this.sendTo(address.slice(ADDRESS_PREFIX.length), packet);
  }
}

interface MokkaPacket {
  readonly state: number;
  readonly type: number;
  readonly term: number;
  readonly publicKey: string;
  readonly data: unknown;
  readonly proof: string | null;
}

function isSmallInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Shape check of an untrusted Mokka packet, so Mokka's code never sees one it would crash on. */
function asMokkaPacket(value: unknown): MokkaPacket | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const p = value as Record<string, unknown>; // a JSON.parse result: plain own properties
  if (!isSmallInt(p["state"]) || !isSmallInt(p["type"]) || !isSmallInt(p["term"])) return undefined;
  if (typeof p["publicKey"] !== "string" || !(p["proof"] === null || p["proof"] === undefined || typeof p["proof"] === "string")) return undefined;
  const data = p["data"];
  if (p["type"] === MOKKA_VOTE) {
    // Mokka's vote handler dereferences data.nonce; our customVoteRule reads lastIndex/lastTerm.
    if (typeof data !== "object" || data === null) return undefined;
    const d = data as Record<string, unknown>;
    if (!isSmallInt(d["nonce"]) || !isSmallInt(d["lastIndex"]) || !isSmallInt(d["lastTerm"])) return undefined;
  } else if (p["type"] === MOKKA_VOTED) {
    if (data !== null && (typeof data !== "object" || typeof (data as Record<string, unknown>)["signature"] !== "string")) return undefined;
  } else if (p["type"] === MOKKA_ACK) {
    if (typeof p["proof"] === "string" && p["proof"].split(":").length !== 3) return undefined;
  }
  return { state: p["state"], type: p["type"], term: p["term"], publicKey: p["publicKey"], data, proof: (p["proof"] as string | null | undefined) ?? null };
}

/** One node's replicated log. `open()` starts it; `stop()` ends everything it began. */
export class ReplicatedLog extends EventEmitter {
  readonly #options: ReplicatedLogOptions;
  readonly #timing: LogTiming;
  readonly #log: ConsensusLogger;
  readonly #store: SqliteLogStore;
  readonly #transport: TcpTransport;
  readonly #mokka: MokkaOverTransport;
  readonly #core: LogCore;
  readonly #idByMokkaKey = new Map<string, string>();
  readonly #mokkaKeyById = new Map<string, string>();
  readonly #commitWaiters = new Map<number, { readonly term: number; readonly settle: (same: boolean) => void }[]>();
  #chain: Promise<unknown> = Promise.resolve();
  #tickQueued = false;
  #ticker: NodeJS.Timeout | undefined;
  #stopped = false;
  #failed: Error | undefined;
  #committed = 0;
  readonly #dropped: Record<string, number> = { badJson: 0, badPacket: 0, wrongMokkaKey: 0, badLogMessage: 0, mokkaError: 0 };

  private constructor(options: ReplicatedLogOptions, timing: LogTiming, store: SqliteLogStore, transport: TcpTransport, core: LogCore) {
    super();
    this.#options = options;
    this.#timing = timing;
    this.#log = options.logger ?? { info: NOOP, warn: NOOP, error: NOOP, debug: NOOP };
    this.#store = store;
    this.#transport = transport;
    this.#core = core;
    for (const m of options.members) {
      this.#idByMokkaKey.set(m.mokkaPublicKey, m.id);
      this.#mokkaKeyById.set(m.id, m.mokkaPublicKey);
    }
    const self = ReplicatedLog.#self(options);
    const silent = { error: NOOP, info: NOOP, trace: NOOP };
    this.#mokka = new MokkaOverTransport({
      address: `${ADDRESS_PREFIX}${self.id}/${self.mokkaPublicKey}`,
      privateKey: options.mokkaPrivateKey,
      heartbeat: timing.heartbeatMs,
      electionTimeout: timing.electionTimeoutMs,
      proofExpiration: timing.proofExpirationMs,
      crashModel: "CFT",
      logger: silent,
      customVoteRule: (packet) => this.#judgeVote(packet as unknown as MokkaPacket),
      resMiddleware: async (packet) => this.#decorate(packet as unknown as MokkaPacket) as unknown as typeof packet,
    });
  }

  static #self(options: ReplicatedLogOptions): LogMember {
    const self = options.members.find((m) => m.id === options.identity.id);
    if (self === undefined) throw new DeltaError("INVALID_CONFIG", "this node's identity is not among the members");
    return self;
  }

  /** Opens the store, rebuilds the core from it, starts the transport and Mokka. */
  static async open(options: ReplicatedLogOptions): Promise<ReplicatedLog> {
    const timing: LogTiming = { ...DEFAULT_TIMING, ...options.timing };
    const self = ReplicatedLog.#self(options);
    if (mokkaPublicKeyOf(options.mokkaPrivateKey) !== self.mokkaPublicKey) {
      throw new DeltaError("INVALID_CONFIG", "the Mokka private key does not match this node's mokkaPublicKey");
    }
    const coreConfig = {
      self: self.id,
      members: options.members.map((m) => m.id),
      electionTimeoutTicks: Math.max(2, Math.round(timing.electionTimeoutMs / timing.tickMs)),
      heartbeatTicks: Math.max(1, Math.round(timing.heartbeatMs / timing.tickMs)),
      maxInflight: 16,
      maxBatchEntries: options.maxBatchEntries ?? 512,
      maxBatchBytes: options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
      maxInflightBytes: DEFAULT_MAX_INFLIGHT_BYTES,
      termStartEntry: true,
    };
    if (coreConfig.maxBatchBytes + MESSAGE_WIRE_OVERHEAD_BYTES > MAX_PAYLOAD_BYTES) {
      throw new DeltaError("INVALID_CONFIG", `maxBatchBytes must leave room for the message in one transport frame: at most ${MAX_PAYLOAD_BYTES - MESSAGE_WIRE_OVERHEAD_BYTES}`, {
        details: { maxBatchBytes: coreConfig.maxBatchBytes },
      });
    }
    // Validates the member count (3 or 5) before anything opens.
    createLogCore(coreConfig);
    const { store, report } = await SqliteLogStore.open(options.storePath);
    let transport: TcpTransport | undefined;
    try {
      const hardState = store.hardState();
      const snapshot = store.snapshot();
      const first = store.firstIndex();
      const last = store.lastIndex();
      const entries = last >= first ? store.entries(first, last, Number.MAX_SAFE_INTEGER) : [];
      const core = restoreLogCore(coreConfig, { hardState, leaderOfCurrentTerm: store.leaderOfTerm(hardState.term), snapshot, entries });
      transport = await TcpTransport.start({
        identity: options.identity,
        clusterId: options.clusterId,
        members: options.members.map((m) => ({ id: m.id, host: m.host, port: m.port })),
        host: self.host,
        port: self.port,
        logger: transportLogger(options.logger),
        ...(options.extraAllowedAddresses === undefined ? {} : { extraAllowedAddresses: options.extraAllowedAddresses }),
      });
      const log = new ReplicatedLog(options, timing, store, transport, core);
      log.#log.info({ entries: report.entries, droppedTail: report.droppedTail, lastIndex: last, term: hardState.term }, "replicated log opened");
      if (report.droppedTail > 0) log.#log.warn({ droppedTail: report.droppedTail }, "dropped a torn or corrupt tail of the log");
      log.#start();
      return log;
    } catch (error) {
      await transport?.stop();
      await store.close();
      throw error;
    }
  }

  /**
   * Mokka's follower timeout is 1.5 hb + rand x hb, and a voter first waits 1.5 hb for a leader's
   * ACK: the two followers left after a leader dies nearly always time out within that wait of
   * each other, both campaign, refuse each other, and retry only after 1-3 election timeouts
   * (measured: ~3.5 s failovers). Staggering the timeout by the node's rank among the members
   * (sorted ids) makes one follower campaign first and win before the next one's timer fires.
   * Timing only: safety never depends on it.
   */
  #staggeredTimeoutMs(): number {
    const rank = [...this.#options.members].map((m) => m.id).sort().indexOf(this.#options.identity.id);
    const hb = this.#timing.heartbeatMs;
    return Math.round(1.5 * hb + rank * (1.5 * hb + 50) + Math.random() * 0.25 * hb);
  }

  #start(): void {
    this.#mokka.sendTo = (peerId, payload) => this.#transport.send(peerId, payload);
    // Mokka computes every follower timeout through heartbeatCtrl.timeout(); ours staggers it.
    this.#mokka.heartbeatCtrl.timeout = () => this.#staggeredTimeoutMs();
    // The first election too: give the transports a moment to connect, then campaign by rank.
    this.#mokka.heartbeatCtrl.setNextBeat(this.#timing.heartbeatMs + this.#staggeredTimeoutMs());
    this.#transport.onMessage((from, payload) => this.#receive(from, payload));
    for (const m of this.#options.members) {
      if (m.id !== this.#options.identity.id) this.#mokka.nodeApi.join(`${ADDRESS_PREFIX}${m.id}/${m.mokkaPublicKey}`);
    }
    this.#mokka.on("state", () => this.#leadershipChanged());
    this.#ticker = setInterval(() => {
      if (this.#tickQueued) return;
      this.#tickQueued = true;
      void this.#enqueue({ kind: "tick" }).finally(() => {
        this.#tickQueued = false;
      });
    }, this.#timing.tickMs);
    this.#mokka.connect();
  }

  /**
   * Appends `data` (one entry each) if this node leads an established term; resolves once durable
   * locally (not yet committed), with the term the entries carry (for `waitForCommit`).
   * Throws DeltaError PAYLOAD_TOO_LARGE, before anything is appended, when an entry has more
   * than MAX_ENTRY_DATA_BYTES of data: it could never be replicated (no frame would hold it).
   */
  async propose(data: readonly Uint8Array[]): Promise<ProposalOutcome & { readonly term: number }> {
    checkEntrySizes(data);
    let term = 0;
    const ready = await this.#enqueueTask(async () => {
      const r = step(this.#core, { kind: "propose", data });
      term = this.#core.hardState.term;
      return r;
    });
    return { ...(ready?.proposal ?? { accepted: false, reason: "not-leader" }), term };
  }

  /**
   * Resolves true when the entry at `index` commits with `term` (a proposal of ours), false when
   * another entry commits there (ours was lost to a leader change; propose again). Rejects with
   * NO_LEADER after `timeoutMs`.
   */
  waitForCommit(index: number, term: number, timeoutMs = 10_000): Promise<boolean> {
    if (index <= this.#committed) {
      const entry = this.#store.entry(index);
      return entry === undefined ? Promise.reject(new DeltaError("NOT_FOUND", `index ${index} is compacted`)) : Promise.resolve(entry.term === term);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new DeltaError("NO_LEADER", `index ${index} not committed within ${timeoutMs} ms`)), timeoutMs);
      const list = this.#commitWaiters.get(index) ?? [];
      list.push({
        term,
        settle: (same) => {
          clearTimeout(timer);
          resolve(same);
        },
      });
      this.#commitWaiters.set(index, list);
    });
  }

  /**
   * Saves `snapshot` (application state up to `meta.index`, already applied) and compacts the log.
   * Throws DeltaError PAYLOAD_TOO_LARGE, compacting nothing, when the snapshot has more than
   * MAX_SNAPSHOT_DATA_BYTES of data: the leader sends a snapshot as one message, so a follower
   * behind it could never catch up; the log is kept instead (followers catch up from entries).
   */
  async compact(snapshot: Snapshot): Promise<void> {
    if (snapshot.data.length > MAX_SNAPSHOT_DATA_BYTES) {
      throw new DeltaError("PAYLOAD_TOO_LARGE", `a snapshot of ${snapshot.data.length} bytes does not fit one transport frame (at most ${MAX_SNAPSHOT_DATA_BYTES} bytes); the log is not compacted`, {
        details: { bytes: snapshot.data.length, maxBytes: MAX_SNAPSHOT_DATA_BYTES },
      });
    }
    await this.#enqueueTask(async () => {
      await this.#store.saveSnapshot(snapshot);
      return step(this.#core, { kind: "snapshotTaken", snapshot });
    });
  }

  /** The entry at `index` if still in the log (not compacted). */
  entry(index: number): LogEntry | undefined {
    return this.#store.entry(index);
  }

  status(): LogStatus {
    const role = MOKKA_STATE[this.#mokka.state] ?? "follower";
    const leaderKey = this.#mokka.leaderPublicKey;
    const lead = leaderStatus(this.#core);
    return {
      id: this.#options.identity.id,
      role,
      term: this.#mokka.term,
      leader: (leaderKey && this.#idByMokkaKey.get(leaderKey)) || null,
      canPropose: lead.leading && lead.canPropose,
      commitIndex: this.#committed,
      lastIndex: lastIndex(this.#core),
    };
  }

  /** The core's view, for diagnostics (no secrets). */
  debugState(): Record<string, unknown> {
    const c = this.#core;
    return { hardState: c.hardState, termLeader: c.termLeader, mokka: c.mokka, commitIndex: c.commitIndex, applied: c.applied, verified: c.verified, lastIndex: lastIndex(c), leading: c.lead !== undefined };
  }

  /** Transport counters plus packets dropped here before Mokka or the core saw them. */
  stats(): { transport: TransportStats; dropped: Readonly<Record<string, number>> } {
    return { transport: this.#transport.stats(), dropped: { ...this.#dropped } };
  }

  /** Stops Mokka, the ticker and the transport, waits for the step in progress, closes the store. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#mokka.sendTo = NOOP;
    // Mokka's disconnect() awaits a sleep of the wrong sign (MOKKA.md §2); do not wait on it.
    void this.#mokka.disconnect().catch(NOOP);
    this.#mokka.removeAllListeners();
    await this.#transport.stop();
    await this.#chain.catch(NOOP);
    await this.#store.close();
  }

  // ---- steps ----

  #enqueue(input: LogInput): Promise<Ready | undefined> {
    return this.#enqueueTask(async () => step(this.#core, input));
  }

  /** Runs `task` (a core step) after every earlier one, then processes its Ready. */
  #enqueueTask(task: () => Promise<Ready>): Promise<Ready | undefined> {
    const run = this.#chain.then(async () => {
      if (this.#stopped || this.#failed !== undefined) return undefined;
      const ready = await task();
      await this.#process(ready);
      this.#reconcileMokka();
      return ready;
    });
    this.#chain = run.catch((error: unknown) => this.#fail(error));
    return run.catch(() => undefined);
  }

  #fail(error: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = error instanceof Error ? error : new Error(String(error));
    this.#log.error({ code: error instanceof DeltaError ? error.code : "INTERNAL", reason: this.#failed.message }, "replicated log failed; stopping");
    this.emit("failed", this.#failed);
    void this.stop();
  }

  async #process(ready: Ready): Promise<void> {
    // 1. Persist (each call is durable on return).
    if (ready.hardState !== undefined) await this.#store.saveHardState(ready.hardState);
    if (ready.leaderOfTerm !== undefined) {
      const ok = await this.#store.recordLeaderOfTerm(ready.leaderOfTerm.term, ready.leaderOfTerm.leader);
      if (!ok) throw new DeltaError("INTERNAL", `leader of term ${ready.leaderOfTerm.term} already recorded differently on disk`);
    }
    if (ready.truncateFrom !== undefined) await this.#store.truncateFrom(ready.truncateFrom);
    if (ready.snapshotToInstall !== undefined) await this.#store.saveSnapshot(ready.snapshotToInstall);
    if (ready.entriesToAppend.length > 0) await this.#store.append(ready.entriesToAppend);
    // 2. Send.
    for (const { to, message } of ready.messages) {
      const key = this.#mokkaKeyById.get(to);
      if (key === undefined) continue;
      const packet = this.#mokka.messageApi.packet(LOG_PACKET_TYPE, encodeMessage(message));
      this.#mokka.messageApi.message(packet, key).catch(NOOP);
    }
    // 3. Apply.
    if (ready.snapshotToInstall !== undefined) {
      this.#committed = ready.snapshotToInstall.meta.index;
      this.#options.onSnapshot?.(ready.snapshotToInstall);
    }
    if (ready.snapshotToInstall !== undefined) this.#settleWaitersUpTo(ready.snapshotToInstall.meta.index);
    for (const entry of ready.committed) {
      this.#committed = entry.index;
      this.#options.onCommit(entry);
      const waiters = this.#commitWaiters.get(entry.index);
      if (waiters !== undefined) {
        this.#commitWaiters.delete(entry.index);
        for (const w of waiters) w.settle(w.term === entry.term);
      }
    }
    if (ready.leader !== undefined) {
      this.#log.info({ leading: ready.leader.leading, term: ready.leader.term, canPropose: ready.leader.canPropose }, "leadership changed");
      this.emit("leader", ready.leader);
    }
    for (const anomaly of ready.anomalies) this.#log.warn({ anomaly }, "refused consensus input");
  }

  /**
   * Sends an application message (JSON-safe `data`) to member `peerId` over the authenticated
   * transport; it arrives as the "app" event `(from, data)` there. Fire and forget: never throws,
   * dropped when the peer is unknown or unreachable.
   */
  sendApp(peerId: string, data: Record<string, unknown>): void {
    const key = this.#mokkaKeyById.get(peerId);
    if (key === undefined || this.#stopped) return;
    const packet = this.#mokka.messageApi.packet(APP_PACKET_TYPE, data);
    this.#mokka.messageApi.message(packet, key).catch(NOOP);
  }

  /** A snapshot jumped past these indexes: whether our entries made it is unknown, so "lost". */
  #settleWaitersUpTo(index: number): void {
    for (const [i, list] of this.#commitWaiters) {
      if (i > index) continue;
      this.#commitWaiters.delete(i);
      for (const w of list) w.settle(false);
    }
  }

  /**
   * Mokka and the core must agree on who leads (docs/consensus.md, liveness). Mokka may lead a
   * term the core refused, or lag behind the core's term; either way Mokka steps down or catches
   * up, so that a new election runs instead of a leader whose core does not replicate.
   */
  #reconcileMokka(): void {
    const m = this.#mokka;
    const core = this.#core;
    const coreTerm = core.hardState.term;
    if (m.state === 1) {
      const coreHeard = core.mokka.role === "leader" && core.mokka.term === m.term;
      if (coreTerm > m.term || (coreHeard && core.lead === undefined)) {
        this.#log.info({ mokkaTerm: m.term, coreTerm }, "core does not lead this term: Mokka steps down");
        m.setState(3, Math.max(coreTerm, m.term), "");
      }
    } else if (m.state === 3 && coreTerm > m.term) {
      m.setState(3, coreTerm, "");
    }
  }

  #leadershipChanged(): void {
    const role = MOKKA_STATE[this.#mokka.state] ?? "follower";
    const key = this.#mokka.leaderPublicKey;
    const leader = (key && this.#idByMokkaKey.get(key)) || null;
    void this.#enqueue({ kind: "leadership", role, term: this.#mokka.term, leader });
  }

  // ---- Mokka hooks ----

  /** customVoteRule: the core decides (one vote per term, up-to-date log), persisted before the answer. */
  async #judgeVote(packet: MokkaPacket): Promise<boolean> {
    // Leader stickiness (check-quorum lease, as etcd/raft): a leader that heard a majority within
    // the election timeout refuses votes without adopting the candidate's term, so one slow
    // follower's election cannot depose a working leader. Refusing a vote is always safe.
    if (this.#mokka.state === 1 && leaderStatus(this.#core).canPropose) return false;
    const candidate = this.#idByMokkaKey.get(packet.publicKey);
    const data = packet.data as Record<string, unknown> | null; // shape checked in #receive
    const parsed = tryParseVoteRequest({ term: packet.term, candidate, lastIndex: data?.["lastIndex"], lastTerm: data?.["lastTerm"] });
    if (!parsed.ok) return false;
    const ready = await this.#enqueue({ kind: "voteRequest", request: parsed.value });
    const verdict = ready?.voteVerdicts.find((v) => v.term === parsed.value.term && v.candidate === parsed.value.candidate);
    return verdict?.granted === true;
  }

  /** resMiddleware: our data on Mokka's outgoing vote requests and heartbeats. */
  #decorate(packet: MokkaPacket): MokkaPacket {
    if (packet.type === MOKKA_VOTE) {
      const base = typeof packet.data === "object" && packet.data !== null ? packet.data : {};
      return { ...packet, data: { ...base, ...voteRequestData(this.#core) } };
    }
    if (packet.type === MOKKA_ACK && this.#mokka.state === 1) {
      const hb = heartbeatData(this.#core);
      return hb === undefined ? packet : { ...packet, data: encodeMessage(hb) };
    }
    return packet;
  }

  /** Every authenticated payload from a peer: checked, bound to the peer's Mokka key, then dispatched. */
  #receive(from: string, payload: Uint8Array): void {
    if (this.#stopped) return;
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString("utf8"));
    } catch {
      this.#dropped["badJson"]!++;
      return;
    }
    const packet = asMokkaPacket(value);
    if (packet === undefined) {
      this.#dropped["badPacket"]!++;
      return;
    }
    // The transport authenticated `from`; a packet claiming another member's Mokka key is forged.
    if (this.#mokkaKeyById.get(from) !== packet.publicKey) {
      this.#dropped["wrongMokkaKey"]!++;
      return;
    }
    if (packet.type === APP_PACKET_TYPE) {
      // Untrusted content from an authenticated member: the listener validates it.
      this.emit("app", from, packet.data);
      return;
    }
    if (packet.type === LOG_PACKET_TYPE || (packet.type === MOKKA_ACK && packet.data !== null && packet.data !== undefined)) {
      const message = decodeMessage(packet.data);
      if (message.ok) void this.#enqueue({ kind: "message", from, message: message.value });
      else this.#dropped["badLogMessage"]!++;
      if (packet.type === LOG_PACKET_TYPE) return;
    }
    this.#mokka.emitPacket(Buffer.from(payload)).catch(() => {
      this.#dropped["mokkaError"]!++;
    });
  }
}
