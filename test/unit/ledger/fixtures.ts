// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Builders shared by the ledger tests. Message hashes are keccak256 of a counter: the ledger never
 * recomputes digests (they arrive checked from upstream), it only needs them unique and well-formed.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Address, Hash } from "../../../src/protocol/index.ts";
import type { BlockEntry, DepositEntry, LedgerMessage, TransferMessage, WithdrawalMessage } from "../../../src/ledger/index.ts";

export const NATIVE: Address = "0x0000000000000000000000000000000000000000";
export const TOKEN: Address = "0x00000000000000000000000000000000000000aa";
export const FEES: Address = "0x000000000000000000000000000000000000fee5";
export const ALICE: Address = "0x00000000000000000000000000000000000a11ce";
export const BOB: Address = "0x0000000000000000000000000000000000000b0b";
export const MIKE: Address = "0x000000000000000000000000000000000000a1ce";

/** Block time used by default: far below every default deadline. */
export const NOW = 1_700_000_000n;
export const FAR = 4_000_000_000n;

/** The nth account of a pool: 0x + 40 hex digits, never zero. */
export function accountAt(n: number): Address {
  return `0x${(n + 1).toString(16).padStart(40, "0")}`;
}

/** keccak256 of a decimal counter: unique, lowercase 32-byte hashes. */
export function hashOf(counter: number | bigint | string): Hash {
  return `0x${bytesToHex(keccak_256(new TextEncoder().encode(`msg:${counter}`)))}`;
}

let counter = 0;
/** A fresh unique hash. */
export function nextHash(): Hash {
  counter++;
  return hashOf(`fixture-${counter}`);
}

export function transfer(
  from: Address,
  to: Address,
  amount: bigint,
  nonce: bigint,
  opts: { fee?: bigint; token?: Address; deadline?: bigint; hash?: Hash } = {},
): TransferMessage {
  return {
    kind: "transfer",
    hash: opts.hash ?? nextHash(),
    from,
    to,
    token: opts.token ?? TOKEN,
    amount,
    fee: opts.fee ?? 0n,
    nonce,
    deadline: opts.deadline ?? FAR,
  };
}

export function withdrawal(
  account: Address,
  amount: bigint,
  nonce: bigint,
  opts: { token?: Address; deadline?: bigint; hash?: Hash } = {},
): WithdrawalMessage {
  return {
    kind: "withdrawal",
    hash: opts.hash ?? nextHash(),
    account,
    token: opts.token ?? TOKEN,
    amount,
    nonce,
    deadline: opts.deadline ?? FAR,
  };
}

export function block(messages: readonly LedgerMessage[], timestampSec: bigint = NOW): BlockEntry {
  return { type: "block", timestampSec, messages };
}

export function deposit(depositId: bigint, account: Address, amount: bigint, token: Address = TOKEN): DepositEntry {
  return { type: "deposit", depositId, account, token, amount };
}
