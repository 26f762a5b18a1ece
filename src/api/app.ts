// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The REST API of PROTOCOL.md §2 as an express 5 app over a `NodeService`. The API validates
 * (protocol/ schemas, path parameters), calls the service, and serialises; it sees no consensus
 * or ledger internals (STYLE.md). Every failure goes through one mapper (errors.ts) to
 * `{ "error": { code, message } }`. Nothing is applied before validation passes, so a refused
 * request changes nothing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { performance } from "node:perf_hooks";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Registry } from "prom-client";
import { DeltaError, isErrorCode } from "../errors.ts";
import {
  checkAddress,
  checkUintDecimal,
  isHash,
  MAX_UINT64,
  type ParseResult,
  type SignedTransfer,
  tryParseAdminSealRequest,
  tryParseTransferBatchEnvelope,
  tryParseTransferBatchItem,
  tryParseTransferRequest,
  tryParseWithdrawalRequest,
} from "../protocol/index.ts";
import { ClientCounter, clientKey, DEFAULT_HTTP_LIMITS } from "./clientLimits.ts";
import { answerForCode, toErrorAnswer } from "./errors.ts";
import { DEFAULT_JSON_SHAPE_LIMITS, type JsonShapeLimits, parseBoundedJson, type Slicer, timeSlicer } from "./jsonBody.ts";
import { createApiMetrics, type ApiMetrics } from "./metrics.ts";
import type { BatchItemResult, CommittedView, NodeService } from "./nodeService.ts";
import { buildOpenApiDocument } from "./openapi.ts";

/** PROTOCOL.md §2: bodies over 8 MiB are refused with 413. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** The pino methods the API uses: `(fields, constant message)`. A pino Logger fits. */
export interface ApiLogger {
  error(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/** Options of createApi. */
export interface ApiOptions {
  /** Bearer token of `POST /v1/admin/seal`; must not be empty. Never logged. */
  readonly adminToken: string;
  /** Where the API logs (500s with stacks, refused admin tokens, seals); silent when absent. */
  readonly logger?: ApiLogger;
  /** Largest accepted body, bytes; default 8 MiB (PROTOCOL.md §2). */
  readonly maxBodyBytes?: number;
  /** Registry to add the API's metrics to (so node.ts can serve its own beside them); a new one when absent. */
  readonly metricsRegistry?: Registry;
  /** How long a GET with `?minIndex=` waits for this node to apply that index before 503 BEHIND; default 5,000 ms (PROTOCOL.md §2). */
  readonly minIndexWaitMs?: number;
  /** Requests one client address may have in progress; past it, 503 TOO_MANY_REQUESTS with Retry-After (default 32). */
  readonly maxRequestsPerAddress?: number;
  /** Bounds on a JSON body's shape, checked before it is parsed (default DEFAULT_JSON_SHAPE_LIMITS). */
  readonly jsonLimits?: JsonShapeLimits;
}

/**
 * Work on one request runs at most this long before the event loop gets a turn (body parse, batch
 * items): the loop also carries the consensus heartbeats, and PROTOCOL's goal is a 50 ms p99.
 */
export const SLICE_MS = 5;

/** Batch items parsed between two looks at the clock. */
const ITEMS_PER_CLOCK_READ = 16;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function newSlicer(): Slicer {
  return timeSlicer(SLICE_MS, () => performance.now(), yieldToEventLoop);
}

/** The `charset` parameter of a Content-Type, lowercased, or undefined. */
function charsetOf(contentType: string | undefined): string | undefined {
  const match = contentType === undefined ? null : /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return match?.[1]?.toLowerCase();
}

/** PROTOCOL.md §2: a GET with ?minIndex= waits this long at most, then answers 503 BEHIND. */
export const DEFAULT_MIN_INDEX_WAIT_MS = 5_000;
/** The header on every answer: the last log index the answering node had applied. */
export const APPLIED_INDEX_HEADER = "X-Delta-Applied-Index";
const MIN_INDEX_RE = /^(0|[1-9][0-9]{0,15})$/;

const SILENT: ApiLogger = { error() {}, warn() {}, info() {}, debug() {} };

/** Routes whose answer time is the submit latency. */
const SUBMIT_ROUTES: ReadonlySet<string> = new Set(["/v1/transfers", "/v1/transfers/batch", "/v1/withdrawals"]);

const BEARER_RE = /^Bearer +(\S+) *$/i;

// ---------------------------------------------------------------------------------------------
// Path parameters.

function parseAddressParam(text: string): string {
  const check = checkAddress(text);
  if (!check.ok) throw new DeltaError(check.code, `the address in the path ${check.reason}`);
  return check.address;
}

function parseHashParam(text: string): string {
  // PROTOCOL.md: hashes are lowercase hex; any case is accepted on the way in.
  const hash = text.toLowerCase();
  if (!isHash(hash)) throw new DeltaError("INVALID_HASH", "the hash in the path must be 0x followed by 64 hex digits (an EIP-712 digest)");
  return hash;
}

function parseEpochParam(text: string): bigint {
  const check = checkUintDecimal(text, MAX_UINT64, "uint64 (2^64 - 1)");
  if (!check.ok) throw new DeltaError("INVALID_BODY", `the epoch number in the path ${check.reason}`);
  return check.value;
}

/** `?minIndex=`: a log index (a safe integer), or undefined when absent. */
function parseMinIndex(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === "string" && MIN_INDEX_RE.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new DeltaError("INVALID_BODY", "?minIndex= must be one non-negative integer (a log index, as in X-Delta-Applied-Index)");
  return n;
}

function unwrap<T>(result: ParseResult<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

// ---------------------------------------------------------------------------------------------
// Middleware.

/** Tags the request with its route pattern, for metrics and logs (low cardinality, unlike the path). */
function routeTag(pattern: string) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    res.locals["route"] = pattern;
    next();
  };
}

function routeOf(res: Response): string {
  const route: unknown = res.locals["route"];
  return typeof route === "string" ? route : "unmatched";
}

/** PROTOCOL.md §2 "JSON in": a write's body must be application/json (415 otherwise). */
function requireJson(allowNoBody: boolean) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const kind = req.is("application/json");
    // req.is: null when the request has no body at all, false when its type is something else.
    // Clients (fetch among them) send Content-Length: 0 for a body-less POST: that is no body too.
    if (allowNoBody && (kind === null || req.get("content-length") === "0")) return next();
    if (typeof kind !== "string") {
      throw new DeltaError("UNSUPPORTED_MEDIA_TYPE", "send the body as JSON with Content-Type: application/json");
    }
    next();
  };
}

/**
 * `Authorization: Bearer <token>`, compared in constant time: both sides are hashed first so that
 * timingSafeEqual sees equal lengths and the token's length does not leak either.
 */
function requireAdmin(adminToken: string, log: ApiLogger) {
  const expected = createHash("sha256").update(adminToken, "utf8").digest();
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.get("authorization");
    const match = header === undefined ? null : BEARER_RE.exec(header);
    const given = match?.[1];
    if (given === undefined) {
      log.warn({ route: routeOf(res), reason: "missing" }, "admin request refused");
      throw new DeltaError("UNAUTHORIZED", "send the admin token as Authorization: Bearer <token>");
    }
    if (!timingSafeEqual(createHash("sha256").update(given, "utf8").digest(), expected)) {
      log.warn({ route: routeOf(res), reason: "wrong token" }, "admin request refused");
      throw new DeltaError("UNAUTHORIZED", "the admin token is wrong");
    }
    next();
  };
}

// ---------------------------------------------------------------------------------------------
// The app.

/**
 * The REST API of PROTOCOL.md §2 over `service`.
 * Start it with `app.listen(port, host)`. Throws DeltaError INVALID_CONFIG for an empty admin
 * token or a body limit that is not a positive integer.
 */
export function createApi(service: NodeService, options: ApiOptions): Express {
  const log = options.logger ?? SILENT;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const minIndexWaitMs = options.minIndexWaitMs ?? DEFAULT_MIN_INDEX_WAIT_MS;
  if (options.adminToken.length === 0) throw new DeltaError("INVALID_CONFIG", "the admin token must not be empty");
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new DeltaError("INVALID_CONFIG", "maxBodyBytes must be a positive integer", { details: { maxBodyBytes } });
  }
  const maxRequestsPerAddress = options.maxRequestsPerAddress ?? DEFAULT_HTTP_LIMITS.maxRequestsPerAddress;
  if (!Number.isSafeInteger(maxRequestsPerAddress) || maxRequestsPerAddress <= 0) {
    throw new DeltaError("INVALID_CONFIG", "maxRequestsPerAddress must be a positive integer", { details: { maxRequestsPerAddress } });
  }
  const jsonLimits = options.jsonLimits ?? DEFAULT_JSON_SHAPE_LIMITS;
  const metrics = createApiMetrics(options.metricsRegistry);
  const openApi = buildOpenApiDocument();
  // The body is read as text and parsed by parseBoundedJson: its shape is bounded before any
  // parse, and big bodies are parsed in slices (jsonBody.ts). express.json parsed it in one call.
  const readText = express.text({ limit: maxBodyBytes, type: "application/json", defaultCharset: "utf-8" });
  const json = [
    (req: Request, _res: Response, next: NextFunction): void => {
      // RFC 8259 §8.1: JSON is UTF-8 (body-parser's json() took any utf-* charset; so do we).
      const charset = charsetOf(req.get("content-type"));
      if (charset !== undefined && !charset.startsWith("utf-")) {
        throw new DeltaError("UNSUPPORTED_MEDIA_TYPE", "unsupported charset; send Content-Type: application/json (UTF-8)");
      }
      next();
    },
    readText,
    async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
      // express.text leaves req.body undefined when the request has no body at all.
      const text: unknown = req.body;
      if (typeof text === "string") req.body = await parseBoundedJson(text, { limits: jsonLimits, slicer: newSlicer() });
      next();
    },
  ];
  const writeBody = [requireJson(false), ...json];
  const requestsHeld = new ClientCounter(maxRequestsPerAddress);
  const admin = requireAdmin(options.adminToken, log);

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const startedMs = performance.now();
    res.on("finish", () => {
      const route = routeOf(res);
      metrics.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      if (req.method === "POST" && SUBMIT_ROUTES.has(route)) {
        metrics.submitLatency.observe({ route }, (performance.now() - startedMs) / 1000);
      }
    });
    next();
  });

  // PROTOCOL.md §2: every answer says how far the answering node had applied the log. Set as the
  // headers go out (not when the request arrives), so a write's answer carries an index that
  // includes the write itself.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: Response, ...args: Parameters<typeof writeHead>) {
      if (!this.headersSent) this.setHeader(APPLIED_INDEX_HEADER, String(service.appliedIndex()));
      return writeHead.apply(this, args);
    } as typeof writeHead;
    next();
  });

  // At most maxRequestsPerAddress requests in progress per client address, counted before any body
  // is read: past it the request is answered 503 at once, which costs the node next to nothing.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const key = clientKey(req.socket.remoteAddress);
    if (!requestsHeld.tryAcquire(key)) {
      throw new DeltaError("TOO_MANY_REQUESTS", `this address already has ${maxRequestsPerAddress} requests in progress on this node; wait for their answers`, {
        details: { retryAfterSec: 1 },
      });
    }
    // "close" fires once the answer is sent or the client went away, whichever comes first.
    res.once("close", () => requestsHeld.release(key));
    next();
  });

  // PROTOCOL.md §2: any GET waits until this node has applied ?minIndex=, so a client passing the
  // highest index it has seen never reads an older state, whichever node it asks.
  app.use(async (req: Request, _res: Response, next: NextFunction) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    const minIndex = parseMinIndex(req.query["minIndex"]);
    if (minIndex === undefined || minIndex <= service.appliedIndex()) return next();
    if (await service.waitForApplied(minIndex, minIndexWaitMs)) return next();
    throw new DeltaError("BEHIND", `this node has applied up to index ${service.appliedIndex()}, not yet ${minIndex}; retry, or ask another node`, {
      details: { retryAfterSec: 1 },
    });
  });

  /** One write's verdict: 200 with the committed view, or the refusal through the error mapper. */
  const answerWrite = (res: Response, result: BatchItemResult | undefined, kind: "transfer" | "withdrawal"): void => {
    if (result === undefined) throw new DeltaError("INTERNAL", "the service gave no result for a write");
    if ("error" in result) {
      const { code, message } = result.error;
      if (!isErrorCode(code)) throw new DeltaError("INTERNAL", "the service refused a write with an unknown code", { details: { code } });
      throw new DeltaError(code, message, result.hash === undefined ? undefined : { details: { hash: result.hash } });
    }
    (kind === "transfer" ? metrics.transfersCommitted : metrics.withdrawalsCommitted).inc();
    res.json(committedView(result));
  };

  /**
   * A batch item's verdict as it goes out: committed, or refused with a public code. Counts go to
   * `tally` (code, or "" for a commit) and into the metrics once per batch: a labelled inc per
   * item cost milliseconds at 10,000 items.
   */
  const batchItem = (result: BatchItemResult, route: string, tally: Map<string, number>): BatchItemResult => {
    if (!("error" in result)) {
      tally.set("", (tally.get("") ?? 0) + 1);
      return committedView(result);
    }
    const { code, message } = result.error;
    const answer = isErrorCode(code) ? answerForCode(code, message) : answerForCode("INTERNAL", message);
    if (answer.internal) log.error({ route, code }, "service refused a batch item with an internal code");
    tally.set(answer.body.error.code, (tally.get(answer.body.error.code) ?? 0) + 1);
    // OUTCOME_UNKNOWN carries the hash to look the write up by (PROTOCOL.md §2).
    return code === "OUTCOME_UNKNOWN" && result.hash !== undefined ? { ...answer.body, hash: result.hash } : answer.body;
  };

  app.get("/v1/domain", routeTag("/v1/domain"), (_req: Request, res: Response) => {
    res.json(service.domain());
  });

  app.get("/v1/fees", routeTag("/v1/fees"), (_req: Request, res: Response) => {
    res.json(service.fees());
  });

  app.get("/v1/status", routeTag("/v1/status"), (_req: Request, res: Response) => {
    res.json(service.status());
  });

  app.get("/v1/accounts/:address", routeTag("/v1/accounts/:address"), (req: Request<{ address: string }>, res: Response) => {
    res.json(service.account(parseAddressParam(req.params.address)));
  });

  app.post("/v1/transfers", routeTag("/v1/transfers"), ...writeBody, async (req: Request, res: Response) => {
    const transfer = unwrap(tryParseTransferRequest(req.body));
    const [result] = await service.submitTransfers([transfer]);
    answerWrite(res, result, "transfer");
  });

  app.post("/v1/transfers/batch", routeTag("/v1/transfers/batch"), ...writeBody, async (req: Request, res: Response) => {
    // 10,000 items take 80-200 ms to parse on this machine: in slices, so the event loop (and the
    // consensus heartbeats on it) gets a turn every SLICE_MS.
    const envelope = unwrap(tryParseTransferBatchEnvelope(req.body));
    const items: ParseResult<SignedTransfer>[] = [];
    const slicer = newSlicer();
    for (let i = 0; i < envelope.length; i++) {
      items.push(tryParseTransferBatchItem(envelope[i], i));
      if (i % ITEMS_PER_CLOCK_READ === ITEMS_PER_CLOCK_READ - 1) {
        const pause = slicer.pause();
        if (pause !== undefined) await pause;
      }
    }
    const valid: SignedTransfer[] = [];
    for (const item of items) if (item.ok) valid.push(item.value);
    // PROTOCOL.md §2: invalid items are answered in place; the valid ones go to the service together.
    const verdicts = valid.length === 0 ? [] : await service.submitTransfers(valid);
    if (verdicts.length !== valid.length) {
      throw new DeltaError("INTERNAL", "the service gave a different number of results than transfers", {
        details: { sent: valid.length, answered: verdicts.length },
      });
    }
    // The answer is written a slice at a time as well: at 10,000 items building and serialising
    // it in one go held the event loop 15-30 ms. The text equals JSON.stringify({ results }).
    let next = 0;
    const tally = new Map<string, number>();
    const texts: string[] = [];
    const answerSlicer = newSlicer();
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      let result: BatchItemResult;
      if (!item.ok) {
        tally.set(item.error.code, (tally.get(item.error.code) ?? 0) + 1);
        result = { error: { code: item.error.code, message: item.error.message } };
      } else {
        const verdict = verdicts[next++];
        // Counted above: exactly one verdict per valid item.
        if (verdict === undefined) throw new DeltaError("INTERNAL", "missing verdict for a batch item");
        result = batchItem(verdict, "/v1/transfers/batch", tally);
      }
      texts.push(JSON.stringify(result));
      if (i % ITEMS_PER_CLOCK_READ === ITEMS_PER_CLOCK_READ - 1) {
        const pause = answerSlicer.pause();
        if (pause !== undefined) await pause;
      }
    }
    for (const [code, n] of tally) {
      if (code === "") metrics.transfersCommitted.inc(n);
      else metrics.refusals.inc({ code }, n);
    }
    res.type("application/json").send(`{"results":[${texts.join(",")}]}`);
  });

  app.get("/v1/transfers/:hash", routeTag("/v1/transfers/:hash"), (req: Request<{ hash: string }>, res: Response) => {
    const view = service.transfer(parseHashParam(req.params.hash));
    if (view === undefined) throw new DeltaError("NOT_FOUND", "no transfer has this hash on this node");
    res.json(view);
  });

  app.get("/v1/transfers/:hash/proof", routeTag("/v1/transfers/:hash/proof"), (req: Request<{ hash: string }>, res: Response) => {
    res.json(service.transferProof(parseHashParam(req.params.hash)));
  });

  app.post("/v1/withdrawals", routeTag("/v1/withdrawals"), ...writeBody, async (req: Request, res: Response) => {
    const withdrawal = unwrap(tryParseWithdrawalRequest(req.body));
    answerWrite(res, await service.submitWithdrawal(withdrawal), "withdrawal");
  });

  // Registered before /v1/epochs/:n, which would otherwise take "current" as a number.
  app.get("/v1/epochs/current", routeTag("/v1/epochs/current"), (_req: Request, res: Response) => {
    const view = service.epoch();
    if (view === undefined) throw new DeltaError("INTERNAL", "the service has no open epoch");
    res.json(view);
  });

  // Its order against /v1/epochs/:n does not matter: express 5 matches a route's whole path, so :n
  // never takes "1/settlement". "/v1/epochs/current/settlement" is a malformed number (400).
  app.get("/v1/epochs/:n/settlement", routeTag("/v1/epochs/:n/settlement"), (req: Request<{ n: string }>, res: Response) => {
    // NOT_FOUND, EPOCH_OPEN (not sealed yet) and WRONG_STATE (signatures still being gathered) come from the service.
    res.json(service.settlement(parseEpochParam(req.params.n)));
  });

  // Ours, not PROTOCOL.md's: per token, how many transfers and withdrawals the epoch applied (any
  // status). Like /settlement, "/v1/epochs/current/tokens" is a malformed number (400).
  app.get("/v1/epochs/:n/tokens", routeTag("/v1/epochs/:n/tokens"), (req: Request<{ n: string }>, res: Response) => {
    const epoch = parseEpochParam(req.params.n);
    const view = service.epochTokens(epoch);
    if (view === undefined) throw new DeltaError("NOT_FOUND", `epoch ${epoch} does not exist yet`);
    res.json(view);
  });

  app.get("/v1/epochs/:n", routeTag("/v1/epochs/:n"), (req: Request<{ n: string }>, res: Response) => {
    const epoch = parseEpochParam(req.params.n);
    const view = service.epoch(epoch);
    if (view === undefined) throw new DeltaError("NOT_FOUND", `epoch ${epoch} does not exist yet`);
    res.json(view);
  });

  app.post("/v1/admin/seal", routeTag("/v1/admin/seal"), admin, requireJson(true), ...json, async (req: Request, res: Response) => {
    unwrap(tryParseAdminSealRequest(req.body));
    const { epoch } = await service.seal();
    log.info({ epoch }, epoch === null ? "seal requested; open epoch empty" : "epoch sealed by admin request");
    res.json({ epoch });
  });

  app.get("/v1/admin/state", routeTag("/v1/admin/state"), admin, (_req: Request, res: Response) => {
    res.json(service.stateView());
  });

  app.get("/healthz", routeTag("/healthz"), (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });

  app.get("/metrics", routeTag("/metrics"), async (_req: Request, res: Response) => {
    metrics.update(service.metrics());
    const text = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(text);
  });

  app.get("/v1/openapi.json", routeTag("/v1/openapi.json"), (_req: Request, res: Response) => {
    res.json(openApi);
  });

  app.use((req: Request) => {
    throw new DeltaError("NOT_FOUND", `no route ${req.method} ${req.path.slice(0, 200)}; see GET /v1/openapi.json`);
  });

  app.use(errorHandler(metrics, log, maxBodyBytes));
  return app;
}

function committedView(result: CommittedView): CommittedView {
  // Only the public fields: whatever else the service attaches stays inside the node.
  return { hash: result.hash, status: result.status, index: result.index, epoch: result.epoch };
}

/** The one place a failure becomes an answer (STYLE.md "Errors"). */
function errorHandler(metrics: ApiMetrics, log: ApiLogger, maxBodyBytes: number) {
  // express recognises error middleware by its four parameters, so `_next` must stay.
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const answer = toErrorAnswer(err, maxBodyBytes);
    const route = routeOf(res);
    if (answer.internal) log.error({ err, method: req.method, route }, "request failed");
    metrics.refusals.inc({ code: answer.body.error.code });
    if (res.headersSent) {
      // The answer had begun; all that is left is to cut the connection.
      res.destroy();
      return;
    }
    res.status(answer.status).set(answer.headers).json(answer.body);
  };
}
