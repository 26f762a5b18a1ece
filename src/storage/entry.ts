// SPDX-License-Identifier: AGPL-3.0-or-later
/** Entry hashing: chains log entries and lets storage detect a corrupt record. Pure. */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { LogEntry } from "./logStore.ts";

/** prevHash of the entry at index 1. */
export const GENESIS_HASH = "0".repeat(64);

function u64(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a log position: ${n}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/**
 * sha256 over index (u64), term (u64), the leader's length-prefixed UTF-8, prevHash (hex text,
 * length-prefixed) and data (length-prefixed). Lowercase hex, 64 characters.
 */
export function hashEntry(index: number, term: number, leader: string, prevHash: string, data: Uint8Array): string {
  const h = sha256.create();
  h.update(u64(index));
  h.update(u64(term));
  for (const part of [utf8ToBytes(leader), utf8ToBytes(prevHash), data]) {
    h.update(u64(part.length));
    h.update(part);
  }
  return bytesToHex(h.digest());
}

/** Builds an entry with its hash. */
export function makeEntry(index: number, term: number, leader: string, prevHash: string, data: Uint8Array): LogEntry {
  return { index, term, leader, prevHash, data, hash: hashEntry(index, term, leader, prevHash, data) };
}

/** True when `entry.hash` matches its fields. */
export function isEntryIntact(entry: LogEntry): boolean {
  return hashEntry(entry.index, entry.term, entry.leader, entry.prevHash, entry.data) === entry.hash;
}
