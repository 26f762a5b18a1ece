// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Settlement: a sealed epoch out to DeltaBridge (docs/settlement.md).
 *
 * 1. Plan and sign. The leader first commits the epoch's chunk limits, items and distinct tokens
 *    per chunk, sized by the gas model so that every chunk fits well within a block
 *    (src/chain/settlementGas.ts; "settlementPlan" entry; the first one for an epoch is final). Every node
 *    builds the sealed epoch's chunks from its own ledger with those limits (the pure builder of
 *    src/ledger) and signs each chunk's EIP-712 digest with its validator key, with those limits
 *    only: two different chunkings of one epoch never both carry signatures. A node never signs
 *    data it did not compute itself.
 * 2. Gather. The leader asks the other members for their signatures over the authenticated
 *    transport (the replicated log's application messages), checks each against its own digests
 *    and the sender's validator address, and once it holds `threshold()` of them appends a
 *    "signatures" entry to the log. Every node checks and keeps it, so any node serves the
 *    signed settlement (GET /v1/epochs/:n/settlement) after a leader change or a restart.
 * 3. Submit. The leader sends the chunks in order. The chain is the truth: before each chunk it
 *    reads `lastEpoch()`/`nextChunk()`, so a landed chunk is not sent again and none is skipped,
 *    whoever submitted it (an earlier leader, scripts/settle.ts, anyone). A transaction not mined
 *    within `replaceAfterMs` is replaced (same nonce, gas price +25%).
 * 4. Mark. Once the epoch's last chunk has the configured confirmations, the leader appends a
 *    "settled" entry with the chunks' transaction hashes (read from the bridge's Settled events),
 *    and every node marks the epoch settled. Epochs settle in order: only the one after the last
 *    settled epoch is worked on.
 */
import { JsonRpcProvider, Wallet } from "ethers";
import { z } from "zod";
import { chainProvider, chunkLimitsFor, SettlementSubmitter, type SignedSettlement } from "../chain/index.ts";
import type { ConsensusLogger } from "../consensus/index.ts";
import { buildSettlementChunks, getEpochHeads, getEpochStatus, getEpochSummary, type LedgerState } from "../ledger/index.ts";
import { hashSettlement, recoverSigner, type BridgeDomain, type Hash, type Hex, type Settlement } from "../protocol/index.ts";
import type { Config } from "./config.ts";
import type { NodeEntry, SettlementPlanEntry, SignaturesEntry } from "./entryCodec.ts";
/**
 * RPC timeout of the settler's chain requests. Checking a chunk executes it once (eth_call), and
 * Ganache runs about 2.7M gas per second (a 6.75M gas chunk of 128 tokens: 2.5 s alone, more than
 * 10 s on this loaded 2-core machine), so the chain loops' 10 s would fail every try of a large
 * chunk, and a failed check is retried, never skipped: settlement would stall on it. A real node
 * answers in well under a second; the timeout only bounds a hung request.
 */
const SETTLEMENT_RPC_TIMEOUT_MS = 60_000;
/** How often the leader asks the members that have not answered for their signatures. */
const ASK_EVERY_MS = 300;
/** Signed settlements a node keeps ready to answer the leader with (a few epochs, sizes). */
const OWN_SIGNATURES_CACHE = 8;
/** What the settler needs of its node. */
export interface SettlerHost {
  readonly ledger: LedgerState;
  readonly domain: BridgeDomain;
  readonly config: Config;
  readonly log: ConsensusLogger;
  /** This node leads an established term and may append. */
  canPropose(): boolean;
  /** Appends `entry`; true once it is committed in the term it was proposed in. */
  commit(entry: NodeEntry): Promise<boolean>;
  /** Sends an application message to member `id` over the authenticated transport. */
  sendApp(id: string, data: Record<string, unknown>): void;
}

export type { SignedSettlement };

const uintString = z.string().regex(/^(0|[1-9][0-9]{0,19})$/).transform((s) => BigInt(s));
const signatureHex = z.string().regex(/^0x[0-9a-f]{130}$/).transform((s) => s as Hex);
const maxTokensField = z.int().min(1).max(10_000).optional();
const AppMessageSchema = z.discriminatedUnion("t", [
  z.strictObject({ t: z.literal("sigReq"), epoch: uintString, maxItems: z.int().min(2).max(10_000), maxTokens: maxTokensField }),
  z.strictObject({
    t: z.literal("sigs"),
    epoch: uintString,
    maxItems: z.int().min(2).max(10_000),
    maxTokens: maxTokensField,
    signatures: z.array(signatureHex).min(1).max(100_000),
  }),
]);

/**
 * An epoch's committed chunk limits: `maxTokens` undefined for a plan from before the token cap
 * (its chunks were built without one, and are rebuilt so).
 */
export interface PlanLimits {
  readonly maxItems: number;
  readonly maxTokens: number | undefined;
}

/** The chunks of a sealed or settled epoch with `limits`, or undefined while it is open or unknown. */
export function settlementsOf(ledger: LedgerState, epoch: bigint, limits: PlanLimits): Settlement[] | undefined {
  const status = getEpochStatus(ledger, epoch);
  if (status === undefined || status.status === "open") return undefined;
  return buildSettlementChunks(getEpochSummary(ledger, epoch)!, limits.maxItems, limits.maxTokens); // it exists: its status does
}

/** `limits` as message or entry fields: `maxTokens` left out when there is none (plans from before the cap). */
function limitsFields(limits: PlanLimits): { maxItems: number; maxTokens?: number } {
  return limits.maxTokens === undefined ? { maxItems: limits.maxItems } : { maxItems: limits.maxItems, maxTokens: limits.maxTokens };
}

function sameLimits(a: PlanLimits | undefined, b: PlanLimits): boolean {
  return a !== undefined && a.maxItems === b.maxItems && a.maxTokens === b.maxTokens;
}

function limitsText(limits: PlanLimits | undefined): string {
  return limits === undefined ? "missing" : `${limits.maxItems} items, ${limits.maxTokens ?? "any"} tokens`;
}

function reason(error: unknown): string {
  const e = error as { shortMessage?: unknown; message?: unknown; revert?: { name?: unknown; args?: unknown } } | null;
  if (e?.revert !== undefined && typeof e.revert.name === "string") return `reverted ${e.revert.name}(${String(e.revert.args)})`;
  if (typeof e?.shortMessage === "string") return e.shortMessage;
  return error instanceof Error ? error.message : String(error);
}

interface Collecting {
  readonly epoch: bigint;
  readonly limits: PlanLimits;
  readonly digests: readonly Hash[];
  /** Validator address (lowercase) to its signature per chunk. */
  readonly bySigner: Map<string, readonly Hex[]>;
  askedAt: number;
}

/** This node's view of an epoch's chunks at one size: their digests and its signatures over them. */
interface OwnSignatures {
  readonly digests: readonly Hash[];
  readonly signatures: readonly Hex[];
}

/** One node's part in settlement; the leader's loop runs every `settlement.pollMs`. */
export class Settler {
  readonly #host: SettlerHost;
  readonly #validator: Wallet;
  /** Sends the chunks and finds where they landed (src/chain: shared with scripts/settle.ts). */
  readonly #submitter: SettlementSubmitter;
  readonly #provider: JsonRpcProvider;
  readonly #selfId: string;
  /** Member transport id to its validator address (lowercase), and back. */
  readonly #addressById = new Map<string, string>();
  /** Committed "settlementPlan" entries: each epoch's chunk limits (the first entry wins). */
  readonly #plans = new Map<bigint, PlanLimits>();
  /** Committed "signatures" entries, checked, by epoch. */
  readonly #signed = new Map<bigint, SignedSettlement>();
  /** This node's chunk digests and signatures, by epoch and limits (answers to the leader's requests). */
  readonly #own = new Map<string, OwnSignatures>();
  #collecting: Collecting | undefined;
  #scanFrom: number;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #stopped = false;
  /** The last warning logged, not repeated on every poll. */
  #lastWarning = "";

  constructor(host: SettlerHost, selfId: string, validator: Wallet) {
    this.#host = host;
    this.#selfId = selfId;
    const { chain, settlement } = host.config;
    this.#provider = chainProvider(chain.rpcUrl, chain.chainId, { pollingInterval: 250, cacheTimeout: -1 }, SETTLEMENT_RPC_TIMEOUT_MS);
    // cacheTimeout -1: ethers would otherwise answer a repeated call (the pending nonce, nextChunk) from a 250 ms cache.
    this.#validator = validator;
    const key = settlement.submitterPrivateKey;
    this.#submitter = new SettlementSubmitter({
      provider: this.#provider,
      signer: new Wallet(key === undefined ? validator.privateKey : key.startsWith("0x") ? key : `0x${key}`, this.#provider),
      bridge: chain.bridge,
      replaceAfterMs: settlement.replaceAfterMs,
      maxGasPriceGwei: settlement.maxGasPriceGwei,
      chunkDelayMs: settlement.chunkDelayMs,
      logger: { info: (fields, message) => host.log.info(fields, message), warn: (fields, message) => this.#warn(message, fields) },
    });
    this.#scanFrom = chain.fromBlock;
    for (const m of host.config.members) this.#addressById.set(m.id, m.address.toLowerCase());
  }

  start(): void {
    this.#timer = setInterval(() => void this.#tick(), this.#host.config.settlement.pollMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#provider.destroy();
  }

  /** The quorum-signed settlement of `epoch`, once its "signatures" entry is applied. */
  signed(epoch: bigint): SignedSettlement | undefined {
    return this.#signed.get(epoch);
  }

  /**
   * Applies a committed "signatures" entry. Every node checks it the same way (deterministic:
   * its own ledger at this log position, signature recovery): the epoch must be sealed, the chunk
   * count must match, every signature must recover to a distinct member, ascending. A bad entry
   * (only a faulty leader writes one) is logged and ignored; the next leader gathers again.
   */
  apply(entry: SignaturesEntry | SettlementPlanEntry): void {
    if (entry.type === "settlementPlan") {
      if (this.#plans.has(entry.epoch)) return;
      const summary = getEpochStatus(this.#host.ledger, entry.epoch);
      if (summary === undefined || summary.status === "open") {
        this.#host.log.error({ epoch: entry.epoch.toString() }, "settlement plan for an epoch that is not sealed; ignored");
        return;
      }
      this.#plans.set(entry.epoch, { maxItems: entry.maxItems, maxTokens: entry.maxTokens });
      return;
    }
    if (this.#signed.has(entry.epoch)) return;
    const settlements = settlementsOf(this.#host.ledger, entry.epoch, { maxItems: entry.maxItems, maxTokens: entry.maxTokens });
    const problem = this.#checkSignatures(entry, settlements);
    if (problem !== undefined || settlements === undefined) {
      this.#host.log.error({ epoch: entry.epoch.toString(), problem }, "signatures entry refused");
      return;
    }
    this.#signed.set(entry.epoch, { epoch: entry.epoch, settlements, signatures: entry.chunks });
    if (this.#collecting?.epoch === entry.epoch) this.#collecting = undefined;
    this.#host.log.info({ epoch: entry.epoch.toString(), chunks: settlements.length, signers: entry.chunks[0]?.length ?? 0 }, "settlement signatures committed");
  }

  /** More than half of the members: the bridge's least threshold (its validators are the members). */
  #majority(): number {
    return Math.floor(this.#addressById.size / 2) + 1;
  }

  /**
   * The lowercase address that signed `digest`, or undefined. protocol's native recovery refuses
   * high-s and a v other than 27/28 as the bridge does, so a kept signature is one it accepts.
   */
  #signerOf(digest: Hash, signature: Hex): string | undefined {
    try {
      return recoverSigner(digest, signature).toLowerCase();
    } catch {
      return undefined;
    }
  }

  #checkSignatures(entry: SignaturesEntry, settlements: readonly Settlement[] | undefined): string | undefined {
    if (settlements === undefined) return "the epoch is not sealed";
    const plan = this.#plans.get(entry.epoch);
    const limits = { maxItems: entry.maxItems, maxTokens: entry.maxTokens };
    if (!sameLimits(plan, limits)) return `chunk limits ${limitsText(limits)}, but the epoch's plan is ${limitsText(plan)}`;
    if (entry.chunks.length !== settlements.length) return `${entry.chunks.length} signature sets for ${settlements.length} chunks`;
    const members = new Set(this.#addressById.values());
    // The bridge requires more than half of its validators, which are the members: fewer can never land.
    const quorum = this.#majority();
    let signerSet = "";
    for (let k = 0; k < settlements.length; k++) {
      if (entry.chunks[k]!.length < quorum) return `chunk ${k}: ${entry.chunks[k]!.length} signatures, fewer than a majority of ${members.size}`;
      const digest = hashSettlement(this.#host.domain, settlements[k]!);
      const signers: string[] = [];
      let previous = "";
      for (const signature of entry.chunks[k]!) {
        const signer = this.#signerOf(digest, signature);
        if (signer === undefined) return `chunk ${k}: a signature does not recover (or the bridge would refuse it)`;
        if (!members.has(signer)) return `chunk ${k}: ${signer} is not a member`;
        if (signer <= previous) return `chunk ${k}: signers not strictly ascending`;
        previous = signer;
        signers.push(signer);
      }
      if (k === 0) signerSet = signers.join(",");
      else if (signers.join(",") !== signerSet) return `chunk ${k}: signed by another set of members than chunk 0`;
    }
    return undefined;
  }

  /** An application message from member `from` (untrusted content). */
  onAppMessage(from: string, data: unknown): void {
    if (this.#stopped) return;
    const parsed = AppMessageSchema.safeParse(data);
    if (!parsed.success) {
      this.#host.log.warn({ from }, "malformed settlement message dropped");
      return;
    }
    const m = parsed.data;
    const limits: PlanLimits = { maxItems: m.maxItems, maxTokens: m.maxTokens };
    if (m.t === "sigReq") {
      // Only the committed plan's limits: never a second chunking of the same epoch.
      if (!sameLimits(this.#plans.get(m.epoch), limits)) return;
      const own = this.#ownSignatures(m.epoch, limits);
      if (own !== undefined) this.#host.sendApp(from, { t: "sigs", epoch: m.epoch.toString(), ...limitsFields(limits), signatures: [...own.signatures] });
      return;
    }
    const c = this.#collecting;
    const signer = this.#addressById.get(from);
    if (c === undefined || signer === undefined || c.epoch !== m.epoch || !sameLimits(c.limits, limits) || c.bySigner.has(signer)) return;
    if (m.signatures.length !== c.digests.length) return;
    for (let k = 0; k < c.digests.length; k++) {
      if (this.#signerOf(c.digests[k]!, m.signatures[k]!) !== signer) {
        this.#host.log.warn({ from, epoch: m.epoch.toString(), chunk: k }, "a member's settlement signature does not match our chunk; dropped");
        return;
      }
    }
    c.bySigner.set(signer, m.signatures);
  }

  /** This node's digests of and signatures over its own chunks of `epoch` (undefined while not sealed here). */
  #ownSignatures(epoch: bigint, limits: PlanLimits): OwnSignatures | undefined {
    const key = `${epoch}:${limits.maxItems}:${limits.maxTokens ?? "-"}`;
    const cached = this.#own.get(key);
    if (cached !== undefined) return cached;
    const settlements = settlementsOf(this.#host.ledger, epoch, limits);
    if (settlements === undefined) return undefined;
    const digests = settlements.map((s) => hashSettlement(this.#host.domain, s));
    const own = { digests, signatures: digests.map((d) => this.#validator.signingKey.sign(d).serialized as Hex) };
    if (this.#own.size >= OWN_SIGNATURES_CACHE) this.#own.delete(this.#own.keys().next().value!);
    this.#own.set(key, own);
    return own;
  }

  #warn(message: string, fields: Record<string, unknown>): void {
    const key = `${message}|${JSON.stringify(fields)}`;
    if (key === this.#lastWarning) return;
    this.#lastWarning = key;
    this.#host.log.warn(fields, message);
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#stopped) return;
    if (!this.#host.canPropose()) {
      this.#collecting = undefined;
      this.#submitter.reset();
      return;
    }
    this.#busy = true;
    try {
      // Several steps in a row while they make progress (one chunk after another).
      for (let i = 0; i < 64 && !this.#stopped && this.#host.canPropose(); i++) {
        if (!(await this.#step())) break;
      }
    } catch (error) {
      this.#warn("settlement step failed; retrying", { reason: reason(error) });
    } finally {
      this.#busy = false;
    }
  }

  /** One step of the leader's work on the next epoch to settle; true when another may follow at once. */
  async #step(): Promise<boolean> {
    const epoch = getEpochHeads(this.#host.ledger).lastSettledEpoch + 1n;
    const summary = getEpochStatus(this.#host.ledger, epoch);
    if (summary === undefined || summary.status !== "sealed") return false;
    const signed = this.#signed.get(epoch);
    if (signed === undefined) return this.#gather(epoch);
    const [lastEpoch, nextChunk] = await Promise.all([this.#submitter.read("lastEpoch"), this.#submitter.read("nextChunk")]);
    if (lastEpoch >= epoch) return this.#markSettled(signed);
    if (lastEpoch !== epoch - 1n) {
      this.#warn("the bridge is behind the ledger's settled epochs; waiting", { ledgerNext: epoch.toString(), bridgeLastEpoch: lastEpoch.toString() });
      return false;
    }
    if (!this.#host.config.settlement.autoSubmit) return false;
    return this.#submitter.step(signed, Number(nextChunk));
  }

  /**
   * The chunk limits of sealed `epoch` for the chain as it is now: sized by the gas model to the
   * latest block's gas limit (src/chain/settlementGas.ts). The block must be read: a guess could give chunks
   * that never fit, and the plan, once committed, is final.
   */
  async #chunkLimits(epoch: bigint): Promise<PlanLimits> {
    const block = await this.#provider.getBlock("latest");
    if (block === null) throw new Error("the chain has no latest block");
    return chunkLimitsFor(getEpochSummary(this.#host.ledger, epoch)!, this.#host.config.settlement.maxItemsPerChunk, block.gasLimit); // sealed: it exists
  }

  async #gather(epoch: bigint): Promise<boolean> {
    const limits = this.#plans.get(epoch);
    if (limits === undefined) {
      const planned = await this.#chunkLimits(epoch);
      this.#host.log.info({ epoch: epoch.toString(), ...planned }, "settlement plan proposed");
      return this.#host.commit({ type: "settlementPlan", epoch, ...planned });
    }
    let c = this.#collecting;
    if (c === undefined || c.epoch !== epoch) {
      const own = this.#ownSignatures(epoch, limits);
      if (own === undefined) return false;
      c = { epoch, limits, digests: own.digests, bySigner: new Map([[this.#validator.address.toLowerCase(), own.signatures]]), askedAt: 0 };
      this.#collecting = c;
      this.#host.log.info({ epoch: epoch.toString(), chunks: own.digests.length, ...limitsFields(limits) }, "gathering settlement signatures");
    }
    // The bridge's threshold; a majority of the members (its minimum) while the chain cannot be read,
    // so the signed settlement is still gathered and served.
    const threshold = await this.#submitter.read("threshold").catch(() => BigInt(this.#majority()));
    if (BigInt(c.bySigner.size) < threshold) {
      const now = Date.now();
      if (now - c.askedAt >= ASK_EVERY_MS) {
        c.askedAt = now;
        for (const [id, address] of this.#addressById) {
          if (id !== this.#selfId && !c.bySigner.has(address)) this.#host.sendApp(id, { t: "sigReq", epoch: epoch.toString(), ...limitsFields(c.limits) });
        }
      }
      return false;
    }
    const signers = [...c.bySigner.keys()].sort();
    const entry: SignaturesEntry = {
      type: "signatures",
      epoch,
      ...limitsFields(c.limits),
      chunks: c.digests.map((_, k) => signers.map((a) => c.bySigner.get(a)![k]!)),
    };
    return this.#host.commit(entry);
  }

  /** The epoch landed: once its last chunk has the confirmations, append "settled" with the chunks' transactions. */
  async #markSettled(signed: SignedSettlement): Promise<boolean> {
    const landed = await this.#submitter.findSettled(signed.epoch, signed.settlements.length, this.#scanFrom);
    if (landed === undefined) {
      this.#warn("an epoch the bridge settled lacks a Settled event; retrying", { epoch: signed.epoch.toString() });
      return false;
    }
    // Later scans start at this epoch's first chunk (epochs land in order).
    this.#scanFrom = Math.max(this.#scanFrom, landed.firstBlock);
    const head = await this.#provider.getBlockNumber();
    if (head - landed.lastBlock + 1 < Math.max(1, this.#host.config.chain.confirmations)) return false;
    return this.#host.commit({ type: "settled", epoch: signed.epoch, txHashes: [...landed.txHashes] });
  }
}
