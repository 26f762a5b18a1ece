// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Shared by the node integration tests: a devnet (Ganache with the bridge and 3 node processes)
 * in a temp dir, and small JSON-over-HTTP helpers that talk to the public API only.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevnetChain, type DevnetChain } from "../../../src/devnet/chain.ts";
import { nodeOptionsFor, startDevnetNodes, type DevnetNodes, type DevnetNodesOptions } from "../../../src/devnet/nodes.ts";

export type Json = Record<string, unknown>;

export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789";

export interface TestDevnet {
  readonly chain: DevnetChain;
  readonly cluster: DevnetNodes;
  readonly rests: string[];
  /** Stops every node process and Ganache, deletes the temp dir. */
  stop(): Promise<void>;
}

/** Options of startTestDevnet: the node options tests vary, and where the nodes reach the chain. */
export type TestDevnetOptions = Pick<DevnetNodesOptions, "epoch" | "settlement" | "hosts" | "block" | "mempool" | "finality"> & {
  /** The RPC URL the nodes use, given the chain (e.g. a proxy in front of it); default Ganache's own. */
  readonly rpcUrl?: (chain: DevnetChain) => Promise<string>;
};

/** Ganache, the bridge and 3 node processes with free ports, in a fresh temp dir named after `name`. */
export async function startTestDevnet(name: string, options: TestDevnetOptions = {}): Promise<TestDevnet> {
  const dir = mkdtempSync(join(tmpdir(), `delta-${name}-`));
  const chain = await startDevnetChain();
  let cluster: DevnetNodes;
  try {
    const { rpcUrl, ...nodeOptions } = options;
    cluster = await startDevnetNodes({
      dir,
      ...nodeOptionsFor(chain),
      ...(rpcUrl === undefined ? {} : { rpcUrl: await rpcUrl(chain) }),
      adminToken: TEST_ADMIN_TOKEN,
      ...nodeOptions,
    });
  } catch (error) {
    await chain.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    chain,
    cluster,
    rests: cluster.nodes.map((n) => n.rest),
    stop: async () => {
      try {
        await cluster.stop();
      } finally {
        await chain.close();
        // DELTA_KEEP_TEST_DIR=1 keeps the configs, data and node logs for a post-mortem.
        if (process.env["DELTA_KEEP_TEST_DIR"] === undefined) rmSync(dir, { recursive: true, force: true });
        else process.stderr.write(`kept ${dir}\n`);
      }
    },
  };
}

export async function getJson(url: string): Promise<Json> {
  return (await (await fetch(url)).json()) as Json; // the API answers JSON objects
}

/** POSTs JSON; status 0 when the node is down (connection refused or reset) or too slow. */
export async function post(url: string, body: unknown): Promise<{ status: number; body: Json }> {
  try {
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(45_000) });
    return { status: r.status, body: (await r.json()) as Json }; // JSON object answers
  } catch (error) {
    return { status: 0, body: { error: error instanceof Error ? error.message : String(error) } };
  }
}

/** Polls `check` every 50 ms (a failing check counts as "not yet") until it returns a value. */
export async function pollUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Writes a devnet file (PROTOCOL.md §5) for `devnet` at `path`, as `npm start` does, for the scripts that read one. */
export function writeDevnetFile(path: string, devnet: TestDevnet): void {
  const { chain } = devnet;
  writeFileSync(
    path,
    JSON.stringify({
      chainId: chain.chainId,
      rpcUrl: chain.ganache.url,
      bridge: chain.bridgeAddress,
      token: chain.tokenAddress,
      feeRecipient: chain.feeRecipient,
      adminToken: TEST_ADMIN_TOKEN,
      nodes: devnet.cluster.nodes.map((n) => ({ address: n.address, rest: n.rest, pid: n.pid })),
      accounts: chain.users.map((u) => ({ address: u.address, privateKey: u.privateKey })),
    }),
  );
}

/** A metric's value on the node at `rest` (0 when absent), matching `name` and, if given, a label text such as `reason="gap"`. */
export async function metricValue(rest: string, name: string, label?: string): Promise<number> {
  const text = await (await fetch(`${rest}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || (line[name.length] !== " " && line[name.length] !== "{")) continue;
    if (label !== undefined && !line.includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Parsed pino JSON lines of a node's log file. */
export function logLines(path: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>); // pino writes one JSON object a line
    } catch {
      // a line being written as we read
    }
  }
  return out;
}
