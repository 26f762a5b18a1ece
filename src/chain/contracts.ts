// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Typed shapes of the contracts we call through ethers. ethers' `Contract` exposes ABI functions
 * through an index signature, which strict TypeScript (noUncheckedIndexedAccess) treats as possibly
 * undefined; these shapes name the functions that exist, so a typo is a compile error.
 */
import type { BaseContract, ContractMethod } from "ethers";
import { DeltaError } from "../errors.ts";

/** Every external function of contracts/DeltaBridge.sol. */
export type DeltaBridgeMethod =
  | "balanceOf"
  | "deposit"
  | "depositToken"
  | "eip712Domain"
  | "escapeDelay"
  | "freeze"
  | "frozen"
  | "lastEpoch"
  | "lastSettledAt"
  | "nextChunk"
  | "nextDepositId"
  | "rotateValidators"
  | "rotationDigest"
  | "rotationNonce"
  | "settle"
  | "settlementDigest"
  | "threshold"
  | "transfersRoot"
  | "validators"
  | "withdraw"
  | "withdrawable";

export type DeltaBridgeContract = BaseContract & Record<DeltaBridgeMethod, ContractMethod>;

const DELTA_BRIDGE_METHODS: readonly DeltaBridgeMethod[] = [
  "balanceOf", "deposit", "depositToken", "eip712Domain", "escapeDelay", "freeze", "frozen",
  "lastEpoch", "lastSettledAt", "nextChunk", "nextDepositId", "rotateValidators", "rotationDigest",
  "rotationNonce", "settle", "settlementDigest", "threshold", "transfersRoot", "validators",
  "withdraw", "withdrawable",
];

/** The ERC-20 functions the project uses (TestToken adds `mint`). */
export type Erc20Method = "approve" | "balanceOf" | "transfer" | "allowance" | "decimals" | "mint";
export type Erc20Contract = BaseContract & Record<Erc20Method, ContractMethod>;

const ERC20_METHODS: readonly Erc20Method[] = ["approve", "balanceOf", "transfer", "allowance", "decimals", "mint"];

/**
 * `contract` typed with the functions `methods`, after checking its ABI has every one of them
 * (a missing one is a wrong address or stale artifacts, reported as INVALID_CONFIG).
 */
export function withMethods<M extends string>(
  contract: BaseContract,
  methods: readonly M[],
): BaseContract & Record<M, ContractMethod> {
  for (const m of methods) {
    if (contract.interface.getFunction(m) === null) {
      throw new DeltaError("INVALID_CONFIG", `contract has no function ${m}(); wrong ABI or stale artifacts`);
    }
  }
  // Every named function exists in the ABI, so ethers exposes it as a ContractMethod.
  return contract as BaseContract & Record<M, ContractMethod>;
}

/** `contract` as a DeltaBridge, after checking its ABI has every bridge function. */
export function asDeltaBridge(contract: BaseContract): DeltaBridgeContract {
  return withMethods(contract, DELTA_BRIDGE_METHODS);
}

/** `contract` as a mintable ERC-20, after checking its ABI. */
export function asErc20(contract: BaseContract): Erc20Contract {
  return withMethods(contract, ERC20_METHODS);
}

/** `contract` connected to `signer`, keeping its typed shape (connect() keeps the ABI). */
export function connectAs<T extends BaseContract>(contract: T, runner: Parameters<BaseContract["connect"]>[0]): T {
  return contract.connect(runner) as T;
}
