// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * One node, composed of its parts (docs/node.md, "The node's parts"): the replicated log feeding
 * the applier (applier.ts), the router that keeps every accepted write until it is decided and
 * answers its clients (router.ts, pure), the leader's mempool and block producer
 * (blockProducer.ts), the settler, the deposit watcher, and intake with batched native signature
 * checks. Views of the ledger come from views.ts. It implements the REST API's NodeService and
 * does the I/O the parts ask for.
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
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type {
  AccountView,
  BatchItemResult,
  DomainView,
  EpochView,
  EpochTokensView,
  FeesView,
  NodeMetrics,
  NodeService,
  ProofView,
  SettlementView,
  StateView,
  StatusView,
  TransferView,
} from "../api/index.ts";
import { DepositWatcher, type DepositLedger } from "../chain/index.ts";
import { loadIdentity, ReplicatedLog, type ConsensusLogger } from "../consensus/index.ts";
import { DeltaError, type ErrorCode } from "../errors.ts";
import { RefusalMemory, Reservations, signatureKey } from "./admission.ts";
import { AppliedWaiters } from "./appliedWaiters.ts";
import {
  createLedger,
  feeRefusal,
  type FeeCheckedTransfer,
  getEpochHeads,
  getAvailableBalance,
  getDeposit,
  getDepositConflicts,
  getFirstUndecidedDeposit,
  isFeePolicy,
  getEpochStatus,
  getMessage,
  getNextNonce,
  isKnownAccount,
  stateHash,
  type LedgerMessage,
  type LedgerState,
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
import { configuredFees, type Config, type Member } from "./config.ts";
import { applyCommitted } from "./applier.ts";
import { BlockProducer } from "./blockProducer.ts";
import { encodeEntry, type NodeEntry } from "./entryCodec.ts";
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
import { NO_LEADER_MESSAGE, Router, type LeaderView, type RouterAction } from "./router.ts";
import { Settler } from "./settler.ts";
import { accountView, committedViewOf, epochTokensView, epochView, feesView, ledgerTransferView, proofView, settlementView, transferView } from "./views.ts";

/**
 * A write that arrives after this node has known no leader for this long is refused at once with
 * NO_LEADER (503, retry later), before anything is accepted: a client should not wait
 * ANSWER_BOUND_MS for a cluster that has lost its majority. Above an election's usual length
 * (about 1-2 s here), so an ordinary leader change still keeps clients waiting, not failing.
 */
const NO_LEADER_FAIL_FAST_MS = 3_000;
/** Seconds past its deadline before intake refuses a message itself (else the leader's block time decides). */
const EARLY_DEADLINE_MARGIN_SEC = 5n;

function errorItem(code: ErrorCode, message: string): BatchItemResult {
  return { error: { code, message } };
}

/** A follower gathers messages to forward for this long, then sends them as one forward. */
const FORWARD_COALESCE_MS = 2;

/** How often the leader sweeps its mempool for messages past their deadline. */
const EXPIRY_SWEEP_MS = 1_000;
/**
 * A follower whose balance check refuses a message first waits this long at most to apply what
 * the cluster has committed (a deposit or transfer it has not applied yet may pay for it).
 */
const ADMISSION_CATCH_UP_MS = 1_000;
/**
 * Intake's loops over a batch (hashing, admission checks) give the event loop back once a slice
 * has run this long, so no request holds it, and the consensus sharing it, for long (issue 15:
 * at most 50 ms at 10,000 items).
 */
const SLICE_MS = 4;
/** Messages taken into the node's keeping (#accept: reservations, the router, the mempool) at a time. */
const ACCEPT_SLICE = 500;

function tooFarAheadMessage(nonce: bigint, next: bigint, maxAhead: number): string {
  return `nonce ${nonce} is too far ahead: the account's next nonce is ${next}, and at most ${maxAhead} may wait`;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs `fn(k)` for k from 0 to n - 1, yielding to the event loop whenever a slice ran SLICE_MS. */
async function sliced(n: number, fn: (k: number) => void): Promise<void> {
  let sliceStart = performance.now();
  for (let k = 0; k < n; k++) {
    fn(k);
    if ((k & 31) === 31 && performance.now() - sliceStart >= SLICE_MS) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
}

/** How often the leader shares its deposit cursor through the log (when it moved). */
const CURSOR_SHARE_MS = 5_000;
/** A leader whose fee policy entry did not take waits this long before appending it again. */
const FEE_POLICY_RETRY_MS = 1_000;

/** The running node. `start()` builds it; `stop()` ends everything it began. */
export class NodeRuntime implements NodeService {
  readonly #config: Config;
  readonly #log: ConsensusLogger;
  readonly #domain: BridgeDomain;
  readonly #ledger: LedgerState;
  readonly #mempool: Mempool;
  /** The ledger's next nonce of an account, for the mempool's gap check. */
  readonly #ledgerNonce = (signer: string): bigint => getNextNonce(this.#ledger, signer);
  /** Admission (admission.ts): each account's debits in flight here, per token. */
  readonly #reservations = new Reservations();
  /** The ledger's available balance, for admission. */
  readonly #available = (account: string, token: string): bigint => getAvailableBalance(this.#ledger, account, token);
  /** Signature refusals, so a replayed body costs a lookup, not a recovery. */
  readonly #refusals = new RefusalMemory();
  #expiredSeen = 0;
  #expirySweepAtMs = 0;
  readonly #self: Member;
  readonly #settler: Settler;
  #replicated!: ReplicatedLog;
  #pool!: RecoveryPool;
  #watcher: DepositWatcher | undefined;
  #blockTimer: NodeJS.Timeout | undefined;
  #forwardTimer: NodeJS.Timeout | undefined;
  #verdictFlush: NodeJS.Immediate | undefined;
  readonly #router: Router;
  #producer!: BlockProducer;
  /** An automatic seal is in flight. */
  #sealing = false;
  /** The deposit cursor the log agreed on (depositCursor entries); a new leader's watcher starts there. */
  #sharedDepositCursor = 0;
  #cursorSharedAtMs = 0;
  #sharingCursor = false;
  /** The config's fee policy (null: none), which the leader keeps the ledger's equal to (docs/node.md "Fees"). */
  readonly #configuredFees: ReturnType<typeof configuredFees>;
  /** Leader: a feePolicy entry is in flight, or was last appended at this time (ms). */
  #feePolicyProposal = { inFlight: false, atMs: 0 };
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
  readonly #admissionRefusals = new Counter({
    name: "delta_admission_refusals_total",
    help: "Writes refused at once by admission control, before the log, by code and stage (remembered: a signature refusal given again from memory)",
    labelNames: ["code", "stage"] as const,
    registers: [this.metricsRegistry],
  });
  readonly #mempoolEvicted = new Counter({
    name: "delta_mempool_evicted_total",
    help: "Messages the leader's full mempool pushed out for higher fees, or dropped past their deadline",
    labelNames: ["reason"] as const,
    registers: [this.metricsRegistry],
  });
  /** Deposit watcher (docs/operations.md "Deposits and finality"): rescans, and the conflicts the ledger holds (every node). */
  readonly #depositRescans = new Counter({
    name: "delta_deposit_rescans_total",
    help: "Deposit scans this node's watcher went back on: gap (the bridge's nextDepositId counts deposits the scan missed) or reorg (a scanned block changed)",
    labelNames: ["reason"] as const,
    registers: [this.metricsRegistry],
  });
  readonly #depositLedger: DepositLedger = {
    decided: (id) => getDeposit(this.#ledger, id),
    firstUndecided: () => getFirstUndecidedDeposit(this.#ledger),
    conflicts: () => getDepositConflicts(this.#ledger),
  };
  #applied = 0;
  #stopped = false;
  /** How long a write waits for its verdict before OUTCOME_UNKNOWN (config.answerBoundMs). */
  readonly #answerBoundMs: number;
  /** GETs with ?minIndex= and forwarded seals waiting for this node to apply an index. */
  readonly #appliedWaiters = new AppliedWaiters();
  /** Follower: admin seals forwarded to the leader, by request id, waiting for its answer. */
  readonly #sealsAsked = new Map<number, { readonly leader: string; readonly settle: (answer: Extract<SealMessage, { t: "sealv" }> | undefined) => void }>();
  /** Leader: the seal being proposed; concurrent requests (admin, members, the age trigger) share it. */
  #sealInFlight: Promise<{ readonly epoch: string | null }> | undefined;
  /** Random start: a late answer to an earlier process's request (same member id) matches nothing here. */
  #sealIds = Math.floor(Math.random() * 2 ** 40);

  private constructor(config: Config, logger: ConsensusLogger) {
    this.#config = config;
    this.#log = logger;
    this.#answerBoundMs = config.answerBoundMs;
    this.#configuredFees = configuredFees(config);
    this.#domain = { name: "DeltaBridge", version: "1", chainId: BigInt(config.chain.chainId), verifyingContract: checksumAddress(config.chain.bridge) as Address };
    this.#ledger = createLedger({ feeRecipient: config.feeRecipient as Address });
    this.#mempool = new Mempool(config.mempool);
    const identity = loadIdentity(config.identitySeed);
    const self = config.members.find((m) => m.id === identity.id);
    if (self === undefined) throw new DeltaError("INVALID_CONFIG", "identitySeed's public key is not among the members");
    const validator = new Wallet(config.validatorPrivateKey.startsWith("0x") ? config.validatorPrivateKey : `0x${config.validatorPrivateKey}`);
    if (validator.address.toLowerCase() !== self.address.toLowerCase()) {
      throw new DeltaError("INVALID_CONFIG", "validatorPrivateKey does not match this node's member address");
    }
    this.#self = self;
    this.#router = new Router({
      self: self.id,
      answerBoundMs: config.answerBoundMs,
      committed: (hash) => committedViewOf(this.#ledger, hash),
      onForwardVerdict: (ms) => this.#forwardSeconds.observe(ms / 1000),
    });
    // Process figures beside the node's own: GC pauses by kind and event-loop delay among them,
    // which is where a latency tail shows first (the benchmark prints them per node).
    collectDefaultMetrics({ register: this.metricsRegistry, eventLoopMonitoringPrecision: 10 });
    const ledger = this.#ledger;
    new Gauge({
      name: "delta_deposit_conflicts",
      help: "Deposit ids the ledger saw again with other contents than it credited them with (never credited); above 0, deposits halt",
      registers: [this.metricsRegistry],
      collect() {
        this.set(getDepositConflicts(ledger).length);
      },
    });
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
        extraAllowedAddresses: config.transport.extraAllowedAddresses,
        logger,
        onCommit: (entry) => node.#apply(entry.index, entry.data),
      });
    } catch (error) {
      await node.#pool.close();
      throw error;
    }
    node.#producer = new BlockProducer({
      mempool: node.#mempool,
      log: node.#replicated,
      ledgerNonce: node.#ledgerNonce,
      logger,
      maxMessages: config.block.maxMessages,
      answerBoundMs: config.answerBoundMs,
      onLost: (messages) => node.#router.lost(messages),
      // No block until the ledger applies this node's fee policy (#tick appends it when it differs).
      mayCut: () => isFeePolicy(node.#ledger, node.#configuredFees),
      onExpired: (m, timestampSec) => node.#router.settle(m.hash, errorItem("DEADLINE_EXPIRED", `deadline ${m.deadline} is before the block time ${timestampSec}`)),
      blockMessages: node.#blockMessages,
      commitSeconds: node.#commitSeconds,
    });
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
    while (Date.now() < deadline && (this.#router.pending.size > 0 || this.#mempool.size > 0 || this.#producer.inFlight > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.#stopped = true;
    if (this.#blockTimer !== undefined) clearInterval(this.#blockTimer);
    if (this.#forwardTimer !== undefined) clearTimeout(this.#forwardTimer);
    if (this.#verdictFlush !== undefined) clearImmediate(this.#verdictFlush);
    this.#producer.stop();
    this.#settler.stop();
    await this.#watcher?.stop();
    this.#router.stop();
    // Their answers are given (above); what is left are GETs waiting for ?minIndex=, which now fail.
    this.#appliedWaiters.drain();
    for (const asked of this.#sealsAsked.values()) asked.settle(undefined);
    await this.#replicated.stop();
    await this.#pool.close();
  }

  // ---- applying committed entries ----

  #apply(index: number, data: Uint8Array): void {
    this.#applied = index;
    const results = applyCommitted(
      {
        ledger: this.#ledger,
        mempool: this.#mempool,
        ledgerNonce: this.#ledgerNonce,
        logger: this.#log,
        settlement: (entry) => this.#settler.apply(entry),
        depositCursor: (nextBlock) => (this.#sharedDepositCursor = Math.max(this.#sharedDepositCursor, nextBlock)),
      },
      index,
      data,
    );
    // The ledger's balances now include these messages: their reservations end with the apply.
    for (const r of results) this.#reservations.release(r.hash);
    // After the entry is in the ledger: its clients, and answers parked for this index, go out.
    this.#router.applied(index, results);
    this.#appliedWaiters.advance(index);
  }

  /** What the router knows of the leader now. */
  #leaderView(): LeaderView {
    const s = this.#replicated.status();
    return { leader: s.leader, leading: s.canPropose };
  }

  /** Does what the router asks: mempool, forwards, verdicts to members. */
  #run(actions: readonly RouterAction[]): void {
    for (const a of actions) {
      if (a.type === "mempool") {
        const now = Date.now();
        for (const m of a.messages) this.#admitToMempool(m, now);
        if (this.#mempool.size >= this.#config.block.maxMessages) void this.#producer.cut();
      } else if (a.type === "forward") this.#replicated.sendApp(a.to, encodeForward(a.messages));
      else this.#replicated.sendApp(a.to, encodeVerdicts(a.verdicts));
    }
    // Messages to forward go out together: many writes within FORWARD_COALESCE_MS make one forward.
    const queued = this.#router.queuedForForward;
    if (queued >= FORWARD_MAX_ITEMS) this.#flushForwards();
    else if (queued > 0 && this.#forwardTimer === undefined) this.#forwardTimer = setTimeout(() => this.#flushForwards(), FORWARD_COALESCE_MS);
  }

  /** Leader: `m` into the mempool within its limits; what does not fit is answered at once. */
  #admitToMempool(m: LedgerMessage, nowMs: number): void {
    const r = this.#mempool.admit(m, nowMs, this.#ledgerNonce);
    if (r.status === "added") {
      for (const e of r.evicted) {
        this.#mempoolEvicted.inc({ reason: "fee" });
        this.#router.settle(e.hash, errorItem("MEMPOOL_FULL", "the leader's mempool is full and this message was pushed out by higher fees; send it again later, or with a higher fee"));
      }
    } else if (r.status === "full") {
      this.#admissionRefusals.inc({ code: "MEMPOOL_FULL", stage: "mempool" });
      this.#router.settle(m.hash, errorItem("MEMPOOL_FULL", "the leader's mempool is full of messages paying at least this fee; send it again later, or with a higher fee"));
    } else if (r.status === "tooFarAhead") {
      this.#admissionRefusals.inc({ code: "NONCE_GAP", stage: "mempool" });
      this.#router.settle(m.hash, errorItem("NONCE_GAP", tooFarAheadMessage(m.nonce, r.next, this.#config.mempool.maxNonceAhead)));
    }
  }

  #flushForwards(): void {
    if (this.#forwardTimer !== undefined) clearTimeout(this.#forwardTimer);
    this.#forwardTimer = undefined;
    if (!this.#stopped) this.#run(this.#router.flush(Date.now(), this.#leaderView()));
  }

  /** The block timer: the router's look (route, expire, re-forward), cut a block, seal, share the cursor. */
  #tick(): void {
    if (this.#stopped) return;
    const now = Date.now();
    this.#run(this.#router.tick(now, this.#leaderView()));
    const expired = this.#router.pending.expiredTotal;
    if (expired > this.#expiredSeen) {
      this.#log.warn({ expired: expired - this.#expiredSeen }, "pending messages not decided within the bound");
      this.#expiredSeen = expired;
    }
    this.#dropExpired(now);
    this.#maybeProposeFeePolicy(now);
    void this.#producer.cut();
    this.#maybeSeal(now);
    this.#maybeShareCursor(now);
  }

  /**
   * Leader: appends the config's fee policy when the ledger's differs (a new cluster, a leader with
   * another config, an operator's change), one entry at a time. Blocks wait for it (mayCut), so
   * every message this leader orders is judged by the policy its config names.
   */
  #maybeProposeFeePolicy(nowMs: number): void {
    const p = this.#feePolicyProposal;
    if (p.inFlight || nowMs - p.atMs < FEE_POLICY_RETRY_MS || isFeePolicy(this.#ledger, this.#configuredFees) || !this.#leading()) return;
    p.inFlight = true;
    p.atMs = nowMs;
    const tokens = this.#configuredFees;
    // Members should carry the same fees: a leader replacing a policy the cluster already applied
    // says so loudly (a member started without `fees` would turn them off for everyone).
    if (this.#ledger.feePolicy !== null) {
      this.#log.error({ ledgerTokens: this.#ledger.feePolicy.size, configTokens: tokens === null ? null : tokens.length }, "this leader's config names another fee policy than the cluster applied; replacing it (every member should carry the same fees)");
    }
    void this.#commitEntries([{ type: "feePolicy", tokens }])
      .catch(() => false)
      .then((committed) => {
        if (committed && isFeePolicy(this.#ledger, tokens)) this.#log.info({ tokens: tokens === null ? null : tokens.length }, "fee policy applied");
        else this.#log.warn({ committed }, "fee policy entry did not take; appending it again");
      })
      .finally(() => {
        p.inFlight = false;
      });
  }

  /** Leader, once a second: messages waiting past their deadline leave the mempool, answered. */
  #dropExpired(nowMs: number): void {
    if (nowMs - this.#expirySweepAtMs < EXPIRY_SWEEP_MS || this.#mempool.size === 0) return;
    this.#expirySweepAtMs = nowMs;
    const nowSec = BigInt(Math.floor(nowMs / 1000));
    for (const m of this.#mempool.dropExpired(nowSec, this.#ledgerNonce)) {
      this.#mempoolEvicted.inc({ reason: "deadline" });
      this.#router.settle(m.hash, errorItem("DEADLINE_EXPIRED", `deadline ${m.deadline} passed (${nowSec}) while the message waited in the leader's mempool`));
    }
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
        this.#depositLedger,
        { rescan: (reason) => this.#depositRescans.inc({ reason }) },
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
      this.#router.lost(this.#mempool.takeAll());
    }
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
   * Takes verified messages into the node's keeping (the router), reserving what each costs its
   * account (admission); resolves with each one's verdict. The early refusals ran before the
   * signature check (#precheck) for a client's messages, and on the member for a leader's
   * forwards; what changed since, the ledger refuses.
   */
  #accept(messages: readonly LedgerMessage[], stage: "intake" | "forward"): (BatchItemResult | Promise<BatchItemResult>)[] {
    const now = Date.now();
    const answers: (BatchItemResult | Promise<BatchItemResult>)[] = [];
    const taken: LedgerMessage[] = [];
    const at: number[] = [];
    const fresh = new Set<string>();
    messages.forEach((m, k) => {
      // A copy already pending here joins it unchecked: the first copy may already be in a block.
      const isNew = this.#router.pending.get(m.hash) === undefined;
      let refusal: BatchItemResult | undefined;
      // Admission: the account's balance here less what it has in flight here must pay for it.
      if (isNew && !this.#reservations.has(m.hash)) {
        if (this.#reservations.reserve(m, this.#available)) fresh.add(m.hash);
        else refusal = this.#insufficient(m, stage);
      }
      if (refusal !== undefined) answers[k] = refusal;
      else {
        taken.push(m);
        at.push(k);
      }
    });
    if (taken.length > 0) {
      const { answers: routed, actions } = this.#router.accept(taken, now, this.#leaderView());
      routed.forEach((a, j) => {
        const m = taken[j]!;
        // The reservation ends with the answer, if the apply has not ended it before.
        if (fresh.has(m.hash)) {
          const release = (): void => this.#reservations.release(m.hash);
          a.then(release, release);
        }
        answers[at[j]!] = a;
      });
      this.#run(actions);
    }
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

  /** INSUFFICIENT_BALANCE for `m`, counted by stage, with what the account can still spend here. */
  #insufficient(m: LedgerMessage, stage: string): BatchItemResult {
    this.#admissionRefusals.inc({ code: "INSUFFICIENT_BALANCE", stage });
    const headroom = this.#reservations.headroom(m, this.#available);
    const need = m.kind === "transfer" ? "amount + fee" : "amount";
    return errorItem("INSUFFICIENT_BALANCE", `the available balance less the account's messages in flight, ${headroom < 0n ? 0n : headroom}, cannot pay ${need}`);
  }

  /**
   * The verdict on a message from an account the ledger has no record of, with no hash or
   * signature needed: such an account holds nothing and never had a message committed, so it has
   * no copy committed or reserved here, and the checks that need the hash (#precheck) find
   * nothing. What is left, in #precheck's order: a deadline clearly past, the fee policy, a nonce
   * too far ahead, and the balance, which is 0. The same verdict as the whole path, for a small
   * part of its cost: a flood of messages signed by fresh keys costs no hashing (issue 15).
   */
  #unknownSenderVerdict(m: Omit<Extract<LedgerMessage, { kind: "transfer" }>, "kind" | "hash"> | Omit<Extract<LedgerMessage, { kind: "withdrawal" }>, "kind" | "hash">, nowSec: bigint): { readonly code: ErrorCode; readonly message: string } | undefined {
    const signer = "from" in m ? m.from : m.account;
    if (isKnownAccount(this.#ledger, signer)) return undefined;
    if (m.deadline + EARLY_DEADLINE_MARGIN_SEC < nowSec) return { code: "DEADLINE_EXPIRED", message: `deadline ${m.deadline} is before now (${nowSec})` };
    const refused = this.#policyRefusal("from" in m ? m : undefined, m.nonce, 0n);
    if (refused !== undefined) return refused;
    return { code: "INSUFFICIENT_BALANCE", message: `the account holds nothing here: it cannot pay ${"from" in m ? "amount + fee" : "amount"}` };
  }

  /**
   * The refusals that need neither the hash nor the balance, in #precheck's order: the fee policy
   * as this node's ledger has applied it (the ledger checks again when it applies), then a nonce
   * more than mempool.maxNonceAhead past the account's next one (`next`).
   */
  #policyRefusal(transfer: FeeCheckedTransfer | undefined, nonce: bigint, next: bigint): { readonly code: ErrorCode; readonly message: string } | undefined {
    const fee = transfer === undefined ? null : feeRefusal(this.#ledger, transfer);
    if (fee !== null) return { code: fee.code, message: fee.reason };
    const maxAhead = this.#config.mempool.maxNonceAhead;
    return nonce - next >= BigInt(maxAhead) ? { code: "NONCE_GAP", message: tooFarAheadMessage(nonce, next, maxAhead) } : undefined;
  }

  /**
   * The checks that cost no signature recovery, in order: a signature refused before (remembered),
   * a message that can never commit (#refusedEarly), a nonce too far ahead, a balance that cannot
   * pay it with what the account has in flight here. Undefined when it passes them all. Whether a
   * message passes says nothing about who signed it, so nothing is reserved here (a forged
   * message must not hold its account's balance): #accept reserves after the signature check.
   */
  #precheck(m: LedgerMessage, signature: string, nowMs: number): { readonly result: BatchItemResult; readonly balance: boolean } | undefined {
    const remembered = this.#refusals.empty ? undefined : this.#refusals.get(signatureKey(m.hash, signature), nowMs);
    if (remembered !== undefined) {
      this.#admissionRefusals.inc({ code: remembered.code, stage: "remembered" });
      return { result: errorItem(remembered.code as ErrorCode, remembered.message), balance: false };
    }
    if (this.#router.pending.get(m.hash) !== undefined) return undefined; // joins the copy pending here
    const early = this.#refusedEarly(m, nowMs);
    if (early !== undefined) return { result: early, balance: false };
    const refused = this.#policyRefusal(m.kind === "transfer" ? m : undefined, m.nonce, this.#ledgerNonce(signerOf(m)));
    if (refused !== undefined) {
      this.#admissionRefusals.inc({ code: refused.code, stage: "intake" });
      return { result: errorItem(refused.code, refused.message), balance: false };
    }
    if (!this.#reservations.fits(m, this.#available)) return { result: this.#insufficient(m, "intake"), balance: true };
    return undefined;
  }

  /**
   * Admission, then signatures, then into the node's keeping: the verdict on each message, in
   * order. Cheap refusals come first, so a flood of messages nobody can pay for costs a hash and a
   * few map lookups each, never a signature recovery or log space. A balance refusal is given
   * only against a ledger that has applied everything this node knew committed when the request
   * came (a follower a moment behind first catches up, up to ADMISSION_CATCH_UP_MS): a deposit or
   * transfer the client saw acknowledged elsewhere then counts.
   */
  async #submit(items: readonly { readonly m: LedgerMessage; readonly signature: `0x${string}`; readonly signer: string }[]): Promise<BatchItemResult[]> {
    const commitIndex = this.#replicated.status().commitIndex;
    const results: (BatchItemResult | Promise<BatchItemResult>)[] = new Array(items.length);
    let toVerify: number[] = [];
    const short: number[] = [];
    let now = Date.now();
    await sliced(items.length, (k) => {
      const item = items[k]!;
      const refused = this.#precheck(item.m, item.signature, now);
      if (refused === undefined) toVerify.push(k);
      else {
        results[k] = refused.result;
        if (refused.balance) short.push(k);
      }
    });
    if (short.length > 0 && this.#applied < commitIndex && (await this.waitForApplied(commitIndex, ADMISSION_CATCH_UP_MS))) {
      now = Date.now();
      for (const k of short) {
        const refused = this.#precheck(items[k]!.m, items[k]!.signature, now);
        if (refused === undefined) toVerify.push(k);
        else results[k] = refused.result;
      }
      toVerify = toVerify.sort((a, b) => a - b); // the order of the batch, for its nonces
    }
    if (toVerify.length > 0) {
      const ok = await this.#verify(toVerify.map((k) => ({ hash: items[k]!.m.hash, signature: items[k]!.signature, signer: items[k]!.signer })));
      const valid: number[] = [];
      now = Date.now();
      toVerify.forEach((k, j) => {
        if (ok[j]) return void valid.push(k);
        const item = items[k]!;
        const message = item.m.kind === "transfer" ? "the signature is not the sender's" : "the signature is not the account's";
        this.#refusals.remember(signatureKey(item.m.hash, item.signature), { code: "INVALID_SIGNATURE", message }, now);
        results[k] = errorItem("INVALID_SIGNATURE", message);
      });
      // Into the node's keeping ACCEPT_SLICE at a time, the event loop free in between (in
      // batch order: an account's nonces reach the mempool in the order they were sent).
      for (let i = 0; i < valid.length; i += ACCEPT_SLICE) {
        if (i > 0) await yieldToLoop();
        const part = valid.slice(i, i + ACCEPT_SLICE);
        const answers = this.#accept(part.map((k) => items[k]!.m), "intake");
        part.forEach((k, j) => (results[k] = answers[j]!));
      }
    }
    return Promise.all(results);
  }

  /** EIP-712 digests of `transfers`, in slices with the event loop free in between. */
  async #hashTransfers(transfers: readonly SignedTransfer[]): Promise<Hash[]> {
    const hashes: Hash[] = new Array(transfers.length);
    await sliced(transfers.length, (k) => (hashes[k] = hashTransfer(this.#domain, transfers[k]!)));
    return hashes;
  }

  /** Refuses a write at once when this node has known no leader for NO_LEADER_FAIL_FAST_MS. */
  #checkLeaderKnown(): void {
    const forMs = this.#router.leaderlessForMs(Date.now());
    if (forMs >= NO_LEADER_FAIL_FAST_MS) {
      throw new DeltaError("NO_LEADER", `no leader has been known for ${Math.round(forMs / 1000)} s; retry later`);
    }
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
      this.#flushOwed();
      return;
    }
    // The member checked them against its own ledger when its client sent them (#refusedEarly);
    // checking again here cost the leader, the busiest node, about 3% of its time under load,
    // and what slips through (committed in the moment since) the ledger refuses anyway.
    this.#accept(messages, "forward").forEach((answer, k) => {
      const hash = messages[k]!.hash;
      // `at`: the member applies up to here before it answers (the block that decided is at or below).
      void Promise.resolve(answer).then((result) => this.#owe(from, { hash, result, at: this.#applied }));
    });
  }

  /** Leader: queues a verdict for the member that forwarded; all owed go out together. */
  #owe(member: string, verdict: Verdict): void {
    this.#router.owe(member, verdict);
    this.#flushOwed();
  }

  #flushOwed(): void {
    this.#verdictFlush ??= setImmediate(() => {
      this.#verdictFlush = undefined;
      if (!this.#stopped) this.#run(this.#router.takeOwed());
    });
  }

  /** Follower: the leader's verdicts on what we forwarded. */
  #onVerdicts(from: string, data: unknown): void {
    const verdicts = decodeVerdicts(data);
    if (verdicts === undefined) {
      this.#log.warn({ from: from.slice(0, 16) }, "malformed verdicts dropped");
      return;
    }
    this.#router.verdicts(from, verdicts, Date.now());
  }

  async submitTransfers(transfers: readonly SignedTransfer[]): Promise<readonly BatchItemResult[]> {
    if (this.#stopped || this.#draining) throw new DeltaError("NO_LEADER", "the node is shutting down; retry on another node");
    this.#checkLeaderKnown();
    // Senders the ledger has never seen are answered first, without hashing (#unknownSenderVerdict).
    const nowSec = BigInt(Math.floor(Date.now() / 1000));
    const results: BatchItemResult[] = new Array(transfers.length);
    const rest: SignedTransfer[] = [];
    const at: number[] = [];
    const tally = new Map<ErrorCode, number>();
    await sliced(transfers.length, (k) => {
      const t = transfers[k]!;
      const verdict = this.#unknownSenderVerdict(t, nowSec);
      if (verdict === undefined) {
        rest.push(t);
        at.push(k);
        return;
      }
      results[k] = { error: verdict };
      tally.set(verdict.code, (tally.get(verdict.code) ?? 0) + 1);
    });
    for (const [code, n] of tally) this.#admissionRefusals.inc({ code, stage: "intake" }, n);
    if (rest.length === 0) return results;
    const hashes = await this.#hashTransfers(rest);
    const answers = await this.#submit(rest.map((t, j) => ({ m: { kind: "transfer", hash: hashes[j]!, ...this.#messageFields(t) }, signature: t.signature, signer: t.from })));
    answers.forEach((a, j) => (results[at[j]!] = a));
    return results;
  }

  #messageFields(t: SignedTransfer): Omit<Extract<LedgerMessage, { kind: "transfer" }>, "kind" | "hash"> {
    return { from: t.from, to: t.to, token: t.token, amount: t.amount, fee: t.fee, nonce: t.nonce, deadline: t.deadline };
  }

  async submitWithdrawal(w: SignedWithdrawal): Promise<BatchItemResult> {
    if (this.#stopped || this.#draining) throw new DeltaError("NO_LEADER", "the node is shutting down; retry on another node");
    this.#checkLeaderKnown();
    const hash = hashWithdrawal(this.#domain, w);
    const message: LedgerMessage = { kind: "withdrawal", hash, account: w.account, token: w.token, amount: w.amount, nonce: w.nonce, deadline: w.deadline };
    const [answer] = await this.#submit([{ m: message, signature: w.signature, signer: w.account }]);
    if (answer === undefined) throw new DeltaError("INTERNAL", "admission gave no verdict for a withdrawal");
    return answer;
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
      this.#sealsAsked.set(id, { leader: leader.id, settle });
      this.#replicated.sendApp(leader.id, { t: "seal", id } satisfies SealMessage);
    });
    // Sent, no answer: the leader may have sealed (a retry would seal the next epoch early).
    if (answer === undefined) throw new DeltaError("OUTCOME_UNKNOWN", "the leader did not answer the seal request; read GET /v1/epochs/current before asking again");
    if ("code" in answer) throw new DeltaError(answer.code, answer.message);
    if (!(await this.waitForApplied(answer.at, this.#answerBoundMs))) {
      throw new DeltaError("OUTCOME_UNKNOWN", `the leader sealed epoch ${answer.epoch}, but this node has not applied index ${answer.at} yet; read with ?minIndex=${answer.at}`);
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
      const asked = this.#sealsAsked.get(m.id);
      // Only the member asked speaks for its seal.
      if (asked !== undefined && asked.leader === from) asked.settle(m);
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
        const code = error instanceof DeltaError && (error.code === "NO_LEADER" || error.code === "WRONG_STATE" || error.code === "OUTCOME_UNKNOWN") ? error.code : "INTERNAL";
        if (code === "INTERNAL") this.#log.error({ err: error }, "seal for a member failed");
        reply({ t: "sealv", id: m.id, code, message: code === "INTERNAL" ? "the leader failed to seal" : (error as DeltaError).message });
      },
    );
  }

  /** Leader: seals the open epoch through the log, one seal at a time; answers once it is applied here. */
  #sealAsLeader(): Promise<{ readonly epoch: string | null }> {
    this.#sealInFlight ??= this.#proposeSeal().finally(() => {
      this.#sealInFlight = undefined;
    });
    return this.#sealInFlight;
  }

  async #proposeSeal(): Promise<{ readonly epoch: string | null }> {
    const heads = getEpochHeads(this.#ledger);
    const open = getEpochStatus(this.#ledger, heads.openEpoch);
    if (open === undefined || open.transfers + open.withdrawals === 0) return { epoch: null };
    const outcome = await this.#replicated.propose([encodeEntry({ type: "seal", epoch: heads.openEpoch })]);
    if (!outcome.accepted) throw new DeltaError("NO_LEADER", NO_LEADER_MESSAGE);
    // Resolves after the entry is applied here (the log applies, then wakes its waiters).
    const ours = await this.#replicated.waitForCommit(outcome.lastIndex, outcome.term, this.#answerBoundMs).catch(() => {
      // Proposed, not committed in time: it may still commit.
      throw new DeltaError("OUTCOME_UNKNOWN", "the seal was proposed but not committed in time; read GET /v1/epochs/current before asking again");
    });
    if (!ours) throw new DeltaError("NO_LEADER", "the seal was lost to a leader change (another entry committed in its place); retry");
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

  /** GET /v1/fees: the ledger's applied policy; before the first policy entry, the config's (docs/api.md). */
  fees(): FeesView {
    return feesView(this.#ledger, this.#configuredFees);
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
    return accountView(this.#ledger, address);
  }

  transfer(hash: string): TransferView | undefined {
    const committed = ledgerTransferView(this.#ledger, hash);
    if (committed !== undefined || getMessage(this.#ledger, hash) !== undefined) return committed;
    // Not applied here: a transfer this node accepted and holds until its verdict is pending.
    const t = this.#router.pending.get(hash.toLowerCase())?.message;
    return t?.kind === "transfer" ? transferView(t, "pending", null, null) : undefined;
  }

  epoch(epoch?: bigint): EpochView | undefined {
    return epochView(this.#ledger, epoch);
  }

  settlement(epoch: bigint): SettlementView {
    return settlementView(this.#ledger, epoch, this.#settler.signed(epoch));
  }

  epochTokens(epoch: bigint): EpochTokensView | undefined {
    return epochTokensView(this.#ledger, epoch);
  }

  transferProof(hash: string): ProofView {
    return proofView(this.#ledger, hash);
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
