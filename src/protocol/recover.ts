// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Signer recovery from an EIP-712 digest and a 65-byte signature: the hot path of intake.
 *
 * Native libsecp256k1 (the prebuilt N-API binary inside the `secp256k1` package) recovers about 25
 * times faster than pure JS (TOOLCHAIN.md §5). The package silently falls back to JS `elliptic` when
 * the binary fails to load, so `checkNativeRecovery` tells the caller, who logs it: a node on the
 * fallback still works, only slower.
 *
 * Pure apart from `checkNativeRecovery`, which reads the clock to measure speed at start-up.
 */
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { keccak256 as keccak_256 } from "./keccak256.ts";
import type * as Secp256k1 from "secp256k1";
import { DeltaError, type ErrorCode } from "../errors.ts";
import { checksumAddressBytes } from "./address.ts";
import { decodeHexInto, toHex } from "./hex.ts";
import { checkSignatureInto } from "./signature.ts";
import type { Address, Hash, Hex } from "./types.ts";

const require = createRequire(import.meta.url);
// `require` is untyped; both modules export the API that @types/secp256k1 declares: the package's
// lib/index.js wraps either the N-API binding or elliptic behind the same functions.
const secp256k1: typeof Secp256k1 = require("secp256k1");
const secp256k1Js: typeof Secp256k1 = require("secp256k1/elliptic");

/**
 * True when `secp256k1` loaded its native binding. The package's index.js falls back to
 * `require("./elliptic")`, the very module `secp256k1/elliptic` names, so identity tells them apart.
 */
export const isNativeSecp256k1: boolean = secp256k1 !== secp256k1Js;

/** One signature to recover: the EIP-712 digest and the 65-byte `r || s || v` signature. */
export interface RecoveryItem {
  readonly digest: Hash;
  readonly signature: Hex;
}

interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * Scratch buffers, reused across calls: recovery is synchronous and never re-entered, and the
 * buffers never escape this module. A worker thread has its own module instance, hence its own.
 */
const RS = new Uint8Array(64);
const DIGEST = new Uint8Array(32);
const PUBLIC_KEY = new Uint8Array(65);

function recoverWith(lib: typeof Secp256k1, digest: string, signature: string): Address | Refusal {
  if (typeof digest !== "string" || digest.length !== 66 || !digest.startsWith("0x") || !decodeHexInto(digest, 2, 32, DIGEST, 0)) {
    return { code: "INVALID_HASH", message: "digest must be 0x followed by 64 hex digits (32 bytes)" };
  }
  if (typeof signature !== "string") return { code: "INVALID_SIGNATURE", message: "signature must be a hex string" };
  const check = checkSignatureInto(signature, RS);
  if (!check.ok) return { code: check.code, message: `signature ${check.reason}` };
  let publicKey: Uint8Array;
  try {
    // Uncompressed (65 bytes: 0x04 ‖ x ‖ y), because the address hashes x ‖ y.
    publicKey = lib.ecdsaRecover(RS, check.recoveryId, DIGEST, false, PUBLIC_KEY);
  } catch {
    // libsecp256k1 refuses an r that is not the x of a curve point: no key made this signature.
    return { code: "INVALID_SIGNATURE", message: "signature does not recover to any public key" };
  }
  // Ethereum address: the last 20 bytes of keccak256(x ‖ y).
  return checksumAddressBytes(keccak_256(publicKey.subarray(1)), 12);
}

function orThrow(result: Address | Refusal): Address {
  if (typeof result === "string") return result;
  throw new DeltaError(result.code, result.message);
}

/**
 * The checksummed address that signed `digest`, by native libsecp256k1 (or its JS fallback, see
 * `isNativeSecp256k1`).
 * @throws DeltaError INVALID_HASH, INVALID_SIGNATURE, HIGH_S_SIGNATURE or INVALID_V
 */
export function recoverSigner(digest: Hash, signature: Hex): Address {
  return orThrow(recoverWith(secp256k1, digest, signature));
}

/** `recoverSigner` in pure JS (elliptic): the reference for tests and the fallback speed figure. */
export function recoverSignerJs(digest: Hash, signature: Hex): Address {
  return orThrow(recoverWith(secp256k1Js, digest, signature));
}

/**
 * Recovers many signatures in one synchronous call: one result per item, in order, `null` where
 * `recoverSigner` would throw. Blocks for about 75 µs per item natively; see RecoveryPool for
 * batches worth moving off the event loop.
 */
export function recoverBatch(items: readonly RecoveryItem[]): (Address | null)[] {
  const out = new Array<Address | null>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const result = item === undefined ? null : recoverWith(secp256k1, item.digest, item.signature);
    out[i] = typeof result === "string" ? result : null;
  }
  return out;
}

/** Outcome of the start-up self check; the caller logs a warning when `native` is false. */
export interface NativeRecoveryCheck {
  /** The native libsecp256k1 binding is loaded (false: the silent JS fallback is in use). */
  readonly native: boolean;
  /** Recoveries per second through `recoverSigner` (the JS fallback's speed when `native` is false). */
  readonly nativePerSec: number;
  /** Recoveries per second through the pure-JS path. */
  readonly jsPerSec: number;
  /** nativePerSec / jsPerSec: how many times slower the node would be on the fallback (about 1 when already on it). */
  readonly slowdown: number;
}

/** A fixed, valid sample: the self check must not depend on randomness. */
function selfCheckSample(): { item: RecoveryItem; signer: Address } {
  const privateKey = keccak_256(new TextEncoder().encode("delta-sidechain recovery self-check key"));
  const digest = keccak_256(new TextEncoder().encode("delta-sidechain recovery self-check digest"));
  // RFC 6979 deterministic nonce in both implementations, and both produce low s.
  const { signature, recid } = secp256k1.ecdsaSign(digest, privateKey);
  const publicKey = secp256k1.publicKeyCreate(privateKey, false);
  const signatureHex: Hex = `${toHex(signature)}${(27 + recid).toString(16)}`;
  return {
    item: { digest: toHex(digest), signature: signatureHex },
    signer: checksumAddressBytes(keccak_256(publicKey.subarray(1)), 12),
  };
}

/** Calls `recover` for at least `budgetMs` (and at least 8 times); returns the calls per second. */
function runFor(recover: (digest: Hash, signature: Hex) => Address, item: RecoveryItem, budgetMs: number): number {
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  // At least a few rounds, so that a coarse clock cannot produce a figure from a single call.
  while (elapsed < budgetMs || count < 8) {
    for (let i = 0; i < 8; i++) recover(item.digest, item.signature);
    count += 8;
    elapsed = performance.now() - start;
  }
  return Math.round((count * 1000) / elapsed);
}

function measurePerSec(recover: (digest: Hash, signature: Hex) => Address, item: RecoveryItem, budgetMs: number): number {
  // Unoptimized first calls run several times slower than steady state; the first half is warm-up.
  runFor(recover, item, budgetMs / 2);
  return runFor(recover, item, budgetMs);
}

/**
 * Start-up self check: verifies that recovery returns the right signer on a fixed sample, detects
 * the JS fallback, and measures both paths for about 1.5 × `budgetMs` each (half of it warm-up;
 * default 100 ms, so about 300 ms in all).
 * @throws DeltaError INTERNAL when either path recovers the wrong signer (a broken build, not an input)
 */
export function checkNativeRecovery(options: { budgetMs?: number } = {}): NativeRecoveryCheck {
  const budgetMs = options.budgetMs ?? 100;
  const { item, signer } = selfCheckSample();
  for (const [name, recover] of [
    ["native", recoverSigner],
    ["js", recoverSignerJs],
  ] as const) {
    const got = recover(item.digest, item.signature);
    if (got !== signer) {
      throw new DeltaError("INTERNAL", `secp256k1 ${name} recovery returned a wrong signer`, { details: { expected: signer, got } });
    }
  }
  const nativePerSec = measurePerSec(recoverSigner, item, budgetMs);
  const jsPerSec = measurePerSec(recoverSignerJs, item, budgetMs);
  return {
    native: isNativeSecp256k1,
    nativePerSec,
    jsPerSec,
    slowdown: Math.round((nativePerSec / jsPerSec) * 10) / 10,
  };
}
