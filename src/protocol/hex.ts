// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Hex <-> bytes for the hashing and recovery hot paths. Written here rather than taken from
 * @noble/hashes/utils because the hot paths decode straight into a slice of a preallocated buffer
 * (no intermediate array per field) and need a boolean verdict instead of an exception.
 * Internal to protocol/: not re-exported from index.ts.
 */

/** Value of each ASCII code as a hex digit, or -1. Accepts both cases: callers check case themselves. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) NIBBLE[48 + c] = c;
for (let c = 0; c < 6; c++) {
  NIBBLE[65 + c] = 10 + c;
  NIBBLE[97 + c] = 10 + c;
}

/** Two lowercase hex digits for every byte value. */
const BYTE_HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function nibbleAt(text: string, index: number): number {
  const code = text.charCodeAt(index);
  // NaN (past the end) and codes >= 128 both fall out as -1.
  return code < 128 ? (NIBBLE[code] ?? -1) : -1;
}

/**
 * Decodes `byteLength` bytes of hex from `text` starting at character `textStart` into
 * `out[offset…]`. Returns false, leaving `out` partly written, if any character is not a hex digit
 * or the text is too short. The caller checks the total length and the 0x prefix.
 */
export function decodeHexInto(
  text: string,
  textStart: number,
  byteLength: number,
  out: Uint8Array,
  offset: number,
): boolean {
  if (text.length < textStart + 2 * byteLength) return false;
  for (let i = 0; i < byteLength; i++) {
    const hi = nibbleAt(text, textStart + 2 * i);
    const lo = nibbleAt(text, textStart + 2 * i + 1);
    if (hi < 0 || lo < 0) return false;
    out[offset + i] = (hi << 4) | lo;
  }
  return true;
}

/**
 * Writes the hex digits `digits` (no prefix, any length up to 2 * width, odd allowed) right-aligned
 * into the `width`-byte big-endian word at `out[offset…]`, which must already be zero. This is how
 * a bigint's `toString(16)` becomes an EIP-712 word without a per-byte bigint loop.
 */
export function writeHexRightAligned(digits: string, out: Uint8Array, offset: number, width: number): void {
  let pos = offset + width - 1;
  let i = digits.length;
  while (i > 0) {
    const lo = nibbleAt(digits, i - 1);
    const hi = i > 1 ? nibbleAt(digits, i - 2) : 0;
    out[pos] = (hi << 4) | lo;
    pos--;
    i -= 2;
  }
}

/** Lowercase hex of `bytes[start, end)`, without prefix. */
export function encodeHex(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let text = "";
  for (let i = start; i < end; i++) text += BYTE_HEX[bytes[i] ?? 0];
  return text;
}

/** True when `text` is "0x" followed by exactly `byteLength` bytes of hex (either case). */
export function isHexOfLength(text: string, byteLength: number): boolean {
  if (text.length !== 2 + 2 * byteLength || text.charCodeAt(0) !== 48 || text.charCodeAt(1) !== 120) return false;
  for (let i = 2; i < text.length; i++) if (nibbleAt(text, i) < 0) return false;
  return true;
}

/** "0x" + lowercase hex of `bytes[start, end)`: the project's form for hashes and signatures. */
export function toHex(bytes: Uint8Array, start = 0, end = bytes.length): `0x${string}` {
  return `0x${encodeHex(bytes, start, end)}`;
}
