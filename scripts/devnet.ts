// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npm start`: brings up the devnet (PROTOCOL.md §5) and keeps it running until SIGINT or SIGTERM.
 * Today that is Ganache on 127.0.0.1:8545 with DeltaBridge and the test token deployed; the three
 * nodes and their REST APIs join when the cluster lands, and `nodes` in the devnet file is empty
 * until then. Writes `.devnet/devnet.json` once everything answers and removes it on stop.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { startDevnetChain } from "../src/devnet/chain.ts";

const DEVNET_DIR = new URL("../.devnet/", import.meta.url);
const DEVNET_FILE = new URL("devnet.json", DEVNET_DIR);
const PORT = Number(process.env["DELTA_GANACHE_PORT"] ?? 8545);

function log(line: string): void {
  process.stdout.write(`[devnet] ${line}\n`);
}

async function main(): Promise<void> {
  if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65_535) {
    throw new Error(`DELTA_GANACHE_PORT must be a TCP port, got ${process.env["DELTA_GANACHE_PORT"]}`);
  }
  const started = Date.now();
  let chain;
  try {
    chain = await startDevnetChain({ port: PORT, log });
  } catch (error) {
    if ((error as { code?: unknown }).code === "EADDRINUSE" || String(error).includes("EADDRINUSE")) {
      throw new Error(`port ${PORT} on 127.0.0.1 is in use: stop the other chain or devnet first`);
    }
    throw error;
  }
  // The admin token guards the nodes' admin endpoints; it is written to the devnet file only.
  const adminToken = randomBytes(32).toString("hex");
  const devnet = {
    chainId: chain.chainId,
    rpcUrl: chain.ganache.url,
    bridge: chain.bridgeAddress,
    token: chain.tokenAddress,
    feeRecipient: chain.feeRecipient,
    adminToken,
    nodes: [] as { address: string; rest: string; pid: number }[],
    accounts: chain.users.map((u) => ({ address: u.address, privateKey: u.privateKey })),
  };
  mkdirSync(DEVNET_DIR, { recursive: true });
  const partial = new URL("devnet.json.tmp", DEVNET_DIR);
  writeFileSync(partial, JSON.stringify(devnet, null, 2) + "\n", { mode: 0o600 });
  renameSync(partial, DEVNET_FILE);
  log(`wrote .devnet/devnet.json (${devnet.accounts.length} funded user accounts) in ${Date.now() - started} ms`);
  log("devnet is up; Ctrl-C stops it");

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    rmSync(DEVNET_FILE, { force: true });
    await chain.close();
    log("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error: unknown) => {
  process.stderr.write(`[devnet] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
