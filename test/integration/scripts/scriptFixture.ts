// SPDX-License-Identifier: AGPL-3.0-or-later
/** Shared by the tests of `npm start` and of restarting its nodes by hand: polling, and processes as /proc shows them. */
import { readdirSync, readFileSync } from "node:fs";

/** Polls `check` every 100 ms until it returns a value; at the deadline fails with `what` and `context()`. */
export async function pollUntil<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, context: () => string = () => ""): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** /proc/<pid>/stat's state, parent, process group and start time (clock ticks after boot). */
export interface ProcStat {
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly startTime: string;
}

/** /proc/<pid>/stat, or undefined once the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses, so split after the last ')'.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: f[0] ?? "", ppid: Number(f[1]), pgrp: Number(f[2]), startTime: f[19] ?? "" };
}

/** Running; an exited process not yet reaped (a zombie) runs nothing and holds no port, so counts as gone. */
export function isRunning(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** Every running process of process group `pgid`, however deep. */
export function groupMembers(pgid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => procStat(pid)?.pgrp === pgid && isRunning(pid));
}
