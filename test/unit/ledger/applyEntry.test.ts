// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, keccak256 as hashOfLeaf } from "ethers";
import { DeltaError } from "../../../src/errors.ts";
import {
  applyEntry,
  createLedger,
  buildSettlementChunks,
  EMPTY_TRANSFERS_ROOT,
  MAX_TOKEN_DEPOSITS,
  getAccount,
  getDeposit,
  getDepositConflicts,
  getEpochHeads,
  getEpochSummary,
  getFirstUndecidedDeposit,
  getMessage,
  getMessageProof,
  getTokenTotals,
  stateHash,
  takeSnapshot,
  type BlockEntry,
  type LedgerState,
  type MessageResult,
} from "../../../src/ledger/index.ts";
import type { Address } from "../../../src/protocol/index.ts";
import { ALICE, BOB, block, deposit, FEES, hashOf, MIKE, NATIVE, NOW, TOKEN, transfer, withdrawal } from "./fixtures.ts";

function balanceOf(ledger: LedgerState, account: Address, token: Address = TOKEN): bigint {
  return getAccount(ledger, account).balances.find((b) => b.token === token)?.amount ?? 0n;
}

function only(results: readonly MessageResult[]): MessageResult {
  assert.equal(results.length, 1);
  const [r] = results;
  assert.ok(r !== undefined);
  return r;
}

/** Applies a one-message block and asserts it was refused with `code` and left the state hash as it was. */
function assertRefusedUnchanged(ledger: LedgerState, entry: BlockEntry, code: string): void {
  const before = stateHash(ledger);
  const r = only(applyEntry(ledger, entry).results);
  assert.ok(r.status === "rejected", `expected ${code}, got ${r.status}`);
  assert.equal(r.code, code);
  assert.equal(stateHash(ledger), before, "a refused message changes nothing");
}

describe("applyEntry", () => {
  let ledger: LedgerState;
  beforeEach(() => {
    ledger = createLedger({ feeRecipient: FEES });
    assert.equal(applyEntry(ledger, deposit(0n, ALICE, 100n)).status, "credited");
    assert.equal(applyEntry(ledger, deposit(1n, BOB, 50n)).status, "credited");
  });

  describe("refusals change nothing", () => {
    it("refuses a reused nonce (a replay) and changes nothing", () => {
      const first = transfer(ALICE, BOB, 10n, 0n);
      assert.equal(only(applyEntry(ledger, block([first])).results).status, "committed");
      assertRefusedUnchanged(ledger, block([first]), "NONCE_REUSED");
      assertRefusedUnchanged(ledger, block([transfer(ALICE, BOB, 1n, 0n)]), "NONCE_REUSED");
    });

    it("refuses a gapped nonce and changes nothing", () => {
      assertRefusedUnchanged(ledger, block([transfer(ALICE, BOB, 10n, 1n)]), "NONCE_GAP");
      assertRefusedUnchanged(ledger, block([withdrawal(ALICE, 10n, 5n)]), "NONCE_GAP");
    });

    it("refuses an overdraft, counting the fee, and changes nothing", () => {
      assertRefusedUnchanged(ledger, block([transfer(ALICE, BOB, 101n, 0n)]), "INSUFFICIENT_BALANCE");
      assertRefusedUnchanged(ledger, block([transfer(ALICE, BOB, 100n, 0n, { fee: 1n })]), "INSUFFICIENT_BALANCE");
      assertRefusedUnchanged(ledger, block([withdrawal(ALICE, 101n, 0n)]), "INSUFFICIENT_BALANCE");
      assertRefusedUnchanged(ledger, block([transfer(MIKE, BOB, 1n, 0n)]), "INSUFFICIENT_BALANCE");
      assertRefusedUnchanged(ledger, block([transfer(ALICE, BOB, 1n, 0n, { token: NATIVE })]), "INSUFFICIENT_BALANCE");
      // Exactly the balance is fine.
      assert.equal(only(applyEntry(ledger, block([transfer(ALICE, BOB, 99n, 0n, { fee: 1n })])).results).status, "committed");
      assert.equal(balanceOf(ledger, ALICE), 0n);
    });

    it("refuses an expired deadline (deadline < block time) and changes nothing; deadline == block time passes", () => {
      assertRefusedUnchanged(ledger, block([transfer(ALICE, BOB, 1n, 0n, { deadline: NOW - 1n })], NOW), "DEADLINE_EXPIRED");
      assertRefusedUnchanged(ledger, block([withdrawal(ALICE, 1n, 0n, { deadline: NOW - 1n })], NOW), "DEADLINE_EXPIRED");
      assert.equal(only(applyEntry(ledger, block([transfer(ALICE, BOB, 1n, 0n, { deadline: NOW })], NOW)).results).status, "committed");
    });

    it("refuses a duplicate deposit credit (same contents) and changes nothing", () => {
      const before = stateHash(ledger);
      const r = applyEntry(ledger, deposit(0n, ALICE, 100n));
      assert.ok(r.status === "rejected" && r.code === "DUPLICATE_DEPOSIT");
      // Any spelling of the same addresses is the same contents.
      const again = applyEntry(ledger, deposit(0n, getAddress(ALICE) as Address, 100n));
      assert.ok(again.status === "rejected" && again.code === "DUPLICATE_DEPOSIT");
      assert.equal(stateHash(ledger), before);
      assert.equal(balanceOf(ledger, ALICE), 100n);
    });

    it("refuses a credited depositId seen with other contents (DEPOSIT_CONFLICT), credits nothing and remembers the first conflict", () => {
      const before = stateHash(ledger);
      const account = applyEntry(ledger, deposit(0n, MIKE, 100n));
      assert.ok(account.status === "rejected" && account.code === "DEPOSIT_CONFLICT", JSON.stringify(account, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
      const afterFirst = stateHash(ledger);
      assert.notEqual(afterFirst, before, "the conflict is part of the state every replica hashes");
      assert.deepEqual(getDepositConflicts(ledger), [{ depositId: 0n, account: MIKE.toLowerCase(), token: TOKEN, amount: 100n, credited: false }]);
      for (const other of [deposit(0n, ALICE, 101n), deposit(0n, ALICE, 100n, NATIVE)]) {
        const r = applyEntry(ledger, other);
        assert.ok(r.status === "rejected" && r.code === "DEPOSIT_CONFLICT");
      }
      assert.equal(stateHash(ledger), afterFirst, "only the first conflict of an id is remembered");
      assert.equal(balanceOf(ledger, ALICE), 100n);
      assert.equal(balanceOf(ledger, MIKE), 0n);
      assert.equal(balanceOf(ledger, ALICE, NATIVE), 0n);
      assert.deepEqual(getDeposit(ledger, 0n), { depositId: 0n, account: ALICE.toLowerCase(), token: TOKEN, amount: 100n, credited: true });
    });

    it("refuses a deposit credit beyond the token's lifetime cap and changes nothing; up to the cap settles", () => {
      const fresh = createLedger({ feeRecipient: FEES });
      const big = MAX_TOKEN_DEPOSITS - 100n;
      assert.equal(applyEntry(fresh, deposit(0n, ALICE, big)).status, "credited");
      const before = stateHash(fresh);
      const r = applyEntry(fresh, deposit(1n, BOB, 101n));
      assert.ok(r.status === "rejected" && r.code === "AMOUNT_TOO_LARGE");
      // Nothing credited; the id is decided for good (so the watcher's count of ids is complete).
      assert.notEqual(stateHash(fresh), before);
      assert.equal(balanceOf(fresh, BOB), 0n);
      assert.equal(getDeposit(fresh, 1n)?.credited, false);
      assert.equal(getFirstUndecidedDeposit(fresh), 2n);
      const again = applyEntry(fresh, deposit(1n, BOB, 101n));
      assert.ok(again.status === "rejected" && again.code === "DUPLICATE_DEPOSIT");
      assert.equal(applyEntry(fresh, deposit(2n, BOB, 100n)).status, "credited");
      // The largest possible movement still settles: chunks build and every figure fits int256.
      assert.equal(only(applyEntry(fresh, block([transfer(ALICE, BOB, big, 0n)])).results).status, "committed");
      applyEntry(fresh, { type: "seal", epoch: 1n });
      const summary = getEpochSummary(fresh, 1n);
      assert.ok(summary !== undefined);
      const chunks = buildSettlementChunks(summary, 10);
      const deltas = chunks.flatMap((c) => c.deltas);
      assert.deepEqual(
        deltas.map((d) => d.amount).sort((a, b) => (a < b ? -1 : 1)),
        [-big, big],
      );
    });

    it("refuses malformed fields with their codes and changes nothing", () => {
      const cases: [BlockEntry, string][] = [
        [block([transfer(ALICE, NATIVE, 1n, 0n)]), "ZERO_ADDRESS"],
        [block([transfer(ALICE, ALICE, 1n, 0n)]), "SELF_TRANSFER"],
        [block([transfer(ALICE, getAddress(ALICE) as Address, 1n, 0n)]), "SELF_TRANSFER"],
        [block([transfer(ALICE, BOB, 0n, 0n)]), "AMOUNT_ZERO"],
        [block([transfer(ALICE, BOB, -1n, 0n)]), "INVALID_AMOUNT"],
        [block([transfer(ALICE, BOB, 1n, 0n, { fee: -1n })]), "INVALID_AMOUNT"],
        [block([transfer(ALICE, BOB, 1n, 0n, { hash: "0x1234" })]), "INVALID_HASH"],
        [block([transfer(ALICE, BOB, 1n, 0n, { hash: hashOf("x").toUpperCase().replace("0X", "0x") as Address })]), "INVALID_HASH"],
        [block([transfer(ALICE, "0x12", 1n, 0n)]), "INVALID_ADDRESS"],
        [block([transfer("0xzz00000000000000000000000000000000000000", BOB, 1n, 0n)]), "INVALID_ADDRESS"],
        [block([transfer(ALICE, BOB, 1n, 0n, { token: "0xnot-a-token" })]), "INVALID_ADDRESS"],
        [block([withdrawal(ALICE, 0n, 0n)]), "AMOUNT_ZERO"],
        [block([withdrawal(NATIVE, 1n, 0n)]), "ZERO_ADDRESS"],
      ];
      for (const [entry, code] of cases) assertRefusedUnchanged(ledger, entry, code);
    });

    it("refuses a fresh nonce carrying an already-applied hash (DUPLICATE)", () => {
      const m = transfer(ALICE, BOB, 1n, 0n);
      applyEntry(ledger, block([m]));
      assertRefusedUnchanged(ledger, block([transfer(BOB, ALICE, 1n, 0n, { hash: m.hash })]), "DUPLICATE");
    });

    it("throws INTERNAL on an entry that breaks its type, before changing anything", () => {
      const before = stateHash(ledger);
      const good = transfer(ALICE, BOB, 1n, 0n);
      // Deliberately ill-typed input, as a buggy caller could build it at run time.
      const bad = { ...transfer(ALICE, BOB, 1n, 1n), amount: 1 } as unknown as ReturnType<typeof transfer>;
      assert.throws(
        () => applyEntry(ledger, block([good, bad])),
        (e: unknown) => e instanceof DeltaError && e.code === "INTERNAL",
      );
      assert.equal(stateHash(ledger), before, "the good message before the bad one was not applied either");
    });
  });

  it("judges each message of a block on its own: a refused one does not stop the next, nor use its nonce", () => {
    const r = applyEntry(
      ledger,
      block([transfer(ALICE, BOB, 10n, 0n), transfer(ALICE, BOB, 1000n, 1n), transfer(ALICE, MIKE, 5n, 1n), transfer(ALICE, MIKE, 5n, 3n)]),
    );
    assert.deepEqual(
      r.results.map((x) => (x.status === "committed" ? `ok@${x.index}` : x.code)),
      ["ok@0", "INSUFFICIENT_BALANCE", "ok@1", "NONCE_GAP"],
    );
    assert.equal(r.committed, 2);
    assert.equal(r.rejected, 2);
    assert.equal(getAccount(ledger, ALICE).nonce, 2n);
    assert.equal(balanceOf(ledger, ALICE), 85n);
  });

  it("pays fees to the fee recipient in the transfer's token, also when it sends or receives", () => {
    applyEntry(ledger, block([transfer(ALICE, BOB, 10n, 0n, { fee: 3n })]));
    assert.deepEqual([balanceOf(ledger, ALICE), balanceOf(ledger, BOB), balanceOf(ledger, FEES)], [87n, 60n, 3n]);
    // The fee recipient sends: it pays amount + fee and receives the fee back.
    applyEntry(ledger, block([transfer(FEES, MIKE, 2n, 0n, { fee: 1n })]));
    assert.deepEqual([balanceOf(ledger, FEES), balanceOf(ledger, MIKE)], [1n, 2n]);
    // The fee recipient receives: amount and fee both land with it.
    applyEntry(ledger, block([transfer(BOB, FEES, 5n, 0n, { fee: 2n })]));
    assert.deepEqual([balanceOf(ledger, BOB), balanceOf(ledger, FEES)], [53n, 8n]);
    const summary = getEpochSummary(ledger, 1n);
    assert.ok(summary !== undefined);
    assert.deepEqual(
      summary.deltas.map((d) => [d.account, d.amount]),
      [
        [MIKE, 2n],
        [ALICE, -13n],
        [BOB, 3n],
        [FEES, 8n],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    );
    assert.equal(
      summary.deltas.reduce((s, d) => s + d.amount, 0n),
      0n,
    );
  });

  it("a withdrawal leaves the balance at once and is a payout and a negative delta of its epoch", () => {
    const r = only(applyEntry(ledger, block([withdrawal(ALICE, 30n, 0n)])).results);
    assert.equal(r.status, "committed");
    assert.equal(balanceOf(ledger, ALICE), 70n);
    const summary = getEpochSummary(ledger, 1n);
    assert.ok(summary !== undefined);
    assert.deepEqual(summary.deltas, [{ account: ALICE, token: TOKEN, amount: -30n }]);
    assert.deepEqual(summary.payouts, [{ account: ALICE, token: TOKEN, amount: 30n }]);
    assert.equal(summary.withdrawals, 1);
    assert.deepEqual(getTokenTotals(ledger), [{ token: TOKEN, deposited: 150n, withdrawn: 30n }]);
    // Nonces are shared by transfers and withdrawals (PROTOCOL.md §1).
    assert.equal(only(applyEntry(ledger, block([transfer(ALICE, BOB, 1n, 0n)])).results).status, "rejected");
    assert.equal(only(applyEntry(ledger, block([transfer(ALICE, BOB, 1n, 1n)])).results).status, "committed");
  });

  it("treats every spelling of an address as one account and answers lowercase", () => {
    const upper = getAddress(ALICE) as Address;
    assert.notEqual(upper, ALICE);
    applyEntry(ledger, deposit(2n, upper, 5n, getAddress(TOKEN) as Address));
    applyEntry(ledger, block([transfer(upper, BOB, 5n, 0n)]));
    const view = getAccount(ledger, upper);
    assert.equal(view.address, ALICE);
    assert.equal(view.nonce, 1n);
    assert.deepEqual(view.balances, [{ token: TOKEN, amount: 100n }]);
  });

  it("credits deposits once per id, in any order, and compacts the credited ids", () => {
    assert.equal(applyEntry(ledger, deposit(5n, MIKE, 1n)).status, "credited");
    const before = stateHash(ledger);
    const again = applyEntry(ledger, deposit(5n, MIKE, 1n));
    assert.ok(again.status === "rejected" && again.code === "DUPLICATE_DEPOSIT", "an id credited out of order is still credited once");
    assert.equal(stateHash(ledger), before);
    assert.equal(applyEntry(ledger, deposit(3n, MIKE, 1n)).status, "credited");
    assert.equal(applyEntry(ledger, deposit(2n, MIKE, 1n)).status, "credited");
    assert.equal(getFirstUndecidedDeposit(ledger), 4n);
    assert.deepEqual(
      takeSnapshot(ledger).deposits.decided.map((d) => d.id),
      ["0", "1", "2", "3", "5"],
    );
    assert.equal(applyEntry(ledger, deposit(4n, MIKE, 1n)).status, "credited");
    assert.equal(getFirstUndecidedDeposit(ledger), 6n);
    assert.deepEqual(ledger.deposits.above, new Set());
    for (const id of [0n, 3n, 5n]) assert.equal(applyEntry(ledger, deposit(id, MIKE, 1n)).status, "rejected");
    assert.equal(balanceOf(ledger, MIKE), 4n);
    const bad = applyEntry(ledger, deposit(9n, MIKE, 0n));
    assert.ok(bad.status === "rejected" && bad.code === "AMOUNT_ZERO");
    const zero = applyEntry(ledger, deposit(9n, NATIVE, 1n));
    assert.ok(zero.status === "rejected" && zero.code === "ZERO_ADDRESS");
  });

  it("deposits change balances but no delta", () => {
    applyEntry(ledger, deposit(7n, MIKE, 40n));
    assert.deepEqual(getEpochSummary(ledger, 1n)?.deltas, []);
  });

  describe("epochs", () => {
    it("seals the open epoch with its root and opens the next; refuses a stale or repeated seal", () => {
      const msgs = [transfer(ALICE, BOB, 1n, 0n), withdrawal(BOB, 2n, 0n), transfer(ALICE, MIKE, 3n, 1n)];
      const r = applyEntry(ledger, block(msgs));
      assert.deepEqual(
        r.results.map((x) => x.status === "committed" && `${x.epoch}:${x.index}`),
        ["1:0", "1:1", "1:2"],
      );
      const before = stateHash(ledger);
      const wrong = applyEntry(ledger, { type: "seal", epoch: 2n });
      assert.ok(wrong.status === "rejected" && wrong.code === "WRONG_STATE");
      assert.equal(stateHash(ledger), before);
      const sealed = applyEntry(ledger, { type: "seal", epoch: 1n });
      assert.ok(sealed.status === "sealed");
      const lib = SimpleMerkleTree.of(
        msgs.map((m) => hashOfLeaf(m.hash)),
        { sortLeaves: false },
      );
      assert.equal(sealed.root, lib.root);
      assert.equal(getEpochSummary(ledger, 1n)?.root, lib.root);
      assert.deepEqual(getEpochHeads(ledger), { openEpoch: 2n, lastSealedEpoch: 1n, lastSettledEpoch: 0n });
      const again = applyEntry(ledger, { type: "seal", epoch: 1n });
      assert.ok(again.status === "rejected" && again.code === "WRONG_STATE");
      // A message after the seal lands in epoch 2 at index 0.
      const next = only(applyEntry(ledger, block([transfer(ALICE, BOB, 1n, 2n)])).results);
      assert.ok(next.status === "committed" && next.epoch === 2n && next.index === 0);
    });

    it("serves proofs once sealed that verify with SimpleMerkleTree.verify; EPOCH_OPEN before, NOT_FOUND for unknown", () => {
      const msgs = [transfer(ALICE, BOB, 1n, 0n), transfer(BOB, MIKE, 1n, 0n), transfer(ALICE, MIKE, 1n, 1n)];
      applyEntry(ledger, block(msgs));
      assert.throws(
        () => getMessageProof(ledger, msgs[0]?.hash ?? ""),
        (e: unknown) => e instanceof DeltaError && e.code === "EPOCH_OPEN",
      );
      assert.throws(
        () => getMessageProof(ledger, hashOf("unknown")),
        (e: unknown) => e instanceof DeltaError && e.code === "NOT_FOUND",
      );
      applyEntry(ledger, { type: "seal", epoch: 1n });
      for (const [i, m] of msgs.entries()) {
        const p = getMessageProof(ledger, m.hash);
        assert.equal(p.epoch, 1n);
        assert.equal(p.leaf, hashOfLeaf(m.hash));
        assert.ok(SimpleMerkleTree.verify(p.root, p.leaf, [...p.proof]), `proof ${i}`);
        assert.equal(getMessage(ledger, m.hash)?.index, i);
      }
    });

    it("seals an empty epoch with root bytes32(0)", () => {
      const r = applyEntry(ledger, { type: "seal", epoch: 1n });
      assert.ok(r.status === "sealed" && r.root === EMPTY_TRANSFERS_ROOT && r.messages === 0);
    });

    it("settles sealed epochs in order only, and then reports their messages settled", () => {
      const m = transfer(ALICE, BOB, 1n, 0n);
      applyEntry(ledger, block([m]));
      const tx = hashOf("tx");
      const open = applyEntry(ledger, { type: "settled", epoch: 1n, txHashes: [tx] });
      assert.ok(open.status === "rejected" && open.code === "EPOCH_NOT_SEALED");
      applyEntry(ledger, { type: "seal", epoch: 1n });
      applyEntry(ledger, { type: "seal", epoch: 2n });
      const before = stateHash(ledger);
      const early = applyEntry(ledger, { type: "settled", epoch: 2n, txHashes: [tx] });
      assert.ok(early.status === "rejected" && early.code === "WRONG_STATE");
      const noTx = applyEntry(ledger, { type: "settled", epoch: 1n, txHashes: [] });
      assert.ok(noTx.status === "rejected");
      const missing = applyEntry(ledger, { type: "settled", epoch: 9n, txHashes: [tx] });
      assert.ok(missing.status === "rejected" && missing.code === "EPOCH_NOT_SEALED");
      assert.equal(stateHash(ledger), before);
      assert.equal(getMessage(ledger, m.hash)?.status, "committed");
      assert.equal(applyEntry(ledger, { type: "settled", epoch: 1n, txHashes: [tx] }).status, "settled");
      assert.equal(getMessage(ledger, m.hash.toUpperCase().replace("0X", "0x"))?.status, "settled");
      assert.deepEqual(getEpochSummary(ledger, 1n)?.settlementTxs, [tx]);
      const twice = applyEntry(ledger, { type: "settled", epoch: 1n, txHashes: [tx] });
      assert.ok(twice.status === "rejected" && twice.code === "WRONG_STATE");
      assert.equal(applyEntry(ledger, { type: "settled", epoch: 2n, txHashes: [tx] }).status, "settled");
      assert.deepEqual(getEpochHeads(ledger), { openEpoch: 3n, lastSealedEpoch: 2n, lastSettledEpoch: 2n });
    });
  });

  it("answers an unknown account with nonce 0 and no balances, and refuses a malformed address", () => {
    assert.deepEqual(getAccount(ledger, MIKE), { address: MIKE, nonce: 0n, balances: [] });
    assert.throws(
      () => getAccount(ledger, "0x12"),
      (e: unknown) => e instanceof DeltaError && e.code === "INVALID_ADDRESS",
    );
    assert.equal(getMessage(ledger, "nonsense"), undefined);
    assert.equal(getEpochSummary(ledger, 0n), undefined);
    assert.equal(getEpochSummary(ledger, 2n), undefined);
  });

  it("refuses a zero or malformed fee recipient", () => {
    for (const feeRecipient of [NATIVE, "0x1234" as Address]) {
      assert.throws(
        () => createLedger({ feeRecipient }),
        (e: unknown) => e instanceof DeltaError && e.code === "INVALID_CONFIG",
      );
    }
  });
});
