// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LedgerMessage } from "../../../src/ledger/index.ts";
import type { Address, Hash } from "../../../src/protocol/index.ts";
import { decodeEntry, encodeEntry } from "../../../src/node/entryCodec.ts";
import { Mempool } from "../../../src/node/mempool.ts";

const A = "0x00000000000000000000000000000000000000a1" as Address;
const B = "0x00000000000000000000000000000000000000b2" as Address;
const C = "0x00000000000000000000000000000000000000c3" as Address;
let counter = 0;
function t(from: Address, nonce: bigint, fee: bigint): LedgerMessage {
  const hash = `0x${(++counter).toString(16).padStart(64, "0")}` as Hash;
  return { kind: "transfer", hash, from, to: C, token: C, amount: 1n, fee, nonce, deadline: 9n };
}

const zero = (): bigint => 0n;

describe("Mempool", () => {
  it("holds a hash once", () => {
    const m = new Mempool();
    const x = t(A, 0n, 1n);
    assert.equal(m.add(x, 0), true);
    assert.equal(m.add(x, 0), false);
    assert.equal(m.size, 1);
  });

  it("keeps an account's messages in nonce order whatever the arrival order", () => {
    const m = new Mempool();
    m.add(t(A, 2n, 9n), 0);
    m.add(t(A, 0n, 1n), 0);
    m.add(t(A, 1n, 5n), 0);
    assert.deepEqual(m.take(10, 0, zero).map((x) => x.nonce), [0n, 1n, 2n]);
    assert.equal(m.size, 0);
  });

  it("orders by fee across accounts when more wait than a block takes, nonce order within each", () => {
    const m = new Mempool();
    m.add(t(A, 0n, 1n), 0);
    m.add(t(A, 1n, 100n), 0);
    m.add(t(B, 0n, 50n), 0);
    m.add(t(B, 1n, 40n), 0);
    // Heads: A#0 (fee 1), B#0 (50): B#0, then B#1 (40) beats A#0 (1).
    const first = m.take(2, 0, zero);
    assert.deepEqual(first.map((x) => [x.kind === "transfer" ? x.from : "", x.nonce]), [[B, 0n], [B, 1n]]);
    assert.deepEqual(m.take(5, 0, zero).map((x) => x.nonce), [0n, 1n]);
  });

  it("holds a nonce past the account's next one until its predecessors arrive (sent to other nodes)", () => {
    const m = new Mempool({ gapHoldMs: 1_000 });
    m.add(t(A, 2n, 0n), 0);
    m.add(t(B, 0n, 0n), 0);
    assert.deepEqual(m.take(10, 10, zero).map((x) => [x.kind === "transfer" ? x.from : "", x.nonce]), [[B, 0n]]);
    assert.equal(m.size, 1);
    m.add(t(A, 1n, 0n), 20);
    assert.deepEqual(m.take(10, 30, zero), [], "1 and 2 still wait for 0");
    m.add(t(A, 0n, 0n), 40);
    assert.deepEqual(m.take(10, 50, zero).map((x) => x.nonce), [0n, 1n, 2n]);
  });

  it("lets a gapped message go after gapHoldMs (the ledger then refuses it)", () => {
    const m = new Mempool({ gapHoldMs: 1_000 });
    m.add(t(A, 5n, 0n), 0);
    assert.deepEqual(m.take(10, 999, zero), []);
    assert.deepEqual(m.take(10, 1_000, zero).map((x) => x.nonce), [5n]);
  });

  it("a gapped message let go after the hold does not make a later gap look filled", () => {
    // The ledger refused nonce 9 (NONCE_GAP): A's next nonce is still 2. Nonce 3, sent here while
    // nonce 2 is on its way through another node, must still wait for 2 (PROTOCOL.md §1: consecutive
    // nonces may be in flight in parallel), not go at once because 9 once went into a block.
    const m = new Mempool({ gapHoldMs: 1_000 });
    const nonceOf = (s: string): bigint => (s === A.toLowerCase() ? 2n : 0n);
    m.add(t(A, 9n, 0n), 0);
    assert.deepEqual(m.take(10, 1_000, nonceOf).map((x) => x.nonce), [9n]);
    m.add(t(A, 3n, 0n), 1_100);
    assert.deepEqual(m.take(10, 1_200, nonceOf).map((x) => x.nonce), [], "3 still waits for 2");
    m.add(t(A, 2n, 0n), 1_300);
    assert.deepEqual(m.take(10, 1_300, nonceOf).map((x) => x.nonce), [2n, 3n]);
  });

  it("counts what it already put in blocks as well as what the ledger applied", () => {
    const m = new Mempool({ gapHoldMs: 1_000 });
    const ledger = new Map<string, bigint>([[A.toLowerCase(), 3n]]);
    const nonceOf = (s: string): bigint => ledger.get(s) ?? 0n;
    m.add(t(A, 3n, 0n), 0);
    assert.deepEqual(m.take(10, 0, nonceOf).map((x) => x.nonce), [3n]);
    m.add(t(A, 4n, 0n), 1); // block with 3 not applied yet: 4 follows it, no wait
    assert.deepEqual(m.take(10, 1, nonceOf).map((x) => x.nonce), [4n]);
    m.add(t(A, 2n, 0n), 2); // below the next nonce: goes at once, for the ledger to refuse
    assert.deepEqual(m.take(10, 2, nonceOf).map((x) => x.nonce), [2n]);
  });

  it("takes the same messages in the same order as the plain greedy choice, over random pools", () => {
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let round = 0; round < 50; round++) {
      const accounts = Array.from({ length: 1 + rand(30) }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}` as Address);
      const all: LedgerMessage[] = [];
      for (const a of accounts) for (let n = 0n, k = rand(6); n <= BigInt(k); n++) all.push(t(a, n, BigInt(rand(4))));
      const shuffled = [...all].sort(() => rand(3) - 1);
      const m = new Mempool();
      for (const x of shuffled) m.add(x, 0);
      const max = 1 + rand(all.length + 5);
      const taken = m.take(max, 0, zero);
      const last = new Map<string, bigint>();
      for (const x of taken) {
        const from = x.kind === "transfer" ? x.from : x.account;
        assert.ok((last.get(from) ?? -1n) < x.nonce, "an account's messages leave in nonce order");
        last.set(from, x.nonce);
      }
      const got = taken.map((x) => x.hash);
      const want = greedy(all, max).map((x) => x.hash);
      // When everything fits, any order that keeps each account's nonces in order will do.
      if (all.length <= max) assert.deepEqual([...got].sort(), [...want].sort());
      else assert.deepEqual(got, want);
      assert.equal(m.size, all.length - got.length);
    }
  });

  it("forgets an account's taken nonces once told its message was refused (the gap hold works again)", () => {
    const m = new Mempool({ gapHoldMs: 1_000 });
    const first = t(A, 0n, 0n);
    m.add(first, 0);
    assert.deepEqual(m.take(10, 0, zero).map((x) => x.nonce), [0n]); // then refused by the ledger: its nonce stays 0
    m.forgetNonce(first);
    m.add(t(A, 1n, 0n), 10); // the client sends 0 and 1 again, 1 arrives first
    assert.deepEqual(m.take(10, 20, zero), [], "1 waits for 0 again");
    m.add(t(A, 0n, 0n), 30);
    assert.deepEqual(m.take(10, 40, zero).map((x) => x.nonce), [0n, 1n]);
  });

  it("sets held accounts aside until their hold ends or they get a message, and still takes them then", () => {
    const m = new Mempool({ gapHoldMs: 1_000 });
    for (let i = 0; i < 50; i++) m.add(t(`0x${(0xa000 + i).toString(16).padStart(40, "0")}` as Address, 3n, 0n), 0); // all gapped
    m.add(t(B, 1n, 0n), 0); // gapped too
    assert.deepEqual(m.take(100, 10, zero), []);
    m.add(t(C, 0n, 0n), 20);
    assert.deepEqual(m.take(100, 30, zero).map((x) => x.nonce), [0n], "only the new account is looked at");
    m.add(t(B, 0n, 0n), 40); // B's missing nonce: B comes back at once
    assert.deepEqual(m.take(100, 50, zero).map((x) => x.nonce), [0n, 1n]);
    assert.equal(m.take(100, 999, zero).length, 0);
    assert.equal(m.take(100, 1_000, zero).length, 50, "the hold ended: the ledger decides");
    assert.equal(m.size, 0);
  });

  it("looks at a held account again once the ledger applies one of its messages", () => {
    const m = new Mempool({ gapHoldMs: 1_000 });
    let ledgerNext = 0n;
    const nonceOf = (): bigint => ledgerNext;
    m.add(t(A, 1n, 0n), 0);
    assert.deepEqual(m.take(10, 10, nonceOf), [], "1 waits for 0");
    // Nonce 0 commits in a block this mempool never saw (an earlier leader's).
    ledgerNext = 1n;
    assert.deepEqual(m.take(10, 20, nonceOf), [], "set aside: not looked at until woken");
    m.wake(t(A, 0n, 0n));
    assert.deepEqual(m.take(10, 30, nonceOf).map((x) => x.nonce), [1n]);
  });

  it("takeAll empties it, held messages included", () => {
    const m = new Mempool();
    m.add(t(A, 9n, 0n), 0);
    m.add(t(B, 0n, 0n), 0);
    assert.equal(m.takeAll().length, 2);
    assert.equal(m.size, 0);
    assert.deepEqual(m.take(10, 10_000, zero), []);
  });
});

/** The reference choice: repeatedly the highest-fee head (ties: lower address), nonce order per account. */
function greedy(all: readonly LedgerMessage[], max: number): LedgerMessage[] {
  const queues = new Map<string, LedgerMessage[]>();
  for (const x of all) {
    const from = x.kind === "transfer" ? x.from.toLowerCase() : x.account.toLowerCase();
    queues.set(from, [...(queues.get(from) ?? []), x].sort((p, q) => (p.nonce < q.nonce ? -1 : p.nonce > q.nonce ? 1 : 0)));
  }
  const out: LedgerMessage[] = [];
  if (all.length <= max) {
    for (const q of queues.values()) out.push(...q);
    return out;
  }
  while (out.length < max) {
    let best: string | undefined;
    let bestFee = -1n;
    for (const key of [...queues.keys()].sort()) {
      const head = queues.get(key)![0]!;
      const fee = head.kind === "transfer" ? head.fee : 0n;
      if (fee > bestFee) [best, bestFee] = [key, fee];
    }
    if (best === undefined) break;
    const q = queues.get(best)!;
    out.push(q.shift()!);
    if (q.length === 0) queues.delete(best);
  }
  return out;
}

describe("log entry codec", () => {
  it("round-trips every entry kind with exact bigints", () => {
    const big = (1n << 255n) + 7n;
    const entries = [
      { type: "block", timestampSec: 1_700_000_000n, messages: [t(A, 3n, big), { kind: "withdrawal", hash: `0x${"ab".repeat(32)}`, account: B, token: C, amount: big, nonce: 4n, deadline: 5n }] },
      { type: "deposit", depositId: 12n, account: A, token: C, amount: big },
      { type: "seal", epoch: 3n },
      { type: "settled", epoch: 3n, txHashes: [`0x${"cd".repeat(32)}`] },
    ] as const;
    for (const e of entries) assert.deepEqual(decodeEntry(encodeEntry(e)), e);
  });

  it("refuses what does not decode instead of throwing", () => {
    const bad = ["not json", JSON.stringify({ type: "block", timestampSec: "1", messages: [{ kind: "transfer" }] }), JSON.stringify({ type: "seal", epoch: "-1" }), JSON.stringify({ type: "seal", epoch: 3 }), JSON.stringify({ type: "nuke" })];
    for (const b of bad) assert.equal(decodeEntry(new TextEncoder().encode(b)), undefined, b);
  });
});
