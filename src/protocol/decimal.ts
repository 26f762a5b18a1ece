// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The decimal-string codec for bigint values. PROTOCOL.md: amounts, nonces and deadlines travel as
 * decimal strings, because JSON numbers lose precision above 2^53 and wei amounts routinely exceed
 * it. One value has exactly one accepted spelling (no sign on unsigned values, no leading zeros, no
 * spaces, no exponent, no hex): a client that sends anything else has a bug worth hearing about
 * before it signs the wrong number.
 */
import { DeltaError } from "../errors.ts";

/** Largest uint256, 2^256 - 1. */
export const MAX_UINT256 = (1n << 256n) - 1n;
/** Largest uint64, 2^64 - 1 (settlement epoch, rotation nonce). */
export const MAX_UINT64 = (1n << 64n) - 1n;
/** Largest uint32, 2^32 - 1 (settlement chunk index and count). */
export const MAX_UINT32 = (1n << 32n) - 1n;
/** Largest int256, 2^255 - 1. */
export const MAX_INT256 = (1n << 255n) - 1n;
/** Smallest int256, -2^255. */
export const MIN_INT256 = -(1n << 255n);

/** JSON-schema pattern of a canonical unsigned decimal string (what `checkUintDecimal` accepts below its maximum). */
export const UINT_DECIMAL_PATTERN = "^(0|[1-9][0-9]*)$";
/** JSON-schema pattern of a canonical signed decimal string (what `checkIntDecimal` accepts within its range). */
export const INT_DECIMAL_PATTERN = "^(0|-?[1-9][0-9]*)$";

/** Outcome of checking a decimal string; `reason` completes a sentence that starts with the field name. */
export type DecimalCheck =
  | { readonly ok: true; readonly value: bigint }
  | { readonly ok: false; readonly code: "INVALID_AMOUNT" | "AMOUNT_TOO_LARGE"; readonly reason: string };

const DIGITS = /^[0-9]+$/;
const EXPONENT = /^[0-9]*\.?[0-9]*[eE][+-]?[0-9]+$/;
const WHITESPACE = /\s/;
/** Inputs are echoed in suggestions only up to this length, so an error never carries a huge string. */
const ECHO_LIMIT = 80;

function invalid(reason: string): DecimalCheck {
  return { ok: false, code: "INVALID_AMOUNT", reason };
}

/** Checks the spelling of an unsigned magnitude (no sign left); the range is checked by the caller. */
function checkMagnitude(digits: string, example: string): DecimalCheck | null {
  if (digits.length === 0) return invalid(`is empty; write a decimal integer such as "${example}"`);
  if (WHITESPACE.test(digits)) return invalid(`has spaces; write the digits only, such as "${example}"`);
  if (digits.startsWith("+")) return invalid(`has a leading "+"; write the digits only, such as "${example}"`);
  if (digits.startsWith("-")) return invalid(`must not be negative or carry a "-" sign`);
  if (digits.startsWith("0x") || digits.startsWith("0X")) {
    return invalid(`is hex; write it in decimal digits (for example "16", not "0x10")`);
  }
  if (EXPONENT.test(digits)) {
    return invalid(`uses exponent notation; write every digit (for example "1000000000000000000", not "1e18")`);
  }
  if (digits.includes(".")) {
    return invalid(
      `has a decimal point; write a whole number of the smallest unit (wei), for example "1500000000000000000" for 1.5 ETH`,
    );
  }
  if (!DIGITS.test(digits)) return invalid("holds characters other than the digits 0-9");
  if (digits.length > 1 && digits.startsWith("0")) {
    const canonical = digits.replace(/^0+/, "") || "0";
    return invalid(
      canonical.length <= ECHO_LIMIT ? `has leading zeros; write "${canonical}"` : "has leading zeros; remove them",
    );
  }
  return null;
}

/**
 * Checks a canonical unsigned decimal string not above `max` (default 2^256 - 1); `maxName` names
 * the bound in the refusal. Never throws.
 */
export function checkUintDecimal(text: string, max: bigint = MAX_UINT256, maxName = "uint256 (2^256 - 1)"): DecimalCheck {
  const spelling = checkMagnitude(text, "1000");
  if (spelling !== null) return spelling;
  // Longer than the bound's digit count means larger: refuse before building a huge bigint.
  if (text.length > max.toString().length) return { ok: false, code: "AMOUNT_TOO_LARGE", reason: `is above the largest ${maxName}` };
  const value = BigInt(text);
  if (value > max) return { ok: false, code: "AMOUNT_TOO_LARGE", reason: `is above the largest ${maxName}` };
  return { ok: true, value };
}

/** Checks a canonical signed decimal string within [min, max] (default int256). Never throws. */
export function checkIntDecimal(text: string, min: bigint = MIN_INT256, max: bigint = MAX_INT256): DecimalCheck {
  const negative = text.startsWith("-");
  const magnitude = negative ? text.slice(1) : text;
  if (negative && magnitude.startsWith("-")) return invalid(`has more than one "-" sign`);
  const spelling = checkMagnitude(magnitude, "-1000");
  if (spelling !== null) return spelling;
  if (negative && /^0+$/.test(magnitude)) return invalid(`is a signed zero; write "0"`);
  const limit = negative ? -min : max;
  if (magnitude.length > limit.toString().length) {
    return { ok: false, code: "AMOUNT_TOO_LARGE", reason: negative ? "is below the smallest int256 (-2^255)" : "is above the largest int256 (2^255 - 1)" };
  }
  const value = BigInt(text);
  if (value < min) return { ok: false, code: "AMOUNT_TOO_LARGE", reason: "is below the smallest int256 (-2^255)" };
  if (value > max) return { ok: false, code: "AMOUNT_TOO_LARGE", reason: "is above the largest int256 (2^255 - 1)" };
  return { ok: true, value };
}

/**
 * Parses a canonical unsigned decimal string (uint256 unless `max` says otherwise).
 * @throws DeltaError INVALID_AMOUNT (spelling) or AMOUNT_TOO_LARGE, the message naming `field`
 */
export function parseUintDecimal(text: string, field: string, max: bigint = MAX_UINT256): bigint {
  const check = checkUintDecimal(text, max, max === MAX_UINT256 ? undefined : `value (${max.toString()})`);
  if (!check.ok) throw new DeltaError(check.code, `${field} ${check.reason}`, { details: { field } });
  return check.value;
}

/**
 * Parses a canonical signed decimal string in the int256 range.
 * @throws DeltaError INVALID_AMOUNT (spelling) or AMOUNT_TOO_LARGE, the message naming `field`
 */
export function parseIntDecimal(text: string, field: string): bigint {
  const check = checkIntDecimal(text);
  if (!check.ok) throw new DeltaError(check.code, `${field} ${check.reason}`, { details: { field } });
  return check.value;
}

/** Writes a bigint as the canonical decimal string the parsers accept (signed values keep their "-"). */
export function toDecimal(value: bigint): string {
  return value.toString(10);
}
