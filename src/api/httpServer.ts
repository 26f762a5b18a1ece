// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The node's HTTP server (docs/api.md, "Bounded work"): Node's server with short timeouts and a
 * cap on the connections of each client address. Node's defaults let a client hold a request open
 * for 300 s and open connections without end; one address could exhaust the node's sockets or
 * memory. A connection past the cap is closed as it is accepted, before any of its bytes is read
 * (counted in `delta_http_connections_refused_total`); a connection silent for `headersTimeoutMs`
 * is closed; headers must arrive within `headersTimeoutMs` of a request's first byte and the
 * whole request within `requestTimeoutMs` (both answered 408 by Node and closed).
 */
import { createServer, type RequestListener, type Server } from "node:http";
import type { Socket } from "node:net";
import { Counter, Gauge, type Registry } from "prom-client";
import { DeltaError } from "../errors.ts";
import { ClientCounter, clientKey, type HttpLimits } from "./clientLimits.ts";

/** Options of listenHttp. */
export interface HttpServerOptions {
  readonly host: string;
  /** 0 for any free port. */
  readonly port: number;
  readonly limits: HttpLimits;
  /** Where the server's metrics go (the node's registry, served by GET /metrics); none when absent. */
  readonly registry?: Registry;
  /** Told of refused connections at debug, rate-free (a flood would otherwise flood the log). */
  readonly logger?: { debug(fields: Record<string, unknown>, message: string): void };
}

/** Node checks its header and request timeouts this often (its default, 30 s, would let a slow client run 40 s). */
const CHECK_INTERVAL_MS = 1_000;

/** Throws DeltaError INVALID_CONFIG unless the limits are positive integers and headers time out no later than requests. */
export function checkHttpLimits(limits: HttpLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new DeltaError("INVALID_CONFIG", `http.${name} must be a positive integer`, { details: { [name]: value } });
  }
  // Node refuses a headersTimeout above requestTimeout.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new DeltaError("INVALID_CONFIG", "http.headersTimeoutMs must not exceed http.requestTimeoutMs", { details: { ...limits } });
  }
}

/**
 * Serves `app` on host:port with the limits above; resolves once listening.
 * @throws DeltaError INVALID_CONFIG for bad limits; rejects with the listen error (port taken)
 */
export async function listenHttp(app: RequestListener, options: HttpServerOptions): Promise<Server> {
  const { limits } = options;
  checkHttpLimits(limits);
  const registers = options.registry === undefined ? [] : [options.registry];
  const refused = new Counter({
    name: "delta_http_connections_refused_total",
    help: "HTTP connections closed as they were accepted: their client address already held http.maxConnectionsPerAddress",
    registers,
  });
  const connections = new ClientCounter(limits.maxConnectionsPerAddress);
  let open = 0;
  new Gauge({
    name: "delta_http_connections",
    help: "Open HTTP connections, and the client addresses holding them",
    labelNames: ["kind"],
    registers,
    collect() {
      this.set({ kind: "connections" }, open);
      this.set({ kind: "addresses" }, connections.clients);
    },
  });

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(CHECK_INTERVAL_MS, limits.headersTimeoutMs),
    },
    (req, res) => {
      // A request began: the silence timer of a new connection no longer applies (requestTimeout
      // covers the body; the answer may rightly take up to the answer bound).
      req.socket.setTimeout(0);
      app(req, res);
    },
  );
  // Ahead of Node's own listener, so a refused socket never gets an HTTP parser or a read.
  server.prependListener("connection", (socket: Socket) => {
    const key = clientKey(socket.remoteAddress);
    if (!connections.tryAcquire(key)) {
      refused.inc();
      options.logger?.debug({ address: key }, "http connection refused: too many from this address");
      socket.destroy();
      return;
    }
    open++;
    socket.once("close", () => {
      open--;
      connections.release(key);
    });
    // A connection that sends nothing is closed after the header timeout (Node's timers start at
    // a request's first byte). Node's own timeout handler destroys the socket.
    socket.setTimeout(limits.headersTimeoutMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
