// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * api/: the REST API of PROTOCOL.md §2 (express 5) over a `NodeService`, its one error mapper,
 * its Prometheus metrics and its OpenAPI 3.1 document. Imports protocol/ and errors.ts only;
 * node.ts implements NodeService and serves the app. Other folders import this file only.
 */

/** The express app of every route of PROTOCOL.md §2; throws DeltaError INVALID_CONFIG for an empty token or a bad body limit. */
export { createApi } from "./app.ts";
/** The default body limit: 8 MiB (PROTOCOL.md §2), in bytes. */
export { DEFAULT_MAX_BODY_BYTES } from "./app.ts";
/** createApi's options (admin token, logger, body limit in bytes, metrics registry) and the pino-like logger it takes. */
export type { ApiLogger, ApiOptions } from "./app.ts";

/** Serves an app with per-address connection caps and short timeouts; resolves once listening (throws INVALID_CONFIG for bad limits). */
export { listenHttp } from "./httpServer.ts";
/** The HTTP server's bounds (per-address caps in connections and requests, timeouts in ms), and their defaults. */
export { DEFAULT_HTTP_LIMITS } from "./clientLimits.ts";
export type { HttpLimits } from "./clientLimits.ts";

/** HTTP status of every error code (PROTOCOL.md §2); 500 codes answer as INTERNAL without details. */
export { HTTP_STATUS } from "./errors.ts";
/** Seconds in Retry-After of a 503 NO_LEADER when the thrower set no `details.retryAfterSec`. */
export { DEFAULT_RETRY_AFTER_SEC } from "./errors.ts";
/** The `{ error: { code, message } }` body of every refusal. */
export type { ErrorBody } from "./errors.ts";

/** The OpenAPI 3.1 document served at GET /v1/openapi.json, built from the zod schemas. */
export { buildOpenApiDocument } from "./openapi.ts";
/** The OpenAPI document's type (plain JSON). */
export type { OpenApiDocument } from "./openapi.ts";

/** zod schemas of every answer body, as documented in OpenAPI (clients may validate answers with them). */
export {
  AccountViewSchema,
  BatchItemResultSchema,
  BatchResultSchema,
  CommittedViewSchema,
  DomainViewSchema,
  EpochTokensViewSchema,
  EpochViewSchema,
  FeesViewSchema,
  ProofViewSchema,
  SettlementViewSchema,
  StateViewSchema,
  ErrorBodySchema,
  HealthSchema,
  SealResultSchema,
  StatusViewSchema,
  TransferViewSchema,
} from "./responseSchemas.ts";

/** What the API needs from a node, and the views it answers with (wire form: decimal strings, checksummed addresses). */
export type {
  AccountView,
  BatchItemResult,
  CommittedView,
  DomainView,
  EpochView,
  EpochTokensView,
  FeesView,
  NodeMetrics,
  NodeService,
  ProofView,
  RefusedView,
  StateView,
  SettlementView,
  SettlementChunkView,
  StatusView,
  TransferView,
} from "./nodeService.ts";
