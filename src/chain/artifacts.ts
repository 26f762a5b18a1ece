// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Compiled contract artifacts, as `npx hardhat build` writes them. Reading the JSON directly keeps
 * the node and the devnet free of Hardhat at run time.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DeltaError } from "../errors.ts";

/** The contracts the project deploys, by artifact path under artifacts/contracts/. */
export const CONTRACTS = {
  DeltaBridge: "DeltaBridge.sol/DeltaBridge.json",
  TestToken: "test/TestToken.sol/TestToken.json",
  /** Test-only: OpenZeppelin MerkleProof.verify exposed, to check served proofs on-chain. */
  MerkleProofHarness: "test/MerkleProofHarness.sol/MerkleProofHarness.json",
} as const;

export type ContractName = keyof typeof CONTRACTS;

export interface Artifact {
  readonly contractName: string;
  readonly abi: readonly unknown[];
  readonly bytecode: string;
}

const ROOT = new URL("../../artifacts/contracts/", import.meta.url);

/** Loads a compiled artifact; throws INVALID_CONFIG with the fix when the build is missing. */
export function loadArtifact(name: ContractName): Artifact {
  const path = fileURLToPath(new URL(CONTRACTS[name], ROOT));
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new DeltaError("INVALID_CONFIG", `contract artifact ${name} not found at ${path}: run \`npx hardhat build\` first`, {
      cause,
    });
  }
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    !("abi" in parsed) ||
    !Array.isArray(parsed.abi) ||
    !("bytecode" in parsed) ||
    typeof parsed.bytecode !== "string"
  ) {
    throw new DeltaError("INVALID_CONFIG", `contract artifact ${name} at ${path} is malformed: rebuild with \`npx hardhat build --force\``);
  }
  return { contractName: name, abi: parsed.abi, bytecode: parsed.bytecode };
}
