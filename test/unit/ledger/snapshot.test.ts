// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { DeltaError } from "../../../src/errors.ts";
import {
  applyEntry,
  createLedger,
  getEpochSummary,
  getDeposit,
  getDepositConflicts,
  getMessageProof,
  hashSnapshot,
  MAX_TOKEN_DEPOSITS,
  parseLedgerSnapshot,
  restoreLedger,
  stateHash,
  takeSnapshot,
  type LedgerSnapshot,
  type LedgerState,
} from "../../../src/ledger/index.ts";
import { ALICE, BOB, block, deposit, FEES, hashOf, MIKE, NATIVE, TOKEN, transfer, withdrawal } from "./fixtures.ts";

/** A ledger with a settled, a sealed and an open epoch, fees, withdrawals, two tokens, sparse deposit ids, a refused deposit and a conflict. */
function busyLedger(): LedgerState {
  const ledger = createLedger({ feeRecipient: FEES });
  applyEntry(ledger, deposit(0n, ALICE, 100n));
  applyEntry(ledger, deposit(2n, BOB, 50n));
  applyEntry(ledger, deposit(5n, BOB, 9n, NATIVE));
  // Refused for good (beyond the token's lifetime cap): decided, not credited.
  applyEntry(ledger, deposit(7n, MIKE, MAX_TOKEN_DEPOSITS));
  // Id 2 seen again with other contents: a conflict, remembered, not credited.
  applyEntry(ledger, deposit(2n, MIKE, 51n));
  applyEntry(ledger, block([transfer(ALICE, BOB, 10n, 0n, { fee: 1n }), withdrawal(BOB, 5n, 0n)]));
  applyEntry(ledger, { type: "seal", epoch: 1n });
  applyEntry(ledger, { type: "settled", epoch: 1n, txHashes: [hashOf("tx1"), hashOf("tx2")] });
  applyEntry(ledger, block([transfer(BOB, MIKE, 20n, 1n), transfer(BOB, ALICE, 3n, 2n, { token: NATIVE })]));
  applyEntry(ledger, { type: "seal", epoch: 2n });
  applyEntry(ledger, block([transfer(MIKE, ALICE, 4n, 0n, { fee: 2n }), withdrawal(ALICE, 1n, 1n, { token: NATIVE })]));
  return ledger;
}

/** What a node does: JSON text on disk, parsed and checked on the way back. */
function roundTrip(snapshot: LedgerSnapshot): LedgerState {
  return restoreLedger({ feeRecipient: FEES }, parseLedgerSnapshot(JSON.parse(JSON.stringify(snapshot))));
}

function mutated(edit: (s: { [k: string]: unknown }) => void): unknown {
  const copy: { [k: string]: unknown } = JSON.parse(JSON.stringify(takeSnapshot(busyLedger())));
  edit(copy);
  return copy;
}

function isInvalidSnapshot(e: unknown): boolean {
  return e instanceof DeltaError && e.code === "INVALID_SNAPSHOT";
}

describe("snapshots", () => {
  it("restore to the same state hash and the same canonical snapshot", () => {
    const ledger = busyLedger();
    const snapshot = takeSnapshot(ledger);
    const restored = roundTrip(snapshot);
    assert.equal(stateHash(restored), stateHash(ledger));
    assert.equal(hashSnapshot(snapshot), stateHash(ledger));
    assert.deepEqual(takeSnapshot(restored), snapshot);
  });

  it("a restored ledger goes on exactly like the original: same verdicts, root and hash", () => {
    const original = busyLedger();
    const restored = roundTrip(takeSnapshot(original));
    const tail = [
      block([transfer(ALICE, MIKE, 5n, 2n, { fee: 1n }), transfer(ALICE, MIKE, 5n, 9n)]),
      { type: "settled", epoch: 2n, txHashes: [hashOf("tx3")] } as const,
      { type: "seal", epoch: 3n } as const,
      deposit(1n, MIKE, 3n),
      deposit(2n, MIKE, 3n),
    ];
    for (const entry of tail) assert.deepEqual(applyEntry(restored, entry), applyEntry(original, entry));
    assert.equal(stateHash(restored), stateHash(original));
    assert.deepEqual(getEpochSummary(restored, 3n), getEpochSummary(original, 3n));
  });

  it("proofs of a restored ledger rebuild the tree and verify with the library", () => {
    const original = busyLedger();
    const restored = roundTrip(takeSnapshot(original));
    for (const epoch of [1n, 2n]) {
      const summary = getEpochSummary(original, epoch);
      assert.ok(summary?.root);
    }
    const snapshot = takeSnapshot(original);
    for (const e of snapshot.epochs.filter((x) => x.status !== "open")) {
      for (const m of e.messages) {
        const p = getMessageProof(restored, m.hash);
        assert.deepEqual(p, getMessageProof(original, m.hash));
        assert.ok(SimpleMerkleTree.verify(p.root, p.leaf, [...p.proof]));
      }
    }
  });

  it("keeps each decided deposit's contents and the conflicts, and rebuilds the lowest undecided id", () => {
    const restored = roundTrip(takeSnapshot(busyLedger()));
    assert.deepEqual(getDeposit(restored, 2n), { depositId: 2n, account: BOB.toLowerCase(), token: TOKEN, amount: 50n, credited: true });
    assert.equal(getDeposit(restored, 7n)?.credited, false);
    assert.equal(getDeposit(restored, 1n), undefined);
    assert.deepEqual(
      getDepositConflicts(restored).map((c) => [c.depositId, c.account, c.amount]),
      [[2n, MIKE.toLowerCase(), 51n]],
    );
    // Ids 0, 2, 5 and 7 are decided, so 1 is the lowest undecided; credits of 1, 3 and 4 move it to 6.
    assert.equal(applyEntry(restored, deposit(1n, ALICE, 1n)).status, "credited");
    assert.equal(applyEntry(restored, deposit(3n, ALICE, 1n)).status, "credited");
    assert.equal(applyEntry(restored, deposit(4n, ALICE, 1n)).status, "credited");
    assert.equal(restored.deposits.nextId, 6n);
  });

  it("refuses a snapshot taken with another fee recipient", () => {
    assert.throws(() => restoreLedger({ feeRecipient: MIKE }, takeSnapshot(busyLedger())), isInvalidSnapshot);
  });

  const tampering: [string, (s: { [k: string]: unknown }) => void][] = [
    ["an unknown field", (s) => (s.extra = 1)],
    [
      "a decimal with a leading zero",
      (s) => {
        const d = (s.deposits as { decided: { id: string }[] }).decided[0];
        if (d) d.id = `0${d.id}`;
      },
    ],
    ["an uppercase address", (s) => (s.feeRecipient = String(s.feeRecipient).toUpperCase().replace("0X", "0x"))],
    [
      "a balance raised",
      (s) => {
        const accounts = s.accounts as { balances: { amount: string }[] }[];
        const b = accounts[0]?.balances[0];
        if (b) b.amount = (BigInt(b.amount) + 1n).toString();
      },
    ],
    [
      "accounts out of order",
      (s) => {
        (s.accounts as unknown[]).reverse();
      },
    ],
    [
      "a nonce changed",
      (s) => {
        const accounts = s.accounts as { nonce: string }[];
        const a = accounts.find((x) => x.nonce !== "0");
        if (a) a.nonce = (BigInt(a.nonce) + 1n).toString();
      },
    ],
    [
      "a sealed epoch's delta changed",
      (s) => {
        const epochs = s.epochs as { deltas: { amount: string }[] }[];
        const d = epochs[1]?.deltas[0];
        if (d) d.amount = (BigInt(d.amount) - 1n).toString();
      },
    ],
    [
      "an open epoch's payout dropped",
      (s) => {
        const epochs = s.epochs as { payouts: unknown[] }[];
        epochs[2]?.payouts.pop();
      },
    ],
    [
      "a sealed epoch's root changed",
      (s) => {
        const epochs = s.epochs as { root: string }[];
        if (epochs[1]) epochs[1].root = hashOf("forged root");
      },
    ],
    [
      "a message dropped",
      (s) => {
        const epochs = s.epochs as { messages: unknown[] }[];
        epochs[0]?.messages.pop();
      },
    ],
    [
      "two epochs open",
      (s) => {
        const epochs = s.epochs as { status: string; root: string | null; settlementTxs: unknown[] }[];
        if (epochs[1]) Object.assign(epochs[1], { status: "open", root: null });
      },
    ],
    [
      "a decided deposit id listed twice",
      (s) => {
        const decided = (s.deposits as { decided: unknown[] }).decided;
        decided.unshift(decided[0]);
      },
    ],
    [
      "a credited deposit's amount changed together with its token's total",
      (s) => {
        const d = (s.deposits as { decided: { token: string; amount: string }[] }).decided[0];
        const t = (s.tokens as { token: string; deposited: string }[]).find((x) => x.token === d?.token);
        if (d && t) {
          d.amount = (BigInt(d.amount) + 1n).toString();
          t.deposited = (BigInt(t.deposited) + 1n).toString();
        }
      },
    ],
    [
      "a deposit's contents changed (another token, same total)",
      (s) => {
        const decided = (s.deposits as { decided: { token: string }[] }).decided;
        const tokens = (s.tokens as { token: string }[]).map((t) => t.token);
        const d = decided[0];
        const other = tokens.find((t) => t !== d?.token);
        if (d && other) d.token = other;
      },
    ],
    [
      "a conflict naming an undecided id",
      (s) => {
        const first = (s.deposits as { decided: { account: string; token: string }[] }).decided[0];
        (s.deposits as { conflicts: unknown[] }).conflicts.push({ id: "999999", account: first?.account, token: first?.token, amount: "1", credited: false });
      },
    ],
    [
      "a conflict with the very contents decided",
      (s) => {
        const first = (s.deposits as { decided: { id: string; account: string; token: string; amount: string }[] }).decided[0];
        (s.deposits as { conflicts: unknown[] }).conflicts.push({ ...first, credited: false });
      },
    ],
    [
      "withdrawn total changed together with a balance",
      (s) => {
        const tokens = s.tokens as { withdrawn: string }[];
        const t = tokens[tokens.length - 1];
        const accounts = s.accounts as { balances: { token: string; amount: string }[] }[];
        if (t) t.withdrawn = (BigInt(t.withdrawn) + 1n).toString();
        const b = accounts.flatMap((a) => a.balances).find((x) => x.amount !== "0" && x.token === (s.tokens as { token: string }[])[tokens.length - 1]?.token);
        if (b) b.amount = (BigInt(b.amount) - 1n).toString();
      },
    ],
  ];
  for (const [what, edit] of tampering) {
    it(`refuses a snapshot with ${what}`, () => {
      const value = mutated(edit);
      assert.throws(() => restoreLedger({ feeRecipient: FEES }, parseLedgerSnapshot(value)), isInvalidSnapshot);
    });
  }
});
