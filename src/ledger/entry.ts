// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The log entries the ledger applies, in the order the replicated log commits them. Every replica
 * applies the same entries in the same order and so reaches the same state: nothing here reads a
 * clock, so time arrives as the leader's block timestamp.
 */
import type { Address, Hash, Transfer, Withdrawal } from "../protocol/index.ts";

/** A transfer as it reaches the ledger: signature checked upstream, its EIP-712 digest in `hash`. */
export interface TransferMessage extends Transfer {
  readonly kind: "transfer";
  /** EIP-712 digest, 0x + 64 lowercase hex digits; the ledger indexes and commits to it. */
  readonly hash: Hash;
}

/** A withdrawal as it reaches the ledger: signature checked upstream, its EIP-712 digest in `hash`. */
export interface WithdrawalMessage extends Withdrawal {
  readonly kind: "withdrawal";
  /** EIP-712 digest, 0x + 64 lowercase hex digits. */
  readonly hash: Hash;
}

/** A signed message of PROTOCOL.md §1. */
export type LedgerMessage = TransferMessage | WithdrawalMessage;

/**
 * Messages ordered by the leader. Each is judged on its own, in order: a refused one is reported
 * and changes nothing, and the ones after it still apply.
 */
export interface BlockEntry {
  readonly type: "block";
  /** The leader's clock when it formed the block, unix seconds: a message expires when `deadline < timestampSec`. */
  readonly timestampSec: bigint;
  readonly messages: readonly LedgerMessage[];
}

/** A bridge deposit seen on-chain with enough confirmations (PROTOCOL.md §3 `Deposited`). */
export interface DepositEntry {
  readonly type: "deposit";
  /** The bridge's `depositId`; each is credited once. */
  readonly depositId: bigint;
  readonly account: Address;
  readonly token: Address;
  readonly amount: bigint;
}

/** Closes the open epoch, which must be `epoch`: a repeated or stale seal is refused, not applied twice. */
export interface SealEntry {
  readonly type: "seal";
  readonly epoch: bigint;
}

/** Every chunk of the settlement of `epoch` has landed on-chain. */
export interface SettledEntry {
  readonly type: "settled";
  readonly epoch: bigint;
  /** Transaction hashes of the chunks, in chunk order. */
  readonly txHashes: readonly Hash[];
}

/** One accepted token of a fee policy (PROTOCOL.md §2 `GET /v1/fees`), amounts in the token's wei. */
export interface FeePolicyToken {
  readonly token: Address;
  /** The least fee of any transfer of the token. */
  readonly minFee: bigint;
  /** Added to `minFee` when the recipient has never held the token (feePolicy.ts says exactly when). */
  readonly newAccountFee: bigint;
}

/**
 * Replaces the fee policy the ledger judges transfers by, from the next message on. The leader
 * appends it when its config's policy differs from the ledger's (docs/node.md "Fees"); in the log,
 * so every replica and every replay switches at the same point.
 */
export interface FeePolicyEntry {
  readonly type: "feePolicy";
  /** The accepted tokens, each once; null: no policy, every token accepted at any fee (as before any policy). */
  readonly tokens: readonly FeePolicyToken[] | null;
}

/** Anything the replicated log can carry to the ledger. */
export type LedgerEntry = BlockEntry | DepositEntry | SealEntry | SettledEntry | FeePolicyEntry;
