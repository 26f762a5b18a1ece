// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * protocol/: the public face of PROTOCOL.md in code. EIP-712 types and digests, signature
 * recovery, zod schemas of every request body, and the decimal and address codecs. Imports only
 * libraries and src/errors.ts; no I/O apart from RecoveryPool's worker threads and the start-up
 * timing in checkNativeRecovery. Other folders import this file, never a sibling module.
 */

// Value types (PROTOCOL.md §1, §3).
/** A 20-byte address, 0x-hex, EIP-55 checksummed once parsed. */
export type { Address } from "./types.ts";
/** A 32-byte hash, 0x-prefixed lowercase hex. */
export type { Hash } from "./types.ts";
/** Arbitrary 0x-prefixed hex; signatures are 65 bytes r ‖ s ‖ v. */
export type { Hex } from "./types.ts";
/** The EIP-712 domain `{ name: "DeltaBridge", version: "1", chainId, verifyingContract }`. */
export type { BridgeDomain } from "./types.ts";
/** A transfer's signed fields; amounts, fee, nonce and deadline (unix seconds) are bigint. */
export type { Transfer } from "./types.ts";
/** A withdrawal's signed fields; amount, nonce and deadline (unix seconds) are bigint. */
export type { Withdrawal } from "./types.ts";
/** A Transfer with its 65-byte signature (lowercase hex once parsed). */
export type { SignedTransfer } from "./types.ts";
/** A Withdrawal with its 65-byte signature (lowercase hex once parsed). */
export type { SignedWithdrawal } from "./types.ts";
/** A signed change (int256 wei) of an account's settled balance of a token. */
export type { Delta } from "./types.ts";
/** An amount (uint256 wei) made withdrawable on-chain. */
export type { Payout } from "./types.ts";
/** One settlement chunk: epoch (uint64), chunk and chunks (uint32), transfers root, deltas, payouts. */
export type { Settlement } from "./types.ts";
/** A validator rotation: the new set, its threshold and the current rotation nonce (uint64). */
export type { Rotation } from "./types.ts";
/** The native coin (ETH) as a token: the zero address. */
export { NATIVE_TOKEN } from "./types.ts";

// EIP-712 (eip712.ts).
/** `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`. */
export { EIP712_DOMAIN_TYPE } from "./eip712.ts";
/** The Transfer type string of PROTOCOL.md §1, byte for byte. */
export { TRANSFER_TYPE } from "./eip712.ts";
/** The Withdrawal type string of PROTOCOL.md §1, byte for byte. */
export { WITHDRAWAL_TYPE } from "./eip712.ts";
/** The Delta type string of PROTOCOL.md §3, byte for byte. */
export { DELTA_TYPE } from "./eip712.ts";
/** The Payout type string of PROTOCOL.md §3, byte for byte. */
export { PAYOUT_TYPE } from "./eip712.ts";
/** The Settlement struct line of PROTOCOL.md §3 (its typehash hashes SETTLEMENT_ENCODED_TYPE). */
export { SETTLEMENT_STRUCT_TYPE } from "./eip712.ts";
/** EIP-712 encodeType(Settlement): the struct line followed by Delta and Payout. */
export { SETTLEMENT_ENCODED_TYPE } from "./eip712.ts";
/** The Rotation type string of PROTOCOL.md §3, byte for byte. */
export { ROTATION_TYPE } from "./eip712.ts";
/** Per primary type, the exact string whose keccak256 is its typehash. */
export { ENCODED_TYPES } from "./eip712.ts";
/** Per primary type, its typehash as lowercase 0x hex: the contract's constants must equal these. */
export { TYPEHASHES } from "./eip712.ts";
/** Per primary type, the frozen ethers/viem `types` object for signTypedData. */
export { TYPES } from "./eip712.ts";
/** "Transfer" | "Withdrawal" | "Delta" | "Payout" | "Settlement" | "Rotation". */
export type { PrimaryType } from "./eip712.ts";
/** One `{ name, type }` field of an EIP-712 struct. */
export type { TypedDataField } from "./eip712.ts";
/** The `types` argument of signTypedData for one primary type. */
export type { TypedDataTypes } from "./eip712.ts";
/** A BridgeDomain or its separator (32-byte 0x hex): what the hash functions take. */
export type { DomainOrSeparator } from "./eip712.ts";
/** The domain separator (cached per domain); throws DeltaError INVALID_ADDRESS/INVALID_AMOUNT on a malformed domain. */
export { domainSeparator } from "./eip712.ts";
/** EIP-712 digest of a Transfer; throws DeltaError when a value does not fit its Solidity type. */
export { hashTransfer } from "./eip712.ts";
/** EIP-712 digest of a Withdrawal; throws DeltaError when a value does not fit its Solidity type. */
export { hashWithdrawal } from "./eip712.ts";
/** EIP-712 digest of a Settlement chunk (what validators sign); throws as hashTransfer. */
export { hashSettlement } from "./eip712.ts";
/** EIP-712 digest of a validator Rotation; throws as hashTransfer. */
export { hashRotation } from "./eip712.ts";

// Hashes (hash.ts).
/** True for a 32-byte hash as PROTOCOL.md writes it: 0x + 64 lowercase hex digits. */
export { isHash, HASH_PATTERN } from "./hash.ts";

// Addresses (address.ts).
/** Checks an address string (shape, then EIP-55 if mixed case); returns the checksummed form or the refusal. */
export { checkAddress } from "./address.ts";
/** Parses an address in any accepted case to EIP-55; throws DeltaError INVALID_ADDRESS or BAD_CHECKSUM. */
export { parseAddress } from "./address.ts";
/** EIP-55 form of a well-shaped address, no checksum check; throws DeltaError INVALID_ADDRESS. */
export { checksumAddress } from "./address.ts";
/** True for 0x followed by 40 hex digits of any case. */
export { isAddressShape } from "./address.ts";
/** Result of checkAddress. */
export type { AddressCheck } from "./address.ts";

// Decimal strings (decimal.ts).
/** 2^256 - 1. */
export { MAX_UINT256 } from "./decimal.ts";
/** 2^64 - 1. */
export { MAX_UINT64 } from "./decimal.ts";
/** 2^32 - 1. */
export { MAX_UINT32 } from "./decimal.ts";
/** 2^255 - 1. */
export { MAX_INT256 } from "./decimal.ts";
/** -2^255. */
export { MIN_INT256 } from "./decimal.ts";
/** JSON-schema pattern of a canonical unsigned decimal string. */
export { UINT_DECIMAL_PATTERN } from "./decimal.ts";
/** JSON-schema pattern of a canonical signed decimal string. */
export { INT_DECIMAL_PATTERN } from "./decimal.ts";
/** Checks a canonical unsigned decimal string up to a bound (default uint256); never throws. */
export { checkUintDecimal } from "./decimal.ts";
/** Checks a canonical signed decimal string in the int256 range; never throws. */
export { checkIntDecimal } from "./decimal.ts";
/** Parses an unsigned decimal string to bigint; throws DeltaError INVALID_AMOUNT or AMOUNT_TOO_LARGE. */
export { parseUintDecimal } from "./decimal.ts";
/** Parses a signed decimal string to bigint; throws DeltaError INVALID_AMOUNT or AMOUNT_TOO_LARGE. */
export { parseIntDecimal } from "./decimal.ts";
/** Writes a bigint as its canonical decimal string (never through a JSON number). */
export { toDecimal } from "./decimal.ts";
/** Result of checkUintDecimal / checkIntDecimal. */
export type { DecimalCheck } from "./decimal.ts";

// Signatures (signature.ts).
/** The secp256k1 group order n. */
export { SECP256K1_N } from "./signature.ts";
/** floor(n / 2): the largest accepted s. */
export { SECP256K1_HALF_N } from "./signature.ts";
/** Checks a 65-byte r ‖ s ‖ v signature (shape, v 27/28, r and s ranges, low s); never throws. */
export { checkSignature } from "./signature.ts";
/** Parses a signature to lowercase hex; throws DeltaError INVALID_SIGNATURE, HIGH_S_SIGNATURE or INVALID_V. */
export { parseSignature } from "./signature.ts";
/** Result of checkSignature. */
export type { SignatureCheck } from "./signature.ts";

// Request bodies (schemas.ts).
/** Most items in one POST /v1/transfers/batch: 10,000. */
export { TRANSFER_BATCH_MAX } from "./schemas.ts";
/** zod schema of the POST /v1/transfers body (OpenAPI id TransferRequest). */
export { TransferRequestSchema } from "./schemas.ts";
/** zod schema of the POST /v1/withdrawals body (OpenAPI id WithdrawalRequest). */
export { WithdrawalRequestSchema } from "./schemas.ts";
/** zod schema of the POST /v1/transfers/batch body, fully typed, for OpenAPI (id TransferBatchRequest). */
export { TransferBatchRequestSchema } from "./schemas.ts";
/** zod schema of the POST /v1/admin/seal body: empty (OpenAPI id AdminSealRequest). */
export { AdminSealRequestSchema } from "./schemas.ts";
/** Field schema factory: a uint256 decimal string parsed to bigint (AMOUNT_ZERO when `positive`). */
export { uintDecimalField } from "./schemas.ts";
/** Field schema factory: an int256 signed decimal string parsed to bigint. */
export { intDecimalField } from "./schemas.ts";
/** Field schema factory: an address in any accepted case, parsed to EIP-55 (ZERO_ADDRESS unless allowed). */
export { addressField } from "./schemas.ts";
/** Field schema factory: a low-s 65-byte signature with v 27/28, parsed to lowercase hex. */
export { signatureField } from "./schemas.ts";
/** Parses a transfer body; throws DeltaError with the first issue's code, every issue in details.issues. */
export { parseTransferRequest } from "./schemas.ts";
/** Parses a transfer body into a ParseResult; never throws. */
export { tryParseTransferRequest } from "./schemas.ts";
/** Parses a withdrawal body; throws DeltaError with the first issue's code, every issue in details.issues. */
export { parseWithdrawalRequest } from "./schemas.ts";
/** Parses a withdrawal body into a ParseResult; never throws. */
export { tryParseWithdrawalRequest } from "./schemas.ts";
/** Parses a batch body into one ParseResult per item, in order; throws DeltaError only for a bad envelope. */
export { parseTransferBatchRequest } from "./schemas.ts";
/** Parses a batch body; never throws (envelope refusal or per-item results). */
export { tryParseTransferBatchRequest } from "./schemas.ts";
/** A batch's envelope alone: its items unparsed, for a caller that parses them in slices; never throws. */
export { tryParseTransferBatchEnvelope } from "./schemas.ts";
/** One batch item (issue paths prefixed transfers[i]); never throws. */
export { tryParseTransferBatchItem } from "./schemas.ts";
/** Issues kept per refused body or batch item (the message counts the rest). */
export { MAX_ISSUES } from "./schemas.ts";
/** Parses the admin seal body ({} or absent); throws DeltaError UNKNOWN_FIELD or INVALID_BODY. */
export { parseAdminSealRequest } from "./schemas.ts";
/** Parses the admin seal body into a ParseResult; never throws. */
export { tryParseAdminSealRequest } from "./schemas.ts";
/** A SignedTransfer as its JSON body (decimal strings). */
export { encodeTransferRequest } from "./schemas.ts";
/** A SignedWithdrawal as its JSON body (decimal strings). */
export { encodeWithdrawalRequest } from "./schemas.ts";
/** One refusal: code, field path (e.g. `transfers[3].fee`) and message. */
export type { ProtocolIssue } from "./schemas.ts";
/** `{ ok: true, value }` or `{ ok: false, error: DeltaError }`. */
export type { ParseResult } from "./schemas.ts";
/** The JSON body of a transfer request, as a client sends it. */
export type { TransferRequestJson } from "./schemas.ts";
/** The JSON body of a withdrawal request, as a client sends it. */
export type { WithdrawalRequestJson } from "./schemas.ts";
/** The parsed admin seal body: no fields. */
export type { AdminSealRequest } from "./schemas.ts";

// Signature recovery (recover.ts, recoveryPool.ts).
/** True when the native libsecp256k1 binding loaded (false: the silent JS fallback). */
export { isNativeSecp256k1 } from "./recover.ts";
/** The checksummed signer of a digest (~75 µs natively); throws DeltaError INVALID_HASH, INVALID_SIGNATURE, HIGH_S_SIGNATURE or INVALID_V. */
export { recoverSigner } from "./recover.ts";
/** recoverSigner in pure JS (elliptic, ~20-30x slower): the reference for tests and the fallback figure. */
export { recoverSignerJs } from "./recover.ts";
/** Synchronous native recovery of many items: one address or null per item, in order. */
export { recoverBatch } from "./recover.ts";
/** Start-up self check: verifies a fixed sample, detects the JS fallback, measures both speeds (~300 ms). */
export { checkNativeRecovery } from "./recover.ts";
/** One signature to recover: EIP-712 digest and 65-byte signature. */
export type { RecoveryItem } from "./recover.ts";
/** Result of checkNativeRecovery: native flag, recoveries per second both ways, and their ratio. */
export type { NativeRecoveryCheck } from "./recover.ts";
/** Worker-thread pool for large recovery batches (small ones inline); create(), recover(), close(). */
export { RecoveryPool } from "./recoveryPool.ts";
/** Options of RecoveryPool.create: threads, inline threshold, chunk size, worker module. */
export type { RecoveryPoolOptions } from "./recoveryPool.ts";
/** Batches below this many items run inline (measured by bench/recover.ts). */
export { DEFAULT_INLINE_BELOW } from "./recoveryPool.ts";
/** Most items sent to one worker in one message. */
export { DEFAULT_CHUNK_SIZE } from "./recoveryPool.ts";

// Hashing.
/** keccak256 into a caller's buffer (any length); the project's keccak, faster than noble's. */
export { keccak256Into } from "./keccak256.ts";
/** keccak256 of bytes as a new 32-byte array. */
export { keccak256 } from "./keccak256.ts";
