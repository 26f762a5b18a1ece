// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * One node: the replicated log feeding the ledger, the leader's mempool and block cutter, intake
 * with batched native signature checks, forwarding to the leader, and the deposit watcher. It
 * implements the REST API's NodeService.
 *
 * A write is answered only once its block is committed (on a majority, durable) and applied,
 * with the ledger's verdict. Followers forward writes to the leader over the consensus transport
 * (forwarding.ts) and relay its verdict. A node keeps every message it accepted until it sees its verdict (docs/node.md,
 * "Unconfirmed messages"): a forward that fails, a block lost to a leader change, or a mempool
 * left behind by a leader that stepped down are routed again to whoever leads next, and the
 * client waits across the change, up to ANSWER_BOUND_MS; only then it gets NO_LEADER (503: retry).
 */
import { join } from "node:path";
import { Wallet } from "ethers";
import { collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type {
  AccountView,
  BatchItemResult,
  CommittedView,
  DomainView,
  EpochView,
  EpochTokensView,
  NodeMetrics,
  NodeService,
  ProofView,
  SettlementView,
  StateView,
  StatusView,
  TransferView,
} from "../api/index.ts";
import { loadIdentity, ReplicatedLog, type ConsensusLogger } from "../consensus/index.ts";
import { DeltaError, isErrorCode, type ErrorCode } from "../errors.ts";
import { AppliedWaiters } from "./appliedWaiters.ts";
import {
  applyEntry,
  createLedger,
  getAccount,
  getEpochHeads,
  getEpochStatus,
  getEpochSummary,
  getEpochTokenCounts,
  getMessage,
  getNextNonce,
  getMessageProof,
  stateHash,
  type LedgerEntry,
  type LedgerMessage,
  type LedgerState,
  type MessageResult,
} from "../ledger/index.ts";
import {
  checksumAddress,
  hashTransfer,
  hashWithdrawal,
  RecoveryPool,
  type Address,
  type BridgeDomain,
  type Hash,
  type SignedTransfer,
  type SignedWithdrawal,
} from "../protocol/index.ts";
import type { Config, Member } from "./config.ts";
import { DepositWatcher } from "./depositWatcher.ts";
import { decodeEntry, encodeEntry, type NodeEntry } from "./entryCodec.ts";
import {
  decodeForward,
  decodeSealMessage,
  decodeVerdicts,
  encodeForward,
  encodeVerdicts,
  FORWARD_MAX_ITEMS,
  type SealMessage,
  type Verdict,
} from "./forwarding.ts";
import { Mempool, signerOf } from "./mempool.ts";
import { PendingMessages, type PendingMessage } from "./pendingMessages.ts";
import { Settler } from "./settler.ts";

const NO_LEADER_MESSAGE = "no leader is reachable; retry shortly";
/**
 * A write that arrives after this node has known no leader for this long is refused at once with
 * NO_LEADER (503, retry later), before anything is accepted: a client should not wait
 * ANSWER_BOUND_MS for a cluster that has lost its majority. Above an election's usual length
 * (about 1-2 s here), so an ordinary leader change still keeps clients waiting, not failing.
 */
const NO_LEADER_FAIL_FAST_MS = 3_000;
/** Seconds past its deadline before intake refuses a message itself (else the leader's block time decides). */
const EARLY_DEADLINE_MARGIN_SEC = 5n;
/**
 * A forward the leader has given no verdict on in this time is sent again (to whoever leads
 * then): forwards are fire and forget, so one lost with a dropped connection is found this way.
 * A leader change re-sends at once. Well above a block's commit time under load (tens of ms).
 */
const FORWARD_RETRY_MS = 5_000;
/** After a forward failed, wait this long before routing again (the old leader may still be named). */
const REROUTE_BACKOFF_MS = 100;
/** How often pending messages are checked against their deadline. */
const EXPIRY_CHECK_MS = 250;
/** Refusals that, for a message sent more than once, may be about its own committed copy. */
const REFUSED_AS_REPEAT = new Set(["DUPLICATE", "NONCE_REUSED"]);

function committedView(r: MessageResult): BatchItemResult {
  return r.status === "committed"
    ? ({ hash: r.hash, status: "committed", index: r.index, epoch: r.epoch.toString() } satisfies CommittedView)
    : { error: { code: r.code, message: r.reason } };
}

function errorItem(code: ErrorCode, message: string): BatchItemResult {
  return { error: { code, message } };
}

/** A follower gathers messages to forward for this long, then sends them as one forward. */
const FORWARD_COALESCE_MS = 2;

/** How often the leader shares its deposit cursor through the log (when it moved). */
const CURSOR_SHARE_MS = 5_000;

/** Blocks the leader keeps proposed but uncommitted at once (see #cutBlock). */
const MAX_BLOCKS_IN_FLIGHT = 2;

/** GET /v1/transfers/:hash's answer for transfer `t` (addresses checksummed, amounts decimal). */
function transferView(t: Extract<LedgerMessage, { kind: "transfer" }>, status: TransferView["status"], index: number | null, epoch: string | null): TransferView {
  return {
    hash: t.hash,
    status,
    index,
    epoch,
    from: checksumAddress(t.from),
    to: checksumAddress(t.to),
    token: checksumAddress(t.token),
    amount: t.amount.toString(),
    fee: t.fee.toString(),
    nonce: t.nonce.toString(),
    deadline: t.deadline.toString(),
  };
}

/** The running node. `start()` builds it; `stop()` ends everything it began. */
export class NodeRuntime implements NodeService {
  readonly #config: Config;
  readonly #log: ConsensusLogger;
  readonly #domain: BridgeDomain;
  readonly #ledger: LedgerState;
  readonly #mempool = new Mempool();
  /** The ledger's next nonce of an account, for the mempool's gap check. */
  readonly #ledgerNonce = (signer: string): bigint => getNextNonce(this.#ledger, signer);
  /** Since when (ms) this node has known no leader; undefined while it knows one. */
  #leaderlessSinceMs: number | undefined;
  /** Accepted here, not yet answered: the node's promise to its clients. */
  readonly #pending = new PendingMessages();
  /** Pending messages waiting for a leader to be routed to (no leader known, or a forward failed). */
  readonly #unrouted = new Set<PendingMessage>();
  #rerouteAtMs = 0;
  #expiryAtMs = 0;
  readonly #self: Member;
  readonly #settler: Settler;
  #replicated!: ReplicatedLog;
  #pool!: RecoveryPool;
  #watcher: DepositWatcher | undefined;
  #blockTimer: NodeJS.Timeout | undefined;
  /** Follower: messages waiting FORWARD_COALESCE_MS to go to the leader together. */
  #toForward: PendingMessage[] = [];
  #forwardTimer: NodeJS.Timeout | undefined;
  /** Forwarded and not yet answered, oldest forward first (settled ones are dropped lazily). */
  readonly #forwarded = new Set<PendingMessage>();
  /** The leader the forwards were last checked against (a change sends them again at once). */
  #forwardLeader: string | null = null;
  /** Leader: verdicts owed to the members that forwarded, sent together once a block is applied. */
  readonly #verdictsOwed = new Map<string, Verdict[]>();
  #verdictFlush: NodeJS.Immediate | undefined;
  #cutting = false;
  /** An automatic seal is in flight. */
  #sealing = false;
  /** The deposit cursor the log agreed on (depositCursor entries); a new leader's watcher starts there. */
  #sharedDepositCursor = 0;
  #cursorSharedAtMs = 0;
  #sharingCursor = false;
  /** When this node first saw the open epoch hold a message (the age trigger counts from there). */
  #epochSeenAt: { epoch: bigint; atMs: number } = { epoch: 0n, atMs: 0 };
  /** Stopping: new writes are refused while accepted ones finish. */
  #draining = false;
  /** The node's own Prometheus metrics; node.ts hands the registry to the API, which serves it. */
  readonly metricsRegistry = new Registry();
  readonly #blockMessages = new Histogram({
    name: "delta_block_messages",
    help: "Messages per block this node proposed as leader",
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000],
    registers: [this.metricsRegistry],
  });
  readonly #commitSeconds = new Histogram({
    name: "delta_block_commit_seconds",
    help: "Time from proposing a block to its commit on a majority, as leader",
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.metricsRegistry],
  });
  readonly #forwardSeconds = new Histogram({
    name: "delta_forward_seconds",
    help: "Time from forwarding a message to the leader to its verdict, per message",
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.metricsRegistry],
  });
  /** Blocks proposed and not yet committed (or lost). */
  #blocksInFlight = 0;
  #applied = 0;
  #stopped = false;
  /** How long a write waits for its verdict before OUTCOME_UNKNOWN (config.answerBoundMs). */
  readonly #answerBoundMs: number;
  /** Answers (and GETs with ?minIndex=) waiting for this node to apply an index: read your writes. */
  readonly #appliedWaiters = new AppliedWaiters();
  /** Follower: admin seals forwarded to the leader, by request id, waiting for its answer. */
  readonly #sealsAsked = new Map<number, { readonly settle: (answer: Extract<SealMessage, { t: "sealv" }> | undefined) => void }>();
  #sealIds = 0;

  private constructor(config: Config, logger: ConsensusLogger) {
    this.#config = config;
    this.#log = logger;
    this.#answerBoundMs = config.answerBoundMs;
    this.#domain = { name: "DeltaBridge", version: "1", chainId: BigInt(config.chain.chainId), verifyingContract: checksumAddress(config.chain.bridge) as Address };
    this.#ledger = createLedger({ feeRecipient: config.feeRecipient as Address });
    const identity = loadIdentity(config.identitySeed);
    const self = config.members.find((m) => m.id === identity.id);
    if (self === undefined) throw new DeltaError("INVALID_CONFIG", "identitySeed's public key is not among the members");
    const validator = new Wallet(config.validatorPrivateKey.startsWith("0x") ? config.validatorPrivateKey : `0x${config.validatorPrivateKey}`);
    if (validator.address.toLowerCase() !== self.address.toLowerCase()) {
      throw new DeltaError("INVALID_CONFIG", "validatorPrivateKey does not match this node's member address");
    }
    this.#self = self;
    // Process figures beside the node's own: GC pauses by kind and event-loop delay among them,
    // which is where a latency tail shows first (the benchmark prints them per node).
    collectDefaultMetrics({ register: this.metricsRegistry, eventLoopMonitoringPrecision: 10 });
    this.#settler = new Settler(
      {
        ledger: this.#ledger,
        domain: this.#domain,
        config,
        log: logger,
        canPropose: () => this.#leading(),
        commit: (entry) => this.#commitEntries([entry]),
        sendApp: (id, data) => this.#replicated.sendApp(id, data),
      },
      self.id,
      validator,
    );
  }

  /** Appends `entries` as leader; true once committed in the term they were proposed in. */
  async #commitEntries(entries: readonly NodeEntry[]): Promise<boolean> {
    const outcome = await this.#replicated.propose(entries.map((e) => encodeEntry(e)));
    if (!outcome.accepted) return false;
    return this.#replicated.waitForCommit(outcome.lastIndex, outcome.term, this.#answerBoundMs).catch(() => false);
  }

  static async start(config: Config, logger: ConsensusLogger): Promise<NodeRuntime> {
    const node = new NodeRuntime(config, logger);
    node.#pool = await RecoveryPool.create({ threads: 1 });
    try {
      node.#replicated = await ReplicatedLog.open({
        identity: loadIdentity(config.identitySeed),
        mokkaPrivateKey: config.mokkaPrivateKey,
        members: config.members.map((m) => ({ id: m.id, host: m.host, port: m.port, mokkaPublicKey: m.mokkaPublicKey })),
        clusterId: config.clusterId,
        storePath: join(config.dataDir, "log.sqlite"),
        logger,
        onCommit: (entry) => node.#apply(entry.index, entry.data),
      });
    } catch (error) {
      await node.#pool.close();
      throw error;
    }
    node.#replicated.on("leader", (status: { leading: boolean; canPropose: boolean }) => node.#leadershipChanged(status.leading && status.canPropose));
    node.#replicated.on("app", (from: string, data: unknown) => node.#onAppMessage(from, data));
    node.#settler.start();
    node.#blockTimer = setInterval(() => node.#tick(), config.block.intervalMs);
    return node;
  }

  /**
   * Graceful stop: refuses new writes at once (NO_LEADER: clients retry on another node), lets the
   * messages already accepted finish (committed and answered) for up to `drainMs`, then answers
   * what is left with NO_LEADER and closes the log and storage.
   */
  async stop(options: { readonly drainMs?: number } = {}): Promise<void> {
    if (this.#stopped || this.#draining) return;
    this.#draining = true;
    const deadline = Date.now() + (options.drainMs ?? 5_000);
    while (Date.now() < deadline && (this.#pending.size > 0 || this.#mempool.size > 0 || this.#blocksInFlight > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.#stopped = true;
    if (this.#blockTimer !== undefined) clearInterval(this.#blockTimer);
    if (this.#forwardTimer !== undefined) clearTimeout(this.#forwardTimer);
    if (this.#verdictFlush !== undefined) clearImmediate(this.#verdictFlush);
    this.#settler.stop();
    await this.#watcher?.stop();
    this.#unrouted.clear();
    this.#pending.settleAll(errorItem("NO_LEADER", "the node is shutting down; retry on another node"));
    // Their answers are given (above); what is left are GETs waiting for ?minIndex=, which now fail.
    this.#appliedWaiters.drain();
    for (const asked of this.#sealsAsked.values()) asked.settle(undefined);
    await this.#replicated.stop();
    await this.#pool.close();
  }

  // ---- applying committed entries ----

  #apply(index: number, data: Uint8Array): void {
    this.#applied = index;
    this.#applyEntry(index, data);
    // After the entry is in the ledger: answers waiting for this index may now go out.
    this.#appliedWaiters.advance(index);
  }

  #applyEntry(index: number, data: Uint8Array): void {
    if (data.length === 0) return; // a leader's term-start marker
    const entry = decodeEntry(data);
    if (entry === undefined) {
      this.#log.error({ index }, "committed entry does not decode; skipped on every node alike");
      return;
    }
    if (entry.type === "signatures" || entry.type === "settlementPlan") {
      this.#settler.apply(entry);
      return;
    }
    if (entry.type === "depositCursor") {
      this.#sharedDepositCursor = Math.max(this.#sharedDepositCursor, entry.nextBlock);
      return;
    }
    const result = applyEntry(this.#ledger, entry);
    if (result.type === "block") {
      result.results.forEach((r, i) => {
        const pending = this.#pending.get(r.hash);
        if (pending !== undefined && !pending.relayed) this.#pending.settle(r.hash, this.#verdictFor(pending, committedView(r)));
        // A message refused with its nonce still unused (not a repeat of a used one): the
        // mempool must not count on that nonce being taken.
        const m = entry.type === "block" ? entry.messages[i] : undefined;
        if (m === undefined) return;
        if (r.status === "committed") this.#mempool.wake(m); // the account's held next nonce may be due now
        else if (m.nonce >= this.#ledgerNonce(signerOf(m))) this.#mempool.forgetNonce(m);
      });
    } else if (result.type === "deposit") {
      if (result.status === "credited") this.#log.info({ depositId: entry.type === "deposit" ? entry.depositId.toString() : "" }, "deposit credited");
    } else if (result.type === "seal") {
      this.#log.info({ epoch: result.epoch.toString(), status: result.status }, "epoch seal applied");
    } else if (result.type === "settled") {
      if ("status" in result && result.status === "settled") this.#log.info({ epoch: result.epoch.toString() }, "epoch settled");
      else this.#log.warn({ epoch: result.epoch.toString(), result }, "settled entry refused");
    }
  }

  /**
   * The answer for `entry` given a ledger verdict on its hash. A message sent more than once may
   * meet its own committed copy: refused as DUPLICATE or NONCE_REUSED while the ledger holds that
   * very hash committed, the client gets the committed view (it was applied once, here too).
   */
  #verdictFor(entry: PendingMessage, result: BatchItemResult): BatchItemResult {
    if (!entry.resent || !("error" in result) || !REFUSED_AS_REPEAT.has(result.error.code)) return result;
    const m = getMessage(this.#ledger, entry.message.hash);
    return m === undefined ? result : { hash: m.hash, status: "committed", index: m.index, epoch: m.epoch.toString() };
  }

  /**
   * The answer of a write not decided within the bound. Once it was handed to a leader it may
   * still commit (until its deadline): 504 OUTCOME_UNKNOWN with its hash, never a "retry", which
   * would make a client pay twice (PROTOCOL.md §2). One never handed to any leader cannot commit
   * (it is dropped with its entry here): NO_LEADER, retry.
   */
  #expiredAnswer(e: PendingMessage): BatchItemResult {
    const bound = `${this.#answerBoundMs / 1000} s`;
    if (!e.sent) return errorItem("NO_LEADER", `no leader took the message within ${bound}; it was not sent anywhere and will not commit; retry`);
    return {
      error: {
        code: "OUTCOME_UNKNOWN",
        message: `the message was not decided within ${bound}; it may still commit until its deadline: look it up by its hash (a resend answering 409 DUPLICATE means it committed)`,
      },
      hash: e.message.hash,
    };
  }

  /** Sends `entries` again later, to whoever leads then. */
  #requeue(entries: readonly PendingMessage[]): void {
    for (const e of entries) {
      if (!this.#pending.isPending(e)) continue;
      e.resent = true;
      e.relayed = false;
      this.#unrouted.add(e);
    }
  }

  #requeueMessages(messages: readonly LedgerMessage[]): void {
    const entries: PendingMessage[] = [];
    for (const m of messages) {
      this.#mempool.forgetNonce(m); // its block did not go through: its nonce is not used
      const e = this.#pending.get(m.hash);
      if (e !== undefined) entries.push(e);
    }
    this.#requeue(entries);
  }

  /** The block timer: route what waits for a leader, expire overdue clients, cut a block. */
  #tick(): void {
    if (this.#stopped) return;
    const now = Date.now();
    if (this.#unrouted.size > 0 && now >= this.#rerouteAtMs) {
      const entries = [...this.#unrouted].filter((e) => this.#pending.isPending(e));
      this.#unrouted.clear();
      this.#route(entries);
    }
    if (now >= this.#expiryAtMs) {
      this.#expiryAtMs = now + EXPIRY_CHECK_MS;
      const expired = this.#pending.expire(now, (e) => this.#expiredAnswer(e));
      if (expired > 0) this.#log.warn({ expired }, "pending messages expired unanswered");
    }
    // No leader known, or this node is named leader but cannot propose (Mokka never demotes a
    // leader that lost its majority: docs/consensus.md). A moment of either is an election.
    const s = this.#replicated.status();
    if (s.leader === null || (s.leader === this.#self.id && !s.canPropose)) this.#leaderlessSinceMs ??= now;
    else this.#leaderlessSinceMs = undefined;
    this.#checkForwards(now);
    void this.#cutBlock();
    this.#maybeSeal(now);
    this.#maybeShareCursor(now);
  }

  /** Leader: appends its deposit cursor to the log every CURSOR_SHARE_MS while it moves. */
  #maybeShareCursor(now: number): void {
    const w = this.#watcher;
    if (w === undefined || this.#sharingCursor || w.cursor <= this.#sharedDepositCursor || now - this.#cursorSharedAtMs < CURSOR_SHARE_MS) return;
    this.#sharingCursor = true;
    this.#cursorSharedAtMs = now;
    void this.#commitEntries([{ type: "depositCursor", nextBlock: w.cursor }])
      .catch(() => false)
      .finally(() => {
        this.#sharingCursor = false;
      });
  }

  /**
   * The leader seals the open epoch by age or size (config.epoch). The age counts from when this
   * node first saw the epoch hold a message; a new leader restarts the count, which can only delay
   * a seal. Sealing is a log entry, so every node seals at the same point.
   */
  #maybeSeal(now: number): void {
    if (this.#sealing || !this.#leading()) return;
    const heads = getEpochHeads(this.#ledger);
    // Every tick: the status query, not the summary, which would net the open epoch each time.
    const open = getEpochStatus(this.#ledger, heads.openEpoch);
    const messages = open === undefined ? 0 : open.transfers + open.withdrawals;
    if (messages === 0) return;
    if (this.#epochSeenAt.epoch !== heads.openEpoch) this.#epochSeenAt = { epoch: heads.openEpoch, atMs: now };
    const { intervalMs, maxMessages } = this.#config.epoch;
    const old = intervalMs > 0 && now - this.#epochSeenAt.atMs >= intervalMs;
    const full = maxMessages > 0 && messages >= maxMessages;
    if (!old && !full) return;
    this.#sealing = true;
    void this.seal()
      .then(({ epoch }) => {
        if (epoch !== null) this.#log.info({ epoch, messages, reason: full ? "size" : "age" }, "epoch sealed");
      })
      .catch((error: unknown) => this.#log.warn({ reason: error instanceof Error ? error.message : String(error) }, "automatic seal failed; retrying"))
      .finally(() => {
        this.#sealing = false;
      });
  }

  // ---- leader: blocks and deposits ----

  #leadershipChanged(leading: boolean): void {
    if (leading && this.#watcher === undefined && !this.#stopped) {
      this.#watcher = new DepositWatcher(
        this.#config.chain,
        this.#log,
        // The cursor may only pass these blocks once the credits are committed.
        (deposits) => this.#commitEntries(deposits),
        join(this.#config.dataDir, "deposit-cursor.json"),
        this.#sharedDepositCursor,
      );
      this.#watcher.start();
    } else if (!leading && this.#watcher !== undefined) {
      const w = this.#watcher;
      this.#watcher = undefined;
      void w.stop();
    }
    if (!leading) {
      // We will not order these: they go to the next leader, their clients keep waiting. (Also
      // forgets what the mempool knew of accounts' next nonces.)
      this.#requeueMessages(this.#mempool.takeAll());
    }
  }

  async #cutBlock(): Promise<void> {
    if (this.#cutting || this.#mempool.size === 0 || this.#stopped) return;
    // Group commit: while MAX_BLOCKS_IN_FLIGHT blocks wait for their commit, messages gather in
    // the mempool and go out together in the next one. Every block costs each node one fsync on
    // its event loop; cutting one every 5 ms under a trickle of single transfers made those syncs
    // the largest item of the profile and the main cause of latency.
    if (this.#blocksInFlight >= MAX_BLOCKS_IN_FLIGHT) return;
    this.#cutting = true;
    let messages: LedgerMessage[] = [];
    try {
      const nowMs = Date.now();
      const timestampSec = BigInt(Math.floor(nowMs / 1000));
      messages = this.#dropExpired(this.#mempool.take(this.#config.block.maxMessages, nowMs, this.#ledgerNonce), timestampSec);
      if (messages.length === 0) return; // all held back for earlier nonces (mempool.ts), or expired
      const entry: LedgerEntry = { type: "block", timestampSec, messages };
      const outcome = await this.#replicated.propose([encodeEntry(entry)]);
      if (!outcome.accepted) {
        this.#requeueMessages(messages);
        return;
      }
      // Verdicts arrive through #apply. A block lost to a leader change (another entry committed
      // at its index) or stuck past the bound: its messages go to the next leader.
      this.#blocksInFlight++;
      this.#blockMessages.observe(messages.length);
      const proposedAt = performance.now();
      void this.#replicated
        .waitForCommit(outcome.lastIndex, outcome.term, this.#answerBoundMs)
        .then(
          (ours) => {
            if (ours) this.#commitSeconds.observe((performance.now() - proposedAt) / 1000);
            else this.#requeueMessages(messages);
          },
          () => this.#requeueMessages(messages),
        )
        .finally(() => {
          this.#blocksInFlight--;
          void this.#cutBlock();
        });
    } catch (error) {
      // Not proposed (e.g. the log refused it): its messages stay ours and go to the next block.
      this.#log.error({ reason: error instanceof Error ? error.message : String(error) }, "cutting a block failed");
      this.#requeueMessages(messages);
    } finally {
      this.#cutting = false;
    }
  }

  /**
   * Leader: the messages whose deadline is before the block time are refused here, as the ledger
   * would refuse them (DEADLINE_EXPIRED), without taking log space: a message that waited out its
   * deadline (held for a nonce, or behind a long queue) never commits, and its client learns so.
   */
  #dropExpired(messages: LedgerMessage[], timestampSec: bigint): LedgerMessage[] {
    if (messages.every((m) => m.deadline >= timestampSec)) return messages; // the usual case: no copy
    const kept: LedgerMessage[] = [];
    for (const m of messages) {
      if (m.deadline >= timestampSec) {
        kept.push(m);
        continue;
      }
      this.#mempool.forgetNonce(m); // its nonce stays unused
      this.#pending.settle(m.hash, errorItem("DEADLINE_EXPIRED", `deadline ${m.deadline} is before the block time ${timestampSec}`));
    }
    return kept;
  }

  // ---- intake ----

  #leaderMember(): Member | undefined {
    const leader = this.#replicated.status().leader;
    return leader === null ? undefined : this.#config.members.find((m) => m.id === leader);
  }

  #leading(): boolean {
    return this.#replicated.status().canPropose;
  }

  /** Checks signatures in one batch (worker threads for large ones); `null` where a signature fails. */
  async #verify(items: readonly { readonly hash: Hash; readonly signature: `0x${string}`; readonly signer: string }[]): Promise<boolean[]> {
    const recovered = await this.#pool.recover(items.map((i) => ({ digest: i.hash, signature: i.signature })));
    return items.map((item, k) => recovered[k]?.toLowerCase() === item.signer.toLowerCase());
  }

  /**
   * Takes verified messages into the node's keeping and routes the new ones (a hash already
   * pending here is not routed again); resolves with each one's verdict.
   */
  #accept(messages: readonly LedgerMessage[], checkEarly = true): (BatchItemResult | Promise<BatchItemResult>)[] {
    const now = Date.now();
    const fresh: PendingMessage[] = [];
    const answers = messages.map((m) => {
      // A copy already pending here joins it unchecked: the first copy may already be in a block.
      const refusal = checkEarly && this.#pending.get(m.hash) === undefined ? this.#refusedEarly(m, now) : undefined;
      if (refusal !== undefined) return refusal;
      const added = this.#pending.add(m, now, this.#answerBoundMs);
      if (added.isNew) fresh.push(added.entry);
      return added.answer;
    });
    this.#route(fresh);
    return answers;
  }

  /**
   * The verdict on a message that can never commit, given what this node's ledger has applied:
   * its hash already committed (DUPLICATE, so a client retrying after a timeout learns it went
   * through), a nonce the account has used, a deadline clearly past. All three only become more
   * true as the ledger moves on, so refusing here agrees with what the ledger would decide later
   * (the code may differ: for a committed hash the ledger, checking the nonce first, says
   * NONCE_REUSED; both are 409),
   * and such a message costs no log space however often it is replayed. Checked by the node a
   * client sends it to (the leader does not check forwards again).
   */
  #refusedEarly(m: LedgerMessage, nowMs: number): BatchItemResult | undefined {
    const committed = getMessage(this.#ledger, m.hash);
    if (committed !== undefined) {
      return errorItem("DUPLICATE", `this message is already committed (index ${committed.index} of epoch ${committed.epoch})`);
    }
    const next = this.#ledgerNonce(signerOf(m));
    if (m.nonce < next) return errorItem("NONCE_REUSED", `nonce ${m.nonce} is used; the account's next nonce is ${next}`);
    // The leader's block time decides (PROTOCOL.md §1); refuse early only when it is clear even
    // with a few seconds of clock difference between this node and the leader.
    const nowSec = BigInt(Math.floor(nowMs / 1000));
    if (m.deadline + EARLY_DEADLINE_MARGIN_SEC < nowSec) return errorItem("DEADLINE_EXPIRED", `deadline ${m.deadline} is before now (${nowSec})`);
    return undefined;
  }

  /** Refuses a write at once when this node has known no leader for NO_LEADER_FAIL_FAST_MS. */
  #checkLeaderKnown(): void {
    const since = this.#leaderlessSinceMs;
    if (since !== undefined && Date.now() - since >= NO_LEADER_FAIL_FAST_MS) {
      throw new DeltaError("NO_LEADER", `no leader has been known for ${Math.round((Date.now() - since) / 1000)} s; retry later`);
    }
  }

  /** Leader: into the mempool. Follower: forwarded to the leader. No leader: kept for later. */
  #route(entries: readonly PendingMessage[]): void {
    if (entries.length === 0 || this.#stopped) return;
    if (this.#leading()) {
      const now = Date.now();
      for (const e of entries) {
        e.sent = true;
        this.#mempool.add(e.message, now);
      }
      if (this.#mempool.size >= this.#config.block.maxMessages) void this.#cutBlock();
      return;
    }
    const leader = this.#leaderMember();
    if (leader === undefined || leader.id === this.#self.id || Date.now() < this.#rerouteAtMs) {
      for (const e of entries) this.#unrouted.add(e);
      return;
    }
    for (const e of entries) this.#toForward.push(e);
    // Messages go out together: many writes arriving within FORWARD_COALESCE_MS make one forward.
    if (this.#toForward.length >= FORWARD_MAX_ITEMS) this.#flushForwards();
    else if (this.#forwardTimer === undefined) this.#forwardTimer = setTimeout(() => this.#flushForwards(), FORWARD_COALESCE_MS);
  }

  #flushForwards(): void {
    if (this.#forwardTimer !== undefined) clearTimeout(this.#forwardTimer);
    this.#forwardTimer = undefined;
    const entries = this.#toForward.filter((e) => this.#pending.isPending(e));
    this.#toForward = [];
    if (entries.length === 0) return;
    const leader = this.#leaderMember();
    if (leader === undefined || leader.id === this.#self.id) {
      this.#requeue(entries);
      return;
    }
    const now = Date.now();
    for (const e of entries) {
      e.sent = true;
      e.relayed = !e.resent;
      e.forwardedTo = leader.id;
      e.forwardedAtMs = now;
      // Re-inserted, so the set stays in forward order (#checkForwards reads the oldest first).
      this.#forwarded.delete(e);
      this.#forwarded.add(e);
    }
    for (let i = 0; i < entries.length; i += FORWARD_MAX_ITEMS) {
      this.#replicated.sendApp(leader.id, encodeForward(entries.slice(i, i + FORWARD_MAX_ITEMS).map((e) => e.message)));
    }
  }

  /**
   * Forwards with no verdict: all of them again when the leader changed, else the ones older than
   * FORWARD_RETRY_MS (a forward or its verdict lost with a connection, or a leader that hangs).
   */
  #checkForwards(now: number): void {
    if (this.#forwarded.size === 0) return;
    const leader = this.#replicated.status().leader;
    const changed = leader !== this.#forwardLeader;
    this.#forwardLeader = leader;
    const again: PendingMessage[] = [];
    for (const e of this.#forwarded) {
      if (!this.#pending.isPending(e)) {
        this.#forwarded.delete(e);
        continue;
      }
      if (e.forwardedTo !== leader || now - e.forwardedAtMs >= FORWARD_RETRY_MS) {
        this.#forwarded.delete(e);
        again.push(e);
      } else if (!changed) break; // the rest were forwarded later, to this same leader
    }
    if (again.length > 0) this.#requeue(again);
  }

  /** The consensus transport's application messages: forwards, verdicts, settlement. */
  #onAppMessage(from: string, data: unknown): void {
    if (this.#stopped) return;
    const t = typeof data === "object" && data !== null ? (data as { t?: unknown }).t : undefined;
    if (t === "fwd") this.#onForward(from, data);
    else if (t === "fwdv") this.#onVerdicts(from, data);
    else if (t === "seal" || t === "sealv") this.#onSealMessage(from, data);
    else this.#settler.onAppMessage(from, data);
  }

  /**
   * Leader: messages a member accepted and forwarded. They are taken as checked (docs/node.md,
   * "Forwarding": any member could as well lead and order what it likes) and kept like the
   * leader's own clients' messages; each verdict goes back to the member once decided.
   */
  #onForward(from: string, data: unknown): void {
    const messages = decodeForward(data);
    if (messages === undefined) {
      this.#log.warn({ from: from.slice(0, 16) }, "malformed forward dropped");
      return;
    }
    if (this.#draining || !this.#leading()) {
      // Not ours to order: the member routes them again (to whoever leads, after a short wait).
      for (const m of messages) this.#owe(from, { hash: m.hash, result: errorItem("NO_LEADER", NO_LEADER_MESSAGE), at: this.#applied });
      return;
    }
    // The member checked them against its own ledger when its client sent them (#refusedEarly);
    // checking again here cost the leader, the busiest node, about 3% of its time under load,
    // and what slips through (committed in the moment since) the ledger refuses anyway.
    this.#accept(messages, false).forEach((answer, k) => {
      const hash = messages[k]!.hash;
      // `at`: the member applies up to here before it answers (the block that decided is at or below).
      void Promise.resolve(answer).then((result) => this.#owe(from, { hash, result, at: this.#applied }));
    });
  }

  /** Leader: queues a verdict for the member that forwarded; all owed go out together. */
  #owe(member: string, verdict: Verdict): void {
    let list = this.#verdictsOwed.get(member);
    if (list === undefined) this.#verdictsOwed.set(member, (list = []));
    list.push(verdict);
    this.#verdictFlush ??= setImmediate(() => {
      this.#verdictFlush = undefined;
      for (const [to, verdicts] of this.#verdictsOwed) {
        for (let i = 0; i < verdicts.length; i += FORWARD_MAX_ITEMS) this.#replicated.sendApp(to, encodeVerdicts(verdicts.slice(i, i + FORWARD_MAX_ITEMS)));
      }
      this.#verdictsOwed.clear();
    });
  }

  /** Follower: the leader's verdicts on what we forwarded. */
  #onVerdicts(from: string, data: unknown): void {
    const verdicts = decodeVerdicts(data);
    if (verdicts === undefined) {
      this.#log.warn({ from: from.slice(0, 16) }, "malformed verdicts dropped");
      return;
    }
    const now = Date.now();
    for (const { hash, result, at } of verdicts) {
      const entry = this.#pending.get(hash);
      // Only the member we last forwarded it to speaks for it: an older leader's late verdict, or
      // any other member's, is ignored (our own ledger answers once the block reaches us).
      if (entry === undefined || entry.forwardedTo !== from) continue;
      this.#forwardSeconds.observe((now - entry.forwardedAtMs) / 1000);
      if (at <= this.#applied || ("error" in result && result.error.code === "NO_LEADER")) {
        this.#answerFromLeader(entry, result);
        continue;
      }
      // Read your writes (PROTOCOL.md §2): decided, but this node has not applied the block yet.
      // The answer waits for it; the message is no longer forwarded anywhere.
      this.#forwarded.delete(entry);
      entry.forwardedTo = undefined;
      this.#appliedWaiters.add(at, () => this.#answerFromLeader(entry, result));
    }
  }

  #forwardFailed(entries: readonly PendingMessage[]): void {
    this.#rerouteAtMs = Date.now() + REROUTE_BACKOFF_MS;
    this.#requeue(entries);
  }

  /** The leader's verdict on a message we forwarded (it answers after its block is applied). */
  #answerFromLeader(entry: PendingMessage, result: BatchItemResult): void {
    if (!this.#pending.isPending(entry)) return; // answered already (by our own #apply, or expired)
    if ("error" in result && result.error.code === "NO_LEADER") return this.#forwardFailed([entry]);
    const verdict = this.#verdictFor(entry, result);
    // Refused as a repeat of a copy our ledger has not applied yet: our own #apply will answer
    // (the leader answers after commit, so the block that decides is on its way here).
    if ("error" in verdict && entry.resent && REFUSED_AS_REPEAT.has(verdict.error.code)) return;
    this.#pending.settle(entry.message.hash, verdict);
  }

  async submitTransfers(transfers: readonly SignedTransfer[]): Promise<readonly BatchItemResult[]> {
    if (this.#stopped || this.#draining) throw new DeltaError("NO_LEADER", "the node is shutting down; retry on another node");
    this.#checkLeaderKnown();
    const hashes = transfers.map((t) => hashTransfer(this.#domain, t));
    const ok = await this.#verify(transfers.map((t, k) => ({ hash: hashes[k]!, signature: t.signature, signer: t.from })));
    const results: (BatchItemResult | Promise<BatchItemResult>)[] = transfers.map(() => errorItem("INVALID_SIGNATURE", "the signature is not the sender's"));
    const valid: number[] = [];
    for (let k = 0; k < transfers.length; k++) if (ok[k]) valid.push(k);
    if (valid.length > 0) {
      const answers = this.#accept(valid.map((k) => ({ kind: "transfer", hash: hashes[k]!, ...this.#messageFields(transfers[k]!) })));
      valid.forEach((k, j) => (results[k] = answers[j]!));
    }
    return Promise.all(results);
  }

  #messageFields(t: SignedTransfer): Omit<Extract<LedgerMessage, { kind: "transfer" }>, "kind" | "hash"> {
    return { from: t.from, to: t.to, token: t.token, amount: t.amount, fee: t.fee, nonce: t.nonce, deadline: t.deadline };
  }

  async submitWithdrawal(w: SignedWithdrawal): Promise<BatchItemResult> {
    if (this.#stopped || this.#draining) throw new DeltaError("NO_LEADER", "the node is shutting down; retry on another node");
    this.#checkLeaderKnown();
    const hash = hashWithdrawal(this.#domain, w);
    const [ok] = await this.#verify([{ hash, signature: w.signature, signer: w.account }]);
    if (ok !== true) return errorItem("INVALID_SIGNATURE", "the signature is not the account's");
    const message: LedgerMessage = { kind: "withdrawal", hash, account: w.account, token: w.token, amount: w.amount, nonce: w.nonce, deadline: w.deadline };
    const [answer] = this.#accept([message]);
    return await answer!;
  }

  async seal(): Promise<{ readonly epoch: string | null }> {
    if (this.#stopped || this.#draining) throw new DeltaError("NO_LEADER", "the node is shutting down; retry on another node");
    if (!this.#leading()) return this.#forwardSeal();
    return this.#sealAsLeader();
  }

  /**
   * Follower: asks the leader to seal over the authenticated transport (the caller's admin token
   * was checked here and never leaves the node), then answers once it has applied the leader's
   * index itself, so its next read shows the epoch sealed.
   */
  async #forwardSeal(): Promise<{ readonly epoch: string | null }> {
    const leader = this.#leaderMember();
    if (leader === undefined || leader.id === this.#self.id) throw new DeltaError("NO_LEADER", NO_LEADER_MESSAGE);
    const id = this.#sealIds++;
    const answer = await new Promise<Extract<SealMessage, { t: "sealv" }> | undefined>((resolve) => {
      const timer = setTimeout(() => settle(undefined), this.#answerBoundMs);
      const settle = (a: Extract<SealMessage, { t: "sealv" }> | undefined): void => {
        clearTimeout(timer);
        this.#sealsAsked.delete(id);
        resolve(a);
      };
      this.#sealsAsked.set(id, { settle });
      this.#replicated.sendApp(leader.id, { t: "seal", id } satisfies SealMessage);
    });
    if (answer === undefined) throw new DeltaError("NO_LEADER", "the leader did not answer the seal; retry");
    if ("code" in answer) throw new DeltaError(answer.code, answer.message);
    if (!(await this.waitForApplied(answer.at, this.#answerBoundMs))) {
      throw new DeltaError("NO_LEADER", `the leader sealed, but this node has not applied index ${answer.at} yet; read with ?minIndex=${answer.at}`);
    }
    return { epoch: answer.epoch };
  }

  /** Seal requests from members (to the leader) and their answers (to the member). */
  #onSealMessage(from: string, data: unknown): void {
    const m = decodeSealMessage(data);
    if (m === undefined) {
      this.#log.warn({ from: from.slice(0, 16) }, "malformed seal message dropped");
      return;
    }
    if (m.t === "sealv") {
      this.#sealsAsked.get(m.id)?.settle(m);
      return;
    }
    const reply = (answer: Extract<SealMessage, { t: "sealv" }>): void => this.#replicated.sendApp(from, answer);
    if (this.#draining || !this.#leading()) {
      reply({ t: "sealv", id: m.id, code: "NO_LEADER", message: NO_LEADER_MESSAGE });
      return;
    }
    this.#log.info({ from: from.slice(0, 16) }, "seal requested by a member");
    this.#sealAsLeader().then(
      ({ epoch }) => reply({ t: "sealv", id: m.id, epoch, at: this.#applied }),
      (error: unknown) => {
        const code = error instanceof DeltaError && (error.code === "NO_LEADER" || error.code === "WRONG_STATE") ? error.code : "INTERNAL";
        if (code === "INTERNAL") this.#log.error({ err: error }, "seal for a member failed");
        reply({ t: "sealv", id: m.id, code, message: code === "INTERNAL" ? "the leader failed to seal" : (error as DeltaError).message });
      },
    );
  }

  /** Leader: seals the open epoch through the log; answers once the seal is applied here. */
  async #sealAsLeader(): Promise<{ readonly epoch: string | null }> {
    const heads = getEpochHeads(this.#ledger);
    const open = getEpochStatus(this.#ledger, heads.openEpoch);
    if (open === undefined || open.transfers + open.withdrawals === 0) return { epoch: null };
    const outcome = await this.#replicated.propose([encodeEntry({ type: "seal", epoch: heads.openEpoch })]);
    if (!outcome.accepted) throw new DeltaError("NO_LEADER", NO_LEADER_MESSAGE);
    // Resolves after the entry is applied here (the log applies, then wakes its waiters).
    const ours = await this.#replicated.waitForCommit(outcome.lastIndex, outcome.term, this.#answerBoundMs);
    if (!ours) throw new DeltaError("NO_LEADER", "the seal was lost to a leader change; retry");
    return { epoch: heads.openEpoch.toString() };
  }

  // ---- reads ----

  domain(): DomainView {
    return {
      name: "DeltaBridge",
      version: "1",
      chainId: this.#domain.chainId.toString(),
      verifyingContract: this.#domain.verifyingContract,
      feeRecipient: checksumAddress(this.#config.feeRecipient),
    };
  }

  status(): StatusView {
    const s = this.#replicated.status();
    const heads = getEpochHeads(this.#ledger);
    const leader = s.leader === null ? undefined : this.#config.members.find((m) => m.id === s.leader);
    return {
      address: checksumAddress(this.#self.address),
      role: s.role,
      term: s.term,
      leader: leader === undefined ? null : checksumAddress(leader.address),
      commitIndex: s.commitIndex,
      appliedIndex: this.#applied,
      epoch: heads.openEpoch.toString(),
      lastSettledEpoch: heads.lastSettledEpoch.toString(),
      peers: this.#config.members.filter((m) => m.id !== this.#self.id).map((m) => ({ address: checksumAddress(m.address), rest: m.rest })),
    };
  }

  account(address: string): AccountView {
    const a = getAccount(this.#ledger, address);
    const balances: Record<string, string> = {};
    for (const b of a.balances) balances[checksumAddress(b.token)] = b.amount.toString();
    return { address: checksumAddress(a.address), nonce: a.nonce.toString(), balances };
  }

  transfer(hash: string): TransferView | undefined {
    const m = getMessage(this.#ledger, hash);
    if (m !== undefined) return m.message.kind === "transfer" ? transferView(m.message, m.status, m.index, m.epoch.toString()) : undefined;
    // Not applied here: a transfer this node accepted and holds until its verdict is pending.
    const t = this.#pending.get(hash.toLowerCase())?.message;
    return t?.kind === "transfer" ? transferView(t, "pending", null, null) : undefined;
  }

  epoch(epoch?: bigint): EpochView | undefined {
    const n = epoch ?? getEpochHeads(this.#ledger).openEpoch;
    const e = getEpochSummary(this.#ledger, n);
    if (e === undefined) return undefined;
    return {
      epoch: e.epoch.toString(),
      status: e.status,
      transfers: e.transfers,
      root: e.root,
      deltas: e.deltas.map((d) => ({ account: checksumAddress(d.account), token: checksumAddress(d.token), delta: d.amount.toString() })),
      payouts: e.payouts.map((p) => ({ account: checksumAddress(p.account), token: checksumAddress(p.token), amount: p.amount.toString() })),
      settlementTxs: [...e.settlementTxs],
    };
  }

  settlement(epoch: bigint): SettlementView {
    const summary = getEpochStatus(this.#ledger, epoch);
    if (summary === undefined) throw new DeltaError("NOT_FOUND", `epoch ${epoch} does not exist yet`);
    if (summary.status === "open") throw new DeltaError("EPOCH_OPEN", `epoch ${epoch} is still open; it has no settlement until it is sealed`);
    const signed = this.#settler.signed(epoch);
    if (signed === undefined) throw new DeltaError("WRONG_STATE", `epoch ${epoch} is sealed; its validators' signatures are still being gathered, retry shortly`);
    return {
      epoch: epoch.toString(),
      chunks: signed.settlements.map((s, k) => ({
        settlement: {
          epoch: s.epoch.toString(),
          chunk: s.chunk,
          chunks: s.chunks,
          transfersRoot: s.transfersRoot,
          deltas: s.deltas.map((d) => ({ account: checksumAddress(d.account), token: checksumAddress(d.token), amount: d.amount.toString() })),
          payouts: s.payouts.map((p) => ({ account: checksumAddress(p.account), token: checksumAddress(p.token), amount: p.amount.toString() })),
        },
        signatures: [...signed.signatures[k]!],
      })),
    };
  }

  epochTokens(epoch: bigint): EpochTokensView | undefined {
    const counts = getEpochTokenCounts(this.#ledger, epoch);
    if (counts === undefined) return undefined;
    return { epoch: epoch.toString(), tokens: counts.map((c) => ({ token: checksumAddress(c.token), transfers: c.transfers, withdrawals: c.withdrawals })) };
  }

  transferProof(hash: string): ProofView {
    const p = getMessageProof(this.#ledger, hash);
    return { hash: p.hash, epoch: p.epoch.toString(), leaf: p.leaf, root: p.root, proof: [...p.proof] };
  }

  stateView(): StateView {
    return { stateHash: stateHash(this.#ledger), appliedIndex: this.#applied, depositCursor: this.#sharedDepositCursor };
  }

  appliedIndex(): number {
    return this.#applied;
  }

  waitForApplied(index: number, timeoutMs: number): Promise<boolean> {
    if (index <= this.#applied) return Promise.resolve(true);
    if (this.#stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const cancel = this.#appliedWaiters.add(index, () => {
        clearTimeout(timer);
        resolve(index <= this.#applied);
      });
      const timer = setTimeout(() => {
        cancel();
        resolve(false);
      }, timeoutMs);
    });
  }

  metrics(): NodeMetrics {
    const s = this.#replicated.status();
    return { role: s.role, term: s.term, commitIndex: s.commitIndex, appliedIndex: this.#applied, mempoolSize: this.#mempool.size };
  }
}
