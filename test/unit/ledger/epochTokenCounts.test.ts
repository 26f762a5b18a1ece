// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * getEpochTokenCounts: per token, the transfers and withdrawals an epoch applied (what
 * GET /v1/epochs/:n/tokens answers). Tokens come ascending whatever order the messages arrived in;
 * refused messages do not count; the counts hold through seal, settlement and a snapshot round trip.
 */
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import {
  applyEntry,
  createLedger,
  getEpochStatus,
  getEpochSummary,
  getEpochTokenCounts,
  parseLedgerSnapshot,
  restoreLedger,
  stateHash,
  takeSnapshot,
  type LedgerState,
} from "../../../src/ledger/index.ts";
import type { Address } from "../../../src/protocol/index.ts";
import { ALICE, BOB, block, deposit, FEES, hashOf, MIKE, NATIVE, TOKEN, transfer, withdrawal } from "./fixtures.ts";

/** A third token, between NATIVE (0x00…00) and TOKEN (0x00…aa) in address order. */
const OTHER: Address = "0x00000000000000000000000000000000000000a0";

describe("getEpochTokenCounts", () => {
  let ledger: LedgerState;
  beforeEach(() => {
    ledger = createLedger({ feeRecipient: FEES });
    assert.equal(applyEntry(ledger, deposit(0n, ALICE, 100n)).status, "credited");
    assert.equal(applyEntry(ledger, deposit(1n, BOB, 50n)).status, "credited");
    assert.equal(applyEntry(ledger, deposit(2n, BOB, 9n, NATIVE)).status, "credited");
    assert.equal(applyEntry(ledger, deposit(3n, ALICE, 30n, OTHER)).status, "credited");
  });

  it("is undefined for an epoch that does not exist (0, past the open one, the largest uint64)", () => {
    assert.equal(getEpochTokenCounts(ledger, 0n), undefined);
    assert.equal(getEpochTokenCounts(ledger, 2n), undefined);
    assert.equal(getEpochTokenCounts(ledger, (1n << 64n) - 1n), undefined);
    applyEntry(ledger, { type: "seal", epoch: 1n });
    assert.equal(getEpochTokenCounts(ledger, 3n), undefined, "epoch 2 is the open one now");
  });

  it("is an empty array for an empty open epoch (deposits are not messages of an epoch)", () => {
    assert.deepEqual(getEpochTokenCounts(ledger, 1n), []);
    // Still empty once sealed with nothing in it.
    applyEntry(ledger, { type: "seal", epoch: 1n });
    assert.deepEqual(getEpochTokenCounts(ledger, 1n), []);
    assert.deepEqual(getEpochTokenCounts(ledger, 2n), []);
  });

  it("counts each token's applied transfers and withdrawals, tokens ascending, refused messages left out", () => {
    // Arrival order TOKEN, NATIVE, OTHER: the answer must not follow it.
    const r = applyEntry(
      ledger,
      block([
        transfer(ALICE, BOB, 10n, 0n, { fee: 1n }),
        transfer(BOB, ALICE, 3n, 0n, { token: NATIVE }),
        withdrawal(BOB, 5n, 1n),
        transfer(ALICE, MIKE, 4n, 1n, { token: OTHER }),
        transfer(BOB, MIKE, 2n, 2n, { token: NATIVE }),
        withdrawal(ALICE, 6n, 2n, { token: OTHER }),
        withdrawal(ALICE, 1n, 3n),
        transfer(BOB, MIKE, 7n, 3n),
        // Refused: Mike holds 2 wei of ETH (from Bob, above). Counted nowhere.
        transfer(MIKE, ALICE, 100n, 0n, { token: NATIVE }),
      ]),
    );
    assert.equal(r.rejected, 1, JSON.stringify(r.results.map((x) => x.status)));
    const before = stateHash(ledger);
    const counts = getEpochTokenCounts(ledger, 1n);
    assert.deepEqual(counts, [
      { token: NATIVE, transfers: 2, withdrawals: 0 },
      { token: OTHER, transfers: 1, withdrawals: 1 },
      { token: TOKEN, transfers: 2, withdrawals: 2 },
    ]);
    assert.equal(stateHash(ledger), before, "a query changes nothing");
    // The per-token counts add up to the epoch's totals.
    const summary = getEpochSummary(ledger, 1n);
    assert.ok(summary !== undefined && counts !== undefined);
    assert.equal(counts.reduce((n, c) => n + c.transfers, 0), summary.transfers);
    assert.equal(counts.reduce((n, c) => n + c.withdrawals, 0), summary.withdrawals);
  });

  it("keeps an epoch's counts through seal and settlement; later messages count in the next epoch only", () => {
    applyEntry(ledger, block([withdrawal(BOB, 1n, 0n, { token: NATIVE }), transfer(ALICE, BOB, 5n, 0n)]));
    const epoch1 = [
      { token: NATIVE, transfers: 0, withdrawals: 1 },
      { token: TOKEN, transfers: 1, withdrawals: 0 },
    ];
    assert.deepEqual(getEpochTokenCounts(ledger, 1n), epoch1);
    assert.equal(applyEntry(ledger, { type: "seal", epoch: 1n }).status, "sealed");
    assert.deepEqual(getEpochTokenCounts(ledger, 1n), epoch1);
    assert.deepEqual(getEpochTokenCounts(ledger, 2n), []);

    applyEntry(ledger, block([transfer(ALICE, MIKE, 1n, 1n, { token: OTHER }), transfer(ALICE, BOB, 2n, 2n, { token: OTHER })]));
    assert.deepEqual(getEpochTokenCounts(ledger, 2n), [{ token: OTHER, transfers: 2, withdrawals: 0 }]);
    assert.deepEqual(getEpochTokenCounts(ledger, 1n), epoch1, "epoch 1 is closed to new messages");

    assert.equal(applyEntry(ledger, { type: "settled", epoch: 1n, txHashes: [hashOf("tx")] }).status, "settled");
    assert.equal(getEpochSummary(ledger, 1n)?.status, "settled");
    assert.deepEqual(getEpochTokenCounts(ledger, 1n), epoch1);

    // A node restored from a snapshot answers the same.
    const restored = restoreLedger({ feeRecipient: FEES }, parseLedgerSnapshot(JSON.parse(JSON.stringify(takeSnapshot(ledger)))));
    assert.deepEqual(getEpochTokenCounts(restored, 1n), epoch1);
    assert.deepEqual(getEpochTokenCounts(restored, 2n), [{ token: OTHER, transfers: 2, withdrawals: 0 }]);
  });
});

describe("getEpochStatus", () => {
  it("agrees with getEpochSummary's status and counts through open, sealed and settled; undefined when missing", () => {
    const ledger = createLedger({ feeRecipient: FEES });
    assert.equal(applyEntry(ledger, deposit(0n, ALICE, 100n)).status, "credited");
    const same = (epoch: bigint): void => {
      const s = getEpochSummary(ledger, epoch)!;
      assert.deepEqual(getEpochStatus(ledger, epoch), { status: s.status, transfers: s.transfers, withdrawals: s.withdrawals });
    };
    same(1n);
    applyEntry(ledger, block([transfer(ALICE, BOB, 5n, 0n), transfer(ALICE, MIKE, 5n, 1n), withdrawal(ALICE, 3n, 2n)]));
    same(1n);
    assert.deepEqual(getEpochStatus(ledger, 1n), { status: "open", transfers: 2, withdrawals: 1 });
    assert.equal(applyEntry(ledger, { type: "seal", epoch: 1n }).status, "sealed");
    same(1n);
    same(2n);
    assert.equal(applyEntry(ledger, { type: "settled", epoch: 1n, txHashes: [hashOf("tx")] }).status, "settled");
    same(1n);
    assert.equal(getEpochStatus(ledger, 1n)?.status, "settled");
    assert.equal(getEpochStatus(ledger, 0n), undefined);
    assert.equal(getEpochStatus(ledger, 3n), undefined);
  });
});
