// SPDX-License-Identifier: AGPL-3.0-or-later
/** The waiters behind read-your-writes and ?minIndex=: run in index order once applied, never twice, cancellable. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { AppliedWaiters } from "../../../src/node/appliedWaiters.ts";

describe("AppliedWaiters", () => {
  it("runs each waiter once its index is applied, lowest first, and never again", () => {
    const w = new AppliedWaiters();
    const ran: number[] = [];
    for (const i of [7, 3, 9, 3, 5]) w.add(i, () => ran.push(i));
    w.advance(2);
    assert.deepEqual(ran, []);
    w.advance(5);
    assert.deepEqual(ran, [3, 3, 5]);
    w.advance(5);
    assert.deepEqual(ran, [3, 3, 5]);
    assert.equal(w.size, 2);
    w.advance(100);
    assert.deepEqual(ran, [3, 3, 5, 7, 9]);
    assert.equal(w.size, 0);
  });

  it("a cancelled waiter never runs, and many cancelled far-ahead waiters are dropped", () => {
    const w = new AppliedWaiters();
    let ran = 0;
    const cancels = Array.from({ length: 1_000 }, (_, k) => w.add(1e15 + k, () => ran++));
    w.add(10, () => ran++);
    for (const c of cancels) c();
    assert.equal(w.size, 1);
    assert.ok(w.stored <= 64 + 1, `cancelled waiters are dropped, not kept: ${w.stored} stored`);
    w.advance(2e15);
    assert.equal(ran, 1);
  });

  it("drain runs everything still waiting (shutdown)", () => {
    const w = new AppliedWaiters();
    const ran: number[] = [];
    w.add(4, () => ran.push(4));
    const c = w.add(5, () => ran.push(5));
    c();
    w.drain();
    assert.deepEqual(ran, [4]);
  });

  it("property: after advance(a), exactly the waiters with index <= a that were not cancelled have run, in index order", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1_000), fc.boolean())), fc.array(fc.nat(1_000)), (items, steps) => {
        const w = new AppliedWaiters();
        const ran: number[] = [];
        const cancelled = new Set<number>();
        items.forEach(([index, cancel], k) => {
          const c = w.add(index, () => ran.push(k));
          if (cancel) {
            c();
            cancelled.add(k);
          }
        });
        let applied = -1;
        for (const a of steps) {
          applied = Math.max(applied, a);
          w.advance(a);
        }
        const expected = items
          .map(([index], k) => ({ index, k }))
          .filter(({ index, k }) => index <= applied && !cancelled.has(k))
          .map(({ k }) => k);
        assert.deepEqual([...ran].sort((a, b) => a - b), expected.sort((a, b) => a - b));
        for (let i = 1; i < ran.length; i++) assert.ok(items[ran[i - 1]!]![0] <= items[ran[i]!]![0]);
      }),
    );
  });
});
