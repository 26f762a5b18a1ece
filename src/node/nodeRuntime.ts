// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * One node: the replicated log feeding the ledger, the leader's mempool and block cutter, intake
 * with batched native signature checks, forwarding to the leader, and the deposit watcher. It
 * implements the REST API's NodeService.
 *
 * A write is answered only once its block is committed (on a majority, durable) and applied here,
 * with the ledger's verdict. Followers forward writes to the leader's REST API and relay its
 * answer; with no leader reachable the answer is NO_LEADER (503: retry), and nothing was applied.
 */
import { join } from "node:path";
import { getAddress, Wallet } from "ethers";
import type { BatchItemResult, CommittedView, DomainView, EpochView, NodeMetrics, NodeService, StatusView, TransferView, AccountView } from "../api/index.ts";
import { loadIdentity, ReplicatedLog, type ConsensusLogger } from "../consensus/index.ts";
import { DeltaError, isErrorCode } from "../errors.ts";
import {
  applyEntry,
  createLedger,
  getAccount,
  getEpochHeads,
  getEpochSummary,
  getMessage,
  type LedgerEntry,
  type LedgerMessage,
  type LedgerState,
  type MessageResult,
} from "../ledger/index.ts";
import {
  encodeTransferRequest,
  encodeWithdrawalRequest,
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
import { decodeEntry, encodeEntry } from "./entryCodec.ts";
import { Mempool } from "./mempool.ts";

type Waiter = (result: BatchItemResult) => void;

const NO_LEADER_MESSAGE = "no leader is reachable; retry shortly";

function committedView(r: MessageResult): BatchItemResult {
  return r.status === "committed"
    ? ({ hash: r.hash, status: "committed", index: r.index, epoch: r.epoch.toString() } satisfies CommittedView)
    : { error: { code: r.code, message: r.reason } };
}

function errorItem(code: string, message: string): BatchItemResult {
  return { error: { code, message } };
}

/** The running node. `start()` builds it; `stop()` ends everything it began. */
export class NodeRuntime implements NodeService {
  readonly #config: Config;
  readonly #log: ConsensusLogger;
  readonly #domain: BridgeDomain;
  readonly #ledger: LedgerState;
  readonly #mempool = new Mempool();
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #self: Member;
  #replicated!: ReplicatedLog;
  #pool!: RecoveryPool;
  #watcher: DepositWatcher | undefined;
  #blockTimer: NodeJS.Timeout | undefined;
  #cutting = false;
  #applied = 0;
  #stopped = false;

  private constructor(config: Config, logger: ConsensusLogger) {
    this.#config = config;
    this.#log = logger;
    this.#domain = { name: "DeltaBridge", version: "1", chainId: BigInt(config.chain.chainId), verifyingContract: getAddress(config.chain.bridge) as Address };
    this.#ledger = createLedger({ feeRecipient: config.feeRecipient as Address });
    const identity = loadIdentity(config.identitySeed);
    const self = config.members.find((m) => m.id === identity.id);
    if (self === undefined) throw new DeltaError("INVALID_CONFIG", "identitySeed's public key is not among the members");
    const validator = new Wallet(config.validatorPrivateKey.startsWith("0x") ? config.validatorPrivateKey : `0x${config.validatorPrivateKey}`);
    if (validator.address.toLowerCase() !== self.address.toLowerCase()) {
      throw new DeltaError("INVALID_CONFIG", "validatorPrivateKey does not match this node's member address");
    }
    this.#self = self;
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
    node.#blockTimer = setInterval(() => void node.#cutBlock(), config.block.intervalMs);
    return node;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#blockTimer !== undefined) clearInterval(this.#blockTimer);
    await this.#watcher?.stop();
    this.#failWaiters("NO_LEADER", "the node is shutting down; retry on another node");
    await this.#replicated.stop();
    await this.#pool.close();
  }

  // ---- applying committed entries ----

  #apply(index: number, data: Uint8Array): void {
    this.#applied = index;
    if (data.length === 0) return; // a leader's term-start marker
    const entry = decodeEntry(data);
    if (entry === undefined) {
      this.#log.error({ index }, "committed entry does not decode; skipped on every node alike");
      return;
    }
    const result = applyEntry(this.#ledger, entry);
    if (result.type === "block") {
      for (const r of result.results) this.#settle(r.hash, committedView(r));
    } else if (result.type === "deposit") {
      if (result.status === "credited") this.#log.info({ depositId: entry.type === "deposit" ? entry.depositId.toString() : "" }, "deposit credited");
    } else if (result.type === "seal") {
      this.#log.info({ epoch: result.epoch.toString(), status: result.status }, "epoch seal applied");
    }
  }

  #settle(hash: string, result: BatchItemResult): void {
    const list = this.#waiters.get(hash);
    if (list === undefined) return;
    this.#waiters.delete(hash);
    for (const w of list) w(result);
  }

  #failWaiters(code: string, message: string): void {
    for (const hash of [...this.#waiters.keys()]) this.#settle(hash, errorItem(code, message));
  }

  // ---- leader: blocks and deposits ----

  #leadershipChanged(leading: boolean): void {
    if (leading && this.#watcher === undefined && !this.#stopped) {
      this.#watcher = new DepositWatcher(this.#config.chain, this.#log, async (deposits) => {
        const outcome = await this.#replicated.propose(deposits.map((d) => encodeEntry(d)));
        return outcome.accepted;
      });
      this.#watcher.start();
    } else if (!leading && this.#watcher !== undefined) {
      const w = this.#watcher;
      this.#watcher = undefined;
      void w.stop();
      // Messages waiting here will not be ordered by us: their clients get NO_LEADER and retry.
      this.#failWaiters("NO_LEADER", "leadership moved while the message waited; retry");
      this.#mempool.take(Number.MAX_SAFE_INTEGER);
    }
  }

  async #cutBlock(): Promise<void> {
    if (this.#cutting || this.#mempool.size === 0 || this.#stopped) return;
    this.#cutting = true;
    try {
      const messages = this.#mempool.take(this.#config.block.maxMessages);
      const entry: LedgerEntry = { type: "block", timestampSec: BigInt(Math.floor(Date.now() / 1000)), messages };
      const outcome = await this.#replicated.propose([encodeEntry(entry)]);
      if (!outcome.accepted) {
        for (const m of messages) this.#settle(m.hash, errorItem("NO_LEADER", NO_LEADER_MESSAGE));
        return;
      }
      // Verdicts arrive through #apply; a block lost to a leader change answers NO_LEADER.
      void this.#replicated.waitForCommit(outcome.lastIndex, outcome.term, 30_000).then(
        (ours) => {
          if (!ours) for (const m of messages) this.#settle(m.hash, errorItem("NO_LEADER", "the block was lost to a leader change; retry"));
        },
        () => {
          for (const m of messages) this.#settle(m.hash, errorItem("NO_LEADER", "the block did not commit in time; retry"));
        },
      );
    } catch (error) {
      this.#log.error({ reason: error instanceof Error ? error.message : String(error) }, "cutting a block failed");
    } finally {
      this.#cutting = false;
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

  /** Queues verified messages at the leader; resolves with each one's verdict. */
  #enqueue(messages: readonly LedgerMessage[]): Promise<BatchItemResult>[] {
    const answers = messages.map(
      (m) =>
        new Promise<BatchItemResult>((resolve) => {
          const list = this.#waiters.get(m.hash) ?? [];
          list.push(resolve);
          this.#waiters.set(m.hash, list);
        }),
    );
    for (const m of messages) this.#mempool.add(m);
    if (this.#mempool.size >= this.#config.block.maxMessages) void this.#cutBlock();
    return answers;
  }

  async #forward(path: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const leader = this.#leaderMember();
    if (leader === undefined || leader.id === this.#self.id) throw new DeltaError("NO_LEADER", NO_LEADER_MESSAGE);
    let response: Response;
    try {
      response = await fetch(new URL(path, leader.rest), {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch {
      throw new DeltaError("NO_LEADER", NO_LEADER_MESSAGE);
    }
    const json: unknown = await response.json().catch(() => undefined);
    if (response.status === 503) throw new DeltaError("NO_LEADER", NO_LEADER_MESSAGE);
    if (!response.ok) {
      const err = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error; // the API's error body
      const code = typeof err?.code === "string" && isErrorCode(err.code) ? err.code : "INTERNAL";
      throw new DeltaError(code, typeof err?.message === "string" ? err.message : `leader answered ${response.status}`);
    }
    return json;
  }

  async submitTransfers(transfers: readonly SignedTransfer[]): Promise<readonly BatchItemResult[]> {
    if (this.#stopped) throw new DeltaError("NO_LEADER", "the node is shutting down; retry on another node");
    const hashes = transfers.map((t) => hashTransfer(this.#domain, t));
    const ok = await this.#verify(transfers.map((t, k) => ({ hash: hashes[k]!, signature: t.signature, signer: t.from })));
    const results: (BatchItemResult | Promise<BatchItemResult>)[] = transfers.map(() => errorItem("INVALID_SIGNATURE", "the signature is not the sender's"));
    const valid: number[] = [];
    for (let k = 0; k < transfers.length; k++) if (ok[k]) valid.push(k);
    if (valid.length > 0) {
      if (this.#leading()) {
        const messages: LedgerMessage[] = valid.map((k) => ({ kind: "transfer", hash: hashes[k]!, ...this.#messageFields(transfers[k]!) }));
        const answers = this.#enqueue(messages);
        valid.forEach((k, j) => (results[k] = answers[j]!));
      } else {
        const body = { transfers: valid.map((k) => encodeTransferRequest(transfers[k]!)) };
        const answer = (await this.#forward("/v1/transfers/batch", body)) as { results?: BatchItemResult[] }; // the leader's batch answer
        valid.forEach((k, j) => (results[k] = answer.results?.[j] ?? errorItem("INTERNAL", "the leader's answer is missing an item")));
      }
    }
    return Promise.all(results);
  }

  #messageFields(t: SignedTransfer): Omit<Extract<LedgerMessage, { kind: "transfer" }>, "kind" | "hash"> {
    return { from: t.from, to: t.to, token: t.token, amount: t.amount, fee: t.fee, nonce: t.nonce, deadline: t.deadline };
  }

  async submitWithdrawal(w: SignedWithdrawal): Promise<BatchItemResult> {
    if (this.#stopped) throw new DeltaError("NO_LEADER", "the node is shutting down; retry on another node");
    const hash = hashWithdrawal(this.#domain, w);
    const [ok] = await this.#verify([{ hash, signature: w.signature, signer: w.account }]);
    if (ok !== true) return errorItem("INVALID_SIGNATURE", "the signature is not the account's");
    if (this.#leading()) {
      const [answer] = this.#enqueue([{ kind: "withdrawal", hash, account: w.account, token: w.token, amount: w.amount, nonce: w.nonce, deadline: w.deadline }]);
      return answer!;
    }
    return (await this.#forward("/v1/withdrawals", encodeWithdrawalRequest(w))) as BatchItemResult; // the leader's answer
  }

  async seal(): Promise<{ readonly epoch: string | null }> {
    if (!this.#leading()) {
      return (await this.#forward("/v1/admin/seal", {}, { authorization: `Bearer ${this.#config.adminToken}` })) as { epoch: string | null }; // the leader's answer
    }
    const heads = getEpochHeads(this.#ledger);
    const open = getEpochSummary(this.#ledger, heads.openEpoch);
    if (open === undefined || open.transfers + open.withdrawals === 0) return { epoch: null };
    const outcome = await this.#replicated.propose([encodeEntry({ type: "seal", epoch: heads.openEpoch })]);
    if (!outcome.accepted) throw new DeltaError("NO_LEADER", NO_LEADER_MESSAGE);
    const ours = await this.#replicated.waitForCommit(outcome.lastIndex, outcome.term, 30_000);
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
      feeRecipient: getAddress(this.#config.feeRecipient),
    };
  }

  status(): StatusView {
    const s = this.#replicated.status();
    const heads = getEpochHeads(this.#ledger);
    const leader = s.leader === null ? undefined : this.#config.members.find((m) => m.id === s.leader);
    return {
      address: getAddress(this.#self.address),
      role: s.role,
      term: s.term,
      leader: leader === undefined ? null : getAddress(leader.address),
      commitIndex: s.commitIndex,
      appliedIndex: this.#applied,
      epoch: heads.openEpoch.toString(),
      lastSettledEpoch: heads.lastSettledEpoch.toString(),
      peers: this.#config.members.filter((m) => m.id !== this.#self.id).map((m) => ({ address: getAddress(m.address), rest: m.rest })),
    };
  }

  account(address: string): AccountView {
    const a = getAccount(this.#ledger, address);
    const balances: Record<string, string> = {};
    for (const b of a.balances) balances[getAddress(b.token)] = b.amount.toString();
    return { address: getAddress(a.address), nonce: a.nonce.toString(), balances };
  }

  transfer(hash: string): TransferView | undefined {
    const m = getMessage(this.#ledger, hash);
    if (m === undefined || m.message.kind !== "transfer") return undefined;
    const t = m.message;
    return {
      hash: m.hash,
      status: m.status,
      index: m.index,
      epoch: m.epoch.toString(),
      from: getAddress(t.from),
      to: getAddress(t.to),
      token: getAddress(t.token),
      amount: t.amount.toString(),
      fee: t.fee.toString(),
      nonce: t.nonce.toString(),
      deadline: t.deadline.toString(),
    };
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
      deltas: e.deltas.map((d) => ({ account: getAddress(d.account), token: getAddress(d.token), delta: d.amount.toString() })),
      payouts: e.payouts.map((p) => ({ account: getAddress(p.account), token: getAddress(p.token), amount: p.amount.toString() })),
      settlementTxs: [...e.settlementTxs],
    };
  }

  metrics(): NodeMetrics {
    const s = this.#replicated.status();
    return { role: s.role, term: s.term, commitIndex: s.commitIndex, appliedIndex: this.#applied, mempoolSize: this.#mempool.size };
  }
}
