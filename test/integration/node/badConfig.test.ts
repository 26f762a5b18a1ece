// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue #6, Node: "a bad config lists every bad field and exits non-zero". The real entry point
 * (`node src/node.ts --config <file>`) as its own process: a config file with four bad fields
 * (top level, nested and inside the member list) exits non-zero naming each of them, without
 * echoing a secret and without touching its data directory; a bad DELTA_* override is named too.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseConfig } from "../../../src/node/config.ts";
import { goodConfig, member } from "../../unit/node/configFixture.ts";

const NODE_ENTRY = new URL("../../../src/node.ts", import.meta.url).pathname;
/** Generous for a process that only reads and validates a file (node start-up with type stripping takes about 1 s here). */
const EXIT_DEADLINE_MS = 30_000;


interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

/** Runs the node entry point on `configPath` and waits for it to exit (killed and failed past the deadline). */
async function runNode(configPath: string, env: Record<string, string> = {}): Promise<Run> {
  // No DELTA_* variable of the test's own environment leaks in: only `env` overrides.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DELTA_")));
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", NODE_ENTRY, "--config", configPath], {
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (output += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (output += s));
  const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_DEADLINE_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("close", (c, s) => resolve([c, s])));
  clearTimeout(timer);
  assert.equal(signal, null, `the node did not exit by itself within ${EXIT_DEADLINE_MS} ms; output: ${output}`);
  return { code, signal, output };
}

describe("a node started with a bad config (real process)", { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "delta-badconfig-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, "data");
  const good = goodConfig(dataDir);

  it("lists every bad field and exits non-zero, echoing no secret and creating nothing", async () => {
    // The base passes the schema, so the fields below are the only bad ones.
    assert.doesNotThrow(() => parseConfig(good));
    const secret = "hunter2-secret"; // 14 characters: too short for an admin token
    const bad = {
      ...good,
      restPort: 70_000,
      adminToken: secret,
      chain: { ...good.chain, rpcUrl: "not a url" },
      members: [member(1), { ...member(2), address: "0x1234" }, member(3)],
    };
    const path = join(dir, "bad.json");
    writeFileSync(path, JSON.stringify(bad, null, 2));
    const run = await runNode(path);
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /INVALID_CONFIG|invalid config/i, run.output);
    for (const field of ["restPort", "adminToken", "chain.rpcUrl", "members.1.address"]) {
      assert.ok(run.output.includes(field), `${field} is not named in: ${run.output}`);
    }
    // Exactly those four: one "<field>: <problem>" line each (config.ts formats them so).
    const problems = run.output.split("\n").filter((l) => /^\s+[\w.]+: /.test(l));
    assert.equal(problems.length, 4, run.output);
    assert.ok(!run.output.includes(secret), "the admin token was echoed");
    assert.ok(!existsSync(dataDir), "a node with a bad config created its data directory");
  });

  it("names a bad DELTA_* override of a good file, and exits non-zero", async () => {
    const path = join(dir, "good.json");
    writeFileSync(path, JSON.stringify(good, null, 2));
    const run = await runNode(path, { DELTA_REST_PORT: "not-a-port" });
    assert.notEqual(run.code, 0, run.output);
    assert.ok(run.output.includes("restPort"), run.output);
    assert.ok(!existsSync(dataDir), "a node with a bad config created its data directory");
  });

  it("a config file that is not JSON exits non-zero and says which file", async () => {
    const path = join(dir, "broken.json");
    writeFileSync(path, "{ restPort: 7001");
    const run = await runNode(path);
    assert.notEqual(run.code, 0, run.output);
    assert.ok(run.output.includes(path), run.output);
  });
});
