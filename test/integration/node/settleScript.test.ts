// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npx hardhat run scripts/settle.ts --network ganache` against a real devnet (Ganache, the
 * bridge, three node processes) whose leader does not submit (settlement.autoSubmit false), so
 * the script is what lands the chunks: the talk's example settles through it, the nodes then
 * mark the epoch settled from the chain; nothing to settle, a wrong admin token and a devnet that
 * is down each give one clear line and the right exit code.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import { DeltaClient, fastSignTransfer, type DomainInfo } from "../../../src/client/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import { NATIVE_TOKEN } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, startTestDevnet, TEST_ADMIN_TOKEN, writeDevnetFile, type TestDevnet } from "./devnetFixture.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const HARDHAT = join(ROOT, "node_modules/hardhat/dist/src/cli.js");
const U = 10n ** 15n;
const DEADLINE = BigInt(Math.floor(Date.now() / 1000) + 3600);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the script as a user would, under this Node, and returns its exit code and output. */
function runSettle(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    // --no-compile: npm test builds first; a build here would race the other test files.
    const child = spawn(process.execPath, [HARDHAT, "run", "--no-compile", "scripts/settle.ts", "--network", "ganache"], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("scripts/settle.ts through npx hardhat run (Ganache + 3 node processes)", { timeout: 300_000 }, () => {
  let devnet: TestDevnet;
  let chain: DevnetChain;
  let client: DeltaClient;
  let domain: DomainInfo;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    devnet = await startTestDevnet("settle-script", { epoch: { intervalMs: 0, maxMessages: 0 }, settlement: { autoSubmit: false } });
    chain = devnet.chain;
    client = new DeltaClient({ baseUrls: devnet.rests });
    domain = await client.domain();
    dir = mkdtempSync(join(tmpdir(), "delta-settle-script-"));
    const file = join(dir, "devnet.json");
    writeDevnetFile(file, devnet);
    env = { DELTA_RPC_URL: chain.ganache.url, DELTA_DEVNET_FILE: file };
  });
  after(async () => {
    await devnet?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("with nothing sealed or open, says there is nothing to settle and exits 0", async () => {
    const r = await runSettle(env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nothing to settle/);
    assert.equal((await chain.bridge.lastEpoch()) as bigint, 0n);
  });

  it("settles the talk's example: -8, +3, +5 on-chain, with the gas report; the nodes then mark it settled", async () => {
    const [alice, bob, mike] = chain.users.slice(0, 3).map((u) => new Wallet(u.privateKey, chain.provider));
    for (const w of [alice!, bob!, mike!]) await (await connectAs(chain.bridge, w).deposit({ value: 50n * U })).wait();
    for (const w of [alice!, bob!, mike!]) {
      await pollUntil(`credit of ${w.address}`, 30_000, async () => ((await client.account(w.address)).balances[NATIVE_TOKEN] === 50n * U ? true : undefined));
    }
    const before = await Promise.all([alice!, bob!, mike!].map(async (w) => (await chain.bridge.balanceOf(NATIVE_TOKEN, w.address)) as bigint));
    const t = (from: Wallet, to: Wallet, amount: bigint, nonce: bigint) =>
      fastSignTransfer(from.privateKey, domain, { to: to.address, token: NATIVE_TOKEN, amount: amount * U, nonce, deadline: DEADLINE });
    // Plus one token transfer: its one-by-one cost is measured on the chain (an ERC-20 transfer).
    await (await connectAs(chain.token, alice!).approve(chain.bridgeAddress, 10n * U)).wait();
    await (await connectAs(chain.bridge, alice!).depositToken(chain.tokenAddress, 10n * U)).wait();
    await pollUntil("alice's token credit", 30_000, async () => ((await client.account(alice!.address)).balances[chain.tokenAddress as `0x${string}`] === 10n * U ? true : undefined));
    const tokenTransfer = fastSignTransfer(alice!.privateKey, domain, { to: bob!.address, token: chain.tokenAddress, amount: 3n * U, nonce: 2n, deadline: DEADLINE });
    const results = await client.submitTransfers([t(alice!, bob!, 5n, 0n), t(alice!, mike!, 5n, 1n), t(bob!, mike!, 2n, 0n), t(mike!, alice!, 2n, 0n), tokenTransfer]);
    assert.ok(results.every((r) => "status" in r));

    const r = await runSettle(env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /sealed epoch 1/);
    assert.match(r.stdout, /epoch 1 settled \(1 of 1 chunks sent by this script/);
    assert.match(r.stdout, /chunk 1\/1 landed in block \d+ \(tx 0x[0-9a-f]{64}, [1-9][0-9,]* gas\)/);
    assert.match(r.stdout, /transfers\s+5\n/);
    assert.match(r.stdout, /deltas\s+5\n/);
    assert.match(r.stdout, /chunks\s+1\n/);
    // 4 ETH transfers at 21,000 and 1 token transfer at its measured gas (an ERC-20 transfer costs
    // tens of thousands: more than an ETH transfer, less than 100,000).
    const oneByOne = /one by one\s+4 × 21,000 \(ETH\) \+ 1 × ([0-9]{2},[0-9]{3}) \((0x[0-9a-fA-F]{40})\) = ([0-9,]+)\n/.exec(r.stdout);
    assert.ok(oneByOne !== null, r.stdout);
    assert.equal(oneByOne[2], chain.tokenAddress);
    assert.equal(Number(oneByOne[3]!.replaceAll(",", "")), 84_000 + Number(oneByOne[1]!.replaceAll(",", "")));
    assert.match(r.stdout, /gas used\s+[1-9][0-9,]*\n/);
    assert.match(r.stdout, /saving\s+(\d+\.\d\d× less gas than one by one|none: \d+\.\d\d×)/);

    const after = await Promise.all([alice!, bob!, mike!].map(async (w) => (await chain.bridge.balanceOf(NATIVE_TOKEN, w.address)) as bigint));
    assert.deepEqual(
      after.map((a, i) => a - before[i]!),
      [-8n * U, 3n * U, 5n * U],
    );
    assert.equal((await chain.bridge.lastEpoch()) as bigint, 1n);
    // The leader watches the chain: the epoch is marked settled with the script's transaction.
    for (const rest of devnet.rests) {
      const view = await pollUntil(`epoch 1 settled on ${rest}`, 30_000, async () => {
        const v = await getJson(`${rest}/v1/epochs/1`);
        return v["status"] === "settled" ? v : undefined;
      });
      assert.equal((view["settlementTxs"] as string[]).length, 1);
    }

    // Run again: the open epoch is empty and epoch 1 is on-chain.
    const again = await runSettle(env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to settle: every sealed epoch is on-chain \(the last is 1\)/);
  });

  it("an epoch that nets to nothing (A pays B, B pays A back) settles as one empty chunk", async () => {
    const [alice, bob] = chain.users.slice(0, 2).map((u) => new Wallet(u.privateKey, chain.provider));
    const before = (await chain.bridge.lastEpoch()) as bigint;
    const a = fastSignTransfer(alice!.privateKey, domain, { to: bob!.address, token: NATIVE_TOKEN, amount: 7n, nonce: await client.nextNonce(alice!.address), deadline: DEADLINE });
    const b = fastSignTransfer(bob!.privateKey, domain, { to: alice!.address, token: NATIVE_TOKEN, amount: 7n, nonce: await client.nextNonce(bob!.address), deadline: DEADLINE });
    assert.ok((await client.submitTransfers([a, b])).every((x) => "status" in x));
    const r = await runSettle(env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /transfers\s+2\n/);
    assert.match(r.stdout, /deltas\s+0\n/);
    assert.match(r.stdout, /chunks\s+1\n/);
    assert.equal((await chain.bridge.lastEpoch()) as bigint, before + 1n, "the empty chunk advanced the bridge and stored the root");
    const view = await client.epoch(before + 1n);
    assert.equal((await chain.bridge.transfersRoot(before + 1n)) as string, view?.root);
  });

  it("two sealed epochs waiting: settled in order, the earlier first", async () => {
    const [alice, bob] = chain.users.slice(0, 2).map((u) => new Wallet(u.privateKey, chain.provider));
    const first = ((await chain.bridge.lastEpoch()) as bigint) + 1n;
    const pay = async (from: Wallet, to: Wallet, amount: bigint): Promise<bigint> => {
      const t = fastSignTransfer(from.privateKey, domain, { to: to.address, token: NATIVE_TOKEN, amount, nonce: await client.nextNonce(from.address), deadline: DEADLINE });
      const r = await client.submitTransfer(t);
      return r.epoch;
    };
    assert.equal(await pay(alice!, bob!, 11n), first);
    assert.equal(await client.seal(TEST_ADMIN_TOKEN), first);
    assert.equal(await pay(bob!, alice!, 4n), first + 1n);
    // The script seals the second itself, then lands both.
    const r = await runSettle(env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const a = r.stdout.indexOf(`epoch ${first} settled`);
    const b = r.stdout.indexOf(`epoch ${first + 1n} settled`);
    assert.ok(a >= 0 && b > a, r.stdout);
    assert.equal((await chain.bridge.lastEpoch()) as bigint, first + 1n);
    const events = await chain.bridge.queryFilter(chain.bridge.filters["Settled"]!());
    const order = events.map((e) => (e as unknown as { args: [bigint] }).args[0]).filter((n) => n >= first);
    assert.deepEqual(order, [first, first + 1n], "one chunk each, the earlier epoch first");
  });

  it("a wrong admin token: one clear line, exit 1, nothing sealed", async () => {
    const epochBefore = (await client.status()).epoch;
    const r = await runSettle({ ...env, DELTA_ADMIN_TOKEN: "not-the-admin-token-0000" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused the admin token/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.equal((await client.status()).epoch, epochBefore);
  });

  it("the devnet down (no node answers): one clear line, exit 1", async () => {
    const r = await runSettle({ ...env, DELTA_NODES: "http://127.0.0.1:9" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no node answers at http:\/\/127\.0\.0\.1:9.*npm start/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });

  it("no devnet file: tells the user to start the devnet, exit 1", async () => {
    const r = await runSettle({ DELTA_RPC_URL: env["DELTA_RPC_URL"]!, DELTA_DEVNET_FILE: join(dir, "missing.json") });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not found: the devnet is not running \(start it with `npm start`\)/);
  });
});
