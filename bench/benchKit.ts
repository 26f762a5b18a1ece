// SPDX-License-Identifier: AGPL-3.0-or-later
/** What the cluster benchmarks share (bench/e2e.ts, bench/abuse.ts): fast signing, the load generator process, /metrics. */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import secp256k1 from "secp256k1";
import { hashTransfer, type BridgeDomain, type SignedTransfer } from "../src/protocol/index.ts";

const run = promisify(execFile);

/** Signs with native libsecp256k1 (low-s, v 27/28): pre-signing 100,000+ transfers takes seconds. */
export function signFast(domain: BridgeDomain, key: Uint8Array, t: Omit<SignedTransfer, "signature">): SignedTransfer {
  const digest = Buffer.from(hashTransfer(domain, t).slice(2), "hex");
  const { signature, recid } = secp256k1.ecdsaSign(digest, key);
  return { ...t, signature: `0x${Buffer.from(signature).toString("hex")}${(27 + recid).toString(16)}` };
}

/** Runs bench/loadgen.ts on `plan` (written to `dir`/`name`.json) in its own process; its one JSON result line. */
export async function loadgen(plan: unknown, dir: string, name: string): Promise<Record<string, unknown>> {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(plan));
  const { stdout } = await run(process.execPath, [new URL("./loadgen.ts", import.meta.url).pathname, path], { maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>; // loadgen prints one JSON line
}

/** A node's /metrics as name{labels} -> value (histogram _sum and _count lines included). */
export async function scrape(rest: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${rest}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
