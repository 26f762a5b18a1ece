// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * DeltaClient: PROTOCOL.md §2 over fetch, with bigint amounts in and out.
 *
 * Retries: a 503 (no leader reachable) and a failed connection are retried with backoff, moving on
 * to the next base URL each time, since another node may be up or may reach the leader. Any other
 * answer is final: a 4xx refusal changed nothing and would be refused again. A timeout is final
 * too: the node may have received the write and may still commit it, so re-sending could earn a
 * DUPLICATE for a transfer that went through; the caller should look it up by hash first. So is a
 * 504 OUTCOME_UNKNOWN: the error carries the write's `hash`, and `waitForTransfer(hash)` waits for
 * the outcome.
 *
 * Monotonic reads (PROTOCOL.md §2): the client remembers the highest X-Delta-Applied-Index any node
 * answered it and sends it as `?minIndex=` on every read, so a read never shows a state older than
 * one it has seen or written, whichever node answers (a node that is behind waits, or answers 503
 * BEHIND and the client tries the next one).
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Signer } from "ethers";
import {
  encodeTransferRequest,
  encodeWithdrawalRequest,
  parseAddress,
  type SignedTransfer,
  type SignedWithdrawal,
  toDecimal,
  TRANSFER_BATCH_MAX,
  type TransferRequestJson,
  type WithdrawalRequestJson,
} from "../protocol/index.ts";
import {
  type AccountInfo,
  type BatchItemResult,
  type CommittedResult,
  type DomainInfo,
  type EpochInfo,
  type EpochTokensInfo,
  type FeesInfo,
  parseAccountAnswer,
  parseBatchAnswer,
  parseCommittedAnswer,
  parseDomainAnswer,
  parseEpochAnswer,
  parseEpochTokensAnswer,
  parseFeesAnswer,
  parseSealAnswer,
  parseSettlementAnswer,
  parseStatusAnswer,
  parseTransferAnswer,
  type SettlementInfo,
  type StatusInfo,
  type TransferInfo,
} from "./answers.ts";
import { backoffMs, checkRetryOptions, DEFAULT_RETRY, parseRetryAfterMs, type RetryOptions } from "./backoff.ts";
import { DeltaClientError, errorFromAnswer } from "./clientError.ts";
import { signTransfer, type TransferFields } from "./signing.ts";

/** Options shared by both ways of naming the nodes. */
export interface DeltaClientCommonOptions {
  /** The fetch to use (default: the global one); tests and instrumented callers pass their own. */
  readonly fetch?: typeof fetch;
  /** Retry policy for 503 and connection failures; missing fields take DEFAULT_RETRY's. */
  readonly retry?: Partial<RetryOptions>;
  /** Per try, from sending to the last byte of the answer (default 30,000: a big batch waits for its commit). */
  readonly timeoutMs?: number;
  /**
   * Send the highest applied index seen as `?minIndex=` on reads (default true). False reads
   * whatever the asked node has applied, which may be older than the client's own writes.
   */
  readonly monotonicReads?: boolean;
}

/** Options of waitForTransfer. */
export interface WaitForTransferOptions {
  /** Give up (REQUEST_TIMEOUT) after this long; default 60,000 ms. */
  readonly timeoutMs?: number;
  /**
   * The transfer's signed deadline (unix seconds): once it is this far past (plus a margin for
   * clocks), a transfer still unknown can never commit and the wait resolves undefined.
   */
  readonly deadline?: bigint;
  /** Between looks; default 250 ms. */
  readonly pollMs?: number;
}

/** Constructor options: one node's base URL (e.g. `http://127.0.0.1:7001`, without /v1), or several. */
export type DeltaClientOptions = DeltaClientCommonOptions &
  ({ readonly baseUrl: string; readonly baseUrls?: undefined } | { readonly baseUrls: readonly string[]; readonly baseUrl?: undefined });

/** What quoteTransfer prices: who is paid, in which token (addresses in any accepted case). */
export interface TransferQuoteRequest {
  /** Not needed for the price; checked when given. */
  readonly from?: string;
  readonly to: string;
  readonly token: string;
  /** Not needed for the price (fees do not depend on it). */
  readonly amount?: bigint;
}

/** The least fee the cluster takes for a transfer now (GET /v1/fees and GET /v1/accounts/:to). */
export interface TransferQuote {
  /** The token's minFee (0 when the cluster has no fee policy). */
  readonly minFee: bigint;
  /** True when the recipient has never held the token: its newAccountFee is due on top. */
  readonly newAccount: boolean;
  /** minFee, plus newAccountFee when `newAccount`: sign at least this. */
  readonly fee: bigint;
}

/** Fields of sendTransfer: a transfer to sign; what is left out is filled in (see sendTransfer). */
export type SendTransferFields = Omit<TransferFields, "nonce" | "deadline" | "fee"> & {
  /** Default: the quoted minimum (quoteTransfer). */
  readonly fee?: bigint;
  /** Default: the signer's next nonce. */
  readonly nonce?: bigint;
  /** Unix seconds; default: 10 minutes from now. */
  readonly deadline?: bigint;
};

/** Options of submitTransfers. */
export interface SubmitTransfersOptions {
  /** Transfers per request, 1 to TRANSFER_BATCH_MAX (the default). */
  readonly batchSize?: number;
}

/**
 * Default per-try timeout. Above the 30 s a node keeps a client waiting for a verdict across
 * leader changes before it answers 503 (docs/node.md), so the node's answer, not this timeout,
 * decides; a cluster without a leader for a few seconds answers 503 at once.
 */
export const DEFAULT_TIMEOUT_MS = 40_000;

interface Node {
  /** Base URL as given, without a trailing slash. */
  readonly url: string;
  /** The same without credentials or query, safe for messages and logs (STYLE.md: no secrets). */
  readonly label: string;
}

interface RequestSpec {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Answer undefined on 404 instead of throwing. */
  readonly notFoundOk?: boolean;
}

type TryOutcome =
  | { readonly kind: "answer"; readonly status: number; readonly text: string; readonly retryAfter: string | null }
  | { readonly kind: "unreachable"; readonly cause: unknown }
  | { readonly kind: "timeout"; readonly cause: unknown };

/** A typed client of one delta-sidechain cluster (PROTOCOL.md §2). Holds no connections; nothing to close. */
export class DeltaClient {
  readonly #nodes: readonly Node[];
  readonly #fetch: typeof fetch;
  readonly #retry: RetryOptions;
  readonly #timeoutMs: number;
  /** The node tried first: the last one that answered, so a client stays on a live node. */
  #current = 0;
  readonly #monotonicReads: boolean;
  /** The highest X-Delta-Applied-Index answered so far. */
  #appliedIndex = 0;

  /** @throws DeltaClientError INVALID_CONFIG on no base URL, a malformed one, or bad retry or timeout options */
  constructor(options: DeltaClientOptions) {
    const urls = options.baseUrls ?? (options.baseUrl === undefined ? [] : [options.baseUrl]);
    if (urls.length === 0) throw new DeltaClientError("INVALID_CONFIG", "DeltaClient needs baseUrl or a non-empty baseUrls");
    this.#nodes = urls.map(toNode);
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    const retryProblem = checkRetryOptions(this.#retry);
    if (retryProblem !== undefined) throw new DeltaClientError("INVALID_CONFIG", retryProblem);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#monotonicReads = options.monotonicReads ?? true;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new DeltaClientError("INVALID_CONFIG", "timeoutMs must be a number > 0");
    }
  }

  /** The highest X-Delta-Applied-Index any node has answered this client (0 before the first answer). */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** Forgets the highest applied index seen (the client now talks to a new cluster, or one restarted from empty data). */
  resetAppliedIndex(): void {
    this.#appliedIndex = 0;
  }

  /**
   * Waits for the outcome of a transfer whose answer was lost or unknown (504 OUTCOME_UNKNOWN,
   * REQUEST_TIMEOUT): resolves with the transfer once committed (or settled); undefined when
   * `options.deadline` is given, is past by 30 s, and the transfer is still unknown to a node
   * that has applied everything its cluster had committed by then (it can never commit: a new
   * transfer may be signed); throws REQUEST_TIMEOUT after `options.timeoutMs`.
   *
   * Transfers only (PROTOCOL.md §2 looks transfers up by hash). For a withdrawal whose outcome is
   * unknown, send the same signed withdrawal again: 200 commits it now, 409 DUPLICATE means it
   * had committed. Never sign a new one with the next nonce until then.
   */
  async waitForTransfer(hash: string, options: WaitForTransferOptions = {}): Promise<TransferInfo | undefined> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const pollMs = options.pollMs ?? 250;
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = await this.transfer(hash);
      if (found !== undefined && found.status !== "pending") return found;
      const nowSec = BigInt(Math.floor(Date.now() / 1000));
      // The leader's block time decides a deadline; 30 s covers clocks apart and blocks in flight.
      if (found === undefined && options.deadline !== undefined && nowSec > options.deadline + 30n) {
        // Past its deadline it can no longer commit; had it committed, it is at or below the
        // cluster's commit index now: one more read at that index is the answer.
        this.#sawAppliedIndex(String((await this.status()).commitIndex));
        const last = await this.transfer(hash);
        return last === undefined || last.status === "pending" ? undefined : last;
      }
      if (Date.now() + pollMs > until) {
        throw new DeltaClientError("REQUEST_TIMEOUT", `transfer ${hash} was not decided within ${timeoutMs} ms; it may still commit until its deadline`, {
          details: { hash },
        });
      }
      await delay(pollMs);
    }
  }

  /** GET /v1/domain: the EIP-712 domain (chainId bigint) and the fee recipient. */
  async domain(): Promise<DomainInfo> {
    return parseDomainAnswer(await this.#call({ method: "GET", path: "/v1/domain" }), "GET /v1/domain");
  }

  /** GET /v1/fees: per accepted token, minFee and newAccountFee (wei of the token). */
  async fees(): Promise<FeesInfo> {
    return parseFeesAnswer(await this.#call({ method: "GET", path: "/v1/fees" }), "GET /v1/fees");
  }

  /**
   * The least fee the cluster takes now for a transfer to `to` of `token`, to show before signing:
   * the token's minFee, plus its newAccountFee when `to` has never held the token (no balance entry
   * for it in GET /v1/accounts/:to). A recipient only gains tokens, so the quote can only fall
   * until it is used, unless the operators change the policy.
   * @throws DeltaClientError TOKEN_NOT_ACCEPTED when the policy does not list the token (it cannot be transferred; withdrawing it is always possible)
   */
  async quoteTransfer(request: TransferQuoteRequest): Promise<TransferQuote> {
    const token = parseAddress(request.token, "token");
    if (request.from !== undefined) parseAddress(request.from, "from");
    const [fees, recipient] = await Promise.all([this.fees(), this.account(request.to)]);
    const newAccount = recipient.balances[token] === undefined;
    if (fees.source === "none") return { minFee: 0n, newAccount, fee: 0n };
    const rule = fees.tokens[token];
    if (rule === undefined) {
      throw new DeltaClientError("TOKEN_NOT_ACCEPTED", `token ${token} is not in the cluster's fee policy (GET /v1/fees): it cannot be transferred, only withdrawn`, {
        details: { token },
      });
    }
    return { minFee: rule.minFee, newAccount, fee: newAccount ? rule.minFee + rule.newAccountFee : rule.minFee };
  }

  /**
   * Signs a transfer with `signer` and submits it (POST /v1/transfers), filling in what `fields`
   * leave out: the fee with the quoted minimum (quoteTransfer), the nonce with the signer's next,
   * the deadline with 10 minutes from now. Resolves with what was signed, the quote (when the fee
   * was quoted) and the committed answer; throws the node's refusal, or TOKEN_NOT_ACCEPTED before
   * signing.
   */
  async sendTransfer(signer: Signer, fields: SendTransferFields): Promise<{ readonly signed: SignedTransfer; readonly quote: TransferQuote | undefined; readonly result: CommittedResult }> {
    const from = fields.from ?? (await signer.getAddress());
    const quote = fields.fee === undefined ? await this.quoteTransfer({ from, to: fields.to, token: fields.token, amount: fields.amount }) : undefined;
    const signed = await signTransfer(signer, await this.domain(), {
      ...fields,
      from,
      fee: fields.fee ?? quote?.fee ?? 0n,
      nonce: fields.nonce ?? (await this.nextNonce(from)),
      deadline: fields.deadline ?? BigInt(Math.floor(Date.now() / 1000)) + 600n,
    });
    return { signed, quote, result: await this.submitTransfer(signed) };
  }

  /** GET /v1/status of whichever node answers. */
  async status(): Promise<StatusInfo> {
    return parseStatusAnswer(await this.#call({ method: "GET", path: "/v1/status" }), "GET /v1/status");
  }

  /** GET /v1/accounts/:address: next nonce and available balances. Throws DeltaError INVALID_ADDRESS/BAD_CHECKSUM before sending. */
  async account(address: string): Promise<AccountInfo> {
    const path = `/v1/accounts/${parseAddress(address)}`;
    return parseAccountAnswer(await this.#call({ method: "GET", path }), `GET ${path}`);
  }

  /** The next nonce `address` should sign (its account's `nonce`). */
  async nextNonce(address: string): Promise<bigint> {
    return (await this.account(address)).nonce;
  }

  /** GET /v1/transfers/:hash; undefined when the node does not know the hash (404). */
  async transfer(hash: string): Promise<TransferInfo | undefined> {
    const path = `/v1/transfers/${encodeURIComponent(hash)}`;
    const body = await this.#call({ method: "GET", path, notFoundOk: true });
    return body === undefined ? undefined : parseTransferAnswer(body, `GET ${path}`);
  }

  /** GET /v1/epochs/:n, or /v1/epochs/current when `n` is omitted; undefined when it does not exist (404). */
  async epoch(n?: bigint): Promise<EpochInfo | undefined> {
    const path = n === undefined ? "/v1/epochs/current" : `/v1/epochs/${toDecimal(n)}`;
    const body = await this.#call({ method: "GET", path, notFoundOk: true });
    return body === undefined ? undefined : parseEpochAnswer(body, `GET ${path}`);
  }

  /**
   * GET /v1/epochs/:n/settlement: a sealed epoch's quorum-signed chunks, each ready for the
   * bridge's `settle(settlement, signatures)` and for `hashSettlement`, in chunk order. Unlike
   * `epoch()` and `transfer()`, which are lookups and answer undefined on 404, this throws
   * DeltaClientError NOT_FOUND (404) for an unknown epoch: a caller asking to settle an epoch that
   * does not exist has made a mistake. Also throws EPOCH_OPEN (409) while the epoch is open,
   * WRONG_STATE (409) while sealed but the validators' signatures are still being gathered (worth
   * asking again shortly), INVALID_BODY (400) for an epoch below 0 or above uint64, and BAD_RESPONSE for an answer
   * that is malformed or about another epoch.
   */
  async settlement(epoch: bigint): Promise<SettlementInfo> {
    const path = `/v1/epochs/${toDecimal(epoch)}/settlement`;
    return parseSettlementAnswer(await this.#call({ method: "GET", path }), `GET ${path}`, epoch);
  }

  /**
   * GET /v1/epochs/:n/tokens (this cluster's extension of PROTOCOL.md): per token, how many
   * transfers and withdrawals the epoch applied; undefined when the epoch does not exist (404).
   */
  async epochTokens(n: bigint): Promise<EpochTokensInfo | undefined> {
    const path = `/v1/epochs/${toDecimal(n)}/tokens`;
    const body = await this.#call({ method: "GET", path, notFoundOk: true });
    return body === undefined ? undefined : parseEpochTokensAnswer(body, `GET ${path}`);
  }

  /** POST /v1/transfers; resolves once committed on a quorum and applied, else throws the node's refusal. */
  async submitTransfer(signed: SignedTransfer): Promise<CommittedResult> {
    const body = await this.#call({ method: "POST", path: "/v1/transfers", body: transferBody(signed) });
    return parseCommittedAnswer(body, "POST /v1/transfers");
  }

  /**
   * POST /v1/transfers/batch, split into requests of at most TRANSFER_BATCH_MAX sent one after the
   * other (an account's consecutive nonces may straddle two requests); one result per transfer, in
   * the order given. A request that fails throws, with the results answered so far in
   * `details.results`.
   */
  async submitTransfers(signed: readonly SignedTransfer[], options: SubmitTransfersOptions = {}): Promise<BatchItemResult[]> {
    const size = options.batchSize ?? TRANSFER_BATCH_MAX;
    if (!Number.isSafeInteger(size) || size < 1 || size > TRANSFER_BATCH_MAX) {
      throw new DeltaClientError("BATCH_SIZE", `batchSize must be an integer from 1 to ${TRANSFER_BATCH_MAX}`);
    }
    // Encoded before anything is sent, so a malformed address refuses the call without a partial submission.
    const bodies = signed.map(transferBody);
    const results: BatchItemResult[] = [];
    const requests = Math.ceil(bodies.length / size);
    for (let k = 0; k < requests; k++) {
      const transfers = bodies.slice(k * size, (k + 1) * size);
      try {
        const answer = await this.#call({ method: "POST", path: "/v1/transfers/batch", body: { transfers } });
        for (const result of parseBatchAnswer(answer, "POST /v1/transfers/batch", transfers.length)) results.push(result);
      } catch (error) {
        if (!(error instanceof DeltaClientError) || requests === 1) throw error;
        throw new DeltaClientError(
          error.code,
          `${error.message} (request ${k + 1} of ${requests}; the ${results.length} transfers before it were answered: details.results)`,
          {
            ...(error.status === undefined ? {} : { status: error.status }),
            ...(error.serverCode === undefined ? {} : { serverCode: error.serverCode }),
            details: { ...error.details, results: results.slice() },
            cause: error,
          },
        );
      }
    }
    return results;
  }

  /** POST /v1/withdrawals; resolves once committed (the amount has left the off-chain balance). */
  async submitWithdrawal(signed: SignedWithdrawal): Promise<CommittedResult> {
    const body = await this.#call({ method: "POST", path: "/v1/withdrawals", body: withdrawalBody(signed) });
    return parseCommittedAnswer(body, "POST /v1/withdrawals");
  }

  /** POST /v1/admin/seal with the admin token: the sealed epoch, or null when the open one was empty. */
  async seal(adminToken: string): Promise<bigint | null> {
    const body = await this.#call({
      method: "POST",
      path: "/v1/admin/seal",
      body: {},
      headers: { authorization: `Bearer ${adminToken}` },
    });
    return parseSealAnswer(body, "POST /v1/admin/seal");
  }

  // -------------------------------------------------------------------------------------------

  /** One request with retries and rotation: the parsed JSON of a 2xx answer, or undefined on an allowed 404. */
  async #call(spec: RequestSpec): Promise<unknown> {
    const request = `${spec.method} ${spec.path}`;
    const count = this.#nodes.length;
    let backoffs = 0;
    for (let attempt = 1; ; attempt++) {
      const node = this.#nodes[this.#current % count];
      // #current stays in 0..count-1 and count >= 1 (checked in the constructor).
      if (node === undefined) throw new DeltaClientError("INTERNAL", "DeltaClient lost its node list");
      const outcome = await this.#try(node, spec);
      let failure: DeltaClientError;
      let retryAfterMs: number | undefined;
      if (outcome.kind === "answer") {
        if (outcome.status >= 200 && outcome.status < 300) return parseJson(outcome.text, request, outcome.status);
        if (outcome.status === 404 && spec.notFoundOk === true) return undefined;
        failure = errorFromAnswer(outcome.status, outcome.text, request);
        if (outcome.status !== 503) throw failure;
        retryAfterMs = parseRetryAfterMs(outcome.retryAfter);
      } else if (outcome.kind === "timeout") {
        throw new DeltaClientError(
          "REQUEST_TIMEOUT",
          `${request} to ${node.label} got no answer within ${this.#timeoutMs} ms; a write may still commit, so look it up by hash before sending it again`,
          { details: { request, node: node.label }, cause: outcome.cause },
        );
      } else {
        failure = new DeltaClientError(
          "NODE_UNREACHABLE",
          `${request}: could not reach ${node.label} (${describe(outcome.cause)}), ${attempt} of ${this.#retry.attempts} tries over ${count} node(s)`,
          { details: { request, node: node.label }, cause: outcome.cause },
        );
      }
      if (attempt >= this.#retry.attempts) throw failure;
      this.#current = (this.#current + 1) % count;
      // A refused connection says nothing about the other nodes: try each once before waiting.
      const wait =
        retryAfterMs ?? (outcome.kind === "unreachable" && attempt % count !== 0 ? 0 : backoffMs(backoffs++, this.#retry));
      if (wait > 0) await delay(wait);
    }
  }

  /** One try against one node; never throws. */
  /** Remembers the highest applied index answered (a malformed header is ignored). */
  #sawAppliedIndex(raw: string | null): void {
    if (!isAppliedIndex(raw)) return;
    const n = Number(raw);
    if (Number.isSafeInteger(n) && n > this.#appliedIndex) this.#appliedIndex = n;
  }

  async #try(node: Node, spec: RequestSpec): Promise<TryOutcome> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const headers: Record<string, string> = { accept: "application/json", ...spec.headers };
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    const send = this.#fetch;
    // Reads ask for at least the newest state this client has seen (see the top of this file).
    const path =
      spec.method === "GET" && this.#monotonicReads && this.#appliedIndex > 0
        ? `${spec.path}${spec.path.includes("?") ? "&" : "?"}minIndex=${this.#appliedIndex}`
        : spec.path;
    try {
      const response = await send(node.url + path, {
        method: spec.method,
        headers,
        ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
        signal,
      });
      // Read inside the try: the timeout covers the body, which a batch answer makes large.
      const text = await response.text();
      this.#sawAppliedIndex(response.headers.get("x-delta-applied-index"));
      return { kind: "answer", status: response.status, text, retryAfter: response.headers.get("retry-after") };
    } catch (cause) {
      return signal.aborted ? { kind: "timeout", cause } : { kind: "unreachable", cause };
    }
  }
}

function isAppliedIndex(raw: string | null): raw is string {
  return raw !== null && /^(0|[1-9][0-9]{0,15})$/.test(raw);
}

function toNode(url: string): Node {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new DeltaClientError("INVALID_CONFIG", `base URL is not a URL: ${JSON.stringify(url.slice(0, 80))}`, { cause });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new DeltaClientError("INVALID_CONFIG", `base URL must be http: or https:, got ${parsed.protocol}`);
  }
  const trimmed = url.replace(/\/+$/, "");
  return { url: trimmed, label: `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}` };
}

function parseJson(text: string, request: string, status: number): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new DeltaClientError("BAD_RESPONSE", `${request} answered HTTP ${status} with a body that is not JSON`, {
      status,
      details: { request },
      cause,
    });
  }
}

/** The innermost useful reason of a fetch failure (undici wraps ECONNREFUSED in "fetch failed"). */
function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const inner: unknown = cause.cause;
    if (inner instanceof Error) {
      const code: unknown = Reflect.get(inner, "code");
      return typeof code === "string" ? code : inner.message;
    }
    return cause.message;
  }
  return String(cause);
}

/** The wire body of a transfer: decimal strings, addresses checksummed (PROTOCOL.md §2 answers in that form too). */
function transferBody(t: SignedTransfer): TransferRequestJson {
  return encodeTransferRequest({
    ...t,
    from: parseAddress(t.from, "from"),
    to: parseAddress(t.to, "to"),
    token: parseAddress(t.token, "token"),
  });
}

function withdrawalBody(w: SignedWithdrawal): WithdrawalRequestJson {
  return encodeWithdrawalRequest({ ...w, account: parseAddress(w.account, "account"), token: parseAddress(w.token, "token") });
}
