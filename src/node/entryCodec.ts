// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Ledger entries as replicated-log payloads: JSON with every bigint as a decimal string. Decoding
 * is strict: a payload that does not decode is refused before the ledger sees it, so a bug or a
 * hostile leader cannot make `applyEntry` throw on a replica. Blocks, which every node decodes
 * for every message, go through a hand-written decoder (`messageFromJson`); zod took 4.1 µs per
 * message there (tmp micro-benchmark; 1.1-1.4 s of each node's busy time under `npm run bench`).
 * The other entries are rare and keep the zod schema. Both accept exactly the same shapes.
 */
import { z } from "zod";
import type { BlockEntry, DepositEntry, FeePolicyEntry, LedgerEntry, LedgerMessage, SealEntry, SettledEntry } from "../ledger/index.ts";
import { HASH_PATTERN, isHash, type Address, type Hash, type Hex } from "../protocol/index.ts";

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
  /** The token cap it was built with; absent in entries from before the cap (no cap). */
  readonly maxTokens?: number;
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
  /** Most distinct tokens per chunk (src/chain/settlementGas.ts); absent in plans from before the cap (no cap). */
  readonly maxTokens?: number;
}

/** Anything the node puts in the replicated log. */
export type NodeEntry = LedgerEntry | SignaturesEntry | DepositCursorEntry | SettlementPlanEntry;

const uint = z.string().regex(/^(0|[1-9][0-9]{0,77})$/).transform((s) => BigInt(s));
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/).transform((s) => s as Address); // shape checked; the ledger normalises case
const hash = z.string().regex(HASH_PATTERN).transform((s) => s as Hash); // shape checked
const entrySchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("deposit"), depositId: uint, account: address, token: address, amount: uint }),
  z.strictObject({ type: z.literal("seal"), epoch: uint }),
  z.strictObject({ type: z.literal("settled"), epoch: uint, txHashes: z.array(hash) }),
  z.strictObject({
    type: z.literal("signatures"),
    epoch: uint,
    maxItems: z.int().min(2).max(10_000),
    maxTokens: z.int().min(1).max(10_000).optional(),
    chunks: z.array(z.array(z.string().regex(/^0x[0-9a-f]{130}$/).transform((s) => s as Hex)).max(16)).min(1).max(100_000),
  }),
  z.strictObject({ type: z.literal("depositCursor"), nextBlock: z.int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  z.strictObject({ type: z.literal("settlementPlan"), epoch: uint, maxItems: z.int().min(2).max(10_000), maxTokens: z.int().min(1).max(10_000).optional() }),
  // Token count bounded so a hostile entry cannot make every replica build a huge map; the ledger
  // checks the rest (each token once, fees up to 2^256-1) and refuses the entry otherwise.
  z.strictObject({
    type: z.literal("feePolicy"),
    tokens: z.array(z.strictObject({ token: address, minFee: uint, newAccountFee: uint })).max(10_000).nullable(),
  }),
]);

/** `m` in its JSON form: the form blocks and member forwards (forwarding.ts) carry. */
export function messageToJson(m: LedgerMessage): Record<string, string> {
  return m.kind === "transfer"
    ? { kind: m.kind, hash: m.hash, from: m.from, to: m.to, token: m.token, amount: m.amount.toString(), fee: m.fee.toString(), nonce: m.nonce.toString(), deadline: m.deadline.toString() }
    : { kind: m.kind, hash: m.hash, account: m.account, token: m.token, amount: m.amount.toString(), nonce: m.nonce.toString(), deadline: m.deadline.toString() };
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const UINT_RE = /^(0|[1-9][0-9]{0,77})$/;

/** A lowercase 0x hash of 64 hex digits (the form blocks and forwards carry). */
const isAddress = (v: unknown): v is Address => typeof v === "string" && ADDRESS_RE.test(v); // shape; the ledger normalises case
/** A canonical decimal uint256 string (no sign, no leading zero). */
export const isUint = (v: unknown): v is string => typeof v === "string" && UINT_RE.test(v);

/** The number of own enumerable keys of `o` (no array allocated, unlike Object.keys). */
function keyCount(o: object): number {
  let n = 0;
  for (const k in o) if (Object.hasOwn(o, k)) n++;
  return n;
}

/**
 * The message in `value` (messageToJson's form), or undefined unless it has exactly that shape:
 * exactly those keys, lowercase hash, 0x-hex addresses, canonical decimal integers. Never throws.
 */
export function messageFromJson(value: unknown): LedgerMessage | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>; // an object; every field is checked below
  const { hash, token, amount, nonce, deadline } = o;
  if (!isHash(hash) || !isAddress(token) || !isUint(amount) || !isUint(nonce) || !isUint(deadline)) return undefined;
  if (o["kind"] === "transfer") {
    const { from, to, fee } = o;
    if (keyCount(o) !== 9 || !isAddress(from) || !isAddress(to) || !isUint(fee)) return undefined;
    return { kind: "transfer", hash, from, to, token, amount: BigInt(amount), fee: BigInt(fee), nonce: BigInt(nonce), deadline: BigInt(deadline) };
  }
  if (o["kind"] === "withdrawal") {
    const { account } = o;
    if (keyCount(o) !== 7 || !isAddress(account)) return undefined;
    return { kind: "withdrawal", hash, account, token, amount: BigInt(amount), nonce: BigInt(nonce), deadline: BigInt(deadline) };
  }
  return undefined;
}

/** A block entry's JSON (exactly type, timestampSec, messages), or undefined. */
function blockFromJson(o: Record<string, unknown>): BlockEntry | undefined {
  const { timestampSec, messages } = o;
  if (keyCount(o) !== 3 || !isUint(timestampSec) || !Array.isArray(messages)) return undefined;
  const out: LedgerMessage[] = new Array<LedgerMessage>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messageFromJson(messages[i]);
    if (m === undefined) return undefined;
    out[i] = m;
  }
  return { type: "block", timestampSec: BigInt(timestampSec), messages: out };
}

const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder();

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
      json = { type: "signatures", epoch: entry.epoch.toString(), maxItems: entry.maxItems, ...(entry.maxTokens === undefined ? {} : { maxTokens: entry.maxTokens }), chunks: entry.chunks.map((c) => [...c]) };
      break;
    case "depositCursor":
      json = { type: "depositCursor", nextBlock: entry.nextBlock };
      break;
    case "settlementPlan":
      json = { type: "settlementPlan", epoch: entry.epoch.toString(), maxItems: entry.maxItems, ...(entry.maxTokens === undefined ? {} : { maxTokens: entry.maxTokens }) };
      break;
    case "feePolicy":
      json = {
        type: "feePolicy",
        tokens: entry.tokens === null ? null : entry.tokens.map((t) => ({ token: t.token, minFee: t.minFee.toString(), newAccountFee: t.newAccountFee.toString() })),
      };
      break;
  }
  return UTF8_ENCODER.encode(JSON.stringify(json));
}

/** The entry in `data`, or undefined when it does not decode (never throws). */
export function decodeEntry(data: Uint8Array): NodeEntry | undefined {
  try {
    const json: unknown = JSON.parse(UTF8_DECODER.decode(data));
    if (typeof json === "object" && json !== null && !Array.isArray(json) && (json as { type?: unknown }).type === "block") {
      return blockFromJson(json as Record<string, unknown>); // an object whose fields blockFromJson checks
    }
    const r = entrySchema.safeParse(json);
    if (!r.success) return undefined;
    // The schema's output has exactly the entry shapes (bigints, 0x strings).
    return r.data as DepositEntry | SealEntry | SettledEntry | SignaturesEntry | DepositCursorEntry | SettlementPlanEntry | FeePolicyEntry;
  } catch {
    return undefined;
  }
}
