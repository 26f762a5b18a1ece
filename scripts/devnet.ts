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
 *
 * For tests that must run beside another devnet: DELTA_DEVNET_DIR moves .devnet/ elsewhere and
 * DELTA_DEVNET_REST_PORTS (three, comma-separated) moves the REST ports, with DELTA_GANACHE_PORT
 * for the chain. Other REST ports require another directory: the fixed ports are what keeps two
 * devnets from sharing one directory (a start removes the nodes' data there).
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startDevnetChain, type DevnetChain } from "../src/devnet/chain.ts";
import { nodeOptionsFor, startDevnetNodes, type DevnetNodes } from "../src/devnet/nodes.ts";

const DEFAULT_DIR = new URL("../.devnet/", import.meta.url);
const CUSTOM_DIR = process.env["DELTA_DEVNET_DIR"] || undefined;
const DEVNET_DIR = CUSTOM_DIR === undefined ? DEFAULT_DIR : pathToFileURL(resolve(CUSTOM_DIR) + "/");
const DEVNET_FILE = new URL("devnet.json", DEVNET_DIR);
const PORT = Number(process.env["DELTA_GANACHE_PORT"] ?? 8545);
const REST_PORTS_RAW = process.env["DELTA_DEVNET_REST_PORTS"] || undefined;
const REST_PORTS = (REST_PORTS_RAW ?? "7001,7002,7003").split(",").map(Number);
/** The ready-to-paste payment the banner offers (scripts/pay.ts through npm, so Node 22 is found). */
const PAY_COMMAND = CUSTOM_DIR === undefined ? "npm run pay" : `DELTA_DEVNET_FILE=${fileURLToPath(DEVNET_FILE)} npm run pay`;

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

/** `path` (a directory, with its trailing slash) relative to the current directory when under it, else as is. */
function relativeIfInside(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : `${rel}/`;
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
  if (REST_PORTS.length !== 3 || REST_PORTS.some((p) => !Number.isInteger(p) || p <= 0 || p > 65_535)) {
    throw new Error(`DELTA_DEVNET_REST_PORTS must be three TCP ports separated by commas, got ${REST_PORTS_RAW}`);
  }
  if (REST_PORTS_RAW !== undefined && CUSTOM_DIR === undefined) {
    throw new Error("DELTA_DEVNET_REST_PORTS needs DELTA_DEVNET_DIR: a devnet on other ports must not share .devnet/ with one on the usual ports");
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
    dir: fileURLToPath(new URL("nodes/", DEVNET_DIR)),
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
  log(`wrote ${CUSTOM_DIR === undefined ? ".devnet/devnet.json" : fileURLToPath(DEVNET_FILE)} (${devnet.accounts.length} funded user accounts) in ${Date.now() - started} ms`);
  log("devnet is up; Ctrl-C stops it. From another shell in this directory, try:");
  printExamples(devnet);
  // nodes.ts writes one script per node; the banner names the pattern, README "Restarting one devnet node" the rest.
  const scripts = relativeIfInside(fileURLToPath(new URL("nodes/", DEVNET_DIR)));
  log(`a node that dies can be started again by hand; it catches up, and stops with this devnet: sh ${scripts}node<i>.restart.sh`);
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
