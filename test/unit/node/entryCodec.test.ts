// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The log payload codec: every entry type round-trips, and the hand-written block decoder refuses
 * exactly what the strict schema did (an extra or missing key, a wrong kind, a malformed field).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { LedgerMessage } from "../../../src/ledger/index.ts";
import { decodeEntry, encodeEntry, messageFromJson, messageToJson, type NodeEntry } from "../../../src/node/entryCodec.ts";
import type { Address, Hash, Hex } from "../../../src/protocol/index.ts";

const A = "0x1111111111111111111111111111111111111111" as Address;
const B = "0xAbCdEf0000000000000000000000000000000002" as Address;
const T = "0x0000000000000000000000000000000000000000" as Address;
const H = `0x${"ab".repeat(32)}` as Hash;

const transfer: LedgerMessage = { kind: "transfer", hash: H, from: A, to: B, token: T, amount: 10n ** 30n, fee: 0n, nonce: 7n, deadline: 2n ** 64n - 1n };
const withdrawal: LedgerMessage = { kind: "withdrawal", hash: `0x${"cd".repeat(32)}` as Hash, account: B, token: T, amount: 5n, nonce: 0n, deadline: 99n };

const bytesOf = (json: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(json));

describe("entryCodec", () => {
  it("round-trips every entry type", () => {
    const entries: NodeEntry[] = [
      { type: "block", timestampSec: 1_700_000_000n, messages: [transfer, withdrawal] },
      { type: "block", timestampSec: 0n, messages: [] },
      { type: "deposit", depositId: 3n, account: A, token: T, amount: 1n },
      { type: "seal", epoch: 4n },
      { type: "settled", epoch: 4n, txHashes: [H] },
      { type: "signatures", epoch: 4n, maxItems: 100, chunks: [[`0x${"11".repeat(65)}` as Hex]] },
      { type: "depositCursor", nextBlock: 12 },
      { type: "settlementPlan", epoch: 4n, maxItems: 100 },
      { type: "feePolicy", tokens: [{ token: T, minFee: 0n, newAccountFee: 2n ** 256n - 1n }, { token: B, minFee: 10n ** 15n, newAccountFee: 24_000n }] },
      { type: "feePolicy", tokens: [] },
      { type: "feePolicy", tokens: null },
    ];
    for (const e of entries) assert.deepEqual(decodeEntry(encodeEntry(e)), e, e.type);
  });

  it("round-trips random transfers and withdrawals through a block", () => {
    const uint = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });
    const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => `0x${Buffer.from(b).toString("hex")}` as Address);
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString("hex")}` as Hash);
    const message: fc.Arbitrary<LedgerMessage> = fc.oneof(
      fc.record({ kind: fc.constant("transfer" as const), hash, from: address, to: address, token: address, amount: uint, fee: uint, nonce: uint, deadline: uint }),
      fc.record({ kind: fc.constant("withdrawal" as const), hash, account: address, token: address, amount: uint, nonce: uint, deadline: uint }),
    ).map((m) => ({ ...m })); // fc.record builds null-prototype objects; the decoder plain ones
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), uint, (messages, timestampSec) => {
        const entry: NodeEntry = { type: "block", timestampSec, messages };
        assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a block message that is not exactly the encoded shape", () => {
    const good = messageToJson(transfer);
    const cases: [string, unknown][] = [
      ["an extra key", { ...good, extra: "1" }],
      ["a missing key", (({ fee: _fee, ...rest }) => rest)(good)],
      ["a withdrawal's key set on a transfer", { ...messageToJson(withdrawal), kind: "transfer" }],
      ["an unknown kind", { ...good, kind: "deposit" }],
      ["an uppercase hash", { ...good, hash: H.toUpperCase().replace("0X", "0x") }],
      ["a short hash", { ...good, hash: H.slice(0, 64) }],
      ["an address of 39 digits", { ...good, to: A.slice(0, 41) }],
      ["an address without 0x", { ...good, from: `00${A.slice(2)}` }],
      ["a leading zero", { ...good, amount: "01" }],
      ["a negative amount", { ...good, amount: "-1" }],
      ["a number instead of a decimal string", { ...good, nonce: 7 }],
      ["79 digits", { ...good, fee: "1".repeat(79) }],
      ["an array", [good]],
      ["null", null],
    ];
    for (const [name, value] of cases) {
      assert.equal(messageFromJson(value), undefined, name);
      assert.equal(decodeEntry(bytesOf({ type: "block", timestampSec: "1", messages: [value] })), undefined, `${name}, in a block`);
    }
    assert.deepEqual(messageFromJson(good), transfer);
  });

  it("refuses a malformed feePolicy entry", () => {
    const rule = { token: A, minFee: "1", newAccountFee: "2" };
    const cases: [string, unknown][] = [
      ["tokens missing", { type: "feePolicy" }],
      ["an extra key", { type: "feePolicy", tokens: [rule], extra: 1 }],
      ["a rule's extra key", { type: "feePolicy", tokens: [{ ...rule, extra: "1" }] }],
      ["a negative fee", { type: "feePolicy", tokens: [{ ...rule, minFee: "-1" }] }],
      ["a number fee", { type: "feePolicy", tokens: [{ ...rule, newAccountFee: 2 }] }],
      ["a leading zero", { type: "feePolicy", tokens: [{ ...rule, minFee: "01" }] }],
      ["a short address", { type: "feePolicy", tokens: [{ ...rule, token: A.slice(0, 41) }] }],
      ["tokens an object", { type: "feePolicy", tokens: rule }],
      ["over 10,000 tokens", { type: "feePolicy", tokens: Array.from({ length: 10_001 }, () => rule) }],
    ];
    for (const [name, value] of cases) assert.equal(decodeEntry(bytesOf(value)), undefined, name);
  });

  it("refuses a malformed block envelope and bytes that are not JSON", () => {
    const m = messageToJson(transfer);
    assert.equal(decodeEntry(bytesOf({ type: "block", timestampSec: "1", messages: [m], more: 1 })), undefined);
    assert.equal(decodeEntry(bytesOf({ type: "block", messages: [m] })), undefined);
    assert.equal(decodeEntry(bytesOf({ type: "block", timestampSec: 1, messages: [m] })), undefined);
    assert.equal(decodeEntry(bytesOf({ type: "block", timestampSec: "1", messages: m })), undefined);
    assert.equal(decodeEntry(bytesOf({ type: "nothing" })), undefined);
    assert.equal(decodeEntry(new Uint8Array([0xff, 0x7b])), undefined);
    assert.equal(decodeEntry(bytesOf([{ type: "block" }])), undefined);
  });
});
