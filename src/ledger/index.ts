// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The ledger: the deterministic state machine every node runs over the committed log (balances,
 * nonces, epoch netting, transfers roots, settlement chunks, snapshots). Pure: no I/O, no clock,
 * no randomness. Amounts are bigint wei; addresses come out lowercase. See docs/ledger.md.
 */

/** Entry types the replicated log carries to the ledger (block, deposit, seal, settled, feePolicy). */
export type {
  BlockEntry,
  DepositEntry,
  FeePolicyEntry,
  FeePolicyToken,
  LedgerEntry,
  LedgerMessage,
  SealEntry,
  SettledEntry,
  TransferMessage,
  WithdrawalMessage,
} from "./entry.ts";

/** The ledger state (opaque outside src/ledger/), its parameters and epoch status. */
export type { EpochStatus, LedgerParams, LedgerState } from "./ledgerState.ts";
/** A new ledger at epoch 1; throws INVALID_CONFIG for a malformed or zero fee recipient. */
export { createLedger } from "./ledgerState.ts";

/** Result types of `applyEntry`: per-message verdicts with epoch and index, or a refusal code. */
export type {
  ApplyResult,
  BlockResult,
  CommittedMessageResult,
  DepositResult,
  FeePolicyResult,
  LedgerRejectCode,
  MessageResult,
  RejectedMessageResult,
  Rejection,
  SealResult,
  SettledResult,
} from "./applyEntry.ts";
/** Applies one committed entry in place; refusals are results, throws only on a bug (INTERNAL). */
export { applyEntry } from "./applyEntry.ts";
/** Every code an `applyEntry` refusal can carry. */
export { LEDGER_REJECT_CODES } from "./applyEntry.ts";

/** View types returned by the queries below. */
export type {
  AccountView,
  EpochHeads,
  EpochStatusView,
  EpochSummary,
  MessageProof,
  MessageStatus,
  MessageView,
  TokenBalance,
  TokenTotalsView,
} from "./queries.ts";
/** Nonce and balances (wei) of an account; throws INVALID_ADDRESS for a malformed address. */
export { getAccount, getAvailableBalance, getNextNonce, isKnownAccount } from "./queries.ts";
/** A committed message's status, epoch and index by hash; undefined if unknown. */
export { getMessage } from "./queries.ts";
/** An epoch's counts, sorted non-zero deltas, payouts, root, status and settlement txs; undefined if it does not exist. */
export { getEpochSummary } from "./queries.ts";
/** The open epoch and the last sealed and settled epochs (0 for none). */
export { getEpochHeads } from "./queries.ts";
/** Status and message counts of an epoch without its netting: O(1). */
export { getEpochStatus } from "./queries.ts";
/** Per token, an epoch's applied transfers and withdrawals. */
export { getEpochTokenCounts } from "./queries.ts";
/** Deposited and withdrawn totals per token (wei). */
export { getTokenTotals } from "./queries.ts";
/** `{ hash, epoch, leaf, root, proof }` of a message; throws NOT_FOUND, or EPOCH_OPEN before its epoch is sealed. */
export { getMessageProof } from "./queries.ts";

/** A decided deposit id's contents. */
export type { DepositView } from "./depositQueries.ts";
/** How a deposit id was decided (undefined: not yet), the lowest undecided id, the conflicts recorded. */
export { getDeposit, getDepositConflicts, getFirstUndecidedDeposit } from "./depositQueries.ts";

/** What a settlement is built from: a sealed epoch's summary. */
export type { SettlementSource } from "./buildSettlementChunks.ts";
/** Conserving chunks of at most N items; throws INVALID_CHUNK_SIZE (N < 2), EPOCH_OPEN, AMOUNT_TOO_LARGE. */
/** Lifetime cap on one token's credited deposits (2^192-1): beyond it a deposit credit is refused AMOUNT_TOO_LARGE. */
export { MAX_TOKEN_DEPOSITS } from "./applyEntry.ts";
export { buildSettlementChunks } from "./buildSettlementChunks.ts";

/** Fee policy types: a refusal `{ code, reason }`, the transfer fields it reads, one token's rule. */
export type { FeeCheckedTransfer, FeePolicyView, FeeRefusal } from "./feePolicy.ts";
/** TOKEN_NOT_ACCEPTED / FEE_TOO_LOW for a transfer against the applied policy, or null; pure, the ledger's own check (intake calls it to refuse at once). */
export { feeRefusal } from "./feePolicy.ts";
/** The applied fee policy, tokens ascending (lowercase, wei); null before any policy entry (every token at any fee). */
export { getFeePolicy } from "./feePolicy.ts";
/** True when the applied policy equals the given one (null: none); the leader compares its config's before each block. */
export { isFeePolicy } from "./feePolicy.ts";
/** True when the account has no holding of the token (it would pay newAccountFee as a recipient). */
export { hasNeverHeld } from "./feePolicy.ts";
/** Largest fee a policy may ask: 2^256-1. */
export { MAX_POLICY_FEE } from "./feePolicy.ts";

/** Snapshot types: the whole state, JSON-safe and canonical. */
export type { LedgerSnapshot, SnapshotAmount, SnapshotEpoch, SnapshotFeeRule, SnapshotTransfer, SnapshotWithdrawal } from "./snapshot.ts";
/** The format tag of snapshots this code writes and reads. */
export { SNAPSHOT_FORMAT } from "./snapshot.ts";
/** The canonical snapshot of a ledger. */
export { takeSnapshot } from "./snapshot.ts";
/** Validates the shape of parsed JSON as a snapshot; throws INVALID_SNAPSHOT. */
export { parseLedgerSnapshot } from "./snapshot.ts";
/** Rebuilds a ledger from a snapshot after checking it is canonical and consistent; throws INVALID_SNAPSHOT. */
export { restoreLedger } from "./snapshot.ts";

/** keccak256 of the canonical snapshot JSON: replicas agree on it exactly when their states agree. */
export { stateHash } from "./stateHash.ts";
/** keccak256 of a snapshot's JSON (equals `stateHash` of the ledger it was taken from). */
export { hashSnapshot } from "./stateHash.ts";

/** Merkle tree and proof types (PROTOCOL.md §4). */
export type { MerkleProof, MerkleTree } from "./merkleTree.ts";
/** The root of an epoch with no applied messages: bytes32(0). */
export { EMPTY_TRANSFERS_ROOT } from "./merkleTree.ts";
/** The transfers root of message hashes in log order. */
export { computeTransfersRoot } from "./merkleTree.ts";
/** The leaf of a message: keccak256 of its hash. */
export { hashLeaf } from "./merkleTree.ts";
/** Builds the tree of an epoch's message hashes (heap layout, as @openzeppelin/merkle-tree). */
export { buildMerkleTree } from "./merkleTree.ts";
/** Root of a built tree. */
export { getMerkleRoot } from "./merkleTree.ts";
/** Leaf, root and proof of the leaf at an index; throws RangeError when out of range. */
export { getMerkleProof } from "./merkleTree.ts";
/** OpenZeppelin MerkleProof.verify semantics (sorted pair hashing); false on malformed input. */
export { verifyMerkleProof } from "./merkleTree.ts";
