// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * client/: a typed client of the REST API (PROTOCOL.md §2) and signing helpers for its messages
 * (§1), for users, tests, benchmarks and scripts. Imports protocol/, errors.ts, ethers and node
 * built-ins only. Amounts, nonces and epochs are bigint in and out.
 */

// The client (deltaClient.ts).
/** REST client over one or several nodes; retries 503 and failed connections with backoff, rotating nodes; throws DeltaClientError. */
export { DeltaClient } from "./deltaClient.ts";
/** Per-try timeout when `timeoutMs` is not given: 30,000 ms. */
export { DEFAULT_TIMEOUT_MS } from "./deltaClient.ts";
/** Constructor options: `baseUrl` or `baseUrls`, plus `fetch`, `retry`, `timeoutMs`, `monotonicReads` (default true). */
export type { DeltaClientOptions } from "./deltaClient.ts";
/** Options shared by both forms of DeltaClientOptions. */
export type { DeltaClientCommonOptions } from "./deltaClient.ts";
/** Options of waitForTransfer: `timeoutMs`, the transfer's `deadline` (unix seconds), `pollMs`. */
export type { WaitForTransferOptions } from "./deltaClient.ts";
/** Options of submitTransfers: `batchSize` (1 to 10,000 transfers per request). */
export type { SubmitTransfersOptions } from "./deltaClient.ts";
/** quoteTransfer's request (`to`, `token`) and answer: `{ minFee, newAccount, fee }`, fee the least to sign. */
export type { TransferQuote, TransferQuoteRequest } from "./deltaClient.ts";
/** sendTransfer's fields: a TransferFields whose fee (default: quoted), nonce (next) and deadline (10 min) may be left out. */
export type { SendTransferFields } from "./deltaClient.ts";

// Retry policy (backoff.ts).
/** Tries in all, backoff base and ceiling in ms. */
export type { RetryOptions } from "./backoff.ts";
/** `{ attempts: 6, baseMs: 100, maxMs: 3000 }`. */
export { DEFAULT_RETRY } from "./backoff.ts";

// Errors (clientError.ts).
/** A DeltaError with the node's HTTP `status` and raw `serverCode`; also NODE_UNREACHABLE, REQUEST_TIMEOUT, BAD_RESPONSE. */
export { DeltaClientError } from "./clientError.ts";

// Answers (answers.ts).
/** GET /v1/domain: the EIP-712 domain (chainId bigint) plus `feeRecipient`. */
export type { DomainInfo } from "./answers.ts";
/** GET /v1/fees: per accepted token (checksummed) its fees (bigint), and where the policy comes from. */
export type { FeesInfo, TokenFees } from "./answers.ts";
/** GET /v1/status: role, term, leader, indexes, epochs (bigint), peers. */
export type { StatusInfo } from "./answers.ts";
/** "leader" | "follower" | "candidate". */
export type { NodeRole } from "./answers.ts";
/** GET /v1/accounts/:address: next nonce and available wei by token (bigint). */
export type { AccountInfo } from "./answers.ts";
/** A committed write: hash, index, epoch (bigint). */
export type { CommittedResult } from "./answers.ts";
/** A refused batch item: `{ error: { code, message } }`. */
export type { RefusedResult } from "./answers.ts";
/** One batch result, committed or refused; narrow with `"error" in result`. */
export type { BatchItemResult } from "./answers.ts";
/** GET /v1/transfers/:hash with amounts, nonce and deadline as bigint. */
export type { TransferInfo } from "./answers.ts";
/** "pending" | "committed" | "settled". */
export type { TransferStatus } from "./answers.ts";
/** GET /v1/epochs/…: status, root, deltas (signed bigint) and payouts (bigint). */
export type { EpochInfo } from "./answers.ts";
export type { EpochTokensInfo } from "./answers.ts";
/** "open" | "sealed" | "settled". */
export type { EpochStatus } from "./answers.ts";
/** GET /v1/epochs/:n/settlement: epoch (bigint) and its chunks in order, each a protocol Settlement plus its signatures. */
export type { SettlementInfo } from "./answers.ts";
/** One chunk of SettlementInfo: `{ settlement, signatures }`, the arguments of the bridge's `settle`. */
export type { SettlementChunkInfo } from "./answers.ts";

// Signing (signing.ts).
/** Signs a Transfer through `signer.signTypedData`; throws DeltaError on a bad address or a `from` that is not the signer. */
export { signTransfer } from "./signing.ts";
/** Signs a Withdrawal through `signer.signTypedData`; throws as signTransfer. */
export { signWithdrawal } from "./signing.ts";
/** Signs a Transfer synchronously with a raw key over protocol's hashTransfer (same signature, far faster); `from` unchecked. */
export { fastSignTransfer } from "./signing.ts";
/** Signs a Withdrawal synchronously with a raw key over protocol's hashWithdrawal; `account` unchecked. */
export { fastSignWithdrawal } from "./signing.ts";
/** Transfer fields to sign: `from` defaults to the signer, `fee` to 0; amounts in wei, deadline in unix seconds. */
export type { TransferFields } from "./signing.ts";
/** Withdrawal fields to sign: `account` defaults to the signer; amount in wei, deadline in unix seconds. */
export type { WithdrawalFields } from "./signing.ts";
/** A private key as 0x hex or an ethers SigningKey (reuse one when signing many). */
export type { PrivateKeyLike } from "./signing.ts";

// Protocol values a client needs, so users import one module.
/** The native coin (ETH) as a token: the zero address. */
export { NATIVE_TOKEN } from "../protocol/index.ts";
/** Most transfers in one batch request: 10,000 (submitTransfers splits above it). */
export { TRANSFER_BATCH_MAX } from "../protocol/index.ts";
/** Transfer, Withdrawal and their signed forms (bigint amounts, checksummed addresses). */
export type { Address, BridgeDomain, Hash, Hex, SignedTransfer, SignedWithdrawal, Transfer, Withdrawal } from "../protocol/index.ts";
/** PROTOCOL.md §3 Settlement chunk and its items (bigint epoch and amounts), as SettlementInfo carries them. */
export type { Delta, Payout, Settlement } from "../protocol/index.ts";
