// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * scripts/deploy.ts as an operator runs it: `hardhat run scripts/deploy.ts --network ganache` in a
 * child process (same Node 22, Hardhat's own CLI) against a Ganache this test starts on a free
 * port (DELTA_RPC_URL). Checks the bridge's parameters and the minted token on chain, the
 * DELTA_DEPLOY_OUT file, the defaults, and that bad input exits 1 with one line and sends nothing.
 * Needs the artifacts (`npx hardhat build`; `npm test` builds first): the script runs with
 * --no-compile so parallel test files never race a build.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { Contract, JsonRpcProvider, Wallet, getAddress, hexlify, randomBytes, type InterfaceAbi } from "ethers";
import { asDeltaBridge, asErc20, bridgeAbi, loadArtifact } from "../../../src/chain/index.ts";
import { startGanache, type RunningGanache } from "../../../src/devnet/ganache.ts";
import { DEVNET_CHAIN_ID, DEVNET_ROLES, devnetPrivateKeys } from "../../../src/devnet/keys.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The file `node_modules/.bin/hardhat` links to, run with this process's Node. */
const HARDHAT_CLI = realpathSync(join(ROOT, "node_modules/.bin/hardhat"));
/** Kills a hung child (a failure, never a synchronisation point). */
const CHILD_TIMEOUT_MS = 60_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface DeployOut {
  chainId: number;
  bridge: string;
  token: string | null;
  deployBlock: number;
  validators: string[];
  threshold: number;
  escapeDelay: number;
  txHash: string;
}

function randomAddress(): string {
  return new Wallet(hexlify(randomBytes(32))).address;
}

describe("scripts/deploy.ts on Ganache (hardhat run --network ganache)", () => {
  let ganache: RunningGanache;
  let provider: JsonRpcProvider;
  let dir: string;
  let deployer: string;

  before(async () => {
    // A clear failure when the build is missing (the script runs with --no-compile).
    loadArtifact("DeltaBridge");
    loadArtifact("TestToken");
    ganache = await startGanache({ port: 0 });
    provider = new JsonRpcProvider(ganache.url, DEVNET_CHAIN_ID, { staticNetwork: true, pollingInterval: 100 });
    dir = mkdtempSync(join(tmpdir(), "delta-deploy-"));
    const key = devnetPrivateKeys()[DEVNET_ROLES.deployer];
    assert.ok(key !== undefined);
    deployer = new Wallet(key).address;
  });
  after(async () => {
    provider?.destroy();
    await ganache?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the script with `env` on top of a copy of this environment without any DELTA_* variable. */
  function deploy(env: Record<string, string>): Promise<Run> {
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("DELTA_")) base[k] = v;
    const child = spawn(
      process.execPath,
      [HARDHAT_CLI, "run", "--no-compile", "scripts/deploy.ts", "--network", "ganache"],
      { cwd: ROOT, env: { ...base, DELTA_RPC_URL: ganache.url, ...env }, stdio: ["ignore", "pipe", "pipe"], timeout: CHILD_TIMEOUT_MS },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  function readOut(path: string): DeployOut {
    return JSON.parse(readFileSync(path, "utf8")) as DeployOut;
  }

  /** The script's error lines; asserts there is exactly one and no stack trace. */
  function oneErrorLine(run: Run): string {
    assert.equal(run.code, 1, `exit code; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    const lines = run.stderr.split("\n").filter((l) => l.startsWith("[deploy]"));
    assert.equal(lines.length, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
    return lines[0] ?? "";
  }

  it("deploys the bridge with the given parameters and the token minted to the given accounts", async () => {
    const validators = [randomAddress(), randomAddress(), randomAddress()];
    const holders = [randomAddress(), randomAddress()];
    const outPath = join(dir, "ganache.json");
    const nonceBefore = await provider.getTransactionCount(deployer);
    const run = await deploy({
      // Lower case on purpose: the script checksums.
      DELTA_VALIDATORS: validators.map((v) => v.toLowerCase()).join(","),
      DELTA_ESCAPE_DELAY: "3600",
      DELTA_MINT_TO: holders.join(","),
      DELTA_DEPLOY_OUT: outPath,
    });
    assert.equal(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);

    const out = readOut(outPath);
    assert.equal(out.chainId, DEVNET_CHAIN_ID);
    assert.deepEqual(out.validators, validators);
    assert.equal(out.threshold, 2); // the smallest majority of 3
    assert.equal(out.escapeDelay, 3600);
    assert.ok(out.token !== null);
    const receipt = await provider.getTransactionReceipt(out.txHash);
    assert.ok(receipt !== null);
    assert.equal(receipt.status, 1);
    assert.equal(receipt.from, deployer);
    assert.equal(receipt.contractAddress, out.bridge);
    assert.equal(receipt.blockNumber, out.deployBlock);
    // Bridge, token, two mints: four transactions, all from the first Hardhat signer.
    assert.equal(await provider.getTransactionCount(deployer), nonceBefore + 4);

    const bridge = asDeltaBridge(new Contract(out.bridge, bridgeAbi(), provider));
    assert.deepEqual([...((await bridge.validators()) as string[])], validators);
    assert.equal(await bridge.threshold(), 2n);
    assert.equal(await bridge.escapeDelay(), 3600n);
    assert.equal(await bridge.frozen(), false);

    const token = asErc20(new Contract(out.token, loadArtifact("TestToken").abi as InterfaceAbi, provider));
    assert.equal(await token.decimals(), 18n);
    for (const h of holders) assert.equal(await token.balanceOf(h), 1_000_000n * 10n ** 18n);

    // The summary names what an operator needs.
    assert.match(run.stdout, /network\s+ganache \(chainId 1337\)/);
    assert.match(run.stdout, new RegExp(`deployer\\s+${deployer}`));
    assert.match(run.stdout, new RegExp(`bridge\\s+${out.bridge}`));
    assert.match(run.stdout, new RegExp(`deploy block\\s+${out.deployBlock}\\b`));
    assert.match(run.stdout, new RegExp(`bridge gas used\\s+${receipt.gasUsed}\\b`));
    assert.match(run.stdout, new RegExp(`token\\s+${out.token}`));
  });

  it("defaults to the smallest majority and 7 days; DELTA_DEPLOY_TOKEN=0 skips the token", async () => {
    const validators = [randomAddress(), randomAddress(), randomAddress(), randomAddress()];
    const outPath = join(dir, "no-token.json");
    const nonceBefore = await provider.getTransactionCount(deployer);
    const run = await deploy({ DELTA_VALIDATORS: validators.join(","), DELTA_DEPLOY_TOKEN: "0", DELTA_DEPLOY_OUT: outPath });
    assert.equal(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    const out = readOut(outPath);
    assert.equal(out.token, null);
    assert.equal(out.threshold, 3);
    assert.equal(out.escapeDelay, 604_800);
    assert.equal(await provider.getTransactionCount(deployer), nonceBefore + 1);
    const bridge = asDeltaBridge(new Contract(out.bridge, bridgeAbi(), provider));
    assert.deepEqual([...((await bridge.validators()) as string[])], validators);
    assert.equal(await bridge.threshold(), 3n);
    assert.equal(await bridge.escapeDelay(), 604_800n);
    assert.match(run.stdout, /token\s+none/);
  });

  it("refuses threshold 1 of 3 with one clear line, exit 1, and sends nothing", async () => {
    const outPath = join(dir, "refused.json");
    const nonceBefore = await provider.getTransactionCount(deployer);
    const blockBefore = await provider.getBlockNumber();
    const run = await deploy({
      DELTA_VALIDATORS: [randomAddress(), randomAddress(), randomAddress()].join(","),
      DELTA_THRESHOLD: "1",
      DELTA_DEPLOY_OUT: outPath,
    });
    assert.equal(oneErrorLine(run), "[deploy] error: DELTA_THRESHOLD 1 is not more than half of the 3 validators (allowed: 2 to 3)");
    assert.equal(await provider.getTransactionCount(deployer), nonceBefore);
    assert.equal(await provider.getBlockNumber(), blockBefore);
    assert.equal(existsSync(outPath), false);
  });

  it("refuses a duplicate validator in another letter case, naming it, and sends nothing", async () => {
    const a = randomAddress();
    const nonceBefore = await provider.getTransactionCount(deployer);
    const run = await deploy({ DELTA_VALIDATORS: [a, randomAddress(), a.toLowerCase()].join(",") });
    assert.equal(oneErrorLine(run), `[deploy] error: DELTA_VALIDATORS entry 3 of 3 ${getAddress(a)} duplicates entry 1`);
    assert.equal(await provider.getTransactionCount(deployer), nonceBefore);
  });
});
