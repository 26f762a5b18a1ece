// SPDX-License-Identifier: AGPL-3.0-or-later
/** The leader's mempool limits (issue 15): count and byte caps with fee eviction, nonce reach, expiry. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { LedgerMessage } from "../../../src/ledger/index.ts";
import type { Address, Hash } from "../../../src/protocol/index.ts";
import { Mempool, sizeOf } from "../../../src/node/mempool.ts";

const A = "0x00000000000000000000000000000000000000a1" as Address;
const B = "0x00000000000000000000000000000000000000b2" as Address;
const C = "0x00000000000000000000000000000000000000c3" as Address;
let counter = 0;
function t(from: Address, nonce: bigint, fee: bigint, deadline = 1_000n): LedgerMessage {
  const hash = `0x${(++counter).toString(16).padStart(64, "0")}` as Hash;
  return { kind: "transfer", hash, from, to: C, token: C, amount: 1n, fee, nonce, deadline };
}
const zero = (): bigint => 0n;

describe("Mempool limits", () => {
  it("refuses a newcomer when full of messages paying at least its fee, and changes nothing", () => {
    const m = new Mempool({ maxMessages: 2 });
    assert.equal(m.admit(t(A, 0n, 5n), 0, zero).status, "added");
    assert.equal(m.admit(t(B, 0n, 5n), 0, zero).status, "added");
    assert.equal(m.admit(t(C, 0n, 5n), 0, zero).status, "full");
    assert.equal(m.admit(t(C, 0n, 1n), 0, zero).status, "full");
    assert.equal(m.size, 2);
  });

  it("pushes out the lowest fee for a higher one, with the later nonces of that account", () => {
    const m = new Mempool({ maxMessages: 3 });
    const a0 = t(A, 0n, 1n);
    const a1 = t(A, 1n, 9n);
    m.admit(a0, 0, zero);
    m.admit(a1, 0, zero);
    m.admit(t(B, 0n, 4n), 0, zero);
    const r = m.admit(t(C, 0n, 2n), 0, zero);
    assert.equal(r.status, "added");
    // a0 pays least; a1 cannot commit without it, so it goes too, though it pays 9.
    assert.deepEqual(r.status === "added" ? r.evicted.map((x) => x.hash) : [], [a0.hash, a1.hash]);
    assert.equal(m.size, 2);
    assert.equal(m.has(a1.hash), false);
    assert.deepEqual(m.take(10, 0, zero).map((x) => (x.kind === "transfer" ? x.from : x.account)).sort(), [B, C].sort());
  });

  it("never pushes out the newcomer's own account (its earlier nonces)", () => {
    const m = new Mempool({ maxMessages: 1 });
    m.admit(t(A, 0n, 1n), 0, zero);
    assert.equal(m.admit(t(A, 1n, 50n), 0, zero).status, "full");
    assert.equal(m.size, 1);
  });

  it("caps bytes as well as messages", () => {
    const one = sizeOf(t(A, 0n, 1n));
    const m = new Mempool({ maxBytes: one * 2 + 10 });
    assert.equal(m.admit(t(A, 0n, 1n), 0, zero).status, "added");
    assert.equal(m.admit(t(B, 0n, 1n), 0, zero).status, "added");
    assert.equal(m.admit(t(C, 0n, 1n), 0, zero).status, "full");
    assert.ok(m.bytes <= one * 2 + 10);
    m.take(10, 0, zero);
    assert.equal(m.bytes, 0, "taking frees the bytes");
  });

  it("refuses a nonce too far past the account's next one (the ledger's or what the leader put in blocks)", () => {
    const m = new Mempool({ maxNonceAhead: 4 });
    assert.equal(m.admit(t(A, 3n, 1n), 0, zero).status, "added");
    const r = m.admit(t(A, 4n, 1n), 0, zero);
    assert.equal(r.status, "tooFarAhead");
    assert.equal(r.status === "tooFarAhead" ? r.next : -1n, 0n);
    assert.equal(m.admit(t(A, 4n, 1n), 0, () => 1n).status, "added", "the reach moves with the ledger's nonce");
  });

  it("drops expired messages, except those whose nonce the ledger has used", () => {
    const m = new Mempool();
    const old = t(A, 0n, 1n, 10n);
    const used = t(B, 0n, 1n, 10n);
    const fresh = t(C, 0n, 1n, 100n);
    for (const x of [old, used, fresh]) m.admit(x, 0, zero);
    const dropped = m.dropExpired(50n, (s) => (s === B.toLowerCase() ? 1n : 0n));
    assert.deepEqual(dropped.map((x) => x.hash), [old.hash]);
    assert.equal(m.size, 2);
    assert.equal(m.has(used.hash), true);
    assert.equal(m.bytes, sizeOf(used) + sizeOf(fresh));
  });

  it("property: size, bytes and the caps agree whatever is admitted, taken and dropped", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom("admit", "admit", "admit", "take", "expire"), who: fc.constantFrom(A, B, C), fee: fc.bigInt({ min: 0n, max: 5n }), nonce: fc.bigInt({ min: 0n, max: 6n }), dl: fc.bigInt({ min: 0n, max: 20n }) }), { maxLength: 80 }),
        (ops) => {
          const max = 5;
          const m = new Mempool({ maxMessages: max, maxNonceAhead: 5 });
          const held = new Map<string, LedgerMessage>();
          for (const o of ops) {
            if (o.op === "admit") {
              const x = t(o.who, o.nonce, o.fee, o.dl);
              const r = m.admit(x, 0, zero);
              if (r.status === "added") {
                held.set(x.hash, x);
                for (const e of r.evicted) held.delete(e.hash);
              }
            } else if (o.op === "take") for (const x of m.take(2, 10_000, zero)) held.delete(x.hash);
            else for (const x of m.dropExpired(10n, zero)) held.delete(x.hash);
            assert.ok(m.size <= max);
            assert.equal(m.size, held.size);
            let bytes = 0;
            for (const x of held.values()) bytes += sizeOf(x);
            assert.equal(m.bytes, bytes);
            for (const h of held.keys()) assert.ok(m.has(h));
          }
        },
      ),
    );
  });
});
