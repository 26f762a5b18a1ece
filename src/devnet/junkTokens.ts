// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Hundreds of worthless ERC-20s on the bridge, as anyone can put there: deploys the test-only
 * `JunkToken` (contracts/test/JunkToken.sol: mints to a holder and approves the bridge in its
 * constructor) and deposits each. Used by the many-tokens settlement test and `npm run bench:gas`.
 * Transactions are sent back to back with explicit nonces, gas and price, then awaited together:
 * one round trip each instead of an estimate, a nonce and a fee query per transaction.
 */
import { readFileSync } from "node:fs";
import { ContractFactory, getCreateAddress, Interface, type InterfaceAbi, type Provider, type Wallet } from "ethers";

const ARTIFACT = new URL("../../artifacts/contracts/test/JunkToken.sol/JunkToken.json", import.meta.url);
/** Generous fixed gas: a JunkToken deployment uses about 600,000, a first deposit of a token about 90,000. */
const DEPLOY_GAS = 1_500_000n;
const DEPOSIT_GAS = 200_000n;

/** Sends `count` transactions built by `build(i)` from `wallet` at consecutive nonces, then waits for every receipt. */
async function sendAll(wallet: Wallet, provider: Provider, count: number, build: (i: number) => { to?: string; data: string; gasLimit: bigint }): Promise<number> {
  const from = wallet.address;
  const first = await provider.getTransactionCount(from, "pending");
  const gasPrice = (await provider.getFeeData()).gasPrice ?? 1_000_000_000n;
  const chainId = (await provider.getNetwork()).chainId;
  const hashes: string[] = [];
  for (let i = 0; i < count; i++) {
    const tx = await wallet.sendTransaction({ ...build(i), nonce: first + i, gasPrice, chainId, type: 0 });
    hashes.push(tx.hash);
  }
  for (const hash of hashes) {
    const receipt = await provider.waitForTransaction(hash, 1, 120_000);
    if (receipt === null || receipt.status !== 1) throw new Error(`junk token transaction ${hash} failed`);
  }
  return first;
}

/**
 * Deploys `count` JunkTokens whose supply `holder` holds and `bridge` may pull, deposits `deposit`
 * of each to `bridge` from `holder` (connected to `provider`), and returns the tokens' addresses in
 * deployment order.
 */
export async function depositJunkTokens(holder: Wallet, provider: Provider, bridge: string, count: number, deposit: bigint): Promise<string[]> {
  const artifact = JSON.parse(readFileSync(ARTIFACT, "utf8")) as { abi: InterfaceAbi; bytecode: string }; // hardhat build's artifact
  const factory = new ContractFactory(artifact.abi, artifact.bytecode);
  const deployData = (await factory.getDeployTransaction(holder.address, bridge, deposit)).data;
  const first = await sendAll(holder, provider, count, () => ({ data: deployData, gasLimit: DEPLOY_GAS }));
  const tokens = Array.from({ length: count }, (_, i) => getCreateAddress({ from: holder.address, nonce: first + i }));
  const iface = new Interface(["function depositToken(address token, uint256 amount)"]);
  await sendAll(holder, provider, count, (i) => ({ to: bridge, data: iface.encodeFunctionData("depositToken", [tokens[i], deposit]), gasLimit: DEPOSIT_GAS }));
  return tokens;
}
