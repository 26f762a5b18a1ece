// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The API's Prometheus metrics, in a registry of their own (never prom-client's global one, so
 * that two apps in one process, as in tests, do not share or clash). Node figures (role, term,
 * log indexes, mempool size) are read from `NodeService.metrics()` on each scrape; request,
 * refusal and commit counts are counted as the API answers.
 */
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
