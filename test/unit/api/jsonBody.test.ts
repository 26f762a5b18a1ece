// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { DeltaError } from "../../../src/errors.ts";
import { DEFAULT_JSON_SHAPE_LIMITS, JsonShapeScanner, parseBoundedJson, type Slicer, timeSlicer } from "../../../src/api/jsonBody.ts";

/** Counts its pauses and never waits: the parser's slicing without a clock. */
function countingSlicer(): Slicer & { pauses: number } {
  const s = {
    pauses: 0,
    pause(): Promise<void> {
      s.pauses++;
      return Promise.resolve();
    },
  };
  return s;
}

async function parse(text: string, chunkChars?: number): Promise<unknown> {
  return parseBoundedJson(text, { limits: DEFAULT_JSON_SHAPE_LIMITS, slicer: countingSlicer(), ...(chunkChars === undefined ? {} : { chunkChars }) });
}

async function refusal(text: string, chunkChars?: number): Promise<DeltaError> {
  try {
    await parse(text, chunkChars);
  } catch (error) {
    assert.ok(error instanceof DeltaError, `not a DeltaError: ${String(error)}`);
    return error;
  }
  assert.fail(`accepted ${text.slice(0, 80)}`);
}

function scan(text: string, limits = DEFAULT_JSON_SHAPE_LIMITS): string | undefined {
  return new JsonShapeScanner(text, limits).scan(Number.POSITIVE_INFINITY)?.reason;
}

describe("JsonShapeScanner", () => {
  test("passes a batch of well-formed transfers and bodies with strings holding brackets, commas and escaped quotes", () => {
    const item = { from: "0xabc", to: "0xdef", amount: "1", note: 'a,b:{[\\"]}' };
    assert.equal(scan(JSON.stringify({ transfers: Array.from({ length: 10_000 }, () => item) })), undefined);
    assert.equal(scan('{"a":"\\\\","b":[1,2,{"c":null}]}'), undefined);
  });

  test("refuses an object with more fields than the bound, after reading no more than it needs", () => {
    const keys = Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":0`).join(",");
    const text = `{"transfers":[],${keys}}`;
    const scanner = new JsonShapeScanner(text);
    // A slice of 2,000 characters already holds the 65th field.
    assert.equal(scanner.scan(2_000)?.reason, "keys");
    assert.equal(scan(`{${Array.from({ length: 64 }, (_, i) => `"k${i}":0`).join(",")}}`), undefined);
    assert.equal(scan(`{${Array.from({ length: 65 }, (_, i) => `"k${i}":0`).join(",")}}`), "keys");
  });

  test("refuses nesting past maxDepth and more values than maxValues", () => {
    const limits = { maxDepth: 3, maxKeysPerObject: 8, maxValues: 10 };
    assert.equal(scan('{"a":[{"b":1}]}', limits), undefined);
    assert.equal(scan('{"a":[{"b":[1]}]}', limits), "depth");
    assert.equal(scan("[1,2,3,4,5,6,7,8,9]", limits), undefined); // 9 elements and the root
    assert.equal(scan("[1,2,3,4,5,6,7,8,9,10]", limits), "values");
    // Arrays may be longer than an object may be wide: only maxValues bounds them.
    assert.equal(scan(JSON.stringify(Array.from({ length: 100 }, () => 0))), undefined);
  });
});

describe("parseBoundedJson", () => {
  test("gives what JSON.parse gives for any JSON, whole or split into runs of members (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 8, max: 200 }), fc.boolean(), async (value, chunkChars, pretty) => {
        const text = JSON.stringify({ v: value, w: [value, value] }, null, pretty ? 2 : undefined);
        assert.deepEqual(await parse(text, chunkChars), JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  test("refuses what JSON.parse refuses, whole or split (property over mutated texts)", async () => {
    const mutate = fc.tuple(fc.jsonValue({ maxDepth: 4 }), fc.nat(), fc.constantFrom(",", "]", "}", "[", "{", ":", '"', "\\", " ", "x", "\u00a0", "\n"), fc.boolean());
    await fc.assert(
      fc.asyncProperty(mutate, fc.integer({ min: 8, max: 100 }), async ([value, at, char, replace], chunkChars) => {
        const base = JSON.stringify({ v: value, w: [value] });
        const i = at % base.length;
        const text = base.slice(0, i) + char + base.slice(replace ? i + 1 : i);
        let expected: unknown;
        try {
          expected = JSON.parse(text);
        } catch {
          expected = undefined;
        }
        if (expected === undefined || (typeof expected !== "object" || expected === null)) {
          await refusal(text, chunkChars);
        } else {
          assert.deepEqual(await parse(text, chunkChars), expected);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("keeps __proto__ an own field and the last of duplicate keys, as JSON.parse does", async () => {
    const text = `{"__proto__":{"polluted":1},"a":1,"b":[${"0,".repeat(50)}0],"a":2}`;
    const parsed = (await parse(text, 16)) as Record<string, unknown>;
    assert.deepEqual(parsed, JSON.parse(text));
    assert.deepEqual(Object.keys(parsed), ["__proto__", "a", "b"]);
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });

  test("answers an empty body with {}, and refuses blanks only, scalars at the top, and a bad shape with INVALID_BODY", async () => {
    assert.deepEqual(await parse(""), {});
    for (const text of ["  ", "1", '"a"', "null", "{", '{"a":}']) assert.equal((await refusal(text)).code, "INVALID_BODY", text);
    const wide = await refusal(`{${Array.from({ length: 100 }, (_, i) => `"k${i}":0`).join(",")}}`);
    assert.equal(wide.code, "INVALID_BODY");
    assert.match(wide.message, /more than 64 fields/);
  });

  test("parses a 10,000-transfer batch in many slices, never calling JSON.parse on more than a chunk", async () => {
    const item = { from: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", to: "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc", amount: "1", nonce: "0" };
    const text = JSON.stringify({ transfers: Array.from({ length: 10_000 }, () => item) });
    const slicer = countingSlicer();
    const original = JSON.parse;
    let largest = 0;
    JSON.parse = ((t: string, r?: Parameters<typeof JSON.parse>[1]) => {
      largest = Math.max(largest, t.length);
      return original(t, r);
    }) as typeof JSON.parse;
    let parsed: unknown;
    try {
      parsed = await parseBoundedJson(text, { limits: DEFAULT_JSON_SHAPE_LIMITS, slicer });
    } finally {
      JSON.parse = original;
    }
    assert.deepEqual(parsed, original(text));
    assert.ok(largest <= 16 * 1024 + 2, `one JSON.parse call had ${largest} characters`);
    assert.ok(slicer.pauses > 50, `only ${slicer.pauses} pauses`);
  });

  test("timeSlicer yields only once its slice has passed", async () => {
    let now = 0;
    let yields = 0;
    const slicer = timeSlicer(5, () => now, async () => {
      yields++;
    });
    assert.equal(slicer.pause(), undefined);
    now = 4;
    assert.equal(slicer.pause(), undefined);
    now = 6;
    await slicer.pause();
    assert.equal(yields, 1);
    now = 10;
    assert.equal(slicer.pause(), undefined);
  });
});
