// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Applies committed log entries, in log order, on every node alike: blocks, deposits, seals and
 * settlements to the ledger, signatures and settlement plans to the settler, the deposit cursor
 * to the node. Returns the ledger's verdict on each message of a block, for the router to answer
 * clients with, and keeps the leader's mempool in step (a held nonce may be due; a refused
 * message's nonce is not used). An entry that does not decode is skipped, on every node alike.
 */
import type { BatchItemResult } from "../api/index.ts";
import type { ConsensusLogger } from "../consensus/index.ts";
import { applyEntry, type LedgerState } from "../ledger/index.ts";
import { decodeEntry, type NodeEntry } from "./entryCodec.ts";
import { signerOf, type LedgerNonce, type Mempool } from "./mempool.ts";
import { resultView } from "./views.ts";

export interface ApplierDeps {
  readonly ledger: LedgerState;
  readonly mempool: Mempool;
  readonly ledgerNonce: LedgerNonce;
  readonly logger: ConsensusLogger;
  /** The settler's share of the log: signatures and settlement plans. */
  readonly settlement: (entry: Extract<NodeEntry, { type: "signatures" | "settlementPlan" }>) => void;
  /** A depositCursor entry: the first chain block the cluster agreed is scanned. */
  readonly depositCursor: (nextBlock: number) => void;
}

/** One message's verdict as the ledger gave it. */
export interface AppliedResult {
  readonly hash: string;
  readonly result: BatchItemResult;
}

const NONE: readonly AppliedResult[] = [];

/** Applies entry `data` at log `index`; returns the verdicts on a block's messages (none for other entries). */
export function applyCommitted(deps: ApplierDeps, index: number, data: Uint8Array): readonly AppliedResult[] {
  if (data.length === 0) return NONE; // a leader's term-start marker
  const entry = decodeEntry(data);
  if (entry === undefined) {
    deps.logger.error({ index }, "committed entry does not decode; skipped on every node alike");
    return NONE;
  }
  if (entry.type === "signatures" || entry.type === "settlementPlan") {
    deps.settlement(entry);
    return NONE;
  }
  if (entry.type === "depositCursor") {
    deps.depositCursor(entry.nextBlock);
    return NONE;
  }
  const result = applyEntry(deps.ledger, entry);
  if (result.type === "block" && entry.type === "block") {
    return result.results.map((r, i) => {
      const m = entry.messages[i];
      if (m !== undefined) {
        if (r.status === "committed") deps.mempool.wake(m); // the account's held next nonce may be due now
        // Refused with its nonce still unused (not a repeat of a used one): the mempool must not count on it.
        else if (m.nonce >= deps.ledgerNonce(signerOf(m))) deps.mempool.forgetNonce(m);
      }
      return { hash: r.hash, result: resultView(r) };
    });
  }
  if (result.type === "deposit") {
    if (result.status === "credited" && entry.type === "deposit") deps.logger.info({ depositId: entry.depositId.toString() }, "deposit credited");
  } else if (result.type === "seal") {
    deps.logger.info({ epoch: result.epoch.toString(), status: result.status }, "epoch seal applied");
  } else if (result.type === "settled") {
    if ("status" in result && result.status === "settled") deps.logger.info({ epoch: result.epoch.toString() }, "epoch settled");
    else deps.logger.warn({ epoch: result.epoch.toString(), result }, "settled entry refused");
  }
  return NONE;
}
