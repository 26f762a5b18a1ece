// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Consensus messages as JSON-safe values, for the `data` of our custom Mokka packets (Mokka
 * serialises packets as JSON). Byte fields (entry data, snapshot data) travel as base64 strings.
 * `decodeMessage` never throws: it returns the shape check's verdict (tryParseMessage).
 */
import type { LogEntry } from "../storage/index.ts";
import { tryParseMessage, type ConsensusMessage, type ParseResult } from "./messages.ts";

/** Mokka packet type of our log-replication messages (Mokka's own are 10-12; it ignores others). */
export const LOG_PACKET_TYPE = 100;

/**
 * Mokka packet type of application messages between members (the node's settlement signatures):
 * authenticated by the transport like everything else, handed to the application unparsed.
 */
export const APP_PACKET_TYPE = 101;

/**
 * Upper bound on what one entry adds to an encoded append besides its base64 data: the JSON keys
 * and punctuation (64 bytes), index and term (at most 16 digits each), prevHash and hash (64 hex
 * digits each), the leader id (at most 256 characters, messages.ts) and a separating comma: 481,
 * rounded up. None of these fields needs JSON escaping (digits, hex, base64).
 */
export const ENTRY_WIRE_OVERHEAD_BYTES = 512;

/**
 * Upper bound on an append (or snapshot) message without its entries' (or snapshot's) data, once
 * wrapped in Mokka's packet: the message's own fields (< 600 bytes), and Mokka's state, type,
 * term, publicKey (66 hex), proof (nonce:aggregatedKey:signature, about 150 characters) and
 * timestamp (< 300 bytes). Generous, so the estimate never falls short.
 */
export const MESSAGE_WIRE_OVERHEAD_BYTES = 4096;

/** Base64 length of `n` bytes: the 4/3 inflation that wire messages pay for binary data. */
export function base64Bytes(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * Upper bound on the bytes an entry with `dataLength` bytes of data adds to an encoded append:
 * what the log core counts against its per-append and in-flight byte budgets.
 */
export function entryWireBytes(dataLength: number): number {
  return base64Bytes(dataLength) + ENTRY_WIRE_OVERHEAD_BYTES;
}

/**
 * The largest entry data (bytes) that still fits, alone, in one append of at most
 * `maxPayloadBytes` (a transport frame's payload limit). A larger entry could never be replicated:
 * the driver refuses it at propose time.
 */
export function maxEntryDataBytes(maxPayloadBytes: number): number {
  const room = maxPayloadBytes - MESSAGE_WIRE_OVERHEAD_BYTES - ENTRY_WIRE_OVERHEAD_BYTES;
  return room <= 0 ? 0 : Math.floor(room / 4) * 3;
}

/** The largest snapshot data (bytes) whose snapshot message fits in `maxPayloadBytes`. */
export function maxSnapshotDataBytes(maxPayloadBytes: number): number {
  const room = maxPayloadBytes - MESSAGE_WIRE_OVERHEAD_BYTES;
  return room <= 0 ? 0 : Math.floor(room / 4) * 3;
}

function entryToWire(e: LogEntry): Record<string, unknown> {
  return { index: e.index, term: e.term, leader: e.leader, prevHash: e.prevHash, data: Buffer.from(e.data).toString("base64"), hash: e.hash };
}

/** `message` as a JSON-safe object. */
export function encodeMessage(message: ConsensusMessage): Record<string, unknown> {
  switch (message.type) {
    case "append":
      return { ...message, entries: message.entries.map(entryToWire) };
    case "snapshot":
      return { ...message, data: Buffer.from(message.data).toString("base64") };
    default:
      return { ...message };
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bytesFromWire(value: unknown): unknown {
  if (typeof value !== "string" || value.length % 4 !== 0 || !BASE64.test(value)) return value; // left for the schema to refuse
  const buf = Buffer.from(value, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Decodes and shape-checks untrusted `data`; never throws. */
export function decodeMessage(data: unknown): ParseResult<ConsensusMessage> {
  try {
    if (typeof data !== "object" || data === null || Array.isArray(data)) return { ok: false, error: "not an object" };
    const raw = data as Record<string, unknown>; // an object from JSON.parse: plain own properties
    let value: unknown = raw;
    if (raw["type"] === "append" && Array.isArray(raw["entries"])) {
      value = {
        ...raw,
        entries: raw["entries"].map((e: unknown) =>
          typeof e === "object" && e !== null ? { ...(e as Record<string, unknown>), data: bytesFromWire((e as Record<string, unknown>)["data"]) } : e,
        ),
      };
    } else if (raw["type"] === "snapshot") {
      value = { ...raw, data: bytesFromWire(raw["data"]) };
    }
    return tryParseMessage(value);
  } catch (cause) {
    return { ok: false, error: `undecodable: ${String(cause)}` };
  }
}
