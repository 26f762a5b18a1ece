// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * STYLE.md's import rules, enforced: which folder of src/ may import what, siblings only through
 * their index.ts, and no I/O, clock or randomness in the pure folders. Walks every import form:
 * `import … from "x"`, `export … from "x"`, side-effect `import "x"` and dynamic `import("x")`.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { describe, it } from "node:test";

const SRC = new URL("../../src/", import.meta.url);

/** Every .ts file under src/, as paths relative to src/. */
function sourceFiles(dir = "", out: string[] = []): string[] {
  for (const name of readdirSync(new URL(dir, SRC))) {
    const rel = dir + name;
    if (statSync(new URL(rel, SRC)).isDirectory()) sourceFiles(`${rel}/`, out);
    else if (name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** Import specifiers of a file's text, comments removed first. */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const found: string[] = [];
  for (const re of [
    /^\s*(?:import|export)\b[^;=]*?\bfrom\s*["']([^"']+)["']/gms,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  ]) {
    for (const m of code.matchAll(re)) found.push(m[1] ?? "");
  }
  return found;
}

/** The folder of src/ a file belongs to ("" for top-level files such as errors.ts). */
function folderOf(file: string): string {
  const slash = file.indexOf("/");
  return slash < 0 ? "" : file.slice(0, slash);
}

interface Rule {
  /** Other folders of ours it may import (through their index.ts). */
  readonly folders: readonly string[];
  /** Packages and node: built-ins it may import. */
  readonly packages: readonly string[];
  /** Pure: no clock, randomness, environment, timers or logging. */
  readonly pure: boolean;
}

const RULES: Record<string, Rule> = {
  protocol: {
    folders: [],
    packages: ["zod", "secp256k1", "secp256k1/elliptic", "@noble/hashes/sha3.js", "@noble/hashes/utils.js", "node:module", "node:perf_hooks", "node:worker_threads", "node:url", "node:os"],
    pure: false, // the recovery self check reads the clock; the pool starts worker threads
  },
  ledger: { folders: ["protocol"], packages: ["zod", "@noble/hashes/sha3.js", "@noble/hashes/utils.js"], pure: true },
  storage: { folders: ["protocol"], packages: ["@noble/hashes/sha2.js", "@noble/hashes/utils.js", "node:sqlite", "node:fs", "node:path", "node:fs/promises", "node:crypto"], pure: false },
  consensus: { folders: ["protocol", "storage"], packages: ["*"], pure: false },
  chain: { folders: ["protocol", "ledger"], packages: ["*"], pure: false },
  devnet: { folders: ["protocol", "chain", "consensus"], packages: ["*"], pure: false },
  node: { folders: ["protocol", "ledger", "consensus", "api", "storage", "chain"], packages: ["*"], pure: false },
  api: { folders: ["protocol"], packages: ["*"], pure: false },
  client: { folders: ["protocol"], packages: ["*"], pure: false },
};

/** Pure files of impure folders (checked like ledger/). */
const PURE_FILES = new Set([
  "storage/logStore.ts",
  "protocol/eip712.ts",
  "protocol/schemas.ts",
  "protocol/decimal.ts",
  "protocol/address.ts",
  // The node runtime's pure parts (docs/node.md, "The node's parts"): time and the leader come in as arguments.
  "node/router.ts",
  "node/appliedWaiters.ts",
  "node/pendingMessages.ts",
  "node/views.ts",
  "node/forwarding.ts",
  "node/entryCodec.ts",
]);

const BANNED_IN_PURE = ["Date.now", "new Date", "Math.random", "performance.", "crypto.", "fetch(", "process.", "setTimeout", "setInterval", "setImmediate", "console.", "require("];

describe("architecture (STYLE.md: folders and what may import what)", () => {
  const files = sourceFiles();
  it("finds the source tree", () => assert.ok(files.length > 20, `only ${files.length} files`));

  it("knows the node runtime's parts, and each pure part exists", () => {
    for (const file of PURE_FILES) assert.ok(files.includes(file), `${file} is listed as pure but does not exist`);
    for (const part of ["node/router.ts", "node/blockProducer.ts", "node/applier.ts", "node/views.ts", "node/nodeRuntime.ts"]) {
      assert.ok(files.includes(part), `${part} missing`);
    }
  });

  it("recognises every import form", () => {
    const text = 'import a from "a";\nimport "b";\nconst c = await import("c");\nexport { d } from "d";\n// import "e";\n';
    assert.deepEqual(importsOf(text).sort(), ["a", "b", "c", "d"]);
  });

  for (const file of files) {
    const folder = folderOf(file);
    const rule = RULES[folder];
    if (rule === undefined) continue; // top-level files and folders without a rule yet (composition roots)
    it(`${file} imports only what ${folder}/ may`, () => {
      const text = readFileSync(new URL(file, SRC), "utf8");
      assert.ok(text.startsWith("// SPDX-License-Identifier: AGPL-3.0-or-later\n"), "SPDX header first");
      for (const spec of importsOf(text)) {
        if (spec.startsWith("./")) {
          assert.ok(!spec.slice(2).includes("/"), `${spec}: a sibling module, not a nested path`);
        } else if (spec === "../errors.ts") {
          // errors.ts is importable from anywhere
        } else if (spec.startsWith("../")) {
          const m = /^\.\.\/([a-z]+)\/index\.ts$/.exec(spec);
          assert.ok(m !== null, `${spec}: another folder only through its index.ts`);
          assert.ok(rule.folders.includes(m[1] ?? ""), `${folder}/ may not import ${m[1]}/`);
        } else {
          assert.ok(rule.packages.includes("*") || rule.packages.includes(spec), `${folder}/ may not import ${spec}`);
        }
      }
      if (rule.pure || PURE_FILES.has(file)) {
        const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
        for (const banned of BANNED_IN_PURE) assert.ok(!code.includes(banned), `pure ${file} uses ${banned}`);
        for (const spec of importsOf(text)) assert.ok(!spec.startsWith("node:"), `pure ${file} imports ${spec}`);
      }
    });
  }
});
