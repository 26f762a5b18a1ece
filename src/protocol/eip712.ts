// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * EIP-712 domain, types and digests of every signed message (PROTOCOL.md §1 and §3).
 *
 * Digests are computed word by word with keccak_256 rather than through ethers' TypedDataEncoder:
 * every transfer is hashed once at intake, and the generic encoder (type-string parsing, per-field
 * ABI coder calls, hex round trips) costs far more than the hashing itself. Equality with
 * `TypedDataEncoder.hash` is what the unit tests prove, on random values, for every type here.
 *
 * Encoding rules applied below (EIP-712 `encodeData`): every field is one 32-byte word; address is
 * left-padded; uintN is big-endian, left-padded; int256 is two's complement over 256 bits; bytes32
 * is as is; an array of structs is keccak256 of its members' struct hashes concatenated; address[]
 * is keccak256 of the left-padded addresses concatenated; an empty array hashes the empty string.
 */
import { keccak256 as keccak_256 } from "./keccak256.ts";
import { DeltaError } from "../errors.ts";
import { writeAddress } from "./address.ts";
import { MAX_INT256, MAX_UINT256, MAX_UINT64, MIN_INT256 } from "./decimal.ts";
import { decodeHexInto, toHex, writeHexRightAligned } from "./hex.ts";
import type { Address, BridgeDomain, Delta, Hash, Payout, Rotation, Settlement, Transfer, Withdrawal } from "./types.ts";

/** The domain's own type; the domain is `{ name: "DeltaBridge", version: "1", chainId, verifyingContract }`. */
export const EIP712_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
/** PROTOCOL.md §1, byte for byte. */
export const TRANSFER_TYPE =
  "Transfer(address from,address to,address token,uint256 amount,uint256 fee,uint256 nonce,uint256 deadline)";
/** PROTOCOL.md §1, byte for byte. */
export const WITHDRAWAL_TYPE = "Withdrawal(address account,address token,uint256 amount,uint256 nonce,uint256 deadline)";
/** PROTOCOL.md §3, byte for byte. */
export const DELTA_TYPE = "Delta(address account,address token,int256 amount)";
/** PROTOCOL.md §3, byte for byte. */
export const PAYOUT_TYPE = "Payout(address account,address token,uint256 amount)";
/**
 * The Settlement struct as PROTOCOL.md §3 writes it. Its typehash is NOT keccak256 of this line:
 * EIP-712 appends the referenced struct types, sorted by name (see SETTLEMENT_ENCODED_TYPE).
 */
export const SETTLEMENT_STRUCT_TYPE =
  "Settlement(uint64 epoch,uint32 chunk,uint32 chunks,bytes32 transfersRoot,Delta[] deltas,Payout[] payouts)";
/** EIP-712 `encodeType(Settlement)`: the struct line, then Delta and Payout in name order. */
export const SETTLEMENT_ENCODED_TYPE = SETTLEMENT_STRUCT_TYPE + DELTA_TYPE + PAYOUT_TYPE;
/** PROTOCOL.md §3, byte for byte. */
export const ROTATION_TYPE = "Rotation(address[] validators,uint256 threshold,uint64 nonce)";

/** The primary types signed in this protocol. */
export type PrimaryType = "Transfer" | "Withdrawal" | "Delta" | "Payout" | "Settlement" | "Rotation";

/**
 * For each primary type, the exact string whose keccak256 is its typehash (`encodeType`): what the
 * contract's `*_TYPEHASH` constants must hash.
 */
export const ENCODED_TYPES: Readonly<Record<PrimaryType | "EIP712Domain", string>> = Object.freeze({
  EIP712Domain: EIP712_DOMAIN_TYPE,
  Transfer: TRANSFER_TYPE,
  Withdrawal: WITHDRAWAL_TYPE,
  Delta: DELTA_TYPE,
  Payout: PAYOUT_TYPE,
  Settlement: SETTLEMENT_ENCODED_TYPE,
  Rotation: ROTATION_TYPE,
});

const UTF8 = new TextEncoder();
const TYPEHASH_BYTES: Readonly<Record<PrimaryType | "EIP712Domain", Uint8Array>> = Object.freeze({
  EIP712Domain: keccak_256(UTF8.encode(EIP712_DOMAIN_TYPE)),
  Transfer: keccak_256(UTF8.encode(TRANSFER_TYPE)),
  Withdrawal: keccak_256(UTF8.encode(WITHDRAWAL_TYPE)),
  Delta: keccak_256(UTF8.encode(DELTA_TYPE)),
  Payout: keccak_256(UTF8.encode(PAYOUT_TYPE)),
  Settlement: keccak_256(UTF8.encode(SETTLEMENT_ENCODED_TYPE)),
  Rotation: keccak_256(UTF8.encode(ROTATION_TYPE)),
});

/** keccak256 of each `ENCODED_TYPES` entry, lowercase 0x hex: the contract's typehashes must equal these. */
export const TYPEHASHES: Readonly<Record<PrimaryType | "EIP712Domain", Hash>> = Object.freeze({
  EIP712Domain: toHex(TYPEHASH_BYTES.EIP712Domain),
  Transfer: toHex(TYPEHASH_BYTES.Transfer),
  Withdrawal: toHex(TYPEHASH_BYTES.Withdrawal),
  Delta: toHex(TYPEHASH_BYTES.Delta),
  Payout: toHex(TYPEHASH_BYTES.Payout),
  Settlement: toHex(TYPEHASH_BYTES.Settlement),
  Rotation: toHex(TYPEHASH_BYTES.Rotation),
});

/** One field of an EIP-712 struct, in the shape ethers and viem take. */
export interface TypedDataField {
  name: string;
  type: string;
}
/** The `types` argument of ethers `signTypedData` / viem `signTypedData` for one primary type. */
export type TypedDataTypes = Record<string, TypedDataField[]>;

/**
 * Freezes the field lists so no caller can corrupt the shared definitions, while keeping the
 * mutable array type ethers' `signTypedData(domain, types, value)` parameter asks for (ethers only
 * reads them).
 */
function frozenTypes<T extends TypedDataTypes>(types: T): T {
  for (const fields of Object.values(types)) {
    for (const field of fields) Object.freeze(field);
    Object.freeze(fields);
  }
  return Object.freeze(types);
}

const TRANSFER_FIELDS: TypedDataField[] = [
  { name: "from", type: "address" },
  { name: "to", type: "address" },
  { name: "token", type: "address" },
  { name: "amount", type: "uint256" },
  { name: "fee", type: "uint256" },
  { name: "nonce", type: "uint256" },
  { name: "deadline", type: "uint256" },
];
const WITHDRAWAL_FIELDS: TypedDataField[] = [
  { name: "account", type: "address" },
  { name: "token", type: "address" },
  { name: "amount", type: "uint256" },
  { name: "nonce", type: "uint256" },
  { name: "deadline", type: "uint256" },
];
const DELTA_FIELDS: TypedDataField[] = [
  { name: "account", type: "address" },
  { name: "token", type: "address" },
  { name: "amount", type: "int256" },
];
const PAYOUT_FIELDS: TypedDataField[] = [
  { name: "account", type: "address" },
  { name: "token", type: "address" },
  { name: "amount", type: "uint256" },
];
const SETTLEMENT_FIELDS: TypedDataField[] = [
  { name: "epoch", type: "uint64" },
  { name: "chunk", type: "uint32" },
  { name: "chunks", type: "uint32" },
  { name: "transfersRoot", type: "bytes32" },
  { name: "deltas", type: "Delta[]" },
  { name: "payouts", type: "Payout[]" },
];
const ROTATION_FIELDS: TypedDataField[] = [
  { name: "validators", type: "address[]" },
  { name: "threshold", type: "uint256" },
  { name: "nonce", type: "uint64" },
];

/**
 * The ethers/viem `types` object of each primary type, e.g.
 * `wallet.signTypedData(domain, TYPES.Transfer, transfer)`. Frozen.
 */
export const TYPES: Readonly<Record<PrimaryType, TypedDataTypes>> = Object.freeze({
  Transfer: frozenTypes({ Transfer: TRANSFER_FIELDS }),
  Withdrawal: frozenTypes({ Withdrawal: WITHDRAWAL_FIELDS }),
  Delta: frozenTypes({ Delta: DELTA_FIELDS }),
  Payout: frozenTypes({ Payout: PAYOUT_FIELDS }),
  Settlement: frozenTypes({ Settlement: SETTLEMENT_FIELDS, Delta: DELTA_FIELDS, Payout: PAYOUT_FIELDS }),
  Rotation: frozenTypes({ Rotation: ROTATION_FIELDS }),
});

/** A domain, or its separator as 0x hex (32 bytes), as the digest functions accept either. */
export type DomainOrSeparator = BridgeDomain | Hash;

// ---------------------------------------------------------------------------------------------
// Word writers. Each refuses a value its Solidity type cannot hold: silently truncating one would
// produce a digest the contract never computes, so a signature over it would never verify.

const WORD = 32;
const UINT32_MAX_NUMBER = 0xffff_ffff;

function putAddress(buf: Uint8Array, word: number, value: Address, field: string): void {
  // An address is uint160, left-padded: its 20 bytes are the word's last 20.
  if (typeof value !== "string" || !writeAddress(value, buf, word * WORD + 12)) {
    throw new DeltaError("INVALID_ADDRESS", `${field} must be 0x followed by 40 hex digits`, { details: { field } });
  }
}

function putUint(buf: Uint8Array, word: number, value: bigint, max: bigint, field: string, type: string): void {
  if (typeof value !== "bigint") {
    throw new DeltaError("INVALID_AMOUNT", `${field} must be a bigint (${type})`, { details: { field } });
  }
  if (value < 0n) throw new DeltaError("INVALID_AMOUNT", `${field} must not be negative (${type})`, { details: { field } });
  if (value > max) throw new DeltaError("AMOUNT_TOO_LARGE", `${field} does not fit in ${type}`, { details: { field } });
  // The buffer is freshly allocated, so zero needs no write.
  if (value !== 0n) writeHexRightAligned(value.toString(16), buf, word * WORD, WORD);
}

function putSmallUint(buf: Uint8Array, word: number, value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > UINT32_MAX_NUMBER) {
    throw new DeltaError("INVALID_AMOUNT", `${field} must be an integer in 0..2^32-1 (uint32)`, { details: { field } });
  }
  if (value !== 0) writeHexRightAligned(value.toString(16), buf, word * WORD, WORD);
}

function putInt256(buf: Uint8Array, word: number, value: bigint, field: string): void {
  if (typeof value !== "bigint") {
    throw new DeltaError("INVALID_AMOUNT", `${field} must be a bigint (int256)`, { details: { field } });
  }
  if (value < MIN_INT256 || value > MAX_INT256) {
    throw new DeltaError("AMOUNT_TOO_LARGE", `${field} does not fit in int256`, { details: { field } });
  }
  // Two's complement over 256 bits: a negative v is encoded as 2^256 + v.
  const encoded = value < 0n ? (1n << 256n) + value : value;
  if (encoded !== 0n) writeHexRightAligned(encoded.toString(16), buf, word * WORD, WORD);
}

function putBytes32(buf: Uint8Array, word: number, value: Hash, field: string): void {
  if (typeof value !== "string" || value.length !== 66 || !value.startsWith("0x") || !decodeHexInto(value, 2, 32, buf, word * WORD)) {
    throw new DeltaError("INVALID_HASH", `${field} must be 0x followed by 64 hex digits (32 bytes)`, { details: { field } });
  }
}

function startStruct(type: PrimaryType, fields: number): Uint8Array {
  const buf = new Uint8Array((1 + fields) * WORD);
  buf.set(TYPEHASH_BYTES[type], 0);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Domain separator, cached: it is the same for every message a node sees, and recomputing it would
// add three keccak calls to every digest.

const SEPARATOR_CACHE = new Map<string, Uint8Array>();
/** A node talks to one bridge; the bound only stops a caller cycling through domains from growing the map. */
const SEPARATOR_CACHE_LIMIT = 16;

function computeSeparator(domain: BridgeDomain): Uint8Array {
  if (typeof domain.name !== "string" || typeof domain.version !== "string") {
    throw new DeltaError("INVALID_BODY", "domain name and version must be strings", { details: { field: "domain" } });
  }
  const buf = new Uint8Array(5 * WORD);
  buf.set(TYPEHASH_BYTES.EIP712Domain, 0);
  // Dynamic strings are encoded as the keccak256 of their UTF-8 bytes.
  buf.set(keccak_256(UTF8.encode(domain.name)), WORD);
  buf.set(keccak_256(UTF8.encode(domain.version)), 2 * WORD);
  putUint(buf, 3, domain.chainId, MAX_UINT256, "domain.chainId", "uint256");
  putAddress(buf, 4, domain.verifyingContract, "domain.verifyingContract");
  return keccak_256(buf);
}

function separatorBytes(domain: DomainOrSeparator): Uint8Array {
  if (typeof domain === "string") {
    const out = new Uint8Array(WORD);
    putBytes32(out, 0, domain, "domain separator");
    return out;
  }
  if (typeof domain.chainId !== "bigint") {
    // Checked before the cache: "1337" as a number and 1337n as a bigint must not share an entry.
    throw new DeltaError("INVALID_AMOUNT", "domain.chainId must be a bigint (uint256)", { details: { field: "domain.chainId" } });
  }
  const key = `${domain.name}\u0000${domain.version}\u0000${String(domain.chainId)}\u0000${String(domain.verifyingContract).toLowerCase()}`;
  let separator = SEPARATOR_CACHE.get(key);
  if (separator === undefined) {
    separator = computeSeparator(domain);
    if (SEPARATOR_CACHE.size >= SEPARATOR_CACHE_LIMIT) SEPARATOR_CACHE.clear();
    SEPARATOR_CACHE.set(key, separator);
  }
  return separator;
}

/**
 * The EIP-712 domain separator of `domain`, lowercase 0x hex.
 * @throws DeltaError INVALID_ADDRESS, INVALID_AMOUNT or AMOUNT_TOO_LARGE on a malformed domain
 */
export function domainSeparator(domain: BridgeDomain): Hash {
  return toHex(separatorBytes(domain));
}

/** keccak256(0x19 0x01 ‖ separator ‖ structHash): the signed digest. */
function finalDigest(domain: DomainOrSeparator, structHash: Uint8Array): Hash {
  const buf = new Uint8Array(2 + 2 * WORD);
  buf[0] = 0x19;
  buf[1] = 0x01;
  buf.set(separatorBytes(domain), 2);
  buf.set(structHash, 2 + WORD);
  return toHex(keccak_256(buf));
}

// ---------------------------------------------------------------------------------------------
// Struct hashes.

function transferStructHash(t: Transfer): Uint8Array {
  const buf = startStruct("Transfer", 7);
  putAddress(buf, 1, t.from, "from");
  putAddress(buf, 2, t.to, "to");
  putAddress(buf, 3, t.token, "token");
  putUint(buf, 4, t.amount, MAX_UINT256, "amount", "uint256");
  putUint(buf, 5, t.fee, MAX_UINT256, "fee", "uint256");
  putUint(buf, 6, t.nonce, MAX_UINT256, "nonce", "uint256");
  putUint(buf, 7, t.deadline, MAX_UINT256, "deadline", "uint256");
  return keccak_256(buf);
}

function withdrawalStructHash(w: Withdrawal): Uint8Array {
  const buf = startStruct("Withdrawal", 5);
  putAddress(buf, 1, w.account, "account");
  putAddress(buf, 2, w.token, "token");
  putUint(buf, 3, w.amount, MAX_UINT256, "amount", "uint256");
  putUint(buf, 4, w.nonce, MAX_UINT256, "nonce", "uint256");
  putUint(buf, 5, w.deadline, MAX_UINT256, "deadline", "uint256");
  return keccak_256(buf);
}

function deltaStructHash(d: Delta, field: string): Uint8Array {
  const buf = startStruct("Delta", 3);
  putAddress(buf, 1, d.account, `${field}.account`);
  putAddress(buf, 2, d.token, `${field}.token`);
  putInt256(buf, 3, d.amount, `${field}.amount`);
  return keccak_256(buf);
}

function payoutStructHash(p: Payout, field: string): Uint8Array {
  const buf = startStruct("Payout", 3);
  putAddress(buf, 1, p.account, `${field}.account`);
  putAddress(buf, 2, p.token, `${field}.token`);
  putUint(buf, 3, p.amount, MAX_UINT256, `${field}.amount`, "uint256");
  return keccak_256(buf);
}

function settlementStructHash(s: Settlement): Uint8Array {
  const deltas = new Uint8Array(s.deltas.length * WORD);
  s.deltas.forEach((d, i) => deltas.set(deltaStructHash(d, `deltas[${i}]`), i * WORD));
  const payouts = new Uint8Array(s.payouts.length * WORD);
  s.payouts.forEach((p, i) => payouts.set(payoutStructHash(p, `payouts[${i}]`), i * WORD));

  const buf = startStruct("Settlement", 6);
  putUint(buf, 1, s.epoch, MAX_UINT64, "epoch", "uint64");
  putSmallUint(buf, 2, s.chunk, "chunk");
  putSmallUint(buf, 3, s.chunks, "chunks");
  putBytes32(buf, 4, s.transfersRoot, "transfersRoot");
  buf.set(keccak_256(deltas), 5 * WORD);
  buf.set(keccak_256(payouts), 6 * WORD);
  return keccak_256(buf);
}

function rotationStructHash(r: Rotation): Uint8Array {
  const validators = new Uint8Array(r.validators.length * WORD);
  r.validators.forEach((v, i) => putAddress(validators, i, v, `validators[${i}]`));

  const buf = startStruct("Rotation", 3);
  buf.set(keccak_256(validators), WORD);
  putUint(buf, 2, r.threshold, MAX_UINT256, "threshold", "uint256");
  putUint(buf, 3, r.nonce, MAX_UINT64, "nonce", "uint64");
  return keccak_256(buf);
}

// ---------------------------------------------------------------------------------------------
// Digests.

/**
 * EIP-712 digest of a Transfer under `domain` (or its separator), lowercase 0x hex.
 * @throws DeltaError INVALID_ADDRESS, INVALID_AMOUNT, AMOUNT_TOO_LARGE or INVALID_HASH on a value its type cannot hold
 */
export function hashTransfer(domain: DomainOrSeparator, transfer: Transfer): Hash {
  return finalDigest(domain, transferStructHash(transfer));
}

/** EIP-712 digest of a Withdrawal; throws as `hashTransfer`. */
export function hashWithdrawal(domain: DomainOrSeparator, withdrawal: Withdrawal): Hash {
  return finalDigest(domain, withdrawalStructHash(withdrawal));
}

/** EIP-712 digest of a Settlement chunk (what validators sign); throws as `hashTransfer`. */
export function hashSettlement(domain: DomainOrSeparator, settlement: Settlement): Hash {
  return finalDigest(domain, settlementStructHash(settlement));
}

/** EIP-712 digest of a validator Rotation; throws as `hashTransfer`. */
export function hashRotation(domain: DomainOrSeparator, rotation: Rotation): Hash {
  return finalDigest(domain, rotationStructHash(rotation));
}
