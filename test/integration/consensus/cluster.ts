// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * A cluster of real node processes (logNode.fixture.ts) on loopback, each with its own SQLite
 * file: start, kill with any signal, restart from disk, and talk to each over JSON lines. Used by
 * the cluster tests and by `npm run bench:log`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { exportIdentitySeedHex, generateIdentity } from "../../../src/consensus/identity.ts";
import { mokkaPublicKeyOf, type LogMember, type LogTiming } from "../../../src/consensus/replicatedLog.ts";
import { freePort } from "../../../src/devnet/ganache.ts";

const FIXTURE = new URL("./logNode.fixture.ts", import.meta.url).pathname;

export type NodeEvent = Record<string, unknown> & { event: string };

/** Polls `check` every 20 ms until it returns a value other than undefined; rejects after `timeoutMs`. */
export async function pollUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One running node process. */
export class NodeProcess {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly events: NodeEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  #nextId = 1;
  readonly #pending = new Map<number, (reply: NodeEvent) => void>();

  constructor(configPath: string) {
    // DELTA_CPU_PROF=<dir> profiles every node process (node --cpu-prof), for bench:log investigations.
    const prof = process.env["DELTA_CPU_PROF"];
    const flags = prof === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${prof}`];
    this.proc = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", ...flags, FIXTURE, configPath], { stdio: "pipe" });
    this.exited = new Promise((resolve) => this.proc.once("exit", (code) => resolve(code)));
    createInterface({ input: this.proc.stdout }).on("line", (line) => {
      let event: NodeEvent;
      try {
        event = JSON.parse(line) as NodeEvent; // the fixture prints one JSON object per line
      } catch {
        this.stderr.push(line);
        return;
      }
      const id = event["id"];
      if (event.event === "reply" && typeof id === "number") {
        this.#pending.get(id)?.(event);
        this.#pending.delete(id);
      } else {
        this.events.push(event);
      }
    });
    createInterface({ input: this.proc.stderr }).on("line", (line) => this.stderr.push(line));
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends a command; resolves with its reply, rejects after `timeoutMs` or if the process exits. */
  request(cmd: Record<string, unknown>, timeoutMs = 30_000): Promise<NodeEvent> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`no reply to ${JSON.stringify(cmd)} within ${timeoutMs} ms; stderr: ${this.stderr.slice(-5).join(" | ")}`));
      }, timeoutMs);
      this.#pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      void this.exited.then(() => {
        if (this.#pending.delete(id)) {
          clearTimeout(timer);
          reject(new Error(`node exited before replying to ${JSON.stringify(cmd)}`));
        }
      });
      this.proc.stdin.write(JSON.stringify({ id, ...cmd }) + "\n");
    });
  }

  /** Resolves with the first event (past or future) matching `match`. */
  waitForEvent(what: string, match: (e: NodeEvent) => boolean, timeoutMs = 15_000): Promise<NodeEvent> {
    return pollUntil(what, timeoutMs, () => this.events.find(match));
  }

  /** Ends the process gracefully (closes its stdin; it stops its log and exits). */
  async close(): Promise<void> {
    if (this.alive) this.proc.stdin.end();
    await this.exited;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.alive) this.proc.kill(signal);
    await this.exited;
  }
}

export interface ClusterOptions {
  readonly size?: 3 | 5;
  readonly timing?: Partial<LogTiming>;
}

/** N node configs in a temp dir; nodes start with `start(i)` and keep their disk across restarts. */
export class Cluster {
  readonly dir: string;
  readonly members: LogMember[];
  readonly configPaths: string[];
  readonly nodes: (NodeProcess | undefined)[];

  private constructor(dir: string, members: LogMember[], configPaths: string[]) {
    this.dir = dir;
    this.members = members;
    this.configPaths = configPaths;
    this.nodes = configPaths.map(() => undefined);
  }

  static async create(options: ClusterOptions = {}): Promise<Cluster> {
    const size = options.size ?? 3;
    const dir = mkdtempSync(join(tmpdir(), "delta-cluster-"));
    const identities = Array.from({ length: size }, () => generateIdentity());
    const mokkaKeys = identities.map(() => randomBytes(32).toString("hex"));
    const members: LogMember[] = [];
    for (let i = 0; i < size; i++) {
      members.push({ id: identities[i]!.id, host: "127.0.0.1", port: await freePort(), mokkaPublicKey: mokkaPublicKeyOf(mokkaKeys[i]!) });
    }
    const configPaths = identities.map((identity, i) => {
      const path = join(dir, `node${i}.json`);
      const config = {
        identitySeed: exportIdentitySeedHex(identity),
        mokkaPrivateKey: mokkaKeys[i],
        members,
        storePath: join(dir, `node${i}.db`),
        clusterId: "delta-test-cluster",
        timing: options.timing,
      };
      writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
      return path;
    });
    return new Cluster(dir, members, configPaths);
  }

  /** Starts node `i` (from its disk, if it ran before) and waits for its "ready" event. */
  async start(i: number): Promise<NodeProcess> {
    const node = new NodeProcess(this.configPaths[i]!);
    this.nodes[i] = node;
    await Promise.race([
      node.waitForEvent(`node ${i} ready`, (e) => e.event === "ready", 20_000),
      node.exited.then((code) => {
        throw new Error(`node ${i} exited with ${code} before ready: ${node.stderr.join("\n")}`);
      }),
    ]);
    return node;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.configPaths.map((_, i) => this.start(i)));
  }

  /** Index of the single live node that can propose, once every live node agrees on it. */
  async waitForLeader(timeoutMs = 15_000): Promise<number> {
    return pollUntil("a leader", timeoutMs, async () => {
      const live = this.nodes.map((n, i) => [n, i] as const).filter(([n]) => n?.alive === true);
      const statuses = await Promise.all(live.map(([n]) => n!.request({ cmd: "status" })));
      const leaders = statuses.map((s, k) => [s, live[k]![1]] as const).filter(([s]) => s["canPropose"] === true);
      if (leaders.length !== 1) return undefined;
      const [leaderStatus, index] = leaders[0]!;
      return statuses.every((s) => s["leader"] === leaderStatus["nodeId"]) ? index : undefined;
    });
  }

  /** Kills every node still running and deletes the temp dir. */
  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n?.kill("SIGKILL")));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
