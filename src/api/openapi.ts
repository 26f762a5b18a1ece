// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The OpenAPI 3.1 document of `GET /v1/openapi.json`, generated from the same zod schemas the API
 * validates with (protocol/ request schemas) and the answer schemas beside it, through
 * `z.toJSONSchema`. OpenAPI 3.1 schemas are JSON Schema 2020-12, so the output goes in as it is,
 * with each component's own `$schema`/`$id` dropped (the document's dialect applies).
 */
import { z } from "zod";
import {
  AdminSealRequestSchema,
  TRANSFER_BATCH_MAX,
  TransferBatchRequestSchema,
  TransferRequestSchema,
  UINT_DECIMAL_PATTERN,
  WithdrawalRequestSchema,
} from "../protocol/index.ts";
import {
  AccountViewSchema,
  BatchItemResultSchema,
  BatchResultSchema,
  CommittedViewSchema,
  DomainViewSchema,
  EpochTokensViewSchema,
  EpochViewSchema,
  ErrorBodySchema,
  FeesViewSchema,
  HealthSchema,
  StateViewSchema,
  ProofViewSchema,
  SealResultSchema,
  SettlementViewSchema,
  StatusViewSchema,
  TransferViewSchema,
} from "./responseSchemas.ts";

/** A JSON value as the document holds it. */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** The generated document: plain JSON. */
export interface OpenApiDocument {
  readonly openapi: "3.1.0";
  readonly info: { readonly [key: string]: Json };
  readonly paths: { readonly [path: string]: { readonly [method: string]: Json } };
  readonly components: { readonly [key: string]: Json };
}

type Method = "get" | "post";

/** Statuses a route may answer besides 200, each with the codes behind it. */
const ERROR_STATUSES = {
  400: "Malformed or badly signed: INVALID_BODY, UNKNOWN_FIELD, MISSING_FIELD, INVALID_AMOUNT, AMOUNT_ZERO, AMOUNT_TOO_LARGE, AMOUNT_NOT_STRING, INVALID_ADDRESS, BAD_CHECKSUM, ZERO_ADDRESS, SELF_TRANSFER, INVALID_SIGNATURE, HIGH_S_SIGNATURE, INVALID_V, INVALID_HASH, BATCH_SIZE",
  401: "Missing or wrong admin token: UNAUTHORIZED",
  404: "Unknown: NOT_FOUND",
  409: "Nonce conflict, duplicate or wrong state: NONCE_REUSED, NONCE_GAP, DUPLICATE, EPOCH_OPEN (epoch not sealed yet), WRONG_STATE (settlement signatures still being gathered; retry shortly)",
  413: "Body over the limit: PAYLOAD_TOO_LARGE",
  415: "Not JSON: UNSUPPORTED_MEDIA_TYPE",
  422: "Not payable now: INSUFFICIENT_BALANCE, DEADLINE_EXPIRED, TOKEN_NOT_ACCEPTED (a transfer of a token GET /v1/fees does not list), FEE_TOO_LOW (a fee below minFee, plus newAccountFee for a recipient new to the token)",
  500: "The node failed: INTERNAL (no details; the node logged them)",
  503: "No leader reachable, nothing applied: NO_LEADER; or (a GET with ?minIndex=) the node has not applied that index within 5 s: BEHIND; or (a write) the leader's mempool is full of higher fees: MEMPOOL_FULL; or this client address already has http.maxRequestsPerAddress requests in progress on this node (32 by default): TOO_MANY_REQUESTS. Retry after Retry-After seconds",
  504: "Taken in, not decided within 30 s: OUTCOME_UNKNOWN, with the write's `hash`; it may still commit until its deadline, look it up by hash",
} as const;

type ErrorStatus = keyof typeof ERROR_STATUSES;

interface Operation {
  readonly method: Method;
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly parameters?: readonly Json[];
  readonly request?: string;
  readonly requestRequired?: boolean;
  readonly ok: string;
  readonly okDescription: string;
  readonly errors: readonly ErrorStatus[];
  readonly admin?: boolean;
  readonly contentType?: string;
}

const WRITE_ERRORS: readonly ErrorStatus[] = [400, 409, 413, 415, 422, 500, 503, 504];

/** PROTOCOL.md §2: every GET takes ?minIndex=. */
const MIN_INDEX_PARAMETER: Json = {
  name: "minIndex",
  in: "query",
  required: false,
  description: "answer only once this node has applied at least this log index (X-Delta-Applied-Index of an earlier answer); 503 BEHIND after 5 s",
  schema: { type: "string", pattern: "^(0|[1-9][0-9]{0,15})$" },
};

/** PROTOCOL.md §2: on every answer. */
const APPLIED_INDEX_HEADER: { readonly [name: string]: Json } = {
  "X-Delta-Applied-Index": { description: "the last log index the answering node had applied", schema: { type: "string", pattern: "^(0|[1-9][0-9]*)$" } },
};

function pathParameter(name: string, description: string, pattern: string): Json {
  return { name, in: "path", required: true, description, schema: { type: "string", pattern } };
}

const ADDRESS_PARAMETER = pathParameter("address", "an address in any accepted case (all lowercase, all uppercase or EIP-55)", "^0x[0-9a-fA-F]{40}$");
const HASH_PARAMETER = pathParameter("hash", "the message's EIP-712 digest, 0x + 64 hex digits", "^0x[0-9a-fA-F]{64}$");
const EPOCH_PARAMETER = pathParameter("n", "an epoch number, decimal", UINT_DECIMAL_PATTERN);

/** Every route the API serves (PROTOCOL.md §2, plus the project's own: /v1/admin/state, /v1/epochs/{n}/tokens). */
const OPERATIONS: readonly Operation[] = [
  { method: "get", path: "/v1/domain", operationId: "getDomain", summary: "The EIP-712 domain and the fee recipient", ok: "DomainView", okDescription: "The domain", errors: [500] },
  {
    method: "get",
    path: "/v1/fees",
    operationId: "getFees",
    summary: "The fee policy: per accepted token, minFee and newAccountFee (wei of the token)",
    ok: "FeesView",
    okDescription: "The policy transfers are judged by",
    errors: [500],
  },
  { method: "get", path: "/v1/status", operationId: "getStatus", summary: "This node's role, term, indexes, epochs and peers", ok: "StatusView", okDescription: "The node's status", errors: [500] },
  {
    method: "get",
    path: "/v1/accounts/{address}",
    operationId: "getAccount",
    summary: "An account's next nonce and balances",
    parameters: [ADDRESS_PARAMETER],
    ok: "AccountView",
    okDescription: "The account (an unknown one has nonce 0 and no balances)",
    errors: [400, 500],
  },
  {
    method: "post",
    path: "/v1/transfers",
    operationId: "submitTransfer",
    summary: "Submit a signed transfer; answers once it is committed on a quorum and applied",
    request: "TransferRequest",
    requestRequired: true,
    ok: "CommittedView",
    okDescription: "Committed",
    errors: WRITE_ERRORS,
  },
  {
    method: "post",
    path: "/v1/transfers/batch",
    operationId: "submitTransferBatch",
    summary: `Submit 1 to ${TRANSFER_BATCH_MAX} signed transfers; each item is answered on its own, in order`,
    request: "TransferBatchRequest",
    requestRequired: true,
    ok: "BatchResult",
    okDescription: "One result per item; refused items carry their error",
    errors: [400, 413, 415, 500, 503],
  },
  {
    method: "get",
    path: "/v1/transfers/{hash}",
    operationId: "getTransfer",
    summary: "A transfer by its hash",
    parameters: [HASH_PARAMETER],
    ok: "TransferView",
    okDescription: "The transfer",
    errors: [400, 404, 500],
  },
  {
    method: "post",
    path: "/v1/withdrawals",
    operationId: "submitWithdrawal",
    summary: "Submit a signed withdrawal; answers once it is committed and applied",
    request: "WithdrawalRequest",
    requestRequired: true,
    ok: "CommittedView",
    okDescription: "Committed: the amount left the off-chain balance",
    errors: WRITE_ERRORS,
  },
  { method: "get", path: "/v1/epochs/current", operationId: "getCurrentEpoch", summary: "The open epoch", ok: "EpochView", okDescription: "The open epoch", errors: [500] },
  {
    method: "get",
    path: "/v1/epochs/{n}",
    operationId: "getEpoch",
    summary: "An epoch by number",
    parameters: [EPOCH_PARAMETER],
    ok: "EpochView",
    okDescription: "The epoch",
    errors: [400, 404, 500],
  },
  {
    method: "get",
    path: "/v1/epochs/{n}/settlement",
    operationId: "getEpochSettlement",
    summary: "A sealed epoch's quorum-signed settlement chunks, ready for anyone to submit to DeltaBridge.settle",
    parameters: [EPOCH_PARAMETER],
    ok: "SettlementView",
    okDescription: "Every chunk with its validators' signatures",
    errors: [400, 404, 409, 500],
  },
  {
    method: "get",
    path: "/v1/epochs/{n}/tokens",
    operationId: "getEpochTokens",
    summary: "Per token, how many transfers and withdrawals an epoch applied (open, sealed or settled; the project's own, not in PROTOCOL.md)",
    parameters: [EPOCH_PARAMETER],
    ok: "EpochTokensView",
    okDescription: "The epoch's counts per token, tokens ascending",
    errors: [400, 404, 500],
  },
  {
    method: "post",
    path: "/v1/admin/seal",
    operationId: "sealEpoch",
    summary: "Seal the open epoch now if it holds anything",
    request: "AdminSealRequest",
    requestRequired: false,
    ok: "SealResult",
    okDescription: "The epoch sealed, or null when it was empty",
    errors: [400, 401, 413, 415, 500, 503],
    admin: true,
  },
  {
    method: "get",
    path: "/v1/transfers/{hash}/proof",
    operationId: "getTransferProof",
    summary: "A Merkle proof of a transfer against its sealed epoch's transfers root",
    parameters: [HASH_PARAMETER],
    ok: "ProofView",
    okDescription: "The proof (verifies with OpenZeppelin MerkleProof.verify)",
    errors: [400, 404, 409, 500],
  },
  {
    method: "get",
    path: "/v1/admin/state",
    operationId: "getState",
    summary: "The ledger's state hash and applied index (operators and tests: a refused request leaves it unchanged)",
    ok: "StateView",
    okDescription: "The state hash",
    errors: [401, 500],
    admin: true,
  },
  { method: "get", path: "/healthz", operationId: "getHealth", summary: "Liveness", ok: "Health", okDescription: "The process serves requests", errors: [] },
  {
    method: "get",
    path: "/metrics",
    operationId: "getMetrics",
    summary: "Prometheus metrics (text exposition format)",
    ok: "",
    okDescription: "Metrics in Prometheus text format",
    errors: [500],
    contentType: "text/plain; version=0.0.4",
  },
  {
    method: "get",
    path: "/v1/openapi.json",
    operationId: "getOpenApi",
    summary: "This document",
    ok: "",
    okDescription: "The OpenAPI 3.1 document",
    errors: [],
    contentType: "application/json",
  },
];

/** Every schema of the document, by component id. */
const COMPONENTS: Readonly<Record<string, z.ZodType>> = {
  TransferRequest: TransferRequestSchema,
  TransferBatchRequest: TransferBatchRequestSchema,
  WithdrawalRequest: WithdrawalRequestSchema,
  AdminSealRequest: AdminSealRequestSchema,
  ErrorBody: ErrorBodySchema,
  DomainView: DomainViewSchema,
  StatusView: StatusViewSchema,
  AccountView: AccountViewSchema,
  CommittedView: CommittedViewSchema,
  BatchItemResult: BatchItemResultSchema,
  BatchResult: BatchResultSchema,
  TransferView: TransferViewSchema,
  EpochView: EpochViewSchema,
  SealResult: SealResultSchema,
  Health: HealthSchema,
  StateView: StateViewSchema,
  ProofView: ProofViewSchema,
  SettlementView: SettlementViewSchema,
  EpochTokensView: EpochTokensViewSchema,
  FeesView: FeesViewSchema,
};

function ref(id: string): Json {
  return { $ref: `#/components/schemas/${id}` };
}

function componentSchemas(): { [id: string]: Json } {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  // Requests are documented as a client writes them (input side of each transform); the answer
  // schemas have no transforms, so both sides agree for them.
  const generated = z.toJSONSchema(registry, { io: "input", target: "draft-2020-12", uri: (id) => `#/components/schemas/${id}` });
  const schemas: { [id: string]: Json } = {};
  for (const [id, schema] of Object.entries(generated.schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema;
    // JSON.stringify round trip: z.toJSONSchema's output is plain JSON, typed loosely by zod.
    schemas[id] = JSON.parse(JSON.stringify(rest)) as Json;
  }
  return schemas;
}

function operationObject(op: Operation): Json {
  const responses: { [status: string]: Json } = {
    "200": {
      description: op.okDescription,
      content: { [op.contentType ?? "application/json"]: op.ok === "" ? { schema: { type: op.contentType === "application/json" ? "object" : "string" } } : { schema: ref(op.ok) } },
      headers: APPLIED_INDEX_HEADER,
    },
  };
  // Every GET may answer 400 (a malformed ?minIndex=) and 503 BEHIND; every route 503 TOO_MANY_REQUESTS (per-address cap).
  const errors = [...new Set<ErrorStatus>([...op.errors, 503, ...(op.method === "get" ? ([400] as const) : [])])].sort((x, y) => x - y);
  for (const status of errors) {
    const response: { [key: string]: Json } = { description: ERROR_STATUSES[status], content: { "application/json": { schema: ref("ErrorBody") } } };
    response["headers"] = { ...APPLIED_INDEX_HEADER };
    if (status === 503) response["headers"] = { ...APPLIED_INDEX_HEADER, "Retry-After": { description: "seconds to wait before retrying", schema: { type: "integer", minimum: 1 } } };
    if (status === 401) response["headers"] = { ...APPLIED_INDEX_HEADER, "WWW-Authenticate": { description: "Bearer", schema: { type: "string" } } };
    responses[String(status)] = response;
  }
  const operation: { [key: string]: Json } = { operationId: op.operationId, summary: op.summary, responses };
  const parameters = [...(op.parameters ?? []), ...(op.method === "get" ? [MIN_INDEX_PARAMETER] : [])];
  if (parameters.length > 0) operation["parameters"] = parameters;
  if (op.request !== undefined) {
    operation["requestBody"] = { required: op.requestRequired ?? true, content: { "application/json": { schema: ref(op.request) } } };
  }
  if (op.admin === true) operation["security"] = [{ adminToken: [] }];
  return operation;
}

/** Builds the OpenAPI 3.1 document of every route the API serves. */
export function buildOpenApiDocument(): OpenApiDocument {
  const paths: { [path: string]: { [method: string]: Json } } = {};
  for (const op of OPERATIONS) {
    const item = paths[op.path] ?? {};
    item[op.method] = operationObject(op);
    paths[op.path] = item;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "delta-sidechain node API",
      version: "1",
      description: "The public REST API of PROTOCOL.md §2. JSON in and out; amounts, nonces and deadlines are decimal strings.",
      license: { name: "AGPL-3.0-or-later", identifier: "AGPL-3.0-or-later" },
    },
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: { adminToken: { type: "http", scheme: "bearer", description: "the node's admin token" } },
    },
  };
}
