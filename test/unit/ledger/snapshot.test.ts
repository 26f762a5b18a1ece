// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { DeltaError } from "../../../src/errors.ts";
import {
  applyEntry,
  createLedger,
  getEpochSummary,
  getMessageProof,
  hashSnapshot,
  parseLedgerSnapshot,
  restoreLedger,
  stateHash,
  takeSnapshot,
  type LedgerSnapshot,
  type LedgerState,
} from "../../../src/ledger/index.ts";
import { ALICE, BOB, block, deposit, FEES, hashOf, MIKE, NATIVE, transfer, withdrawal } from "./fixtures.ts";

/** A ledger with a settled, a sealed and an open epoch, fees, withdrawals, two tokens, sparse deposit ids. */
function busyLedger(): LedgerState {
  const ledger = createLedger({ feeRecipient: FEES });
  applyEntry(ledger, deposit(0n, ALICE, 100n));
  applyEntry(ledger, deposit(2n, BOB, 50n));
  applyEntry(ledger, deposit(5n, BOB, 9n, NATIVE));
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

  it("refuses a snapshot taken with another fee recipient", () => {
    assert.throws(() => restoreLedger({ feeRecipient: MIKE }, takeSnapshot(busyLedger())), isInvalidSnapshot);
  });

  const tampering: [string, (s: { [k: string]: unknown }) => void][] = [
    ["an unknown field", (s) => (s.extra = 1)],
    ["a decimal with a leading zero", (s) => ((s.deposits as { nextId: string }).nextId = "01")],
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
      "a credited deposit id below nextId listed again",
      (s) => {
        (s.deposits as { above: string[] }).above.unshift("0");
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
