// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LedgerMessage } from "../../../src/ledger/index.ts";
import type { Address, Hash } from "../../../src/protocol/index.ts";
import { decodeEntry, encodeEntry } from "../../../src/node/entryCodec.ts";
import { Mempool } from "../../../src/node/mempool.ts";

const A = "0x00000000000000000000000000000000000000a1" as Address;
const B = "0x00000000000000000000000000000000000000b2" as Address;
const C = "0x00000000000000000000000000000000000000c3" as Address;
let counter = 0;
function t(from: Address, nonce: bigint, fee: bigint): LedgerMessage {
  const hash = `0x${(++counter).toString(16).padStart(64, "0")}` as Hash;
  return { kind: "transfer", hash, from, to: C, token: C, amount: 1n, fee, nonce, deadline: 9n };
}

describe("Mempool", () => {
  it("holds a hash once", () => {
    const m = new Mempool();
    const x = t(A, 0n, 1n);
    assert.equal(m.add(x), true);
    assert.equal(m.add(x), false);
    assert.equal(m.size, 1);
  });

  it("keeps an account's messages in nonce order whatever the arrival order", () => {
    const m = new Mempool();
    m.add(t(A, 2n, 9n));
    m.add(t(A, 0n, 1n));
    m.add(t(A, 1n, 5n));
    assert.deepEqual(m.take(10).map((x) => x.nonce), [0n, 1n, 2n]);
    assert.equal(m.size, 0);
  });

  it("orders by fee across accounts when more wait than a block takes, nonce order within each", () => {
    const m = new Mempool();
    m.add(t(A, 0n, 1n));
    m.add(t(A, 1n, 100n));
    m.add(t(B, 0n, 50n));
    m.add(t(B, 1n, 40n));
    // Heads: A#0 (fee 1), B#0 (50): B#0, then B#1 (40) beats A#0 (1).
    const first = m.take(2);
    assert.deepEqual(first.map((x) => [x.kind === "transfer" ? x.from : "", x.nonce]), [[B, 0n], [B, 1n]]);
    assert.deepEqual(m.take(5).map((x) => x.nonce), [0n, 1n]);
  });
});

describe("log entry codec", () => {
  it("round-trips every entry kind with exact bigints", () => {
    const big = (1n << 255n) + 7n;
    const entries = [
      { type: "block", timestampSec: 1_700_000_000n, messages: [t(A, 3n, big), { kind: "withdrawal", hash: `0x${"ab".repeat(32)}`, account: B, token: C, amount: big, nonce: 4n, deadline: 5n }] },
      { type: "deposit", depositId: 12n, account: A, token: C, amount: big },
      { type: "seal", epoch: 3n },
      { type: "settled", epoch: 3n, txHashes: [`0x${"cd".repeat(32)}`] },
    ] as const;
    for (const e of entries) assert.deepEqual(decodeEntry(encodeEntry(e)), e);
  });

  it("refuses what does not decode instead of throwing", () => {
    const bad = ["not json", JSON.stringify({ type: "block", timestampSec: "1", messages: [{ kind: "transfer" }] }), JSON.stringify({ type: "seal", epoch: "-1" }), JSON.stringify({ type: "seal", epoch: 3 }), JSON.stringify({ type: "nuke" })];
    for (const b of bad) assert.equal(decodeEntry(new TextEncoder().encode(b)), undefined, b);
  });
});
