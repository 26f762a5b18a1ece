// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue 14: one node of `npm start` killed with SIGKILL and started again by hand, with exactly the
 * command line, environment and working directory /proc shows for it, runs, catches up, and still
 * stops by itself once the devnet process dies (SIGKILL, so no handler of the devnet's runs). The
 * hand-started node is the test's child, not the devnet's, and its stdin is /dev/null: what an
 * operator's shell gives it, and what used to stop it at once (src/devnet/exitWithParent.ts).
 * The second follower is restarted through the script the devnet writes for it (README
 * "Restarting one devnet node"), from another directory.
 *
 * Real `npm start`, on free ports and in a directory of its own (DELTA_GANACHE_PORT,
 * DELTA_DEVNET_REST_PORTS, DELTA_DEVNET_DIR): node:test runs test files side by side, and
 * devnet.test.ts holds the devnet's fixed ports and .devnet/; a developer's own devnet is left alone too.
 *
 * The preload alone is checked first, without a devnet: pid reuse (the devnet's pid held by another
 * process) and a watched process that dies while the watcher's stdin is /dev/null.
 *
 * Linux only (reads /proc).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { groupMembers, isRunning, pollUntil, procStat } from "./scriptFixture.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const PRELOAD = new URL("../../../src/devnet/exitWithParent.ts", import.meta.url).href;
/** How long `npm start` may take before the test calls it broken (PROTOCOL.md §5 asks for 60 s; this only bounds a failure). */
const STARTUP_WAIT_MS = 120_000;
/** The brief's bound on catching up. */
const CATCH_UP_MS = 20_000;
/** The preload looks every 250 ms, then the node shuts down gracefully; generous for a loaded machine. */
const STOP_WAIT_MS = 15_000;
const PAY_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Processes.





/** What `ps` knows of a process, read from /proc while it runs: what the operator would copy. */
interface Launch {
  readonly argv: string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

function launchOf(pid: number): Launch {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  const env: NodeJS.ProcessEnv = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { argv, env, cwd: readlinkSync(`/proc/${pid}/cwd`) };
}

interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  /** In a session of its own: its process group holds whatever it started. */
  readonly detached: boolean;
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

/** Every process this file starts, so that `after` can end whatever is left. */
const started: Started[] = [];

function start(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; detached?: boolean }): Started {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`${command} did not start`);
  let output = "";
  let done = false;
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const s = { child, pid: child.pid, detached: options.detached === true, output: () => output, exited, hasExited: () => done };
  started.push(s);
  return s;
}

/** A port nothing listens on now (not src/devnet/ganache.ts's: importing Ganache prints its µWS banner). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** How `s` exited, or undefined if it still runs after `ms` (a failure bound). */
function exitWithin(s: Started, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  return Promise.race([s.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())]);
}

/** This environment without DELTA_* and with this Node first on PATH (as devnet.test.ts runs npm). */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("DELTA_")) env[k] = v;
  env["PATH"] = [dirname(process.execPath), process.env["PATH"] ?? ""].join(delimiter);
  return env;
}

after(async () => {
  for (const s of started) {
    if (s.hasExited()) continue;
    try {
      // npm start runs in its own session: its group holds the devnet and its nodes.
      if (s.detached) process.kill(-s.pid, "SIGKILL");
      else s.child.kill("SIGKILL");
    } catch {
      // gone in between
    }
  }
  await Promise.all(started.map((s) => s.exited));
  for (const s of started.filter((x) => x.detached)) {
    await pollUntil("npm start's processes to end", 10_000, () => (groupMembers(s.pid).length === 0 ? true : undefined));
  }
});

// ---------------------------------------------------------------------------------------------

const linuxOnly = process.platform === "linux" ? false : "reads /proc (Linux only)";

describe("exitWithParent.ts: the devnet's pid, not stdin, decides", { skip: linuxOnly, timeout: 60_000 }, () => {
  /** A process preloaded like a node (it only waits), its stdin /dev/null as from a hand start. */
  const preloaded = (env: NodeJS.ProcessEnv): Started => start(process.execPath, ["--import", PRELOAD, "-e", "setInterval(() => {}, 1_000)"], { cwd: ROOT, env: { ...baseEnv(), ...env } });
  const sleeper = (): Started => start(process.execPath, ["-e", "setInterval(() => {}, 1_000)"], { cwd: ROOT, env: baseEnv() });

  it("a pid now held by another process (another start time) counts as gone: exit 1 at once, saying why", async () => {
    const other = sleeper();
    const p = preloaded({ DELTA_DEVNET_PID: String(other.pid), DELTA_DEVNET_PID_STARTTIME: "1" });
    assert.deepEqual(await p.exited, { code: 1, signal: null });
    assert.match(p.output(), new RegExp(`the devnet process ${other.pid} that this node belongs to is not running`));
    other.child.kill("SIGKILL");
  });

  it("stdin at end-of-file is no reason to stop; the watched process's death is (SIGTERM within the poll)", async () => {
    const devnet = sleeper();
    const startTime = await pollUntil("the sleeper's /proc entry", 5_000, () => procStat(devnet.pid)?.startTime);
    const p = preloaded({ DELTA_DEVNET_PID: String(devnet.pid), DELTA_DEVNET_PID_STARTTIME: startTime });
    await pollUntil("the preload's note on stderr", 10_000, () => (p.output().includes(`stops when process ${devnet.pid}`) ? true : undefined), p.output);
    assert.equal(p.hasExited(), false, p.output());
    devnet.child.kill("SIGKILL");
    const exit = await exitWithin(p, STOP_WAIT_MS);
    assert.deepEqual(exit, { code: null, signal: "SIGTERM" }, p.output());
  });
});

interface DevnetFile {
  adminToken: string;
  nodes: { address: string; rest: string; pid: number }[];
}

interface Status {
  address: string;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
}

async function status(rest: string): Promise<Status | undefined> {
  try {
    const r = await fetch(`${rest}/v1/status`, { signal: AbortSignal.timeout(2_000) });
    return r.ok ? ((await r.json()) as Status) : undefined;
  } catch {
    return undefined;
  }
}

describe("a devnet node restarted by hand (issue 14)", { skip: linuxOnly, timeout: 300_000 }, () => {
  it("runs, catches up, and stops when the devnet process is killed", { timeout: 240_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "delta-devnet-restart-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const [ganachePort, ...restPorts] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const npmEnv = { ...baseEnv(), DELTA_GANACHE_PORT: String(ganachePort), DELTA_DEVNET_REST_PORTS: restPorts.join(","), DELTA_DEVNET_DIR: dir };
    const npm = start("npm", ["start"], { cwd: ROOT, env: npmEnv, detached: true });
    await pollUntil("devnet is up", STARTUP_WAIT_MS, () => {
      if (npm.hasExited()) throw new Error(`npm start exited early:\n${npm.output()}`);
      return npm.output().includes("devnet is up") ? true : undefined;
    });
    assert.match(npm.output(), /sh \S*node<i>\.restart\.sh/, "the banner names the restart scripts");
    const file = JSON.parse(readFileSync(join(dir, "devnet.json"), "utf8")) as DevnetFile;
    const devnetPid = procStat(file.nodes[0]!.pid)!.ppid;
    const leaderAddress = (await status(file.nodes[0]!.rest))?.leader;
    const leader = file.nodes.find((n) => n.address === leaderAddress);
    assert.ok(leader !== undefined, `no leader among ${JSON.stringify(file.nodes)}`);
    const [a, b] = file.nodes.filter((n) => n !== leader);
    assert.ok(a !== undefined && b !== undefined);
    const indexOf = (n: { pid: number }): number => file.nodes.findIndex((x) => x.pid === n.pid) + 1;

    /** A payment through the banner's command (scripts/pay.ts), committed while a node is down. */
    const pay = async (from: number, to: number): Promise<string> => {
      const p = start("npm", ["run", "pay", "--", "--from", String(from), "--to", String(to)], { cwd: ROOT, env: { ...baseEnv(), DELTA_DEVNET_FILE: join(dir, "devnet.json") } });
      const timer = setTimeout(() => p.child.kill("SIGKILL"), PAY_TIMEOUT_MS);
      const exit = await p.exited;
      clearTimeout(timer);
      assert.deepEqual(exit, { code: 0, signal: null }, p.output());
      const answer = JSON.parse(p.output().split("\n").find((line) => line.startsWith("{")) ?? "null") as { hash: string; status: string };
      assert.equal(answer.status, "committed");
      return answer.hash;
    };
    /** Waits until `rest` has applied everything the leader had committed when asked. */
    const catchUp = async (who: string, rest: string, node: Started): Promise<number> => {
      const target = (await status(leader.rest))!.commitIndex;
      await pollUntil(`${who} to apply up to the leader's commit index ${target}`, CATCH_UP_MS, async () => {
        if (node.hasExited()) throw new Error(`${who} exited:\n${node.output()}`);
        const s = await status(rest);
        return s !== undefined && s.appliedIndex >= target ? true : undefined;
      }, node.output);
      return target;
    };

    // Follower A: SIGKILL, then exactly what /proc showed for it, stdin /dev/null, the test's child.
    const launch = launchOf(a.pid);
    assert.equal(launch.env["DELTA_DEVNET_PID"], String(devnetPid), "the node names its devnet");
    const appliedBefore = (await status(a.rest))!.appliedIndex;
    process.kill(a.pid, "SIGKILL");
    await pollUntil(`node ${indexOf(a)} to die`, 10_000, () => (isRunning(a.pid) ? undefined : true));
    await pollUntil("the devnet to report the death with the restart script", 10_000, () =>
      npm.output().includes(`node ${indexOf(a)} (pid ${a.pid}) exited (SIGKILL); to start it again by hand: sh `) ? true : undefined,
    );
    const hashA = await pay(0, 1);
    const seal = await fetch(`${leader.rest}/v1/admin/seal`, { method: "POST", headers: { authorization: `Bearer ${file.adminToken}` } });
    assert.equal(seal.status, 200, await seal.text());
    const handA = start(launch.argv[0]!, launch.argv.slice(1), { cwd: launch.cwd, env: launch.env });
    const targetA = await catchUp(`hand-started node ${indexOf(a)}`, a.rest, handA);
    assert.ok(targetA > appliedBefore, `nothing to catch up: applied ${appliedBefore} before, leader at ${targetA}`);
    assert.equal((await fetch(`${a.rest}/v1/transfers/${hashA}`)).status, 200, "the transfer made while it was down");

    // Follower B: SIGKILL, then its restart script from another directory, with none of the devnet's variables.
    process.kill(b.pid, "SIGKILL");
    await pollUntil(`node ${indexOf(b)} to die`, 10_000, () => (isRunning(b.pid) ? undefined : true));
    const hashB = await pay(2, 3);
    const handB = start("sh", [join(dir, "nodes", `node${indexOf(b)}.restart.sh`)], { cwd: tmpdir(), env: baseEnv() });
    await catchUp(`node ${indexOf(b)} started by its script`, b.rest, handB);
    assert.equal((await fetch(`${b.rest}/v1/transfers/${hashB}`)).status, 200);
    // The script execs: the shell's pid is the node's, with the node's command line.
    assert.deepEqual(launchOf(handB.pid).argv, launchOf(handA.pid).argv.map((arg) => arg.replace(`node${indexOf(a)}.json`, `node${indexOf(b)}.json`)));
    assert.equal(handA.hasExited() || handB.hasExited(), false, "both hand-started nodes still run");

    // The devnet dies without a word; both hand-started nodes stop on their own, through SIGTERM's graceful path.
    process.kill(devnetPid, "SIGKILL");
    for (const [who, node] of [["A", handA], ["B", handB]] as const) {
      const exit = await exitWithin(node, STOP_WAIT_MS);
      assert.deepEqual(exit, { code: 0, signal: null }, `hand-started node ${who} after the devnet died:\n${node.output()}`);
      assert.match(node.output(), /"msg":"stopped"/);
    }
    await pollUntil("npm start's processes to end", STOP_WAIT_MS, () => (groupMembers(npm.pid).length === 0 ? true : undefined));
  });
});
