// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The protocol's value types (PROTOCOL.md §1 and §3). Amounts, nonces, deadlines and epochs are
 * bigint; addresses are EIP-55 checksummed 0x-hex; hashes are 0x-prefixed lowercase hex.
 */

/** A 20-byte address, EIP-55 checksummed once parsed. */
export type Address = `0x${string}`;
/** A 32-byte hash, 0x-prefixed lowercase hex. */
export type Hash = `0x${string}`;
/** Arbitrary 0x-prefixed hex (signatures: 65 bytes r || s || v). */
export type Hex = `0x${string}`;

/** The native coin (ETH) as a token address. */
export const NATIVE_TOKEN: Address = "0x0000000000000000000000000000000000000000";

/** EIP-712 domain of DeltaBridge: name "DeltaBridge", version "1". */
export interface BridgeDomain {
  readonly name: "DeltaBridge";
  readonly version: "1";
  readonly chainId: bigint;
  readonly verifyingContract: Address;
}

/** PROTOCOL.md §1 Transfer. */
export interface Transfer {
  readonly from: Address;
  readonly to: Address;
  readonly token: Address;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly nonce: bigint;
  /** unix seconds */
  readonly deadline: bigint;
}

/** PROTOCOL.md §1 Withdrawal. */
export interface Withdrawal {
  readonly account: Address;
  readonly token: Address;
  readonly amount: bigint;
  readonly nonce: bigint;
  /** unix seconds */
  readonly deadline: bigint;
}

export interface SignedTransfer extends Transfer {
  readonly signature: Hex;
}

export interface SignedWithdrawal extends Withdrawal {
  readonly signature: Hex;
}

/** PROTOCOL.md §3 Delta: a signed change of an account's settled balance. */
export interface Delta {
  readonly account: Address;
  readonly token: Address;
  readonly amount: bigint;
}

/** PROTOCOL.md §3 Payout: an amount made withdrawable on-chain. */
export interface Payout {
  readonly account: Address;
  readonly token: Address;
  readonly amount: bigint;
}

/** PROTOCOL.md §3 Settlement chunk. */
export interface Settlement {
  readonly epoch: bigint;
  readonly chunk: number;
  readonly chunks: number;
  readonly transfersRoot: Hash;
  readonly deltas: readonly Delta[];
  readonly payouts: readonly Payout[];
}

/** PROTOCOL.md §3 Rotation. */
export interface Rotation {
  readonly validators: readonly Address[];
  readonly threshold: bigint;
  readonly nonce: bigint;
}
