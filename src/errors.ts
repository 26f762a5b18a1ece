// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The one error hierarchy of delta-sidechain. Codes are public (PROTOCOL.md §2 error body):
 * add codes, never rename them. `api/errors.ts` maps every code to an HTTP status.
 */

/** Every error code the project can produce, grouped by where it arises. */
export const ERROR_CODES = [
  // Input validation (protocol schemas): 400
  "INVALID_BODY",
  "UNKNOWN_FIELD",
  "MISSING_FIELD",
  "INVALID_AMOUNT",
  "AMOUNT_ZERO",
  "AMOUNT_TOO_LARGE",
  "AMOUNT_NOT_STRING",
  "INVALID_ADDRESS",
  "BAD_CHECKSUM",
  "ZERO_ADDRESS",
  "SELF_TRANSFER",
  "INVALID_SIGNATURE",
  "HIGH_S_SIGNATURE",
  "INVALID_V",
  "INVALID_HASH",
  "BATCH_SIZE",
  // Ledger verdicts at apply time
  "NONCE_GAP",
  "NONCE_REUSED",
  "INSUFFICIENT_BALANCE",
  "DEADLINE_EXPIRED",
  "DUPLICATE",
  "DUPLICATE_DEPOSIT",
  /** A depositId seen again with other contents than it was credited with: never credited; stops deposits (docs/operations.md). */
  "DEPOSIT_CONFLICT",
  "EPOCH_OPEN",
  "EPOCH_NOT_SEALED",
  "WRONG_STATE",
  /** A transfer of a token the fee policy does not list (GET /v1/fees): 422; withdrawals are always accepted. */
  "TOKEN_NOT_ACCEPTED",
  /** A transfer's fee below the policy's minFee (+ newAccountFee for a recipient new to the token): 422. */
  "FEE_TOO_LOW",
  // Node / API
  "NOT_FOUND",
  "UNAUTHORIZED",
  "UNSUPPORTED_MEDIA_TYPE",
  "PAYLOAD_TOO_LARGE",
  "NO_LEADER",
  /** GET with ?minIndex= the node has not applied within 5 s (PROTOCOL.md §2): 503, retry. */
  "BEHIND",
  /** The leader's mempool is full of messages paying at least this fee: 503, retry later or pay more. */
  "MEMPOOL_FULL",
  /** A client address over its cap of requests in progress (docs/api.md, "Bounded work"): 503 with Retry-After, retry once answered. */
  "TOO_MANY_REQUESTS",
  /** A write taken in but not decided within the answer bound: 504, look it up by hash. */
  "OUTCOME_UNKNOWN",
  "INTERNAL",
  // Configuration and start-up
  "INVALID_CONFIG",
  // Ledger: settlement building and snapshots (thrown, not verdicts)
  "INVALID_CHUNK_SIZE",
  "INVALID_SNAPSHOT",
  // Storage: a record on disk failed its checksum and cannot be dropped safely
  "STORAGE_CORRUPT",
  // Consensus: a cluster size without a safe majority (3 or 5 only)
  "INVALID_CLUSTER_SIZE",
  // Client (src/client): raised in the caller's process, never answered by a node
  "NODE_UNREACHABLE",
  "REQUEST_TIMEOUT",
  "BAD_RESPONSE",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The project's one error class: a stable code, a message a person can act on, structured details. */
export class DeltaError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { details?: Record<string, unknown>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeltaError";
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `value` is one of the public error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}
