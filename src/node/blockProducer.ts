// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The leader's block producer: takes the next block's messages from the mempool, refuses the
 * ones already past their deadline (they would only be refused by the ledger, after taking log
 * space), proposes the block and watches it commit. Verdicts do not come from here: every node's
 * applier gives them when the block is applied. A block that is not proposed, lost to a leader
 * change or stuck past the bound hands its messages back (`onLost`), to go to the next leader.
 *
 * Group commit: while MAX_BLOCKS_IN_FLIGHT blocks wait for their commit, messages gather in the
 * mempool and go out together in the next one. Every block costs each node one fsync; cutting one
 * every 5 ms under a trickle of single transfers made those syncs the largest item of the profile
 * and the main cause of latency (docs/node.md).
 */
import type { Histogram } from "prom-client";
import type { ConsensusLogger } from "../consensus/index.ts";
import type { LedgerEntry, LedgerMessage } from "../ledger/index.ts";
import { encodeEntry } from "./entryCodec.ts";
import { signerOf, type LedgerNonce, type Mempool } from "./mempool.ts";

/** Blocks the leader keeps proposed but uncommitted at once. */
export const MAX_BLOCKS_IN_FLIGHT = 2;

/** What the producer needs of the replicated log (ReplicatedLog fits). */
export interface BlockLog {
  propose(
    data: readonly Uint8Array[],
  ): Promise<({ readonly accepted: true; readonly lastIndex: number } | { readonly accepted: false }) & { readonly term: number }>;
  waitForCommit(index: number, term: number, timeoutMs: number): Promise<boolean>;
}

export interface BlockProducerDeps {
  readonly mempool: Mempool;
  readonly log: BlockLog;
  readonly ledgerNonce: LedgerNonce;
  readonly logger: ConsensusLogger;
  /** Most messages per block (config.block.maxMessages). */
  readonly maxMessages: number;
  /** How long a proposed block may take to commit before its messages go elsewhere. */
  readonly answerBoundMs: number;
  /** Messages the block did not carry through: routed again (their nonces are not used). */
  readonly onLost: (messages: readonly LedgerMessage[]) => void;
  /** A message refused here, past its deadline at the block time (its clients are answered). */
  readonly onExpired: (message: LedgerMessage, timestampSec: bigint) => void;
  /**
   * False holds every block back: the leader's config names a fee policy the ledger has not
   * applied yet (docs/node.md "Fees"), so a new leader never orders messages under a stale policy.
   * The messages wait in the mempool; the next `cut()` after it turns true sends them. Default: always true.
   */
  readonly mayCut?: () => boolean;
  /** Wall clock, ms (the block's timestamp comes from it). */
  readonly nowMs?: () => number;
  readonly blockMessages?: Histogram;
  readonly commitSeconds?: Histogram;
}

/**
 * The messages of `messages` to put in the block at `timestampSec`, in order; `expired` gets the
 * ones refused here: past their deadline with their nonce still unused by the ledger. One whose
 * nonce is used stays in (the ledger answers it NONCE_REUSED): it may be a copy of a message that
 * did commit (a forward sent again after a lost verdict, a client's resend after a 504), and its
 * sender must learn that, not DEADLINE_EXPIRED. Pure; the usual case (none expired) returns the
 * same array.
 */
export function dropExpired(messages: LedgerMessage[], timestampSec: bigint, ledgerNonce: LedgerNonce, expired: (m: LedgerMessage) => void): LedgerMessage[] {
  const isExpired = (m: LedgerMessage): boolean => m.deadline < timestampSec && m.nonce >= ledgerNonce(signerOf(m));
  if (!messages.some(isExpired)) return messages;
  const kept: LedgerMessage[] = [];
  for (const m of messages) {
    if (isExpired(m)) expired(m);
    else kept.push(m);
  }
  return kept;
}

export class BlockProducer {
  readonly #deps: BlockProducerDeps;
  readonly #now: () => number;
  #cutting = false;
  #inFlight = 0;
  #stopped = false;

  constructor(deps: BlockProducerDeps) {
    this.#deps = deps;
    this.#now = deps.nowMs ?? Date.now;
  }

  /** Blocks proposed and not yet committed (or lost). */
  get inFlight(): number {
    return this.#inFlight;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Cuts and proposes the next block if there is room and anything is ready; never throws. */
  async cut(): Promise<void> {
    const d = this.#deps;
    if (this.#cutting || this.#stopped || d.mempool.size === 0 || this.#inFlight >= MAX_BLOCKS_IN_FLIGHT) return;
    if (d.mayCut !== undefined && !d.mayCut()) return;
    this.#cutting = true;
    let messages: LedgerMessage[] = [];
    try {
      const nowMs = this.#now();
      const timestampSec = BigInt(Math.floor(nowMs / 1000));
      messages = dropExpired(d.mempool.take(d.maxMessages, nowMs, d.ledgerNonce), timestampSec, d.ledgerNonce, (m) => {
        d.mempool.forgetNonce(m); // its nonce stays unused
        d.onExpired(m, timestampSec);
      });
      if (messages.length === 0) return; // all held back for earlier nonces (mempool.ts), or expired
      const entry: LedgerEntry = { type: "block", timestampSec, messages };
      const outcome = await d.log.propose([encodeEntry(entry)]);
      if (!outcome.accepted) {
        this.#lose(messages);
        return;
      }
      this.#inFlight++;
      d.blockMessages?.observe(messages.length);
      const proposedAt = performance.now();
      const proposed = messages;
      void d.log
        .waitForCommit(outcome.lastIndex, outcome.term, d.answerBoundMs)
        .then(
          (ours) => {
            if (ours) d.commitSeconds?.observe((performance.now() - proposedAt) / 1000);
            else this.#lose(proposed); // another entry committed at its index: a leader change
          },
          () => this.#lose(proposed),
        )
        .finally(() => {
          this.#inFlight--;
          void this.cut();
        });
    } catch (error) {
      // Not proposed (e.g. the log refused it): its messages stay ours and go to the next block.
      d.logger.error({ reason: error instanceof Error ? error.message : String(error) }, "cutting a block failed");
      this.#lose(messages);
    } finally {
      this.#cutting = false;
    }
  }

  #lose(messages: readonly LedgerMessage[]): void {
    for (const m of messages) this.#deps.mempool.forgetNonce(m); // its block did not go through: its nonce is not used
    this.#deps.onLost(messages);
  }
}
