// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The one shape check of a 32-byte hash as PROTOCOL.md writes them: 0x and 64 lowercase hex
 * digits (EIP-712 digests, Merkle nodes, roots, transaction hashes). Input that may come in any
 * case (a path parameter, a node's answer) is lowercased by its reader first.
 */
import type { Hash } from "./types.ts";

/** The pattern, for schemas that need it as a regular expression (zod, OpenAPI). */
export const HASH_PATTERN = /^0x[0-9a-f]{64}$/;

/** True for 0x followed by 64 lowercase hex digits. */
export function isHash(value: unknown): value is Hash {
  return typeof value === "string" && value.length === 66 && HASH_PATTERN.test(value);
}
