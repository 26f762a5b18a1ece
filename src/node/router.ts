// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Where a node's accepted writes go, and when their clients are answered: the node's promise
 * that a message it took in is routed to whoever leads until it is decided (docs/node.md,
 * "Unconfirmed messages" and "Read your writes"). Kept pure the way the log core is: no timers,
 * clock, sockets or ledger. Events come in (`accept`, `flush`, `tick`, `verdicts`, `applied`,
 * `lost`, `owe`), with the time and the leader as arguments; what to do comes out as actions
 * (hand messages to the mempool, forward them, send verdicts), and clients are answered through
 * the promises `accept` returned. The node runtime does the I/O; the unit tests script leader
 * changes, lost forwards and lagging followers against it in process.
 *
 * - Leading: accepted messages go to the mempool (`mempool` action); the block producer decides.
 * - Following: they are gathered and forwarded to the leader (`forward`), kept until a verdict
 *   comes from the member they were last forwarded to. A leader change, or no verdict within
 *   `forwardRetryMs`, sends them again; a NO_LEADER verdict waits `rerouteBackoffMs` first.
 * - A verdict decided at log index `at` is answered only once this node has applied `at` itself
 *   (read your writes, PROTOCOL.md §2); until then the message is parked, no longer forwarded.
 * - A message not decided within `answerBoundMs` is answered 504 OUTCOME_UNKNOWN with its hash
 *   once it was handed to any leader (it may still commit), NO_LEADER if it never was.
 * - Leading: verdicts owed to the members that forwarded go out together (`takeOwed`).
 */
import type { BatchItemResult, CommittedView } from "../api/index.ts";
import type { ErrorCode } from "../errors.ts";
import type { LedgerMessage } from "../ledger/index.ts";
import { AppliedWaiters } from "./appliedWaiters.ts";
import { FORWARD_MAX_ITEMS, type Verdict } from "./forwarding.ts";
import { PendingMessages, type PendingMessage } from "./pendingMessages.ts";

/** What the node knows of the leader at the moment of an event. */
export interface LeaderView {
  /** The member this node takes for leader (its transport id), or null when none is known. */
  readonly leader: string | null;
  /** This node leads and may propose (an established term with a majority). */
  readonly leading: boolean;
}

/** What the router asks the node to do. */
export type RouterAction =
  | { readonly type: "mempool"; readonly messages: readonly LedgerMessage[] }
  | { readonly type: "forward"; readonly to: string; readonly messages: readonly LedgerMessage[] }
  | { readonly type: "verdicts"; readonly to: string; readonly verdicts: readonly Verdict[] };

export interface RouterOptions {
  /** This node's member id. */
  readonly self: string;
  /** How long a client waits for its message's verdict (config.answerBoundMs). */
  readonly answerBoundMs: number;
  /** A forward with no verdict in this time goes again; default 5,000 ms. */
  readonly forwardRetryMs?: number;
  /** After a forward failed (NO_LEADER), wait this long before routing again; default 100 ms. */
  readonly rerouteBackoffMs?: number;
  /** The committed view of `hash` if this node's ledger has applied it (for repeated messages). */
  readonly committed: (hash: string) => CommittedView | undefined;
  /** Called with the time from forward to verdict of each message the leader answered (metrics). */
  readonly onForwardVerdict?: (ms: number) => void;
}

/** Refusals that, for a message sent more than once, may be about its own committed copy. */
const REFUSED_AS_REPEAT: ReadonlySet<string> = new Set(["DUPLICATE", "NONCE_REUSED"]);
const NO_LEADER_MESSAGE = "no leader is reachable; retry shortly";

function errorItem(code: ErrorCode, message: string): BatchItemResult {
  return { error: { code, message } };
}

export class Router {
  /** Accepted here, not yet answered: the node's promise to its clients. */
  readonly pending = new PendingMessages();
  readonly #options: RouterOptions;
  readonly #forwardRetryMs: number;
  readonly #rerouteBackoffMs: number;
  /** Waiting for a leader to be routed to (none known, or a forward failed). */
  readonly #unrouted = new Set<PendingMessage>();
  #rerouteAtMs = 0;
  /** Following: gathered for the next forward (`flush`). */
  #toForward: PendingMessage[] = [];
  /** Forwarded and not yet answered, oldest forward first (settled ones are dropped lazily). */
  readonly #forwarded = new Set<PendingMessage>();
  /** The leader the forwards were last checked against (a change sends them again at once). */
  #forwardLeader: string | null = null;
  /** Decided by the leader at an index this node has not applied yet: answered once it has. */
  readonly #parked = new AppliedWaiters();
  /** Cancels the parked answer of an entry answered otherwise (its bound, shutdown): nothing waits forever on an index never reached. */
  readonly #unpark = new Map<PendingMessage, () => void>();
  /** Leading: verdicts owed to the members that forwarded. */
  readonly #owed = new Map<string, Verdict[]>();
  #applied = 0;
  /** Since when (ms) this node has known no leader able to propose; undefined while it knows one. */
  #leaderlessSinceMs: number | undefined;

  constructor(options: RouterOptions) {
    this.#options = options;
    this.#forwardRetryMs = options.forwardRetryMs ?? 5_000;
    this.#rerouteBackoffMs = options.rerouteBackoffMs ?? 100;
  }

  /** Messages gathered for the next forward. */
  get queuedForForward(): number {
    return this.#toForward.length;
  }

  /** Decided messages whose answer waits for this node to apply their index. */
  get parked(): number {
    return this.#parked.size;
  }

  /** Verdicts owed to members, not yet taken. */
  get owedCount(): number {
    let n = 0;
    for (const list of this.#owed.values()) n += list.length;
    return n;
  }

  /** How long (ms) this node has known no leader at `nowMs` (0 while it knows one). */
  leaderlessForMs(nowMs: number): number {
    return this.#leaderlessSinceMs === undefined ? 0 : nowMs - this.#leaderlessSinceMs;
  }

  /**
   * Takes verified messages into the node's keeping; a hash already pending here joins it (both
   * clients get the same verdict) and is not routed again. Returns each one's answer, in order,
   * and what to do with the new ones.
   */
  accept(messages: readonly LedgerMessage[], nowMs: number, view: LeaderView): { answers: Promise<BatchItemResult>[]; actions: RouterAction[] } {
    const fresh: PendingMessage[] = [];
    const answers = messages.map((m) => {
      const added = this.pending.add(m, nowMs, this.#options.answerBoundMs);
      if (added.isNew) fresh.push(added.entry);
      return added.answer;
    });
    return { answers, actions: this.#route(fresh, nowMs, view) };
  }

  /** Sends what was gathered for the leader (the node calls it a moment after `accept`, or when FORWARD_MAX_ITEMS are queued). */
  flush(nowMs: number, view: LeaderView): RouterAction[] {
    const entries = this.#toForward.filter((e) => this.pending.isPending(e) && !e.decided);
    this.#toForward = [];
    if (entries.length === 0) return [];
    const leader = view.leader;
    if (view.leading || leader === null || leader === this.#options.self) {
      // The leader changed since they were gathered: route them again.
      this.#requeue(entries);
      return [];
    }
    for (const e of entries) {
      e.sent = true;
      e.relayed = !e.resent;
      e.forwardedTo = leader;
      e.forwardedAtMs = nowMs;
      // Re-inserted, so the set stays in forward order (#checkForwards reads the oldest first).
      this.#forwarded.delete(e);
      this.#forwarded.add(e);
    }
    const actions: RouterAction[] = [];
    for (let i = 0; i < entries.length; i += FORWARD_MAX_ITEMS) {
      actions.push({ type: "forward", to: leader, messages: entries.slice(i, i + FORWARD_MAX_ITEMS).map((e) => e.message) });
    }
    return actions;
  }

  /**
   * The node's periodic look (every block interval): routes what waits for a leader, answers the
   * messages past their bound, sends forwards again after a leader change or a lost verdict.
   */
  tick(nowMs: number, view: LeaderView): RouterAction[] {
    // No leader known, or this node is named leader but cannot propose (Mokka never demotes a
    // leader that lost its majority: docs/consensus.md). A moment of either is an election.
    if (view.leader === null || (view.leader === this.#options.self && !view.leading)) this.#leaderlessSinceMs ??= nowMs;
    else this.#leaderlessSinceMs = undefined;
    const actions: RouterAction[] = [];
    if (this.#unrouted.size > 0 && nowMs >= this.#rerouteAtMs) {
      const entries = [...this.#unrouted].filter((e) => this.pending.isPending(e) && !e.decided);
      this.#unrouted.clear();
      actions.push(...this.#route(entries, nowMs, view));
    }
    this.pending.expire(nowMs, (e) => this.#expiredAnswer(e));
    this.#checkForwards(nowMs, view.leader);
    return actions;
  }

  /** The leader's verdicts on what this node forwarded (`from`: the member that sent them). */
  verdicts(from: string, verdicts: readonly Verdict[], nowMs: number): void {
    for (const { hash, result, at } of verdicts) {
      const entry = this.pending.get(hash);
      // Only the member we last forwarded it to speaks for it: an older leader's late verdict, or
      // any other member's, is ignored (our own ledger answers once the block reaches us).
      if (entry === undefined || entry.forwardedTo !== from) continue;
      this.#options.onForwardVerdict?.(nowMs - entry.forwardedAtMs);
      if (at <= this.#applied || ("error" in result && result.error.code === "NO_LEADER")) {
        this.#answerFromLeader(entry, result, nowMs);
        continue;
      }
      // Read your writes (PROTOCOL.md §2): decided, but this node has not applied the block yet.
      // The answer waits for it; the message is not routed anywhere again (a leader change may
      // already have queued it: it leaves those queues too).
      entry.decided = true;
      this.#forwarded.delete(entry);
      this.#unrouted.delete(entry);
      entry.forwardedTo = undefined;
      this.#unpark.set(
        entry,
        this.#parked.add(at, () => {
          this.#unpark.delete(entry);
          this.#answerFromLeader(entry, result, nowMs);
        }),
      );
    }
  }

  /**
   * This node applied log index `index`, with the ledger's verdict on each message of it: the
   * clients of messages decided here are answered, then those parked for this index.
   */
  applied(index: number, results: readonly { readonly hash: string; readonly result: BatchItemResult }[]): void {
    this.#applied = index;
    for (const { hash, result } of results) {
      const pending = this.pending.get(hash);
      // A relayed message is answered with the leader's verdict (so a copy committed before it
      // was sent here is refused as a duplicate, as PROTOCOL.md says).
      if (pending === undefined || pending.relayed) continue;
      this.#unpark.get(pending)?.(); // answered here: a parked copy of the leader's verdict is not needed
      this.#unpark.delete(pending);
      this.pending.settle(hash, this.#verdictFor(pending, result));
    }
    this.#parked.advance(index);
  }

  /** Answers `hash`'s clients now (the leader refused it itself, e.g. past its deadline). */
  settle(hash: string, result: BatchItemResult): void {
    this.pending.settle(hash, result);
  }

  /** Messages that will not be decided where they went (a lost block, a lost lead): routed again. */
  lost(messages: readonly LedgerMessage[]): void {
    const entries: PendingMessage[] = [];
    for (const m of messages) {
      const e = this.pending.get(m.hash);
      if (e !== undefined) entries.push(e);
    }
    this.#requeue(entries);
  }

  /** Leading: `verdict` is owed to `member`, which forwarded the message. */
  owe(member: string, verdict: Verdict): void {
    let list = this.#owed.get(member);
    if (list === undefined) this.#owed.set(member, (list = []));
    list.push(verdict);
  }

  /** The owed verdicts, as messages to send (at most FORWARD_MAX_ITEMS each). */
  takeOwed(): RouterAction[] {
    const actions: RouterAction[] = [];
    for (const [to, verdicts] of this.#owed) {
      for (let i = 0; i < verdicts.length; i += FORWARD_MAX_ITEMS) actions.push({ type: "verdicts", to, verdicts: verdicts.slice(i, i + FORWARD_MAX_ITEMS) });
    }
    this.#owed.clear();
    return actions;
  }

  /**
   * Shutdown: every client still waiting is answered, as at the bound: OUTCOME_UNKNOWN with the
   * hash once its message was handed to a leader (it may still commit), NO_LEADER otherwise.
   * Nothing is routed any more.
   */
  stop(): void {
    this.#unrouted.clear();
    this.#toForward = [];
    this.#forwarded.clear();
    this.pending.settleAll((e) => this.#expiredAnswer(e, "the node is shutting down"));
    this.#parked.drain();
    this.#unpark.clear();
  }

  // ---- internals ----

  /** Leading: into the mempool. Following: gathered for the leader. No leader: kept for later. */
  #route(entries: readonly PendingMessage[], nowMs: number, view: LeaderView): RouterAction[] {
    if (entries.length === 0) return [];
    if (view.leading) {
      for (const e of entries) e.sent = true;
      return [{ type: "mempool", messages: entries.map((e) => e.message) }];
    }
    if (view.leader === null || view.leader === this.#options.self || nowMs < this.#rerouteAtMs) {
      for (const e of entries) this.#unrouted.add(e);
      return [];
    }
    for (const e of entries) this.#toForward.push(e);
    return [];
  }

  /** Sends `entries` again later, to whoever leads then. */
  #requeue(entries: readonly PendingMessage[]): void {
    for (const e of entries) {
      if (!this.pending.isPending(e) || e.decided) continue;
      e.resent = true;
      e.relayed = false;
      this.#unrouted.add(e);
    }
  }

  /**
   * Forwards with no verdict: all of them again when the leader changed, else the ones older than
   * forwardRetryMs (a forward or its verdict lost with a connection, or a leader that hangs).
   */
  #checkForwards(nowMs: number, leader: string | null): void {
    if (this.#forwarded.size === 0) return;
    const changed = leader !== this.#forwardLeader;
    this.#forwardLeader = leader;
    const again: PendingMessage[] = [];
    for (const e of this.#forwarded) {
      if (!this.pending.isPending(e)) {
        this.#forwarded.delete(e);
        continue;
      }
      if (e.forwardedTo !== leader || nowMs - e.forwardedAtMs >= this.#forwardRetryMs) {
        this.#forwarded.delete(e);
        again.push(e);
      } else if (!changed) break; // the rest were forwarded later, to this same leader
    }
    this.#requeue(again);
  }

  /** The leader's verdict on a message we forwarded (it answers after its block is applied). */
  #answerFromLeader(entry: PendingMessage, result: BatchItemResult, nowMs: number): void {
    if (!this.pending.isPending(entry)) return; // answered already (by our own ledger, or expired)
    if ("error" in result && result.error.code === "NO_LEADER") {
      this.#rerouteAtMs = nowMs + this.#rerouteBackoffMs;
      this.#forwarded.delete(entry);
      this.#requeue([entry]);
      return;
    }
    // The leader's own bound passed (it may still commit): the client gets the hash to look it up by (PROTOCOL.md §2).
    if ("error" in result && result.error.code === "OUTCOME_UNKNOWN") {
      this.pending.settle(entry.message.hash, { error: result.error, hash: entry.message.hash });
      return;
    }
    const verdict = this.#verdictFor(entry, result);
    // Refused as a repeat of a copy our ledger has not applied yet: our own ledger will answer
    // (the leader answers after commit, so the block that decides is on its way here).
    if ("error" in verdict && entry.resent && REFUSED_AS_REPEAT.has(verdict.error.code)) return;
    this.pending.settle(entry.message.hash, verdict);
  }

  /**
   * The answer for `entry` given a verdict on its hash. A message sent more than once may meet
   * its own committed copy: refused as DUPLICATE or NONCE_REUSED while this node's ledger holds
   * that very hash committed, the client gets the committed view (it was applied once, here too).
   */
  #verdictFor(entry: PendingMessage, result: BatchItemResult): BatchItemResult {
    if (!entry.resent || !("error" in result) || !REFUSED_AS_REPEAT.has(result.error.code)) return result;
    return this.#options.committed(entry.message.hash) ?? result;
  }

  /**
   * The answer of a message not decided within the bound. Once it was handed to a leader it may
   * still commit (until its deadline): 504 OUTCOME_UNKNOWN with its hash, never a "retry", which
   * would make a client pay twice (PROTOCOL.md §2). One never handed to any leader cannot commit
   * (it is dropped with its entry here): NO_LEADER, retry.
   */
  #expiredAnswer(e: PendingMessage, why = `the message was not decided within ${this.#options.answerBoundMs / 1000} s`): BatchItemResult {
    this.#unpark.get(e)?.();
    this.#unpark.delete(e);
    if (!e.sent) return errorItem("NO_LEADER", `${why}; it was not sent to any leader and will not commit: retry`);
    return {
      error: {
        code: "OUTCOME_UNKNOWN",
        message: `${why}; it may still commit until its deadline: look it up by its hash, or send the same signed message again (409 DUPLICATE means it committed)`,
      },
      hash: e.message.hash,
    };
  }
}

export { NO_LEADER_MESSAGE };
