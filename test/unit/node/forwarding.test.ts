// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The forwarding wire between members (src/node/forwarding.ts): what a follower sends the leader
 * and the verdicts it gets back round-trip exactly, and anything else a member could send is
 * refused whole (never thrown on), since it arrives on the node's event loop.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LedgerMessage } from "../../../src/ledger/index.ts";
import {
  decodeForward,
  decodeSealMessage,
  decodeVerdicts,
  encodeForward,
  encodeVerdicts,
  FORWARD_MAX_ITEMS,
  type SealMessage,
  type Verdict,
} from "../../../src/node/forwarding.ts";
import type { Address, Hash } from "../../../src/protocol/index.ts";

const H1 = `0x${"ab".repeat(32)}` as Hash;
const H2 = `0x${"cd".repeat(32)}` as Hash;
const A = "0x1111111111111111111111111111111111111111" as Address;
const T = "0x0000000000000000000000000000000000000000" as Address;
const transfer: LedgerMessage = { kind: "transfer", hash: H1, from: A, to: T, token: T, amount: 10n ** 40n, fee: 3n, nonce: 0n, deadline: 99n };
const withdrawal: LedgerMessage = { kind: "withdrawal", hash: H2, account: A, token: T, amount: 1n, nonce: 1n, deadline: 99n };

/** As it arrives: through JSON, like every app message. */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe("forwarding wire", () => {
  it("round-trips a forward of transfers and withdrawals", () => {
    assert.deepEqual(decodeForward(wire(encodeForward([transfer, withdrawal]))), [transfer, withdrawal]);
  });

  it("round-trips verdicts: committed (position 0 included) and refused", () => {
    const verdicts: Verdict[] = [
      { hash: H1, result: { hash: H1, status: "committed", index: 0, epoch: "1" }, at: 7 },
      { hash: H2, result: { hash: H2, status: "committed", index: 41, epoch: "18446744073709551615" }, at: 9_007_199_254_740_991 },
      { hash: H1, result: { error: { code: "NONCE_REUSED", message: "nonce 0 was used" } }, at: 0 },
    ];
    assert.deepEqual(decodeVerdicts(wire(encodeVerdicts(verdicts))), verdicts);
  });

  it("refuses a malformed forward whole", () => {
    const good = wire(encodeForward([transfer])) as { t: string; m: Record<string, unknown>[] };
    const cases: [string, unknown][] = [
      ["null", null],
      ["a string", "fwd"],
      ["another type", { ...good, t: "fwdv" }],
      ["an extra key", { ...good, x: 1 }],
      ["no messages", { t: "fwd", m: [] }],
      ["messages not an array", { t: "fwd", m: good.m[0] }],
      ["too many messages", { t: "fwd", m: Array.from({ length: FORWARD_MAX_ITEMS + 1 }, () => good.m[0]) }],
      ["one bad message among good ones", { t: "fwd", m: [good.m[0], { ...good.m[0], amount: "-1" }] }],
      ["a message with an extra field", { t: "fwd", m: [{ ...good.m[0], signature: "0x00" }] }],
    ];
    for (const [name, value] of cases) assert.equal(decodeForward(value), undefined, name);
  });

  it("refuses malformed verdicts whole; an unknown refusal code becomes INTERNAL", () => {
    const cases: [string, unknown][] = [
      ["null", null],
      ["no verdicts", { t: "fwdv", v: [] }],
      ["an extra key", { t: "fwdv", v: [[H1, 0, "1", 3]], x: 1 }],
      ["two elements", { t: "fwdv", v: [[H1, 0]] }],
      ["no applied index (the old three-element form)", { t: "fwdv", v: [[H1, 0, "1"]] }],
      ["a negative applied index", { t: "fwdv", v: [[H1, 0, "1", -1]] }],
      ["an applied index that is a string", { t: "fwdv", v: [[H1, 0, "1", "3"]] }],
      ["an uppercase hash", { t: "fwdv", v: [[H1.toUpperCase().replace("0X", "0x"), 0, "1", 3]] }],
      ["a negative position", { t: "fwdv", v: [[H1, -1, "1", 3]] }],
      ["a fractional position", { t: "fwdv", v: [[H1, 1.5, "1", 3]] }],
      ["an epoch that is a number", { t: "fwdv", v: [[H1, 1, 1, 3]] }],
      ["an epoch with a leading zero", { t: "fwdv", v: [[H1, 1, "01", 3]] }],
      ["a code without a message", { t: "fwdv", v: [[H1, "DUPLICATE", null, 3]] }],
    ];
    for (const [name, value] of cases) assert.equal(decodeVerdicts(value), undefined, name);
    const [unknown] = decodeVerdicts({ t: "fwdv", v: [[H1, "SOMETHING_ELSE", "why", 3]] }) ?? [];
    assert.deepEqual(unknown?.result, { error: { code: "INTERNAL", message: "the leader refused with an unknown code: why" } });
    const [long] = decodeVerdicts({ t: "fwdv", v: [[H1, "DUPLICATE", "x".repeat(5_000), 3]] }) ?? [];
    assert.equal("error" in long!.result ? long!.result.error.message.length : 0, 1_000);
  });

  it("round-trips seal requests and answers, and refuses anything else", () => {
    const good: SealMessage[] = [
      { t: "seal", id: 0 },
      { t: "sealv", id: 1, epoch: "4", at: 120 },
      { t: "sealv", id: 2, epoch: null, at: 0 },
      { t: "sealv", id: 3, code: "NO_LEADER", message: "not leading" },
    ];
    for (const m of good) assert.deepEqual(decodeSealMessage(wire(m)), m);
    const bad: [string, unknown][] = [
      ["null", null],
      ["no id", { t: "seal" }],
      ["a negative id", { t: "seal", id: -1 }],
      ["an extra key", { t: "seal", id: 1, token: "secret" }],
      ["an epoch that is a number", { t: "sealv", id: 1, epoch: 4, at: 1 }],
      ["no applied index", { t: "sealv", id: 1, epoch: "4" }],
      ["a code without a message", { t: "sealv", id: 1, code: "NO_LEADER", message: 5 }],
      ["another type", { t: "fwd", id: 1 }],
    ];
    for (const [name, value] of bad) assert.equal(decodeSealMessage(value), undefined, name);
    assert.deepEqual(decodeSealMessage({ t: "sealv", id: 9, code: "NOPE", message: "m" }), {
      t: "sealv",
      id: 9,
      code: "INTERNAL",
      message: "the leader refused with an unknown code: m",
    });
  });
});
