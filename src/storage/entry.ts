// SPDX-License-Identifier: AGPL-3.0-or-later
/** Entry hashing: chains log entries and lets storage detect a corrupt record. Pure. */
import { createHash } from "node:crypto";
import type { LogEntry } from "./logStore.ts";

/** prevHash of the entry at index 1. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * sha256 over index (u64), term (u64), the leader's length-prefixed UTF-8, prevHash (hex text,
 * length-prefixed) and data (length-prefixed), all lengths u64 big-endian. Lowercase hex, 64
 * characters. Node's native sha256: this runs several times per entry (leader, follower, store).
 */
export function hashEntry(index: number, term: number, leader: string, prevHash: string, data: Uint8Array): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`not a log position: ${index}`);
  if (!Number.isSafeInteger(term) || term < 0) throw new RangeError(`not a log position: ${term}`);
  const leaderBytes = Buffer.byteLength(leader, "utf8");
  const prevBytes = Buffer.byteLength(prevHash, "utf8");
  const head = Buffer.allocUnsafe(16 + 8 + leaderBytes + 8 + prevBytes + 8);
  let o = head.writeBigUInt64BE(BigInt(index), 0);
  o = head.writeBigUInt64BE(BigInt(term), o);
  o = head.writeBigUInt64BE(BigInt(leaderBytes), o);
  o += head.write(leader, o, "utf8");
  o = head.writeBigUInt64BE(BigInt(prevBytes), o);
  o += head.write(prevHash, o, "utf8");
  head.writeBigUInt64BE(BigInt(data.length), o);
  return createHash("sha256").update(head).update(data).digest("hex");
}

/** Builds an entry with its hash. */
export function makeEntry(index: number, term: number, leader: string, prevHash: string, data: Uint8Array): LogEntry {
  return { index, term, leader, prevHash, data, hash: hashEntry(index, term, leader, prevHash, data) };
}

/** True when `entry.hash` matches its fields. */
export function isEntryIntact(entry: LogEntry): boolean {
  return hashEntry(entry.index, entry.term, entry.leader, entry.prevHash, entry.data) === entry.hash;
}
