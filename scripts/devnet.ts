// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npm start`: brings up the devnet (PROTOCOL.md §5) and keeps it running until SIGINT or SIGTERM:
 * Ganache on 127.0.0.1:8545 with DeltaBridge (the three node keys as validators, threshold 2) and
 * the test token, then three node processes with REST on 127.0.0.1:7001-7003. Writes
 * `.devnet/devnet.json` once everything answers, prints an example, and on stop ends every
 * process it started and removes the file. Node configs, data and logs are under .devnet/.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { startDevnetChain } from "../src/devnet/chain.ts";
import { nodeOptionsFor, startDevnetNodes } from "../src/devnet/nodes.ts";

const DEVNET_DIR = new URL("../.devnet/", import.meta.url);
const DEVNET_FILE = new URL("devnet.json", DEVNET_DIR);
const PORT = Number(process.env["DELTA_GANACHE_PORT"] ?? 8545);

function log(line: string): void {
  process.stdout.write(`[devnet] ${line}\n`);
}

/** Throws a clear error when `port` on 127.0.0.1 is taken (instead of a node failing later). */
async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", () => reject(new Error(`port ${port} on 127.0.0.1 (${what}) is in use: stop the other devnet or process first`)));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

async function main(): Promise<void> {
  if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65_535) {
    throw new Error(`DELTA_GANACHE_PORT must be a TCP port, got ${process.env["DELTA_GANACHE_PORT"]}`);
  }
  for (const p of [7001, 7002, 7003]) await assertPortFree(p, "a node's REST API");
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
  // A fresh cluster each start: the chain is new, so old node data would not match it.
  rmSync(new URL("nodes/", DEVNET_DIR), { recursive: true, force: true });
  let cluster;
  try {
    cluster = await startDevnetNodes({
      dir: new URL("nodes/", DEVNET_DIR).pathname,
      ...nodeOptionsFor(chain),
      adminToken,
      restPorts: [7001, 7002, 7003],
      log,
    });
  } catch (error) {
    await chain.close();
    throw error;
  }
  log("3 nodes elected a leader");
  const devnet = {
    chainId: chain.chainId,
    rpcUrl: chain.ganache.url,
    bridge: chain.bridgeAddress,
    token: chain.tokenAddress,
    feeRecipient: chain.feeRecipient,
    adminToken,
    nodes: cluster.nodes.map((n) => ({ address: n.address, rest: n.rest, pid: n.pid })),
    accounts: chain.users.map((u) => ({ address: u.address, privateKey: u.privateKey })),
  };
  mkdirSync(DEVNET_DIR, { recursive: true });
  const partial = new URL("devnet.json.tmp", DEVNET_DIR);
  writeFileSync(partial, JSON.stringify(devnet, null, 2) + "\n", { mode: 0o600 });
  renameSync(partial, DEVNET_FILE);
  log(`wrote .devnet/devnet.json (${devnet.accounts.length} funded user accounts) in ${Date.now() - started} ms`);
  const user = devnet.accounts[0]!;
  log("devnet is up; Ctrl-C stops it. Try:");
  process.stdout.write(
    `  curl -s http://127.0.0.1:7001/v1/status\n` +
      `  curl -s http://127.0.0.1:7002/v1/accounts/${user.address}\n` +
      `  (deposit on the bridge ${devnet.bridge} from a user account, then sign a Transfer with the\n` +
      `   domain from GET /v1/domain and POST it to /v1/transfers; keys are in .devnet/devnet.json)\n`,
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    rmSync(DEVNET_FILE, { force: true });
    await cluster.stop();
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
