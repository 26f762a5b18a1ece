// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Preloaded into every devnet node process (`node --import …/exitWithParent.ts src/node.ts`) so a
 * node never outlives the devnet (`npm start`, a test, a benchmark): the process named by
 * DELTA_DEVNET_PID, which startDevnetNodes (nodes.ts) sets to its own pid.
 *
 * Why a pid in the environment, not only the stdin pipe: an operator restarts a dead node with the
 * command line and environment `ps` shows for it (or the .restart.sh the devnet writes). Such a node
 * is not the devnet's child and its stdin is a terminal or /dev/null, so watching stdin stopped it
 * at once (issue 14). The pid travels with the environment, so a hand-started node lives exactly as
 * long as the devnet that started its predecessors.
 *
 * How: every POLL_MS, is that process still there? On Linux /proc/<pid>/stat says, and its start
 * time (DELTA_DEVNET_PID_STARTTIME, clock ticks after boot, also set by nodes.ts) guards against pid
 * reuse: a pid and a start time name one process for the whole uptime, so a node never adopts an
 * unrelated process that got the devnet's pid after it died (even one started long after, by a stale
 * restart script). A zombie counts as gone: it runs nothing. Without /proc, `kill(pid, 0)` is all
 * there is: ESRCH is gone, and so is EPERM (the devnet runs as the node's user, so a pid we may not
 * signal is someone else's); pid reuse within the devnet's lifetime cannot be told there.
 *
 * The stdin pipe stays as the fast path when it really is the devnet's pipe: this process's parent
 * is the DELTA_DEVNET_PID process (it spawned us, with a pipe it never writes to) and fd 0 is a pipe
 * or socket. The kernel closes the write end however the devnet ends, SIGKILL included, and the node
 * reads end-of-file at once instead of at the next poll. Linux's parent-death signal is not
 * reachable from Node. Without DELTA_DEVNET_PID (an old command line), the watched process is the
 * parent at start-up: the node stops with whatever started it, and stdin is left alone.
 *
 * Why SIGTERM to itself: src/node.ts already shuts down gracefully on SIGTERM (answers what is in
 * flight, closes storage); this reuses that path rather than exiting abruptly. A devnet already
 * gone when the node starts is an exit(1) with a line on stderr: nothing is open yet, and the
 * operator learns why. Lives here, not in src/node.ts, because only the devnet's way of starting
 * nodes has a devnet to watch.
 */
import { fstatSync, readFileSync } from "node:fs";
import { isMainThread } from "node:worker_threads";

/** How often the devnet's pid is looked at: a hand-started node stops within this after the devnet. */
const POLL_MS = 250;
const HAS_PROC = (() => {
  try {
    readFileSync("/proc/self/stat");
    return true;
  } catch {
    return false;
  }
})();

/** A process named by its pid and, where /proc tells it, its start time (ticks after boot). */
interface Watched {
  readonly pid: number;
  readonly startTime: string | undefined;
}

/** /proc/<pid>/stat's state and start time (field 22); undefined when there is no such process. */
function procStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state …": comm may hold spaces and parentheses, so count fields after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "", startTime: fields[19] ?? "" };
}

function isGone(watched: Watched): boolean {
  if (HAS_PROC) {
    const stat = procStat(watched.pid);
    if (stat === undefined || stat.state === "Z" || stat.state === "X") return true;
    return watched.startTime !== undefined && stat.startTime !== watched.startTime;
  }
  try {
    process.kill(watched.pid, 0);
    return false;
  } catch {
    return true; // ESRCH, or EPERM: see the file's comment
  }
}

/** The process to watch: DELTA_DEVNET_PID (and its start time), else the parent as it is now. */
function watchedProcess(): Watched {
  const raw = process.env["DELTA_DEVNET_PID"];
  if (raw === undefined || raw === "") {
    return { pid: process.ppid, startTime: procStat(process.ppid)?.startTime };
  }
  const pid = Number(raw);
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    process.stderr.write(`DELTA_DEVNET_PID must be the devnet's process id, got ${JSON.stringify(raw)}\n`);
    process.exit(1);
  }
  const startTime = process.env["DELTA_DEVNET_PID_STARTTIME"];
  return { pid, startTime: startTime === undefined || startTime === "" ? undefined : startTime };
}

/** fd 0 is a pipe or a socket (Node's child-process pipes are socket pairs), not a terminal or a file. */
function stdinIsPipe(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false; // fd 0 closed
  }
}

function watchDevnet(): void {
  const watched = watchedProcess();
  if (isGone(watched)) {
    process.stderr.write(
      `the devnet process ${watched.pid} that this node belongs to is not running, so the node does not start; ` +
        `start the devnet with \`npm start\` (it starts its nodes itself)\n`,
    );
    process.exit(1);
  }
  let stopped = false;
  const stopLikeSigterm = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  };
  const timer = setInterval(() => {
    if (isGone(watched)) stopLikeSigterm();
  }, POLL_MS);
  // The watch alone never keeps a node alive (a node that failed to start still exits).
  timer.unref();

  if (watched.pid === process.ppid && stdinIsPipe()) {
    process.stdin.once("end", stopLikeSigterm);
    // 'end' needs the stream flowing; the devnet never writes, so nothing is read but the end.
    process.stdin.resume();
    process.stdin.unref();
  } else {
    // Started some other way (by hand): say what keeps it alive, once, on stderr.
    process.stderr.write(`this node stops when process ${watched.pid} (its devnet) ends; checked every ${POLL_MS} ms\n`);
  }
}

// Worker threads inherit `--import` and run this too; the main thread's watch covers the process.
if (isMainThread) watchDevnet();
