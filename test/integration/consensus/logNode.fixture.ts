// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * One cluster node in its own process, for the cluster tests and `npm run bench:log`. Config: a
 * JSON file named by argv[2]. Talks JSON lines: commands on stdin
 * ({id, cmd: "propose", count, size} | {id, cmd: "status"} | {id, cmd: "stats"} | {id, cmd: "hashes", from, to}),
 * replies and events on stdout ({event: "ready"|"reply"|"leader"|"failed", ...}).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { loadIdentity } from "../../../src/consensus/identity.ts";
import { DeltaError } from "../../../src/errors.ts";
import { ReplicatedLog, type LogMember, type LogTiming } from "../../../src/consensus/replicatedLog.ts";

interface NodeConfig {
  identitySeed: string;
  mokkaPrivateKey: string;
  members: LogMember[];
  storePath: string;
  clusterId: string;
  timing?: Partial<LogTiming>;
}

const config = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as NodeConfig; // written by cluster.ts
const out = (value: object): void => {
  process.stdout.write(JSON.stringify(value) + "\n");
};

/** Hash of each committed entry by index, so the parent can compare replicas. */
const applied = new Map<number, string>();
/** Index of the last snapshot installed from the leader (0: none). */
let snapshotIndex = 0;
let appliedCount = 0;
const log = await ReplicatedLog.open({
  identity: loadIdentity(config.identitySeed),
  mokkaPrivateKey: config.mokkaPrivateKey,
  members: config.members,
  clusterId: config.clusterId,
  storePath: config.storePath,
  timing: config.timing,
  logger: {
    info: (fields, message) => out({ event: "log", level: "info", message, ...fields }),
    warn: (fields, message) => out({ event: "log", level: "warn", message, ...fields }),
    error: (fields, message) => out({ event: "log", level: "error", message, ...fields }),
    debug: () => {},
  },
  onSnapshot: (snapshot) => {
    // The application state of this fixture is "how many entries were applied, and their hashes
    // digest": the snapshot carries it; entries before it are no longer known one by one.
    applied.clear();
    snapshotIndex = snapshot.meta.index;
    out({ event: "snapshotInstalled", index: snapshot.meta.index, term: snapshot.meta.term });
  },
  onCommit: (entry) => {
    if (applied.has(entry.index)) out({ event: "failed", reason: `index ${entry.index} applied twice` });
    applied.set(entry.index, entry.hash);
    appliedCount++;
  },
});
log.on("leader", (status: object) => out({ event: "leader", ...status }));
log.on("failed", (error: Error) => out({ event: "failed", reason: error.message }));
out({ event: "ready", pid: process.pid, ...log.status() });

let payloadCounter = 0;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  void (async () => {
    const cmd = JSON.parse(line) as { id: number; cmd: string; count?: number; size?: number; from?: number; to?: number }; // from the parent
    switch (cmd.cmd) {
      case "propose": {
        const data = Array.from({ length: cmd.count ?? 1 }, () => {
          const d = new Uint8Array(cmd.size ?? 250);
          new DataView(d.buffer).setUint32(0, payloadCounter++);
          return d;
        });
        const started = performance.now();
        let outcome: Awaited<ReturnType<typeof log.propose>>;
        try {
          outcome = await log.propose(data);
        } catch (error) {
          // A refused proposal (e.g. PAYLOAD_TOO_LARGE) answers with its code instead of failing the node.
          out({ id: cmd.id, event: "reply", accepted: false, error: String(error), code: error instanceof DeltaError ? error.code : undefined });
          break;
        }
        if (outcome.accepted) {
          await log.waitForCommit(outcome.lastIndex, outcome.term, 30_000).then(
            (ours) => out({ id: cmd.id, event: "reply", ...outcome, committed: ours, lost: !ours, ms: performance.now() - started }),
            () => out({ id: cmd.id, event: "reply", ...outcome, committed: false, timedOut: true }),
          );
        } else {
          out({ id: cmd.id, event: "reply", ...outcome });
        }
        break;
      }
      case "status":
        {
          const { id: nodeId, ...status } = log.status();
          out({ id: cmd.id, event: "reply", nodeId, ...status, applied: appliedCount, snapshotIndex });
        }
        break;
      case "compact": {
        // Snapshot everything applied so far and drop it from the log (as the node will with the ledger).
        const { commitIndex } = log.status();
        const last = log.entry(commitIndex);
        if (last === undefined) {
          out({ id: cmd.id, event: "reply", error: `entry ${commitIndex} not in the log` });
          break;
        }
        const data = new TextEncoder().encode(JSON.stringify({ upTo: commitIndex }));
        await log.compact({ meta: { index: last.index, term: last.term, hash: last.hash }, data });
        out({ id: cmd.id, event: "reply", compactedTo: commitIndex });
        break;
      }
      case "debug":
        out({ id: cmd.id, event: "reply", ...log.debugState(), loopDelayMaxMs: loopDelay.max / 1e6, loopDelayP99Ms: loopDelay.percentile(99) / 1e6 });
        break;
      case "stats":
        out({ id: cmd.id, event: "reply", ...log.stats() });
        break;
      case "hashes": {
        const hashes: (string | null)[] = [];
        for (let i = cmd.from ?? 1; i <= (cmd.to ?? 0); i++) hashes.push(applied.get(i) ?? null);
        out({ id: cmd.id, event: "reply", hashes, digest: createHash("sha256").update(hashes.join(",")).digest("hex") });
        break;
      }
      default:
        out({ id: cmd.id, event: "reply", error: `unknown command ${cmd.cmd}` });
    }
  })().catch((error: unknown) => out({ event: "failed", reason: String(error) }));
});
const stop = (): void => {
  void log.stop().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
lines.on("close", stop);
