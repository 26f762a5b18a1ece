// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue 14: scripts/settle.ts, started the way CI systems and supervisors start programs (from
 * Node: `spawn("npx", [...], { detached: true, stdio: ["ignore", "pipe", "pipe"] })`), was seen to
 * print its whole report within 5 s and exit 300 s later. Against a real devnet (Ganache with the
 * bridge, three node processes; the leader does not submit, so the script lands the chunk itself)
 * and after single transfers (one POST each), its process must exit within 10 s of its last
 * output line, and leave no process of its group behind.
 *
 * Also the backstop every script ends with (scripts/scriptExit.ts), on its own: a finished
 * process that a connection still holds exits after the grace period, names what held it and
 * keeps the exit code; a finished process with nothing left exits at once, never waiting for it.
 *
 * Linux only (reads /proc for the process group). The script runs exactly as in the issue, so
 * `hardhat run` checks the build first; under `npm test`, which builds before any test file runs,
 * that finds nothing to compile.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import { DeltaClient, fastSignTransfer } from "../../../src/client/index.ts";
import { NATIVE_TOKEN } from "../../../src/protocol/index.ts";
import { pollUntil, startTestDevnet, writeDevnetFile, type TestDevnet } from "../node/devnetFixture.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The bound: from the report's last line to the process's 'exit'. */
const EXIT_LIMIT_MS = 10_000;
/** A failure bound for the script's work (build check, seal, signatures, one chunk), not a synchronisation point. */
const WORK_LIMIT_MS = 60_000;
/** How many single transfers precede the run. */
const TRANSFERS = 12;
const U = 10n ** 15n;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Date.now() of the last chunk on stdout or stderr, and of the 'exit' event. */
  readonly lastOutputAt: number;
  readonly exitedAt: number;
}

/** Every process of the group, read from /proc (field 5 of /proc/<pid>/stat is the pgid). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name (field 2) is in parentheses and may hold spaces: split after it.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

/** SIGKILL to the whole group; nothing left is fine. */
function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/**
 * Spawns `command` detached (its own session and process group), stdin ignored, stdout and stderr
 * piped, and resolves at its 'exit'. Fails, and kills the group, when `done` has not matched the
 * output within WORK_LIMIT_MS, or when the process outlives its last output line by `exitLimitMs`
 * once `done` has matched.
 */
function runDetached(command: string, args: string[], env: NodeJS.ProcessEnv, done: RegExp, exitLimitMs: number, started: (child: ChildProcess) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    started(child);
    let stdout = "";
    let stderr = "";
    let lastOutputAt = Date.now();
    const fail = (why: string): void => {
      if (child.pid !== undefined) killGroup(child.pid);
      reject(new Error(`${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    };
    let deadline = setTimeout(() => fail(`no ${done} within ${WORK_LIMIT_MS} ms`), WORK_LIMIT_MS);
    const onOutput = (): void => {
      lastOutputAt = Date.now();
      if (!done.test(stdout)) return;
      // From here on the deadline runs from the last line: any later output moves it.
      clearTimeout(deadline);
      deadline = setTimeout(() => fail(`still running ${exitLimitMs} ms after its last output line`), exitLimitMs);
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      onOutput();
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      onOutput();
    });
    child.once("error", (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      const exitedAt = Date.now();
      clearTimeout(deadline);
      resolve({ code, signal, stdout, stderr, lastOutputAt, exitedAt });
    });
  });
}

/** This environment plus `extra`, with this Node first on PATH (the one `npx` and Hardhat then run on). */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, PATH: [dirname(process.execPath), process.env["PATH"] ?? ""].join(delimiter), ...extra };
}

describe("scripts/settle.ts started detached, stdin ignored, output piped (issue 14)", { timeout: 120_000 }, () => {
  let devnet: TestDevnet | undefined;
  let dir: string | undefined;
  /** Process groups started here; each is killed in after() if anything of it is left. */
  const groups: number[] = [];

  before(async () => {
    devnet = await startTestDevnet("settle-exit", { epoch: { intervalMs: 0, maxMessages: 0 }, settlement: { autoSubmit: false } });
    dir = mkdtempSync(join(tmpdir(), "delta-settle-exit-"));
  });
  after(async () => {
    for (const pgid of groups) killGroup(pgid);
    await devnet?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("exits within 10 s of its report, after single transfers, and leaves no process of its group", async (t) => {
    const { chain } = devnet!;
    const client = new DeltaClient({ baseUrls: devnet!.rests });
    const domain = await client.domain();
    const [alice, bob] = chain.users.slice(0, 2).map((u) => new Wallet(u.privateKey, chain.provider));
    await (await connectAs(chain.bridge, alice!).deposit({ value: 100n * U })).wait();
    await pollUntil("alice's credit", 30_000, async () => ((await client.account(alice!.address)).balances[NATIVE_TOKEN] === 100n * U ? true : undefined));
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    for (let nonce = 0n; nonce < BigInt(TRANSFERS); nonce++) {
      // One POST per transfer (no batch), as the load did.
      await client.submitTransfer(fastSignTransfer(alice!.privateKey, domain, { to: bob!.address, token: NATIVE_TOKEN, amount: U, nonce, deadline }));
    }

    const file = join(dir!, "devnet.json");
    writeDevnetFile(file, devnet!);
    const env = childEnv({ DELTA_RPC_URL: chain.ganache.url, DELTA_DEVNET_FILE: file });
    let pgid = 0;
    const run = await runDetached("npx", ["--no-install", "hardhat", "run", "scripts/settle.ts", "--network", "ganache"], env, /\n {2}saving +.+\n/, EXIT_LIMIT_MS, (child) => {
      assert.ok(child.pid !== undefined, "npx did not start (is it on PATH?)");
      pgid = child.pid;
      groups.push(pgid);
    });
    const reportToExit = run.exitedAt - run.lastOutputAt;
    t.diagnostic(`last output line to 'exit': ${reportToExit} ms`);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /epoch 1 settled \(1 of 1 chunks sent by this script/);
    assert.match(run.stdout, new RegExp(`transfers\\s+${TRANSFERS}\\n`));
    assert.ok(reportToExit < EXIT_LIMIT_MS, `exited ${reportToExit} ms after its last output line`);
    assert.equal((await chain.bridge.lastEpoch()) as bigint, 1n);
    // npm waits for its child, so nothing should be left; a grandchild that was would show here.
    await pollUntil("the script's process group to be empty", 5_000, async () => (groupMembers(pgid).length === 0 ? true : undefined));
  });
});

describe("the scripts' exit backstop (scripts/scriptExit.ts)", { timeout: 30_000 }, () => {
  const groups: number[] = [];
  after(() => {
    for (const pgid of groups) killGroup(pgid);
  });
  const helper = join(ROOT, "scripts", "scriptExit.ts");
  const record = (child: ChildProcess): void => {
    if (child.pid !== undefined) groups.push(child.pid);
  };

  it("ends a finished process that a socket still holds after the grace, naming it, with the script's exit code", async () => {
    // A server that never answers and a client connected to it: a ref'd socket, as a request
    // still in flight would hold one.
    const code = [
      `import { createServer, connect } from "node:net";`,
      `import { exitWhenIdle } from ${JSON.stringify(helper)};`,
      `const server = createServer(() => {}).listen(0, "127.0.0.1", () => {`,
      `  const socket = connect(server.address().port, "127.0.0.1", () => {`,
      `    server.unref();`,
      `    process.stdout.write("work done\\n");`,
      `    process.exitCode = 3;`,
      `    exitWhenIdle("probe", 500);`,
      `  });`,
      `});`,
    ].join("\n");
    const run = await runDetached(process.execPath, ["--input-type=module", "-e", code], childEnv({}), /work done\n/, 5_000, record);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /\[probe\] done, but still kept alive after 500 ms by .*TCPSocketWrap.*: exiting/);
  });

  it("never delays a process with nothing left", async () => {
    const code = [`import { exitWhenIdle } from ${JSON.stringify(helper)};`, `process.stdout.write("work done\\n");`, `exitWhenIdle("probe", 60_000);`].join("\n");
    const run = await runDetached(process.execPath, ["--input-type=module", "-e", code], childEnv({}), /work done\n/, 5_000, record);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
  });
});
