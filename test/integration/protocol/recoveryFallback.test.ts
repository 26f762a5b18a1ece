// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The start-up recovery check in a real child process, once with the native binary and once with
 * the binary made unloadable (node-gyp-build finds no prebuild for a bogus `npm_config_arch`, so
 * the `secp256k1` package falls back to JavaScript exactly as it would on an unsupported platform).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const FIXTURE = new URL("./recoveryFallback.fixture.ts", import.meta.url).pathname;

async function startupLog(env: Record<string, string>): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [FIXTURE], { env: { ...process.env, ...env }, timeout: 60_000 });
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, `expected one log line, got: ${stdout}`);
  return JSON.parse(lines[0] ?? "") as Record<string, unknown>; // the fixture prints one JSON object
}

describe("start-up signature recovery check", () => {
  it("reports the native binding at info level", async () => {
    const log = await startupLog({});
    assert.equal(log["level"], "info");
    assert.equal(log["native"], true);
    assert.ok(Number(log["slowdown"]) > 3, `native should be several times faster than JS: ${JSON.stringify(log)}`);
  });

  it("warns with the measured slowdown when the native binary does not load", async () => {
    const log = await startupLog({ npm_config_arch: "no-such-arch" });
    assert.equal(log["level"], "warn");
    assert.equal(log["native"], false);
    assert.equal(typeof log["slowdown"], "number");
    assert.equal(typeof log["recoverPerSec"], "number");
    assert.match(String(log["message"]), /pure-JavaScript fallback/);
  });
});
