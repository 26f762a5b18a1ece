// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DeltaError } from "../../../src/errors.ts";
import {
  MAX_ISSUES,
  type ProtocolIssue,
  tryParseTransferBatchEnvelope,
  tryParseTransferBatchItem,
  tryParseTransferBatchRequest,
  tryParseTransferRequest,
} from "../../../src/protocol/schemas.ts";

const TRANSFER = {
  from: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
  to: "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
  token: "0x0000000000000000000000000000000000000000",
  amount: "5",
  fee: "0",
  nonce: "0",
  deadline: "1767225600",
  signature: `0x${"11".repeat(32)}${"22".repeat(32)}1b`,
};

function refused<T>(result: { ok: true; value: T } | { ok: false; error: DeltaError }): DeltaError {
  assert.ok(!result.ok, "refused");
  return result.error;
}

function issuesOf(error: DeltaError): readonly ProtocolIssue[] {
  const issues = error.details?.["issues"];
  assert.ok(Array.isArray(issues));
  return issues as ProtocolIssue[]; // an array, checked above; ProtocolIssue by construction
}

function wide(base: Record<string, unknown>, n: number): Record<string, unknown> {
  const body: Record<string, unknown> = { ...base };
  for (let i = 0; i < n; i++) body[`k${i}`] = 0;
  return body;
}

describe("schema issues are capped (a wide body costs one pass over its keys)", () => {
  test("a transfer body with 200,000 unknown fields keeps five issues and counts the rest", () => {
    const error = refused(tryParseTransferRequest(wide(TRANSFER, 200_000)));
    assert.equal(error.code, "UNKNOWN_FIELD");
    const issues = issuesOf(error);
    assert.equal(issues.length, MAX_ISSUES);
    assert.deepEqual(issues.map((i) => i.path), ["k0", "k1", "k2", "k3", "k4"]);
    assert.match(error.message, /; and 199995 more$/);
    assert.ok(error.message.length < 2_000, `message of ${error.message.length} characters`);
  });

  test("a batch envelope with 300,000 unknown fields is refused whole, with five issues", () => {
    const error = refused(tryParseTransferBatchRequest(wide({ transfers: [TRANSFER] }, 300_000)));
    assert.equal(error.code, "UNKNOWN_FIELD");
    assert.equal(issuesOf(error).length, MAX_ISSUES);
    assert.match(error.message, /and 299995 more$/);
  });

  test("unknown fields still come first, before the other issues of the same body", () => {
    const { amount: _amount, ...noAmount } = TRANSFER;
    const error = refused(tryParseTransferRequest({ ...noAmount, ammount: "5", fee: "x" }));
    assert.deepEqual(issuesOf(error).map((i) => `${i.code}@${i.path}`), ["UNKNOWN_FIELD@ammount", "MISSING_FIELD@amount", "INVALID_AMOUNT@fee"]);
  });

  test("envelope and item parse the same as the whole batch, item paths prefixed", () => {
    const items = [TRANSFER, { ...TRANSFER, amount: "0" }, wide(TRANSFER, 10)];
    const whole = tryParseTransferBatchRequest({ transfers: items });
    const envelope = tryParseTransferBatchEnvelope({ transfers: items });
    assert.ok(whole.ok && envelope.ok);
    assert.equal(envelope.value.length, 3);
    const sliced = envelope.value.map((item, i) => tryParseTransferBatchItem(item, i));
    assert.deepEqual(sliced, whole.value);
    const third = refused(sliced[2]!);
    assert.equal(issuesOf(third)[0]?.path, "transfers[2].k0");
    assert.match(third.message, /and 5 more$/);
    assert.equal(refused(tryParseTransferBatchEnvelope({ transfers: [] })).code, "BATCH_SIZE");
  });
});
