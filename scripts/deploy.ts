// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Deploys DeltaBridge to any network of hardhat.config.ts, through Hardhat's connection and its
 * first signer, and on a devnet (chainId 1337 or 31337) the test ERC-20 too:
 *
 *   DELTA_VALIDATORS=0xA…,0xB…,0xC… npx hardhat run scripts/deploy.ts --network <name>
 *
 * `hardhat run` takes no script arguments, so everything comes from the environment (parsed and
 * checked in deployParams.ts before anything is sent; docs/bridge.md "Deploying to another
 * network"): DELTA_VALIDATORS, DELTA_THRESHOLD, DELTA_ESCAPE_DELAY, DELTA_DEPLOY_TOKEN,
 * DELTA_MINT_TO, DELTA_DEPLOY_OUT. Both deployments are estimated and the deployer's balance
 * checked before the first transaction. Any failure is one line on stderr and exit code 1. It
 * exits once its summary is printed, however it is started (issue 14; scripts/scriptExit.ts).
 */
import { existsSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { formatEther, formatUnits, type ContractFactory, type ContractTransactionResponse } from "ethers";
import { asDeltaBridge, asErc20, type DeltaBridgeContract, type Erc20Contract } from "../src/chain/index.ts";
import { DeltaError } from "../src/errors.ts";
import { parseDeployEnv, planToken, TOKEN_GRANT } from "./deployParams.ts";
import { closeNetwork, openNetwork } from "./hardhatNetwork.ts";
import { exitWhenIdle } from "./scriptExit.ts";

/** The test token's name and symbol (as src/chain's deployTestToken). */
const TOKEN_NAME = "Delta Test Token";
const TOKEN_SYMBOL = "DTT";
/** Gas limits are the estimate plus this percentage (Ganache's estimates can fall short: TOOLCHAIN.md). */
const GAS_MARGIN_PERCENT = 20n;
/** Gas reserved per mint in the balance check (a TestToken mint to a new holder uses about 51,000). */
const MINT_GAS_ALLOWANCE = 80_000n;

function accounts(n: number): string {
  return n === 1 ? "1 account" : `${n} accounts`;
}

function log(line: string): void {
  process.stdout.write(`[deploy] ${line}\n`);
}

/** Fails with a message that says nothing was sent. */
function refuse(message: string): DeltaError {
  return new DeltaError("INVALID_CONFIG", `${message}; nothing was sent`);
}

/** DELTA_DEPLOY_OUT resolved; refused now (not after paying for the deployment) when it cannot be written. */
function checkOutPath(path: string): string {
  const absolute = resolve(path);
  const dir = dirname(absolute);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DeltaError("INVALID_CONFIG", `DELTA_DEPLOY_OUT ${path}: directory ${dir} does not exist`);
  }
  if (existsSync(absolute) && statSync(absolute).isDirectory()) {
    throw new DeltaError("INVALID_CONFIG", `DELTA_DEPLOY_OUT ${path} is a directory; give a file path`);
  }
  return absolute;
}

/** The short, one-line reason of an ethers / Hardhat error. */
function reason(error: unknown): string {
  if (error instanceof Error) {
    const short = (error as { shortMessage?: unknown }).shortMessage;
    const text = typeof short === "string" && short !== "" ? short : error.message;
    return text.split("\n")[0] ?? text;
  }
  return String(error);
}

/**
 * The contract's custom error in a failed call, as `Name(arg, …)`: Ganache returns only the revert
 * data (in `data.result`; EDR in `data`), not the decoded error (TOOLCHAIN.md §4).
 */
function customError(factory: ContractFactory, error: unknown): string | undefined {
  const data = (error as { data?: unknown }).data;
  const raw = typeof data === "string" ? data : (data as { result?: unknown } | undefined)?.result;
  if (typeof raw !== "string" || !/^0x[0-9a-fA-F]{8}/.test(raw)) return undefined;
  try {
    const parsed = factory.interface.parseError(raw);
    return parsed === null ? undefined : `${parsed.name}(${parsed.args.map(String).join(", ")})`;
  } catch {
    return undefined;
  }
}

/** Fee fields for every transaction: EIP-1559 when the chain has a base fee, legacy otherwise. */
type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };

function maxPrice(fees: Fees): bigint {
  return "gasPrice" in fees ? fees.gasPrice : fees.maxFeePerGas;
}

async function main(): Promise<void> {
  // 1. The environment, checked without touching the network.
  const params = parseDeployEnv(process.env);
  const outPath = params.outPath === undefined ? undefined : checkOutPath(params.outPath);

  const connection = await openNetwork();
  try {
    const { ethers } = connection;
    const provider = ethers.provider;

    // 2. What the chain decides: the token, the deployer, the fees.
    const chainId = (await provider.getNetwork()).chainId;
    const deployToken = planToken(params, chainId);
    const [deployer] = await ethers.getSigners();
    if (deployer === undefined) throw refuse(`network ${connection.networkName} has no accounts: configure \`accounts\` in hardhat.config.ts`);
    log(`network ${connection.networkName} (chainId ${chainId}), deployer ${deployer.address}`);
    log(
      `DeltaBridge: ${params.validators.length} validator${params.validators.length === 1 ? "" : "s"}, threshold ${params.threshold}, escape delay ${params.escapeDelaySec} s` +
        (deployToken ? `; test token ${TOKEN_SYMBOL}${params.mintTo.length > 0 ? `, minted to ${accounts(params.mintTo.length)}` : ""}` : ""),
    );

    const feeData = await provider.getFeeData();
    let fees: Fees;
    if (feeData.maxFeePerGas !== null && feeData.maxPriorityFeePerGas !== null) {
      fees = { maxFeePerGas: feeData.maxFeePerGas, maxPriorityFeePerGas: feeData.maxPriorityFeePerGas };
    } else if (feeData.gasPrice !== null) {
      fees = { gasPrice: feeData.gasPrice };
    } else {
      throw refuse(`network ${connection.networkName} reports no gas price`);
    }

    // 3. Estimate every deployment (a constructor that would revert fails here, for free).
    const estimate = async (what: string, factory: ContractFactory, args: unknown[]): Promise<{ gasLimit: bigint }> => {
      const tx = await factory.getDeployTransaction(...args);
      let gas: bigint;
      try {
        gas = await provider.estimateGas({ ...tx, from: deployer.address });
      } catch (error) {
        const decoded = customError(factory, error);
        throw refuse(`estimating the ${what} deployment failed: ${decoded === undefined ? reason(error) : `the constructor reverted with ${decoded}`}`);
      }
      return { gasLimit: gas + (gas * GAS_MARGIN_PERCENT) / 100n };
    };
    const bridgeFactory = await ethers.getContractFactory("DeltaBridge", deployer);
    const bridgeArgs = [params.validators, params.threshold, params.escapeDelaySec];
    const bridgePlan = await estimate("DeltaBridge", bridgeFactory, bridgeArgs);
    const tokenFactory = deployToken ? await ethers.getContractFactory("TestToken", deployer) : undefined;
    const tokenArgs = [TOKEN_NAME, TOKEN_SYMBOL];
    const tokenPlan = tokenFactory === undefined ? undefined : await estimate("TestToken", tokenFactory, tokenArgs);

    const gasBudget = bridgePlan.gasLimit + (tokenPlan?.gasLimit ?? 0n) + MINT_GAS_ALLOWANCE * BigInt(params.mintTo.length);
    const maxCost = gasBudget * maxPrice(fees);
    const balance = await provider.getBalance(deployer.address);
    if (balance < maxCost) {
      throw refuse(
        `deployer ${deployer.address} has ${formatEther(balance)} ETH but the deployment may cost up to ${formatEther(maxCost)} ETH ` +
          `(${gasBudget} gas at ${formatUnits(maxPrice(fees), "gwei")} gwei): fund it first`,
      );
    }

    // 4. Send.
    const bridge: DeltaBridgeContract = asDeltaBridge(await bridgeFactory.deploy(...bridgeArgs, { gasLimit: bridgePlan.gasLimit, ...fees }));
    const bridgeTx = bridge.deploymentTransaction();
    if (bridgeTx === null) throw new Error("DeltaBridge: ethers returned no deployment transaction");
    log(`DeltaBridge: sent ${bridgeTx.hash}, waiting for it to be mined`);
    const bridgeReceipt = await bridgeTx.wait();
    if (bridgeReceipt === null || bridgeReceipt.status !== 1) throw new Error(`DeltaBridge deployment ${bridgeTx.hash} failed on chain`);
    const bridgeAddress = await bridge.getAddress();
    log(`DeltaBridge: ${bridgeAddress} in block ${bridgeReceipt.blockNumber}, ${bridgeReceipt.gasUsed} gas`);

    // The constructor stored what we asked for (a sanity check against a wrong artifact).
    const onChainValidators = ((await bridge.validators()) as string[]).map(String);
    const onChainThreshold = (await bridge.threshold()) as bigint;
    const onChainDelay = (await bridge.escapeDelay()) as bigint;
    if (
      onChainValidators.join() !== params.validators.join() ||
      onChainThreshold !== params.threshold ||
      onChainDelay !== params.escapeDelaySec
    ) {
      throw new Error(`DeltaBridge at ${bridgeAddress} does not hold the parameters sent: stale artifacts? (npx hardhat build --force)`);
    }

    let tokenAddress: string | null = null;
    let totalGas = bridgeReceipt.gasUsed;
    let totalCost = bridgeReceipt.gasUsed * bridgeReceipt.gasPrice;
    if (tokenFactory !== undefined && tokenPlan !== undefined) {
      const token: Erc20Contract = asErc20(await tokenFactory.deploy(...tokenArgs, { gasLimit: tokenPlan.gasLimit, ...fees }));
      const tokenTx = token.deploymentTransaction();
      if (tokenTx === null) throw new Error("TestToken: ethers returned no deployment transaction");
      const tokenReceipt = await tokenTx.wait();
      if (tokenReceipt === null || tokenReceipt.status !== 1) throw new Error(`TestToken deployment ${tokenTx.hash} failed on chain`);
      tokenAddress = await token.getAddress();
      totalGas += tokenReceipt.gasUsed;
      totalCost += tokenReceipt.gasUsed * tokenReceipt.gasPrice;
      log(`TestToken: ${tokenAddress} in block ${tokenReceipt.blockNumber}, ${tokenReceipt.gasUsed} gas`);
      for (const to of params.mintTo) {
        const tx = (await token.mint(to, TOKEN_GRANT, fees)) as ContractTransactionResponse;
        const receipt = await tx.wait();
        if (receipt === null || receipt.status !== 1) throw new Error(`minting to ${to} (${tx.hash}) failed on chain`);
        totalGas += receipt.gasUsed;
        totalCost += receipt.gasUsed * receipt.gasPrice;
      }
      if (params.mintTo.length > 0) log(`TestToken: minted ${formatEther(TOKEN_GRANT)} ${TOKEN_SYMBOL} to each of ${accounts(params.mintTo.length)}`);
    }

    if (outPath !== undefined) {
      const out = {
        chainId: Number(chainId),
        bridge: bridgeAddress,
        token: tokenAddress,
        deployBlock: bridgeReceipt.blockNumber,
        validators: params.validators,
        // Both fit a JSON number exactly: threshold <= the set's size, escape delay <= 2^53 - 1 (deployParams.ts).
        threshold: Number(params.threshold),
        escapeDelay: Number(params.escapeDelaySec),
        txHash: bridgeTx.hash,
      };
      const partial = `${outPath}.tmp`;
      writeFileSync(partial, JSON.stringify(out, null, 2) + "\n");
      renameSync(partial, outPath);
      log(`wrote ${outPath}`);
    }

    log("summary:");
    const rows: [string, string][] = [
      ["network", `${connection.networkName} (chainId ${chainId})`],
      ["deployer", deployer.address],
      ["bridge", bridgeAddress],
      ["deploy block", String(bridgeReceipt.blockNumber)],
      ["bridge gas used", String(bridgeReceipt.gasUsed)],
      ["tx hash", bridgeTx.hash],
      ["validators", params.validators.join(", ")],
      ["threshold", `${params.threshold} of ${params.validators.length}`],
      ["escape delay", `${params.escapeDelaySec} s`],
      ["token", tokenAddress ?? "none"],
      ["total gas used", `${totalGas} (${formatEther(totalCost)} ETH)`],
    ];
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(16)}${v}\n`);
  } finally {
    // Bounded: a request still in flight (one the RPC never answers) must not hold the exit (scriptExit.ts).
    await closeNetwork(connection, "deploy");
  }
}

try {
  await main();
} catch (error) {
  // One line, no stack trace: input errors say what to fix, chain errors say what failed.
  process.stderr.write(`[deploy] error: ${reason(error)}\n`);
  process.exitCode = 1;
}
// Everything is closed by now; this only ends what a dependency might still hold (scriptExit.ts).
exitWhenIdle("deploy");
