// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  applyEntry,
  buildSettlementChunks,
  createLedger,
  getAccount,
  getEpochSummary,
  type LedgerMessage,
} from "../../../src/ledger/index.ts";
import type { Address } from "../../../src/protocol/index.ts";
import { block, deposit, transfer } from "./fixtures.ts";

interface NettingCase {
  name: string;
  transfers: { from: string; to: string; amount: string }[];
  deltas: Record<string, string>;
  balances: Record<string, string>;
}
interface NettingVectors {
  token: Address;
  feeRecipient: Address;
  accounts: Record<string, Address>;
  deposits: { account: string; amount: string }[];
  cases: NettingCase[];
}

// JSON.parse returns unknown structure; the file is the fixed vector set above, whose shape this interface states.
const vectors = JSON.parse(readFileSync(new URL("../../vectors/netting.json", import.meta.url), "utf8")) as NettingVectors;

function addressOf(name: string): Address {
  const address = vectors.accounts[name];
  assert.ok(address !== undefined, `vector names an unknown account ${name}`);
  return address;
}

function nameOf(address: string): string {
  const entry = Object.entries(vectors.accounts).find(([, a]) => a === address);
  assert.ok(entry !== undefined, `unexpected account ${address} in the deltas`);
  return entry[0];
}

/** Runs a case with the given grouping of its transfers into blocks. */
function run(c: NettingCase, blockSizes: "one" | "each") {
  const ledger = createLedger({ feeRecipient: vectors.feeRecipient });
  vectors.deposits.forEach((d, i) => {
    const r = applyEntry(ledger, deposit(BigInt(i), addressOf(d.account), BigInt(d.amount), vectors.token));
    assert.equal(r.status, "credited");
  });
  const nonces = new Map<Address, bigint>();
  const messages: LedgerMessage[] = c.transfers.map((t) => {
    const from = addressOf(t.from);
    const nonce = nonces.get(from) ?? 0n;
    nonces.set(from, nonce + 1n);
    return transfer(from, addressOf(t.to), BigInt(t.amount), nonce, { token: vectors.token });
  });
  const blocks = blockSizes === "one" ? [messages] : messages.map((m) => [m]);
  for (const b of blocks) {
    const r = applyEntry(ledger, block(b));
    assert.equal(r.rejected, 0, JSON.stringify(r.results.map((x) => x.status)));
  }
  const sealed = applyEntry(ledger, { type: "seal", epoch: 1n });
  assert.equal(sealed.status, "sealed");
  const summary = getEpochSummary(ledger, 1n);
  assert.ok(summary !== undefined);
  return { ledger, summary };
}

describe("netting: the talk's example (test/vectors/netting.json)", () => {
  for (const c of vectors.cases) {
    for (const grouping of ["one", "each"] as const) {
      it(`${c.name}: deltas and balances match (${grouping === "one" ? "one block" : "a block per transfer"})`, () => {
        const { ledger, summary } = run(c, grouping);
        const deltas = Object.fromEntries(summary.deltas.map((d) => [nameOf(d.account), d.amount.toString()]));
        assert.deepEqual(deltas, c.deltas);
        assert.ok(summary.deltas.every((d) => d.token === vectors.token));
        assert.deepEqual(summary.payouts, []);
        assert.equal(summary.transfers, c.transfers.length);
        for (const [name, expected] of Object.entries(c.balances)) {
          const view = getAccount(ledger, addressOf(name));
          assert.deepEqual(
            view.balances.map((b) => [b.token, b.amount.toString()]),
            [[vectors.token, expected]],
            `balance of ${name}`,
          );
        }
      });
    }

    it(`${c.name}: settles in one chunk of the three deltas, and in conserving pairs with N = 2`, () => {
      const { summary } = run(c, "one");
      const [only, ...rest] = buildSettlementChunks(summary, 100);
      assert.ok(only !== undefined);
      assert.equal(rest.length, 0);
      assert.deepEqual(only.deltas, summary.deltas);
      const pairs = buildSettlementChunks(summary, 2);
      assert.ok(pairs.length > 1);
      for (const chunk of pairs) {
        assert.ok(chunk.deltas.length + chunk.payouts.length <= 2);
        assert.equal(
          chunk.deltas.reduce((s, d) => s + d.amount, 0n),
          0n,
        );
      }
    });
  }
});
