// SPDX-License-Identifier: AGPL-3.0-or-later
/** chain/: ethers 6 against the settlement chain. Other folders import this file only. */

/** Loads a compiled contract artifact; throws INVALID_CONFIG when `npx hardhat build` has not run. */
export { loadArtifact, type ContractName } from "./artifacts.ts";
/** Deploys DeltaBridge / the devnet's test ERC-20 from the compiled artifacts; the bridge's ABI. */
export { deployBridge, deployTestToken, bridgeAbi, type BridgeParams } from "./deploy.ts";
/** Typed contract shapes, checked against the ABI (INVALID_CONFIG when a function is missing). */
export {
  asDeltaBridge,
  asErc20,
  connectAs,
  withMethods,
  type DeltaBridgeContract,
  type DeltaBridgeMethod,
  type Erc20Contract,
  type Erc20Method,
} from "./contracts.ts";
/** DeltaBridge.settle's Settlement argument as an ethers tuple. */
export { settlementTuple } from "./settlementCall.ts";
/** The provider of the node's chain loops: static network, a 10 s request timeout. */
export { chainProvider, RPC_TIMEOUT_MS } from "./provider.ts";
/** Sends a signed epoch's chunks in order (replacing stuck transactions) and finds their Settled events; the node's leader and scripts/settle.ts share it. */
export { SettlementSubmitter, type SettledOnChain, type SettlementSubmitterOptions, type SignedSettlement, type SubmitterLogger } from "./settlementSubmitter.ts";
/** The gas model of a settlement chunk (measured on Ganache) and the chunk limits that fit 80% of a block. */
export { chunkGasBound, chunkLimitsFor, maxItemsFor, settlementGasBound, MAX_TOKENS_PER_CHUNK, type ChunkLimits } from "./settlementGas.ts";
/** The leader's deposit watcher: Deposited events at the configured finality, checked against the bridge's nextDepositId and the ledger's contents, proposed as log entries, with a durable cursor. */
export {
  DepositWatcher,
  HALT_RECHECK_MS,
  type ChainLogger,
  type DecidedDeposit,
  type DepositFinality,
  type DepositLedger,
  type DepositWatcherChain,
  type DepositWatcherMetrics,
} from "./depositWatcher.ts";
