// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GENESIS_HASH, hashEntry, isEntryIntact, makeEntry } from "../../../src/storage/index.ts";

const hello = new TextEncoder().encode("hello");

describe("hashEntry (chains entries, detects corrupt records)", () => {
  it("matches vectors computed independently (Python hashlib over the documented layout)", () => {
    const first = hashEntry(1, 1, "02aa", GENESIS_HASH, hello);
    assert.equal(first, "e7a18047199f6275ca950f83f56473d637b6c357e5639c87a884c2d71eb85cc8");
    assert.equal(hashEntry(2, 3, "02bb", first, new Uint8Array(0)), "a0ecf9432cf6bb1f86ffb161a528b1e256115cd0aece119033a6113f1dcc7926");
  });

  it("changes when any field changes", () => {
    const base = hashEntry(5, 2, "02aa", GENESIS_HASH, hello);
    const variants = [
      hashEntry(6, 2, "02aa", GENESIS_HASH, hello),
      hashEntry(5, 3, "02aa", GENESIS_HASH, hello),
      hashEntry(5, 2, "02ab", GENESIS_HASH, hello),
      hashEntry(5, 2, "02aa", "1" + GENESIS_HASH.slice(1), hello),
      hashEntry(5, 2, "02aa", GENESIS_HASH, new TextEncoder().encode("hellp")),
      hashEntry(5, 2, "02aa", GENESIS_HASH, new TextEncoder().encode("hell")),
    ];
    for (const v of variants) assert.notEqual(v, base);
    assert.equal(new Set(variants).size, variants.length);
  });

  it("length-prefixes its fields, so moving bytes between leader and data changes the hash", () => {
    assert.notEqual(hashEntry(1, 1, "ab", GENESIS_HASH, new TextEncoder().encode("c")), hashEntry(1, 1, "a", GENESIS_HASH, new TextEncoder().encode("bc")));
  });

  it("refuses a negative or fractional index or term", () => {
    assert.throws(() => hashEntry(-1, 1, "a", GENESIS_HASH, hello), RangeError);
    assert.throws(() => hashEntry(1, 1.5, "a", GENESIS_HASH, hello), RangeError);
  });

  it("isEntryIntact is true for makeEntry's output and false after any single-bit flip of the data", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.nat({ max: 7 }), (data, at, bit) => {
        const entry = makeEntry(3, 2, "02cc", GENESIS_HASH, data);
        assert.ok(isEntryIntact(entry));
        const flipped = new Uint8Array(data);
        const i = at % flipped.length;
        flipped[i] = (flipped[i] ?? 0) ^ (1 << bit);
        assert.equal(isEntryIntact({ ...entry, data: flipped }), false);
      }),
    );
  });
});
