// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npm start`: brings up the devnet (PROTOCOL.md §5) and keeps it running until SIGINT or SIGTERM:
 * Ganache on 127.0.0.1:8545 with DeltaBridge (the three node keys as validators, threshold 2) and
 * the test token, then three node processes with REST on 127.0.0.1:7001-7003. Writes
 * `.devnet/devnet.json` once everything answers, prints ready-to-paste examples, and on stop ends
 * every process it started and removes the file. Node configs, data and logs are under .devnet/.
 *
 * Stopping: the npm script `exec`s this file, so it is npm's own child and receives the SIGINT and
 * SIGTERM that npm forwards (through a shell in between, the shell died and this process lived on).
 * The handlers are installed before anything starts: a signal during start-up lets the step under
 * way finish or give up, then stops whatever was started. Were this process killed outright
 * (SIGKILL), the nodes notice on their own and stop (src/devnet/exitWithParent.ts); Ganache runs
 * inside this process and goes with it.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { startDevnetChain, type DevnetChain } from "../src/devnet/chain.ts";
import { nodeOptionsFor, startDevnetNodes, type DevnetNodes } from "../src/devnet/nodes.ts";

const DEVNET_DIR = new URL("../.devnet/", import.meta.url);
const DEVNET_FILE = new URL("devnet.json", DEVNET_DIR);
const PORT = Number(process.env["DELTA_GANACHE_PORT"] ?? 8545);
const REST_PORTS = [7001, 7002, 7003];
/** The ready-to-paste payment the banner offers (scripts/pay.ts through npm, so Node 22 is found). */
const PAY_COMMAND = "npm run pay";

/** What start-up has started so far, each with its closer; stopped last-first. */
const closers: (() => Promise<void>)[] = [];
/** Aborted by the first SIGINT or SIGTERM, so that the start-up step under way gives up. */
const stopRequested = new AbortController();
let stopping = false;

function log(line: string): void {
  process.stdout.write(`[devnet] ${line}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Throws a clear error when `port` on 127.0.0.1 is taken (instead of a node failing later). */
async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", () => reject(new Error(`port ${port} on 127.0.0.1 (${what}) is in use: stop the other devnet or process first`)));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

/** Ganache with the bridge and the token on PORT; a taken port is named rather than thrown raw. */
async function startChain(): Promise<DevnetChain> {
  try {
    return await startDevnetChain({ port: PORT, log });
  } catch (error) {
    if ((error as { code?: unknown }).code === "EADDRINUSE" || String(error).includes("EADDRINUSE")) {
      throw new Error(`port ${PORT} on 127.0.0.1 is in use: stop the other chain or devnet first`);
    }
    throw error;
  }
}

/** PROTOCOL.md §5's `.devnet/devnet.json`. */
interface DevnetFile {
  readonly chainId: number;
  readonly rpcUrl: string;
  readonly bridge: string;
  readonly token: string;
  readonly feeRecipient: string;
  /** Guards the nodes' admin endpoints; written to this file only. */
  readonly adminToken: string;
  readonly nodes: readonly { readonly address: string; readonly rest: string; readonly pid: number }[];
  readonly accounts: readonly { readonly address: string; readonly privateKey: string }[];
}

function devnetFileOf(chain: DevnetChain, cluster: DevnetNodes, adminToken: string): DevnetFile {
  return {
    chainId: chain.chainId,
    rpcUrl: chain.ganache.url,
    bridge: chain.bridgeAddress,
    token: chain.tokenAddress,
    feeRecipient: chain.feeRecipient,
    adminToken,
    nodes: cluster.nodes.map((n) => ({ address: n.address, rest: n.rest, pid: n.pid })),
    accounts: chain.users.map((u) => ({ address: u.address, privateKey: u.privateKey })),
  };
}

/** Written to a temporary name and renamed, so a reader never sees half a file. */
function writeDevnetFile(devnet: DevnetFile): void {
  mkdirSync(DEVNET_DIR, { recursive: true });
  const partial = new URL("devnet.json.tmp", DEVNET_DIR);
  writeFileSync(partial, JSON.stringify(devnet, null, 2) + "\n", { mode: 0o600 });
  renameSync(partial, DEVNET_FILE);
}

/** Commands a newcomer can paste into another shell, the payment among them. */
function printExamples(devnet: DevnetFile): void {
  const payee = devnet.accounts[1]?.address ?? "<address>";
  process.stdout.write(
    `  curl -s ${devnet.nodes[0]?.rest}/v1/status\n` +
      `  ${PAY_COMMAND}\n` +
      `  curl -s ${devnet.nodes[1]?.rest}/v1/accounts/${payee}\n`,
  );
  log(
    `\`${PAY_COMMAND}\` (scripts/pay.ts) deposits ETH on the bridge for accounts[0] of .devnet/devnet.json if its ` +
      `off-chain balance is short, signs a 0.001 ETH transfer to accounts[1] and POSTs it; \`${PAY_COMMAND} -- --help\` for options`,
  );
}

/** Everything `npm start` brings up, in order; each part joins `closers` as soon as it runs. */
async function bringUp(signal: AbortSignal): Promise<void> {
  if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65_535) {
    throw new Error(`DELTA_GANACHE_PORT must be a TCP port, got ${process.env["DELTA_GANACHE_PORT"]}`);
  }
  for (const p of REST_PORTS) await assertPortFree(p, "a node's REST API");
  const started = Date.now();
  signal.throwIfAborted();
  const chain = await startChain();
  closers.push(() => chain.close());
  signal.throwIfAborted();
  const adminToken = randomBytes(32).toString("hex");
  // The ports are ours now, so no other devnet is using .devnet/. A file left by one killed outright
  // (SIGKILL) names dead nodes; it goes at once, so the file exists only while a devnet is up. A fresh
  // cluster each start: the chain is new, so old node data would not match it.
  rmSync(DEVNET_FILE, { force: true });
  rmSync(new URL("nodes/", DEVNET_DIR), { recursive: true, force: true });
  const cluster = await startDevnetNodes({
    dir: new URL("nodes/", DEVNET_DIR).pathname,
    ...nodeOptionsFor(chain),
    adminToken,
    restPorts: REST_PORTS,
    log,
    signal,
  });
  closers.push(() => cluster.stop());
  log("3 nodes elected a leader");
  const devnet = devnetFileOf(chain, cluster, adminToken);
  writeDevnetFile(devnet);
  // Last in, so first out: the file goes before the processes it names.
  closers.push(async () => rmSync(DEVNET_FILE, { force: true }));
  log(`wrote .devnet/devnet.json (${devnet.accounts.length} funded user accounts) in ${Date.now() - started} ms`);
  log("devnet is up; Ctrl-C stops it. From another shell in this directory, try:");
  printExamples(devnet);
}

/** Runs every closer, last-first; one that fails is reported and the rest still run. */
async function closeAll(): Promise<void> {
  for (const close of closers.splice(0).reverse()) {
    try {
      await close();
    } catch (error) {
      log(`while stopping: ${messageOf(error)}`);
    }
  }
}

/**
 * Stops the devnet once, whatever asked first (a signal, or a failed start-up): the start-up step
 * under way finishes or gives up, then everything started stops, then the process exits.
 */
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  stopRequested.abort();
  void startup
    .catch(() => {}) // a start-up cut short by the abort; what it started is in `closers`
    .then(closeAll)
    .then(() => {
      if (code === 0) log("stopped");
      process.exit(code);
    });
}

/** SIGINT or SIGTERM. A terminal's Ctrl-C arrives twice (from the terminal and forwarded by npm); the second is moot. */
function onSignal(signal: NodeJS.Signals): void {
  if (!stopping) log(`${signal}: stopping`);
  stop(0);
}

// Before anything starts: without a handler, a signal during start-up would kill this process and orphan the nodes.
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const startup = bringUp(stopRequested.signal);
startup.catch((error: unknown) => {
  if (stopping) return; // a signal got there first and owns the exit
  process.stderr.write(`[devnet] failed: ${messageOf(error)}\n`);
  stop(1);
});
