// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DeltaError } from "../../../src/errors.ts";
import { buildSettlementChunks, type SettlementSource } from "../../../src/ledger/index.ts";
import type { Address, Delta, Payout, Settlement } from "../../../src/protocol/index.ts";
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

/** The distinct tokens of a chunk. */
function tokensOf(chunk: Settlement): Set<string> {
  return new Set([...chunk.deltas, ...chunk.payouts].map((x) => x.token));
}

/** Sum per `kind/account/token` of items, for checking that chunks add up to the epoch. */
function totals(deltas: readonly Delta[], payouts: readonly Payout[]): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  const add = (key: string, amount: bigint) => {
    const sum = (sums.get(key) ?? 0n) + amount;
    if (sum === 0n) sums.delete(key);
    else sums.set(key, sum);
  };
  for (const d of deltas) add(`d/${d.account}/${d.token}`, d.amount);
  for (const p of payouts) add(`p/${p.account}/${p.token}`, p.amount);
  return sums;
}

describe("buildSettlementChunks: the token cap", () => {
  /** One holder withdrawing `n` tokens: a debit and a payout of each (what junk tokens give). */
  const withdrawals = (n: number): SettlementSource => {
    const tokens = Array.from({ length: n }, (_, i) => accountAt(500 + i));
    return source(
      tokens.map((t): [Address, bigint, Address] => [A, -5n, t]),
      tokens.map((t): [Address, bigint, Address] => [A, 5n, t]),
    );
  };

  it("refuses a cap below 1, or a non-integer, with INVALID_CHUNK_SIZE", () => {
    for (const k of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => buildSettlementChunks(withdrawals(3), 10, k), isCode("INVALID_CHUNK_SIZE"), String(k));
    }
  });

  it("closes a chunk before its (K+1)th token, even with room for items", () => {
    const chunks = buildSettlementChunks(withdrawals(10), 1_000, 3);
    assert.deepEqual(
      chunks.map((c) => tokensOf(c).size),
      [3, 3, 3, 1],
    );
    assert.deepEqual(
      chunks.map((c) => [c.chunk, c.chunks]),
      [
        [0, 4],
        [1, 4],
        [2, 4],
        [3, 4],
      ],
    );
    // Without the cap the same epoch is one chunk of 20 items (plans from before the cap).
    assert.equal(buildSettlementChunks(withdrawals(10), 1_000).length, 1);
    assert.deepEqual(buildSettlementChunks(withdrawals(10), 1_000, 10), buildSettlementChunks(withdrawals(10), 1_000));
  });

  it("counts a token split by the item cap in the next chunk too", () => {
    // Token X: A-6 against six accounts' +1 (7 items); then tokens Y and Z, 2 items each.
    const [X, Y, Z] = [accountAt(700), accountAt(701), accountAt(702)];
    const credited = Array.from({ length: 6 }, (_, i) => accountAt(40 + i));
    const src = source([
      [A, -6n, X],
      ...credited.map((c): [Address, bigint, Address] => [c, 1n, X]),
      [A, -1n, Y],
      [B, 1n, Y],
      [A, -1n, Z],
      [B, 1n, Z],
    ]);
    // 6 items, 2 tokens: X fills chunk 0 and goes on in chunk 1 (2 items), which takes Y
    // (4 items) but not Z: room for its items, not for a third token.
    const chunks = buildSettlementChunks(src, 6, 2);
    assert.deepEqual(
      chunks.map((c) => [[...tokensOf(c)].sort(), c.deltas.length + c.payouts.length]),
      [
        [[X], 6],
        [[X, Y].sort(), 4],
        [[Z], 2],
      ],
    );
    // With room for 3 tokens, Z joins chunk 1.
    assert.equal(buildSettlementChunks(src, 6, 3).length, 2);
  });

  it("every chunk conserves, holds at most N items and K tokens, and together they are the epoch (random epochs)", () => {
    const accounts = Array.from({ length: 6 }, (_, i) => accountAt(20 + i));
    const tokens = Array.from({ length: 8 }, (_, i) => accountAt(900 + i));
    // An epoch: per token, some accounts' signed moves; each token's debits balanced by credits and payouts.
    const epoch = fc
      .array(
        fc.record({
          token: fc.integer({ min: 0, max: tokens.length - 1 }),
          from: fc.integer({ min: 0, max: accounts.length - 1 }),
          to: fc.integer({ min: 0, max: accounts.length - 1 }),
          amount: fc.bigInt({ min: 1n, max: 1_000n }),
          payout: fc.boolean(),
        }),
        { maxLength: 40 },
      )
      .map((moves): SettlementSource => {
        const deltas = new Map<string, bigint>();
        const payouts = new Map<string, bigint>();
        for (const m of moves) {
          const token = tokens[m.token]!;
          const from = accounts[m.from]!;
          const to = accounts[m.to]!;
          deltas.set(`${from}|${token}`, (deltas.get(`${from}|${token}`) ?? 0n) - m.amount);
          if (m.payout) payouts.set(`${to}|${token}`, (payouts.get(`${to}|${token}`) ?? 0n) + m.amount);
          else deltas.set(`${to}|${token}`, (deltas.get(`${to}|${token}`) ?? 0n) + m.amount);
        }
        const split = (key: string) => key.split("|") as [Address, Address];
        return {
          epoch: 7n,
          status: "sealed",
          root: ROOT,
          deltas: [...deltas].map(([k, amount]) => ({ account: split(k)[0], token: split(k)[1], amount })),
          payouts: [...payouts].map(([k, amount]) => ({ account: split(k)[0], token: split(k)[1], amount })),
        };
      });
    fc.assert(
      fc.property(epoch, fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 5 }), (src, maxItems, maxTokens) => {
        const chunks = buildSettlementChunks(src, maxItems, maxTokens);
        for (const c of chunks) {
          assert.ok(c.deltas.length + c.payouts.length <= maxItems);
          assert.ok(tokensOf(c).size <= maxTokens);
          const sums = new Map<string, bigint>();
          for (const x of [...c.deltas, ...c.payouts]) sums.set(x.token, (sums.get(x.token) ?? 0n) + x.amount);
          for (const sum of sums.values()) assert.equal(sum, 0n);
        }
        assert.deepEqual(
          totals(chunks.flatMap((c) => c.deltas), chunks.flatMap((c) => c.payouts)),
          totals(src.deltas, src.payouts),
        );
        assert.deepEqual(buildSettlementChunks(src, maxItems, maxTokens), chunks, "deterministic");
      }),
      { numRuns: 300 },
    );
  });
});
