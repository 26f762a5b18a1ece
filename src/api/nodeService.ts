// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * What the REST API needs from a node (STYLE.md: `api/` sees no consensus or ledger internals).
 * `node.ts` implements it; API tests use a small implementation over a real ledger. Every value
 * is already in its wire form (decimal strings for amounts, checksummed addresses), so the API
 * only validates input, calls, and serialises. Methods throw DeltaError for refusals; the API's
 * one error mapper turns codes into statuses (PROTOCOL.md §2).
 */
import type { ErrorCode } from "../errors.ts";
import type { SignedTransfer, SignedWithdrawal } from "../protocol/index.ts";

/** GET /v1/domain. */
export interface DomainView {
  readonly name: "DeltaBridge";
  readonly version: "1";
  /** Decimal string. */
  readonly chainId: string;
  readonly verifyingContract: string;
  readonly feeRecipient: string;
}

/** GET /v1/status. */
export interface StatusView {
  readonly address: string;
  readonly role: "leader" | "follower" | "candidate";
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The open epoch, decimal string. */
  readonly epoch: string;
  readonly lastSettledEpoch: string;
  readonly peers: readonly { readonly address: string; readonly rest: string }[];
}

/** GET /v1/accounts/:address. */
export interface AccountView {
  readonly address: string;
  /** The next nonce to sign, decimal string. */
  readonly nonce: string;
  /** Token address -> available wei, decimal strings. */
  readonly balances: Readonly<Record<string, string>>;
}

/** The answer for one committed write. */
export interface CommittedView {
  readonly hash: string;
  readonly status: "committed";
  readonly index: number;
  /** Decimal string. */
  readonly epoch: string;
}

/** A write's refusal: a code and a message; `hash` only with OUTCOME_UNKNOWN (PROTOCOL.md §2). */
export interface RefusedView {
  readonly error: { readonly code: ErrorCode; readonly message: string };
  readonly hash?: string;
}

/** One item of a batch answer: committed, or refused with a code. */
export type BatchItemResult = CommittedView | RefusedView;

/** GET /v1/transfers/:hash. */
export interface TransferView {
  readonly hash: string;
  readonly status: "pending" | "committed" | "settled";
  readonly index: number | null;
  readonly epoch: string | null;
  readonly from: string;
  readonly to: string;
  readonly token: string;
  readonly amount: string;
  readonly fee: string;
  readonly nonce: string;
  readonly deadline: string;
}

/** GET /v1/epochs/current and /v1/epochs/:n. */
export interface EpochView {
  readonly epoch: string;
  readonly status: "open" | "sealed" | "settled";
  readonly transfers: number;
  readonly root: string | null;
  readonly deltas: readonly { readonly account: string; readonly token: string; readonly delta: string }[];
  readonly payouts: readonly { readonly account: string; readonly token: string; readonly amount: string }[];
  readonly settlementTxs: readonly string[];
}

/** GET /v1/transfers/:hash/proof (PROTOCOL.md §4): verifies with MerkleProof.verify(proof, root, leaf). */
export interface ProofView {
  readonly hash: string;
  /** Decimal string. */
  readonly epoch: string;
  readonly leaf: string;
  readonly root: string;
  readonly proof: readonly string[];
}

/** One chunk of GET /v1/epochs/:n/settlement: a Settlement (PROTOCOL.md §3) and its quorum's signatures. */
export interface SettlementChunkView {
  readonly settlement: {
    /** Decimal string (uint64). */
    readonly epoch: string;
    readonly chunk: number;
    readonly chunks: number;
    readonly transfersRoot: string;
    /** `amount` a signed decimal string (int256). */
    readonly deltas: readonly { readonly account: string; readonly token: string; readonly amount: string }[];
    /** `amount` a decimal string (uint256). */
    readonly payouts: readonly { readonly account: string; readonly token: string; readonly amount: string }[];
  };
  /** 65-byte r||s||v hex signatures over the chunk's EIP-712 digest, strictly ascending by signer. */
  readonly signatures: readonly string[];
}

/** GET /v1/epochs/:n/settlement: everything needed to call `settle` for each chunk, in order. */
export interface SettlementView {
  /** Decimal string. */
  readonly epoch: string;
  readonly chunks: readonly SettlementChunkView[];
}

/**
 * GET /v1/epochs/:n/tokens (ours, beyond PROTOCOL.md): per token, how many transfers and
 * withdrawals the epoch applied, tokens ascending. scripts/settle.ts prices the same payments one
 * by one on-chain with it.
 */
export interface EpochTokensView {
  /** Decimal string. */
  readonly epoch: string;
  readonly tokens: readonly { readonly token: string; readonly transfers: number; readonly withdrawals: number }[];
}

/**
 * GET /v1/fees (PROTOCOL.md §2): per accepted token (checksummed), minFee and newAccountFee in its
 * wei as decimal strings. A transfer of a token not listed is refused TOKEN_NOT_ACCEPTED, unless
 * `source` is "none" (the cluster has no fee policy: every token at any fee).
 */
export interface FeesView {
  readonly tokens: Readonly<Record<string, { readonly minFee: string; readonly newAccountFee: string }>>;
  /**
   * Ours, beyond PROTOCOL.md: "ledger" (the policy the ledger applies), "config" (this node's
   * configured policy, not yet committed to the log), "none" (no policy: every token accepted at fee 0).
   */
  readonly source: "ledger" | "config" | "none";
}

/** GET /v1/admin/state (admin): the ledger's state hash, to check that a refusal changed nothing. */
export interface StateView {
  /** stateHash of the ledger (src/ledger), 0x hex. */
  readonly stateHash: string;
  readonly appliedIndex: number;
  /** The deposit watcher's cursor as the log last recorded it: the first chain block not yet scanned. */
  readonly depositCursor: number;
}

/** Figures for /metrics, read on each scrape. */
export interface NodeMetrics {
  readonly role: "leader" | "follower" | "candidate";
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly mempoolSize: number;
}

export interface NodeService {
  domain(): DomainView;
  status(): StatusView;
  /** The fee policy transfers are judged by (GET /v1/fees). */
  fees(): FeesView;
  /** Throws INVALID_ADDRESS / BAD_CHECKSUM for a malformed address (the API checks first). */
  account(address: string): AccountView;
  /**
   * Submits already shape-checked transfers (signatures not yet checked); resolves once each is
   * committed and applied, or refused, in the order given. Throws NO_LEADER when no leader is
   * reachable (nothing was applied).
   */
  submitTransfers(transfers: readonly SignedTransfer[]): Promise<readonly BatchItemResult[]>;
  /** As submitTransfers, for one withdrawal. */
  submitWithdrawal(withdrawal: SignedWithdrawal): Promise<BatchItemResult>;
  /** Undefined when the hash is unknown. */
  transfer(hash: string): TransferView | undefined;
  /** The Merkle proof of a committed message; throws NOT_FOUND (unknown) or EPOCH_OPEN (not sealed yet). */
  transferProof(hash: string): ProofView;
  /**
   * The quorum-signed settlement of a sealed (or settled) epoch. Throws NOT_FOUND (no such epoch),
   * EPOCH_OPEN (not sealed yet) or WRONG_STATE (sealed; the validators' signatures are still being
   * gathered: retry shortly).
   */
  settlement(epoch: bigint): SettlementView;
  /** Per token message counts of `epoch` (any status); undefined when it does not exist. */
  epochTokens(epoch: bigint): EpochTokensView | undefined;
  /** `epoch` undefined: the open one. Undefined when it does not exist. */
  epoch(epoch?: bigint): EpochView | undefined;
  /** Seals the open epoch if it holds anything; the sealed epoch (decimal) or null. */
  seal(): Promise<{ readonly epoch: string | null }>;
  metrics(): NodeMetrics;
  /** The last log index this node has applied (X-Delta-Applied-Index on every answer). */
  appliedIndex(): number;
  /**
   * Resolves true once this node has applied index `index` (at once if it has), false after
   * `timeoutMs` without (GET ?minIndex=, PROTOCOL.md §2).
   */
  waitForApplied(index: number, timeoutMs: number): Promise<boolean>;
  /** The ledger's state hash and the log index it reflects. */
  stateView(): StateView;
}
