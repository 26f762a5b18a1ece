// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Ledger entries as replicated-log payloads: JSON with every bigint as a decimal string. Decoding
 * is strict (zod): a payload that does not decode is refused before the ledger sees it, so a bug
 * or a hostile leader cannot make `applyEntry` throw on a replica.
 */
import { z } from "zod";
import type { BlockEntry, DepositEntry, LedgerEntry, LedgerMessage, SealEntry, SettledEntry } from "../ledger/index.ts";
import type { Address, Hash, Hex } from "../protocol/index.ts";

/**
 * Not a ledger entry: the validators' signatures over a sealed epoch's settlement chunks, gathered
 * by the leader (src/node/settler.ts). In the log so that any node can serve them after a leader
 * change; every node checks them when it applies the entry.
 */
export interface SignaturesEntry {
  readonly type: "signatures";
  readonly epoch: bigint;
  /** The chunk size the settlement was built with (every node rebuilds the same chunks from it). */
  readonly maxItems: number;
  /** Per chunk, 65-byte signatures strictly ascending by signer. */
  readonly chunks: readonly (readonly Hex[])[];
}

/**
 * Not a ledger entry: the deposit watcher's scan cursor, shared by the leader so that a node that
 * becomes leader resumes there instead of rescanning the chain from `chain.fromBlock`. Appended
 * only after every deposit below `nextBlock` is committed (log order makes that visible to all).
 */
export interface DepositCursorEntry {
  readonly type: "depositCursor";
  /** The first block not yet scanned. */
  readonly nextBlock: number;
}

/**
 * Not a ledger entry: the chunk size of a sealed epoch's settlement, fixed by the leader before any
 * signature is asked for. Every node signs that epoch's chunks at this size only, so no two
 * different chunkings of one epoch ever carry validator signatures (mixing chunks of two of them
 * could pass the bridge's per-chunk checks and move value between accounts).
 */
export interface SettlementPlanEntry {
  readonly type: "settlementPlan";
  readonly epoch: bigint;
  readonly maxItems: number;
}

/** Anything the node puts in the replicated log. */
export type NodeEntry = LedgerEntry | SignaturesEntry | DepositCursorEntry | SettlementPlanEntry;

const uint = z.string().regex(/^(0|[1-9][0-9]{0,77})$/).transform((s) => BigInt(s));
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/).transform((s) => s as Address); // shape checked; the ledger normalises case
const hash = z.string().regex(/^0x[0-9a-f]{64}$/).transform((s) => s as Hash); // shape checked
const transfer = z.strictObject({ kind: z.literal("transfer"), hash, from: address, to: address, token: address, amount: uint, fee: uint, nonce: uint, deadline: uint });
const withdrawal = z.strictObject({ kind: z.literal("withdrawal"), hash, account: address, token: address, amount: uint, nonce: uint, deadline: uint });
const entrySchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("block"), timestampSec: uint, messages: z.array(z.discriminatedUnion("kind", [transfer, withdrawal])) }),
  z.strictObject({ type: z.literal("deposit"), depositId: uint, account: address, token: address, amount: uint }),
  z.strictObject({ type: z.literal("seal"), epoch: uint }),
  z.strictObject({ type: z.literal("settled"), epoch: uint, txHashes: z.array(hash) }),
  z.strictObject({
    type: z.literal("signatures"),
    epoch: uint,
    maxItems: z.int().min(2).max(10_000),
    chunks: z.array(z.array(z.string().regex(/^0x[0-9a-f]{130}$/).transform((s) => s as Hex)).max(16)).min(1).max(100_000),
  }),
  z.strictObject({ type: z.literal("depositCursor"), nextBlock: z.int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  z.strictObject({ type: z.literal("settlementPlan"), epoch: uint, maxItems: z.int().min(2).max(10_000) }),
]);

function messageToJson(m: LedgerMessage): Record<string, string> {
  return m.kind === "transfer"
    ? { kind: m.kind, hash: m.hash, from: m.from, to: m.to, token: m.token, amount: m.amount.toString(), fee: m.fee.toString(), nonce: m.nonce.toString(), deadline: m.deadline.toString() }
    : { kind: m.kind, hash: m.hash, account: m.account, token: m.token, amount: m.amount.toString(), nonce: m.nonce.toString(), deadline: m.deadline.toString() };
}

/** `entry` as log payload bytes. */
export function encodeEntry(entry: NodeEntry): Uint8Array {
  let json: Record<string, unknown>;
  switch (entry.type) {
    case "block":
      json = { type: "block", timestampSec: entry.timestampSec.toString(), messages: entry.messages.map(messageToJson) };
      break;
    case "deposit":
      json = { type: "deposit", depositId: entry.depositId.toString(), account: entry.account, token: entry.token, amount: entry.amount.toString() };
      break;
    case "seal":
      json = { type: "seal", epoch: entry.epoch.toString() };
      break;
    case "settled":
      json = { type: "settled", epoch: entry.epoch.toString(), txHashes: [...entry.txHashes] };
      break;
    case "signatures":
      json = { type: "signatures", epoch: entry.epoch.toString(), maxItems: entry.maxItems, chunks: entry.chunks.map((c) => [...c]) };
      break;
    case "depositCursor":
      json = { type: "depositCursor", nextBlock: entry.nextBlock };
      break;
    case "settlementPlan":
      json = { type: "settlementPlan", epoch: entry.epoch.toString(), maxItems: entry.maxItems };
      break;
  }
  return new TextEncoder().encode(JSON.stringify(json));
}

/** The entry in `data`, or undefined when it does not decode (never throws). */
export function decodeEntry(data: Uint8Array): NodeEntry | undefined {
  try {
    const r = entrySchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    if (!r.success) return undefined;
    // The schema's output has exactly the LedgerEntry shapes (bigints, 0x strings).
    return r.data as BlockEntry | DepositEntry | SealEntry | SettledEntry | SignaturesEntry | DepositCursorEntry | SettlementPlanEntry;
  } catch {
    return undefined;
  }
}
