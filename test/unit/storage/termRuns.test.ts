// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { TermRuns } from "../../../src/storage/termRuns.ts";

/** The obvious model: one term per index. */
function model(base: number, baseTerm: number, terms: number[]): (i: number) => number | undefined {
  return (i) => (i === base ? baseTerm : i > base && i <= base + terms.length ? terms[i - base - 1] : undefined);
}

describe("TermRuns (the in-memory term index)", () => {
  it("answers the base, the tail and older runs, and undefined outside", () => {
    const runs = new TermRuns(10, 2);
    for (const [i, t] of [[11, 2], [12, 3], [13, 3], [14, 5], [15, 5]] as const) runs.push(i, t);
    assert.deepEqual([9, 10, 11, 12, 13, 14, 15, 16].map((i) => runs.termAt(i)), [undefined, 2, 2, 3, 3, 5, 5, undefined]);
    assert.equal(runs.lastIndex, 15);
    assert.equal(runs.lastTerm, 5);
  });

  it("refuses a push that does not follow the last index", () => {
    const runs = new TermRuns();
    assert.throws(() => runs.push(2, 1), RangeError);
  });

  it("matches the one-term-per-index model through pushes, truncations and compactions", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("push" as const), count: fc.integer({ min: 1, max: 5 }), bump: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("compact" as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const runs = new TermRuns();
        let base = 0;
        let baseTerm = 0;
        let terms: number[] = [];
        for (const o of ops) {
          if (o.kind === "push") {
            for (let k = 0; k < o.count; k++) {
              const term = (terms.at(-1) ?? baseTerm) + (k === 0 ? o.bump : 0);
              terms.push(term);
              runs.push(base + terms.length, term);
            }
          } else if (o.kind === "truncate") {
            const at = base + 1 + (o.at % (terms.length + 1));
            runs.truncateFrom(at);
            terms = terms.slice(0, at - base - 1);
          } else {
            const at = base + (o.at % (terms.length + 1));
            const term = model(base, baseTerm, terms)(at) ?? 0;
            runs.compactTo(at, term);
            terms = terms.slice(at - base);
            base = at;
            baseTerm = term;
          }
          const expect = model(base, baseTerm, terms);
          for (let i = Math.max(0, base - 2); i <= base + terms.length + 2; i++) assert.equal(runs.termAt(i), expect(i), `index ${i}`);
          assert.equal(runs.lastIndex, base + terms.length);
          assert.equal(runs.lastTerm, terms.at(-1) ?? baseTerm);
        }
      }),
    );
  });

  it("compacting past the last index leaves an empty log at the new base", () => {
    const runs = new TermRuns();
    runs.push(1, 1);
    runs.compactTo(9, 4);
    assert.equal(runs.lastIndex, 9);
    assert.equal(runs.termAt(9), 4);
    assert.equal(runs.termAt(1), undefined);
    runs.push(10, 4);
    assert.equal(runs.termAt(10), 4);
  });
});
