// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The transport handshake (docs/transport.md §Handshake). Pure state machine: it produces and
 * consumes frame bodies, the caller moves them over a socket.
 *
 * Both sides send HELLO = kind | version | identity key (32) | ephemeral X25519 key (32) | nonce (32)
 * at once, then, on the peer's HELLO, AUTH = kind | Ed25519 signature over
 * transcript || role, where transcript = protocol id, cluster id, dialer HELLO, acceptor HELLO.
 * The transcript holds both identities, both nonces and both ephemeral keys, so a signature is
 * good for this one session only. Per-direction MAC keys come from HKDF-SHA256 over the X25519
 * shared secret, salted with the transcript hash.
 */
import {
  createHash,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import { Direction, FrameKind } from "./frames.ts";
import { publicKeyFromId, signMessage, verifySignature, type NodeIdentity } from "./identity.ts";

/** Names the protocol in every signature and key derivation. */
export const PROTOCOL_ID = "delta-sidechain/transport/1";
const PROTOCOL_VERSION = 1;

/** HELLO body length: kind, version, identity key, ephemeral key, nonce. */
export const HELLO_BYTES = 1 + 1 + 32 + 32 + 32;
/** AUTH body length: kind, signature. */
export const AUTH_BYTES = 1 + 64;
/** Largest frame accepted before the handshake completes: nothing unauthenticated may be big. */
export const HANDSHAKE_MAX_FRAME_BYTES = Math.max(HELLO_BYTES, AUTH_BYTES);

const X25519_SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

/** Dialer opened the TCP connection; acceptor accepted it. */
export type Role = "dialer" | "acceptor";

/** Why a handshake was refused. */
export type HandshakeFailure = "malformed" | "unknownPeer" | "badHandshake";

/** What the caller needs once both sides are proven: who, and the session's MAC keys. */
export interface Session {
  readonly peerId: string;
  readonly sendKey: KeyObject;
  readonly receiveKey: KeyObject;
  readonly sendDirection: Direction;
  readonly receiveDirection: Direction;
}

export interface HandshakeOptions {
  readonly identity: NodeIdentity;
  readonly clusterId: string;
  readonly role: Role;
  /** Vets the identity a peer claims in its HELLO, before anything is signed for it. */
  readonly checkPeer: (peerId: string) => HandshakeFailure | null;
}

export type HelloResult =
  | { readonly ok: true; readonly peerId: string; readonly authBody: Buffer }
  | { readonly ok: false; readonly reason: HandshakeFailure };

export type AuthResult = { readonly ok: true; readonly session: Session } | { readonly ok: false; readonly reason: HandshakeFailure };

interface PendingSession {
  readonly peerId: string;
  readonly peerKey: KeyObject;
  readonly transcript: Buffer;
  readonly keys: { readonly d2a: KeyObject; readonly a2d: KeyObject };
}

function rawX25519Public(key: KeyObject): Buffer {
  const der = key.export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32);
}

function roleByte(role: Role): number {
  return role === "dialer" ? 0 : 1;
}

/** The bytes both sides sign: protocol id, cluster id and both HELLOs in dialer, acceptor order. */
export function handshakeTranscript(clusterId: string, dialerHello: Uint8Array, acceptorHello: Uint8Array): Buffer {
  const protocol = Buffer.from(PROTOCOL_ID, "utf8");
  const cluster = Buffer.from(clusterId, "utf8");
  const lengths = Buffer.allocUnsafe(4);
  lengths.writeUInt16BE(protocol.length, 0);
  lengths.writeUInt16BE(cluster.length, 2);
  return Buffer.concat([lengths, protocol, cluster, dialerHello, acceptorHello]);
}

/**
 * One side of one handshake. Call `receiveHello` with the peer's HELLO (it returns the AUTH body
 * to send), then `receiveAuth` with the peer's AUTH. Never throws on peer input.
 */
export class Handshake {
  readonly role: Role;
  /** The HELLO body to send first. */
  readonly helloBody: Buffer;
  readonly #identity: NodeIdentity;
  readonly #clusterId: string;
  readonly #checkPeer: (peerId: string) => HandshakeFailure | null;
  #ephemeralPrivate: KeyObject | null;
  #pending: PendingSession | null = null;
  #done = false;

  constructor(options: HandshakeOptions) {
    this.role = options.role;
    this.#identity = options.identity;
    this.#clusterId = options.clusterId;
    this.#checkPeer = options.checkPeer;
    const ephemeral = generateKeyPairSync("x25519");
    this.#ephemeralPrivate = ephemeral.privateKey;
    const hello = Buffer.allocUnsafe(HELLO_BYTES);
    hello[0] = FrameKind.HELLO;
    hello[1] = PROTOCOL_VERSION;
    Buffer.from(options.identity.id, "hex").copy(hello, 2);
    rawX25519Public(ephemeral.publicKey).copy(hello, 34);
    randomBytes(32).copy(hello, 66);
    this.helloBody = hello;
  }

  receiveHello(body: Buffer): HelloResult {
    const ephemeralPrivate = this.#ephemeralPrivate;
    if (this.#pending !== null || this.#done || ephemeralPrivate === null) return { ok: false, reason: "badHandshake" };
    if (body.length !== HELLO_BYTES || body[0] !== FrameKind.HELLO) return { ok: false, reason: "malformed" };
    if (body[1] !== PROTOCOL_VERSION) return { ok: false, reason: "badHandshake" };
    const peerId = body.subarray(2, 34).toString("hex");
    // Our own HELLO echoed back (or a peer claiming our key) must not become a session with ourselves.
    if (peerId === this.#identity.id) return { ok: false, reason: "badHandshake" };
    const refusal = this.#checkPeer(peerId);
    if (refusal !== null) return { ok: false, reason: refusal };
    let peerKey: KeyObject;
    let shared: Buffer;
    try {
      peerKey = publicKeyFromId(peerId);
      const peerEphemeral = createPublicKey({
        key: Buffer.concat([X25519_SPKI_PREFIX, body.subarray(34, 66)]),
        format: "der",
        type: "spki",
      });
      shared = diffieHellman({ privateKey: ephemeralPrivate, publicKey: peerEphemeral });
    } catch {
      return { ok: false, reason: "badHandshake" };
    }
    // A low-order ephemeral key yields an all-zero secret that an attacker could predict.
    if (shared.every((b) => b === 0)) return { ok: false, reason: "badHandshake" };
    this.#ephemeralPrivate = null;

    const dialerHello = this.role === "dialer" ? this.helloBody : body;
    const acceptorHello = this.role === "dialer" ? body : this.helloBody;
    const transcript = handshakeTranscript(this.#clusterId, dialerHello, acceptorHello);
    const salt = createHash("sha256").update(transcript).digest();
    const derive = (label: string): KeyObject =>
      createSecretKey(Buffer.from(hkdfSync("sha256", shared, salt, `${PROTOCOL_ID} mac ${label}`, 32)));
    const keys = { d2a: derive("dialer->acceptor"), a2d: derive("acceptor->dialer") };
    shared.fill(0);
    this.#pending = { peerId, peerKey, transcript, keys };

    const signature = signMessage(this.#identity, Buffer.concat([transcript, Uint8Array.of(roleByte(this.role))]));
    const authBody = Buffer.allocUnsafe(AUTH_BYTES);
    authBody[0] = FrameKind.AUTH;
    signature.copy(authBody, 1);
    return { ok: true, peerId, authBody };
  }

  receiveAuth(body: Buffer): AuthResult {
    const pending = this.#pending;
    if (pending === null || this.#done) return { ok: false, reason: "badHandshake" };
    if (body.length !== AUTH_BYTES || body[0] !== FrameKind.AUTH) return { ok: false, reason: "malformed" };
    const peerRole: Role = this.role === "dialer" ? "acceptor" : "dialer";
    const signed = Buffer.concat([pending.transcript, Uint8Array.of(roleByte(peerRole))]);
    if (!verifySignature(pending.peerKey, signed, body.subarray(1))) return { ok: false, reason: "badHandshake" };
    this.#done = true;
    this.#pending = null;
    const dialer = this.role === "dialer";
    return {
      ok: true,
      session: {
        peerId: pending.peerId,
        sendKey: dialer ? pending.keys.d2a : pending.keys.a2d,
        receiveKey: dialer ? pending.keys.a2d : pending.keys.d2a,
        sendDirection: dialer ? Direction.DIALER_TO_ACCEPTOR : Direction.ACCEPTOR_TO_DIALER,
        receiveDirection: dialer ? Direction.ACCEPTOR_TO_DIALER : Direction.DIALER_TO_ACCEPTOR,
      },
    };
  }
}
