// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * A NodeService for the API tests over a REAL ledger (src/ledger) and real signature recovery
 * (src/protocol): a one-node "cluster" whose every write is its own block. It checks each
 * signature against the EIP-712 digest, refuses a message already in the log as DUPLICATE (as the
 * node's intake does), applies the rest in one block at the test clock, and answers the ledger's
 * verdicts. Switches let a test make it throw NO_LEADER or an unexpected error. A sealed epoch's
 * settlement is chunked by the ledger (buildSettlementChunks) and signed by test validator keys, as
 * a node answers once its quorum's signatures are gathered; a switch makes it answer WRONG_STATE,
 * as while they are still being gathered. An epoch's per-token counts come straight from the ledger
 * (getEpochTokenCounts), checksummed as the node answers them.
 */
import { Wallet } from "ethers";
import {
  accountView,
  epochTokensView,
  epochView,
  feesView,
  ledgerTransferView,
  proofView,
  resultView,
  settlementView,
} from "../../../src/node/views.ts";
import { DeltaError, type ErrorCode } from "../../../src/errors.ts";
import type {
  AccountView,
  BatchItemResult,
  DomainView,
  EpochTokensView,
  EpochView,
  FeesView,
  NodeMetrics,
  NodeService,
  ProofView,
  SettlementView,
  StateView,
  StatusView,
  TransferView,
} from "../../../src/api/index.ts";
import {
  applyEntry,
  buildSettlementChunks,
  createLedger,
  getEpochHeads,
  getEpochSummary,
  getMessage,
  stateHash,
  type FeePolicyToken,
  type LedgerMessage,
  type LedgerState,
} from "../../../src/ledger/index.ts";
import {
  type Address,
  type BridgeDomain,
  type Hash,
  hashSettlement,
  hashTransfer,
  hashWithdrawal,
  recoverSigner,
  type SignedTransfer,
  type SignedWithdrawal,
  toDecimal,
} from "../../../src/protocol/index.ts";

/** Block time of the test clock, unix seconds. */
export const NOW_SEC = 1_700_000_000n;

/**
 * Default validator keys: Hardhat's development accounts #6, #7 and #8 (never hold value; none of
 * them is a user, fee recipient or node address of the API tests).
 */
export const TEST_VALIDATORS: readonly Wallet[] = [
  new Wallet("0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e"),
  new Wallet("0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356"),
  new Wallet("0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"),
];

export interface LedgerServiceOptions {
  readonly domain: BridgeDomain;
  readonly feeRecipient: Address;
  readonly nodeAddress: Address;
  /** The quorum that signs every settlement chunk, in any order; default TEST_VALIDATORS. */
  readonly validators?: readonly Wallet[];
  /** Items (deltas plus payouts) per settlement chunk, as config.settlement.maxItemsPerChunk; default 1,000. */
  readonly maxItemsPerChunk?: number;
  /** False: settlement() of a sealed epoch answers WRONG_STATE (signatures not gathered yet); default true. */
  readonly signaturesGathered?: boolean;
}

/** A message refused before the ledger (signature, duplicate) or by it. */
function refused(code: ErrorCode, message: string): BatchItemResult {
  return { error: { code, message } };
}

export class LedgerService implements NodeService {
  readonly state: LedgerState;
  /** Block timestamp of the next write, unix seconds. */
  nowSec: bigint = NOW_SEC;
  /** When set, writes and seals throw NO_LEADER (nothing applied), as when no leader is reachable. */
  noLeader = false;
  /** When set, valid writes are answered OUTCOME_UNKNOWN with their hash (taken in, not decided), nothing applied. */
  outcomeUnknown = false;
  /** When set, writes throw this (a bug in the node): the API must answer 500 without details. */
  failWith: Error | undefined;
  /** When false, settlement() of a sealed epoch throws WRONG_STATE, as while its signatures are gathered. */
  signaturesGathered: boolean;
  private readonly options: LedgerServiceOptions;
  /** Ascending by address: the order `settle` demands of the signatures. */
  private readonly validators: readonly Wallet[];
  private readonly maxItemsPerChunk: number;
  private depositId = 0n;

  constructor(options: LedgerServiceOptions) {
    this.options = options;
    this.state = createLedger({ feeRecipient: options.feeRecipient });
    this.signaturesGathered = options.signaturesGathered ?? true;
    this.maxItemsPerChunk = options.maxItemsPerChunk ?? 1_000;
    const byAddress = (a: Wallet, b: Wallet): number => {
      const x = a.address.toLowerCase();
      const y = b.address.toLowerCase();
      return x < y ? -1 : x > y ? 1 : 0;
    };
    this.validators = [...(options.validators ?? TEST_VALIDATORS)].sort(byAddress);
  }

  /** keccak256 of the canonical ledger snapshot: equal exactly when nothing changed. */
  transferProof(hash: string): ProofView {
    return proofView(this.state, hash);
  }

  stateView(): StateView {
    return { stateHash: stateHash(this.state), appliedIndex: 0, depositCursor: 0 };
  }

  stateHash(): Hash {
    return stateHash(this.state);
  }

  /** Credits a deposit, as a DepositEntry from the chain would. */
  deposit(account: Address, token: Address, amount: bigint): void {
    this.depositId += 1n;
    const result = applyEntry(this.state, { type: "deposit", depositId: this.depositId, account, token, amount });
    if (result.status !== "credited") throw new Error(`deposit refused: ${result.code}`);
  }

  domain(): DomainView {
    const d = this.options.domain;
    return { name: d.name, version: d.version, chainId: toDecimal(d.chainId), verifyingContract: d.verifyingContract, feeRecipient: this.options.feeRecipient };
  }

  /** Applies a fee policy entry (null: none), as a leader's feePolicy log entry would. */
  setFeePolicy(tokens: readonly FeePolicyToken[] | null): void {
    const result = applyEntry(this.state, { type: "feePolicy", tokens });
    this.applied++;
    if (result.status !== "applied") throw new Error(`fee policy refused: ${result.code}`);
  }

  fees(): FeesView {
    return feesView(this.state, null);
  }

  status(): StatusView {
    const heads = getEpochHeads(this.state);
    return {
      address: this.options.nodeAddress,
      role: "leader",
      term: 3,
      leader: this.options.nodeAddress,
      commitIndex: 42,
      appliedIndex: this.applied,
      epoch: toDecimal(heads.openEpoch),
      lastSettledEpoch: toDecimal(heads.lastSettledEpoch),
      peers: [{ address: this.options.feeRecipient, rest: "http://127.0.0.1:7002" }],
    };
  }

  account(address: string): AccountView {
    return accountView(this.state, address);
  }

  private guard(): void {
    if (this.failWith !== undefined) throw this.failWith;
    if (this.noLeader) throw new DeltaError("NO_LEADER", "no leader reachable; retry shortly", { details: { retryAfterSec: 2 } });
  }

  /** Checks signatures and duplicates, applies the survivors as one block, answers in order. */
  private submit(messages: readonly { message: LedgerMessage; signer: Address; signature: `0x${string}` }[]): BatchItemResult[] {
    const answers: (BatchItemResult | undefined)[] = [];
    const toApply: LedgerMessage[] = [];
    const seen = new Set<string>();
    for (const { message, signer, signature } of messages) {
      let recovered: Address;
      try {
        recovered = recoverSigner(message.hash, signature);
      } catch (err) {
        answers.push(refused(err instanceof DeltaError ? err.code : "INVALID_SIGNATURE", "signature does not verify"));
        continue;
      }
      if (recovered !== signer) {
        answers.push(refused("INVALID_SIGNATURE", `signed by ${recovered}, not by ${signer}`));
      } else if (this.outcomeUnknown) {
        answers.push({ error: { code: "OUTCOME_UNKNOWN", message: "not decided in time; look it up by its hash" }, hash: message.hash });
      } else if (getMessage(this.state, message.hash) !== undefined || seen.has(message.hash)) {
        answers.push(refused("DUPLICATE", "this message was already submitted"));
      } else {
        seen.add(message.hash);
        toApply.push(message);
        answers.push(undefined);
      }
    }
    if (toApply.length > 0) this.applied++;
    const verdicts = toApply.length === 0 ? [] : applyEntry(this.state, { type: "block", timestampSec: this.nowSec, messages: toApply }).results;
    let next = 0;
    return answers.map((a) => {
      if (a !== undefined) return a;
      const verdict = verdicts[next++];
      if (verdict === undefined) throw new Error("ledger gave fewer verdicts than messages");
      return resultView(verdict);
    });
  }

  async submitTransfers(transfers: readonly SignedTransfer[]): Promise<readonly BatchItemResult[]> {
    this.guard();
    return this.submit(
      transfers.map((t) => ({
        message: { kind: "transfer", hash: hashTransfer(this.options.domain, t), from: t.from, to: t.to, token: t.token, amount: t.amount, fee: t.fee, nonce: t.nonce, deadline: t.deadline },
        signer: t.from,
        signature: t.signature,
      })),
    );
  }

  async submitWithdrawal(w: SignedWithdrawal): Promise<BatchItemResult> {
    this.guard();
    const [result] = this.submit([
      {
        message: { kind: "withdrawal", hash: hashWithdrawal(this.options.domain, w), account: w.account, token: w.token, amount: w.amount, nonce: w.nonce, deadline: w.deadline },
        signer: w.account,
        signature: w.signature,
      },
    ]);
    if (result === undefined) throw new Error("no result");
    return result;
  }

  transfer(hash: string): TransferView | undefined {
    return ledgerTransferView(this.state, hash);
  }

  epoch(epoch?: bigint): EpochView | undefined {
    return epochView(this.state, epoch);
  }

  settlement(epoch: bigint): SettlementView {
    // The node's mapping over chunks this service signs itself with every test validator.
    const summary = getEpochSummary(this.state, epoch);
    const signed =
      summary === undefined || summary.status === "open" || !this.signaturesGathered
        ? undefined
        : (() => {
            const settlements = buildSettlementChunks(summary, this.maxItemsPerChunk);
            const signatures = settlements.map((s) => {
              const digest = hashSettlement(this.options.domain, s);
              return this.validators.map((v) => v.signingKey.sign(digest).serialized as `0x${string}`);
            });
            return { settlements, signatures };
          })();
    return settlementView(this.state, epoch, signed);
  }

  epochTokens(epoch: bigint): EpochTokensView | undefined {
    return epochTokensView(this.state, epoch);
  }

  async seal(): Promise<{ readonly epoch: string | null }> {
    this.guard();
    const open = getEpochHeads(this.state).openEpoch;
    const summary = getEpochSummary(this.state, open);
    if (summary === undefined || summary.transfers + summary.withdrawals === 0) return { epoch: null };
    const result = applyEntry(this.state, { type: "seal", epoch: open });
    this.applied++;
    if (result.status !== "sealed") throw new Error(`seal refused: ${result.code}`);
    return { epoch: toDecimal(open) };
  }

  /** The log index the service has "applied": starts at 41 and moves with every write it applies. */
  applied = 41;

  appliedIndex(): number {
    return this.applied;
  }

  /** Answers at once: true when `index` is applied, else false (as if the wait timed out; the API's wait is exercised by the integration tests). */
  waitForApplied(index: number, _timeoutMs: number): Promise<boolean> {
    return Promise.resolve(index <= this.applied);
  }

  metrics(): NodeMetrics {
    return { role: "leader", term: 3, commitIndex: 42, appliedIndex: 41, mempoolSize: 7 };
  }
}
