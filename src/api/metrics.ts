// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The API's Prometheus metrics, in a registry of their own (never prom-client's global one, so
 * that two apps in one process, as in tests, do not share or clash). Node figures (role, term,
 * log indexes, mempool size) are read from `NodeService.metrics()` on each scrape; request,
 * refusal and commit counts are counted as the API answers.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { NodeMetrics } from "./nodeService.ts";

/** Buckets of the submit latency histogram, seconds: 1 ms to 10 s (PROTOCOL goal: p99 under 50 ms). */
export const SUBMIT_LATENCY_BUCKETS_SEC: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const ROLES: readonly NodeMetrics["role"][] = ["leader", "follower", "candidate"];

/** The API's metrics and the registry that serves them. */
export interface ApiMetrics {
  readonly registry: Registry;
  /** Requests answered, by method, route pattern and status. */
  readonly requests: Counter<"method" | "route" | "status">;
  /** Transfers committed through this node's API. */
  readonly transfersCommitted: Counter;
  /** Withdrawals committed through this node's API. */
  readonly withdrawalsCommitted: Counter;
  /** Refusals answered, by code: whole requests and batch items alike. */
  readonly refusals: Counter<"code">;
  /** Time from a write's arrival to its answer, by route. */
  readonly submitLatency: Histogram<"route">;
  /** Reads `NodeService.metrics()` into the node gauges; call right before serialising. */
  update(node: NodeMetrics): void;
}

/** Registers the API's metrics in `registry` (a new one when absent). */
export function createApiMetrics(registry: Registry = new Registry()): ApiMetrics {
  const registers = [registry];
  const role = new Gauge({ name: "delta_node_role", help: "1 for this node's current Raft role, 0 for the others", labelNames: ["role"], registers });
  const term = new Gauge({ name: "delta_node_term", help: "Current Raft term", registers });
  const commitIndex = new Gauge({ name: "delta_node_commit_index", help: "Highest log index known committed", registers });
  const appliedIndex = new Gauge({ name: "delta_node_applied_index", help: "Highest log index applied to the ledger", registers });
  const mempoolSize = new Gauge({ name: "delta_mempool_size", help: "Messages waiting in the mempool", registers });
  registerEventLoopDelay(registers);
  return {
    registry,
    requests: new Counter({
      name: "delta_http_requests_total",
      help: "HTTP requests answered, by method, route pattern and status",
      labelNames: ["method", "route", "status"],
      registers,
    }),
    transfersCommitted: new Counter({ name: "delta_transfers_committed_total", help: "Transfers committed through this node's API", registers }),
    withdrawalsCommitted: new Counter({ name: "delta_withdrawals_committed_total", help: "Withdrawals committed through this node's API", registers }),
    refusals: new Counter({ name: "delta_refusals_total", help: "Refusals answered (requests and batch items), by error code", labelNames: ["code"], registers }),
    submitLatency: new Histogram({
      name: "delta_submit_duration_seconds",
      help: "Time from a write's arrival to its answer, by route",
      labelNames: ["route"],
      buckets: [...SUBMIT_LATENCY_BUCKETS_SEC],
      registers,
    }),
    update(node: NodeMetrics): void {
      for (const r of ROLES) role.set({ role: r }, r === node.role ? 1 : 0);
      term.set(node.term);
      commitIndex.set(node.commitIndex);
      appliedIndex.set(node.appliedIndex);
      mempoolSize.set(node.mempoolSize);
    },
  };
}

/** Resolution of the event-loop delay monitor, ms: a stall shorter than this may go unseen. */
const EVENT_LOOP_RESOLUTION_MS = 5;

/**
 * `delta_event_loop_delay_max_seconds` and `delta_event_loop_delay_p99_seconds`: how late the
 * event loop ran since the previous scrape (perf_hooks monitorEventLoopDelay, reset on every
 * scrape), so a stall shows in the scrape that follows it. The one event loop carries the
 * consensus heartbeats too: a stall of an election timeout costs the leader its term. The monitor
 * samples every 5 ms with a timer that keeps no process alive.
 */
function registerEventLoopDelay(registers: Registry[]): void {
  const delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  delay.enable();
  // Registered first, so its collect (which reads both figures and resets) runs before p99 is read.
  const p99 = new Gauge({ name: "delta_event_loop_delay_p99_seconds", help: "99th percentile of the event-loop delay since the previous scrape, seconds", registers: [] });
  new Gauge({
    name: "delta_event_loop_delay_max_seconds",
    help: "Longest event-loop delay since the previous scrape, seconds (monitorEventLoopDelay, 5 ms resolution)",
    registers,
    collect() {
      // The monitor records the time between its samples: less the period, what is left is the delay.
      const late = (ns: number): number => Math.max(0, ns / 1e9 - EVENT_LOOP_RESOLUTION_MS / 1000);
      const seen = delay.count > 0;
      this.set(seen ? late(delay.max) : 0);
      p99.set(seen ? late(delay.percentile(99)) : 0);
      delay.reset();
    },
  });
  for (const registry of registers) registry.registerMetric(p99);
}
