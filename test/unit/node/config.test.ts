// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DeltaError } from "../../../src/errors.ts";
import { loadConfig, parseConfig } from "../../../src/node/config.ts";
import { goodConfig, member } from "./configFixture.ts";

const good = goodConfig("/tmp/x");

describe("node config", () => {
  const dir = mkdtempSync(join(tmpdir(), "delta-config-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts a good config with safe defaults (loopback, deposits credited at the finalized block, 5 ms / 2,000-message blocks)", () => {
    const c = parseConfig(good);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.chain.finality, "finalized");
    assert.equal(c.chain.confirmations, 1);
    assert.deepEqual(c.block, { intervalMs: 5, maxMessages: 2_000 });
    assert.ok(Object.isFrozen(c));
  });

  it("takes chain.finality as \"finalized\" or { confirmations: N >= 1 }, nothing else", () => {
    assert.deepEqual(parseConfig({ ...good, chain: { ...good.chain, finality: { confirmations: 64 } } }).chain.finality, { confirmations: 64 });
    assert.equal(parseConfig({ ...good, chain: { ...good.chain, finality: "finalized" } }).chain.finality, "finalized");
    for (const finality of ["latest", "safe", { confirmations: 0 }, { confirmations: 1.5 }, { blocks: 3 }, 12]) {
      assert.throws(() => parseConfig({ ...good, chain: { ...good.chain, finality } }), (e: unknown) => e instanceof DeltaError && /chain\.finality/.test(e.message), JSON.stringify(finality));
    }
  });

  it("lists every bad field at once, without echoing secrets", () => {
    const bad = { ...good, restPort: -1, adminToken: "short", members: [member(1)], chain: { ...good.chain, bridge: "0x12" }, extra: true };
    let error: unknown;
    try {
      parseConfig(bad);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof DeltaError && error.code === "INVALID_CONFIG");
    for (const field of ["restPort", "adminToken", "members", "chain.bridge", "extra"]) assert.match(error.message, new RegExp(field.replace(".", "\\.")), field);
    assert.doesNotMatch(error.message, /short/);
  });

  it("reads a file and applies DELTA_* overrides", () => {
    const path = join(dir, "node.json");
    writeFileSync(path, JSON.stringify(good));
    const c = loadConfig(path, { DELTA_REST_PORT: "7444", DELTA_HOST: "0.0.0.0" });
    assert.equal(c.restPort, 7444);
    assert.equal(c.host, "0.0.0.0");
    assert.throws(() => loadConfig(join(dir, "missing.json"), {}), /cannot read config/);
  });
});
