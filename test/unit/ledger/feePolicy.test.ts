// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The fee policy in the ledger (PROTOCOL.md §2 `GET /v1/fees`): `feePolicy` entries set it,
 * applyTransfer refuses TOKEN_NOT_ACCEPTED and FEE_TOO_LOW after the nonce, deadline and duplicate
 * checks and before the balance, withdrawals ignore it, `feeRefusal` gives the ledger's own verdict,
 * and a replay of a log that changes the policy midway reaches the same state.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyEntry,
  createLedger,
  feeRefusal,
  getAccount,
  getFeePolicy,
  getNextNonce,
  hasNeverHeld,
  isFeePolicy,
  parseLedgerSnapshot,
  restoreLedger,
  stateHash,
  takeSnapshot,
  type FeePolicyEntry,
  type LedgerEntry,
  type LedgerState,
  type TransferMessage,
} from "../../../src/ledger/index.ts";
import type { Address } from "../../../src/protocol/index.ts";
import { ALICE, BOB, block, deposit, FEES, MIKE, NATIVE, NOW, TOKEN, transfer, withdrawal } from "./fixtures.ts";

const JUNK: Address = "0x00000000000000000000000000000000000000bb";
const FRESH: Address = "0x00000000000000000000000000000000000f2e54";
const MIN = 100n;
const NEW_ACCOUNT = 2_000n;

/** TOKEN at MIN / NEW_ACCOUNT, ETH free; JUNK not listed. */
const POLICY: FeePolicyEntry = {
  type: "feePolicy",
  tokens: [
    { token: TOKEN, minFee: MIN, newAccountFee: NEW_ACCOUNT },
    { token: NATIVE, minFee: 0n, newAccountFee: 0n },
  ],
};

function balanceOf(state: LedgerState, account: Address, token: Address = TOKEN): bigint {
  return getAccount(state, account).balances.find((b) => b.token === token)?.amount ?? 0n;
}

/** Alice holds 1,000,000 of TOKEN and of JUNK, Bob holds some TOKEN; the policy applied. */
function funded(): LedgerState {
  const state = createLedger({ feeRecipient: FEES });
  assert.equal(applyEntry(state, deposit(0n, ALICE, 1_000_000n)).status, "credited");
  assert.equal(applyEntry(state, deposit(1n, ALICE, 1_000_000n, JUNK)).status, "credited");
  assert.equal(applyEntry(state, deposit(2n, BOB, 10n)).status, "credited");
  assert.equal(applyEntry(state, POLICY).status, "applied");
  return state;
}

function verdictOf(state: LedgerState, m: TransferMessage | ReturnType<typeof withdrawal>): string {
  const [r] = applyEntry(state, block([m])).results;
  assert.ok(r !== undefined);
  return r.status === "committed" ? "committed" : r.code;
}

describe("fee policy", () => {
  it("accepts every token at any fee before any policy entry (logs from before fees replay unchanged)", () => {
    const state = createLedger({ feeRecipient: FEES });
    applyEntry(state, deposit(0n, ALICE, 100n, JUNK));
    assert.equal(getFeePolicy(state), null);
    assert.equal(feeRefusal(state, { to: FRESH, token: JUNK, fee: 0n }), null);
    assert.equal(verdictOf(state, transfer(ALICE, FRESH, 1n, 0n, { token: JUNK })), "committed");
  });

  it("refuses a token the policy does not list and changes nothing; its holders can still withdraw it", () => {
    const state = funded();
    const before = stateHash(state);
    const m = transfer(ALICE, BOB, 5n, 0n, { token: JUNK, fee: 10n ** 18n });
    assert.equal(verdictOf(state, m), "TOKEN_NOT_ACCEPTED");
    assert.equal(stateHash(state), before);
    assert.equal(getNextNonce(state, ALICE), 0n);
    assert.equal(verdictOf(state, withdrawal(ALICE, 1_000_000n, 0n, { token: JUNK })), "committed");
    assert.equal(balanceOf(state, ALICE, JUNK), 0n);
  });

  it("refuses a fee below minFee to a recipient that holds the token, and takes minFee", () => {
    const state = funded();
    const before = stateHash(state);
    assert.equal(verdictOf(state, transfer(ALICE, BOB, 1n, 0n, { fee: MIN - 1n })), "FEE_TOO_LOW");
    assert.equal(stateHash(state), before);
    assert.equal(verdictOf(state, transfer(ALICE, BOB, 1n, 0n, { fee: MIN })), "committed");
    assert.equal(balanceOf(state, FEES), MIN);
    assert.equal(balanceOf(state, BOB), 11n);
  });

  it("asks minFee + newAccountFee for a recipient that never held the token, once: the next transfer to it pays minFee", () => {
    const state = funded();
    assert.equal(hasNeverHeld(state, FRESH, TOKEN), true);
    // The zero-fee dust of issue 15: 1 wei to a fresh address would cost the settlement a new slot.
    assert.equal(verdictOf(state, transfer(ALICE, FRESH, 1n, 0n)), "FEE_TOO_LOW");
    assert.equal(verdictOf(state, transfer(ALICE, FRESH, 1n, 0n, { fee: MIN })), "FEE_TOO_LOW");
    assert.equal(verdictOf(state, transfer(ALICE, FRESH, 1n, 0n, { fee: MIN + NEW_ACCOUNT - 1n })), "FEE_TOO_LOW");
    assert.equal(getNextNonce(state, ALICE), 0n);
    assert.equal(verdictOf(state, transfer(ALICE, FRESH, 1n, 0n, { fee: MIN + NEW_ACCOUNT })), "committed");
    assert.equal(balanceOf(state, FEES), MIN + NEW_ACCOUNT);
    assert.equal(hasNeverHeld(state, FRESH, TOKEN), false);
    assert.equal(verdictOf(state, transfer(ALICE, FRESH, 1n, 1n, { fee: MIN })), "committed");
    // Holding ETH says nothing about TOKEN: newAccountFee is per account and token.
    assert.equal(hasNeverHeld(state, FRESH, NATIVE), true);
  });

  it("counts a recipient whose balance fell to 0 as having held the token (its holding record stays)", () => {
    const state = funded();
    assert.equal(verdictOf(state, withdrawal(BOB, 10n, 0n)), "committed");
    assert.equal(balanceOf(state, BOB), 0n);
    assert.equal(hasNeverHeld(state, BOB, TOKEN), false);
    assert.equal(verdictOf(state, transfer(ALICE, BOB, 1n, 0n, { fee: MIN })), "committed");
  });

  it("judges in order: nonce, deadline and duplicate before the fee policy, the policy before the balance", () => {
    const state = funded();
    assert.equal(verdictOf(state, transfer(ALICE, BOB, 1n, 5n, { token: JUNK })), "NONCE_GAP");
    assert.equal(verdictOf(state, transfer(ALICE, BOB, 1n, 0n, { fee: 0n, deadline: NOW - 1n })), "DEADLINE_EXPIRED");
    const ok = transfer(ALICE, BOB, 1n, 0n, { fee: MIN });
    assert.equal(verdictOf(state, ok), "committed");
    assert.equal(verdictOf(state, { ...ok, nonce: 1n }), "DUPLICATE");
    // Bob holds 10: far short of 10^9 + MIN, but the fee is judged first.
    assert.equal(verdictOf(state, transfer(BOB, ALICE, 1_000_000_000n, 0n, { fee: 1n })), "FEE_TOO_LOW");
    assert.equal(verdictOf(state, transfer(BOB, ALICE, 1_000_000_000n, 0n, { fee: MIN })), "INSUFFICIENT_BALANCE");
    assert.equal(verdictOf(state, transfer(BOB, MIKE, 1n, 0n, { token: JUNK })), "TOKEN_NOT_ACCEPTED");
  });

  it("feeRefusal gives the ledger's own verdict, for any address case", () => {
    const state = funded();
    const upper = (a: Address): Address => `0x${a.slice(2).toUpperCase()}`;
    assert.deepEqual(feeRefusal(state, { to: upper(BOB), token: upper(JUNK), fee: 0n })?.code, "TOKEN_NOT_ACCEPTED");
    assert.deepEqual(feeRefusal(state, { to: upper(FRESH), token: upper(TOKEN), fee: MIN })?.code, "FEE_TOO_LOW");
    assert.match(feeRefusal(state, { to: FRESH, token: TOKEN, fee: MIN })?.reason ?? "", /newAccountFee 2000/);
    assert.equal(feeRefusal(state, { to: upper(BOB), token: upper(TOKEN), fee: MIN }), null);
    assert.equal(feeRefusal(state, { to: FRESH, token: NATIVE, fee: 0n }), null);
  });

  it("a new policy entry replaces the old one whole; tokens null lifts it", () => {
    const state = funded();
    assert.equal(isFeePolicy(state, POLICY.tokens), true);
    assert.equal(applyEntry(state, { type: "feePolicy", tokens: [{ token: JUNK, minFee: 1n, newAccountFee: 0n }] }).status, "applied");
    assert.deepEqual(getFeePolicy(state), [{ token: JUNK, minFee: 1n, newAccountFee: 0n }]);
    assert.equal(isFeePolicy(state, POLICY.tokens), false);
    assert.equal(verdictOf(state, transfer(ALICE, BOB, 1n, 0n, { fee: 10n ** 9n })), "TOKEN_NOT_ACCEPTED");
    assert.equal(verdictOf(state, transfer(ALICE, BOB, 1n, 0n, { token: JUNK, fee: 1n })), "committed");
    assert.equal(applyEntry(state, { type: "feePolicy", tokens: [] }).status, "applied");
    assert.equal(verdictOf(state, transfer(ALICE, BOB, 1n, 1n, { fee: 10n ** 9n })), "TOKEN_NOT_ACCEPTED");
    assert.equal(applyEntry(state, { type: "feePolicy", tokens: null }).status, "applied");
    assert.equal(getFeePolicy(state), null);
    assert.equal(isFeePolicy(state, null), true);
    assert.equal(verdictOf(state, transfer(ALICE, FRESH, 1n, 1n)), "committed");
  });

  it("refuses a malformed policy and keeps the one in force; throws on one that breaks its type", () => {
    const state = funded();
    const before = stateHash(state);
    const upperToken: Address = `0x${TOKEN.slice(2).toUpperCase()}`;
    const bad: FeePolicyEntry[] = [
      { type: "feePolicy", tokens: [{ token: TOKEN, minFee: 1n, newAccountFee: 0n }, { token: upperToken, minFee: 2n, newAccountFee: 0n }] },
      { type: "feePolicy", tokens: [{ token: TOKEN, minFee: 1n << 256n, newAccountFee: 0n }] },
      { type: "feePolicy", tokens: [{ token: TOKEN, minFee: 0n, newAccountFee: -1n }] },
      { type: "feePolicy", tokens: [{ token: "0x1234" as Address, minFee: 0n, newAccountFee: 0n }] },
    ];
    for (const entry of bad) {
      const r = applyEntry(state, entry);
      assert.equal(r.status, "rejected");
      assert.equal("code" in r ? r.code : undefined, "INVALID_BODY");
    }
    assert.equal(stateHash(state), before);
    // A number where a bigint belongs cannot come out of the codec: a bug, refused loudly.
    const broken = { type: "feePolicy", tokens: [{ token: TOKEN, minFee: 1, newAccountFee: 0n }] } as unknown as FeePolicyEntry;
    assert.throws(() => applyEntry(state, broken), { code: "INTERNAL" });
    assert.equal(stateHash(state), before);
  });

  it("a log that changes the policy midway replays to the same verdicts and state, whatever the policy is now", () => {
    const log: LedgerEntry[] = [
      deposit(0n, ALICE, 1_000_000n),
      deposit(1n, ALICE, 1_000n, JUNK),
      block([transfer(ALICE, FRESH, 1n, 0n), transfer(ALICE, BOB, 1n, 1n, { token: JUNK })]), // no policy yet: both commit
      POLICY,
      block([transfer(ALICE, MIKE, 1n, 2n), transfer(ALICE, BOB, 1n, 2n, { token: JUNK }), transfer(ALICE, MIKE, 1n, 2n, { fee: MIN + NEW_ACCOUNT })]),
      { type: "seal", epoch: 1n },
      { type: "feePolicy", tokens: [{ token: TOKEN, minFee: 5n, newAccountFee: 0n }] },
      block([transfer(ALICE, BOB, 1n, 3n, { fee: 5n }), transfer(ALICE, BOB, 1n, 4n, { token: JUNK, fee: 5n })]),
    ];
    const run = (): { verdicts: string[]; hash: string; state: LedgerState } => {
      const state = createLedger({ feeRecipient: FEES });
      const verdicts: string[] = [];
      for (const entry of log) {
        const r = applyEntry(state, entry);
        if (r.type === "block") for (const m of r.results) verdicts.push(m.status === "committed" ? "committed" : m.code);
        else verdicts.push("status" in r ? r.status : "?");
      }
      return { verdicts, hash: stateHash(state), state };
    };
    const first = run();
    assert.deepEqual(first.verdicts, [
      "credited",
      "credited",
      "committed",
      "committed",
      "applied",
      "FEE_TOO_LOW",
      "TOKEN_NOT_ACCEPTED",
      "committed",
      "sealed",
      "applied",
      "committed",
      "TOKEN_NOT_ACCEPTED",
    ]);
    const second = run();
    assert.deepEqual(second.verdicts, first.verdicts);
    assert.equal(second.hash, first.hash);
    assert.deepEqual(getFeePolicy(second.state), [{ token: TOKEN, minFee: 5n, newAccountFee: 0n }]);
    // The fee recipient got what the transfers paid under the policy of their time.
    assert.equal(balanceOf(second.state, FEES), MIN + NEW_ACCOUNT + 5n);
  });

  it("is part of the state hash and of the snapshot, which round-trips it through JSON", () => {
    const plain = createLedger({ feeRecipient: FEES });
    const withPolicy = createLedger({ feeRecipient: FEES });
    assert.equal(takeSnapshot(plain).feePolicy, undefined, "no key without a policy: the hash of a ledger without fees is unchanged");
    applyEntry(withPolicy, POLICY);
    assert.notEqual(stateHash(withPolicy), stateHash(plain));
    applyEntry(withPolicy, { type: "feePolicy", tokens: [] });
    assert.notEqual(stateHash(withPolicy), stateHash(plain), "accepting no token is not the same as having no policy");

    const state = funded();
    applyEntry(state, block([transfer(ALICE, FRESH, 1n, 0n, { fee: MIN + NEW_ACCOUNT })]));
    const snapshot = parseLedgerSnapshot(JSON.parse(JSON.stringify(takeSnapshot(state))));
    assert.deepEqual(snapshot.feePolicy, [
      { token: NATIVE, minFee: "0", newAccountFee: "0" },
      { token: TOKEN, minFee: MIN.toString(), newAccountFee: NEW_ACCOUNT.toString() },
    ]);
    const restored = restoreLedger({ feeRecipient: FEES }, snapshot);
    assert.equal(stateHash(restored), stateHash(state));
    // The restored ledger judges by the same policy, fresh recipients included.
    const next = [
      transfer(ALICE, MIKE, 1n, 1n, { fee: MIN }),
      transfer(ALICE, MIKE, 1n, 1n, { token: JUNK, fee: MIN }),
      transfer(ALICE, FRESH, 1n, 1n, { fee: MIN }),
    ];
    for (const ledger of [state, restored]) {
      assert.deepEqual(
        next.map((m) => verdictOf(ledger, m)),
        ["FEE_TOO_LOW", "TOKEN_NOT_ACCEPTED", "committed"],
      );
    }
    assert.equal(stateHash(restored), stateHash(state));
  });

  it("refuses a snapshot whose policy is not canonical or not valid", () => {
    const state = funded();
    const snapshot = takeSnapshot(state);
    const policy = snapshot.feePolicy ?? [];
    const cases = [
      { ...snapshot, feePolicy: [...policy].reverse() },
      { ...snapshot, feePolicy: [{ token: TOKEN, minFee: (1n << 256n).toString(), newAccountFee: "0" }] },
      { ...snapshot, feePolicy: [{ token: TOKEN, minFee: "01", newAccountFee: "0" }] },
    ];
    for (const c of cases) {
      assert.throws(() => restoreLedger({ feeRecipient: FEES }, parseLedgerSnapshot(JSON.parse(JSON.stringify(c)))), { code: "INVALID_SNAPSHOT" });
    }
  });
});
