// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * One node = one process: `node src/node.ts --config <file>` (DELTA_* environment variables
 * override fields, see src/node/config.ts). The composition root: reads the config, builds the
 * replicated log, ledger and intake (NodeRuntime), serves the REST API, and shuts down gracefully
 * on SIGTERM or SIGINT (stops intake, answers what is in flight, closes storage).
 */
import type { Server } from "node:http";
import { pino } from "pino";
import { createApi } from "./api/index.ts";
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
  const runtime = await NodeRuntime.start(config, logger.child({ module: "node" }));
  const app = createApi(runtime, { adminToken: config.adminToken, logger: logger.child({ module: "api" }), metricsRegistry: runtime.metricsRegistry });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.restPort, config.host, () => resolve(s));
    s.once("error", reject);
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
