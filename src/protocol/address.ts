// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Addresses and their EIP-55 mixed-case checksum. PROTOCOL.md: addresses are accepted in any
 * checksum case and answered checksummed. "Any case" means all-lowercase or all-uppercase (no
 * checksum claimed) or mixed case that IS the EIP-55 checksum: a mixed-case address with a wrong
 * checksum is a typo caught by its author's tooling, so it is refused rather than silently fixed.
 */
import { keccak256 as keccak_256 } from "./keccak256.ts";
import { DeltaError } from "../errors.ts";
import { decodeHexInto, encodeHex, isHexOfLength } from "./hex.ts";
import type { Address } from "./types.ts";

/** Outcome of checking a candidate address string. */
export type AddressCheck =
  | { readonly ok: true; readonly address: Address }
  | { readonly ok: false; readonly code: "INVALID_ADDRESS" | "BAD_CHECKSUM"; readonly reason: string };

/**
 * Checksums already computed, by lowercase digits. A checksum costs a keccak256 (about 6 µs) and
 * the same accounts recur across transfers, while a 10,000-transfer batch parses 30,000 addresses.
 * The value is a pure function of the key, so a cache hit cannot differ from a recomputation.
 * Bounded: cleared when full, rather than tracking recency, which would cost on every hit.
 */
const CHECKSUM_CACHE = new Map<string, Address>();
const CHECKSUM_CACHE_LIMIT = 65_536;

/** Checksums 40 lowercase hex digits (no prefix). */
function checksumLowerHex(lower: string): Address {
  const cached = CHECKSUM_CACHE.get(lower);
  if (cached !== undefined) return cached;
  const address = computeChecksum(lower);
  if (CHECKSUM_CACHE.size >= CHECKSUM_CACHE_LIMIT) CHECKSUM_CACHE.clear();
  CHECKSUM_CACHE.set(lower, address);
  return address;
}

function computeChecksum(lower: string): Address {
  const ascii = new Uint8Array(40);
  for (let i = 0; i < 40; i++) ascii[i] = lower.charCodeAt(i);
  const hash = keccak_256(ascii);
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const c = lower.charAt(i);
    const byte = hash[i >> 1] ?? 0;
    const nibble = i % 2 === 0 ? byte >> 4 : byte & 0x0f;
    // EIP-55: a letter is uppercased when the matching nibble of keccak256(lowercase hex) is >= 8.
    out += c >= "a" && nibble >= 8 ? c.toUpperCase() : c;
  }
  // Built from "0x" plus 40 hex digits just above, so it has the Address shape.
  return out as Address;
}

/** The EIP-55 form of the 20 bytes at `bytes[offset…]`. */
export function checksumAddressBytes(bytes: Uint8Array, offset = 0): Address {
  return checksumLowerHex(encodeHex(bytes, offset, offset + 20));
}

/** True when `text` is 0x followed by 40 hex digits of any case (checksum not checked). */
export function isAddressShape(text: string): boolean {
  return isHexOfLength(text, 20);
}

/**
 * Checks an address string: shape (0x + 40 hex digits), then, when it mixes cases, its EIP-55
 * checksum. Returns the checksummed address or the reason for refusal; never throws.
 */
export function checkAddress(text: string): AddressCheck {
  if (!isAddressShape(text)) {
    const reason = !text.startsWith("0x")
      ? "must start with 0x (lowercase x) followed by 40 hex digits"
      : text.length !== 42
        ? `must be 0x followed by 40 hex digits (20 bytes); got ${text.length - 2} characters after 0x`
        : "must be 0x followed by 40 hex digits; it holds a character that is not 0-9, a-f or A-F";
    return { ok: false, code: "INVALID_ADDRESS", reason };
  }
  const digits = text.slice(2);
  const lower = digits.toLowerCase();
  const checksummed = checksumLowerHex(lower);
  const mixedCase = digits !== lower && digits !== digits.toUpperCase();
  if (mixedCase && checksummed !== text) {
    return {
      ok: false,
      code: "BAD_CHECKSUM",
      reason: `has a wrong EIP-55 checksum (mixed case); the checksummed form is ${checksummed}, or send it all lowercase`,
    };
  }
  return { ok: true, address: checksummed };
}

/**
 * Parses an address in any accepted case and returns it checksummed.
 * @throws DeltaError INVALID_ADDRESS (shape) or BAD_CHECKSUM (mixed case, wrong checksum)
 */
export function parseAddress(text: string, field = "address"): Address {
  const check = checkAddress(text);
  if (!check.ok) throw new DeltaError(check.code, `${field} ${check.reason}`, { details: { field } });
  return check.address;
}

/**
 * Formats a well-shaped address in EIP-55 form whatever its current case (no checksum check:
 * use for addresses from trusted sources, such as recovered signers or configuration).
 * @throws DeltaError INVALID_ADDRESS when `text` is not 0x + 40 hex digits
 */
export function checksumAddress(text: string): Address {
  if (!isAddressShape(text)) {
    throw new DeltaError("INVALID_ADDRESS", "address must be 0x followed by 40 hex digits", {
      details: { length: text.length },
    });
  }
  return checksumLowerHex(text.slice(2).toLowerCase());
}

/** Writes the 20 bytes of a well-shaped address into `out[offset…]`; false when it is malformed. */
export function writeAddress(text: string, out: Uint8Array, offset: number): boolean {
  return text.length === 42 && text.charCodeAt(0) === 48 && text.charCodeAt(1) === 120 && decodeHexInto(text, 2, 20, out, offset);
}
