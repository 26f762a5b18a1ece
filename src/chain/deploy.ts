// SPDX-License-Identifier: AGPL-3.0-or-later
/** Deploys DeltaBridge (and the devnet's test token) with ethers 6 from the compiled artifacts. */
import { ContractFactory, type BaseContract, type Signer, type InterfaceAbi } from "ethers";
import { loadArtifact, type ContractName } from "./artifacts.ts";
import { asDeltaBridge, asErc20, type DeltaBridgeContract, type Erc20Contract } from "./contracts.ts";

export interface BridgeParams {
  /** Validator addresses; the bridge refuses empty, zero or duplicate entries. */
  readonly validators: readonly string[];
  /** Signatures required: more than half of the validators, at most all of them. */
  readonly threshold: bigint;
  /** Seconds without a landed chunk before anyone may freeze the bridge. */
  readonly escapeDelaySec: bigint;
}

async function deploy(name: ContractName, signer: Signer, args: readonly unknown[]): Promise<BaseContract> {
  const artifact = loadArtifact(name);
  // The artifact's ABI is the compiler's JSON ABI, which is what ethers' InterfaceAbi accepts.
  const factory = new ContractFactory(artifact.abi as InterfaceAbi, artifact.bytecode, signer);
  const contract = await factory.deploy(...args);
  await contract.waitForDeployment();
  return contract;
}

/** Deploys DeltaBridge and waits for it; returns the ethers contract. */
export async function deployBridge(signer: Signer, params: BridgeParams): Promise<DeltaBridgeContract> {
  return asDeltaBridge(await deploy("DeltaBridge", signer, [params.validators, params.threshold, params.escapeDelaySec]));
}

/** Deploys the devnet's mintable test ERC-20. Never on a real chain. */
export async function deployTestToken(signer: Signer, name = "Delta Test Token", symbol = "DTT"): Promise<Erc20Contract> {
  return asErc20(await deploy("TestToken", signer, [name, symbol]));
}

/** The bridge's ABI, for contracts attached at a known address. */
export function bridgeAbi(): InterfaceAbi {
  // See deploy(): the compiler's JSON ABI is an ethers InterfaceAbi.
  return loadArtifact("DeltaBridge").abi as InterfaceAbi;
}
