// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * zod 4 schemas of every request body of PROTOCOL.md §2, and the parse functions the API calls.
 *
 * The schemas stay plain zod (string + transform + meta) so that `z.toJSONSchema(schema, { io:
 * "input" })` gives the OpenAPI document its request bodies: the `pattern` in each field's meta is
 * the JSON-schema form of the check its transform performs (a unit test holds the two together).
 * Each refusal carries a stable code from src/errors.ts and a message that names the field and says
 * what to send instead. The AMOUNT_* codes (AMOUNT_NOT_STRING, AMOUNT_TOO_LARGE) and INVALID_AMOUNT
 * serve every uint256 decimal field (amount, fee, nonce, deadline); AMOUNT_ZERO is for `amount`.
 */
import { z } from "zod";
import { DeltaError, type ErrorCode, isErrorCode } from "../errors.ts";
import { checkAddress } from "./address.ts";
import { checkIntDecimal, checkUintDecimal, INT_DECIMAL_PATTERN, toDecimal, UINT_DECIMAL_PATTERN } from "./decimal.ts";
import { checkSignature, normalizeSignature } from "./signature.ts";
import { type Address, type Hex, NATIVE_TOKEN, type SignedTransfer, type SignedWithdrawal } from "./types.ts";

/** Most transfers one `POST /v1/transfers/batch` may carry (PROTOCOL.md §2). */
export const TRANSFER_BATCH_MAX = 10_000;

/** One problem found in a request; `path` names the field (`amount`, `transfers[3].fee`, or "" for the body). */
export interface ProtocolIssue {
  readonly code: ErrorCode;
  readonly path: string;
  readonly message: string;
}

/**
 * Outcome of a `tryParse…` function. On refusal, `error.code` is the first issue's code and
 * `error.details.issues` lists every issue (`ProtocolIssue[]`).
 */
export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DeltaError };

// ---------------------------------------------------------------------------------------------
// Field schemas. Each carries its refusal code in the issue's params, so the mapping below never
// guesses from zod's message text.

function jsonTypeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function fieldIssue(code: ErrorCode, message: string, input: unknown): z.core.$ZodSuperRefineIssue {
  return { code: "custom", message, input, params: { code } };
}

/**
 * A uint256 written as a canonical decimal string, parsed to bigint. With `positive`, "0" is
 * refused with AMOUNT_ZERO.
 */
export function uintDecimalField(field: string, description: string, options: { positive?: boolean; example?: string } = {}) {
  const example = options.example ?? (options.positive === true ? "1000000000000000000" : "0");
  return z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `missing field "${field}": ${description}`
          : `${field} must be a decimal string such as "${example}", not a JSON ${jsonTypeOf(issue.input)} (JSON numbers lose precision above 2^53)`,
    })
    .transform((text, ctx) => {
      const check = checkUintDecimal(text);
      if (!check.ok) {
        ctx.addIssue(fieldIssue(check.code, `${field} ${check.reason}`, text));
        return z.NEVER;
      }
      if (options.positive === true && check.value === 0n) {
        ctx.addIssue(fieldIssue("AMOUNT_ZERO", `${field} must be more than 0`, text));
        return z.NEVER;
      }
      return check.value;
    })
    .meta({
      description: `${description}; a decimal string of a uint256 (digits only, no sign, exponent or leading zeros)`,
      pattern: options.positive === true ? "^[1-9][0-9]*$" : UINT_DECIMAL_PATTERN,
      examples: [example],
    });
}

/** An int256 written as a canonical signed decimal string ("-5", "0", "12"), parsed to bigint. */
export function intDecimalField(field: string, description: string) {
  return z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `missing field "${field}": ${description}`
          : `${field} must be a signed decimal string such as "-1000", not a JSON ${jsonTypeOf(issue.input)}`,
    })
    .transform((text, ctx) => {
      const check = checkIntDecimal(text);
      if (!check.ok) {
        ctx.addIssue(fieldIssue(check.code, `${field} ${check.reason}`, text));
        return z.NEVER;
      }
      return check.value;
    })
    .meta({ description: `${description}; a signed decimal string of an int256`, pattern: INT_DECIMAL_PATTERN, examples: ["-1000"] });
}

/**
 * An address in any accepted case (all lower, all upper, or a correct EIP-55 checksum), parsed to
 * its checksummed form. Without `allowZero`, the zero address is refused with ZERO_ADDRESS.
 */
export function addressField(field: string, description: string, options: { allowZero: boolean }) {
  return z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `missing field "${field}": ${description}`
          : `${field} must be a 0x-prefixed address string, not a JSON ${jsonTypeOf(issue.input)}`,
    })
    .transform((text, ctx): Address => {
      const check = checkAddress(text);
      if (!check.ok) {
        ctx.addIssue(fieldIssue(check.code, `${field} ${check.reason}`, text));
        return z.NEVER;
      }
      if (!options.allowZero && check.address === NATIVE_TOKEN) {
        ctx.addIssue(fieldIssue("ZERO_ADDRESS", `${field} must not be the zero address`, text));
        return z.NEVER;
      }
      return check.address;
    })
    .meta({
      description: `${description}; 0x + 40 hex digits, all lowercase, all uppercase or EIP-55 checksummed`,
      pattern: "^0x[0-9a-fA-F]{40}$",
      examples: ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
    });
}

/** A 65-byte `r || s || v` signature (v 27 or 28, low s), parsed to lowercase hex. */
export function signatureField(field: string, description: string) {
  return z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `missing field "${field}": ${description}`
          : `${field} must be a 0x-prefixed hex string, not a JSON ${jsonTypeOf(issue.input)}`,
    })
    .transform((text, ctx): Hex => {
      const check = checkSignature(text);
      if (!check.ok) {
        ctx.addIssue(fieldIssue(check.code, `${field} ${check.reason}`, text));
        return z.NEVER;
      }
      return normalizeSignature(text);
    })
    .meta({
      description: `${description}; 0x + 130 hex digits (65 bytes r || s || v), v 27 or 28, s at most n/2`,
      pattern: "^0x[0-9a-fA-F]{130}$",
    });
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

const SIGNATURE_DESCRIPTION = "the eth_signTypedData_v4 signature of the message's EIP-712 digest by the sender";

/** Body of `POST /v1/transfers`: the Transfer fields plus its signature (PROTOCOL.md §1, §2). */
export const TransferRequestSchema = z
  .strictObject({
    from: addressField("from", "the sender, who signs the transfer", { allowZero: false }),
    to: addressField("to", "the receiver", { allowZero: false }),
    token: addressField("token", "the token contract, or the zero address for ETH", { allowZero: true }),
    amount: uintDecimalField("amount", "the amount in the token's smallest unit (wei for ETH), more than 0", { positive: true }),
    fee: uintDecimalField("fee", "the fee in `token` to the cluster's fee recipient, 0 allowed"),
    nonce: uintDecimalField("nonce", "the sender's next nonce, shared by transfers and withdrawals, from 0"),
    deadline: uintDecimalField("deadline", "unix seconds after which the transfer is refused", { example: "1767225600" }),
    signature: signatureField("signature", SIGNATURE_DESCRIPTION),
  })
  .superRefine((transfer, ctx) => {
    // Both are checksummed by now, so string equality is the case-insensitive comparison.
    if (transfer.from === transfer.to) {
      ctx.addIssue({
        code: "custom",
        path: ["to"],
        message: "to must differ from from: a transfer to oneself is refused",
        params: { code: "SELF_TRANSFER" },
      });
    }
  })
  .meta({ id: "TransferRequest", description: "A signed Transfer (PROTOCOL.md §1): body of POST /v1/transfers" });

/** Body of `POST /v1/withdrawals`: the Withdrawal fields plus its signature (PROTOCOL.md §1, §2). */
export const WithdrawalRequestSchema = z
  .strictObject({
    account: addressField("account", "the account withdrawing, who signs the withdrawal", { allowZero: false }),
    token: addressField("token", "the token contract, or the zero address for ETH", { allowZero: true }),
    amount: uintDecimalField("amount", "the amount in the token's smallest unit (wei for ETH), more than 0", { positive: true }),
    nonce: uintDecimalField("nonce", "the account's next nonce, shared by transfers and withdrawals, from 0"),
    deadline: uintDecimalField("deadline", "unix seconds after which the withdrawal is refused", { example: "1767225600" }),
    signature: signatureField("signature", SIGNATURE_DESCRIPTION),
  })
  .meta({ id: "WithdrawalRequest", description: "A signed Withdrawal (PROTOCOL.md §1): body of POST /v1/withdrawals" });

const batchSizeMessage = `transfers must hold 1 to ${TRANSFER_BATCH_MAX} transfers`;

/**
 * Body of `POST /v1/transfers/batch`, fully typed, for the OpenAPI document. The API parses with
 * `parseTransferBatchRequest`, which refuses only a bad envelope and answers each item on its own
 * (PROTOCOL.md §2: one result per item, in order).
 */
export const TransferBatchRequestSchema = z
  .strictObject({
    transfers: z
      .array(TransferRequestSchema, { error: `${batchSizeMessage}, as a JSON array` })
      .min(1, { error: batchSizeMessage })
      .max(TRANSFER_BATCH_MAX, { error: batchSizeMessage }),
  })
  .meta({ id: "TransferBatchRequest", description: `Body of POST /v1/transfers/batch: 1 to ${TRANSFER_BATCH_MAX} signed transfers` });

/** The batch envelope alone: items are parsed one by one so that one bad item refuses only itself. */
const TransferBatchEnvelopeSchema = z.strictObject({
  transfers: z
    .array(z.unknown(), { error: `${batchSizeMessage}, as a JSON array` })
    .min(1, { error: batchSizeMessage })
    .max(TRANSFER_BATCH_MAX, { error: batchSizeMessage }),
});

/** Body of `POST /v1/admin/seal`: empty (an absent body counts as `{}`). */
export const AdminSealRequestSchema = z
  .strictObject({})
  .meta({ id: "AdminSealRequest", description: "Body of POST /v1/admin/seal: an empty object, or no body" });

/** JSON form of a signed transfer: what a client sends (addresses any case, decimal strings). */
export type TransferRequestJson = z.input<typeof TransferRequestSchema>;
/** JSON form of a signed withdrawal. */
export type WithdrawalRequestJson = z.input<typeof WithdrawalRequestSchema>;
/** The parsed admin seal body: nothing. */
export type AdminSealRequest = Record<string, never>;

// ---------------------------------------------------------------------------------------------
// zod issues -> ProtocolIssue.

/** Codes for a JSON value of the wrong type, by field name (the last element of the path). */
const WRONG_TYPE_CODE: Readonly<Record<string, ErrorCode>> = {
  amount: "AMOUNT_NOT_STRING",
  fee: "AMOUNT_NOT_STRING",
  nonce: "AMOUNT_NOT_STRING",
  deadline: "AMOUNT_NOT_STRING",
  from: "INVALID_ADDRESS",
  to: "INVALID_ADDRESS",
  token: "INVALID_ADDRESS",
  account: "INVALID_ADDRESS",
  signature: "INVALID_SIGNATURE",
};

/** Structural problems come first: they explain the rest (a misspelt field is also a missing one). */
const PRIORITY: Partial<Record<ErrorCode, number>> = { INVALID_BODY: 0, UNKNOWN_FIELD: 1, MISSING_FIELD: 2 };
const LAST = 3;

interface BodyKind {
  /** For messages: "a transfer request". */
  readonly what: string;
  readonly fields: readonly string[];
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    // Narrowed to a non-null object; reading an absent key gives undefined, which is what we test for.
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function toProtocolIssues(issues: readonly z.core.$ZodIssue[], input: unknown, kind: BodyKind, prefix: string, out: ProtocolIssue[] = []): ProtocolIssue[] {
  const at = (path: readonly PropertyKey[]): string => {
    const local = formatPath(path);
    if (prefix === "") return local;
    return local === "" ? prefix : `${prefix}.${local}`;
  };
  for (const issue of issues) {
    const leaf = issue.path[issue.path.length - 1];
    switch (issue.code) {
      case "custom": {
        const code: unknown = issue.params?.["code"];
        out.push({ code: isErrorCode(code) ? code : "INVALID_BODY", path: at(issue.path), message: issue.message });
        break;
      }
      case "unrecognized_keys":
        // run() takes unknown fields out before zod sees the body; this stays for nested objects.
        for (const key of issue.keys.slice(0, MAX_ISSUES)) {
          out.push({
            code: "UNKNOWN_FIELD",
            path: at([...issue.path, key]),
            message: `unknown field "${key}"; ${kind.what} has exactly these fields: ${kind.fields.join(", ")}`,
          });
        }
        break;
      case "invalid_type":
        if (issue.path.length === 0) {
          out.push({
            code: "INVALID_BODY",
            path: at(issue.path),
            message: `${prefix === "" ? "the body" : prefix} must be a JSON object (${kind.what}: ${kind.fields.join(", ")}), not a JSON ${jsonTypeOf(valueAt(input, issue.path))}`,
          });
        } else if (valueAt(input, issue.path) === undefined) {
          out.push({ code: "MISSING_FIELD", path: at(issue.path), message: issue.message });
        } else {
          const code = typeof leaf === "string" ? WRONG_TYPE_CODE[leaf] : undefined;
          out.push({ code: code ?? "INVALID_BODY", path: at(issue.path), message: issue.message });
        }
        break;
      case "too_small":
      case "too_big":
        out.push({ code: leaf === "transfers" ? "BATCH_SIZE" : "INVALID_BODY", path: at(issue.path), message: issue.message });
        break;
      default:
        out.push({ code: "INVALID_BODY", path: at(issue.path), message: issue.message });
    }
  }
  // Array.prototype.sort is stable: within a priority, issues keep the schema's field order.
  return out.sort((a, b) => (PRIORITY[a.code] ?? LAST) - (PRIORITY[b.code] ?? LAST));
}

/**
 * Issues kept for one body (or one batch item): the first few explain it, in priority order, and
 * the message counts the rest. Collecting them all let one 8 MiB body with a million unknown
 * fields build a million issue objects (and a message as long) on the event loop.
 */
export const MAX_ISSUES = 5;

/** `issues` sorted by priority; `total` counts the issues found, kept or not. */
function refusal(issues: readonly ProtocolIssue[], total: number): DeltaError {
  const kept = issues.slice(0, MAX_ISSUES);
  const [first, ...rest] = kept;
  if (first === undefined) return new DeltaError("INVALID_BODY", "the request was refused");
  let message = first.message;
  if (rest.length > 0) message += `; also: ${rest.map((i) => i.message).join("; ")}`;
  if (total > kept.length) message += `; and ${total - kept.length} more`;
  return new DeltaError(first.code, message, { details: { issues: kept } });
}

/**
 * A body object without its unknown fields, and the first MAX_ISSUES of those as UNKNOWN_FIELD
 * issues: zod's strict objects list every unknown key, which is what made a wide body expensive.
 * One pass over the keys; nothing per key beyond the first few. Undefined when `json` is not an object.
 */
function withoutUnknownFields(json: unknown, kind: BodyKind, at: (key: string) => string): { readonly known: Record<string, unknown>; readonly issues: ProtocolIssue[]; readonly unknown: number } | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  // A JSON object: plain own properties, read by name.
  const body = json as Record<string, unknown>;
  const known: Record<string, unknown> = {};
  const issues: ProtocolIssue[] = [];
  let unknown = 0;
  for (const key in body) {
    if (!Object.hasOwn(body, key)) continue;
    if (kind.fields.includes(key)) {
      known[key] = body[key];
      continue;
    }
    unknown++;
    if (issues.length < MAX_ISSUES) {
      issues.push({ code: "UNKNOWN_FIELD", path: at(key), message: `unknown field "${key.slice(0, 100)}"; ${kind.what} has exactly these fields: ${kind.fields.join(", ")}` });
    }
  }
  return { known, issues, unknown };
}

function run<S extends z.ZodType>(schema: S, json: unknown, kind: BodyKind, prefix = ""): ParseResult<z.output<S>> {
  const stripped = withoutUnknownFields(json, kind, (key) => (prefix === "" ? key : `${prefix}.${key}`));
  const input = stripped === undefined ? json : stripped.known;
  const result = schema.safeParse(input);
  const unknown = stripped?.unknown ?? 0;
  if (result.success && unknown === 0) return { ok: true, value: result.data };
  const zodIssues = result.success ? [] : result.error.issues;
  const issues = toProtocolIssues(zodIssues, input, kind, prefix, stripped === undefined ? [] : [...stripped.issues]);
  const total = issues.length + unknown - (stripped?.issues.length ?? 0);
  return { ok: false, error: refusal(issues, total) };
}

function unwrap<T>(result: ParseResult<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

const TRANSFER_KIND: BodyKind = { what: "a transfer request", fields: Object.keys(TransferRequestSchema.shape) };
const WITHDRAWAL_KIND: BodyKind = { what: "a withdrawal request", fields: Object.keys(WithdrawalRequestSchema.shape) };
const BATCH_KIND: BodyKind = { what: "a transfer batch", fields: ["transfers"] };
const SEAL_KIND: BodyKind = { what: "the admin seal body", fields: [] };

// ---------------------------------------------------------------------------------------------
// Parse functions.

/** Parses a transfer request body; never throws. */
export function tryParseTransferRequest(json: unknown): ParseResult<SignedTransfer> {
  return run(TransferRequestSchema, json, TRANSFER_KIND);
}

/**
 * Parses a transfer request body into a SignedTransfer (checksummed addresses, bigint values,
 * lowercase signature).
 * @throws DeltaError with the first issue's code; `details.issues` lists every issue
 */
export function parseTransferRequest(json: unknown): SignedTransfer {
  return unwrap(tryParseTransferRequest(json));
}

/** Parses a withdrawal request body; never throws. */
export function tryParseWithdrawalRequest(json: unknown): ParseResult<SignedWithdrawal> {
  return run(WithdrawalRequestSchema, json, WITHDRAWAL_KIND);
}

/**
 * Parses a withdrawal request body into a SignedWithdrawal.
 * @throws DeltaError with the first issue's code; `details.issues` lists every issue
 */
export function parseWithdrawalRequest(json: unknown): SignedWithdrawal {
  return unwrap(tryParseWithdrawalRequest(json));
}

/**
 * Parses a batch body: refuses a bad envelope as a whole (not an object, unknown field, no
 * `transfers` array, BATCH_SIZE), otherwise gives one result per item, in order, each item's
 * issue paths prefixed with `transfers[i]`. Never throws.
 */
export function tryParseTransferBatchRequest(json: unknown): ParseResult<readonly ParseResult<SignedTransfer>[]> {
  const envelope = tryParseTransferBatchEnvelope(json);
  if (!envelope.ok) return envelope;
  return { ok: true, value: envelope.value.map((item, i) => tryParseTransferBatchItem(item, i)) };
}

/**
 * The first half of `tryParseTransferBatchRequest`: checks the envelope only and gives the items
 * unparsed, so that a caller can parse them a slice at a time (`tryParseTransferBatchItem`) and
 * let other work run between slices. Never throws.
 */
export function tryParseTransferBatchEnvelope(json: unknown): ParseResult<readonly unknown[]> {
  const envelope = run(TransferBatchEnvelopeSchema, json, BATCH_KIND);
  return envelope.ok ? { ok: true, value: envelope.value.transfers } : envelope;
}

/** Parses item `index` of a batch's `transfers` (issue paths prefixed `transfers[index]`); never throws. */
export function tryParseTransferBatchItem(item: unknown, index: number): ParseResult<SignedTransfer> {
  return run(TransferRequestSchema, item, TRANSFER_KIND, `transfers[${index}]`);
}

/**
 * Parses a batch body into one result per item (see `tryParseTransferBatchRequest`).
 * @throws DeltaError for a bad envelope only: INVALID_BODY, UNKNOWN_FIELD, MISSING_FIELD or BATCH_SIZE
 */
export function parseTransferBatchRequest(json: unknown): readonly ParseResult<SignedTransfer>[] {
  return unwrap(tryParseTransferBatchRequest(json));
}

/** Parses the admin seal body (`{}` or absent); never throws. */
export function tryParseAdminSealRequest(json: unknown): ParseResult<AdminSealRequest> {
  // Express leaves req.body undefined when a POST carries no body; PROTOCOL.md §2 defines no fields.
  const result = run(AdminSealRequestSchema, json === undefined ? {} : json, SEAL_KIND);
  return result.ok ? { ok: true, value: {} } : result;
}

/**
 * Parses the admin seal body.
 * @throws DeltaError INVALID_BODY (not an object) or UNKNOWN_FIELD
 */
export function parseAdminSealRequest(json: unknown): AdminSealRequest {
  return unwrap(tryParseAdminSealRequest(json));
}

// ---------------------------------------------------------------------------------------------
// Writers: bigint -> decimal strings, so that no amount ever goes through a JSON number.

/** The JSON body of a signed transfer, as a client sends it (parses back to an equal value). */
export function encodeTransferRequest(transfer: SignedTransfer): TransferRequestJson {
  return {
    from: transfer.from,
    to: transfer.to,
    token: transfer.token,
    amount: toDecimal(transfer.amount),
    fee: toDecimal(transfer.fee),
    nonce: toDecimal(transfer.nonce),
    deadline: toDecimal(transfer.deadline),
    signature: transfer.signature,
  };
}

/** The JSON body of a signed withdrawal (parses back to an equal value). */
export function encodeWithdrawalRequest(withdrawal: SignedWithdrawal): WithdrawalRequestJson {
  return {
    account: withdrawal.account,
    token: withdrawal.token,
    amount: toDecimal(withdrawal.amount),
    nonce: toDecimal(withdrawal.nonce),
    deadline: toDecimal(withdrawal.deadline),
    signature: withdrawal.signature,
  };
}
