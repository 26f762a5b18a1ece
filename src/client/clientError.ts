// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The client's error: a DeltaError that also says which HTTP status the node answered (if any)
 * and the code exactly as the node wrote it, so callers catch one class and switch on `code`.
 */
import { DeltaError, type ErrorCode, isErrorCode } from "../errors.ts";
import { isHash } from "../protocol/index.ts";

/** Options of DeltaClientError beyond code and message. */
export interface DeltaClientErrorOptions {
  /** HTTP status of the node's answer; undefined when no node answered. */
  readonly status?: number;
  /** The code as the node sent it, even one this client does not know. */
  readonly serverCode?: string;
  readonly details?: Record<string, unknown>;
  readonly cause?: unknown;
}

/**
 * Thrown by DeltaClient: a node's refusal (code, message and status as PROTOCOL.md §2 answers them),
 * or NODE_UNREACHABLE, REQUEST_TIMEOUT, BAD_RESPONSE raised here.
 */
export class DeltaClientError extends DeltaError {
  readonly status: number | undefined;
  readonly serverCode: string | undefined;
  /**
   * OUTCOME_UNKNOWN: the write's hash as the node gave it. The write may still commit until its
   * deadline: wait with DeltaClient.waitForTransfer(hash) rather than sending it again.
   */
  readonly hash: string | undefined;

  constructor(code: ErrorCode, message: string, options: DeltaClientErrorOptions = {}) {
    super(code, message, {
      ...(options.details === undefined ? {} : { details: options.details }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.name = "DeltaClientError";
    this.status = options.status;
    this.serverCode = options.serverCode;
    const hash = options.details?.["hash"];
    this.hash = typeof hash === "string" ? hash : undefined;
  }
}

/** The code to report when an error answer carries none we know (an old or newer node, a proxy page). */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: "INVALID_BODY",
  401: "UNAUTHORIZED",
  404: "NOT_FOUND",
  409: "WRONG_STATE",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  503: "NO_LEADER",
  504: "OUTCOME_UNKNOWN",
};

/** Builds the error for a non-2xx answer from its status and body text (the §2 error body, or anything). */
export function errorFromAnswer(status: number, bodyText: string, request: string): DeltaClientError {
  let serverCode: string | undefined;
  let serverMessage: string | undefined;
  let hash: string | undefined;
  try {
    const body: unknown = JSON.parse(bodyText);
    if (isRecord(body) && isRecord(body.error)) {
      if (typeof body.error.code === "string") serverCode = body.error.code;
      if (typeof body.error.message === "string") serverMessage = body.error.message;
      // PROTOCOL.md §2: 504 OUTCOME_UNKNOWN carries the write's hash.
      if (typeof body.hash === "string" && isHash(body.hash.toLowerCase())) hash = body.hash.toLowerCase();
    }
  } catch {
    // Not JSON (a proxy's page, an empty body): the status alone decides the code below.
  }
  const code: ErrorCode = serverCode !== undefined && isErrorCode(serverCode) ? serverCode : (CODE_BY_STATUS[status] ?? "INTERNAL");
  const message = serverMessage ?? `${request} answered HTTP ${status} without a PROTOCOL.md error body`;
  return new DeltaClientError(code, message, {
    status,
    ...(serverCode === undefined ? {} : { serverCode }),
    details: hash === undefined ? { request } : { request, hash },
  });
}

/** True for a non-null, non-array object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
