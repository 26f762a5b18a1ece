// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The API's views of the ledger (PROTOCOL.md §2), as pure functions of its state: addresses
 * checksummed, amounts decimal strings. One mapping for the node and for the API tests' service
 * (test/unit/api/ledgerService.ts), so what the API tests check is what the node answers.
 * Refusals the views raise are DeltaErrors with the public codes (NOT_FOUND, EPOCH_OPEN,
 * WRONG_STATE), which the API maps to statuses.
 */
import type {
  AccountView,
  BatchItemResult,
  CommittedView,
  EpochTokensView,
  EpochView,
  FeesView,
  ProofView,
  SettlementChunkView,
  SettlementView,
  TransferView,
} from "../api/index.ts";
import { DeltaError } from "../errors.ts";
import {
  getAccount,
  getEpochHeads,
  getEpochStatus,
  getEpochSummary,
  getEpochTokenCounts,
  getFeePolicy,
  getMessage,
  getMessageProof,
  type LedgerMessage,
  type FeePolicyToken,
  type LedgerState,
  type MessageResult,
} from "../ledger/index.ts";
import { checksumAddress, type Hex, type Settlement } from "../protocol/index.ts";

type TransferMessage = Extract<LedgerMessage, { kind: "transfer" }>;

/** A write's answer from the ledger's verdict: the committed view, or the refusal. */
export function resultView(r: MessageResult): BatchItemResult {
  return r.status === "committed" ? { hash: r.hash, status: "committed", index: r.index, epoch: r.epoch.toString() } : { error: { code: r.code, message: r.reason } };
}

/** The committed view of `hash` if the ledger holds it committed (or settled); undefined otherwise. */
export function committedViewOf(ledger: LedgerState, hash: string): CommittedView | undefined {
  const m = getMessage(ledger, hash);
  return m === undefined ? undefined : { hash: m.hash, status: "committed", index: m.index, epoch: m.epoch.toString() };
}

/** GET /v1/transfers/:hash's answer for transfer `t`. */
export function transferView(t: TransferMessage, status: TransferView["status"], index: number | null, epoch: string | null): TransferView {
  return {
    hash: t.hash,
    status,
    index,
    epoch,
    from: checksumAddress(t.from),
    to: checksumAddress(t.to),
    token: checksumAddress(t.token),
    amount: t.amount.toString(),
    fee: t.fee.toString(),
    nonce: t.nonce.toString(),
    deadline: t.deadline.toString(),
  };
}

/** GET /v1/transfers/:hash from the ledger: undefined unless a transfer with that hash is applied. */
export function ledgerTransferView(ledger: LedgerState, hash: string): TransferView | undefined {
  const m = getMessage(ledger, hash);
  return m === undefined || m.message.kind !== "transfer" ? undefined : transferView(m.message, m.status, m.index, m.epoch.toString());
}

/** GET /v1/accounts/:address. */
export function accountView(ledger: LedgerState, address: string): AccountView {
  const a = getAccount(ledger, address);
  const balances: Record<string, string> = {};
  for (const b of a.balances) balances[checksumAddress(b.token)] = b.amount.toString();
  return { address: checksumAddress(a.address), nonce: a.nonce.toString(), balances };
}

/** GET /v1/epochs/:n (`epoch` undefined: the open one); undefined when it does not exist. */
export function epochView(ledger: LedgerState, epoch?: bigint): EpochView | undefined {
  const e = getEpochSummary(ledger, epoch ?? getEpochHeads(ledger).openEpoch);
  if (e === undefined) return undefined;
  return {
    epoch: e.epoch.toString(),
    status: e.status,
    transfers: e.transfers,
    root: e.root,
    deltas: e.deltas.map((d) => ({ account: checksumAddress(d.account), token: checksumAddress(d.token), delta: d.amount.toString() })),
    payouts: e.payouts.map((p) => ({ account: checksumAddress(p.account), token: checksumAddress(p.token), amount: p.amount.toString() })),
    settlementTxs: [...e.settlementTxs],
  };
}

/** GET /v1/epochs/:n/tokens; undefined when the epoch does not exist. */
export function epochTokensView(ledger: LedgerState, epoch: bigint): EpochTokensView | undefined {
  const counts = getEpochTokenCounts(ledger, epoch);
  if (counts === undefined) return undefined;
  return { epoch: epoch.toString(), tokens: counts.map((c) => ({ token: checksumAddress(c.token), transfers: c.transfers, withdrawals: c.withdrawals })) };
}

/** GET /v1/transfers/:hash/proof; throws NOT_FOUND or EPOCH_OPEN (from the ledger). */
export function proofView(ledger: LedgerState, hash: string): ProofView {
  const p = getMessageProof(ledger, hash);
  return { hash: p.hash, epoch: p.epoch.toString(), leaf: p.leaf, root: p.root, proof: [...p.proof] };
}

/** One Settlement (PROTOCOL.md §3) in wire form. */
export function settlementChunkView(s: Settlement): SettlementChunkView["settlement"] {
  const item = (i: { readonly account: string; readonly token: string; readonly amount: bigint }) => ({
    account: checksumAddress(i.account),
    token: checksumAddress(i.token),
    amount: i.amount.toString(),
  });
  return { epoch: s.epoch.toString(), chunk: s.chunk, chunks: s.chunks, transfersRoot: s.transfersRoot, deltas: s.deltas.map(item), payouts: s.payouts.map(item) };
}

/**
 * GET /v1/epochs/:n/settlement from the epoch's signed chunks (`signed` undefined while its
 * signatures are gathered). Throws NOT_FOUND (no such epoch), EPOCH_OPEN, or WRONG_STATE.
 */
export function settlementView(
  ledger: LedgerState,
  epoch: bigint,
  signed: { readonly settlements: readonly Settlement[]; readonly signatures: readonly (readonly Hex[])[] } | undefined,
): SettlementView {
  const summary = getEpochStatus(ledger, epoch);
  if (summary === undefined) throw new DeltaError("NOT_FOUND", `epoch ${epoch} does not exist yet`);
  if (summary.status === "open") throw new DeltaError("EPOCH_OPEN", `epoch ${epoch} is still open; it has no settlement until it is sealed`);
  if (signed === undefined) throw new DeltaError("WRONG_STATE", `epoch ${epoch} is sealed; its validators' signatures are still being gathered, retry shortly`);
  return {
    epoch: epoch.toString(),
    chunks: signed.settlements.map((s, k) => ({ settlement: settlementChunkView(s), signatures: [...(signed.signatures[k] ?? [])] })),
  };
}

/**
 * GET /v1/fees: the ledger's applied policy; before any policy entry, `configured` (the node's
 * config, about to be committed by a leader); "none" when neither names one.
 */
export function feesView(ledger: LedgerState, configured: readonly FeePolicyToken[] | null): FeesView {
  const applied = getFeePolicy(ledger);
  const policy = applied ?? configured;
  const tokens: Record<string, { minFee: string; newAccountFee: string }> = {};
  for (const t of policy ?? []) tokens[checksumAddress(t.token)] = { minFee: t.minFee.toString(), newAccountFee: t.newAccountFee.toString() };
  return { tokens, source: applied !== null ? "ledger" : policy !== null ? "config" : "none" };
}
