// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The transfers root of an epoch and its proofs (PROTOCOL.md §4).
 *
 * The tree is, node for node, the one `SimpleMerkleTree.of(leaves, { sortLeaves: false })` of
 * @openzeppelin/merkle-tree 1.0.8 builds (its `core.js` `makeMerkleTree`), rewritten over one flat
 * byte buffer because the library keeps every node as a hex string and re-parses it per hash:
 * - leaf i is `keccak256(hash_i)`, the message's 32-byte EIP-712 digest hashed once more;
 * - the tree is a complete binary tree in heap layout, `2n - 1` nodes, node k's children at
 *   `2k + 1` and `2k + 2`; leaf i sits at node `2n - 2 - i` (leaves fill the end in reverse);
 * - an inner node is `keccak256(min(a, b) || max(a, b))`, bytes compared big-endian, which is
 *   OpenZeppelin's commutative pair hash, so proofs verify with `MerkleProof.verify` on-chain and
 *   `SimpleMerkleTree.verify` off-chain. Equality with the library is asserted by the unit tests.
 *
 * Hashing goes through keccak256Into (protocol/keccak256.ts: why not noble's keccak_256 on this path).
 *
 * Empty epoch: the library refuses zero leaves, so the root of an epoch without applied messages is
 * chosen here as `bytes32(0)` (EMPTY_TRANSFERS_ROOT). No proof can verify against it: a proof's
 * last step is a keccak256 output (a preimage of zero is infeasible) and a one-leaf tree's root
 * is keccak256 of a digest, likewise never zero.
 */
import type { Hash } from "../protocol/index.ts";
import { isHash, keccak256Into } from "../protocol/index.ts";

/** Root of an epoch without applied messages: bytes32(0) (see the file comment). */
export const EMPTY_TRANSFERS_ROOT: Hash = "0x0000000000000000000000000000000000000000000000000000000000000000";

/** A built tree: `nodes` holds `2 * leafCount - 1` 32-byte nodes back to back, in heap layout. */
export interface MerkleTree {
  readonly leafCount: number;
  readonly nodes: Uint8Array;
}

/** `{ leaf, root, proof }` of one message, in the form `SimpleMerkleTree.verify(root, leaf, proof)` takes. */
export interface MerkleProof {
  readonly leaf: Hash;
  readonly root: Hash;
  readonly proof: readonly Hash[];
}

const NODE_BYTES = 32;
const HEX_DIGITS = "0123456789abcdef";

/** Value of an ASCII lowercase hex digit; callers only pass text that passed isHash. */
function nibble(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

/** Writes the 32 bytes of a validated lowercase 0x hash into `out[offset…]`. */
function decodeHashInto(hash: string, out: Uint8Array, offset: number): void {
  for (let i = 0; i < NODE_BYTES; i++) {
    out[offset + i] = (nibble(hash.charCodeAt(2 + 2 * i)) << 4) | nibble(hash.charCodeAt(3 + 2 * i));
  }
}

/** Lowercase 0x hex of the 32 bytes at `bytes[offset…]`. */
function encodeHash(bytes: Uint8Array, offset: number): Hash {
  let text = "0x";
  for (let i = 0; i < NODE_BYTES; i++) {
    const b = bytes[offset + i] ?? 0;
    text += HEX_DIGITS.charAt(b >> 4) + HEX_DIGITS.charAt(b & 15);
  }
  // Built from "0x" and 64 hex digits just above: the Hash shape.
  return text as Hash;
}

function assertHash(value: string, what: string): void {
  if (!isHash(value)) {
    throw new TypeError(`${what} must be 0x and 64 lowercase hex digits, got ${JSON.stringify(value.slice(0, 80))}`);
  }
}

/** Scratch for one pair: 64 bytes, sorted halves. Module-level because hashing is synchronous. */
const pairScratch = new Uint8Array(2 * NODE_BYTES);

/**
 * keccak256 of the two 32-byte nodes at `a[aOff…]` and `b[bOff…]`, smaller first, written to
 * `out[outOff…]`. Equal nodes need no ordering: either order gives the same bytes.
 */
function hashPairInto(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, out: Uint8Array, outOff: number): void {
  let aFirst = true;
  for (let i = 0; i < NODE_BYTES; i++) {
    const x = a[aOff + i] ?? 0;
    const y = b[bOff + i] ?? 0;
    if (x !== y) {
      aFirst = x < y;
      break;
    }
  }
  const lo = aFirst ? a : b;
  const loOff = aFirst ? aOff : bOff;
  const hi = aFirst ? b : a;
  const hiOff = aFirst ? bOff : aOff;
  for (let i = 0; i < NODE_BYTES; i++) {
    pairScratch[i] = lo[loOff + i] ?? 0;
    pairScratch[NODE_BYTES + i] = hi[hiOff + i] ?? 0;
  }
  keccak256Into(pairScratch, 0, 2 * NODE_BYTES, out, outOff);
}

/** The leaf of a message: keccak256 of its 32-byte hash (PROTOCOL.md §4). */
export function hashLeaf(messageHash: Hash): Hash {
  assertHash(messageHash, "message hash");
  const bytes = new Uint8Array(NODE_BYTES);
  decodeHashInto(messageHash, bytes, 0);
  keccak256Into(bytes, 0, NODE_BYTES, bytes, 0);
  return encodeHash(bytes, 0);
}

/**
 * Builds the tree over messages in log order. Throws TypeError on a hash that is not lowercase
 * 0x hex of 32 bytes (the ledger validates hashes when it applies a message, so it never does).
 */
export function buildMerkleTree(messageHashes: readonly Hash[]): MerkleTree {
  const n = messageHashes.length;
  if (n === 0) return { leafCount: 0, nodes: new Uint8Array(0) };
  const nodeCount = 2 * n - 1;
  const nodes = new Uint8Array(nodeCount * NODE_BYTES);
  const digest = new Uint8Array(NODE_BYTES);
  for (let i = 0; i < n; i++) {
    const hash = messageHashes[i] ?? "";
    assertHash(hash, `message hash ${i}`);
    decodeHashInto(hash, digest, 0);
    keccak256Into(digest, 0, NODE_BYTES, nodes, (nodeCount - 1 - i) * NODE_BYTES);
  }
  // Inner nodes are exactly 0 .. n-2; each is built after both its children (higher indices).
  for (let k = n - 2; k >= 0; k--) {
    hashPairInto(nodes, (2 * k + 1) * NODE_BYTES, nodes, (2 * k + 2) * NODE_BYTES, nodes, k * NODE_BYTES);
  }
  return { leafCount: n, nodes };
}

/** The root of a built tree; EMPTY_TRANSFERS_ROOT for an empty one. */
export function getMerkleRoot(tree: MerkleTree): Hash {
  return tree.leafCount === 0 ? EMPTY_TRANSFERS_ROOT : encodeHash(tree.nodes, 0);
}

/** The transfers root of messages in log order (EMPTY_TRANSFERS_ROOT when there are none). */
export function computeTransfersRoot(messageHashes: readonly Hash[]): Hash {
  return getMerkleRoot(buildMerkleTree(messageHashes));
}

/** Leaf, root and sibling path of the message at `index` (its position in the epoch). Throws RangeError when out of range. */
export function getMerkleProof(tree: MerkleTree, index: number): MerkleProof {
  const n = tree.leafCount;
  if (!Number.isSafeInteger(index) || index < 0 || index >= n) {
    throw new RangeError(`leaf index ${index} is outside a tree of ${n} leaves`);
  }
  let node = 2 * n - 2 - index;
  const leaf = encodeHash(tree.nodes, node * NODE_BYTES);
  const proof: Hash[] = [];
  while (node > 0) {
    // An odd node is a left child, its sibling to the right; an even one the reverse (core.js siblingIndex).
    const sibling = node % 2 === 1 ? node + 1 : node - 1;
    proof.push(encodeHash(tree.nodes, sibling * NODE_BYTES));
    node = (node - 1) >> 1;
  }
  return { leaf, root: encodeHash(tree.nodes, 0), proof };
}

/**
 * OpenZeppelin `MerkleProof.verify(proof, root, leaf)`: folds the commutative pair hash over the
 * proof from the leaf and compares with the root. False (never a throw) for malformed hex.
 */
export function verifyMerkleProof(root: Hash, leaf: Hash, proof: readonly Hash[]): boolean {
  if (!isHash(root) || !isHash(leaf)) return false;
  const acc = new Uint8Array(NODE_BYTES);
  const sibling = new Uint8Array(NODE_BYTES);
  decodeHashInto(leaf, acc, 0);
  for (const step of proof) {
    if (!isHash(step)) return false;
    decodeHashInto(step, sibling, 0);
    hashPairInto(acc, 0, sibling, 0, acc, 0);
  }
  return encodeHash(acc, 0) === root;
}
