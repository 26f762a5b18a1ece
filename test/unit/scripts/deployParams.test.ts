// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * scripts/deployParams.ts: the deploy script's environment, checked before anything is sent. Each
 * refusal the DeltaBridge constructor would make (empty set, zero or duplicate validator, threshold
 * not a majority or above the set) is refused here with a one-line message naming the variable.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getAddress } from "ethers";
import { DeltaError } from "../../../src/errors.ts";
import {
  DEFAULT_ESCAPE_DELAY_SEC,
  parseDeployEnv,
  planToken,
  smallestMajority,
  type DeployParams,
} from "../../../scripts/deployParams.ts";

const A = "0x" + "a1".repeat(20);
const B = "0x" + "b2".repeat(20);
const C = "0x" + "c3".repeat(20);
const D = "0x" + "d4".repeat(20);
const ZERO = "0x" + "00".repeat(20);

/** Asserts `fn` throws INVALID_CONFIG whose one-line message matches `pattern`. */
function refuses(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DeltaError, `not a DeltaError: ${String(e)}`);
    assert.equal(e.code, "INVALID_CONFIG");
    assert.ok(!e.message.includes("\n"), `message spans lines: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe("deploy parameters (scripts/deployParams.ts)", () => {
  it("reads every variable and checksums the addresses", () => {
    const p = parseDeployEnv({
      DELTA_VALIDATORS: ` ${A}, ${B.toUpperCase().replace("0X", "0x")} ,${getAddress(C)}`,
      DELTA_THRESHOLD: "3",
      DELTA_ESCAPE_DELAY: "3600",
      DELTA_DEPLOY_TOKEN: "1",
      DELTA_MINT_TO: D,
      DELTA_DEPLOY_OUT: "out/deploy.json",
    });
    assert.deepEqual(p, {
      validators: [getAddress(A), getAddress(B), getAddress(C)],
      threshold: 3n,
      escapeDelaySec: 3600n,
      token: "force",
      mintTo: [getAddress(D)],
      outPath: "out/deploy.json",
    });
  });

  it("defaults: the smallest majority, 7 days, the token by chain id, no mint, no file", () => {
    const p = parseDeployEnv({ DELTA_VALIDATORS: [A, B, C, D].join(","), DELTA_THRESHOLD: "", DELTA_MINT_TO: " " });
    assert.equal(p.threshold, 3n);
    assert.equal(p.escapeDelaySec, DEFAULT_ESCAPE_DELAY_SEC);
    assert.equal(DEFAULT_ESCAPE_DELAY_SEC, 604_800n);
    assert.equal(p.token, "auto");
    assert.deepEqual(p.mintTo, []);
    assert.equal(p.outPath, undefined);
    assert.deepEqual([1, 2, 3, 4, 5, 7].map(smallestMajority), [1n, 2n, 2n, 3n, 3n, 4n]);
  });

  it("refuses a missing, malformed, zero or duplicate validator, naming the entry", () => {
    refuses(() => parseDeployEnv({}), /^DELTA_VALIDATORS is required/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: "  " }), /^DELTA_VALIDATORS is required/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: `${A},,${B}` }), /entry 2 of 3 is empty/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: `${A},0x1234` }), /entry 2 of 2 "0x1234" is not an address/);
    // ICAP and other forms ethers would accept are not addresses here.
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: "XE65GB6LDNXYOFTX0NSV3FUWKOWIXAMJK36" }), /entry 1 of 1 .* is not an address/);
    const badChecksum = getAddress(C).replace(/[a-f]/, (c) => c.toUpperCase());
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: `${A},${B},${badChecksum}` }), /entry 3 of 3 ".*" has a wrong checksum/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: `${A},${ZERO}` }), /entry 2 of 2 is the zero address/);
    refuses(
      () => parseDeployEnv({ DELTA_VALIDATORS: `${A},${B},${A.toUpperCase().replace("0X", "0x")}` }),
      new RegExp(`entry 3 of 3 ${getAddress(A)} duplicates entry 1$`),
    );
  });

  it("refuses a threshold that is not a majority or exceeds the set", () => {
    const three = [A, B, C].join(",");
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: three, DELTA_THRESHOLD: "1" }), /^DELTA_THRESHOLD 1 is not more than half of the 3 validators \(allowed: 2 to 3\)$/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: three, DELTA_THRESHOLD: "0" }), /^DELTA_THRESHOLD 0 is not more than half/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: [A, B].join(","), DELTA_THRESHOLD: "1" }), /1 is not more than half of the 2 validators \(allowed: 2 to 2\)/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: three, DELTA_THRESHOLD: "4" }), /^DELTA_THRESHOLD 4 exceeds the 3 validators/);
    for (const bad of ["-1", "2.0", "two", "0x2"]) {
      refuses(() => parseDeployEnv({ DELTA_VALIDATORS: three, DELTA_THRESHOLD: bad }), /^DELTA_THRESHOLD must be a whole number/);
    }
    for (const t of ["2", "3"]) assert.equal(parseDeployEnv({ DELTA_VALIDATORS: three, DELTA_THRESHOLD: t }).threshold, BigInt(t));
  });

  it("refuses an escape delay that is not a positive whole number of seconds", () => {
    for (const bad of ["0", "-5", "1.5", "7d", "1e6"]) {
      refuses(() => parseDeployEnv({ DELTA_VALIDATORS: A, DELTA_ESCAPE_DELAY: bad }), /^DELTA_ESCAPE_DELAY must be a positive whole number of seconds/);
    }
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: A, DELTA_ESCAPE_DELAY: "9007199254740992" }), /^DELTA_ESCAPE_DELAY 9007199254740992 is too large/);
    assert.equal(parseDeployEnv({ DELTA_VALIDATORS: A, DELTA_ESCAPE_DELAY: "1" }).escapeDelaySec, 1n);
  });

  it("refuses DELTA_DEPLOY_TOKEN other than 1 or 0, and bad DELTA_MINT_TO entries", () => {
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: A, DELTA_DEPLOY_TOKEN: "yes" }), /^DELTA_DEPLOY_TOKEN must be 1 .* or 0/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: A, DELTA_MINT_TO: `${B},${ZERO}` }), /^DELTA_MINT_TO entry 2 of 2 is the zero address/);
    refuses(() => parseDeployEnv({ DELTA_VALIDATORS: A, DELTA_MINT_TO: `${B},${B}` }), /^DELTA_MINT_TO entry 2 of 2 .* duplicates entry 1/);
  });

  it("deploys the token on devnets by default, on demand elsewhere, and mints only on devnets", () => {
    const p = (token: DeployParams["token"], mintTo: string[] = []): DeployParams => ({ ...parseDeployEnv({ DELTA_VALIDATORS: A }), token, mintTo });
    assert.equal(planToken(p("auto"), 1337n), true);
    assert.equal(planToken(p("auto"), 31337n), true);
    assert.equal(planToken(p("auto"), 1n), false);
    assert.equal(planToken(p("auto"), 11155111n), false);
    assert.equal(planToken(p("force"), 1n), true);
    assert.equal(planToken(p("skip"), 1337n), false);
    assert.equal(planToken(p("auto", [B]), 1337n), true);
    refuses(() => planToken(p("force", [B]), 11155111n), /^DELTA_MINT_TO is for devnets only .*this chain is 11155111$/);
    refuses(() => planToken(p("skip", [B]), 1337n), /^DELTA_MINT_TO is set but DELTA_DEPLOY_TOKEN=0/);
  });
});
