// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npm start` exactly as a newcomer runs it (PROTOCOL.md §5), through npm and its shell: the
 * signal path through npm is what once left the devnet running (npm forwarded SIGTERM to `sh`,
 * which died and left the devnet and its nodes orphaned). Each case starts `npm start` in its own
 * session, so that its process group holds everything it starts, signals one process only, and
 * checks that every process of the group is gone and the devnet's ports are free again:
 * - up within 60 s with the §5 file; the banner's payment example commits; SIGTERM to npm stops all;
 * - SIGINT to npm while the nodes are starting stops what was started;
 * - SIGKILL of the devnet process (no handler runs): the nodes stop on their own.
 *
 * The devnet's ports (8545, 7001-7003) and the repository's .devnet/ are fixed by design, so this
 * file skips, saying why, when any of those ports is taken. That is most likely a developer's own
 * devnet, which the test must neither fail on nor disturb: failing would make `npm test` demand
 * that it be stopped. CI has nothing there, so the file runs there. With the ports free no devnet
 * is using .devnet/, and the test's devnet replaces its contents as any `npm start` would.
 *
 * Linux only (reads /proc). `npm start` runs `hardhat build` first; under `npm test`, which builds
 * before any test file runs, that build finds nothing to compile and rewrites no artifact.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "node:test";
import { Contract, getAddress, JsonRpcProvider, parseEther, Wallet, type InterfaceAbi } from "ethers";
import { asDeltaBridge, asErc20, bridgeAbi, loadArtifact } from "../../../src/chain/index.ts";
import { groupMembers, isRunning, pollUntil, procStat } from "./scriptFixture.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DEVNET_FILE = join(ROOT, ".devnet", "devnet.json");
const NODE_LOG = (i: number): string => join(ROOT, ".devnet", "nodes", `node${i}.log`);
const GANACHE_PORT = 8545;
const REST_PORTS = [7001, 7002, 7003];
/** PROTOCOL.md §5: everything up within 60 s. */
const STARTUP_LIMIT_MS = 60_000;
/** How long to wait for the devnet before calling it broken; longer than the limit, to tell slow from broken. */
const STARTUP_WAIT_MS = 120_000;
/** A stop ends every node within 10 s (SIGKILL after that, src/devnet/nodes.ts), then Ganache. */
const STOP_WAIT_MS = 30_000;
/** Bounds the payment example; a failure bound, not a synchronisation point. */
const PAY_TIMEOUT_MS = 60_000;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

// ---------------------------------------------------------------------------------------------
// Ports and processes.

/** True when nothing listens on `port` of 127.0.0.1 (this process can bind it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function takenPorts(): Promise<number[]> {
  const ports = [GANACHE_PORT, ...REST_PORTS];
  const free = await Promise.all(ports.map(portFree));
  return ports.filter((_, i) => !free[i]);
}


/** "pid: command line" per process, for failure messages. */
function describeProcesses(pids: readonly number[]): string {
  const commandOf = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
    } catch {
      return "(gone)";
    }
  };
  return pids.map((pid) => `${pid}: ${commandOf(pid)}`).join("\n");
}


// ---------------------------------------------------------------------------------------------
// `npm start`.

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface NpmStart {
  readonly child: ChildProcess;
  /** npm's pid, which is also the process group id of everything it starts (detached: setsid). */
  readonly pid: number;
  readonly startedAt: number;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output match of `pattern`; rejects if npm exits first or after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<Exit>;
  exit(): Exit | undefined;
}

/** This environment without DELTA_* (a developer's DELTA_GANACHE_PORT must not move the devnet), this Node first on PATH. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("DELTA_")) env[k] = v;
  env["PATH"] = [dirname(process.execPath), process.env["PATH"] ?? ""].join(delimiter);
  return env;
}

function startNpm(): NpmStart {
  const startedAt = Date.now();
  const child = spawn("npm", ["start"], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: childEnv() });
  if (child.pid === undefined) throw new Error("npm did not start (is npm on PATH?)");
  let output = "";
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (output += d));
  const waitForOutput = (pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.off("exit", onExit);
      };
      const onData = (): void => {
        const match = output.match(pattern);
        if (match !== null) {
          done();
          resolve(match);
        }
      };
      const onExit = (): void => {
        done();
        reject(new Error(`npm start exited before printing ${pattern}:\n${output}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`npm start did not print ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      child.stdout?.on("data", onData);
      child.once("exit", onExit);
      onData();
    });
  return { child, pid: child.pid, startedAt, output: () => output, waitForOutput, exited, exit: () => exit };
}

/** The devnet file written by this run (its mtime is after the start), or undefined. */
function freshDevnetFile(run: NpmStart): string | undefined {
  try {
    return statSync(DEVNET_FILE).mtimeMs >= run.startedAt - 1_000 ? readFileSync(DEVNET_FILE, "utf8") : undefined;
  } catch {
    return undefined; // not there (yet)
  }
}

/** The devnet process: the nodes' parent. */
function devnetPidOf(nodePid: number): number {
  const stat = procStat(nodePid);
  assert.ok(stat !== undefined, `node process ${nodePid} is not running`);
  return stat.ppid;
}

/** Waits until every process in `pids` and in npm's process group is gone and the devnet's ports are free. */
async function assertAllStopped(run: NpmStart, pids: readonly number[]): Promise<void> {
  await pollUntil(
    "every process npm start started to end",
    STOP_WAIT_MS,
    () => (pids.every((pid) => !isRunning(pid)) && groupMembers(run.pid).length === 0 ? true : undefined),
    () => `still running:\n${describeProcesses([...new Set([...pids.filter(isRunning), ...groupMembers(run.pid)])])}\noutput:\n${run.output()}`,
  );
  await pollUntil("ports 8545 and 7001-7003 to be free", 10_000, async () => ((await takenPorts()).length === 0 ? true : undefined));
}

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md §5's devnet file.

interface DevnetFile {
  chainId: number;
  rpcUrl: string;
  bridge: string;
  token: string;
  feeRecipient: string;
  adminToken: string;
  nodes: { address: string; rest: string; pid: number }[];
  accounts: { address: string; privateKey: string }[];
}

/** The file's shape, field by field as §5 writes it. */
function assertDevnetFileShape(file: DevnetFile): void {
  assert.equal(file.chainId, 1337);
  assert.equal(file.rpcUrl, "http://127.0.0.1:8545");
  for (const field of ["bridge", "token", "feeRecipient"] as const) assert.match(file[field], ADDRESS, field);
  assert.equal(typeof file.adminToken, "string");
  assert.ok(file.adminToken.length > 0, "adminToken is empty");
  assert.deepEqual(
    file.nodes.map((n) => n.rest),
    REST_PORTS.map((p) => `http://127.0.0.1:${p}`),
  );
  for (const node of file.nodes) {
    assert.match(node.address, ADDRESS);
    assert.ok(Number.isSafeInteger(node.pid) && node.pid > 0, `node pid ${node.pid}`);
  }
  assert.equal(new Set(file.nodes.map((n) => n.pid)).size, 3, "each node is its own process");
  assert.ok(file.accounts.length >= 10, `${file.accounts.length} accounts, §5 asks for 10 or more`);
  const validators = new Set(file.nodes.map((n) => getAddress(n.address)));
  for (const account of file.accounts) {
    assert.equal(new Wallet(account.privateKey).address, getAddress(account.address), "an account's key is its address's");
    assert.ok(!validators.has(getAddress(account.address)), `account ${account.address} is a validator`);
  }
}

/** §5 on chain: the bridge with the nodes as validators, threshold 2; every account funded with ETH and the token. */
async function assertChain(file: DevnetFile): Promise<void> {
  const provider = new JsonRpcProvider(file.rpcUrl, file.chainId, { staticNetwork: true });
  try {
    assert.equal(await provider.send("eth_chainId", []), "0x539");
    const bridge = asDeltaBridge(new Contract(file.bridge, bridgeAbi(), provider));
    assert.deepEqual([...((await bridge.validators()) as string[])].sort(), file.nodes.map((n) => getAddress(n.address)).sort());
    assert.equal(await bridge.threshold(), 2n);
    const token = asErc20(new Contract(file.token, loadArtifact("TestToken").abi as InterfaceAbi, provider));
    for (const account of file.accounts) {
      assert.ok((await provider.getBalance(account.address)) > 0n, `${account.address} has no ETH`);
      assert.ok(((await token.balanceOf(account.address)) as bigint) > 0n, `${account.address} has no test token`);
    }
  } finally {
    provider.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The payment example.

/** Runs `command` as pasted into a shell in the repository; its exit code and output. */
function runInShell(command: string): Promise<{ code: number | null; output: string }> {
  const child = spawn("sh", ["-c", command], { cwd: ROOT, env: childEnv(), stdio: ["ignore", "pipe", "pipe"], timeout: PAY_TIMEOUT_MS });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

// ---------------------------------------------------------------------------------------------

const busy = process.platform === "linux" ? await takenPorts() : [];
const skip =
  process.platform !== "linux"
    ? "reads /proc to find every process npm start started (Linux only)"
    : busy.length > 0
      ? `port(s) ${busy.join(", ")} on 127.0.0.1 in use (your own devnet?): this test runs the real npm start on the devnet's fixed ports and leaves a running devnet alone`
      : false;

describe("npm start: the devnet of PROTOCOL.md §5, stopped through npm", { skip, timeout: 600_000 }, () => {
  let run: NpmStart | undefined;

  // Whatever happened, nothing of this run survives: SIGKILL to its whole process group.
  afterEach(async () => {
    if (run === undefined) return;
    const current = run;
    run = undefined;
    // npm leads the group; processes orphaned by an exited npm keep its group id, so this reaches them too.
    if (groupMembers(current.pid).length > 0) {
      try {
        process.kill(-current.pid, "SIGKILL");
      } catch {
        // the group emptied in between
      }
    }
    await current.exited;
    await pollUntil("the killed devnet's processes to end", STOP_WAIT_MS, () => (groupMembers(current.pid).length === 0 ? true : undefined));
    // A devnet killed outright leaves its file; it names dead nodes, so it goes (the next devnet would remove it too).
    if (freshDevnetFile(current) !== undefined) rmSync(DEVNET_FILE, { force: true });
  });

  it("comes up within 60 s with the §5 file, the printed payment commits, and SIGTERM to npm alone stops everything", { timeout: 300_000 }, async () => {
    run = startNpm();
    const current = run;
    const text = await pollUntil(".devnet/devnet.json", STARTUP_WAIT_MS, () => {
      if (current.exit() !== undefined) throw new Error(`npm start exited ${JSON.stringify(current.exit())} before writing the file:\n${current.output()}`);
      return freshDevnetFile(current);
    });
    const upAfterMs = Date.now() - current.startedAt;
    assert.ok(upAfterMs < STARTUP_LIMIT_MS, `the devnet took ${upAfterMs} ms to come up; PROTOCOL.md §5 says within 60 s`);
    const file = JSON.parse(text) as DevnetFile;
    assertDevnetFileShape(file);
    await assertChain(file);

    // npm's child is the devnet itself (no shell in between to swallow the signal), the nodes are its children.
    const devnet = devnetPidOf(file.nodes[0]!.pid);
    assert.equal(procStat(devnet)?.ppid, current.pid, `the devnet's parent is not npm:\n${describeProcesses(groupMembers(current.pid))}`);
    for (const node of file.nodes) assert.equal(procStat(node.pid)?.ppid, devnet, `node ${node.pid} is not the devnet's child`);

    // The ready-to-paste payment, exactly as the banner prints it.
    const [, command] = await current.waitForOutput(/^ {2}(npm run pay\b[^\n]*)$/m, 10_000);
    assert.ok(command !== undefined);
    const paid = await runInShell(command);
    assert.equal(paid.code, 0, `\`${command}\` failed:\n${paid.output}`);
    const answerLine = paid.output.split("\n").find((line) => line.startsWith("{"));
    assert.ok(answerLine !== undefined, `no answer printed:\n${paid.output}`);
    const answer = JSON.parse(answerLine) as { hash: string; status: string };
    assert.equal(answer.status, "committed");
    // Another node than the one answering may be asked: a committed transfer is applied everywhere soon after.
    const transfer = await pollUntil("the transfer on node 3", 10_000, async () => {
      const r = await fetch(`${file.nodes[2]!.rest}/v1/transfers/${answer.hash}`);
      return r.ok ? ((await r.json()) as Record<string, unknown>) : undefined;
    });
    assert.ok(transfer["status"] === "committed" || transfer["status"] === "settled", JSON.stringify(transfer));
    assert.equal(transfer["from"], getAddress(file.accounts[0]!.address));
    assert.equal(transfer["to"], getAddress(file.accounts[1]!.address));
    assert.equal(transfer["amount"], parseEther("0.001").toString());

    process.kill(current.pid, "SIGTERM");
    await assertAllStopped(current, [current.pid, devnet, ...file.nodes.map((n) => n.pid)]);
    assert.deepEqual(await current.exited, { code: 0, signal: null }, current.output());
    assert.match(current.output(), /\[devnet\] SIGTERM: stopping\n[\s\S]*\[devnet\] stopped\n/);
    assert.equal(existsSync(DEVNET_FILE), false, "the devnet file outlived the devnet");
  });

  it("SIGINT to npm alone while the nodes start stops what was started", { timeout: 300_000 }, async () => {
    run = startNpm();
    const current = run;
    const [, firstNode] = await current.waitForOutput(/node 1 started \(pid (\d+)\)/, STARTUP_WAIT_MS);
    const devnet = devnetPidOf(Number(firstNode));
    process.kill(current.pid, "SIGINT");
    // The group check covers the nodes, whichever had been spawned when the signal came.
    await assertAllStopped(current, [current.pid, devnet]);
    const nodePids = [...current.output().matchAll(/node \d started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    assert.ok(nodePids.length >= 1 && !nodePids.some(isRunning), `node processes ${nodePids.join(", ")}`);
    assert.deepEqual(await current.exited, { code: 0, signal: null }, current.output());
    assert.doesNotMatch(current.output(), /devnet is up/, "the devnet finished starting before the signal: the case tests nothing");
    assert.match(current.output(), /\[devnet\] SIGINT: stopping\n[\s\S]*\[devnet\] stopped\n/);
    assert.equal(freshDevnetFile(current), undefined, "a devnet stopped while starting wrote its file");
  });

  it("SIGKILL of the devnet process: its nodes notice and stop on their own", { timeout: 300_000 }, async () => {
    run = startNpm();
    const current = run;
    await current.waitForOutput(/devnet is up/, STARTUP_WAIT_MS);
    const file = JSON.parse(freshDevnetFile(current) ?? "null") as DevnetFile;
    const devnet = devnetPidOf(file.nodes[0]!.pid);
    process.kill(devnet, "SIGKILL");
    await assertAllStopped(current, [current.pid, devnet, ...file.nodes.map((n) => n.pid)]);
    // Stopped through their graceful path (src/node.ts on SIGTERM), not killed by anyone.
    for (const i of [1, 2, 3]) assert.match(readFileSync(NODE_LOG(i), "utf8"), /"msg":"stopped"/, `node ${i}'s log`);
  });
});
