// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * PROTOCOL.md §4 on-chain: every proof the ledger serves for a sealed epoch verifies with
 * OpenZeppelin's MerkleProof.verify in a contract, for epochs of 1, 2, 3 and 33 messages, and a
 * proof for another leaf or another root does not.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { network } from "hardhat";
import { withMethods } from "../../src/chain/index.ts";
import { applyEntry, createLedger, getMessageProof, type LedgerState } from "../../src/ledger/index.ts";
import type { Hash } from "../../src/protocol/index.ts";
import { accountAt, block, deposit, FEES, transfer } from "../unit/ledger/fixtures.ts";

/** A ledger whose epoch 1 holds `n` committed transfers, sealed; returns it and their hashes. */
function sealedEpoch(n: number): { ledger: LedgerState; hashes: Hash[] } {
  const ledger = createLedger({ feeRecipient: FEES });
  const alice = accountAt(1);
  assert.equal(applyEntry(ledger, deposit(0n, alice, 1_000_000n)).status, "credited");
  const messages = Array.from({ length: n }, (_, i) => transfer(alice, accountAt(2 + i), 1n, BigInt(i)));
  const result = applyEntry(ledger, block(messages));
  assert.ok(result.results.every((r) => r.status === "committed"));
  assert.equal(applyEntry(ledger, { type: "seal", epoch: 1n }).status, "sealed");
  return { ledger, hashes: messages.map((m) => m.hash) };
}

describe("transfers-root proofs verify with OpenZeppelin MerkleProof on-chain", () => {
  let harness: Awaited<ReturnType<typeof deployHarness>>;
  async function deployHarness() {
    const { ethers } = await network.create();
    return withMethods(await ethers.deployContract("MerkleProofHarness"), ["verify"]);
  }
  before(async () => {
    harness = await deployHarness();
  });

  for (const n of [1, 2, 3, 33]) {
    it(`accepts every proof of a ${n}-message epoch and refuses a wrong leaf or root`, async () => {
      const { ledger, hashes } = sealedEpoch(n);
      for (const hash of hashes) {
        const p = getMessageProof(ledger, hash);
        assert.equal(await harness.verify([...p.proof], p.root, p.leaf), true, `proof of ${hash}`);
      }
      const p = getMessageProof(ledger, hashes[0]!);
      const otherLeaf = `0x${"ee".repeat(32)}`;
      assert.equal(await harness.verify([...p.proof], p.root, otherLeaf), false);
      assert.equal(await harness.verify([...p.proof], otherLeaf, p.leaf), false);
    });
  }
});
