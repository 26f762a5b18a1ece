// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The gas model of a settlement chunk (DeltaBridge.settle), and the chunk limits it gives: how many
 * items (deltas plus payouts) and how many distinct tokens a chunk may hold so that it always fits
 * well within a block (docs/operations.md, "Settlement gas"). The leader plans each epoch's chunks
 * with it (src/node/settler.ts), and the submitter takes a chunk's bound as its gas limit, checked
 * by one eth_call, instead of Ganache's eth_estimateGas, which executes the chunk many times over
 * (more than 10 s for a chunk of 128 tokens).
 *
 * Measured on Ganache 7.9.2 (shanghai rules), solc 0.8.30 paris with the optimizer at 200 runs,
 * by `node bench/gas.ts tokens` (bench/results/gas.json, `tokens`, 2026-12-05):
 * - a chunk's fixed cost (transaction, 2 of 3 signatures, the epoch's root slot): about 85,000;
 * - a delta that makes an account's balance of a token non-zero: 24,054 (800-delta chunk, fixed cost
 *   included); a payout to a fresh `withdrawable` slot: 24,358; a debit of an existing balance: 7,140;
 * - each distinct token: 1,106 (its balances mapping, its running sum, the final conservation check);
 * - the bridge finds a token's running sum by a linear scan over the chunk's tokens seen so far:
 *   151 gas per step. With T tokens of one debit and one payout each, in the node's item order,
 *   the scans take about T^2 steps: 256 tokens cost 18,331,049 gas against 8,148,502 for the same
 *   512 items in one token.
 * An item scans at most as many steps as its chunk has tokens, so a chunk of `items` items and
 * `tokens` tokens costs at most
 *   CHUNK_BASE_GAS + items * (GAS_PER_ITEM + tokens * GAS_PER_SCAN_STEP) + tokens * GAS_PER_TOKEN.
 * The constants below round the measurements up (every item priced as the dearest kind, a fresh
 * storage slot; room for more signatures than two), and chunks are sized to 80% of the block gas
 * limit, so a chunk's real gas stays well inside a block whatever tokens and accounts it holds.
 */
import type { SettlementSource } from "../ledger/index.ts";
import type { Settlement } from "../protocol/index.ts";

/** Fixed gas of a chunk: 85,000 measured with 2 signatures; the rest is room for up to about 10 more. */
export const CHUNK_BASE_GAS = 150_000n;
/** Gas of an item priced as the dearest kind, a fresh storage slot (24,358 measured for a payout, 24,054 for a delta). */
export const GAS_PER_ITEM = 26_000n;
/** Gas of each distinct token in a chunk (1,106 measured). */
export const GAS_PER_TOKEN = 1_500n;
/** Gas of one step of the bridge's linear scan for a token's running sum (151 measured). */
export const GAS_PER_SCAN_STEP = 160n;
/** Share of the block gas limit a chunk's modelled gas may use, in percent. */
export const BLOCK_GAS_SHARE_PERCENT = 80n;
/** Most distinct tokens a chunk may hold, whatever the block: beyond it the scans cost more than the items. */
export const MAX_TOKENS_PER_CHUNK = 1_024;

/** How a sealed epoch is cut into chunks: at most `maxItems` items and `maxTokens` distinct tokens each. */
export interface ChunkLimits {
  readonly maxItems: number;
  readonly maxTokens: number;
}

/** The modelled gas bound of a chunk of `items` items and `tokens` distinct tokens (see the file's comment). */
export function chunkGasBound(items: number, tokens: number): bigint {
  const n = BigInt(items);
  const t = BigInt(tokens);
  return CHUNK_BASE_GAS + n * (GAS_PER_ITEM + t * GAS_PER_SCAN_STEP) + t * GAS_PER_TOKEN;
}

/**
 * Most items a chunk of at most `maxTokens` tokens may hold so that its modelled gas is within 80%
 * of `blockGasLimit`, and at most `configured`; never below 2 (a chunk's first step adds two items),
 * so on a block too small for even that the chunk is still built and the submitter's estimate says why.
 */
export function maxItemsFor(configured: number, maxTokens: number, blockGasLimit: bigint): number {
  const budget = (blockGasLimit * BLOCK_GAS_SHARE_PERCENT) / 100n - CHUNK_BASE_GAS - BigInt(maxTokens) * GAS_PER_TOKEN;
  const perItem = GAS_PER_ITEM + BigInt(maxTokens) * GAS_PER_SCAN_STEP;
  const fits = budget > 0n ? budget / perItem : 0n;
  return Math.max(2, Math.min(configured, Number(fits > 1_000_000n ? 1_000_000n : fits)));
}

/** The distinct tokens and the items (non-zero deltas plus payouts) of an epoch. */
function countsOf(source: SettlementSource): { tokens: number; items: number } {
  const tokens = new Set<string>();
  let items = 0;
  for (const d of source.deltas) {
    if (d.amount === 0n) continue; // a zero net delta settles nothing
    tokens.add(d.token.toLowerCase());
    items++;
  }
  for (const p of source.payouts) {
    tokens.add(p.token.toLowerCase());
    items++;
  }
  return { tokens: tokens.size, items };
}

/**
 * The chunk limits for a sealed epoch on a chain whose blocks hold `blockGasLimit` gas: of the
 * token caps 1, 2, 4, ... up to the epoch's token count (and that count itself), each with the
 * most items that fit (maxItemsFor), the one that needs the fewest chunks by estimate (the items
 * over the item cap, or the tokens over the token cap, whichever is more); on a tie the one with
 * more items per chunk. An epoch of one token gets the whole item budget; one of hundreds of
 * tokens gets chunks of fewer items that each fit. Arithmetic only: the leader does not build the
 * chunks to choose. It commits the result in the epoch's settlement plan, and every node builds
 * the same chunks from it.
 */
export function chunkLimitsFor(source: SettlementSource, configured: number, blockGasLimit: bigint): ChunkLimits {
  const counts = countsOf(source);
  const epochTokens = Math.max(1, Math.min(counts.tokens, MAX_TOKENS_PER_CHUNK));
  const caps: number[] = [];
  for (let k = 1; k < epochTokens; k *= 2) caps.push(k);
  caps.push(epochTokens);
  let best: { limits: ChunkLimits; chunks: number } | undefined;
  for (const maxTokens of caps) {
    const maxItems = maxItemsFor(configured, maxTokens, blockGasLimit);
    const chunks = Math.max(Math.ceil(counts.items / maxItems), Math.ceil(counts.tokens / maxTokens), 1);
    if (best === undefined || chunks < best.chunks || (chunks === best.chunks && maxItems > best.limits.maxItems)) {
      best = { limits: { maxItems, maxTokens }, chunks };
    }
  }
  return best!.limits; // caps is never empty
}

/** The modelled gas bound of `settlement` (its items and distinct tokens). */
export function settlementGasBound(settlement: Pick<Settlement, "deltas" | "payouts">): bigint {
  const tokens = new Set<string>();
  for (const d of settlement.deltas) tokens.add(d.token.toLowerCase());
  for (const p of settlement.payouts) tokens.add(p.token.toLowerCase());
  return chunkGasBound(settlement.deltas.length + settlement.payouts.length, tokens.size);
}
