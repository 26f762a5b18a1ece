// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Read-only views of the ledger for the REST API (PROTOCOL.md §2) and the settlement submitter.
 * Nothing here changes the state, except that a Merkle tree dropped by a snapshot restore is
 * rebuilt and cached on the first proof of its epoch (derived data, outside the state hash).
 * Every list comes sorted; addresses come lowercase (see ledgerState.ts).
 */
import { DeltaError } from "../errors.ts";
import type { Address, Delta, Hash, Payout } from "../protocol/index.ts";
import type { LedgerMessage } from "./entry.ts";
import {
  collectNetting,
  findEpoch,
  findMessage,
  isAddressKey,
  toKey,
  type CommittedMessage,
  type EpochRecord,
  type EpochStatus,
  type LedgerState,
} from "./ledgerState.ts";
import { buildMerkleTree, getMerkleProof, getMerkleRoot } from "./merkleTree.ts";

/** One token's available balance. */
export interface TokenBalance {
  readonly token: Address;
  readonly amount: bigint;
}

/** `GET /v1/accounts/:address`: the next nonce to sign and the available balances by token. */
export interface AccountView {
  readonly address: Address;
  readonly nonce: bigint;
  readonly balances: readonly TokenBalance[];
}

/** Where a committed message stands: committed until its epoch settles, then settled. */
export type MessageStatus = "committed" | "settled";

/** `GET /v1/transfers/:hash`: the message as applied (lowercase addresses), its epoch and position. */
export interface MessageView {
  readonly hash: Hash;
  readonly status: MessageStatus;
  readonly epoch: bigint;
  /** Position in the epoch's log order, which is its Merkle leaf index. */
  readonly index: number;
  readonly message: LedgerMessage;
}

/** `GET /v1/epochs/:n`; `deltas` and `payouts` leave out zeros and are sorted by account then token. */
export interface EpochSummary {
  readonly epoch: bigint;
  readonly status: EpochStatus;
  /** Applied transfers in the epoch. */
  readonly transfers: number;
  /** Applied withdrawals in the epoch. */
  readonly withdrawals: number;
  /** The transfers root, null while open. */
  readonly root: Hash | null;
  readonly deltas: readonly Delta[];
  readonly payouts: readonly Payout[];
  readonly settlementTxs: readonly Hash[];
}

/** `GET /v1/transfers/:hash/proof`: verifies with `SimpleMerkleTree.verify(root, leaf, proof)`. */
export interface MessageProof {
  readonly hash: Hash;
  readonly epoch: bigint;
  readonly leaf: Hash;
  readonly root: Hash;
  readonly proof: readonly Hash[];
}

/** Epoch numbers at a glance: the open epoch, and the last sealed and settled ones (0 for none). */
export interface EpochHeads {
  readonly openEpoch: bigint;
  readonly lastSealedEpoch: bigint;
  readonly lastSettledEpoch: bigint;
}

/** A token's totals: the sum of all balances always equals `deposited - withdrawn`. */
export interface TokenTotalsView {
  readonly token: Address;
  readonly deposited: bigint;
  readonly withdrawn: bigint;
}

/** The account's next nonce (0 for an unknown account); `address` any case, not checked (cheap: the mempool asks per block). */
export function getNextNonce(state: LedgerState, address: string): bigint {
  return state.accounts.get(toKey(address))?.nonce ?? 0n;
}

/**
 * Whether the ledger has a record of `address` (any case, not checked): one that never received a
 * deposit or transfer has none, holds nothing, and never had a message committed.
 */
export function isKnownAccount(state: LedgerState, address: string): boolean {
  return state.accounts.has(toKey(address));
}

/** The account's available balance of `token` (0 when none); both any case, not checked (cheap: admission asks per message). */
export function getAvailableBalance(state: LedgerState, account: string, token: string): bigint {
  return state.accounts.get(toKey(account))?.holdings.get(toKey(token))?.balance ?? 0n;
}

/** An account's nonce and balances; an unknown account has nonce 0 and none. Throws INVALID_ADDRESS on a malformed address. */
export function getAccount(state: LedgerState, address: string): AccountView {
  const key = toKey(address);
  if (!isAddressKey(key)) {
    throw new DeltaError("INVALID_ADDRESS", "address must be 0x and 40 hex digits", { details: { address } });
  }
  const account = state.accounts.get(key);
  if (account === undefined) return { address: key, nonce: 0n, balances: [] };
  const balances: TokenBalance[] = [];
  for (const [token, holding] of account.holdings) balances.push({ token, amount: holding.balance });
  balances.sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
  return { address: key, nonce: account.nonce, balances };
}

function toLedgerMessage(m: CommittedMessage): LedgerMessage {
  return m.kind === "transfer"
    ? {
        kind: "transfer",
        hash: m.hash,
        from: m.from,
        to: m.to,
        token: m.token,
        amount: m.amount,
        fee: m.fee,
        nonce: m.nonce,
        deadline: m.deadline,
      }
    : { kind: "withdrawal", hash: m.hash, account: m.account, token: m.token, amount: m.amount, nonce: m.nonce, deadline: m.deadline };
}

function epochOfMessage(state: LedgerState, m: CommittedMessage): EpochRecord {
  const epoch = state.epochs[m.epochIndex];
  if (epoch === undefined) throw new DeltaError("INTERNAL", "indexed message points past the epochs", { details: { hash: m.hash } });
  return epoch;
}

/** The committed message with this hash (any case), or undefined when the ledger never applied it. */
export function getMessage(state: LedgerState, hash: string): MessageView | undefined {
  const m = findMessage(state, hash);
  if (m === undefined) return undefined;
  const epoch = epochOfMessage(state, m);
  return {
    hash: m.hash,
    status: epoch.status === "settled" ? "settled" : "committed",
    epoch: epoch.number,
    index: m.position,
    message: toLedgerMessage(m),
  };
}

/** An epoch's status and message counts, without its netting (cheap: for checks on hot paths). */
export interface EpochStatusView {
  readonly status: EpochStatus;
  readonly transfers: number;
  readonly withdrawals: number;
}

/**
 * Status and counts of epoch `epoch`, or undefined when it does not exist yet. Unlike
 * getEpochSummary it does not net the open epoch's holdings, so it costs O(1).
 */
export function getEpochStatus(state: LedgerState, epoch: bigint): EpochStatusView | undefined {
  const record = findEpoch(state, epoch);
  return record === undefined ? undefined : { status: record.status, transfers: record.transfers, withdrawals: record.withdrawals };
}

/** The summary of epoch `epoch`, or undefined when it does not exist yet. */
export function getEpochSummary(state: LedgerState, epoch: bigint): EpochSummary | undefined {
  const record = findEpoch(state, epoch);
  if (record === undefined) return undefined;
  let deltas = record.deltas;
  let payouts = record.payouts;
  if (deltas === null || payouts === null) {
    // Open epoch (always the last): its netting so far, read off the holdings it touched.
    ({ deltas, payouts } = collectNetting(record, state.epochs.length - 1));
  }
  return {
    epoch: record.number,
    status: record.status,
    transfers: record.transfers,
    withdrawals: record.withdrawals,
    root: record.root,
    deltas,
    payouts,
    settlementTxs: record.settlementTxs,
  };
}

/** How many transfers and withdrawals of one token an epoch applied. */
export interface EpochTokenCount {
  readonly token: Address;
  readonly transfers: number;
  readonly withdrawals: number;
}

/**
 * Per token, the epoch's applied transfers and withdrawals, tokens in ascending order; undefined
 * when the epoch does not exist yet. (What the same payments would have cost one by one on-chain
 * depends on the token: scripts/settle.ts reports it.)
 */
export function getEpochTokenCounts(state: LedgerState, epoch: bigint): readonly EpochTokenCount[] | undefined {
  const record = findEpoch(state, epoch);
  if (record === undefined) return undefined;
  const counts = new Map<Address, { transfers: number; withdrawals: number }>();
  for (const m of record.messages) {
    let c = counts.get(m.token);
    if (c === undefined) counts.set(m.token, (c = { transfers: 0, withdrawals: 0 }));
    if (m.kind === "transfer") c.transfers++;
    else c.withdrawals++;
  }
  return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([token, c]) => ({ token, ...c }));
}

/** The open epoch, and the last sealed and last settled ones (0 when none). */
export function getEpochHeads(state: LedgerState): EpochHeads {
  const openEpoch = BigInt(state.epochs.length);
  return { openEpoch, lastSealedEpoch: openEpoch - 1n, lastSettledEpoch: BigInt(state.settledCount) };
}

/** Every token ever deposited, sorted, with what came in and went out. */
export function getTokenTotals(state: LedgerState): readonly TokenTotalsView[] {
  const totals: TokenTotalsView[] = [];
  for (const t of state.tokens.values()) totals.push({ token: t.token, deposited: t.deposited, withdrawn: t.withdrawn });
  return totals.sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
}

/**
 * The Merkle proof of a committed message (PROTOCOL.md §4). Throws NOT_FOUND for an unknown hash,
 * EPOCH_OPEN while its epoch is open, INTERNAL if a rebuilt tree disagrees with the stored root.
 */
export function getMessageProof(state: LedgerState, hash: string): MessageProof {
  const m = findMessage(state, hash);
  if (m === undefined) throw new DeltaError("NOT_FOUND", "no committed message has this hash", { details: { hash } });
  const epoch = epochOfMessage(state, m);
  if (epoch.status === "open" || epoch.root === null) {
    throw new DeltaError("EPOCH_OPEN", `epoch ${epoch.number} is still open; its proof exists once it is sealed`, {
      details: { hash, epoch: epoch.number.toString() },
    });
  }
  let tree = epoch.tree;
  if (tree === null) {
    tree = buildMerkleTree(epoch.messages.map((x) => x.hash));
    if (getMerkleRoot(tree) !== epoch.root) {
      throw new DeltaError("INTERNAL", `epoch ${epoch.number}: rebuilt transfers root differs from the stored one`);
    }
    epoch.tree = tree;
  }
  const { leaf, root, proof } = getMerkleProof(tree, m.position);
  return { hash: m.hash, epoch: epoch.number, leaf, root, proof };
}
