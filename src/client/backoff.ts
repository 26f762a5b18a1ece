// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Retry timing: exponential backoff with jitter, and the node's Retry-After hint (PROTOCOL.md §2:
 * 503 means no leader is reachable, retry later). Jitter keeps a crowd of clients, all refused
 * during the same election, from coming back in one wave.
 */

/** How DeltaClient retries 503 answers and connection failures. */
export interface RetryOptions {
  /** Tries in all, the first included (1: never retry). */
  readonly attempts: number;
  /** Backoff before the first retry, doubled each time. */
  readonly baseMs: number;
  /** Backoff ceiling (a Retry-After hint may ask for longer, up to RETRY_AFTER_CAP_MS). */
  readonly maxMs: number;
}

/** Enough to ride out a Raft election (hundreds of ms) and a leader restart. */
export const DEFAULT_RETRY: RetryOptions = Object.freeze({ attempts: 6, baseMs: 100, maxMs: 3_000 });

/** A Retry-After above this is taken as this: a misconfigured node must not park a client for hours. */
export const RETRY_AFTER_CAP_MS = 60_000;

/**
 * Wait before retry number `retry` (0 for the first): "equal jitter", uniformly in
 * [d/2, d] with d = min(maxMs, baseMs * 2^retry), so the wait never collapses to nothing.
 */
export function backoffMs(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(retry, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * The Retry-After header in ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3), capped at
 * RETRY_AFTER_CAP_MS; undefined when absent or unreadable.
 */
export function parseRetryAfterMs(header: string | null, nowMs: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^[0-9]+$/.test(text)) return Math.min(Number(text) * 1000, RETRY_AFTER_CAP_MS);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), RETRY_AFTER_CAP_MS);
}

/** Validates retry options; returns a message naming the bad field, or undefined. */
export function checkRetryOptions(options: RetryOptions): string | undefined {
  if (!Number.isSafeInteger(options.attempts) || options.attempts < 1) return "retry.attempts must be an integer >= 1";
  if (!Number.isFinite(options.baseMs) || options.baseMs < 0) return "retry.baseMs must be a number >= 0";
  if (!Number.isFinite(options.maxMs) || options.maxMs < options.baseMs) return "retry.maxMs must be a number >= retry.baseMs";
  return undefined;
}
