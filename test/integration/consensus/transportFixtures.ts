// SPDX-License-Identifier: AGPL-3.0-or-later
/** Helpers for the transport integration tests: clusters on 127.0.0.1, a frame-aware proxy, raw clients. */
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { FrameDecoder, FrameKind, encodeFrame } from "../../../src/consensus/frames.ts";
import { Handshake, type Session } from "../../../src/consensus/handshake.ts";
import { generateIdentity, type NodeIdentity } from "../../../src/consensus/identity.ts";
import { TcpTransport, type TcpTransportOptions, type TransportStats } from "../../../src/consensus/tcpTransport.ts";

export const CLUSTER_ID = "delta-test";
const HOST = "127.0.0.1";

/** Polls `predicate` until it holds; fails with `what` after the deadline. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `n` identities sorted by id, so index order is dial order (the lower id dials). */
export function sortedIdentities(n: number): NodeIdentity[] {
  return Array.from({ length: n }, () => generateIdentity()).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** A port that was free a moment ago (listen on 0, close): lets members be configured before they start. */
export async function reservePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  // A TCP server bound to a host has an AddressInfo address.
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

/** Messages a transport received, as text. */
export class Inbox {
  readonly messages: { from: string; text: string }[] = [];

  constructor(transport: TcpTransport) {
    transport.onMessage((from, payload) => {
      this.messages.push({ from, text: Buffer.from(payload).toString("utf8") });
    });
  }

  has(from: string, text: string): boolean {
    return this.messages.some((m) => m.from === from && m.text === text);
  }

  texts(from: string): string[] {
    return this.messages.filter((m) => m.from === from).map((m) => m.text);
  }
}

/** The sum of the inbound drop counters that a hostile connection can raise. */
export function hostileDrops(stats: TransportStats): number {
  const d = stats.dropped;
  return (
    d.forged + d.replayed + d.outOfOrder + d.malformed + d.oversize + d.truncated + d.unknownPeer + d.badHandshake + d.handshakeTimeout + d.tooManyHandshakes
  );
}

/** A fixed set of members with reserved ports; nodes are started, stopped and restarted by index. */
export class Cluster {
  readonly identities: NodeIdentity[];
  readonly ports: number[];
  readonly nodes: (TcpTransport | null)[];
  readonly inboxes: (Inbox | null)[];
  readonly #options: Partial<TcpTransportOptions>;

  private constructor(identities: NodeIdentity[], ports: number[], options: Partial<TcpTransportOptions>) {
    this.identities = identities;
    this.ports = ports;
    this.nodes = identities.map(() => null);
    this.inboxes = identities.map(() => null);
    this.#options = options;
  }

  static async create(identities: NodeIdentity[], options: Partial<TcpTransportOptions> = {}): Promise<Cluster> {
    const ports: number[] = [];
    for (let i = 0; i < identities.length; i++) ports.push(await reservePort());
    return new Cluster(identities, ports, options);
  }

  id(i: number): string {
    return this.identity(i).id;
  }

  identity(i: number): NodeIdentity {
    const identity = this.identities[i];
    if (identity === undefined) throw new Error(`no member ${i}`);
    return identity;
  }

  node(i: number): TcpTransport {
    const node = this.nodes[i];
    if (node == null) throw new Error(`node ${i} is not running`);
    return node;
  }

  inbox(i: number): Inbox {
    const inbox = this.inboxes[i];
    if (inbox == null) throw new Error(`node ${i} is not running`);
    return inbox;
  }

  /** Starts member `i`; `via` maps a peer index to another port to dial it at (a proxy). */
  async start(i: number, via: Record<number, number> = {}): Promise<TcpTransport> {
    const members = this.identities.map((identity, j) => ({ id: identity.id, host: HOST, port: via[j] ?? this.ports[j] ?? 0 }));
    const node = await TcpTransport.start({
      reconnectBaseMs: 10,
      reconnectMaxMs: 200,
      handshakeTimeoutMs: 2000,
      ...this.#options,
      identity: this.identity(i),
      clusterId: CLUSTER_ID,
      members,
      host: HOST,
      port: this.ports[i] ?? 0,
    });
    this.nodes[i] = node;
    this.inboxes[i] = new Inbox(node);
    return node;
  }

  async stop(i: number): Promise<void> {
    await this.nodes[i]?.stop();
    this.nodes[i] = null;
    this.inboxes[i] = null;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.stop(i)));
  }

  /** Waits until members `i` and `j` both see an authenticated session with each other. */
  async connected(i: number, j: number): Promise<void> {
    await waitFor(() => this.nodes[i]?.isConnected(this.id(j)) === true && this.nodes[j]?.isConnected(this.id(i)) === true, `${i}<->${j} connected`);
  }

  /** Sends `text` from `i` to `j` and waits for it to arrive. */
  async deliver(i: number, j: number, text: string): Promise<void> {
    this.node(i).send(this.id(j), Buffer.from(text));
    await waitFor(() => this.inboxes[j]?.has(this.id(i), text) === true, `${text} from ${i} at ${j}`);
  }
}

/** What the proxy does to the next sealed DATA frame from client to server. */
export type Tamper = (body: Buffer) => { write: Buffer[]; thenClose?: boolean };

/**
 * A TCP proxy that understands frames from client to server: it records them (for replay and
 * fuzzing with real frames), can tamper with the next DATA frame, and can stop reading from clients
 * (a peer that stops reading).
 */
export class FrameProxy {
  /** Wire frames (length prefix included) seen from clients, in order. */
  readonly captured: Buffer[] = [];
  #server: Server;
  #targetPort: number;
  #sockets = new Set<Socket>();
  #clients = new Set<Socket>();
  #tamper: Tamper | null = null;
  #paused = false;

  private constructor(server: Server, targetPort: number) {
    this.#server = server;
    this.#targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<FrameProxy> {
    const server = createServer();
    const proxy = new FrameProxy(server, targetPort);
    server.on("connection", (client) => proxy.#onClient(client));
    server.listen(0, HOST);
    await once(server, "listening");
    return proxy;
  }

  get port(): number {
    // A TCP server bound to a host has an AddressInfo address.
    return (this.#server.address() as AddressInfo).port;
  }

  /** Applies `tamper` to the next DATA frame a client sends. */
  tamperNext(tamper: Tamper): void {
    this.#tamper = tamper;
  }

  /** Stops reading from every client: their writes back up as if the server stopped reading. */
  pauseClients(): void {
    this.#paused = true;
    for (const c of this.#clients) c.pause();
  }

  resumeClients(): void {
    this.#paused = false;
    for (const c of this.#clients) c.resume();
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#server.close();
    await once(this.#server, "close");
  }

  #onClient(client: Socket): void {
    const upstream = connect({ host: HOST, port: this.#targetPort });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    this.#clients.add(client);
    client.on("close", () => this.#clients.delete(client));
    if (this.#paused) client.pause();
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    client.on("data", (chunk: Buffer) => {
      decoder.push(chunk);
      for (;;) {
        const step = decoder.next();
        if (step.kind !== "frame") return;
        const frame = encodeFrame(step.body);
        this.captured.push(frame);
        const tamper = this.#tamper;
        if (tamper !== null && step.body[0] === FrameKind.DATA) {
          this.#tamper = null;
          const { write, thenClose } = tamper(step.body);
          for (const b of write) upstream.write(b);
          if (thenClose === true) {
            upstream.end();
            client.destroy();
            return;
          }
          continue;
        }
        upstream.write(frame);
      }
    });
  }
}

/** Connects to `port`, writes `chunks`, half-closes, and resolves once the server has closed too. */
export async function sendRaw(port: number, chunks: Buffer[], options: { end?: boolean } = {}): Promise<void> {
  const socket = connect({ host: HOST, port });
  socket.on("error", () => {});
  socket.resume(); // discard the server's HELLO
  await once(socket, "connect");
  for (const c of chunks) socket.write(c);
  if (options.end !== false) socket.end();
  if (!socket.destroyed) await once(socket, "close");
}

/**
 * `count` sockets to `port` that never send a byte (they read and discard the server's HELLO) and
 * re-dial as soon as the server closes them: an attacker holding the handshake table full.
 */
export class SocketFlood {
  readonly #port: number;
  readonly #sockets = new Set<Socket>();
  #stopped = false;
  /** Connections opened so far. */
  opened = 0;

  constructor(port: number, count: number) {
    this.#port = port;
    for (let i = 0; i < count; i++) this.#open();
  }

  #open(): void {
    if (this.#stopped) return;
    const socket = connect({ host: HOST, port: this.#port });
    this.opened++;
    this.#sockets.add(socket);
    socket.on("error", () => {});
    socket.resume(); // read, so the server's close is seen at once
    socket.on("close", () => {
      this.#sockets.delete(socket);
      setImmediate(() => this.#open());
    });
  }

  /** Stops re-dialing and closes every socket; resolves once all are closed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(
      [...this.#sockets].map(async (socket) => {
        const closed = once(socket, "close");
        socket.destroy();
        await closed;
      }),
    );
  }
}

/** A hand-driven client that completes a real handshake as member `identity`, then sends what it likes. */
export class HandshakenClient {
  readonly socket: Socket;
  readonly session: Session;

  private constructor(socket: Socket, session: Session) {
    this.socket = socket;
    this.session = session;
  }

  /** Dials `port` as `identity`; rejects if the server refuses the handshake. */
  static async connect(identity: NodeIdentity, port: number, clusterId = CLUSTER_ID): Promise<HandshakenClient> {
    const socket = connect({ host: HOST, port });
    socket.on("error", () => {});
    const handshake = new Handshake({ identity, clusterId, role: "dialer", checkPeer: () => null });
    const decoder = new FrameDecoder(1024);
    socket.write(encodeFrame(handshake.helloBody));
    const session = await new Promise<Session>((resolve, reject) => {
      socket.on("close", () => reject(new Error("closed during handshake")));
      socket.on("data", (chunk: Buffer) => {
        decoder.push(chunk);
        for (;;) {
          const step = decoder.next();
          if (step.kind !== "frame") return;
          if (step.body[0] === FrameKind.HELLO) {
            const result = handshake.receiveHello(step.body);
            if (!result.ok) return reject(new Error(result.reason));
            socket.write(encodeFrame(result.authBody));
          } else if (step.body[0] === FrameKind.AUTH) {
            const result = handshake.receiveAuth(step.body);
            if (!result.ok) return reject(new Error(result.reason));
            return resolve(result.session);
          }
        }
      });
    });
    socket.removeAllListeners("data");
    socket.removeAllListeners("close");
    socket.resume();
    return new HandshakenClient(socket, session);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves once the server has closed the connection. */
  async closed(): Promise<void> {
    if (this.socket.destroyed) return;
    await once(this.socket, "close");
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export { generateIdentity };
