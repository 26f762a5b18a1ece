// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Preloaded into every devnet node process (`node --import …/exitWithParent.ts src/node.ts`) so a
 * node never outlives the process that started it (`npm start`, a test, a benchmark).
 *
 * Why stdin: startDevnetNodes gives each node a stdin pipe it never writes to. The kernel closes
 * the write end when the parent is gone however it ended, SIGKILL and crashes included, when no
 * handler of the parent's runs; the node then reads end-of-file. Linux's parent-death signal is
 * not reachable from Node, and polling the parent pid would be slower and racy.
 *
 * Why SIGTERM to itself: src/node.ts already shuts down gracefully on SIGTERM (answers what is in
 * flight, closes storage); this reuses that path rather than exiting abruptly. Lives here, not in
 * src/node.ts, because only the devnet's way of starting nodes has a parent to watch.
 */
import { isMainThread } from "node:worker_threads";

/** Stops this node as if it were sent SIGTERM. */
function stopLikeSigterm(): void {
  process.kill(process.pid, "SIGTERM");
}

/** Ends the node when its stdin pipe ends. */
function watchParent(): void {
  process.stdin.once("end", stopLikeSigterm);
  // 'end' needs the stream flowing; the parent never writes, so nothing is read but the end.
  process.stdin.resume();
  // The watch alone never keeps a node alive (a node that failed to start still exits).
  process.stdin.unref();
}

// Worker threads inherit `--import` and run this too; their stdin is not the pipe (and not a socket).
if (isMainThread) watchParent();
