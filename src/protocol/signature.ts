// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Shape checks of a 65-byte `r || s || v` signature (PROTOCOL.md §1): v is 27 or 28, high-s is
 * refused. Refusing high s matters beyond style: (r, s, v) and (r, n - s, v ^ 1) recover the same
 * signer, so accepting both would give one signed message two signature encodings, and anything
 * keyed by the signature bytes could be replayed in the other form. OpenZeppelin's ECDSA, which the
 * bridge uses, refuses high s too, so one rule holds on and off chain.
 */
import { DeltaError } from "../errors.ts";
import { decodeHexInto, isHexOfLength } from "./hex.ts";
import type { Hex } from "./types.ts";

/** Order n of the secp256k1 group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** Largest accepted s, floor(n / 2) (EIP-2). */
export const SECP256K1_HALF_N = SECP256K1_N >> 1n;

function wordBytes(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  decodeHexInto(value.toString(16).padStart(64, "0"), 0, 32, out, 0);
  return out;
}
const N_BYTES = wordBytes(SECP256K1_N);
const HALF_N_BYTES = wordBytes(SECP256K1_HALF_N);

/** Big-endian comparison of the 32-byte word at `a[offset…]` with `b`: negative, zero or positive. */
function compareWord(a: Uint8Array, offset: number, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = (a[offset + i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function isZeroWord(a: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 32; i++) if (a[offset + i] !== 0) return false;
  return true;
}

/** Outcome of checking a signature; `reason` completes a sentence that starts with the field name. */
export type SignatureCheck =
  | { readonly ok: true; readonly recoveryId: 0 | 1 }
  | {
      readonly ok: false;
      readonly code: "INVALID_SIGNATURE" | "HIGH_S_SIGNATURE" | "INVALID_V";
      readonly reason: string;
    };

/**
 * Checks `text` as a 65-byte `r || s || v` signature and decodes `r || s` into `rs[0…64)`
 * (the compact form libsecp256k1 takes). Never throws; `rs` is garbage when the check fails.
 */
export function checkSignatureInto(text: string, rs: Uint8Array): SignatureCheck {
  if (!isHexOfLength(text, 65)) {
    return {
      ok: false,
      code: "INVALID_SIGNATURE",
      reason: `must be 0x followed by 130 hex digits (65 bytes r || s || v, as eth_signTypedData_v4 returns); got ${text.length} characters`,
    };
  }
  decodeHexInto(text, 2, 64, rs, 0);
  const v = Number.parseInt(text.slice(130), 16);
  if (v !== 27 && v !== 28) {
    const hint = v === 0 || v === 1 ? ` (this one looks like a raw recovery id: add 27)` : "";
    return { ok: false, code: "INVALID_V", reason: `ends in v = ${v}; v must be 27 or 28${hint}` };
  }
  if (isZeroWord(rs, 0) || compareWord(rs, 0, N_BYTES) >= 0) {
    return { ok: false, code: "INVALID_SIGNATURE", reason: "has r outside 1..n-1 of secp256k1, so no key signed it" };
  }
  if (isZeroWord(rs, 32)) {
    return { ok: false, code: "INVALID_SIGNATURE", reason: "has s = 0, so no key signed it" };
  }
  if (compareWord(rs, 32, HALF_N_BYTES) > 0) {
    return {
      ok: false,
      code: "HIGH_S_SIGNATURE",
      reason:
        "has a high s (s > n/2), which is refused because it is a malleable twin; sign with a library that normalizes s (ethers, viem and libsecp256k1 do)",
    };
  }
  // v is 27 or 28 here (checked above): the recovery id is v - 27.
  return { ok: true, recoveryId: v === 27 ? 0 : 1 };
}

/** Checks `text` as a 65-byte `r || s || v` signature. Never throws. */
export function checkSignature(text: string): SignatureCheck {
  return checkSignatureInto(text, new Uint8Array(64));
}

/**
 * Parses a signature and returns it as lowercase hex, so that equal signatures compare equal.
 * @throws DeltaError INVALID_SIGNATURE, HIGH_S_SIGNATURE or INVALID_V
 */
export function parseSignature(text: string, field = "signature"): Hex {
  const check = checkSignature(text);
  if (!check.ok) throw new DeltaError(check.code, `${field} ${check.reason}`, { details: { field } });
  return normalizeSignature(text);
}

/** Lowercase form of a signature already checked by `checkSignature`. */
export function normalizeSignature(text: string): Hex {
  // The caller checked the shape: "0x" + 130 hex digits; lowercasing keeps that shape.
  return text.toLowerCase() as Hex;
}
