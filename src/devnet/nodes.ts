// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The devnet's three nodes, each its own process (`node src/node.ts --config …`), configured for a
 * running devnet chain: keys, member list, ports, data directories and logs under `dir`. Used by
 * `npm start` and the integration tests; `stop()` ends every process it started, and each node
 * also stops by itself once the process that started it is gone (exitWithParent.ts).
 *
 * Each node gets `node<i>.restart.sh` next to its config: its exact command line, working directory
 * and DELTA_* environment (the devnet's pid among them), so an operator can start a node that died
 * again by hand (`sh node<i>.restart.sh`, README "Restarting one devnet node"). The devnet does not
 * restart nodes itself: a node that keeps dying should be looked at, not hidden. It says, though,
 * when one dies, and names the script.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import { exportIdentitySeedHex, generateIdentity, mokkaPublicKeyOf } from "../consensus/index.ts";
import type { DevnetChain } from "./chain.ts";
import { freePort } from "./ganache.ts";

const NODE_ENTRY = new URL("../node.ts", import.meta.url).pathname;
/** Preloaded into every node: it stops once this process (DELTA_DEVNET_PID) is gone. */
const EXIT_WITH_PARENT = new URL("./exitWithParent.ts", import.meta.url).href;

/**
 * What the nodes' preload watches: this process's pid and, on Linux, its start time (field 22 of
 * /proc/self/stat, ticks after boot), which tells this process from a later one with the same pid.
 */
function devnetIdentityEnv(): Record<string, string> {
  const env: Record<string, string> = { DELTA_DEVNET_PID: String(process.pid) };
  try {
    const text = readFileSync("/proc/self/stat", "utf8");
    const startTime = text.slice(text.lastIndexOf(")") + 2).split(" ")[19];
    if (startTime !== undefined && /^\d+$/.test(startTime)) env["DELTA_DEVNET_PID_STARTTIME"] = startTime;
  } catch {
    // no /proc: the preload falls back to kill(pid, 0)
  }
  return env;
}

/** `value` as one word for sh, whatever it holds. */
function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * A script that starts a node exactly as it was spawned: same directory, binary, arguments and
 * DELTA_* variables (config overrides and the devnet's identity). The rest of the environment is
 * the operator's own: the node reads no other variable, and the devnet's whole environment may hold
 * things that have no place in a file. `exec`, so the node keeps the shell's pid.
 */
function restartScript(i: number, cwd: string, argv: readonly string[], env: NodeJS.ProcessEnv, logPath: string): string {
  const exports = Object.entries(env)
    .filter((e): e is [string, string] => e[0].startsWith("DELTA_") && /^[A-Z0-9_]+$/.test(e[0]) && e[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `export ${k}=${shQuote(v)}\n`)
    .join("");
  return (
    `#!/bin/sh\n` +
    `# Starts devnet node ${i + 1} again by hand, after it died, as the devnet started it (src/devnet/nodes.ts).\n` +
    `# It catches up from its data directory and the other nodes, and stops by itself when the devnet\n` +
    `# process (DELTA_DEVNET_PID) ends. Its output goes to this shell; to keep it in the node's log instead:\n` +
    `#   sh <this file> >> ${logPath} 2>&1 &\n` +
    `cd ${shQuote(cwd)} || exit 1\n` +
    exports +
    `exec ${argv.map(shQuote).join(" ")}\n`
  );
}

/** A fee policy in wei per token address (node config `fees`, written as decimal strings). */
export type DevnetFees = Readonly<Record<string, { readonly minFee: bigint; readonly newAccountFee: bigint }>>;

/** The devnet's policy (PROTOCOL.md §2): ETH and the test token, both at fee 0. */
export function devnetFees(tokenAddress: string): DevnetFees {
  return { "0x0000000000000000000000000000000000000000": { minFee: 0n, newAccountFee: 0n }, [tokenAddress]: { minFee: 0n, newAccountFee: 0n } };
}

export interface DevnetNodesOptions {
  /** Where configs, data and logs go (created). */
  readonly dir: string;
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly bridge: string;
  readonly feeRecipient: string;
  /** Validator private keys, one per node (their addresses are the bridge's validators). */
  readonly validatorKeys: readonly string[];
  readonly adminToken: string;
  /** REST ports (default: free ones). */
  readonly restPorts?: readonly number[];
  readonly host?: string;
  /** One listen address per node (REST and transport), overriding `host`: e.g. 127.0.0.2-4 to run as if on separate hosts. */
  readonly hosts?: readonly string[];
  readonly log?: (line: string) => void;
  /**
   * Aborting it while the nodes start (e.g. on SIGINT) stops the ones already spawned and rejects
   * with the signal's reason, so a caller that gives up mid-start leaves no process behind.
   */
  readonly signal?: AbortSignal;
  /** When deposits are credited (node config `chain.finality`; default: 1 confirmation, as Ganache never reorganises by itself). */
  readonly finality?: "finalized" | { readonly confirmations: number };
  /** Blocks (node config `block`; default: every 5 ms, at most 2,000 messages). */
  readonly block?: { readonly intervalMs?: number; readonly maxMessages?: number };
  /** The leader's mempool limits (node config `mempool`; default: the config's). */
  readonly mempool?: { readonly maxMessages?: number; readonly maxBytes?: number; readonly maxNonceAhead?: number };
  /**
   * The fee policy (node config `fees`, the same on every node); undefined or null: none, every
   * token transferable at any fee. nodeOptionsFor(chain) sets the devnet's (devnetFees).
   */
  readonly fees?: DevnetFees | null;
  /** Epoch sealing (node config `epoch`; default: every 30 s or 10,000 messages). */
  readonly epoch?: { readonly intervalMs?: number; readonly maxMessages?: number };
  /** Settlement (node config `settlement`; default: the leader submits, chunks of up to 1,000 items). */
  readonly settlement?: {
    readonly maxItemsPerChunk?: number;
    readonly autoSubmit?: boolean;
    readonly pollMs?: number;
    readonly replaceAfterMs?: number;
    readonly maxGasPriceGwei?: number;
    readonly chunkDelayMs?: number;
  };
}

/** The chain half of DevnetNodesOptions for nodes that settle on `chain`, its validators as the node keys. */
export function nodeOptionsFor(chain: DevnetChain): Pick<DevnetNodesOptions, "rpcUrl" | "chainId" | "bridge" | "feeRecipient" | "validatorKeys" | "fees"> {
  return {
    fees: devnetFees(chain.tokenAddress),
    rpcUrl: chain.ganache.url,
    chainId: chain.chainId,
    bridge: chain.bridgeAddress,
    feeRecipient: chain.feeRecipient,
    validatorKeys: chain.validators.map((v) => v.privateKey),
  };
}

export interface DevnetNode {
  readonly address: string;
  readonly rest: string;
  readonly pid: number;
  readonly process: ChildProcess;
  readonly configPath: string;
  readonly logPath: string;
  /** `sh <this>` starts the node again by hand, as it was started (see the file's comment). */
  readonly restartScriptPath: string;
}

export interface DevnetNodes {
  readonly nodes: readonly DevnetNode[];
  /** Starts node `i` again from its disk (after it was killed). */
  restart(i: number): Promise<DevnetNode>;
  /** SIGTERM to every node still running (SIGKILL after 10 s), and waits for them to exit. */
  stop(): Promise<void>;
}

async function answersStatus(rest: string): Promise<Record<string, unknown> | undefined> {
  try {
    const r = await fetch(`${rest}/v1/status`, { signal: AbortSignal.timeout(1_000) });
    return r.ok ? ((await r.json()) as Record<string, unknown>) : undefined; // the status body
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of a log file, or why it cannot be read. */
function logTail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch (error) {
    return `(unreadable: ${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Waits until every node answers /v1/status and all name the same leader; `signal` gives up early. */
export async function waitForClusterReady(rests: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const statuses = await Promise.all(rests.map(answersStatus));
    const leader = statuses[0]?.["leader"];
    if (statuses.every((s) => s !== undefined && s["leader"] !== null && s["leader"] === leader)) return;
    if (Date.now() > deadline) throw new Error(`the devnet nodes did not elect a leader within ${timeoutMs} ms: ${JSON.stringify(statuses)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts the nodes and waits until they agree on a leader. A node that exits while starting (in
 * CI once or twice per suite run a node exited with code 1; the likeliest cause is a port that
 * `freePort` found free and another process took before the node bound it) makes one more try
 * with fresh ports and empty data directories, unless the ports were given.
 */
export async function startDevnetNodes(options: DevnetNodesOptions): Promise<DevnetNodes> {
  try {
    return await startDevnetNodesOnce(options);
  } catch (error) {
    const died = error instanceof Error && error.message.includes("before the cluster was ready");
    if (!died || options.restPorts !== undefined || options.signal?.aborted === true) throw error;
    (options.log ?? (() => {}))(`a node died while starting; trying once more with fresh ports:\n${error.message}`);
    process.stderr.write(`startDevnetNodes: ${error.message}\n; trying once more with fresh ports\n`);
    for (let i = 0; i < options.validatorKeys.length; i++) rmSync(join(options.dir, `node${i + 1}`), { recursive: true, force: true });
    return startDevnetNodesOnce(options);
  }
}

async function startDevnetNodesOnce(options: DevnetNodesOptions): Promise<DevnetNodes> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const n = options.validatorKeys.length;
  mkdirSync(options.dir, { recursive: true });
  const identities = Array.from({ length: n }, () => generateIdentity());
  const mokkaKeys = identities.map(() => randomBytes(32).toString("hex"));
  const hostOf = (i: number): string => options.hosts?.[i] ?? host;
  const restPorts = options.restPorts ?? (await Promise.all(identities.map((_, i) => freePort(hostOf(i)))));
  const transportPorts = await Promise.all(identities.map((_, i) => freePort(hostOf(i))));
  // Nothing spawned yet: giving up here leaves nothing to stop.
  options.signal?.throwIfAborted();
  const members = identities.map((identity, i) => ({
    id: identity.id,
    host: hostOf(i),
    port: transportPorts[i]!,
    mokkaPublicKey: mokkaPublicKeyOf(mokkaKeys[i]!),
    rest: `http://${hostOf(i)}:${restPorts[i]}`,
    address: new Wallet(options.validatorKeys[i]!).address,
  }));
  const configPaths = identities.map((identity, i) => {
    const path = join(options.dir, `node${i + 1}.json`);
    const config = {
      host: hostOf(i),
      restPort: restPorts[i],
      dataDir: join(options.dir, `node${i + 1}`),
      clusterId: `delta-devnet-${options.bridge.toLowerCase()}`,
      identitySeed: exportIdentitySeedHex(identity),
      mokkaPrivateKey: mokkaKeys[i],
      validatorPrivateKey: options.validatorKeys[i],
      members,
      adminToken: options.adminToken,
      feeRecipient: options.feeRecipient,
      // Ganache never reorganises by itself, and its `finalized` tag is just its latest block: 1 confirmation.
      chain: { rpcUrl: options.rpcUrl, chainId: options.chainId, bridge: options.bridge, confirmations: 1, finality: options.finality ?? { confirmations: 1 }, pollMs: 200, fromBlock: 0 },
      block: { intervalMs: 5, maxMessages: 2_000, ...options.block },
      ...(options.mempool === undefined ? {} : { mempool: options.mempool }),
      ...(options.fees === undefined || options.fees === null
        ? {}
        : { fees: Object.fromEntries(Object.entries(options.fees).map(([t, f]) => [t, { minFee: f.minFee.toString(), newAccountFee: f.newAccountFee.toString() }])) }),
      epoch: { intervalMs: 30_000, maxMessages: 10_000, ...options.epoch },
      settlement: { pollMs: 250, ...options.settlement },
    };
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(path, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
    return path;
  });

  const nodes: DevnetNode[] = [];
  const childEnv = { ...process.env, ...devnetIdentityEnv() };
  /** Set once the cluster is up, until stop(): from then on a node's exit is news to report. */
  let watchingExits = false;
  const spawnNode = (i: number): DevnetNode => {
    const logPath = join(options.dir, `node${i + 1}.log`);
    const fd = openSync(logPath, "a");
    // DELTA_CPU_PROF=<dir> profiles every node process (node --cpu-prof), for bench investigations.
    const prof = process.env["DELTA_CPU_PROF"];
    const flags = prof === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${prof}`];
    const args = ["--disable-warning=ExperimentalWarning", ...flags, "--import", EXIT_WITH_PARENT, NODE_ENTRY, "--config", configPaths[i]!];
    const restartScriptPath = join(options.dir, `node${i + 1}.restart.sh`);
    // Owner only: the DELTA_* variables may hold the admin token.
    writeFileSync(restartScriptPath, restartScript(i, process.cwd(), [process.execPath, ...args], childEnv, logPath), { mode: 0o700 });
    // stdin: a pipe never written to, the preload's fast path; env: the devnet's pid (exitWithParent.ts).
    const child = spawn(process.execPath, args, { stdio: ["pipe", fd, fd], env: childEnv });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`node ${i + 1} did not start`);
    const node = { address: members[i]!.address, rest: members[i]!.rest, pid: child.pid, process: child, configPath: configPaths[i]!, logPath, restartScriptPath };
    log(`node ${i + 1} started (pid ${child.pid}), REST ${node.rest}, log ${logPath}`);
    child.once("exit", (code, signal) => {
      if (watchingExits && nodes[i]?.process === child) {
        log(`node ${i + 1} (pid ${child.pid}) exited (${signal ?? `code ${code}`}); to start it again by hand: sh ${restartScriptPath}`);
      }
    });
    return node;
  };
  for (let i = 0; i < n; i++) nodes.push(spawnNode(i));

  const exited = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((resolve) => c.once("exit", () => resolve()));
  const stopAll = async (): Promise<void> => {
    watchingExits = false;
    await Promise.all(
      nodes.map(async (node) => {
        if (node.process.exitCode !== null || node.process.signalCode !== null) return;
        node.process.kill("SIGTERM");
        const timer = setTimeout(() => node.process.kill("SIGKILL"), 10_000);
        await exited(node.process);
        clearTimeout(timer);
      }),
    );
  };
  // A node that dies while starting (a bad config, a port taken) ends the wait at once, naming its log.
  const nodeDied = new AbortController();
  const onExits = nodes.map((node, i) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      nodeDied.abort(new Error(`node ${i + 1} exited (${signal ?? `code ${code}`}) before the cluster was ready; see ${node.logPath}`));
    node.process.once("exit", onExit);
    return onExit;
  });
  try {
    const giveUp = options.signal === undefined ? nodeDied.signal : AbortSignal.any([options.signal, nodeDied.signal]);
    await waitForClusterReady(nodes.map((x) => x.rest), 60_000, giveUp);
  } catch (error) {
    await stopAll();
    if (options.signal?.aborted === true) throw error;
    // A cluster that did not come up: the end of each node's log says why (it once happened in
    // CI with a node leading the others but never answering REST; its log was gone with the dir).
    const tails = nodes.map((node, i) => `--- node ${i + 1} (${node.rest}), end of ${node.logPath}:\n${logTail(node.logPath, 20)}`);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails.join("\n")}`, { cause: error });
  } finally {
    nodes.forEach((node, i) => node.process.off("exit", onExits[i]!));
  }
  watchingExits = true;
  return {
    nodes,
    restart: async (i) => {
      const node = spawnNode(i);
      nodes[i] = node;
      return node;
    },
    stop: stopAll,
  };
}
