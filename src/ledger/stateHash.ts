// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The state hash replicas compare: keccak256 of the UTF-8 JSON of the canonical snapshot
 * (snapshot.ts). The snapshot fixes key order, sorts every list and writes every amount as a
 * decimal string, so `JSON.stringify` never meets a bigint and one state has one hash. It costs a
 * full serialization: compute it on demand (per seal, per snapshot, in tests), not per transfer.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { Hash } from "../protocol/index.ts";
import type { LedgerState } from "./ledgerState.ts";
import { takeSnapshot, type LedgerSnapshot } from "./snapshot.ts";

const UTF8 = new TextEncoder();
const HEX_DIGITS = "0123456789abcdef";

/** keccak256 of a snapshot's canonical JSON, lowercase 0x hex. */
export function hashSnapshot(snapshot: LedgerSnapshot): Hash {
  const digest = keccak_256(UTF8.encode(JSON.stringify(snapshot)));
  let hex = "0x";
  for (const b of digest) hex += HEX_DIGITS.charAt(b >> 4) + HEX_DIGITS.charAt(b & 15);
  // "0x" and 64 hex digits, built just above.
  return hex as Hash;
}

/** The ledger's state hash: equal on two replicas exactly when their states are equal. */
export function stateHash(state: LedgerState): Hash {
  return hashSnapshot(takeSnapshot(state));
}
