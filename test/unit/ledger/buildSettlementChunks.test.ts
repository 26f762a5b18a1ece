// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeltaError } from "../../../src/errors.ts";
import { buildSettlementChunks, type SettlementSource } from "../../../src/ledger/index.ts";
import type { Address, Settlement } from "../../../src/protocol/index.ts";
import { accountAt, hashOf, NATIVE, TOKEN } from "./fixtures.ts";

// accountAt(n) is the address n + 1, so these end in the hex digits a, b, c, d (what `shape` prints).
const [A, B, C, D] = [accountAt(9), accountAt(10), accountAt(11), accountAt(12)] as const;
const ROOT = hashOf("root");

function source(deltas: [Address, bigint, Address?][], payouts: [Address, bigint, Address?][] = []): SettlementSource {
  return {
    epoch: 7n,
    status: "sealed",
    root: ROOT,
    deltas: deltas.map(([account, amount, token]) => ({ account, token: token ?? TOKEN, amount })),
    payouts: payouts.map(([account, amount, token]) => ({ account, token: token ?? TOKEN, amount })),
  };
}

function shape(chunks: readonly Settlement[]): string[][] {
  return chunks.map((c) => [
    ...c.deltas.map((d) => `${d.account.slice(-1)}${d.amount > 0n ? "+" : ""}${d.amount}`),
    ...c.payouts.map((p) => `pay:${p.account.slice(-1)}${p.amount}`),
  ]);
}

function isCode(code: string) {
  return (e: unknown) => e instanceof DeltaError && e.code === code;
}

describe("buildSettlementChunks", () => {
  it("refuses fewer than 2 items per chunk, or a non-integer, with INVALID_CHUNK_SIZE", () => {
    for (const n of [1, 0, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => buildSettlementChunks(source([]), n), isCode("INVALID_CHUNK_SIZE"), String(n));
    }
  });

  it("refuses an open epoch", () => {
    assert.throws(() => buildSettlementChunks({ ...source([]), status: "open", root: null }, 10), isCode("EPOCH_OPEN"));
  });

  it("pins the greedy split: A-10, B-5 against C+7, D+8", () => {
    const src = source([
      [A, -10n],
      [B, -5n],
      [C, 7n],
      [D, 8n],
    ]);
    assert.deepEqual(shape(buildSettlementChunks(src, 3)), [
      ["a-10", "c+7", "d+3"],
      ["b-5", "d+5"],
    ]);
    assert.deepEqual(shape(buildSettlementChunks(src, 2)), [
      ["a-7", "c+7"],
      ["a-3", "d+3"],
      ["b-5", "d+5"],
    ]);
    assert.deepEqual(shape(buildSettlementChunks(src, 4)), [["a-10", "b-5", "c+7", "d+8"]]);
  });

  it("numbers chunks i of n with the epoch and its root on each", () => {
    const chunks = buildSettlementChunks(
      source([
        [A, -10n],
        [B, -5n],
        [C, 7n],
        [D, 8n],
      ]),
      2,
    );
    assert.deepEqual(
      chunks.map((c) => [c.epoch, c.chunk, c.chunks, c.transfersRoot]),
      [
        [7n, 0, 3, ROOT],
        [7n, 1, 3, ROOT],
        [7n, 2, 3, ROOT],
      ],
    );
  });

  it("pairs a withdrawal's negative delta with its payout", () => {
    assert.deepEqual(shape(buildSettlementChunks(source([[A, -10n]], [[A, 10n]]), 2)), [["a-10", "pay:a10"]]);
  });

  it("leaves out zero deltas, and still yields one empty chunk for an epoch with nothing to move", () => {
    const chunks = buildSettlementChunks(source([[A, 0n]]), 5);
    assert.equal(chunks.length, 1);
    assert.deepEqual([chunks[0]?.deltas, chunks[0]?.payouts, chunks[0]?.chunks], [[], [], 1]);
  });

  it("conserves per token in every chunk when tokens share chunks", () => {
    const chunks = buildSettlementChunks(
      source([
        [A, -3n, NATIVE],
        [B, 3n, NATIVE],
        [A, -4n],
        [C, 1n],
        [D, 3n],
      ]),
      3,
    );
    for (const chunk of chunks) {
      const sums = new Map<string, bigint>();
      for (const d of chunk.deltas) sums.set(d.token, (sums.get(d.token) ?? 0n) + d.amount);
      for (const p of chunk.payouts) sums.set(p.token, (sums.get(p.token) ?? 0n) + p.amount);
      for (const [token, sum] of sums) assert.equal(sum, 0n, `token ${token} in chunk ${chunk.chunk}`);
      assert.ok(chunk.deltas.length + chunk.payouts.length <= 3);
    }
  });

  it("gives the same chunks whatever the order of its input", () => {
    const list: [Address, bigint][] = [
      [A, -10n],
      [B, -5n],
      [C, 7n],
      [D, 8n],
    ];
    const forward = buildSettlementChunks(source(list), 3);
    const backward = buildSettlementChunks(source([...list].reverse()), 3);
    assert.deepEqual(forward, backward);
  });

  it("refuses netting that does not conserve, duplicates, and deltas outside int256", () => {
    assert.throws(() => buildSettlementChunks(source([[A, -1n]]), 2), isCode("INTERNAL"));
    assert.throws(
      () =>
        buildSettlementChunks(
          source([
            [A, -1n],
            [A, -1n],
            [B, 2n],
          ]),
          2,
        ),
      isCode("INTERNAL"),
    );
    assert.throws(() => buildSettlementChunks(source([[A, -5n]], [[A, 0n]]), 2), isCode("INTERNAL"));
    const huge = 1n << 255n;
    assert.throws(
      () =>
        buildSettlementChunks(
          source([
            [A, -huge],
            [B, huge],
          ]),
          2,
        ),
      isCode("AMOUNT_TOO_LARGE"),
    );
  });
});
