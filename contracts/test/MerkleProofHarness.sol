// SPDX-License-Identifier: AGPL-3.0-or-later
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/**
 * @title MerkleProofHarness
 * @notice Test-only: exposes OpenZeppelin's MerkleProof.verify so tests can check, on-chain, the
 * proofs the ledger serves for a transfers root (PROTOCOL.md §4).
 */
contract MerkleProofHarness {
    /**
     * @notice OpenZeppelin's MerkleProof.verify, unchanged.
     * @param proof sibling hashes from the leaf up
     * @param root the transfers root
     * @param leaf keccak256 of the message's EIP-712 hash
     * @return true when the proof links the leaf to the root
     */
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return MerkleProof.verify(proof, root, leaf);
    }
}
