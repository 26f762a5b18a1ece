// SPDX-License-Identifier: AGPL-3.0-or-later
/** Admission's pure parts (issue 15): debits in flight per account and token, remembered refusals. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LedgerMessage } from "../../../src/ledger/index.ts";
import type { Address, Hash } from "../../../src/protocol/index.ts";
import { debitOf, RefusalMemory, Reservations, signatureKey } from "../../../src/node/admission.ts";

const A = "0x00000000000000000000000000000000000000A1" as Address;
const C = "0x00000000000000000000000000000000000000c3" as Address;
const T = "0x00000000000000000000000000000000000000Dd" as Address;
let counter = 0;
const hash = (): Hash => `0x${(++counter).toString(16).padStart(64, "0")}` as Hash;
// Each message takes the account's next nonce, as a client sending in order would.
let nextNonce = 0n;
const transfer = (amount: bigint, fee: bigint, token: Address = T, nonce = nextNonce++): LedgerMessage => ({ kind: "transfer", hash: hash(), from: A, to: C, token, amount, fee, nonce, deadline: 9n });
const withdrawal = (amount: bigint): LedgerMessage => ({ kind: "withdrawal", hash: hash(), account: A, token: T, amount, nonce: nextNonce++, deadline: 9n });

describe("Reservations", () => {
  const balances = new Map<string, bigint>([[`${A.toLowerCase()}:${T.toLowerCase()}`, 100n]]);
  const available = (account: string, token: string): bigint => balances.get(`${account}:${token}`) ?? 0n;

  it("takes amount + fee of transfers and amount of withdrawals, per account and token, in any address case", () => {
    const r = new Reservations();
    const x = transfer(60n, 10n);
    assert.equal(debitOf(x), 70n);
    assert.equal(r.reserve(x, available), true);
    assert.equal(r.inFlight(A.toLowerCase(), T.toLowerCase()), 70n);
    assert.equal(r.reserve(transfer(20n, 11n), available), false, "31 > 30 left");
    assert.equal(r.reserve(withdrawal(30n), available), true, "30 fits exactly");
    assert.equal(r.fits(transfer(1n, 0n), available), false);
    assert.equal(r.reserve(transfer(1n, 0n, C), available), false, "another token: nothing held");
  });

  it("only lower nonces stand before a message: nonce 1 arriving first does not make nonce 0 unpayable", () => {
    const r = new Reservations();
    const n1 = transfer(700n, 0n, T, 101n);
    const n0 = transfer(70n, 0n, T, 100n);
    const n0big = transfer(700n, 0n, T, 100n);
    assert.equal(r.reserve(n1, available), false, "700 of 100: refused");
    const rich = (): bigint => 1_000n;
    assert.equal(r.reserve(n1, rich), true);
    assert.equal(r.reserve(n0big, rich), true, "nonce 0 is applied first: nonce 1's 700 does not stand before it");
    assert.equal(r.inFlight(A.toLowerCase(), T.toLowerCase()), 1_400n);
    assert.equal(r.fits(transfer(301n, 0n, T, 102n), rich), false, "nonce 2 stands behind both");
    assert.equal(r.fits(n0, rich), true, "another nonce 0 stands behind nothing lower");
  });

  it("a reserved message always fits and is held once; release is idempotent", () => {
    const r = new Reservations();
    const x = transfer(100n, 0n);
    assert.equal(r.reserve(x, available), true);
    assert.equal(r.reserve(x, available), true);
    assert.equal(r.inFlight(A.toLowerCase(), T.toLowerCase()), 100n);
    assert.equal(r.fits(x, available), true);
    r.release(x.hash);
    r.release(x.hash);
    assert.equal(r.inFlight(A.toLowerCase(), T.toLowerCase()), 0n);
    assert.equal(r.size, 0);
  });

  it("headroom goes negative when the ledger fell below what is held; nothing then fits", () => {
    const r = new Reservations();
    const x = transfer(90n, 0n);
    r.reserve(x, available);
    const poorer = (): bigint => 50n;
    assert.equal(r.headroom(transfer(1n, 0n), poorer), -40n);
    assert.equal(r.reserve(transfer(1n, 0n), poorer), false);
  });
});

describe("RefusalMemory", () => {
  it("gives back a refusal until its ttl, keyed by hash and signature", () => {
    const mem = new RefusalMemory({ ttlMs: 100 });
    const key = signatureKey("0xab", "0xSIG");
    mem.remember(key, { code: "INVALID_SIGNATURE", message: "no" }, 0);
    assert.equal(mem.get(key, 50)?.code, "INVALID_SIGNATURE");
    assert.equal(mem.get(signatureKey("0xab", "0xsig"), 50)?.code, "INVALID_SIGNATURE", "the signature's hex case does not matter");
    assert.equal(mem.get(signatureKey("0xab", "0xother"), 50), undefined, "another signature of the same message is not refused");
    assert.equal(mem.get(key, 100), undefined);
    assert.equal(mem.size, 0);
  });

  it("keeps at most maxEntries, dropping the oldest", () => {
    const mem = new RefusalMemory({ maxEntries: 3, ttlMs: 1_000 });
    for (let i = 0; i < 5; i++) mem.remember(`k${i}`, { code: "INVALID_SIGNATURE", message: String(i) }, i);
    assert.equal(mem.size, 3);
    assert.equal(mem.get("k0", 10), undefined);
    assert.equal(mem.get("k1", 10), undefined);
    assert.equal(mem.get("k4", 10)?.message, "4");
  });
});
