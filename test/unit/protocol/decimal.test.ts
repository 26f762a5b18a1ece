// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { DeltaError } from "../../../src/errors.ts";
import {
  INT_DECIMAL_PATTERN,
  MAX_INT256,
  MAX_UINT256,
  MAX_UINT64,
  MIN_INT256,
  UINT_DECIMAL_PATTERN,
  checkIntDecimal,
  checkUintDecimal,
  parseIntDecimal,
  parseUintDecimal,
  toDecimal,
} from "../../../src/protocol/decimal.ts";
import * as arb from "./arbitraries.ts";

function codeOf(check: ReturnType<typeof checkUintDecimal>): string {
  return check.ok ? "OK" : check.code;
}

/** Strings close to numbers: the characters a client might plausibly send. */
const numberish = fc.string({ unit: fc.constantFrom(..."0123456789-+.eExX ab"), maxLength: 12 });

describe("uint decimal codec", () => {
  test("round-trips every uint256", () => {
    fc.assert(
      fc.property(arb.uint256, (value) => {
        assert.deepEqual(checkUintDecimal(toDecimal(value)), { ok: true, value });
      }),
      { numRuns: 500 },
    );
  });

  test("accepts 0 and 2^256 - 1, refuses 2^256 and any longer string with AMOUNT_TOO_LARGE", () => {
    assert.equal(codeOf(checkUintDecimal("0")), "OK");
    assert.equal(codeOf(checkUintDecimal(MAX_UINT256.toString())), "OK");
    assert.equal(codeOf(checkUintDecimal((MAX_UINT256 + 1n).toString())), "AMOUNT_TOO_LARGE");
    assert.equal(codeOf(checkUintDecimal("9".repeat(10_000))), "AMOUNT_TOO_LARGE");
  });

  test("honours a smaller bound", () => {
    assert.equal(codeOf(checkUintDecimal(MAX_UINT64.toString(), MAX_UINT64)), "OK");
    assert.equal(codeOf(checkUintDecimal((MAX_UINT64 + 1n).toString(), MAX_UINT64)), "AMOUNT_TOO_LARGE");
  });

  test("refuses every other spelling with INVALID_AMOUNT and a reason saying what to write", () => {
    const cases: [string, RegExp][] = [
      ["", /empty/],
      [" 1", /spaces/],
      ["1 ", /spaces/],
      ["1\n", /spaces/],
      ["+1", /leading "\+"/],
      ["+0", /leading "\+"/],
      ["-1", /negative/],
      ["-0", /negative/],
      ["0x10", /hex/],
      ["0X10", /hex/],
      ["1e18", /exponent/],
      ["1.5e3", /exponent/],
      ["1E3", /exponent/],
      ["1.5", /decimal point/],
      ["1.", /decimal point/],
      ["01", /leading zeros; write "1"/],
      ["00", /leading zeros; write "0"/],
      ["1_000", /characters other than/],
      ["١٢", /characters other than/],
      ["abc", /characters other than/],
    ];
    for (const [text, reason] of cases) {
      const check = checkUintDecimal(text);
      assert.equal(check.ok, false, JSON.stringify(text));
      if (!check.ok) {
        assert.equal(check.code, "INVALID_AMOUNT", JSON.stringify(text));
        assert.match(check.reason, reason, JSON.stringify(text));
      }
    }
  });

  test("accepts exactly what UINT_DECIMAL_PATTERN describes (within range)", () => {
    const pattern = new RegExp(UINT_DECIMAL_PATTERN);
    fc.assert(
      fc.property(numberish, (text) => {
        const check = checkUintDecimal(text);
        assert.equal(check.ok || check.code === "AMOUNT_TOO_LARGE", pattern.test(text), JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
  });

  test("parseUintDecimal throws DeltaError naming the field", () => {
    assert.equal(parseUintDecimal("42", "fee"), 42n);
    assert.throws(
      () => parseUintDecimal("1e3", "fee"),
      (e: unknown) => e instanceof DeltaError && e.code === "INVALID_AMOUNT" && e.message.startsWith("fee "),
    );
    assert.throws(() => parseUintDecimal("256", "chunk", 255n), (e: unknown) => e instanceof DeltaError && e.code === "AMOUNT_TOO_LARGE");
  });
});

describe("int decimal codec", () => {
  test("round-trips every int256, negative values included", () => {
    fc.assert(
      fc.property(arb.int256, (value) => {
        assert.deepEqual(checkIntDecimal(toDecimal(value)), { ok: true, value });
      }),
      { numRuns: 500 },
    );
  });

  test("accepts both int256 bounds and refuses one past each", () => {
    assert.equal(codeOf(checkIntDecimal(MIN_INT256.toString())), "OK");
    assert.equal(codeOf(checkIntDecimal(MAX_INT256.toString())), "OK");
    assert.equal(codeOf(checkIntDecimal((MIN_INT256 - 1n).toString())), "AMOUNT_TOO_LARGE");
    assert.equal(codeOf(checkIntDecimal((MAX_INT256 + 1n).toString())), "AMOUNT_TOO_LARGE");
    assert.equal(codeOf(checkIntDecimal(`-${"9".repeat(1000)}`)), "AMOUNT_TOO_LARGE");
  });

  test("refuses a signed zero, a double sign, a plus and leading zeros", () => {
    for (const text of ["-0", "--1", "+5", "-01", "-", "- 1", "-1e3", "-0x1"]) {
      assert.equal(codeOf(checkIntDecimal(text)), "INVALID_AMOUNT", JSON.stringify(text));
    }
  });

  test("accepts exactly what INT_DECIMAL_PATTERN describes (within range)", () => {
    const pattern = new RegExp(INT_DECIMAL_PATTERN);
    fc.assert(
      fc.property(numberish, (text) => {
        const check = checkIntDecimal(text);
        assert.equal(check.ok || check.code === "AMOUNT_TOO_LARGE", pattern.test(text), JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
  });

  test("parseIntDecimal returns the bigint or throws naming the field", () => {
    assert.equal(parseIntDecimal("-13", "delta"), -13n);
    assert.throws(() => parseIntDecimal("-0", "delta"), (e: unknown) => e instanceof DeltaError && e.message.startsWith("delta "));
  });
});
