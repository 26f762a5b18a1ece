// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";

const dir = new URL("../../../src/ledger/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));

/** Module specifiers src/ledger/ may import (STYLE.md: ledger may import protocol, errors.ts, libraries). */
function isAllowedImport(specifier: string): boolean {
  if (specifier.startsWith("./")) return !specifier.includes("/", 2);
  return ["../protocol/index.ts", "../errors.ts", "zod", "@noble/hashes/sha3.js"].includes(specifier);
}

describe("src/ledger/ is pure", () => {
  it("has files to check", () => assert.ok(files.length >= 9));

  for (const file of files) {
    const text = readFileSync(new URL(file, dir), "utf8");
    it(`${file}: AGPL header, allowed imports only, no clock, randomness, environment, timers or logging`, () => {
      assert.ok(text.startsWith("// SPDX-License-Identifier: AGPL-3.0-or-later\n"));
      for (const match of text.matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)) {
        const specifier = match[1] ?? "";
        assert.ok(isAllowedImport(specifier), `${file} imports ${specifier}`);
      }
      for (const banned of ["Date.now", "new Date", "Math.random", "process.", "setTimeout", "setInterval", "setImmediate", "console.", "require("]) {
        assert.ok(!text.includes(banned), `${file} uses ${banned}`);
      }
      assert.ok(!/\bany\b(?=[;,)\]> ])/.test(text.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, "")), `${file} uses any`);
      assert.ok(!/^export default/m.test(text), `${file} has a default export`);
    });
  }
});
