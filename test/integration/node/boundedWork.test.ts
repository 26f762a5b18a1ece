// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue 15, "one request can stall the event loop consensus shares", on the real devnet pieces
 * (Ganache + 3 node processes on 127.0.0.1):
 * 1. an 8 MiB body with about a million unknown fields answers 400 INVALID_BODY at once and the
 *    leader's event loop never stalls for it (before: a 700,000-key JSON.parse, then one zod issue
 *    and one ProtocolIssue per key: seconds of a stalled loop, and a refusal message of megabytes);
 * 2. a batch of 10,000 transfers is parsed without holding the leader's event loop more than 50 ms
 *    (delta_event_loop_delay_max_seconds, reset on every scrape, read around the batch; before: one
 *    80-200 ms zod pass, and no such metric);
 * 3. more connections from one address than http.maxConnectionsPerAddress (64) are closed as they
 *    are accepted, while another address (127.0.0.2) is still answered;
 * 4. a slowloris (headers never finished) is answered 408 and cut after the 10 s header timeout,
 *    and a connection that sends nothing is closed after as long (before: Node's defaults let both
 *    stay for 300 s and forever);
 * 5. a socket to the consensus transport port from 127.0.0.2, which is no member's address, is
 *    closed before the node sends a single handshake byte (a member's address gets its HELLO),
 *    and is counted in delta_transport_refused_total{reason="notMember"};
 * and through all of it the cluster keeps its leader and commits a transfer.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import { fastSignTransfer } from "../../../src/client/index.ts";
import { encodeTransferRequest, NATIVE_TOKEN, type Address, type BridgeDomain } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, post, startTestDevnet, type Json, type TestDevnet, metricValue } from "./devnetFixture.ts";

const deadline = BigInt(Math.floor(Date.now() / 1000) + 3_600);

/** One request on its own connection from `localAddress`. */
function send(url: string, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

interface Watched {
  readonly socket: Socket;
  /** Everything the server sent. */
  data: string;
  /** ms from connecting to the close, once closed. */
  closedAfterMs: number | undefined;
}

/** Connects from `localAddress` and records what arrives and when the socket closes. */
function watch(host: string, port: number, localAddress: string): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, localAddress });
    const started = Date.now();
    const watched: Watched = { socket, data: "", closedAfterMs: undefined };
    socket.on("data", (chunk: Buffer) => (watched.data += chunk.toString("latin1")));
    socket.on("close", () => (watched.closedAfterMs = Date.now() - started));
    socket.once("connect", () => {
      socket.on("error", () => {});
      resolve(watched);
    });
    socket.once("error", reject);
  });
}

/** POSTs a JSON text as it is. */
async function postText(url: string, text: string): Promise<{ status: number; body: Json }> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: text, signal: AbortSignal.timeout(60_000) });
  return { status: r.status, body: (await r.json()) as Json }; // the API answers JSON objects
}

async function domainOf(rest: string): Promise<BridgeDomain> {
  const d = await getJson(`${rest}/v1/domain`);
  return { name: "DeltaBridge", version: "1", chainId: BigInt(String(d["chainId"])), verifyingContract: String(d["verifyingContract"]) as Address };
}

/**
 * 10,000 transfers from senders that hold nothing, signatures well-formed but not theirs. With
 * `amount` "0" every item is fully parsed and refused AMOUNT_ZERO in place (the API's own work:
 * body, items, answer); with "1" they are well-formed and reach the node's intake, which refuses
 * them INSUFFICIENT_BALANCE.
 */
function unfundedBatch(amount: "0" | "1"): string {
  const transfers = Array.from({ length: 10_000 }, (_, i) => ({
    from: `0x${randomBytes(20).toString("hex")}`,
    to: "0x00000000000000000000000000000000000000b0",
    token: NATIVE_TOKEN,
    amount,
    fee: "0",
    nonce: String(i % 7),
    deadline: deadline.toString(),
    signature: `0x${randomBytes(32).toString("hex")}${"22".repeat(32)}1b`,
  }));
  return JSON.stringify({ transfers });
}

describe("bounded work per request (real node processes)", { timeout: 300_000 }, () => {
  let devnet: TestDevnet;
  let leader = "";
  let term = 0;
  let domain: BridgeDomain;
  let alice: Wallet;

  before(async () => {
    devnet = await startTestDevnet("bounded-work", { epoch: { intervalMs: 0, maxMessages: 0 } });
    domain = await domainOf(devnet.rests[0]!);
    alice = new Wallet(devnet.chain.users[0]!.privateKey, devnet.chain.provider);
    await (await connectAs(devnet.chain.bridge, alice).deposit({ value: 1_000n })).wait();
    for (const rest of devnet.rests) {
      await pollUntil(`the deposit on ${rest}`, 30_000, async () => {
        const b = (await getJson(`${rest}/v1/accounts/${alice.address}`))["balances"] as Record<string, string>;
        return b[NATIVE_TOKEN] === "1000" ? true : undefined;
      });
    }
    const status = await getJson(`${devnet.rests[0]}/v1/status`);
    leader = devnet.cluster.nodes.find((n) => n.address === status["leader"])!.rest;
    term = Number(status["term"]);
  });
  after(async () => {
    await devnet?.stop();
  });

  it("answers an 8 MiB body with a million unknown fields 400 INVALID_BODY at once, without stalling the leader", async () => {
    const parts = ['{"transfers":[]'];
    let size = parts[0]!.length + 1;
    for (let i = 0; size < 8 * 1024 * 1024 - 16; i++) {
      const part = `,"k${i}":0`;
      parts.push(part);
      size += part.length;
    }
    parts.push("}");
    assert.ok(parts.length > 700_000);
    await metricValue(leader, "delta_event_loop_delay_max_seconds"); // resets the figures
    const answer = await postText(`${leader}/v1/transfers/batch`, parts.join(""));
    assert.equal(answer.status, 400, JSON.stringify(answer.body).slice(0, 300));
    const error = answer.body["error"] as { code: string; message: string };
    assert.equal(error.code, "INVALID_BODY");
    assert.match(error.message, /more than 64 fields/);
    const stall = await metricValue(leader, "delta_event_loop_delay_max_seconds");
    assert.ok(stall < 0.05, `the leader's event loop stalled ${(stall * 1000).toFixed(1)} ms`);
  });

  /**
   * Posts a 10,000-item batch to the leader and reads the longest event-loop delay around it. The
   * metric is the longest delay since the previous scrape; a 2-core machine shared with other work
   * can delay a timer by itself, so the batch gets three tries: a stall the batch causes shows in
   * every one. Resolves with the delays seen, in ms, once one is under 50 ms.
   */
  async function batchStalls(amount: "0" | "1", code: string): Promise<number[]> {
    const stalls: number[] = [];
    for (let attempt = 0; attempt < 3 && !stalls.some((s) => s < 50); attempt++) {
      const body = unfundedBatch(amount);
      await metricValue(leader, "delta_event_loop_delay_max_seconds");
      const answer = await postText(`${leader}/v1/transfers/batch`, body);
      stalls.push((await metricValue(leader, "delta_event_loop_delay_max_seconds")) * 1000);
      assert.equal(answer.status, 200, JSON.stringify(answer.body).slice(0, 300));
      const results = answer.body["results"] as { error?: { code: string } }[];
      assert.equal(results.length, 10_000);
      assert.ok(results.every((r) => r.error?.code === code), `every item refused ${code}`);
    }
    return stalls;
  }

  it("parses and answers a 10,000-transfer batch without holding the leader's event loop 50 ms", async () => {
    const stalls = await batchStalls("0", "AMOUNT_ZERO");
    assert.ok(stalls.some((s) => s < 50), `the leader's event loop stalled ${stalls.map((s) => s.toFixed(1)).join(", ")} ms`);
  });

  it("takes a 10,000-transfer batch through the intake (hashing, admission) without holding the leader's event loop 50 ms", async () => {
    const stalls = await batchStalls("1", "INSUFFICIENT_BALANCE");
    assert.ok(stalls.some((s) => s < 50), `the leader's event loop stalled ${stalls.map((s) => s.toFixed(1)).join(", ")} ms`);
  });

  it("closes connections from one address past 64 at once, and still answers another address", async () => {
    const url = new URL(leader);
    const port = Number(url.port);
    const sockets: Watched[] = [];
    for (let i = 0; i < 70; i++) sockets.push(await watch(url.hostname, port, "127.0.0.1"));
    // A refused connection is closed as it is accepted; an accepted one stays open for the 10 s
    // silent-connection timeout. (The test's own keep-alive connections count too.)
    await pollUntil("the connections past the cap closed", 5_000, async () => (sockets.filter((s) => s.closedAfterMs !== undefined).length >= 6 ? true : undefined));
    const refused = sockets.filter((s) => s.closedAfterMs !== undefined);
    assert.ok(sockets.length - refused.length <= 64, `${sockets.length - refused.length} connections held`);
    assert.ok(refused.every((s) => s.data === ""), "a refused connection gets no answer");
    const other = await send(`${leader}/healthz`, "127.0.0.2");
    assert.equal(other.status, 200);
    for (const s of sockets) s.socket.destroy();
    // Once they are gone, 127.0.0.1 is served again, and the refusals were counted.
    const refusedCount = await pollUntil("127.0.0.1 served again", 10_000, async () => {
      const n = await metricValue(leader, "delta_http_connections_refused_total");
      return n > 0 ? n : undefined;
    });
    assert.ok(refusedCount >= 6, `${refusedCount} refusals counted`);
  });

  it("cuts a slowloris with 408 and a silent connection after the 10 s header timeout", async () => {
    const url = new URL(leader);
    const slow = await watch(url.hostname, Number(url.port), "127.0.0.1");
    const silent = await watch(url.hostname, Number(url.port), "127.0.0.1");
    slow.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    const drip = setInterval(() => {
      if (slow.socket.writable) slow.socket.write("X-Drip: 1\r\n");
    }, 500);
    try {
      await pollUntil("both connections cut", 25_000, async () => (slow.closedAfterMs !== undefined && silent.closedAfterMs !== undefined ? true : undefined));
    } finally {
      clearInterval(drip);
    }
    assert.match(slow.data, /^HTTP\/1\.1 408 /);
    assert.ok(slow.closedAfterMs! < 20_000, `slowloris cut after ${slow.closedAfterMs} ms`);
    assert.equal(silent.data, "");
    assert.ok(silent.closedAfterMs! < 20_000, `silent connection cut after ${silent.closedAfterMs} ms`);
  });

  it("closes a transport socket from a stranger's address before any handshake byte, and counts it", async () => {
    const node = devnet.cluster.nodes.find((n) => n.rest === leader)!;
    const config = JSON.parse(readFileSync(node.configPath, "utf8")) as { members: { rest: string; host: string; port: number }[] }; // the devnet's node config
    const member = config.members.find((m) => m.rest === leader)!;
    const before = await metricValue(leader, "delta_transport_refused_total", '{reason="notMember"}');
    const stranger = await watch(member.host, member.port, "127.0.0.2");
    await pollUntil("the stranger's socket closed", 5_000, async () => (stranger.closedAfterMs !== undefined ? true : undefined));
    assert.equal(stranger.data, "", "no handshake bytes for a stranger");
    // From a member's address the node starts its handshake (sends its HELLO) at once.
    const fromMember = await watch(member.host, member.port, "127.0.0.1");
    await pollUntil("a HELLO for a member's address", 5_000, async () => (fromMember.data.length > 0 ? true : undefined));
    fromMember.socket.destroy();
    assert.equal(await metricValue(leader, "delta_transport_refused_total", '{reason="notMember"}'), before + 1);
  });

  it("kept its leader and term, and still commits", async () => {
    const transfer = encodeTransferRequest(fastSignTransfer(alice.privateKey, domain, { to: "0x00000000000000000000000000000000000000b0", token: NATIVE_TOKEN, amount: 10n, fee: 0n, nonce: 0n, deadline }));
    const answer = await post(`${leader}/v1/transfers`, transfer);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body["status"], "committed");
    const status = await getJson(`${leader}/v1/status`);
    assert.equal(status["role"], "leader");
    assert.equal(Number(status["term"]), term);
  });
});
