// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Sends a quorum-signed epoch's chunks to DeltaBridge, in order, and finds where they landed.
 * Used by the cluster's leader (src/node/settler.ts, one step per poll) and by
 * `scripts/settle.ts` (step until landed), so both follow the same rules:
 *
 * - The chain is the truth: the caller reads `lastEpoch()`/`nextChunk()` before each chunk, so a
 *   landed chunk is not sent again and none is skipped, whoever submitted it.
 * - The gas limit is the chunk's modelled bound (settlementGas.ts: measured on Ganache, priced for
 *   the worst items, so a chunk's real gas stays below it), checked by one `eth_call` with exactly
 *   that gas: the call refuses a chunk the chain would revert (landed meanwhile, out of order) and
 *   one the bound would not cover. Only then is the chunk estimated (`eth_estimateGas`, plus 20%),
 *   which also names the revert. Ganache's estimate executes a chunk many times over: it took more
 *   than the 10 s RPC timeout on every try for a chunk of 128 tokens, so estimating every chunk
 *   could stall settlement on its own.
 * - The gas limit is never above the latest block's: a transaction asking for more than a block
 *   holds is refused by every node and would never be mined. A chunk whose estimate alone exceeds
 *   a block is not sent (no gas limit can mend it); the leader plans chunks whose bound is within
 *   80% of a block, so this takes a chunk built elsewhere (an old plan, another block limit).
 * - A transaction not mined within `replaceAfterMs` is replaced: same nonce, gas price +25%,
 *   never above `maxGasPriceGwei`. A transaction of ours still pending at our first unmined nonce
 *   (sent before a restart, its hash forgotten) is replaced too, not queued behind.
 */
import { getAddress, Interface, zeroPadValue, toBeHex, type Log, type Provider, type Signer } from "ethers";
import type { Hash, Hex, Settlement } from "../protocol/index.ts";
import { bridgeAbi } from "./deploy.ts";
import { settlementTuple } from "./settlementCall.ts";
import { settlementGasBound } from "./settlementGas.ts";

/** A sealed epoch's chunks with their quorum's signatures, as the log holds them. */
export interface SignedSettlement {
  readonly epoch: bigint;
  readonly settlements: readonly Settlement[];
  /** Per chunk, strictly ascending by signer. */
  readonly signatures: readonly (readonly Hex[])[];
}

/** The pino methods the submitter uses. */
export interface SubmitterLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface SettlementSubmitterOptions {
  readonly provider: Provider;
  /** Pays the gas; connected to `provider`. */
  readonly signer: Signer;
  readonly bridge: string;
  /** A transaction not mined in this time is replaced with a higher gas price. */
  readonly replaceAfterMs: number;
  /** Replacements never go above this (gwei). */
  readonly maxGasPriceGwei: number;
  /** Pause before sending each chunk (tests open a window with it); default 0. */
  readonly chunkDelayMs?: number;
  readonly logger: SubmitterLogger;
  /** Wall clock, ms. */
  readonly nowMs?: () => number;
}

/** Gas limit of a settlement transaction, in percent of its estimate (before the block cap). */
const GAS_LIMIT_PERCENT = 120n;
/** Gas price of a replacement transaction, in percent of the one it replaces. */
const REPLACEMENT_PRICE_PERCENT = 125n;
/** Most blocks per eth_getLogs call when looking for Settled events (providers cap ranges). */
const MAX_LOG_RANGE = 5_000;

interface InFlight {
  readonly epoch: bigint;
  readonly chunk: number;
  readonly nonce: number;
  readonly hashes: string[];
  gasPrice: bigint;
  sentAt: number;
}

/** Where an epoch's chunks landed: their transactions in chunk order, and the blocks of the first and last. */
export interface SettledOnChain {
  readonly txHashes: readonly Hash[];
  readonly firstBlock: number;
  readonly lastBlock: number;
}

/**
 * The gas limit of a settlement transaction estimated at `estimate`: the estimate plus 20%, capped
 * at `blockGasLimit` (when known); undefined when the estimate itself exceeds the block, which no
 * gas limit can mend.
 */
export function settlementGasLimit(estimate: bigint, blockGasLimit: bigint | undefined): bigint | undefined {
  const padded = (estimate * GAS_LIMIT_PERCENT) / 100n;
  if (blockGasLimit === undefined) return padded;
  if (estimate > blockGasLimit) return undefined;
  return padded > blockGasLimit ? blockGasLimit : padded;
}

export class SettlementSubmitter {
  readonly #o: SettlementSubmitterOptions;
  readonly #bridge = new Interface(bridgeAbi());
  readonly #bridgeAddress: string;
  readonly #now: () => number;
  #inFlight: InFlight | undefined;
  /** Chunk `key` may be sent from `at` on (chunkDelayMs). */
  #pace: { key: string; at: number } | undefined;

  constructor(options: SettlementSubmitterOptions) {
    this.#o = options;
    this.#bridgeAddress = getAddress(options.bridge);
    this.#now = options.nowMs ?? Date.now;
  }

  /** Forgets the transaction in flight (the leader lost the lead; a later one reads the chain again). */
  reset(): void {
    this.#inFlight = undefined;
  }

  /** A uint view of the bridge: lastEpoch, nextChunk or threshold. */
  async read(fn: "lastEpoch" | "nextChunk" | "threshold"): Promise<bigint> {
    const data = await this.#o.provider.call({ to: this.#bridgeAddress, data: this.#bridge.encodeFunctionData(fn, []) });
    return BigInt(this.#bridge.decodeFunctionResult(fn, data)[0] as bigint); // uint results decode to bigint
  }

  /**
   * One step on chunk `chunk` of `signed` (the bridge's nextChunk): sends it, or watches the one
   * already sent (replacing it when overdue). True once a transaction of it was mined (the
   * caller reads the chain again), false while it waits.
   */
  async step(signed: SignedSettlement, chunk: number): Promise<boolean> {
    const settlement = signed.settlements[chunk];
    const signatures = signed.signatures[chunk];
    if (settlement === undefined || signatures === undefined) return false;
    const { replaceAfterMs, chunkDelayMs = 0, logger } = this.#o;
    const provider = this.#o.provider;
    const now = this.#now();
    const f = this.#inFlight;
    if (f !== undefined && f.epoch === signed.epoch && f.chunk === chunk) {
      for (const hash of f.hashes) {
        const receipt = await provider.getTransactionReceipt(hash);
        if (receipt !== null) {
          this.#inFlight = undefined;
          if (receipt.status !== 1) logger.warn({ epoch: signed.epoch.toString(), chunk, tx: hash }, "settlement transaction reverted; the chain is read again");
          return true;
        }
      }
      if (now - f.sentAt < replaceAfterMs) return false;
      const cap = this.#priceCap();
      if (f.gasPrice >= cap) {
        logger.warn({ epoch: signed.epoch.toString(), chunk, gasPrice: f.gasPrice.toString() }, "settlement transaction not mined and already at settlement.maxGasPriceGwei; waiting");
        return false;
      }
      const raised = (f.gasPrice * REPLACEMENT_PRICE_PERCENT) / 100n + 1n;
      const price = raised > cap ? cap : raised;
      const tx = await this.#send(settlement, signatures, f.nonce, price);
      f.gasPrice = price;
      f.hashes.push(tx);
      f.sentAt = now;
      logger.warn({ epoch: signed.epoch.toString(), chunk, tx, gasPrice: price.toString() }, "settlement transaction not mined in time; replaced with a higher gas price");
      return false;
    }
    const key = `${signed.epoch}:${chunk}`;
    if (chunkDelayMs > 0) {
      if (this.#pace?.key !== key) this.#pace = { key, at: now + chunkDelayMs };
      if (now < this.#pace.at) return false;
    }
    const from = await this.#o.signer.getAddress();
    const [latest, pending] = await Promise.all([provider.getTransactionCount(from, "latest"), provider.getTransactionCount(from, "pending")]);
    const nonce = latest;
    const market = (await provider.getFeeData()).gasPrice ?? 1_000_000_000n;
    const wanted = pending > latest ? (market * 2n * REPLACEMENT_PRICE_PERCENT) / 100n : market;
    const gasPrice = wanted > this.#priceCap() ? this.#priceCap() : wanted;
    const tx = await this.#send(settlement, signatures, nonce, gasPrice);
    this.#inFlight = { epoch: signed.epoch, chunk, nonce, hashes: [tx], gasPrice, sentAt: now };
    logger.info({ epoch: signed.epoch.toString(), chunk, chunks: settlement.chunks, tx }, "settlement chunk sent");
    // Kept in flight even once mined: a next step that reads a stale nextChunk finds this receipt
    // instead of sending the chunk again.
    const receipt = await provider.waitForTransaction(tx, 1, Math.min(replaceAfterMs, 5_000)).catch(() => null);
    return receipt !== null;
  }

  /**
   * The Settled events of `epoch` from block `fromBlock` on: its chunks' transactions in order,
   * or undefined while any chunk of its `chunks` has none.
   */
  async findSettled(epoch: bigint, chunks: number, fromBlock: number): Promise<SettledOnChain | undefined> {
    const provider = this.#o.provider;
    const head = await provider.getBlockNumber();
    const logs: Log[] = [];
    for (let from = fromBlock; from <= head; from += MAX_LOG_RANGE) {
      const to = Math.min(head, from + MAX_LOG_RANGE - 1);
      logs.push(
        ...(await provider.getLogs({
          address: this.#bridgeAddress,
          topics: [this.#bridge.getEvent("Settled")!.topicHash, zeroPadValue(toBeHex(epoch), 32)],
          fromBlock: from,
          toBlock: to,
        })),
      );
    }
    const byChunk = new Map<number, Log>();
    for (const log of logs) {
      const parsed = this.#bridge.parseLog(log);
      if (parsed !== null) byChunk.set(Number(parsed.args[1] as bigint), log); // chunk: uint32 decoded as bigint
    }
    const txHashes: Hash[] = [];
    for (let k = 0; k < chunks; k++) {
      const log = byChunk.get(k);
      if (log === undefined) return undefined;
      txHashes.push(log.transactionHash as Hash);
    }
    return { txHashes, firstBlock: byChunk.get(0)!.blockNumber, lastBlock: byChunk.get(chunks - 1)!.blockNumber };
  }

  #priceCap(): bigint {
    return BigInt(this.#o.maxGasPriceGwei) * 1_000_000_000n;
  }

  /**
   * Sends one `settle` call with the chunk's modelled gas bound as its gas limit (never above the
   * block's), after one `eth_call` with that gas shows it executes. When the call fails, the
   * estimate decides: it throws for a chunk the chain refuses (landed, out of order), else gives the
   * gas limit (settlementGasLimit). A chunk that needs more than a block is not sent but reported;
   * the caller retries on its next step.
   */
  async #send(settlement: Settlement, signatures: readonly Hex[], nonce: number, gasPrice: bigint): Promise<string> {
    const provider = this.#o.provider;
    const data = this.#bridge.encodeFunctionData("settle", [settlementTuple(settlement), signatures]);
    const from = await this.#o.signer.getAddress();
    const blockGasLimit = (await provider.getBlock("latest"))?.gasLimit;
    const bound = settlementGasBound(settlement);
    let gasLimit: bigint | undefined = blockGasLimit !== undefined && bound > blockGasLimit ? blockGasLimit : bound;
    const fits = await provider.call({ from, to: this.#bridgeAddress, data, gasLimit }).then(
      () => true,
      () => false,
    );
    if (!fits) {
      const gas = await provider.estimateGas({ from, to: this.#bridgeAddress, data });
      gasLimit = settlementGasLimit(gas, blockGasLimit);
      if (gasLimit === undefined) {
        throw new Error(`settlement chunk ${settlement.chunk} of epoch ${settlement.epoch} needs ${gas} gas, more than a block's ${blockGasLimit}`);
      }
      this.#o.logger.warn({ epoch: settlement.epoch.toString(), chunk: settlement.chunk, bound: bound.toString(), estimate: gas.toString() }, "settlement chunk does not execute within its modelled gas; sent with its estimate");
    }
    const tx = await this.#o.signer.sendTransaction({ to: this.#bridgeAddress, data, nonce, gasPrice, gasLimit, type: 0 });
    return tx.hash;
  }
}
