// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { getAddress } from "ethers";
import fc from "fast-check";
import { z } from "zod";
import { DeltaError, type ErrorCode } from "../../../src/errors.ts";
import { MAX_UINT256 } from "../../../src/protocol/decimal.ts";
import {
  AdminSealRequestSchema,
  type ParseResult,
  type ProtocolIssue,
  TRANSFER_BATCH_MAX,
  TransferBatchRequestSchema,
  TransferRequestSchema,
  WithdrawalRequestSchema,
  encodeTransferRequest,
  encodeWithdrawalRequest,
  parseAdminSealRequest,
  parseTransferBatchRequest,
  parseTransferRequest,
  parseWithdrawalRequest,
  tryParseAdminSealRequest,
  tryParseTransferBatchRequest,
  tryParseTransferRequest,
  tryParseWithdrawalRequest,
} from "../../../src/protocol/schemas.ts";
import { SECP256K1_HALF_N, SECP256K1_N } from "../../../src/protocol/signature.ts";
import type { Address, SignedTransfer } from "../../../src/protocol/types.ts";
import * as arb from "./arbitraries.ts";

const ALICE = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
const BOB = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
const ZERO = "0x0000000000000000000000000000000000000000";
const R = "11".repeat(32);
const S_LOW = "22".repeat(32);
const SIGNATURE = `0x${R}${S_LOW}1b`;

function word(value: bigint): string {
  return value.toString(16).padStart(64, "0");
}

/** A valid transfer body; tests change one thing at a time. */
function transferBody(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return { from: ALICE, to: BOB, token: ZERO, amount: "5", fee: "0", nonce: "0", deadline: "1767225600", signature: SIGNATURE, ...changes };
}

function withdrawalBody(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return { account: ALICE, token: ZERO, amount: "5", nonce: "0", deadline: "1767225600", signature: SIGNATURE, ...changes };
}

function without(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...body };
  delete copy[key];
  return copy;
}

function issuesOf(error: DeltaError): readonly ProtocolIssue[] {
  const issues = error.details?.["issues"];
  assert.ok(Array.isArray(issues), "details.issues is an array");
  return issues as ProtocolIssue[]; // checked to be an array just above; its items are ProtocolIssue by construction
}

/** Asserts that `result` is a refusal whose first issue has `code` at `path`; returns the error. */
function assertRefused<T>(result: ParseResult<T>, code: ErrorCode, path?: string): DeltaError {
  assert.equal(result.ok, false, `expected refusal ${code}`);
  if (result.ok) throw new Error("unreachable");
  assert.ok(result.error instanceof DeltaError);
  assert.equal(result.error.code, code, result.error.message);
  const [first] = issuesOf(result.error);
  assert.equal(first?.code, code);
  if (path !== undefined) assert.equal(first?.path, path);
  return result.error;
}

function transferRefused(changes: Record<string, unknown>, code: ErrorCode, path?: string): DeltaError {
  return assertRefused(tryParseTransferRequest(transferBody(changes)), code, path);
}

const UINT_FIELDS = ["amount", "fee", "nonce", "deadline"] as const;
const ADDRESS_FIELDS = ["from", "to", "token"] as const;

describe("TransferRequest: accepted", () => {
  test("parses a valid body into bigints, checksummed addresses and a lowercase signature", () => {
    const upperSignature = `0x${R}${S_LOW.toUpperCase()}1B`;
    const parsed = parseTransferRequest(transferBody({ amount: "1000000000000000000", fee: "7", signature: upperSignature }));
    assert.deepEqual(parsed, {
      from: getAddress(ALICE),
      to: getAddress(BOB),
      token: ZERO,
      amount: 10n ** 18n,
      fee: 7n,
      nonce: 0n,
      deadline: 1767225600n,
      signature: SIGNATURE,
    });
  });

  test("accepts fee 0, nonce 0, deadline 0 and 2^256 - 1 everywhere", () => {
    const max = MAX_UINT256.toString();
    const parsed = parseTransferRequest(transferBody({ amount: max, fee: max, nonce: max, deadline: max }));
    assert.equal(parsed.amount, MAX_UINT256);
    assert.equal(parsed.deadline, MAX_UINT256);
    const zeros = parseTransferRequest(transferBody({ fee: "0", nonce: "0", deadline: "0" }));
    assert.deepEqual([zeros.fee, zeros.nonce, zeros.deadline], [0n, 0n, 0n]);
  });

  test("accepts addresses all lowercase, all uppercase or checksummed, and the zero address as token", () => {
    const upper = `0x${ALICE.slice(2).toUpperCase()}`;
    for (const from of [ALICE, upper, getAddress(ALICE)]) {
      assert.equal(parseTransferRequest(transferBody({ from })).from, getAddress(ALICE));
    }
    assert.equal(parseTransferRequest(transferBody({ token: ZERO })).token, ZERO);
  });

  test("round-trips through encodeTransferRequest on random transfers", () => {
    fc.assert(
      fc.property(arb.transfer, (t) => {
        fc.pre(t.from !== t.to && t.from !== ZERO && t.to !== ZERO && t.amount > 0n);
        const signed: SignedTransfer = {
          from: getAddress(t.from) as Address, // getAddress returns 0x + 40 hex digits
          to: getAddress(t.to) as Address,
          token: getAddress(t.token) as Address,
          amount: t.amount,
          fee: t.fee,
          nonce: t.nonce,
          deadline: t.deadline,
          signature: SIGNATURE as `0x${string}`, // a 0x string literal
        };
        const json = JSON.parse(JSON.stringify(encodeTransferRequest(signed)));
        assert.deepEqual(parseTransferRequest(json), signed);
      }),
      { numRuns: 200 },
    );
  });
});

describe("TransferRequest: amounts and other uint256 fields", () => {
  test('refuses amount "0" with AMOUNT_ZERO', () => {
    const error = transferRefused({ amount: "0" }, "AMOUNT_ZERO", "amount");
    assert.match(error.message, /amount must be more than 0/);
  });

  for (const field of UINT_FIELDS) {
    test(`refuses malformed ${field} with INVALID_AMOUNT, naming the field`, () => {
      for (const bad of ["-1", "-0", "+1", "+0", "1.5", "1e18", "0x10", " 1", "1 ", "01", "", "ten", "1,000"]) {
        const error = transferRefused({ [field]: bad }, "INVALID_AMOUNT", field);
        assert.ok(error.message.startsWith(`${field} `), error.message);
      }
    });

    test(`refuses ${field} above 2^256 - 1 with AMOUNT_TOO_LARGE`, () => {
      transferRefused({ [field]: (MAX_UINT256 + 1n).toString() }, "AMOUNT_TOO_LARGE", field);
      transferRefused({ [field]: "1".repeat(200) }, "AMOUNT_TOO_LARGE", field);
    });

    test(`refuses ${field} as a JSON number, boolean, null or object with AMOUNT_NOT_STRING`, () => {
      for (const bad of [5, 0, 1e18, true, null, {}, ["5"]]) {
        const error = transferRefused({ [field]: bad }, "AMOUNT_NOT_STRING", field);
        assert.ok(error.message.startsWith(`${field} must be a decimal string`), error.message);
      }
    });
  }

  test("says what to write instead", () => {
    assert.match(transferRefused({ amount: "1e18" }, "INVALID_AMOUNT").message, /1000000000000000000/);
    assert.match(transferRefused({ amount: "0x10" }, "INVALID_AMOUNT").message, /"16"/);
    assert.match(transferRefused({ amount: "007" }, "INVALID_AMOUNT").message, /write "7"/);
    assert.match(transferRefused({ amount: "1.5" }, "INVALID_AMOUNT").message, /wei/);
  });
});

describe("TransferRequest: addresses", () => {
  for (const field of ADDRESS_FIELDS) {
    test(`refuses a malformed ${field} with INVALID_ADDRESS`, () => {
      for (const bad of ["0x1234", `${ALICE}00`, ALICE.slice(2), `0x${"g".repeat(40)}`, `0X${ALICE.slice(2)}`, ""]) {
        const error = transferRefused({ [field]: bad }, "INVALID_ADDRESS", field);
        assert.ok(error.message.startsWith(`${field} `), error.message);
      }
      for (const bad of [5, null, true]) transferRefused({ [field]: bad }, "INVALID_ADDRESS", field);
    });

    test(`refuses ${field} with a wrong mixed-case checksum with BAD_CHECKSUM`, () => {
      const checksummed = getAddress(field === "to" ? BOB : ALICE);
      // Lowercase the first uppercase letter: still mixed case, no longer the checksum.
      const typo = checksummed.replace(/[A-F]/, (c) => c.toLowerCase());
      const error = transferRefused({ [field]: typo }, "BAD_CHECKSUM", field);
      assert.match(error.message, new RegExp(checksummed));
    });
  }

  test("refuses the zero address as sender or receiver with ZERO_ADDRESS", () => {
    transferRefused({ from: ZERO }, "ZERO_ADDRESS", "from");
    transferRefused({ to: ZERO }, "ZERO_ADDRESS", "to");
  });

  test("refuses from == to with SELF_TRANSFER, whatever the case", () => {
    transferRefused({ to: ALICE }, "SELF_TRANSFER", "to");
    transferRefused({ from: getAddress(ALICE), to: `0x${ALICE.slice(2).toUpperCase()}` }, "SELF_TRANSFER", "to");
  });
});

describe("TransferRequest: signature", () => {
  test("refuses anything but 65 bytes of 0x hex with INVALID_SIGNATURE", () => {
    for (const bad of [`0x${R}${S_LOW}`, `${SIGNATURE}00`, SIGNATURE.slice(2), `0x${R}${S_LOW}zz`, "0x", "", `0X${R}${S_LOW}1b`]) {
      transferRefused({ signature: bad }, "INVALID_SIGNATURE", "signature");
    }
    transferRefused({ signature: 27 }, "INVALID_SIGNATURE", "signature");
  });

  test("refuses r = 0, r >= n and s = 0 with INVALID_SIGNATURE", () => {
    transferRefused({ signature: `0x${"00".repeat(32)}${S_LOW}1b` }, "INVALID_SIGNATURE");
    transferRefused({ signature: `0x${word(SECP256K1_N)}${S_LOW}1b` }, "INVALID_SIGNATURE");
    transferRefused({ signature: `0x${R}${"00".repeat(32)}1b` }, "INVALID_SIGNATURE");
  });

  test("refuses s > n/2 with HIGH_S_SIGNATURE and accepts s = n/2", () => {
    transferRefused({ signature: `0x${R}${word(SECP256K1_HALF_N + 1n)}1b` }, "HIGH_S_SIGNATURE", "signature");
    transferRefused({ signature: `0x${R}${word(SECP256K1_N - 1n)}1c` }, "HIGH_S_SIGNATURE", "signature");
    assert.equal(tryParseTransferRequest(transferBody({ signature: `0x${R}${word(SECP256K1_HALF_N)}1b` })).ok, true);
  });

  test("refuses v other than 27 or 28 with INVALID_V", () => {
    for (const v of ["00", "01", "1a", "1d", "ff"]) {
      transferRefused({ signature: `0x${R}${S_LOW}${v}` }, "INVALID_V", "signature");
    }
    assert.match(transferRefused({ signature: `0x${R}${S_LOW}01` }, "INVALID_V").message, /add 27/);
    assert.equal(tryParseTransferRequest(transferBody({ signature: `0x${R}${S_LOW}1c` })).ok, true);
  });
});

describe("TransferRequest: structure", () => {
  test("refuses an unknown field with UNKNOWN_FIELD, listing the fields there are", () => {
    const error = transferRefused({ memo: "hi" }, "UNKNOWN_FIELD", "memo");
    assert.match(error.message, /"memo".*from, to, token, amount, fee, nonce, deadline, signature/);
  });

  for (const field of ["from", "to", "token", "amount", "fee", "nonce", "deadline", "signature"]) {
    test(`refuses a body without ${field} with MISSING_FIELD`, () => {
      const error = assertRefused(tryParseTransferRequest(without(transferBody(), field)), "MISSING_FIELD", field);
      assert.match(error.message, new RegExp(`missing field "${field}"`));
    });
  }

  test("refuses a body that is not an object with INVALID_BODY", () => {
    for (const body of [null, undefined, [], "transfer", 5, true]) {
      assertRefused(tryParseTransferRequest(body), "INVALID_BODY", "");
    }
  });

  test("lists every issue in details, structural ones first", () => {
    const body = without(transferBody({ amount: "0", fee: "1e3", ammount: "5", to: ZERO }), "nonce");
    const error = assertRefused(tryParseTransferRequest(body), "UNKNOWN_FIELD", "ammount");
    const issues = issuesOf(error).map((i) => `${i.code}@${i.path}`);
    assert.deepEqual(issues, ["UNKNOWN_FIELD@ammount", "MISSING_FIELD@nonce", "ZERO_ADDRESS@to", "AMOUNT_ZERO@amount", "INVALID_AMOUNT@fee"]);
    for (const message of ["ammount", "nonce", "zero address", "more than 0", "exponent"]) assert.match(error.message, new RegExp(message));
  });

  test("parseTransferRequest throws the DeltaError that tryParse returns", () => {
    assert.throws(() => parseTransferRequest(transferBody({ amount: "0" })), (e: unknown) => e instanceof DeltaError && e.code === "AMOUNT_ZERO");
  });
});

describe("WithdrawalRequest", () => {
  test("parses a valid body", () => {
    assert.deepEqual(parseWithdrawalRequest(withdrawalBody({ amount: "12", nonce: "3" })), {
      account: getAddress(ALICE),
      token: ZERO,
      amount: 12n,
      nonce: 3n,
      deadline: 1767225600n,
      signature: SIGNATURE,
    });
  });

  test("refuses each problem with its code", () => {
    const refused = (changes: Record<string, unknown>, code: ErrorCode, path: string): void => {
      assertRefused(tryParseWithdrawalRequest(withdrawalBody(changes)), code, path);
    };
    refused({ amount: "0" }, "AMOUNT_ZERO", "amount");
    refused({ amount: 5 }, "AMOUNT_NOT_STRING", "amount");
    refused({ nonce: "-1" }, "INVALID_AMOUNT", "nonce");
    refused({ deadline: (MAX_UINT256 + 1n).toString() }, "AMOUNT_TOO_LARGE", "deadline");
    refused({ account: ZERO }, "ZERO_ADDRESS", "account");
    refused({ account: "0x12" }, "INVALID_ADDRESS", "account");
    refused({ signature: `0x${R}${S_LOW}1d` }, "INVALID_V", "signature");
    refused({ to: BOB }, "UNKNOWN_FIELD", "to");
    assertRefused(tryParseWithdrawalRequest(without(withdrawalBody(), "token")), "MISSING_FIELD", "token");
    assert.throws(() => parseWithdrawalRequest([]), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_BODY");
  });

  test("round-trips through encodeWithdrawalRequest", () => {
    const parsed = parseWithdrawalRequest(withdrawalBody({ amount: MAX_UINT256.toString() }));
    assert.deepEqual(parseWithdrawalRequest(JSON.parse(JSON.stringify(encodeWithdrawalRequest(parsed)))), parsed);
  });
});

describe("TransferBatchRequest", () => {
  test("answers each item on its own, in order, with item paths", () => {
    const results = parseTransferBatchRequest({
      transfers: [transferBody(), transferBody({ amount: "0" }), transferBody({ nonce: "1" }), "junk"],
    });
    assert.equal(results.length, 4);
    assert.deepEqual(
      results.map((r) => (r.ok ? "ok" : r.error.code)),
      ["ok", "AMOUNT_ZERO", "ok", "INVALID_BODY"],
    );
    const second = results[1];
    assert.ok(second !== undefined && !second.ok);
    assert.equal(issuesOf(second.error)[0]?.path, "transfers[1].amount");
    const third = results[2];
    assert.ok(third !== undefined && third.ok);
    assert.equal(third.value.nonce, 1n);
  });

  test(`accepts 1 and ${TRANSFER_BATCH_MAX} items, refuses 0 and ${TRANSFER_BATCH_MAX + 1} with BATCH_SIZE`, () => {
    assert.equal(parseTransferBatchRequest({ transfers: [transferBody()] }).length, 1);
    const full = Array.from({ length: TRANSFER_BATCH_MAX }, (_, i) => transferBody({ nonce: String(i) }));
    const results = parseTransferBatchRequest({ transfers: full });
    assert.equal(results.length, TRANSFER_BATCH_MAX);
    assert.ok(results.every((r) => r.ok));
    assertRefused(tryParseTransferBatchRequest({ transfers: [] }), "BATCH_SIZE", "transfers");
    assertRefused(tryParseTransferBatchRequest({ transfers: [...full, transferBody()] }), "BATCH_SIZE", "transfers");
  });

  test("refuses a bad envelope as a whole", () => {
    assertRefused(tryParseTransferBatchRequest([transferBody()]), "INVALID_BODY", "");
    assertRefused(tryParseTransferBatchRequest({}), "MISSING_FIELD", "transfers");
    assertRefused(tryParseTransferBatchRequest({ transfers: transferBody() }), "INVALID_BODY", "transfers");
    assertRefused(tryParseTransferBatchRequest({ transfers: [transferBody()], dryRun: true }), "UNKNOWN_FIELD", "dryRun");
    assert.throws(() => parseTransferBatchRequest({ transfers: [] }), (e: unknown) => e instanceof DeltaError && e.code === "BATCH_SIZE");
  });

  test("the full schema (for OpenAPI) parses the same items", () => {
    const parsed = TransferBatchRequestSchema.parse({ transfers: [transferBody()] });
    assert.deepEqual(parsed.transfers[0], parseTransferRequest(transferBody()));
  });
});

describe("AdminSealRequest", () => {
  test("accepts {} and an absent body", () => {
    assert.deepEqual(parseAdminSealRequest({}), {});
    assert.deepEqual(parseAdminSealRequest(undefined), {});
  });

  test("refuses any field with UNKNOWN_FIELD and a non-object with INVALID_BODY", () => {
    assertRefused(tryParseAdminSealRequest({ epoch: "3" }), "UNKNOWN_FIELD", "epoch");
    assertRefused(tryParseAdminSealRequest([]), "INVALID_BODY", "");
    assertRefused(tryParseAdminSealRequest(null), "INVALID_BODY", "");
  });
});

describe("JSON Schema for OpenAPI", () => {
  test("z.toJSONSchema renders every request body with its id and field patterns", () => {
    const registry = z.registry<{ id: string }>();
    for (const [id, schema] of [
      ["TransferRequest", TransferRequestSchema],
      ["WithdrawalRequest", WithdrawalRequestSchema],
      ["TransferBatchRequest", TransferBatchRequestSchema],
      ["AdminSealRequest", AdminSealRequestSchema],
    ] as const) {
      registry.add(schema, { id });
    }
    const { schemas } = z.toJSONSchema(registry, { io: "input" });
    const transfer = schemas["TransferRequest"];
    assert.ok(transfer !== undefined);
    assert.equal(transfer.additionalProperties, false);
    assert.deepEqual(transfer.required, ["from", "to", "token", "amount", "fee", "nonce", "deadline", "signature"]);
    const properties = transfer.properties ?? {};
    const pattern = (name: string): unknown => {
      const property = properties[name];
      return typeof property === "object" ? property.pattern : undefined;
    };
    assert.equal(pattern("amount"), "^[1-9][0-9]*$");
    assert.equal(pattern("fee"), "^(0|[1-9][0-9]*)$");
    assert.equal(pattern("from"), "^0x[0-9a-fA-F]{40}$");
    assert.equal(pattern("signature"), "^0x[0-9a-fA-F]{130}$");
    const batch = schemas["TransferBatchRequest"]?.properties?.["transfers"];
    assert.ok(typeof batch === "object");
    assert.equal(batch.maxItems, TRANSFER_BATCH_MAX);
    assert.equal(batch.minItems, 1);
    assert.ok(schemas["WithdrawalRequest"] !== undefined && schemas["AdminSealRequest"] !== undefined);
  });
});
