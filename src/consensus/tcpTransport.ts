// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Authenticated TCP transport between cluster members (docs/transport.md). Carries opaque
 * payloads: Mokka's JSON packets and the log's own messages. Every frame after the handshake is
 * MAC-checked and sequence-checked before a handler sees it (MOKKA.md §8.1).
 *
 * One connection per pair: the member with the lower id dials, the other accepts. `send()` never
 * blocks and never throws; each peer has its own bounded queue, so a down or slow peer only loses
 * its own messages.
 *
 * Only members' addresses get a handshake (docs/consensus.md "Who may connect"): an inbound socket
 * from any other address is destroyed as it is accepted, before a byte is read or written and
 * before any key is generated (each handshake costs an X25519 key pair, a signature and a
 * verification). A dialing member binds its own listen address, so that the peer sees the
 * address it knows the member by.
 */
import { channel } from "node:diagnostics_channel";
import { lookup } from "node:dns/promises";
import { BlockList, connect, createServer, isIP, type AddressInfo, type Server, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { DeltaError } from "../errors.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  FrameKind,
  MAX_ENCODABLE_FRAME_BYTES,
  SEALED_OVERHEAD_BYTES,
  encodeFrame,
  openFrame,
  sealFrame,
} from "./frames.ts";
import { HANDSHAKE_MAX_FRAME_BYTES, Handshake, type HandshakeFailure, type Role, type Session } from "./handshake.ts";
import { isNodeId, publicKeyFromId, type NodeIdentity } from "./identity.ts";

/** Where a member listens. `id` is its identity public key (64 lowercase hex digits). */
export interface PeerAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/** The pino-like subset the transport logs through. It never passes keys or payloads. */
export interface TransportLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface TcpTransportOptions {
  readonly identity: NodeIdentity;
  /** Bound into every handshake signature: nodes of different clusters never talk. */
  readonly clusterId: string;
  /** Every member, this node included or not. */
  readonly members: readonly PeerAddress[];
  /** Listen address; default 127.0.0.1. */
  readonly host?: string;
  /** Listen port; default 0 (any free port, see `port`). */
  readonly port?: number;
  /** Hard cap on a frame body after the handshake; default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Per-peer send queue bound in payloads (default 4096) and bytes (default 64 MiB). */
  readonly maxQueuedFrames?: number;
  readonly maxQueuedBytes?: number;
  /** A connection not authenticated within this time is closed; default 2000 ms. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Concurrent unauthenticated inbound connections; default 64. When full, a new connection
   * evicts a pending one (see `evictionVictim`) rather than being refused.
   */
  readonly maxPendingHandshakes?: number;
  /** Reconnect backoff: first delay (default 100 ms), doubling up to the cap (default 5000 ms), with jitter. */
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  /** Idle sessions send a PING this often (default 1000 ms)... */
  readonly pingIntervalMs?: number;
  /** ...and a session silent for this long is closed (default 5000 ms; 0 disables). */
  readonly idleTimeoutMs?: number;
  readonly logger?: TransportLogger;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
  /**
   * Addresses (IP literals) allowed to connect besides the members' hosts, resolved; default none.
   * For a member that reaches the others through another address than the one it listens on.
   */
  readonly extraAllowedAddresses?: readonly string[];
}

/**
 * Every inbound socket refused before it is authenticated is published here as `{ reason }` (a
 * DropReason: notMember, tooManyHandshakes, handshakeTimeout, unknownPeer, badHandshake).
 * node.ts counts them in `delta_transport_refused_total`; nothing is published when
 * nobody subscribes.
 */
export const TRANSPORT_REFUSED_CHANNEL = "delta:transport:refused";

/** Member hosts given by name are looked up again at most this often, when a stranger is refused. */
const RESOLVE_AGAIN_MS = 30_000;

/** Every reason a frame, a connection or an outgoing payload is dropped. */
export const DROP_REASONS = [
  // Inbound, on an authenticated session
  "forged",
  "replayed",
  "outOfOrder",
  "malformed",
  "oversize",
  "truncated",
  // Inbound, during the handshake
  /** A socket from an address that is no member's: destroyed before the handshake. */
  "notMember",
  "unknownPeer",
  "badHandshake",
  "handshakeTimeout",
  "tooManyHandshakes",
  // Inbound, delivered to nobody
  "noHandler",
  // Outbound
  "queueFull",
  "peerDown",
  "payloadTooLarge",
  "invalidPayload",
  "unknownDestination",
  "stopped",
  "internal",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface PeerStats {
  readonly connected: boolean;
  readonly queuedFrames: number;
  readonly queuedBytes: number;
  readonly framesIn: number;
  readonly framesOut: number;
  readonly queueFullDrops: number;
}

export interface TransportStats {
  /** Authenticated payloads delivered to handlers (pings excluded). */
  readonly framesIn: number;
  /** Payloads written to a socket (pings excluded). */
  readonly framesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly handshakesCompleted: number;
  readonly idleTimeouts: number;
  /** Handler calls that threw or rejected. */
  readonly handlerErrors: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  readonly peers: Readonly<Record<string, PeerStats>>;
}

/** Receives every authenticated payload. The payload is the receiver's to keep. */
export type MessageHandler = (from: string, payload: Uint8Array) => void | Promise<void>;

interface Conn {
  readonly socket: Socket;
  /** When the TCP connection was attached (performance.now()). */
  readonly openedAt: number;
  readonly role: Role;
  readonly decoder: FrameDecoder;
  readonly handshake: Handshake;
  /** The dialed peer, or the authenticated one; null for an inbound connection still in handshake. */
  peer: Peer | null;
  phase: "hello" | "auth" | "open" | "closed";
  session: Session | null;
  sendSeq: number;
  receiveSeq: number;
  lastReceivedAt: number;
  lastSentAt: number;
  handshakeTimer: NodeJS.Timeout | null;
  awaitingDrain: boolean;
  /** Closed by us for a counted reason: leftover bytes are not a separate "truncated" drop. */
  closedOnPurpose: boolean;
}

interface Peer {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** This node dials the peer (its id is lower); otherwise it waits for the peer to dial. */
  readonly dials: boolean;
  session: Conn | null;
  dialing: Conn | null;
  queue: Uint8Array[];
  queueBytes: number;
  flushScheduled: boolean;
  reconnectTimer: NodeJS.Timeout | null;
  backoffMs: number;
  framesIn: number;
  framesOut: number;
  queueFullDrops: number;
}

interface Settings {
  readonly maxFrameBytes: number;
  readonly maxQueuedFrames: number;
  readonly maxQueuedBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly pingIntervalMs: number;
  readonly idleTimeoutMs: number;
}

const NO_LOG: TransportLogger = { warn() {}, info() {}, debug() {} };

/** Default per-peer send queue bound in bytes: 64 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/**
 * Default handshake deadline. A handshake is two messages each way plus one X25519, one Ed25519
 * signature and one verification: 2-61 ms measured on a 2-core machine with both cores busy and
 * 250 ms event-loop stalls every 500 ms, so 2 s is ample; shorter, it bounds how long an idle
 * socket holds a slot.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 2000;

/** Outbound drops that mean a bug or a misconfiguration, not a peer being down: logged at warn. */
const WARNED_DROPS: ReadonlySet<DropReason> = new Set(["payloadTooLarge"]);

/** Drops that refuse a connection before it is authenticated (published on TRANSPORT_REFUSED_CHANNEL). */
const REFUSAL_REASONS: ReadonlySet<DropReason> = new Set(["notMember", "unknownPeer", "badHandshake", "handshakeTimeout", "tooManyHandshakes"]);
/** At most one warning per reason per interval; the count of those held back goes with the next one. */
const DROP_WARN_INTERVAL_MS = 10_000;

function configError(message: string, details: Record<string, unknown>): DeltaError {
  return new DeltaError("INVALID_CONFIG", message, { details });
}

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw configError(`Transport option ${name} must be an integer in [${min}, ${max}].`, { [name]: v });
  }
  return v;
}

function readSettings(options: TcpTransportOptions): Settings {
  const pingIntervalMs = positiveInt("pingIntervalMs", options.pingIntervalMs, 1000);
  return {
    maxFrameBytes: positiveInt("maxFrameBytes", options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 1024, MAX_ENCODABLE_FRAME_BYTES),
    maxQueuedFrames: positiveInt("maxQueuedFrames", options.maxQueuedFrames, 4096),
    maxQueuedBytes: positiveInt("maxQueuedBytes", options.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES),
    handshakeTimeoutMs: positiveInt("handshakeTimeoutMs", options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS),
    maxPendingHandshakes: positiveInt("maxPendingHandshakes", options.maxPendingHandshakes, 64),
    reconnectBaseMs: positiveInt("reconnectBaseMs", options.reconnectBaseMs, 100),
    reconnectMaxMs: positiveInt("reconnectMaxMs", options.reconnectMaxMs, 5000),
    pingIntervalMs,
    idleTimeoutMs: positiveInt("idleTimeoutMs", options.idleTimeoutMs, 5000, 0),
  };
}

function zeroDrops(): Record<DropReason, number> {
  const drops: Partial<Record<DropReason, number>> = {};
  for (const reason of DROP_REASONS) drops[reason] = 0;
  // Every key of DropReason was just set.
  return drops as Record<DropReason, number>;
}

function isClosed(conn: Conn): boolean {
  return conn.phase === "closed";
}

/**
 * Which pending inbound handshake a newcomer evicts when the table is full. In order: one still
 * waiting for the peer's HELLO before one whose member HELLO arrived (a member's own handshake
 * gets there within a round trip, so a flood of idle sockets only evicts itself); then one from
 * the remote address holding the most pending handshakes (a flooding address evicts its own);
 * then the oldest. (HELLOs carry public ids, so an attacker can reach the second phase too: the
 * order favours members only against a flood of idle sockets.) Refusing the newcomer instead let an attacker holding every slot with idle
 * sockets lock members out for as long as it kept re-dialing.
 */
function evictionVictim(pending: readonly Conn[]): Conn | undefined {
  const address = (c: Conn): string => c.socket.remoteAddress ?? "";
  const perAddress = new Map<string, number>();
  for (const c of pending) perAddress.set(address(c), (perAddress.get(address(c)) ?? 0) + 1);
  // Lexicographic: the smallest key is evicted.
  const key = (c: Conn): readonly number[] => [c.phase === "hello" ? 0 : 1, -(perAddress.get(address(c)) ?? 0), c.openedAt];
  let victim: Conn | undefined;
  let victimKey: readonly number[] = [];
  for (const c of pending) {
    const k = key(c);
    if (victim === undefined || lexLess(k, victimKey)) {
      victim = c;
      victimKey = k;
    }
  }
  return victim;
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

function errorCode(err: unknown): string | undefined {
  if (err instanceof Error && "code" in err && typeof err.code === "string") return err.code;
  return undefined;
}

/** The cluster transport. Create with `TcpTransport.start()`, release with `stop()`. */
export class TcpTransport {
  readonly #identity: NodeIdentity;
  readonly #clusterId: string;
  readonly #settings: Settings;
  readonly #log: TransportLogger;
  readonly #random: () => number;
  readonly #peers = new Map<string, Peer>();
  readonly #conns = new Set<Conn>();
  readonly #handlers = new Set<MessageHandler>();
  readonly #drops = zeroDrops();
  readonly #server: Server;
  /** The members' hosts (as configured), resolved into the addresses allowed to connect. */
  readonly #memberHosts: readonly string[];
  readonly #extraAllowed: readonly string[];
  /** What each member host given by name last resolved to. */
  readonly #lastResolved = new Map<string, readonly string[]>();
  #allowed = new BlockList();
  #resolvedAt = 0;
  #resolving = false;
  readonly #refusedChannel = channel(TRANSPORT_REFUSED_CHANNEL);
  #host = "127.0.0.1";
  #port = 0;
  #pingTimer: NodeJS.Timeout | null = null;
  #stopped = false;
  #stopping: Promise<void> | null = null;
  #framesIn = 0;
  #framesOut = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #handshakesCompleted = 0;
  #idleTimeouts = 0;
  #handlerErrors = 0;
  /** Per warned drop reason: when it was last logged, and how many were not logged since. */
  readonly #dropWarnings = new Map<DropReason, { at: number; suppressed: number }>();

  private constructor(options: TcpTransportOptions, settings: Settings) {
    this.#identity = options.identity;
    this.#clusterId = options.clusterId;
    this.#settings = settings;
    this.#log = options.logger ?? NO_LOG;
    this.#random = options.random ?? Math.random;
    this.#memberHosts = [...new Set(options.members.filter((m) => m.id !== options.identity.id).map((m) => m.host))];
    this.#extraAllowed = options.extraAllowedAddresses ?? [];
    for (const member of options.members) {
      if (member.id === options.identity.id) continue;
      this.#peers.set(member.id, {
        id: member.id,
        host: member.host,
        port: member.port,
        dials: options.identity.id < member.id,
        session: null,
        dialing: null,
        queue: [],
        queueBytes: 0,
        flushScheduled: false,
        reconnectTimer: null,
        backoffMs: settings.reconnectBaseMs,
        framesIn: 0,
        framesOut: 0,
        queueFullDrops: 0,
      });
    }
    this.#server = createServer((socket) => this.#onInbound(socket));
    this.#server.on("error", (err) => this.#log.warn({ code: errorCode(err) }, "transport server error"));
  }

  /**
   * Validates the options, listens, and starts dialing the members with higher ids.
   * Throws DeltaError INVALID_CONFIG on bad options; rejects with the socket error if listen fails.
   */
  static async start(options: TcpTransportOptions): Promise<TcpTransport> {
    const settings = readSettings(options);
    const clusterBytes = Buffer.byteLength(options.clusterId ?? "", "utf8");
    if (typeof options.clusterId !== "string" || clusterBytes === 0 || clusterBytes > 255) {
      throw configError("Transport clusterId must be a non-empty string of at most 255 bytes.", {});
    }
    const seen = new Set<string>();
    for (const member of options.members) {
      if (!isNodeId(member.id)) {
        throw configError("Member id must be 64 lowercase hex digits (an Ed25519 public key).", { id: member.id });
      }
      publicKeyFromId(member.id);
      if (seen.has(member.id)) throw configError("Member listed twice.", { id: member.id });
      seen.add(member.id);
      if (typeof member.host !== "string" || member.host === "" || !Number.isInteger(member.port) || member.port < 1 || member.port > 65535) {
        throw configError("Member address needs a host and a port in [1, 65535].", { id: member.id, host: member.host, port: member.port });
      }
    }
    const host = options.host ?? "127.0.0.1";
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw configError("Transport port must be in [0, 65535].", { port });

    for (const address of options.extraAllowedAddresses ?? []) {
      if (isIP(address) === 0) throw configError("extraAllowedAddresses holds IP addresses only.", { address });
    }

    const transport = new TcpTransport(options, settings);
    await transport.#resolveMembers();
    await transport.#listen(host, port);
    transport.#begin();
    return transport;
  }

  /** This node's id (identity public key hex). */
  get id(): string {
    return this.#identity.id;
  }

  /** The bound listen port (the real one when started with port 0). */
  get port(): number {
    return this.#port;
  }

  get host(): string {
    return this.#host;
  }

  /**
   * Queues `payload` for `peerId` and returns at once. Never throws: a payload that cannot be sent
   * (peer down, unknown, queue full, too large, transport stopped) is dropped and counted. The
   * transport holds `payload` by reference until it is written: do not modify it afterwards.
   */
  send(peerId: string, payload: Uint8Array): void {
    try {
      if (this.#stopped) return this.#drop("stopped");
      const peer = this.#peers.get(peerId);
      if (peer === undefined) return this.#drop("unknownDestination");
      if (!(payload instanceof Uint8Array)) return this.#drop("invalidPayload");
      const { maxFrameBytes, maxQueuedBytes, maxQueuedFrames } = this.#settings;
      if (payload.length + SEALED_OVERHEAD_BYTES > maxFrameBytes || payload.length > maxQueuedBytes) {
        // Never a peer's fault: the sender built a message no frame can carry, and it is lost.
        return this.#drop("payloadTooLarge", { peer: peerId, bytes: payload.length, maxBytes: Math.min(maxFrameBytes - SEALED_OVERHEAD_BYTES, maxQueuedBytes) });
      }
      // Raft tolerates loss; queueing for a dead peer would only replay stale heartbeats later.
      if (peer.session === null) return this.#drop("peerDown");
      // Newest wins: for heartbeats and appends the latest message supersedes older ones.
      while (peer.queue.length >= maxQueuedFrames || peer.queueBytes + payload.length > maxQueuedBytes) {
        const oldest = peer.queue.shift();
        if (oldest === undefined) break;
        peer.queueBytes -= oldest.length;
        peer.queueFullDrops++;
        this.#drop("queueFull");
      }
      peer.queue.push(payload);
      peer.queueBytes += payload.length;
      this.#scheduleFlush(peer);
    } catch (err) {
      this.#drop("internal");
      this.#log.warn({ peer: peerId, code: errorCode(err) }, "transport send failed");
    }
  }

  /** Registers a handler for authenticated payloads; returns a function that unregisters it. */
  onMessage(handler: MessageHandler): () => void {
    this.#handlers.add(handler);
    return () => {
      this.#handlers.delete(handler);
    };
  }

  /** True while an authenticated session with `peerId` is open. */
  isConnected(peerId: string): boolean {
    return this.#peers.get(peerId)?.session != null;
  }

  /** Ids of the peers with an open authenticated session. */
  connectedPeers(): string[] {
    return [...this.#peers.values()].filter((p) => p.session !== null).map((p) => p.id);
  }

  /** A snapshot of the counters. */
  stats(): TransportStats {
    const peers: Record<string, PeerStats> = {};
    for (const p of this.#peers.values()) {
      peers[p.id] = {
        connected: p.session !== null,
        queuedFrames: p.queue.length,
        queuedBytes: p.queueBytes,
        framesIn: p.framesIn,
        framesOut: p.framesOut,
        queueFullDrops: p.queueFullDrops,
      };
    }
    return {
      framesIn: this.#framesIn,
      framesOut: this.#framesOut,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      handshakesCompleted: this.#handshakesCompleted,
      idleTimeouts: this.#idleTimeouts,
      handlerErrors: this.#handlerErrors,
      dropped: { ...this.#drops },
      peers,
    };
  }

  /** Closes the listener, every socket and every timer. Idempotent. */
  stop(): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    this.#stopped = true;
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    for (const peer of this.#peers.values()) {
      if (peer.reconnectTimer !== null) clearTimeout(peer.reconnectTimer);
      peer.reconnectTimer = null;
    }
    for (const conn of [...this.#conns]) this.#close(conn, true);
    this.#stopping = new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
    });
    this.#log.info({ node: this.id }, "transport stopped");
    return this.#stopping;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  #listen(host: string, port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once("error", onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off("error", onError);
        // A TCP server bound to host:port has an AddressInfo address (not a pipe name or null).
        const address = this.#server.address() as AddressInfo;
        this.#host = address.address;
        this.#port = address.port;
        resolve();
      });
    });
  }

  #begin(): void {
    this.#log.info({ node: this.id, host: this.#host, port: this.#port, peers: this.#peers.size }, "transport listening");
    const tick = Math.max(10, Math.min(this.#settings.pingIntervalMs, this.#settings.idleTimeoutMs || Infinity));
    this.#pingTimer = setInterval(() => this.#onTick(), tick);
    for (const peer of this.#peers.values()) if (peer.dials) this.#dial(peer);
  }

  #dial(peer: Peer): void {
    if (this.#stopped || peer.session !== null || peer.dialing !== null) return;
    const socket = connect({ host: peer.host, port: peer.port, ...this.#localBinding(peer.host) });
    peer.dialing = this.#attach(socket, "dialer", peer);
  }

  #scheduleReconnect(peer: Peer): void {
    if (this.#stopped || !peer.dials || peer.reconnectTimer !== null || peer.session !== null || peer.dialing !== null) return;
    const base = peer.backoffMs;
    // Equal jitter: half fixed, half random, so restarted nodes do not redial in lockstep.
    const delayMs = Math.round(base / 2 + (base / 2) * this.#random());
    peer.backoffMs = Math.min(this.#settings.reconnectMaxMs, base * 2);
    this.#log.debug({ peer: peer.id, delayMs }, "transport reconnect scheduled");
    peer.reconnectTimer = setTimeout(() => {
      peer.reconnectTimer = null;
      this.#dial(peer);
    }, delayMs);
  }

  #onInbound(socket: Socket): void {
    if (this.#stopped) return void socket.destroy();
    if (!this.#isAllowed(socket.remoteAddress)) {
      // Before any read, write or key generation: a stranger costs one accept and one close.
      this.#drop("notMember");
      this.#log.debug({ address: socket.remoteAddress }, "transport connection refused: not a member's address");
      socket.destroy();
      this.#resolveAgainSoon();
      return;
    }
    const pending: Conn[] = [];
    for (const c of this.#conns) if (c.role === "acceptor" && c.phase !== "open") pending.push(c);
    if (pending.length >= this.#settings.maxPendingHandshakes) {
      // Evict rather than refuse: a full table must not lock members out (evictionVictim).
      const victim = evictionVictim(pending);
      if (victim !== undefined) {
        this.#drop("tooManyHandshakes");
        this.#log.debug({ address: victim.socket.remoteAddress, phase: victim.phase }, "transport pending handshake evicted");
        this.#close(victim, true);
      }
    }
    this.#attach(socket, "acceptor", null);
  }

  #attach(socket: Socket, role: Role, peer: Peer | null): Conn {
    const now = performance.now();
    const handshake = new Handshake({
      identity: this.#identity,
      clusterId: this.#clusterId,
      role,
      checkPeer: (peerId) => this.#checkPeer(role, peer, peerId),
    });
    const conn: Conn = {
      socket,
      openedAt: now,
      role,
      decoder: new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES),
      handshake,
      peer,
      phase: "hello",
      session: null,
      sendSeq: 0,
      receiveSeq: 0,
      lastReceivedAt: now,
      lastSentAt: now,
      handshakeTimer: null,
      awaitingDrain: false,
      closedOnPurpose: false,
    };
    this.#conns.add(conn);
    socket.setNoDelay(true);
    socket.on("error", (err) => {
      this.#log.debug({ peer: conn.peer?.id, role, code: errorCode(err) }, "transport socket error");
    });
    socket.on("close", () => this.#close(conn, false));
    socket.on("data", (chunk: Buffer) => this.#onData(conn, chunk));
    conn.handshakeTimer = setTimeout(() => {
      conn.handshakeTimer = null;
      if (conn.phase === "open" || conn.phase === "closed") return;
      this.#drop("handshakeTimeout");
      this.#log.debug({ peer: conn.peer?.id, role }, "transport handshake timed out");
      this.#close(conn, true);
    }, this.#settings.handshakeTimeoutMs);
    this.#write(conn, encodeFrame(handshake.helloBody));
    return conn;
  }

  /** Whom a HELLO may claim to be: a member, the one we dialed, and only a lower id inbound. */
  #checkPeer(role: Role, dialed: Peer | null, peerId: string): HandshakeFailure | null {
    const peer = this.#peers.get(peerId);
    if (peer === undefined) return "unknownPeer";
    if (role === "dialer") return dialed !== null && dialed.id === peerId ? null : "unknownPeer";
    // The lower id dials (one connection per pair); an inbound call from a higher id breaks that rule.
    return peer.dials ? "badHandshake" : null;
  }

  // ---- who may connect ---------------------------------------------------------------------

  /**
   * Looks the members' hosts up (IP literals as they are) into the allow-list. A failed lookup
   * keeps the addresses that host last resolved to (a DNS hiccup must not lock a member out); a
   * host never resolved stays out until it resolves.
   */
  async #resolveMembers(): Promise<void> {
    const allowed = new BlockList();
    const add = (address: string): void => allowed.addAddress(address, isIP(address) === 6 ? "ipv6" : "ipv4");
    for (const address of this.#extraAllowed) add(address);
    await Promise.all(
      this.#memberHosts.map(async (host) => {
        if (isIP(host) !== 0) return add(host);
        try {
          const addresses = (await lookup(host, { all: true })).map((a) => a.address);
          this.#lastResolved.set(host, addresses);
        } catch (err) {
          const kept = this.#lastResolved.get(host);
          this.#log.warn(
            { host, code: errorCode(err), kept: kept?.length ?? 0 },
            kept === undefined ? "transport could not resolve a member's host; its connections are refused until it resolves" : "transport could not resolve a member's host; keeping the addresses it had",
          );
        }
        for (const address of this.#lastResolved.get(host) ?? []) add(address);
      }),
    );
    this.#allowed = allowed;
    this.#resolvedAt = performance.now();
  }

  /** After a refusal: members given by name may have moved; look them up again, at most every 30 s. */
  #resolveAgainSoon(): void {
    if (this.#resolving || this.#stopped || this.#memberHosts.every((h) => isIP(h) !== 0)) return;
    if (performance.now() - this.#resolvedAt < RESOLVE_AGAIN_MS) return;
    this.#resolving = true;
    void this.#resolveMembers().finally(() => {
      this.#resolving = false;
    });
  }

  #isAllowed(address: string | undefined): boolean {
    if (address === undefined) return false;
    const family = isIP(address);
    return family !== 0 && this.#allowed.check(address, family === 6 ? "ipv6" : "ipv4");
  }

  /**
   * Dial from our own listen address when it is a specific one, so the peer's allow-list sees the
   * address the members know us by (on a loopback cluster of 127.0.0.2-4 the kernel would pick
   * 127.0.0.1). Not for a wildcard listen address, nor towards another address family.
   */
  #localBinding(peerHost: string): { localAddress?: string; family?: number } {
    const own = this.#host;
    const family = isIP(own);
    if (family === 0 || own === "0.0.0.0" || own === "::") return {};
    const peerFamily = isIP(peerHost);
    if (peerFamily !== 0 && peerFamily !== family) return {};
    return { localAddress: own, family };
  }

  // ---- receive path -------------------------------------------------------------------------

  #onData(conn: Conn, chunk: Buffer): void {
    if (conn.phase === "closed") return;
    try {
      this.#bytesIn += chunk.length;
      conn.decoder.push(chunk);
      // A handler or a rejected frame may close the conn mid-loop; the helper re-reads the phase.
      while (!isClosed(conn)) {
        const step = conn.decoder.next();
        if (step.kind === "needMore") return;
        if (step.kind === "error") return this.#reject(conn, step.reason);
        if (conn.phase === "open") this.#onSealed(conn, step.body);
        else this.#onHandshakeFrame(conn, step.body);
      }
    } catch (err) {
      // Defensive: peer input must never become an uncaught exception.
      this.#drop("internal");
      this.#log.warn({ peer: conn.peer?.id, code: errorCode(err) }, "transport receive failed");
      this.#close(conn, true);
    }
  }

  #onHandshakeFrame(conn: Conn, body: Buffer): void {
    if (conn.phase === "hello") {
      const result = conn.handshake.receiveHello(body);
      if (!result.ok) return this.#reject(conn, result.reason);
      conn.phase = "auth";
      this.#write(conn, encodeFrame(result.authBody));
      return;
    }
    const result = conn.handshake.receiveAuth(body);
    if (!result.ok) return this.#reject(conn, result.reason);
    this.#establish(conn, result.session);
  }

  #establish(conn: Conn, session: Session): void {
    // checkPeer admitted only member ids, so the peer exists.
    const peer = this.#peers.get(session.peerId);
    if (peer === undefined) return this.#reject(conn, "unknownPeer");
    if (conn.handshakeTimer !== null) clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = null;
    conn.decoder.setMaxFrameBytes(this.#settings.maxFrameBytes);
    conn.phase = "open";
    conn.session = session;
    conn.peer = peer;
    conn.lastReceivedAt = performance.now();
    const previous = peer.session;
    peer.session = conn;
    if (peer.dialing === conn) peer.dialing = null;
    peer.backoffMs = this.#settings.reconnectBaseMs;
    this.#handshakesCompleted++;
    // The newest authenticated session wins: the old one is a leftover of a restart.
    if (previous !== null && previous !== conn) this.#close(previous, true);
    this.#log.info({ peer: peer.id, role: conn.role }, "transport peer connected");
  }

  #onSealed(conn: Conn, body: Buffer): void {
    const { session, peer } = conn;
    // An open conn always has both (set together in #establish).
    if (session === null || peer === null) return this.#reject(conn, "internal");
    const opened = openFrame(session.receiveKey, session.receiveDirection, body, conn.receiveSeq);
    if (!opened.ok) return this.#reject(conn, opened.reason);
    conn.receiveSeq++;
    conn.lastReceivedAt = performance.now();
    if (opened.kind === FrameKind.PING) return;
    this.#framesIn++;
    peer.framesIn++;
    this.#deliver(peer.id, opened.payload);
  }

  #deliver(from: string, payload: Buffer): void {
    if (this.#handlers.size === 0) return this.#drop("noHandler");
    for (const handler of this.#handlers) {
      try {
        const result = handler(from, payload);
        if (result instanceof Promise) {
          result.catch((err: unknown) => this.#onHandlerError(from, err));
        }
      } catch (err) {
        this.#onHandlerError(from, err);
      }
    }
  }

  #onHandlerError(from: string, err: unknown): void {
    this.#handlerErrors++;
    this.#log.warn({ peer: from, error: err instanceof Error ? err.message : String(err) }, "transport message handler failed");
  }

  /** Counts `reason` and closes the connection: after any bad frame the stream is not trusted. */
  #reject(conn: Conn, reason: DropReason): void {
    this.#drop(reason);
    const fields = { peer: conn.peer?.id, role: conn.role, reason, address: conn.socket.remoteAddress };
    // Noise from unauthenticated sockets stays at debug so a scanner cannot flood the log.
    if (conn.phase === "open") this.#log.warn(fields, "transport frame rejected; closing session");
    else this.#log.debug(fields, "transport handshake rejected");
    this.#close(conn, true);
  }

  #close(conn: Conn, onPurpose: boolean): void {
    if (conn.phase === "closed") return;
    const wasOpen = conn.phase === "open";
    conn.phase = "closed";
    conn.closedOnPurpose ||= onPurpose;
    if (!conn.closedOnPurpose && conn.decoder.bufferedBytes > 0) this.#drop("truncated");
    if (conn.handshakeTimer !== null) clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = null;
    this.#conns.delete(conn);
    conn.socket.destroy();
    const peer = conn.peer;
    if (peer === null) return;
    if (peer.dialing === conn) peer.dialing = null;
    if (peer.session === conn) {
      peer.session = null;
      for (let i = 0; i < peer.queue.length; i++) this.#drop("peerDown");
      peer.queue = [];
      peer.queueBytes = 0;
      this.#log.info({ peer: peer.id }, "transport peer disconnected");
    } else if (wasOpen) {
      return; // a replaced session: the peer is still connected through the new one
    }
    this.#scheduleReconnect(peer);
  }

  // ---- send path ----------------------------------------------------------------------------

  #scheduleFlush(peer: Peer): void {
    if (peer.flushScheduled) return;
    peer.flushScheduled = true;
    // Batch every send() of this tick into one corked write.
    queueMicrotask(() => {
      peer.flushScheduled = false;
      try {
        this.#flush(peer);
      } catch (err) {
        this.#drop("internal");
        this.#log.warn({ peer: peer.id, code: errorCode(err) }, "transport flush failed");
      }
    });
  }

  #flush(peer: Peer): void {
    const conn = peer.session;
    if (conn === null || conn.phase !== "open" || conn.session === null || conn.awaitingDrain) return;
    const { socket, session } = conn;
    socket.cork();
    try {
      // Stop at Node's high-water mark: the rest waits in our bounded queue, not in the socket.
      while (peer.queue.length > 0 && !socket.writableNeedDrain) {
        const payload = peer.queue.shift();
        if (payload === undefined) break;
        peer.queueBytes -= payload.length;
        const frame = sealFrame(session.sendKey, session.sendDirection, conn.sendSeq++, FrameKind.DATA, payload);
        this.#write(conn, frame);
        this.#framesOut++;
        peer.framesOut++;
      }
    } finally {
      socket.uncork();
    }
    if (peer.queue.length > 0 && conn.phase === "open") {
      conn.awaitingDrain = true;
      socket.once("drain", () => {
        conn.awaitingDrain = false;
        this.#scheduleFlush(peer);
      });
    }
  }

  #write(conn: Conn, frame: Buffer): void {
    if (conn.phase === "closed" || conn.socket.destroyed) return;
    conn.lastSentAt = performance.now();
    this.#bytesOut += frame.length;
    conn.socket.write(frame);
  }

  #onTick(): void {
    const now = performance.now();
    const { idleTimeoutMs, pingIntervalMs } = this.#settings;
    for (const conn of [...this.#conns]) {
      if (conn.phase !== "open" || conn.session === null) continue;
      if (idleTimeoutMs > 0 && now - conn.lastReceivedAt > idleTimeoutMs) {
        this.#idleTimeouts++;
        this.#log.warn({ peer: conn.peer?.id }, "transport session idle; closing");
        this.#close(conn, true);
        continue;
      }
      // A congested socket already proves liveness to the peer once it drains; skip the ping.
      if (now - conn.lastSentAt >= pingIntervalMs && !conn.awaitingDrain && !conn.socket.writableNeedDrain) {
        this.#write(conn, sealFrame(conn.session.sendKey, conn.session.sendDirection, conn.sendSeq++, FrameKind.PING, new Uint8Array(0)));
      }
    }
  }

  /** Counts a drop; the reasons in WARNED_DROPS are also logged at warn, rate-limited. */
  #drop(reason: DropReason, fields?: Record<string, unknown>): void {
    this.#drops[reason]++;
    if (REFUSAL_REASONS.has(reason) && this.#refusedChannel.hasSubscribers) this.#refusedChannel.publish({ reason });
    if (WARNED_DROPS.has(reason)) this.#warnDrop(reason, fields ?? {});
  }

  #warnDrop(reason: DropReason, fields: Record<string, unknown>): void {
    const now = performance.now();
    const last = this.#dropWarnings.get(reason);
    if (last !== undefined && now - last.at < DROP_WARN_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    this.#dropWarnings.set(reason, { at: now, suppressed: 0 });
    this.#log.warn({ reason, ...fields, notLoggedSince: last?.suppressed ?? 0, total: this.#drops[reason] }, "transport dropped an outgoing payload");
  }
}
