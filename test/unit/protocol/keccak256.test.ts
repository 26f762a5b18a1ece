// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak_256 } from "@noble/hashes/sha3.js";
import fc from "fast-check";
import { keccak256, keccak256Into } from "../../../src/protocol/index.ts";

function ours(bytes: Uint8Array): string {
  const out = new Uint8Array(32);
  keccak256Into(bytes, 0, bytes.length, out, 0);
  return Buffer.from(out).toString("hex");
}

function noble(bytes: Uint8Array): string {
  return Buffer.from(keccak_256(bytes)).toString("hex");
}

describe("keccak256Into and keccak256 (the project's keccak)", () => {
  it("matches published keccak256 vectors", () => {
    assert.equal(ours(new Uint8Array(0)), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    assert.equal(ours(new TextEncoder().encode("abc")), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  });

  it("equals @noble/hashes keccak_256 on every length from 0 to 135 bytes", () => {
    for (let length = 0; length <= 135; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 151 + length * 7) & 0xff);
      assert.equal(ours(bytes), noble(bytes), `length ${length}`);
    }
  });

  it("equals @noble/hashes keccak_256 on random inputs, at any offsets", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 135 }), fc.nat({ max: 7 }), fc.nat({ max: 7 }), (bytes, pad, outPad) => {
        const input = new Uint8Array(pad + bytes.length + 3).fill(0xee);
        input.set(bytes, pad);
        const out = new Uint8Array(outPad + 32 + 5).fill(0xdd);
        keccak256Into(input, pad, bytes.length, out, outPad);
        assert.equal(Buffer.from(out.subarray(outPad, outPad + 32)).toString("hex"), noble(bytes));
        assert.ok(out.subarray(0, outPad).every((b) => b === 0xdd) && out.subarray(outPad + 32).every((b) => b === 0xdd), "writes only its 32 bytes");
      }),
      { numRuns: 2000 },
    );
  });

  it("equals @noble/hashes keccak_256 on every length across the first block boundaries (0..560 bytes)", () => {
    for (let length = 136; length <= 560; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 151 + length * 7) & 0xff);
      assert.equal(ours(bytes), noble(bytes), `length ${length}`);
      assert.equal(Buffer.from(keccak256(bytes)).toString("hex"), noble(bytes), `keccak256, length ${length}`);
    }
  });

  it("equals @noble/hashes keccak_256 on random multi-block inputs, at any offsets", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 130, maxLength: 2000 }), fc.nat({ max: 7 }), (bytes, pad) => {
        const input = new Uint8Array(pad + bytes.length + 3).fill(0xee);
        input.set(bytes, pad);
        const out = new Uint8Array(32);
        keccak256Into(input, pad, bytes.length, out, 0);
        assert.equal(Buffer.from(out).toString("hex"), noble(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("hashes in place (input and output the same buffer, one block or several) and refuses ranges outside the arrays", () => {
    for (const length of [32, 300]) {
      const bytes = Uint8Array.from({ length }, (_, i) => i & 0xff);
      const expected = noble(bytes);
      keccak256Into(bytes, 0, length, bytes, 0);
      assert.equal(Buffer.from(bytes.subarray(0, 32)).toString("hex"), expected);
    }
    assert.throws(() => keccak256Into(new Uint8Array(10), 5, 6, new Uint8Array(32), 0), RangeError);
    assert.throws(() => keccak256Into(new Uint8Array(10), -1, 2, new Uint8Array(32), 0), RangeError);
    assert.throws(() => keccak256Into(new Uint8Array(10), 0, 10, new Uint8Array(32), 1), RangeError);
    assert.throws(() => keccak256Into(new Uint8Array(10), 0, 1.5, new Uint8Array(32), 0), RangeError);
  });
});
