// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Wire frames of the cluster transport (docs/transport.md). Pure: no sockets, no timers, no clock.
 *
 * On the wire every frame is a 4-byte big-endian body length followed by the body. The body's first
 * byte is its kind. After the handshake every body is sealed:
 *
 *   kind (1) | seq (8, big-endian) | payload | HMAC-SHA256(key, direction || kind || seq || payload) (32)
 *
 * The key is per session and per direction; `direction` is in the MAC input as well so a frame
 * can never be reflected back to its sender, and `seq` must be exactly the next one expected.
 */
import { createHmac, timingSafeEqual, type KeyObject } from "node:crypto";

/** Bytes of the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;
/** Default hard cap on a frame body after the handshake: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Largest body the 4-byte prefix can express. */
export const MAX_ENCODABLE_FRAME_BYTES = 0xffff_ffff;

/** Frame kinds (the body's first byte). HELLO and AUTH are the handshake; DATA and PING are sealed. */
export const FrameKind = Object.freeze({ HELLO: 1, AUTH: 2, DATA: 3, PING: 4 } as const);
export type SealedKind = typeof FrameKind.DATA | typeof FrameKind.PING;

/** Which way a sealed frame travels; bound into its MAC. */
export const Direction = Object.freeze({ DIALER_TO_ACCEPTOR: 0, ACCEPTOR_TO_DIALER: 1 } as const);
export type Direction = (typeof Direction)[keyof typeof Direction];

const SEQ_BYTES = 8;
/** HMAC-SHA256 tag length. */
export const TAG_BYTES = 32;
/** kind + seq + tag: what sealing adds to a payload. */
export const SEALED_OVERHEAD_BYTES = 1 + SEQ_BYTES + TAG_BYTES;

/** Prefixes `body` with its length. The caller keeps bodies under its own maximum. */
export function encodeFrame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, LENGTH_PREFIX_BYTES);
  return out;
}

/** One step of the decoder: a complete body, a request for more bytes, or a fatal stream error. */
export type DecodeStep =
  | { readonly kind: "frame"; readonly body: Buffer }
  | { readonly kind: "needMore" }
  | { readonly kind: "error"; readonly reason: "oversize" | "malformed" };

/**
 * Splits a byte stream into frame bodies. A length prefix above the current maximum is an error
 * reported as soon as the 4 prefix bytes arrive, before any body byte is buffered or allocated, so
 * a hostile prefix costs nothing. Frames are pulled one at a time because the maximum changes
 * after the handshake (tiny before, `maxFrameBytes` after) and one chunk can straddle both.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #maxFrameBytes: number;
  #failed = false;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Changes the cap for frames not yet started. */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet returned as a frame (non-zero at close: a truncated frame). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (this.#failed || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  next(): DecodeStep {
    if (this.#failed) return { kind: "error", reason: "malformed" };
    if (this.#buffered < LENGTH_PREFIX_BYTES) return { kind: "needMore" };
    const length = this.#peekLength();
    if (length > this.#maxFrameBytes) return this.#fail("oversize");
    // An empty body has no kind byte: no sender of ours produces one.
    if (length === 0) return this.#fail("malformed");
    if (this.#buffered < LENGTH_PREFIX_BYTES + length) return { kind: "needMore" };
    this.#consume(LENGTH_PREFIX_BYTES);
    return { kind: "frame", body: this.#consume(length) };
  }

  #fail(reason: "oversize" | "malformed"): DecodeStep {
    this.#failed = true;
    this.#chunks = [];
    this.#buffered = 0;
    return { kind: "error", reason };
  }

  #peekLength(): number {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= LENGTH_PREFIX_BYTES) return first.readUInt32BE(0);
    const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES);
    let filled = 0;
    for (const chunk of this.#chunks) {
      const take = Math.min(chunk.length, LENGTH_PREFIX_BYTES - filled);
      chunk.copy(prefix, filled, 0, take);
      filled += take;
      if (filled === LENGTH_PREFIX_BYTES) break;
    }
    return prefix.readUInt32BE(0);
  }

  /** Removes and returns the first `n` buffered bytes (the caller checked they are there). */
  #consume(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    // The bytes span chunks: copy them once into a buffer of exactly the frame's size.
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0];
      if (chunk === undefined) break;
      const take = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    return out;
  }
}

function macOf(key: KeyObject, direction: Direction, header: Uint8Array, payload: Uint8Array): Buffer {
  return createHmac("sha256", key).update(Uint8Array.of(direction)).update(header).update(payload).digest();
}

/**
 * Seals `payload` as frame number `seq` of `direction` and returns the wire bytes, length prefix
 * included. `seq` is a non-negative safe integer, one more than the previous frame's.
 */
export function sealFrame(key: KeyObject, direction: Direction, seq: number, kind: SealedKind, payload: Uint8Array): Buffer {
  const bodyLength = SEALED_OVERHEAD_BYTES + payload.length;
  const out = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + bodyLength);
  out.writeUInt32BE(bodyLength, 0);
  out[LENGTH_PREFIX_BYTES] = kind;
  out.writeBigUInt64BE(BigInt(seq), LENGTH_PREFIX_BYTES + 1);
  out.set(payload, LENGTH_PREFIX_BYTES + 1 + SEQ_BYTES);
  const header = out.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + 1 + SEQ_BYTES);
  macOf(key, direction, header, payload).copy(out, LENGTH_PREFIX_BYTES + 1 + SEQ_BYTES + payload.length);
  return out;
}

/** Why a sealed body was refused. */
export type OpenFailure = "malformed" | "forged" | "replayed" | "outOfOrder";

export type OpenResult =
  | { readonly ok: true; readonly kind: SealedKind; readonly seq: number; readonly payload: Buffer }
  | { readonly ok: false; readonly reason: OpenFailure };

/**
 * Verifies a sealed body (no length prefix) received on `direction` when frame `expectedSeq` is
 * due. The tag is checked before the sequence number, so a frame is "replayed" only if it is
 * authentic; nothing of the payload is trusted until both checks pass. Never throws.
 */
export function openFrame(key: KeyObject, direction: Direction, body: Buffer, expectedSeq: number): OpenResult {
  if (body.length < SEALED_OVERHEAD_BYTES) return { ok: false, reason: "malformed" };
  const kind = body[0];
  if (kind !== FrameKind.DATA && kind !== FrameKind.PING) return { ok: false, reason: "malformed" };
  const header = body.subarray(0, 1 + SEQ_BYTES);
  const payload = body.subarray(1 + SEQ_BYTES, body.length - TAG_BYTES);
  const tag = body.subarray(body.length - TAG_BYTES);
  if (!timingSafeEqual(macOf(key, direction, header, payload), tag)) return { ok: false, reason: "forged" };
  const seq = body.readBigUInt64BE(1);
  const expected = BigInt(expectedSeq);
  if (seq < expected) return { ok: false, reason: "replayed" };
  // TCP delivers in order and the sender never skips, so a gap means frames were cut out.
  if (seq > expected) return { ok: false, reason: "outOfOrder" };
  return { ok: true, kind, seq: expectedSeq, payload };
}
