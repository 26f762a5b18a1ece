// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * fast-check arbitraries shared by the protocol tests. Not a test file itself: its name matches no
 * test pattern, and it only exports.
 */
import fc from "fast-check";
import { getAddress } from "ethers";
import { MAX_INT256, MAX_UINT256, MAX_UINT64, MIN_INT256 } from "../../../src/protocol/decimal.ts";
import type { Address, BridgeDomain, Delta, Hash, Payout, Rotation, Settlement, Transfer, Withdrawal } from "../../../src/protocol/types.ts";

export function bytesToHex(bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

/** Lowercase addresses, with the zero address and 0xff…ff among the edge cases. */
export const lowerAddress: fc.Arbitrary<Address> = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ minLength: 20, maxLength: 20 }).map(bytesToHex) },
  { weight: 1, arbitrary: fc.constantFrom<Address>(`0x${"00".repeat(20)}`, `0x${"ff".repeat(20)}`) },
);

/** Checksummed addresses (by ethers, the reference). */
export const checksummedAddress: fc.Arbitrary<Address> = lowerAddress.map((a) => getAddress(a) as Address); // getAddress returns 0x + 40 hex digits

/** uint256 with the bounds and small values over-represented. */
export const uint256: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_UINT256 }),
  fc.bigInt({ min: 0n, max: 1n << 64n }),
  fc.constantFrom(0n, 1n, MAX_UINT256, MAX_UINT256 - 1n, 1n << 255n),
);

export const uint64: fc.Arbitrary<bigint> = fc.oneof(fc.bigInt({ min: 0n, max: MAX_UINT64 }), fc.constantFrom(0n, MAX_UINT64));

export const uint32: fc.Arbitrary<number> = fc.oneof(
  fc.bigInt({ min: 0n, max: 0xffff_ffffn }).map(Number),
  fc.constantFrom(0, 1, 0xffff_ffff),
);

/** int256, negative values included, with both bounds and -1 as edge cases. */
export const int256: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: MIN_INT256, max: MAX_INT256 }),
  fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
  fc.constantFrom(MIN_INT256, MAX_INT256, -1n, 0n, 1n),
);

export const bytes32: fc.Arbitrary<Hash> = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex);

export const domain: fc.Arbitrary<BridgeDomain> = fc.record({
  name: fc.constant("DeltaBridge" as const),
  version: fc.constant("1" as const),
  chainId: fc.oneof(fc.bigInt({ min: 1n, max: MAX_UINT256 }), fc.constantFrom(1n, 1337n, 31337n)),
  verifyingContract: checksummedAddress,
});

export const transfer: fc.Arbitrary<Transfer> = fc.record({
  from: lowerAddress,
  to: lowerAddress,
  token: lowerAddress,
  amount: uint256,
  fee: uint256,
  nonce: uint256,
  deadline: uint256,
});

export const withdrawal: fc.Arbitrary<Withdrawal> = fc.record({
  account: lowerAddress,
  token: lowerAddress,
  amount: uint256,
  nonce: uint256,
  deadline: uint256,
});

export const delta: fc.Arbitrary<Delta> = fc.record({ account: lowerAddress, token: lowerAddress, amount: int256 });
export const payout: fc.Arbitrary<Payout> = fc.record({ account: lowerAddress, token: lowerAddress, amount: uint256 });

export function settlement(lengths: { min: number; max: number }): fc.Arbitrary<Settlement> {
  return fc.record({
    epoch: uint64,
    chunk: uint32,
    chunks: uint32,
    transfersRoot: bytes32,
    deltas: fc.array(delta, { minLength: lengths.min, maxLength: lengths.max }),
    payouts: fc.array(payout, { minLength: lengths.min, maxLength: lengths.max }),
  });
}

export const rotation: fc.Arbitrary<Rotation> = fc.record({
  validators: fc.array(lowerAddress, { minLength: 0, maxLength: 12 }),
  threshold: uint256,
  nonce: uint64,
});

/** A valid secp256k1 private key as 0x hex. */
export const privateKey: fc.Arbitrary<`0x${string}`> = fc
  .bigInt({ min: 1n, max: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140n })
  .map((k) => `0x${k.toString(16).padStart(64, "0")}` as const);
