// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The API's one error mapper (STYLE.md "Errors"): every error code to its HTTP status
 * (PROTOCOL.md §2), and anything thrown to the `{ "error": { code, message } }` body. A code
 * whose status is 500 never reaches a client as itself: it answers INTERNAL with a fixed message,
 * and the caller logs the original with its stack.
 */
import { DeltaError, type ErrorCode, isErrorCode } from "../errors.ts";

/**
 * HTTP status of every code. Typed over `ErrorCode`, so a new code without a status fails to
 * compile. 500 means "not a client's fault": the answer hides the code and the message.
 */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  // 400: malformed or badly signed (PROTOCOL.md §2).
  INVALID_BODY: 400,
  UNKNOWN_FIELD: 400,
  MISSING_FIELD: 400,
  INVALID_AMOUNT: 400,
  AMOUNT_ZERO: 400,
  AMOUNT_TOO_LARGE: 400,
  AMOUNT_NOT_STRING: 400,
  INVALID_ADDRESS: 400,
  BAD_CHECKSUM: 400,
  ZERO_ADDRESS: 400,
  SELF_TRANSFER: 400,
  INVALID_SIGNATURE: 400,
  HIGH_S_SIGNATURE: 400,
  INVALID_V: 400,
  INVALID_HASH: 400,
  BATCH_SIZE: 400,
  // 401: missing or wrong admin token.
  UNAUTHORIZED: 401,
  // 404: unknown transfer, epoch or route.
  NOT_FOUND: 404,
  // 409: nonce conflict, duplicate or wrong state.
  NONCE_GAP: 409,
  NONCE_REUSED: 409,
  DUPLICATE: 409,
  DUPLICATE_DEPOSIT: 409,
  DEPOSIT_CONFLICT: 409,
  EPOCH_OPEN: 409,
  EPOCH_NOT_SEALED: 409,
  WRONG_STATE: 409,
  // 413, 415: the body itself.
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // 422: well-formed but not payable now.
  INSUFFICIENT_BALANCE: 422,
  DEADLINE_EXPIRED: 422,
  TOKEN_NOT_ACCEPTED: 422,
  FEE_TOO_LOW: 422,
  // 503 as well (PROTOCOL.md §2 names 503 for "retry later"; clients we never meet know it, not
  // 429): this client address has too many requests in progress; the answer carries Retry-After.
  TOO_MANY_REQUESTS: 503,
  // 503: no leader reachable; the answer carries Retry-After.
  NO_LEADER: 503,
  BEHIND: 503,
  MEMPOOL_FULL: 503,
  // 504: taken in, not decided in time; it may still commit (the answer carries its hash).
  OUTCOME_UNKNOWN: 504,
  // 500: the node's own failures; answered as INTERNAL without details.
  INTERNAL: 500,
  INVALID_CONFIG: 500,
  INVALID_CHUNK_SIZE: 500,
  INVALID_SNAPSHOT: 500,
  STORAGE_CORRUPT: 500,
  INVALID_CLUSTER_SIZE: 500,
  // Raised by src/client in the caller's process; a node answering one is a bug.
  NODE_UNREACHABLE: 500,
  REQUEST_TIMEOUT: 500,
  BAD_RESPONSE: 500,
};

/** Seconds a client should wait before retrying a 503 when the thrower gave no `retryAfterSec`. */
export const DEFAULT_RETRY_AFTER_SEC = 1;

/** The message of every 500 answer: nothing about the failure leaves the node. */
export const INTERNAL_MESSAGE = "internal error; the node logged the details";

/** The JSON error body of PROTOCOL.md §2. */
export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string };
  /** OUTCOME_UNKNOWN only: the hash of the write whose outcome is not known yet. */
  readonly hash?: string;
}

/** What to answer for one error. `internal` is true when the cause must be logged (500). */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
  readonly internal: boolean;
}

/** The error express's body parser (body-parser) raises: its `type` says what went wrong. */
interface BodyParserError {
  readonly type: string;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return err instanceof Error && "type" in err && typeof err.type === "string";
}

/** body-parser failures as DeltaErrors (their `type` strings are body-parser's documented API). */
function fromBodyParser(err: BodyParserError, limitBytes: number): DeltaError | undefined {
  switch (err.type) {
    case "entity.too.large":
      return new DeltaError("PAYLOAD_TOO_LARGE", `the body is over the limit of ${limitBytes} bytes; send a smaller batch`);
    case "entity.parse.failed":
      return new DeltaError("INVALID_BODY", "the body is not valid JSON (an object is expected)");
    case "encoding.unsupported":
      return new DeltaError("UNSUPPORTED_MEDIA_TYPE", "unsupported Content-Encoding; send identity, gzip, deflate or br");
    case "charset.unsupported":
      return new DeltaError("UNSUPPORTED_MEDIA_TYPE", "unsupported charset; send Content-Type: application/json (UTF-8)");
    case "request.aborted":
    case "request.size.invalid":
      return new DeltaError("INVALID_BODY", "the body ended before its declared length");
    default:
      return undefined;
  }
}

function retryAfterOf(err: DeltaError): number {
  const given = err.details?.["retryAfterSec"];
  return typeof given === "number" && Number.isInteger(given) && given > 0 ? given : DEFAULT_RETRY_AFTER_SEC;
}

/** 5xx codes that are answers to the client (retry, or look it up), not the node's own failures. */
const PUBLIC_5XX: ReadonlySet<ErrorCode> = new Set(["NO_LEADER", "BEHIND", "MEMPOOL_FULL", "TOO_MANY_REQUESTS", "OUTCOME_UNKNOWN"]);

/** The answer for a refusal code and message (batch items and service verdicts use this too). */
export function answerForCode(code: ErrorCode, message: string): ErrorAnswer {
  const status = HTTP_STATUS[code];
  if (status >= 500 && !PUBLIC_5XX.has(code)) {
    return { status: 500, body: { error: { code: "INTERNAL", message: INTERNAL_MESSAGE } }, headers: {}, internal: true };
  }
  return { status, body: { error: { code, message } }, headers: {}, internal: false };
}

/**
 * Maps anything thrown to its answer: a DeltaError by its code, a body-parser failure by its
 * type, a path express cannot decode to 400, everything else to 500 INTERNAL. `limitBytes` only words the 413 message.
 */
export function toErrorAnswer(err: unknown, limitBytes: number): ErrorAnswer {
  let delta: DeltaError | undefined;
  if (err instanceof DeltaError) delta = err;
  else if (isBodyParserError(err)) delta = fromBodyParser(err, limitBytes);
  else if (err instanceof URIError) {
    // express could not percent-decode a path parameter (e.g. /v1/transfers/%ZZ): the client's
    // mistake, not ours, and not worth an error log with a stack.
    delta = new DeltaError("INVALID_BODY", "the request path is not valid percent-encoding");
  }
  if (delta === undefined || !isErrorCode(delta.code)) return answerForCode("INTERNAL", INTERNAL_MESSAGE);
  const answer = answerForCode(delta.code, delta.message);
  if (delta.code === "UNAUTHORIZED") return { ...answer, headers: { "WWW-Authenticate": 'Bearer realm="admin"' } };
  if (delta.code === "OUTCOME_UNKNOWN") {
    // PROTOCOL.md §2: `{ error, hash }`, so the client can look the write up.
    const hash = delta.details?.["hash"];
    return typeof hash === "string" ? { ...answer, body: { ...answer.body, hash } } : answer;
  }
  if (delta.code === "NO_LEADER" || delta.code === "BEHIND" || delta.code === "MEMPOOL_FULL" || delta.code === "TOO_MANY_REQUESTS") {
    // PROTOCOL.md §2: 503 means retry later; Retry-After says when (RFC 9110 §10.2.3, seconds).
    return { ...answer, headers: { "Retry-After": String(retryAfterOf(delta)) } };
  }
  return answer;
}
