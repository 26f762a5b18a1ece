// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { getAddress } from "ethers";
import fc from "fast-check";
import { DeltaError } from "../../../src/errors.ts";
import { checkAddress, checksumAddress, checksumAddressBytes, parseAddress } from "../../../src/protocol/address.ts";
import * as arb from "./arbitraries.ts";

/** Flips the case of the letter at `index` of the 40 hex digits (index among letters only). */
function flipLetter(address: string, letterIndex: number): string | null {
  const chars = [...address];
  let seen = 0;
  for (let i = 2; i < chars.length; i++) {
    const c = chars[i] ?? "";
    if (/[a-fA-F]/.test(c)) {
      if (seen === letterIndex) {
        chars[i] = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
        return chars.join("");
      }
      seen++;
    }
  }
  return null;
}

describe("EIP-55 checksum", () => {
  test("equals ethers getAddress on random addresses", () => {
    fc.assert(
      fc.property(arb.lowerAddress, (lower) => {
        const expected = getAddress(lower);
        assert.equal(checksumAddress(lower), expected);
        assert.equal(checksumAddress(lower.replace(/[a-f]/g, (c) => c.toUpperCase())), expected);
        assert.equal(checksumAddressBytes(Buffer.from(lower.slice(2), "hex")), expected);
      }),
      { numRuns: 500 },
    );
  });

  test("matches the EIP-55 reference vectors", () => {
    for (const address of [
      "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
      "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
      "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
      "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ]) {
      assert.equal(checksumAddress(address.toLowerCase()), address);
    }
  });
});

describe("checkAddress / parseAddress", () => {
  test("accepts all-lowercase, all-uppercase and checksummed forms, answering checksummed", () => {
    fc.assert(
      fc.property(arb.lowerAddress, (lower) => {
        const expected = getAddress(lower);
        const upper = `0x${lower.slice(2).toUpperCase()}`;
        for (const form of [lower, upper, expected]) assert.deepEqual(checkAddress(form), { ok: true, address: expected });
      }),
      { numRuns: 300 },
    );
  });

  test("refuses a mixed-case address whose checksum is wrong, with BAD_CHECKSUM", () => {
    fc.assert(
      fc.property(arb.checksummedAddress, fc.nat(), (address, pick) => {
        const letters = address.slice(2).replace(/[0-9]/g, "").length;
        fc.pre(letters >= 2);
        const typo = flipLetter(address, pick % letters);
        assert.ok(typo !== null);
        const digits = typo.slice(2);
        // Flipping one letter may leave it all one case, which is accepted by design; skip those.
        fc.pre(digits !== digits.toLowerCase() && digits !== digits.toUpperCase());
        const check = checkAddress(typo);
        assert.equal(check.ok, false);
        assert.equal(check.ok ? "" : check.code, "BAD_CHECKSUM");
      }),
      { numRuns: 300 },
    );
  });

  test("refuses wrong lengths, non-hex characters and a missing or uppercase 0x, with INVALID_ADDRESS", () => {
    const good = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
    for (const bad of [
      "",
      "0x",
      good.slice(0, 41),
      `${good}0`,
      `${good.slice(0, 41)}g`,
      good.slice(2),
      `0X${good.slice(2)}`,
      ` ${good}`,
      `${good.slice(0, 20)}-${good.slice(21)}`,
    ]) {
      const check = checkAddress(bad);
      assert.equal(check.ok ? "" : check.code, "INVALID_ADDRESS", JSON.stringify(bad));
    }
  });

  test("parseAddress throws DeltaError naming the field", () => {
    assert.throws(
      () => parseAddress("0x1234", "verifyingContract"),
      (e: unknown) => e instanceof DeltaError && e.code === "INVALID_ADDRESS" && e.message.startsWith("verifyingContract "),
    );
    assert.throws(
      () => parseAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79C8"),
      (e: unknown) => e instanceof DeltaError && e.code === "BAD_CHECKSUM" && e.message.includes("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    );
  });

  test("checksumAddress refuses a malformed address", () => {
    assert.throws(() => checksumAddress("0x12"), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_ADDRESS");
  });
});
