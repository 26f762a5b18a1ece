// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The devnet's three nodes, each its own process (`node src/node.ts --config …`), configured for a
 * running devnet chain: keys, member list, ports, data directories and logs under `dir`. Used by
 * `npm start` and the integration tests; `stop()` ends every process it started, and each node
 * also stops by itself once the process that started it is gone (exitWithParent.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, openSync, closeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import { exportIdentitySeedHex, generateIdentity, mokkaPublicKeyOf } from "../consensus/index.ts";
import type { DevnetChain } from "./chain.ts";
import { freePort } from "./ganache.ts";

const NODE_ENTRY = new URL("../node.ts", import.meta.url).pathname;
/** Preloaded into every node: it stops when its stdin pipe from this process ends (this process is gone). */
const EXIT_WITH_PARENT = new URL("./exitWithParent.ts", import.meta.url).href;

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
export function nodeOptionsFor(chain: DevnetChain): Pick<DevnetNodesOptions, "rpcUrl" | "chainId" | "bridge" | "feeRecipient" | "validatorKeys"> {
  return {
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

export async function startDevnetNodes(options: DevnetNodesOptions): Promise<DevnetNodes> {
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
      chain: { rpcUrl: options.rpcUrl, chainId: options.chainId, bridge: options.bridge, confirmations: 1, pollMs: 200, fromBlock: 0 },
      block: { intervalMs: 5, maxMessages: 2_000 },
      epoch: { intervalMs: 30_000, maxMessages: 10_000, ...options.epoch },
      settlement: { pollMs: 250, ...options.settlement },
    };
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(path, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
    return path;
  });

  const nodes: DevnetNode[] = [];
  const spawnNode = (i: number): DevnetNode => {
    const logPath = join(options.dir, `node${i + 1}.log`);
    const fd = openSync(logPath, "a");
    // DELTA_CPU_PROF=<dir> profiles every node process (node --cpu-prof), for bench investigations.
    const prof = process.env["DELTA_CPU_PROF"];
    const flags = prof === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${prof}`];
    const args = ["--disable-warning=ExperimentalWarning", ...flags, "--import", EXIT_WITH_PARENT, NODE_ENTRY, "--config", configPaths[i]!];
    // stdin: a pipe never written to; the node watches for its end (exitWithParent.ts).
    const child = spawn(process.execPath, args, { stdio: ["pipe", fd, fd] });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`node ${i + 1} did not start`);
    const node = { address: members[i]!.address, rest: members[i]!.rest, pid: child.pid, process: child, configPath: configPaths[i]!, logPath };
    log(`node ${i + 1} started (pid ${child.pid}), REST ${node.rest}, log ${logPath}`);
    return node;
  };
  for (let i = 0; i < n; i++) nodes.push(spawnNode(i));

  const exited = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((resolve) => c.once("exit", () => resolve()));
  const stopAll = async (): Promise<void> => {
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
    throw error;
  } finally {
    nodes.forEach((node, i) => node.process.off("exit", onExits[i]!));
  }
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
