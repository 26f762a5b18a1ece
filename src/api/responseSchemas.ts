// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * zod schemas of every answer body of PROTOCOL.md §2, for the OpenAPI document (the request
 * bodies come from protocol/ schemas). They mirror the view types of nodeService.ts; the `satisfies`
 * checks at the bottom fail to compile when the two drift apart. The API does not parse its own
 * answers at run time; the tests check real answers against these.
 */
import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../errors.ts";
import { HASH_PATTERN, INT_DECIMAL_PATTERN, UINT_DECIMAL_PATTERN } from "../protocol/index.ts";
import type {
  AccountView,
  CommittedView,
  DomainView,
  EpochTokensView,
  EpochView, FeesView, ProofView, SettlementView, StateView,
  StatusView,
  TransferView,
} from "./nodeService.ts";

const address = (description: string) =>
  z.string().meta({ description: `${description}; EIP-55 checksummed`, pattern: "^0x[0-9a-fA-F]{40}$" });
const hash = (description: string) => z.string().meta({ description: `${description}; 0x + 64 lowercase hex digits`, pattern: HASH_PATTERN.source });
const uint = (description: string) => z.string().meta({ description: `${description}; unsigned decimal string`, pattern: UINT_DECIMAL_PATTERN });
const int = (description: string) => z.string().meta({ description: `${description}; signed decimal string`, pattern: INT_DECIMAL_PATTERN });
const role = z.enum(["leader", "follower", "candidate"]);

/** `{ "error": { code, message } }`: every refusal (PROTOCOL.md §2). */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).meta({ description: "stable UPPER_SNAKE code; see docs/api.md for its status" }),
      message: z.string().meta({ description: "what went wrong and what to send instead, for a person" }),
    }),
    hash: z
      .string()
      .optional()
      .meta({ description: "OUTCOME_UNKNOWN only: the write's hash, to look it up (it may still commit until its deadline)" }),
  })
  .meta({ id: "ErrorBody", description: "A refusal: a stable code and a message for a person" });

/** GET /v1/domain. */
export const DomainViewSchema = z
  .object({
    name: z.literal("DeltaBridge"),
    version: z.literal("1"),
    chainId: uint("the settlement chain's id"),
    verifyingContract: address("the DeltaBridge contract"),
    feeRecipient: address("receives every transfer's fee"),
  })
  .meta({ id: "DomainView", description: "The EIP-712 domain to sign with, plus the cluster's fee recipient" });

/** GET /v1/fees. */
export const FeesViewSchema = z
  .object({
    tokens: z
      .record(
        z.string().meta({ description: "an accepted token, EIP-55 checksummed; the zero address for ETH", pattern: "^0x[0-9a-fA-F]{40}$" }),
        z.object({
          minFee: uint("the least fee of any transfer of the token, its wei"),
          newAccountFee: uint("added to minFee when the recipient has never held the token, its wei"),
        }),
      )
      .meta({ description: "token address -> its fees; a transfer of a token not listed is refused 422 TOKEN_NOT_ACCEPTED (withdrawals are always accepted), unless source is none" }),
    source: z.enum(["ledger", "config", "none"]).meta({
      description: "ledger: the policy the ledger applies; config: this node's configured policy, not committed yet; none: no policy, every token accepted at any fee (not in PROTOCOL.md)",
    }),
  })
  .meta({ id: "FeesView", description: "The fee policy: per accepted token, minFee and newAccountFee (PROTOCOL.md §2)" });

/** GET /v1/status. */
export const StatusViewSchema = z
  .object({
    address: address("this node's validator address"),
    role,
    term: z.int().min(0),
    leader: address("the leader this node knows").nullable(),
    commitIndex: z.int().min(0),
    appliedIndex: z.int().min(0),
    epoch: uint("the open epoch"),
    lastSettledEpoch: uint("the last epoch settled on-chain, 0 for none"),
    peers: z.array(z.object({ address: address("a peer's validator address"), rest: z.string().meta({ description: "the peer's REST base URL" }) })),
  })
  .meta({ id: "StatusView", description: "This node's role, term, log indexes, epochs and peers" });

/** GET /v1/accounts/:address. */
export const AccountViewSchema = z
  .object({
    address: address("the account"),
    nonce: uint("the next nonce to sign"),
    balances: z.record(z.string(), uint("available wei")).meta({ description: "token address -> available wei" }),
  })
  .meta({ id: "AccountView", description: "An account's next nonce and available off-chain balances" });

/** A committed write. */
export const CommittedViewSchema = z
  .object({
    hash: hash("the message's EIP-712 digest"),
    status: z.literal("committed"),
    index: z.int().min(0).meta({ description: "position in its epoch (its Merkle leaf index)" }),
    epoch: uint("the epoch it belongs to"),
  })
  .meta({ id: "CommittedView", description: "A message committed on a quorum and applied" });

/** One item of a batch answer. */
export const BatchItemResultSchema = z
  .union([CommittedViewSchema, ErrorBodySchema])
  .meta({ id: "BatchItemResult", description: "One batch item: committed, or refused with its code" });

/** POST /v1/transfers/batch. */
export const BatchResultSchema = z
  .object({ results: z.array(BatchItemResultSchema).meta({ description: "one per transfer sent, in the order given" }) })
  .meta({ id: "BatchResult", description: "One result per transfer, in the order given" });

/** GET /v1/transfers/:hash. */
export const TransferViewSchema = z
  .object({
    hash: hash("the message's EIP-712 digest"),
    status: z.enum(["pending", "committed", "settled"]),
    index: z.int().min(0).nullable(),
    epoch: uint("its epoch").nullable(),
    from: address("the sender"),
    to: address("the receiver"),
    token: address("the token, the zero address for ETH"),
    amount: uint("wei"),
    fee: uint("wei"),
    nonce: uint("the sender's nonce"),
    deadline: uint("unix seconds"),
  })
  .meta({ id: "TransferView", description: "A transfer and where it stands" });

/** GET /v1/epochs/current and /v1/epochs/:n. */
export const EpochViewSchema = z
  .object({
    epoch: uint("the epoch number"),
    status: z.enum(["open", "sealed", "settled"]),
    transfers: z.int().min(0),
    root: hash("the transfers root").nullable().meta({ description: "the transfers root, null while open" }),
    deltas: z.array(z.object({ account: address("the account"), token: address("the token"), delta: int("net change, wei") })),
    payouts: z.array(z.object({ account: address("the account"), token: address("the token"), amount: uint("wei") })),
    settlementTxs: z.array(hash("a settlement transaction")),
  })
  .meta({ id: "EpochView", description: "An epoch's netting so far (open) or final (sealed, settled)" });

/** POST /v1/admin/seal. */
export const SealResultSchema = z
  .object({ epoch: uint("the epoch sealed").nullable().meta({ description: "the epoch sealed, or null when the open one was empty" }) })
  .meta({ id: "SealResult", description: "The epoch sealed, or null" });

/** GET /v1/transfers/:hash/proof. */
export const ProofViewSchema = z
  .object({
    hash: z.string().regex(HASH_PATTERN).meta({ description: "the message's EIP-712 digest" }),
    epoch: uint("the sealed epoch holding it"),
    leaf: z.string().regex(HASH_PATTERN).meta({ description: "keccak256(hash)" }),
    root: z.string().regex(HASH_PATTERN).meta({ description: "the epoch's transfers root" }),
    proof: z.array(z.string().regex(HASH_PATTERN)).meta({ description: "sibling hashes from the leaf up" }),
  })
  .meta({ id: "ProofView", description: "A Merkle proof of a message against its epoch's transfers root (PROTOCOL.md §4)" });

/** An address as the settlement carries it (checksummed by the API; the contract takes any case). */
const settlementAddress = (description: string) =>
  z.string().regex(/^0x[0-9a-fA-F]{40}$/).meta({ description: `${description}; EIP-55 checksummed` });

/** GET /v1/epochs/:n/settlement: the Settlement struct of PROTOCOL.md §3 and the signatures `settle` takes. */
export const SettlementViewSchema = z
  .object({
    epoch: z.string().regex(new RegExp(UINT_DECIMAL_PATTERN)).meta({ description: "the sealed epoch; unsigned decimal string" }),
    chunks: z
      .array(
        z.object({
          settlement: z
            .object({
              epoch: z.string().regex(new RegExp(UINT_DECIMAL_PATTERN)).meta({ description: "uint64 epoch; unsigned decimal string" }),
              chunk: z.int().min(0).max(0xffff_ffff).meta({ description: "uint32: this chunk's index, from 0" }),
              chunks: z.int().min(1).max(0xffff_ffff).meta({ description: "uint32: the epoch's number of chunks" }),
              transfersRoot: z.string().regex(HASH_PATTERN).meta({ description: "the epoch's transfers root (PROTOCOL.md §4)" }),
              deltas: z.array(
                z.object({
                  account: settlementAddress("the account"),
                  token: settlementAddress("the token, the zero address for ETH"),
                  amount: z.string().regex(new RegExp(INT_DECIMAL_PATTERN)).meta({ description: "int256 change of balanceOf, wei; signed decimal string" }),
                }),
              ),
              payouts: z.array(
                z.object({
                  account: settlementAddress("the account"),
                  token: settlementAddress("the token, the zero address for ETH"),
                  amount: z.string().regex(new RegExp(UINT_DECIMAL_PATTERN)).meta({ description: "uint256 added to withdrawable, wei; unsigned decimal string" }),
                }),
              ),
            })
            .meta({ description: "the Settlement struct (PROTOCOL.md §3); per token its deltas plus payouts sum to zero" }),
          signatures: z
            .array(z.string().regex(/^0x[0-9a-fA-F]{130}$/))
            .meta({ description: "65-byte r || s || v signatures over the chunk's EIP-712 digest, from a quorum of validators, strictly ascending by signer" }),
        }),
      )
      .meta({ description: "every chunk of the epoch, in the order settle takes them" }),
  })
  .meta({ id: "SettlementView", description: "A sealed epoch's quorum-signed settlement: call settle(settlement, signatures) for each chunk in order" });

/** GET /v1/epochs/:n/tokens (ours, beyond PROTOCOL.md): an epoch's applied messages per token. */
export const EpochTokensViewSchema = z
  .object({
    epoch: z.string().regex(new RegExp(UINT_DECIMAL_PATTERN)).meta({ description: "the epoch (open, sealed or settled); unsigned decimal string" }),
    tokens: z
      .array(
        z.object({
          token: settlementAddress("the token, the zero address for ETH"),
          transfers: z.int().min(0).meta({ description: "transfers of this token the epoch applied" }),
          withdrawals: z.int().min(0).meta({ description: "withdrawals of this token the epoch applied" }),
        }),
      )
      .meta({ description: "one entry per token the epoch moved, ascending by address; empty when it applied nothing" }),
  })
  .meta({ id: "EpochTokensView", description: "Per token, how many transfers and withdrawals an epoch applied (not in PROTOCOL.md)" });

/** GET /v1/admin/state. */
export const StateViewSchema = z
  .object({
    stateHash: z.string().regex(HASH_PATTERN).meta({ description: "the ledger's state hash" }),
    appliedIndex: z.int().min(0).meta({ description: "the log index the state reflects" }),
    depositCursor: z.int().min(0).meta({ description: "the first chain block the deposit watcher has not scanned, as the log last recorded it" }),
  })
  .meta({ id: "StateView", description: "The ledger's state hash: equal on nodes that applied the same log prefix" });

/** GET /healthz. */
export const HealthSchema = z.object({ status: z.literal("ok") }).meta({ id: "Health", description: "The process serves requests" });

// Compile-time: a view the service returns must fit the schema that documents it.
// Views are readonly throughout; zod's inferred types are mutable, so compare against a readonly copy.
type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
type Fits<T, S extends z.ZodType> = T extends DeepReadonly<z.input<S>> ? true : never;
const _fits = {
  domain: true satisfies Fits<DomainView, typeof DomainViewSchema>,
  status: true satisfies Fits<StatusView, typeof StatusViewSchema>,
  account: true satisfies Fits<AccountView, typeof AccountViewSchema>,
  committed: true satisfies Fits<CommittedView, typeof CommittedViewSchema>,
  transfer: true satisfies Fits<TransferView, typeof TransferViewSchema>,
  epoch: true satisfies Fits<EpochView, typeof EpochViewSchema>,
  state: true satisfies Fits<StateView, typeof StateViewSchema>,
  proof: true satisfies Fits<ProofView, typeof ProofViewSchema>,
  settlement: true satisfies Fits<SettlementView, typeof SettlementViewSchema>,
  epochTokens: true satisfies Fits<EpochTokensView, typeof EpochTokensViewSchema>,
  fees: true satisfies Fits<FeesView, typeof FeesViewSchema>,
  errorCode: true satisfies Fits<ErrorCode, typeof ErrorBodySchema.shape.error.shape.code>,
};
void _fits;
