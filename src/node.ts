// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * One node = one process: `node src/node.ts --config <file>` (DELTA_* environment variables
 * override fields, see src/node/config.ts). The composition root: reads the config, builds the
 * replicated log, ledger and intake (NodeRuntime), serves the REST API, and shuts down gracefully
 * on SIGTERM or SIGINT (stops intake, answers what is in flight, closes storage).
 */
import type { Server } from "node:http";
import { pino } from "pino";
import { subscribe } from "node:diagnostics_channel";
import { Counter } from "prom-client";
import { createApi, listenHttp } from "./api/index.ts";
import { TRANSPORT_REFUSED_CHANNEL } from "./consensus/index.ts";
import { DeltaError } from "./errors.ts";
import { loadConfig } from "./node/config.ts";
import { NodeRuntime } from "./node/nodeRuntime.ts";
import { checkSignatureRecovery } from "./startupChecks.ts";

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const configPath = argValue("--config");
  if (configPath === undefined) throw new DeltaError("INVALID_CONFIG", "usage: node src/node.ts --config <file>");
  const config = loadConfig(configPath);
  const logger = pino({
    base: { restPort: config.restPort },
    redact: { paths: ["adminToken", "identitySeed", "mokkaPrivateKey", "validatorPrivateKey", "submitterPrivateKey", "*.submitterPrivateKey", "authorization", "*.authorization", "req.headers.authorization"], censor: "[redacted]" },
  });
  checkSignatureRecovery(logger);
  // Connections the consensus transport refused before authentication (a stranger's address, a
  // full handshake table, a handshake too slow or wrong), by reason. Subscribed before the
  // transport starts, so none is missed.
  const transportRefused = new Counter({ name: "delta_transport_refused_total", help: "Consensus transport connections refused before authentication, by reason (notMember: not from a member's address)", labelNames: ["reason"], registers: [] });
  subscribe(TRANSPORT_REFUSED_CHANNEL, (message) => {
    const reason = (message as { reason?: unknown }).reason; // published by tcpTransport.ts as { reason }
    transportRefused.inc({ reason: typeof reason === "string" ? reason : "unknown" });
  });
  const runtime = await NodeRuntime.start(config, logger.child({ module: "node" }));
  runtime.metricsRegistry.registerMetric(transportRefused);
  const app = createApi(runtime, {
    adminToken: config.adminToken,
    logger: logger.child({ module: "api" }),
    metricsRegistry: runtime.metricsRegistry,
    maxRequestsPerAddress: config.http.maxRequestsPerAddress,
  });
  // Per-address connection caps and short timeouts (docs/api.md "Bounded work"), not Node's defaults.
  const server: Server = await listenHttp(app, {
    host: config.host,
    port: config.restPort,
    limits: config.http,
    registry: runtime.metricsRegistry,
    logger: logger.child({ module: "http" }),
  });
  logger.info({ rest: `http://${config.host}:${config.restPort}` }, "node ready");

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    // Stop taking requests; the ones in flight get their answers (or NO_LEADER) as the runtime stops.
    server.close();
    server.closeIdleConnections();
    void runtime
      .stop()
      .then(() => {
        server.closeAllConnections();
        logger.info({}, "stopped");
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ reason: error instanceof Error ? error.message : String(error) }, "shutdown failed");
        process.exit(1);
      });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`node failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
