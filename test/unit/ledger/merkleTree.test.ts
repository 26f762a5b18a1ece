// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import fc from "fast-check";
import { keccak256 } from "ethers";
import {
  buildMerkleTree,
  computeTransfersRoot,
  EMPTY_TRANSFERS_ROOT,
  getMerkleProof,
  getMerkleRoot,
  hashLeaf,
  verifyMerkleProof,
} from "../../../src/ledger/index.ts";
import type { Hash } from "../../../src/protocol/index.ts";
import { hashOf } from "./fixtures.ts";

function hashes(n: number, salt = ""): Hash[] {
  return Array.from({ length: n }, (_, i) => hashOf(`${salt}${i}`));
}

/** The reference: PROTOCOL.md §4 verbatim, through the library. */
function libraryTree(messageHashes: readonly Hash[]): SimpleMerkleTree {
  return SimpleMerkleTree.of(
    messageHashes.map((h) => keccak256(h)),
    { sortLeaves: false },
  );
}

function assertMatchesLibrary(messageHashes: readonly Hash[]): void {
  const ours = buildMerkleTree(messageHashes);
  const lib = libraryTree(messageHashes);
  const root = getMerkleRoot(ours);
  assert.equal(root, lib.root);
  assert.equal(computeTransfersRoot(messageHashes), lib.root);
  for (let i = 0; i < messageHashes.length; i++) {
    const hash = messageHashes[i] ?? "0x";
    const { leaf, root: proofRoot, proof } = getMerkleProof(ours, i);
    assert.equal(leaf, keccak256(hash), `leaf ${i} is keccak256(hash)`);
    assert.equal(leaf, hashLeaf(hash as Hash));
    assert.equal(proofRoot, lib.root);
    assert.deepEqual(proof, lib.getProof(i), `proof ${i} equals the library's`);
    assert.ok(SimpleMerkleTree.verify(lib.root, leaf, [...proof]), `proof ${i} verifies with the library`);
    assert.ok(verifyMerkleProof(root, leaf, proof), `proof ${i} verifies with ours`);
  }
}

describe("merkle tree (PROTOCOL.md §4)", () => {
  for (const n of [1, 2, 3, 1000]) {
    it(`equals SimpleMerkleTree.of(leaves, { sortLeaves: false }) with ${n} leaves, and every proof verifies`, () => {
      assertMatchesLibrary(hashes(n, `fixed-${n}-`));
    });
  }

  it("equals the library for every size from 1 to 70 on random hashes", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 70 }), (raw) => {
        const list = raw.map((b): Hash => `0x${Buffer.from(b).toString("hex")}`);
        assertMatchesLibrary(list);
      }),
      { numRuns: 60 },
    );
  });

  it("a one-leaf tree's root is the leaf and its proof is empty", () => {
    const [h] = hashes(1, "one-");
    assert.ok(h !== undefined);
    const tree = buildMerkleTree([h]);
    const { leaf, root, proof } = getMerkleProof(tree, 0);
    assert.equal(root, leaf);
    assert.deepEqual(proof, []);
  });

  it("duplicate leaves still build the library's tree (equal nodes hash the same in either order)", () => {
    const [a, b] = hashes(2, "dup-");
    assert.ok(a !== undefined && b !== undefined);
    assertMatchesLibrary([a, a, b, a, b]);
  });

  it("the empty epoch's root is bytes32(0), which no proof verifies against", () => {
    assert.equal(computeTransfersRoot([]), EMPTY_TRANSFERS_ROOT);
    assert.equal(EMPTY_TRANSFERS_ROOT, `0x${"00".repeat(32)}`);
    const leaf = hashLeaf(hashOf("x"));
    assert.equal(verifyMerkleProof(EMPTY_TRANSFERS_ROOT, leaf, []), false);
    assert.throws(() => getMerkleProof(buildMerkleTree([]), 0), RangeError);
  });

  it("rejects a tampered proof, a wrong leaf and malformed hex", () => {
    const list = hashes(9, "tamper-");
    const tree = buildMerkleTree(list);
    const { leaf, root, proof } = getMerkleProof(tree, 4);
    assert.ok(verifyMerkleProof(root, leaf, proof));
    const bad = [...proof];
    bad[1] = hashOf("evil");
    assert.equal(verifyMerkleProof(root, leaf, bad), false);
    assert.equal(verifyMerkleProof(root, hashLeaf(hashOf("other")), proof), false);
    assert.equal(verifyMerkleProof(root, leaf, proof.slice(1)), false);
    assert.equal(verifyMerkleProof(root, "0x1234", proof), false);
    assert.equal(verifyMerkleProof(root.toUpperCase() as Hash, leaf, proof), false);
  });

  it("refuses malformed message hashes and out-of-range proof indices", () => {
    assert.throws(() => buildMerkleTree(["0xabc"]), TypeError);
    assert.throws(() => buildMerkleTree([`0x${"A".repeat(64)}`]), TypeError);
    const tree = buildMerkleTree(hashes(3));
    assert.throws(() => getMerkleProof(tree, 3), RangeError);
    assert.throws(() => getMerkleProof(tree, -1), RangeError);
    assert.throws(() => getMerkleProof(tree, 1.5), RangeError);
  });
});
