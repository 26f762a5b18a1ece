// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * How scripts/deploy.ts, scripts/settle.ts and scripts/pay.ts end (issue 14): their process must
 * exit as soon as their work is done, however it is started (a terminal, or a CI system or a
 * supervisor: detached, stdin /dev/null, stdout and stderr piped).
 *
 * Nothing in `hardhat run` or in these scripts calls process.exit: the process ends when nothing
 * keeps Node's event loop alive. The one thing seen to keep a script alive for five minutes is a
 * request waiting for its answer: Hardhat's HTTP networks wait up to 300 s for one (their default
 * `timeout`, which Hardhat gives undici as the connect, headers and body timeouts), ethers'
 * JsonRpcProvider too (src/chain/provider.ts), and Ganache does leave requests unanswered: with
 * its eager instamine, eth_sendRawTransaction of a transaction it queues instead of mining is
 * held until a block includes it (seen as HHE704 "Network connection timed out" 300 s later).
 * So each script closes (Hardhat) or destroys (ethers) every connection it opened, in a finally;
 * its RPC requests time out after a bound well under 300 s (scripts/hardhatNetwork.ts,
 * chainProvider); and, last, `exitWhenIdle` is a backstop for whatever a dependency might still
 * leave behind: it names it on stderr and exits with the script's exit code.
 */

/** How long a finished script may stay alive before the backstop ends it (ms). */
export const EXIT_GRACE_MS = 3_000;

/** How long to wait for one connection to close before giving up on it (ms). */
export const CLOSE_TIMEOUT_MS = 2_000;

/**
 * Waits for `closing` (a connection's close) at most `timeoutMs`. A graceful close waits for the
 * requests still in flight, which is the very wait a hung RPC would make long; the timer is
 * unref'd so that it never holds the process itself. A failed close is reported, not thrown: the
 * script's result is already printed and its exit code set.
 */
export async function closeWithin(what: string, closing: Promise<unknown>, tag: string, timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([closing.then(() => "closed" as const), gaveUp]);
    if (outcome === "timeout") process.stderr.write(`[${tag}] ${what} did not close within ${timeoutMs} ms (a request still unanswered?)\n`);
  } catch (error) {
    process.stderr.write(`[${tag}] closing ${what} failed: ${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The backstop, called once a script has done its work and closed what it opened: should anything
 * still keep the process alive `graceMs` later, it names what (Node's active resources, e.g.
 * `TCPSocketWrap` for a socket) on stderr and exits with the exit code the script set. The timer
 * is unref'd, so a process with nothing left exits at once and never waits for it; the line on
 * stderr is the evidence to fix the cause with.
 */
export function exitWhenIdle(tag: string, graceMs = EXIT_GRACE_MS): void {
  const timer = setTimeout(() => {
    process.stderr.write(`[${tag}] done, but still kept alive after ${graceMs} ms by ${describeResources()}: exiting\n`);
    process.exit();
  }, graceMs);
  timer.unref();
}

/** Node's active resources as `Type×count`, without the timers (the backstop's own is one). */
function describeResources(): string {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) if (r !== "Timeout") counts.set(r, (counts.get(r) ?? 0) + 1);
  const list = [...counts].map(([r, n]) => (n === 1 ? r : `${r}×${n}`));
  return list.length === 0 ? "timers" : list.join(", ");
}
