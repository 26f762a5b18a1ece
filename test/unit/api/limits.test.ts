// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Bounded work per request (docs/api.md, "Bounded work"): the per-address caps, timeouts and the
 * bounded JSON body, over real loopback sockets in this process. The pure parts (clientKey,
 * ClientCounter) are tested alone first.
 */
import assert from "node:assert/strict";
import { request, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { Registry } from "prom-client";
import { createApi } from "../../../src/api/app.ts";
import { ClientCounter, clientKey, DEFAULT_HTTP_LIMITS, type HttpLimits } from "../../../src/api/clientLimits.ts";
import { checkHttpLimits, listenHttp } from "../../../src/api/httpServer.ts";
import type { Address, BridgeDomain } from "../../../src/protocol/index.ts";
import { LedgerService } from "./ledgerService.ts";

const DOMAIN: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const ADMIN_TOKEN = "s3cret-admin-token-for-tests";
const FEE_RECIPIENT: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const NODE_ADDRESS: Address = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

/** A LedgerService whose `waitForApplied` (a GET with ?minIndex=) waits until `release()`: it holds a request open. */
class HoldingService extends LedgerService {
  held = 0;
  #waiting: (() => void)[] = [];
  override waitForApplied(): Promise<boolean> {
    this.held++;
    return new Promise((resolve) => this.#waiting.push(() => resolve(false)));
  }
  release(): void {
    for (const done of this.#waiting.splice(0)) done();
  }
}

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request from `localAddress` (127.0.0.x), on its own connection. */
function send(base: string, path: string, options: { method?: string; body?: string; contentType?: string; localAddress?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method: options.method ?? "GET",
        localAddress: options.localAddress ?? "127.0.0.1",
        agent: false,
        headers: options.body === undefined ? {} : { "content-type": options.contentType ?? "application/json", "content-length": Buffer.byteLength(options.body) },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

function codeOf(answer: RawAnswer): string {
  return String((JSON.parse(answer.body) as { error?: { code?: string } }).error?.code); // the API's error body
}

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Opens a raw TCP connection from `localAddress`; resolves once connected. */
function open(port: number, localAddress = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves with what the server sent before it closed the socket, and how long that took. */
function closed(socket: Socket): Promise<{ data: string; afterMs: number }> {
  const started = Date.now();
  let data = "";
  socket.on("data", (chunk: Buffer) => (data += chunk.toString("utf8")));
  socket.on("error", () => {});
  return new Promise((resolve) => socket.once("close", () => resolve({ data, afterMs: Date.now() - started })));
}

describe("clientKey", () => {
  test("an IPv4 client is its address, also mapped into IPv6", () => {
    assert.equal(clientKey("203.0.113.7"), "203.0.113.7");
    assert.equal(clientKey("::ffff:203.0.113.7"), "203.0.113.7");
    assert.equal(clientKey("::FFFF:127.0.0.1"), "127.0.0.1");
  });

  test("an IPv6 client is its /64, however the address is written", () => {
    const key = clientKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
    assert.equal(key, "2001:db8:1:2::/64");
    assert.equal(clientKey("2001:0db8:0001:0002::1"), key);
    assert.equal(clientKey("2001:DB8:1:2::ffff:1.2.3.4"), key);
    assert.equal(clientKey("fe80::1%eth0"), "fe80:0:0:0::/64");
    assert.equal(clientKey("::1"), "0:0:0:0::/64");
    assert.notEqual(clientKey("2001:db8:1:3::1"), key);
  });

  test("no address, or one that does not parse, is still a key", () => {
    assert.equal(clientKey(undefined), "unknown");
    assert.equal(clientKey("1::2::3"), "1::2::3");
  });
});

describe("ClientCounter", () => {
  test("holds at most the cap per key, other keys apart, and frees on release", () => {
    const counter = new ClientCounter(2);
    assert.ok(counter.tryAcquire("a"));
    assert.ok(counter.tryAcquire("a"));
    assert.equal(counter.tryAcquire("a"), false);
    assert.equal(counter.held("a"), 2);
    assert.ok(counter.tryAcquire("b"));
    counter.release("a");
    assert.ok(counter.tryAcquire("a"));
    counter.release("a");
    counter.release("a");
    counter.release("b");
    assert.equal(counter.clients, 0);
  });
});

describe("checkHttpLimits", () => {
  test("refuses a non-positive limit and headers that may take longer than the request", () => {
    assert.doesNotThrow(() => checkHttpLimits(DEFAULT_HTTP_LIMITS));
    assert.throws(() => checkHttpLimits({ ...DEFAULT_HTTP_LIMITS, maxConnectionsPerAddress: 0 }), { code: "INVALID_CONFIG" });
    assert.throws(() => checkHttpLimits({ ...DEFAULT_HTTP_LIMITS, headersTimeoutMs: 40_000 }), { code: "INVALID_CONFIG" });
  });
});

describe("requests in progress per address (createApi)", () => {
  const service = new HoldingService({ domain: DOMAIN, feeRecipient: FEE_RECIPIENT, nodeAddress: NODE_ADDRESS });
  let server: Server;
  let base = "";
  before(async () => {
    server = await listenHttp(createApi(service, { adminToken: ADMIN_TOKEN, maxRequestsPerAddress: 2 }), { host: "127.0.0.1", port: 0, limits: DEFAULT_HTTP_LIMITS });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`; // a TCP listener
  });
  after(async () => {
    service.release();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test("answers 503 TOO_MANY_REQUESTS past the cap, serves another address meanwhile, and frees the slots once answered", async () => {
    const first = send(base, "/v1/status?minIndex=999");
    const second = send(base, "/v1/status?minIndex=999");
    await until("two requests held", () => service.held === 2);
    const third = await send(base, "/healthz");
    assert.equal(third.status, 503);
    assert.equal(codeOf(third), "TOO_MANY_REQUESTS");
    assert.equal(third.headers["retry-after"], "1");
    assert.ok(third.headers["x-delta-applied-index"] !== undefined);
    // The cap is per address: 127.0.0.2 is someone else.
    assert.equal((await send(base, "/healthz", { localAddress: "127.0.0.2" })).status, 200);
    service.release();
    assert.equal((await first).status, 503);
    assert.equal((await second).status, 503);
    assert.equal((await send(base, "/healthz")).status, 200);
  });

  test("frees the slot of a client that went away before its answer", async () => {
    service.held = 0;
    const sockets = await Promise.all([open(Number(new URL(base).port)), open(Number(new URL(base).port))]);
    for (const s of sockets) s.write("GET /v1/status?minIndex=999 HTTP/1.1\r\nHost: x\r\n\r\n");
    await until("two requests held", () => service.held === 2);
    assert.equal((await send(base, "/healthz")).status, 503);
    for (const s of sockets) s.destroy();
    // Both slots come back once the server sees the connections closed.
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) status = (await send(base, "/healthz")).status;
    assert.equal(status, 200);
    service.release();
  });
});

describe("bounded JSON bodies (createApi)", () => {
  const service = new LedgerService({ domain: DOMAIN, feeRecipient: FEE_RECIPIENT, nodeAddress: NODE_ADDRESS });
  let server: Server;
  let base = "";
  before(async () => {
    server = await listenHttp(createApi(service, { adminToken: ADMIN_TOKEN }), { host: "127.0.0.1", port: 0, limits: DEFAULT_HTTP_LIMITS });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`; // a TCP listener
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test("an 8 MiB batch body with about a million unknown fields answers 400 INVALID_BODY, naming the bound", async () => {
    const parts = ['{"transfers":[]'];
    let size = parts[0]!.length + 1;
    for (let i = 0; size < 8 * 1024 * 1024 - 16; i++) {
      const part = `,"k${i}":0`;
      parts.push(part);
      size += part.length;
    }
    parts.push("}");
    const answer = await send(base, "/v1/transfers/batch", { method: "POST", body: parts.join("") });
    assert.equal(answer.status, 400);
    assert.equal(codeOf(answer), "INVALID_BODY");
    assert.match(answer.body, /more than 64 fields/);
  });

  test("a body of another charset answers 415, blanks alone 400, and a stray field still 400 UNKNOWN_FIELD", async () => {
    const latin = await send(base, "/v1/transfers", { method: "POST", body: "{}", contentType: "application/json; charset=latin1" });
    assert.equal(latin.status, 415);
    assert.equal(codeOf(latin), "UNSUPPORTED_MEDIA_TYPE");
    const blank = await send(base, "/v1/transfers", { method: "POST", body: "   " });
    assert.equal(blank.status, 400);
    assert.equal(codeOf(blank), "INVALID_BODY");
    const stray = await send(base, "/v1/transfers/batch", { method: "POST", body: JSON.stringify({ transfers: [{}], extra: 1 }) });
    assert.equal(stray.status, 400);
    assert.equal(codeOf(stray), "UNKNOWN_FIELD");
    const utf8 = await send(base, "/v1/transfers/batch", { method: "POST", body: JSON.stringify({ transfers: [{ x: 1 }] }), contentType: "application/json; charset=UTF-8" });
    assert.equal(utf8.status, 200, utf8.body);
    assert.match(utf8.body, /UNKNOWN_FIELD/);
  });
});

describe("connections per address and timeouts (listenHttp)", () => {
  const limits: HttpLimits = { maxConnectionsPerAddress: 3, maxRequestsPerAddress: 32, headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 200 };
  const registry = new Registry();
  let server: Server;
  let port = 0;
  before(async () => {
    // Answers after 1.2 s, longer than the request timeout: that measures the request, not the answer.
    server = await listenHttp(
      (req, res) => {
        req.resume();
        req.on("end", () => setTimeout(() => res.end(req.url === "/slow" ? "late" : "ok"), req.url === "/slow" ? 1_200 : 0));
      },
      { host: "127.0.0.1", port: 0, limits, registry },
    );
    port = (server.address() as AddressInfo).port; // a TCP listener
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test("closes a connection past the cap before reading a byte, while another address is served", async () => {
    const held = await Promise.all([open(port), open(port), open(port)]);
    const extra = await open(port);
    const outcome = closed(extra);
    extra.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const { data } = await outcome;
    assert.equal(data, "", "no answer on a refused connection");
    assert.equal((await send(`http://127.0.0.1:${port}`, "/", { localAddress: "127.0.0.2" })).body, "ok");
    assert.match(await registry.metrics(), /delta_http_connections_refused_total 1\n/);
    for (const s of held) s.destroy();
    // The slots come back: a new connection from 127.0.0.1 is served again.
    const deadline = Date.now() + 5_000;
    let body = "";
    while (body !== "ok" && Date.now() < deadline) body = await send(`http://127.0.0.1:${port}`, "/").then((a) => a.body, () => "");
    assert.equal(body, "ok");
  });

  test("cuts a silent connection, and a slowloris whose headers never end, after the header timeout", async () => {
    const silent = await open(port);
    const slow = await open(port);
    const silentClosed = closed(silent);
    const slowClosed = closed(slow);
    slow.write("GET / HTTP/1.1\r\nHost: x\r\n");
    const drip = setInterval(() => slow.writable && slow.write("X-Drip: 1\r\n"), 50);
    const [a, b] = await Promise.all([silentClosed, slowClosed]);
    clearInterval(drip);
    assert.equal(a.data, "");
    assert.ok(a.afterMs < 3_000, `silent connection closed after ${a.afterMs} ms`);
    assert.match(b.data, /^HTTP\/1\.1 408 /);
    assert.ok(b.afterMs < 3_000, `slowloris closed after ${b.afterMs} ms`);
  });

  test("answers a request whose answer takes longer than the request timeout (it bounds receiving, not answering)", async () => {
    const answer = await send(`http://127.0.0.1:${port}`, "/slow", { method: "POST", body: "{}" });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "late");
  });
});
