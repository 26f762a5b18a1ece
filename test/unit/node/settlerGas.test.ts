// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The settlement gas model and the chunk limits it gives (src/chain/settlementGas.ts), and the
 * submitter's gas limit (src/chain/settlementSubmitter.ts): the bound covers what was measured on
 * Ganache, every chunk built with the chosen limits fits 80% of the block by the model, an epoch of
 * hundreds of tokens gets small chunks and one of a single token the whole budget, and a
 * transaction never asks for more gas than a block holds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { settlementGasLimit } from "../../../src/chain/settlementSubmitter.ts";
import { buildSettlementChunks, type SettlementSource } from "../../../src/ledger/index.ts";
import { chunkGasBound, chunkLimitsFor, maxItemsFor, MAX_TOKENS_PER_CHUNK, settlementGasBound } from "../../../src/chain/settlementGas.ts";
import type { Address } from "../../../src/protocol/index.ts";
import { accountAt, hashOf } from "../ledger/fixtures.ts";

const BLOCK_30M = 30_000_000n;

/** `holders` accounts each withdrawing part of every one of `tokens` tokens: a debit and a payout per pair. */
function junkEpoch(tokens: number, holders = 1): SettlementSource {
  const deltas = [];
  const payouts = [];
  for (let t = 0; t < tokens; t++) {
    const token = accountAt(10_000 + t);
    for (let h = 0; h < holders; h++) {
      deltas.push({ account: accountAt(h), token, amount: -3n });
      payouts.push({ account: accountAt(h), token, amount: 3n });
    }
  }
  return { epoch: 1n, status: "sealed", root: hashOf("root"), deltas, payouts };
}

/** `n` accounts paid by one, in one token. */
function oneTokenEpoch(n: number, token: Address = accountAt(5)): SettlementSource {
  const deltas = [{ account: accountAt(0), token, amount: -BigInt(n) }];
  for (let i = 1; i <= n; i++) deltas.push({ account: accountAt(100 + i), token, amount: 1n });
  return { epoch: 1n, status: "sealed", root: hashOf("root"), deltas, payouts: [] };
}

function tokensIn(s: { deltas: readonly { token: string }[]; payouts: readonly { token: string }[] }): number {
  return new Set([...s.deltas, ...s.payouts].map((x) => x.token)).size;
}

describe("settlement gas model", () => {
  it("bounds every chunk measured on Ganache (bench/results/gas.json, tokens)", () => {
    // [items, tokens, gas used]: one-token pairs, the same pairs in as many tokens, payouts alone.
    const measured: [number, number, number][] = [
      [64, 1, 1_093_012],
      [256, 1, 4_116_418],
      [512, 1, 8_148_502],
      [64, 32, 1_280_055],
      [256, 128, 6_730_533],
      [512, 256, 18_331_049],
      [257, 1, 6_324_924],
      [801, 1, 19_267_284], // 800 deltas to new accounts and the whale's debit
    ];
    for (const [items, tokens, gas] of measured) {
      const bound = chunkGasBound(items, tokens);
      assert.ok(bound >= BigInt(gas), `${items} items in ${tokens} tokens: bound ${bound} < measured ${gas}`);
    }
  });

  it("prices a chunk by its items and distinct tokens (any address case)", () => {
    const [t1, t2] = [accountAt(7), accountAt(8)];
    const chunk = {
      deltas: [
        { account: accountAt(1), token: t1, amount: -5n },
        { account: accountAt(2), token: t1.toUpperCase().replace("0X", "0x") as Address, amount: 2n },
        { account: accountAt(1), token: t2, amount: -1n },
      ],
      payouts: [
        { account: accountAt(3), token: t1, amount: 3n },
        { account: accountAt(1), token: t2, amount: 1n },
      ],
    };
    assert.equal(settlementGasBound(chunk), chunkGasBound(5, 2));
    assert.equal(chunkGasBound(5, 2), 150_000n + 5n * (26_000n + 2n * 160n) + 2n * 1_500n);
  });

  it("sizes items to 80% of the block for a token cap, never above the configured size nor below 2", () => {
    assert.equal(maxItemsFor(1_000, 1, BLOCK_30M), 911); // (24M - 150,000 - 1,500) / 26,160
    assert.equal(maxItemsFor(500, 1, BLOCK_30M), 500);
    assert.equal(maxItemsFor(1_000, 64, BLOCK_30M), 655); // (24M - 150,000 - 96,000) / 36,240
    assert.equal(maxItemsFor(1_000, 1, 10_000n), 2, "a chunk's first step adds two items");
    for (const limit of [6_721_975n, 15_000_000n, BLOCK_30M, 60_000_000n]) {
      for (const tokens of [1, 2, 16, 256, MAX_TOKENS_PER_CHUNK]) {
        const items = maxItemsFor(10_000, tokens, limit);
        if (items > 2) assert.ok(chunkGasBound(items, tokens) <= (limit * 80n) / 100n, `${limit} ${tokens}`);
      }
    }
  });

  it("gives a one-token epoch the whole item budget", () => {
    assert.deepEqual(chunkLimitsFor(oneTokenEpoch(5_000), 1_000, BLOCK_30M), { maxItems: 911, maxTokens: 1 });
    assert.deepEqual(chunkLimitsFor(oneTokenEpoch(3), 1_000, BLOCK_30M), { maxItems: 911, maxTokens: 1 });
    const empty: SettlementSource = { epoch: 1n, status: "sealed", root: hashOf("root"), deltas: [], payouts: [] };
    assert.deepEqual(chunkLimitsFor(empty, 1_000, BLOCK_30M), { maxItems: 911, maxTokens: 1 });
  });

  it("cuts an epoch of hundreds of junk tokens into a few chunks that each fit 80% of the block", () => {
    for (const [tokens, holders] of [
      [360, 1],
      [1_000, 1],
      [120, 3],
      [2_000, 2],
    ] as const) {
      const epoch = junkEpoch(tokens, holders);
      const limits = chunkLimitsFor(epoch, 1_000, BLOCK_30M);
      const chunks = buildSettlementChunks(epoch, limits.maxItems, limits.maxTokens);
      for (const c of chunks) {
        const bound = chunkGasBound(c.deltas.length + c.payouts.length, tokensIn(c));
        assert.ok(bound <= 24_000_000n, `${tokens} tokens x ${holders}: chunk ${c.chunk} bound ${bound}`);
      }
      // Not more chunks than needed: at most one more than the items over the largest one-token chunk
      // would take, or than the tokens over the largest cap.
      const items = epoch.deltas.length + epoch.payouts.length;
      assert.ok(chunks.length <= Math.max(Math.ceil(items / 300), Math.ceil(tokens / MAX_TOKENS_PER_CHUNK)) + 1, `${tokens} x ${holders}: ${chunks.length} chunks`);
    }
    // 360 tokens, 720 items: caps of 128, 256 or 360 tokens all need 3 chunks (508, 350 or 278
    // items); the one with the most items per chunk is taken.
    assert.deepEqual(chunkLimitsFor(junkEpoch(360), 1_000, BLOCK_30M), { maxItems: 508, maxTokens: 128 });
    assert.equal(buildSettlementChunks(junkEpoch(360), 508, 128).length, 3);
  });

  it("the token cap never exceeds MAX_TOKENS_PER_CHUNK nor the epoch's tokens", () => {
    assert.equal(chunkLimitsFor(junkEpoch(5_000), 10_000, 60_000_000n).maxTokens <= MAX_TOKENS_PER_CHUNK, true);
    assert.equal(chunkLimitsFor(junkEpoch(3), 1_000, BLOCK_30M).maxTokens, 3);
  });
});

describe("settlement transaction gas limit", () => {
  it("pads the estimate by 20%, but never above the block's gas limit", () => {
    assert.equal(settlementGasLimit(1_000_000n, BLOCK_30M), 1_200_000n);
    assert.equal(settlementGasLimit(26_000_000n, BLOCK_30M), BLOCK_30M, "31.2M would never be mined");
    assert.equal(settlementGasLimit(BLOCK_30M, BLOCK_30M), BLOCK_30M);
    assert.equal(settlementGasLimit(1_000_000n, undefined), 1_200_000n);
  });

  it("refuses an estimate above the block (no gas limit can make it land)", () => {
    assert.equal(settlementGasLimit(BLOCK_30M + 1n, BLOCK_30M), undefined);
  });
});
