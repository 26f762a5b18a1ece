// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * What members say to each other about forwarded writes, on the consensus transport's application
 * channel (ReplicatedLog.sendApp; every frame authenticated as coming from that member):
 *
 * - `{ t: "fwd", m: [message, ...] }`: a node hands the leader messages it accepted (schema and
 *   signature checked, hash computed), in the block's JSON form (entryCodec.messageToJson).
 * - `{ t: "fwdv", v: [verdict, ...] }`: the leader's verdict on each, once its block is applied:
 *   `[hash, index, epoch, at]` committed (index: the position in the epoch, from 0), or
 *   `[hash, code, message, at]` refused; `at` is the log index the leader had applied when it
 *   decided, which the member applies itself before it answers its client (read your writes).
 * - `{ t: "seal", id }`: a member's admin seal request (the member checked the admin token; the
 *   token itself never leaves the node), and `{ t: "sealv", id, epoch, at }` (epoch a decimal
 *   string or null) or `{ t: "sealv", id, code, message }` the leader's answer.
 *
 * docs/node.md, "Forwarding", says why this replaced HTTP between nodes and why the leader takes a
 * member's messages as checked. Pure: decoding never throws, and refuses anything but exactly
 * these shapes (a member is authenticated, not trusted to be bug-free).
 */
import type { BatchItemResult } from "../api/index.ts";
import { isErrorCode, type ErrorCode } from "../errors.ts";
import type { LedgerMessage } from "../ledger/index.ts";
import { isHash } from "../protocol/index.ts";
import { isUint, messageFromJson, messageToJson } from "./entryCodec.ts";

/** Most messages in one forward or verdict message (a sender splits larger sets). */
export const FORWARD_MAX_ITEMS = 5_000;
/** Longest refusal message relayed (longer ones are cut). */
const MAX_REASON_CHARS = 1_000;

export interface Verdict {
  readonly hash: string;
  readonly result: BatchItemResult;
  /** The log index the leader had applied when it decided (0: before anything). */
  readonly at: number;
}

/** A member's seal request, or the leader's answer to one. */
export type SealMessage =
  | { readonly t: "seal"; readonly id: number }
  | { readonly t: "sealv"; readonly id: number; readonly epoch: string | null; readonly at: number }
  | { readonly t: "sealv"; readonly id: number; readonly code: ErrorCode; readonly message: string };

export function encodeForward(messages: readonly LedgerMessage[]): Record<string, unknown> {
  return { t: "fwd", m: messages.map(messageToJson) };
}

/** The messages of a forward, or undefined unless `data` is exactly one (1..FORWARD_MAX_ITEMS messages). */
export function decodeForward(data: unknown): LedgerMessage[] | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { t, m } = data as { t?: unknown; m?: unknown };
  if (t !== "fwd" || !Array.isArray(m) || m.length === 0 || m.length > FORWARD_MAX_ITEMS || Object.keys(data).length !== 2) return undefined;
  const out: LedgerMessage[] = [];
  for (const item of m) {
    const message = messageFromJson(item);
    if (message === undefined) return undefined;
    out.push(message);
  }
  return out;
}

export function encodeVerdicts(verdicts: readonly Verdict[]): Record<string, unknown> {
  return {
    t: "fwdv",
    v: verdicts.map(({ hash, result, at }) => ("error" in result ? [hash, result.error.code, result.error.message, at] : [hash, result.index, result.epoch, at])),
  };
}

/**
 * The verdicts in `data`, or undefined unless it is exactly a verdict message. A refusal code
 * this node does not know becomes INTERNAL (as any leader answer with an unknown code would).
 */
export function decodeVerdicts(data: unknown): Verdict[] | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { t, v } = data as { t?: unknown; v?: unknown };
  if (t !== "fwdv" || !Array.isArray(v) || v.length === 0 || v.length > FORWARD_MAX_ITEMS || Object.keys(data).length !== 2) return undefined;
  const out: Verdict[] = [];
  for (const item of v) {
    if (!Array.isArray(item) || item.length !== 4) return undefined;
    const [hash, a, b, at] = item as [unknown, unknown, unknown, unknown];
    if (!isHash(hash) || !isIndex(at)) return undefined;
    if (typeof a === "number") {
      if (!isIndex(a) || !isUint(b)) return undefined;
      out.push({ hash, result: { hash, status: "committed", index: a, epoch: b }, at });
    } else if (typeof a === "string" && typeof b === "string") {
      const message = b.slice(0, MAX_REASON_CHARS);
      out.push({ hash, result: { error: isErrorCode(a) ? { code: a, message } : { code: "INTERNAL", message: `the leader refused with an unknown code: ${message}` } }, at });
    } else return undefined;
  }
  return out;
}

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** A seal request or answer in `data`, or undefined unless it is exactly one. */
export function decodeSealMessage(data: unknown): SealMessage | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const o = data as Record<string, unknown>;
  const keys = Object.keys(o).length;
  if (!isIndex(o["id"])) return undefined;
  const id = o["id"];
  if (o["t"] === "seal") return keys === 2 ? { t: "seal", id } : undefined;
  if (o["t"] !== "sealv") return undefined;
  if (keys === 4 && "epoch" in o && isIndex(o["at"]) && (o["epoch"] === null || isUint(o["epoch"]))) {
    return { t: "sealv", id, epoch: o["epoch"], at: o["at"] };
  }
  const { code, message } = o;
  if (keys === 4 && typeof code === "string" && typeof message === "string") {
    const m = message.slice(0, MAX_REASON_CHARS);
    return isErrorCode(code) ? { t: "sealv", id, code, message: m } : { t: "sealv", id, code: "INTERNAL", message: `the leader refused with an unknown code: ${m}` };
  }
  return undefined;
}
