// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * DeltaClient against a small real HTTP server that answers like PROTOCOL.md §2 (hard-coded
 * answers), and the signing helpers against protocol/'s digests and recovery.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { Wallet } from "ethers";
import {
  DeltaClient,
  DeltaClientError,
  type DomainInfo,
  fastSignTransfer,
  fastSignWithdrawal,
  type Hex,
  NATIVE_TOKEN,
  type SignedTransfer,
  signTransfer,
  signWithdrawal,
} from "../../../src/client/index.ts";
import { DeltaError } from "../../../src/errors.ts";
import { hashTransfer, hashWithdrawal, recoverSigner } from "../../../src/protocol/index.ts";

// Hardhat's first deterministic account: a public test key.
const PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const DOMAIN: DomainInfo = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: BRIDGE, feeRecipient: BOB };
const BIG = 10n ** 30n + 7n; // above 2^53: a JSON number would round it
const HASH: Hex = `0x${"ab".repeat(32)}`;
const SIGNATURE: Hex = `0x${"11".repeat(32)}${"22".repeat(32)}1b`;
const FAST_RETRY = { attempts: 4, baseMs: 1, maxMs: 5 };

interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}
type Handler = (req: RecordedRequest, res: ServerResponse) => void;

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function refusal(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  reply(res, status, { error: { code, message } }, headers);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** The hash the fake node gives a transfer: its nonce, as 32 bytes. */
function fakeHash(nonce: string): string {
  return `0x${BigInt(nonce).toString(16).padStart(64, "0")}`;
}

/** The request as protocolRoutes matches it: the path without ?minIndex=. */
function withoutQuery(req: RecordedRequest): RecordedRequest {
  return { ...req, url: req.url.split("?")[0] ?? "" };
}

/** A GET /v1/transfers/:hash answer for HASH. */
function transferBody(status: "pending" | "committed"): Record<string, unknown> {
  return {
    hash: HASH, status, index: status === "pending" ? null : 3, epoch: status === "pending" ? null : "4",
    from: ALICE, to: BOB, token: TOKEN, amount: "1", fee: "0", nonce: "7", deadline: "1900000000",
  };
}

/** Hard-coded PROTOCOL.md §2 answers for the routes the client uses. */
const protocolRoutes: Handler = (req, res) => {
  const route = `${req.method} ${req.url}`;
  if (route === "GET /v1/domain") {
    return reply(res, 200, { name: "DeltaBridge", version: "1", chainId: "1337", verifyingContract: BRIDGE, feeRecipient: BOB });
  }
  if (route === "GET /v1/status") {
    return reply(res, 200, {
      address: BOB, role: "follower", term: 3, leader: ALICE, commitIndex: 10, appliedIndex: 9,
      epoch: "4", lastSettledEpoch: "2", peers: [{ address: ALICE, rest: "http://127.0.0.1:7001" }],
    });
  }
  if (route === `GET /v1/accounts/${ALICE}`) {
    return reply(res, 200, { address: ALICE, nonce: "7", balances: { [NATIVE_TOKEN]: BIG.toString(), [TOKEN]: "5" } });
  }
  if (route === `GET /v1/transfers/${HASH}`) {
    return reply(res, 200, {
      hash: HASH, status: "committed", index: 12, epoch: "4", from: ALICE, to: BOB, token: NATIVE_TOKEN,
      amount: BIG.toString(), fee: "1", nonce: "7", deadline: "1900000000",
    });
  }
  if (req.method === "GET" && req.url.startsWith("/v1/transfers/")) return refusal(res, 404, "NOT_FOUND", "unknown transfer");
  if (route === "GET /v1/epochs/current" || route === "GET /v1/epochs/3") {
    return reply(res, 200, {
      epoch: req.url.endsWith("3") ? "3" : "4", status: req.url.endsWith("3") ? "sealed" : "open", transfers: 2,
      root: req.url.endsWith("3") ? HASH : null,
      deltas: [{ account: ALICE, token: NATIVE_TOKEN, delta: (-BIG).toString() }, { account: BOB, token: NATIVE_TOKEN, delta: BIG.toString() }],
      payouts: [{ account: ALICE, token: TOKEN, amount: "5" }],
      settlementTxs: [],
    });
  }
  if (route === "GET /v1/epochs/99") return refusal(res, 404, "NOT_FOUND", "no epoch 99");
  if (route === "POST /v1/transfers" || route === "POST /v1/withdrawals") {
    const nonce = isObject(req.body) && typeof req.body.nonce === "string" ? req.body.nonce : "0";
    return reply(res, 200, { hash: fakeHash(nonce), status: "committed", index: 41, epoch: BIG.toString() });
  }
  if (route === "POST /v1/transfers/batch") {
    const items = isObject(req.body) && Array.isArray(req.body.transfers) ? req.body.transfers : [];
    const results = items.map((item: unknown) => {
      const nonce = isObject(item) && typeof item.nonce === "string" ? item.nonce : "0";
      if (nonce === "5") return { error: { code: "NONCE_GAP", message: "nonce 5 skips 4" } };
      return { hash: fakeHash(nonce), status: "committed", index: Number(nonce), epoch: "1" };
    });
    return reply(res, 200, { results });
  }
  if (route === "POST /v1/admin/seal") {
    if (req.headers.authorization !== "Bearer s3cret") return refusal(res, 401, "UNAUTHORIZED", "wrong admin token");
    return reply(res, 200, { epoch: "4" });
  }
  return refusal(res, 404, "NOT_FOUND", `no route ${route}`);
};

function fakeTransfer(nonce: bigint): SignedTransfer {
  return { from: ALICE, to: BOB, token: NATIVE_TOKEN, amount: 1n, fee: 0n, nonce, deadline: 1_900_000_000n, signature: SIGNATURE };
}

async function listen(server: Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  // listen() on a TCP port: address() is an AddressInfo, not a pipe name or null.
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

describe("DeltaClient", () => {
  const requests: RecordedRequest[] = [];
  let handler: Handler = protocolRoutes;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body: unknown = text === "" ? undefined : JSON.parse(text);
      const recorded = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  let url = "";
  let deadUrl = "";

  before(async () => {
    url = await listen(server);
    // A port that was just bound and released: connections to it are refused.
    const probe = createServer();
    deadUrl = await listen(probe);
    probe.close();
    await once(probe, "close");
  });
  beforeEach(() => {
    requests.length = 0;
    handler = protocolRoutes;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, "close");
  });

  const client = (): DeltaClient => new DeltaClient({ baseUrl: url, retry: FAST_RETRY, timeoutMs: 2_000 });

  it("sends a transfer as decimal strings with checksummed addresses and its signature", async () => {
    const signed = fastSignTransfer(PRIVATE_KEY, DOMAIN, { to: BOB.toLowerCase(), token: TOKEN.toUpperCase().replace("0X", "0x"), amount: BIG, fee: 3n, nonce: 7n, deadline: 1_900_000_000n });
    const result = await client().submitTransfer(signed);
    assert.equal(requests.length, 1);
    const [sent] = requests;
    assert.equal(sent?.method, "POST");
    assert.equal(sent?.url, "/v1/transfers");
    assert.equal(sent?.headers["content-type"], "application/json");
    assert.deepEqual(sent?.body, {
      from: ALICE, to: BOB, token: TOKEN, amount: "1000000000000000000000000000007", fee: "3", nonce: "7", deadline: "1900000000",
      signature: signed.signature,
    });
    assert.match(signed.signature, /^0x[0-9a-f]{130}$/);
    assert.deepEqual(result, { hash: fakeHash("7"), status: "committed", index: 41, epoch: BIG });
  });

  it("sends a withdrawal the same way", async () => {
    const signed = fastSignWithdrawal(PRIVATE_KEY, DOMAIN, { token: NATIVE_TOKEN, amount: 5n, nonce: 8n, deadline: 1_900_000_000n });
    const result = await client().submitWithdrawal(signed);
    assert.deepEqual(requests[0]?.body, {
      account: ALICE, token: NATIVE_TOKEN, amount: "5", nonce: "8", deadline: "1900000000", signature: signed.signature,
    });
    assert.equal(requests[0]?.url, "/v1/withdrawals");
    assert.equal(result.epoch, BIG);
  });

  it("parses domain, status, account and nonce into bigint and checksummed addresses", async () => {
    const c = client();
    assert.deepEqual(await c.domain(), DOMAIN);
    const status = await c.status();
    assert.equal(status.epoch, 4n);
    assert.equal(status.lastSettledEpoch, 2n);
    assert.equal(status.leader, ALICE);
    assert.equal(status.role, "follower");
    assert.deepEqual(status.peers, [{ address: ALICE, rest: "http://127.0.0.1:7001" }]);
    const account = await c.account(ALICE.toLowerCase());
    assert.equal(requests.at(-1)?.url, `/v1/accounts/${ALICE}`, "the path carries the checksummed address");
    assert.equal(account.nonce, 7n);
    assert.deepEqual(account.balances, { [NATIVE_TOKEN]: BIG, [TOKEN]: 5n });
    assert.equal(await c.nextNonce(ALICE), 7n);
  });

  it("reads transfers and epochs, undefined on 404", async () => {
    const c = client();
    const transfer = await c.transfer(HASH);
    assert.deepEqual(transfer, {
      hash: HASH, status: "committed", index: 12, epoch: 4n, from: ALICE, to: BOB, token: NATIVE_TOKEN,
      amount: BIG, fee: 1n, nonce: 7n, deadline: 1_900_000_000n,
    });
    assert.equal(await c.transfer(`0x${"cd".repeat(32)}`), undefined);
    const current = await c.epoch();
    assert.equal(requests.at(-1)?.url, "/v1/epochs/current");
    assert.equal(current?.root, null);
    const sealed = await c.epoch(3n);
    assert.equal(requests.at(-1)?.url, "/v1/epochs/3");
    assert.equal(sealed?.status, "sealed");
    assert.deepEqual(sealed?.deltas.map((d) => d.delta), [-BIG, BIG]);
    assert.deepEqual(sealed?.payouts, [{ account: ALICE, token: TOKEN, amount: 5n }]);
    assert.equal(await c.epoch(99n), undefined);
  });

  it("seals with the admin token as a bearer header, and surfaces 401", async () => {
    assert.equal(await client().seal("s3cret"), 4n);
    assert.equal(requests[0]?.headers.authorization, "Bearer s3cret");
    await assert.rejects(client().seal("wrong"), (e: unknown) => e instanceof DeltaClientError && e.code === "UNAUTHORIZED" && e.status === 401);
  });

  it("splits a batch above 10,000 into requests in order and keeps per-item refusals", async () => {
    const signed = Array.from({ length: 20_001 }, (_, i) => fakeTransfer(BigInt(i)));
    const results = await client().submitTransfers(signed);
    assert.deepEqual(
      requests.map((r) => [r.url, isObject(r.body) && Array.isArray(r.body.transfers) ? r.body.transfers.length : -1]),
      [["/v1/transfers/batch", 10_000], ["/v1/transfers/batch", 10_000], ["/v1/transfers/batch", 1]],
    );
    const sentNonces = requests.flatMap((r) => (isObject(r.body) && Array.isArray(r.body.transfers) ? r.body.transfers : []).map((t: unknown) => (isObject(t) ? t.nonce : undefined)));
    assert.deepEqual(sentNonces, signed.map((t) => t.nonce.toString()), "every transfer sent once, in order");
    assert.equal(results.length, 20_001);
    results.forEach((result, i) => {
      if (i === 5) assert.deepEqual(result, { error: { code: "NONCE_GAP", message: "nonce 5 skips 4" } });
      else assert.ok(!("error" in result) && result.index === i && result.epoch === 1n, `result ${i} in place`);
    });
  });

  it("sends nothing for an empty batch, and honours batchSize", async () => {
    assert.deepEqual(await client().submitTransfers([]), []);
    assert.equal(requests.length, 0);
    const results = await client().submitTransfers([0n, 1n, 2n].map(fakeTransfer), { batchSize: 2 });
    assert.equal(requests.length, 2);
    assert.deepEqual(results.map((r) => ("error" in r ? -1 : r.index)), [0, 1, 2]);
  });

  it("retries a 503 after its Retry-After, then succeeds", async () => {
    let calls = 0;
    handler = (req, res) => {
      calls += 1;
      if (calls === 1) return refusal(res, 503, "NO_LEADER", "no leader reachable", { "retry-after": "1" });
      protocolRoutes(req, res);
    };
    const started = Date.now();
    const status = await client().status();
    assert.equal(status.epoch, 4n);
    assert.equal(requests.length, 2);
    // Backoff alone is at most FAST_RETRY.maxMs (5 ms): waiting about a second means Retry-After was honoured.
    assert.ok(Date.now() - started >= 900, `waited ${Date.now() - started} ms`);
  });

  it("gives up on 503 after the configured attempts with NO_LEADER and status 503", async () => {
    handler = (_req, res) => refusal(res, 503, "NO_LEADER", "no leader reachable");
    await assert.rejects(client().status(), (e: unknown) => e instanceof DeltaClientError && e.code === "NO_LEADER" && e.status === 503);
    assert.equal(requests.length, FAST_RETRY.attempts);
  });

  it("never retries a 409 and surfaces the node's code, message and status", async () => {
    handler = (_req, res) => refusal(res, 409, "NONCE_REUSED", "nonce 7 of this account was already used");
    const error = await client().submitTransfer(fakeTransfer(7n)).then(
      () => assert.fail("expected a refusal"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof DeltaClientError);
    assert.ok(error instanceof DeltaError, "catchable as the project's one error class");
    assert.equal(error.code, "NONCE_REUSED");
    assert.equal(error.serverCode, "NONCE_REUSED");
    assert.equal(error.status, 409);
    assert.equal(error.message, "nonce 7 of this account was already used");
    assert.equal(requests.length, 1);
  });

  it("keeps an unknown server code in serverCode", async () => {
    handler = (_req, res) => refusal(res, 422, "SOMETHING_NEW", "a newer node refused it");
    await assert.rejects(client().status(), (e: unknown) => e instanceof DeltaClientError && e.serverCode === "SOMETHING_NEW" && e.code === "INTERNAL" && e.status === 422);
  });

  it("moves to the next base URL when the first refuses connections, and stays there", async () => {
    const c = new DeltaClient({ baseUrls: [deadUrl, url], retry: FAST_RETRY, timeoutMs: 2_000 });
    assert.equal((await c.status()).epoch, 4n);
    assert.equal(requests.length, 1);
    assert.equal((await c.domain()).chainId, 1337n);
    assert.equal(requests.length, 2);
  });

  it("throws NODE_UNREACHABLE once every try failed to connect", async () => {
    const c = new DeltaClient({ baseUrls: [deadUrl], retry: FAST_RETRY, timeoutMs: 2_000 });
    await assert.rejects(c.status(), (e: unknown) => e instanceof DeltaClientError && e.code === "NODE_UNREACHABLE" && e.status === undefined);
  });

  it("times out a node that never answers, without retrying", async () => {
    const held: ServerResponse[] = [];
    handler = (_req, res) => void held.push(res);
    const c = new DeltaClient({ baseUrl: url, retry: FAST_RETRY, timeoutMs: 150 });
    await assert.rejects(c.status(), (e: unknown) => e instanceof DeltaClientError && e.code === "REQUEST_TIMEOUT");
    assert.equal(requests.length, 1);
    for (const res of held) res.destroy();
  });

  it("refuses an answer that is not PROTOCOL.md's shape with BAD_RESPONSE", async () => {
    handler = (_req, res) => reply(res, 200, { address: ALICE, nonce: 7, balances: {} });
    await assert.rejects(client().account(ALICE), (e: unknown) => e instanceof DeltaClientError && e.code === "BAD_RESPONSE" && /nonce/.test(e.message));
  });

  it("refuses a malformed address before sending anything", async () => {
    await assert.rejects(client().account("0x1234"), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_ADDRESS");
    assert.equal(requests.length, 0);
  });

  it("refuses construction without a base URL or with bad options", () => {
    assert.throws(() => new DeltaClient({ baseUrls: [] }), (e: unknown) => e instanceof DeltaClientError && e.code === "INVALID_CONFIG");
    assert.throws(() => new DeltaClient({ baseUrl: "ftp://x" }), (e: unknown) => e instanceof DeltaClientError && e.code === "INVALID_CONFIG");
    assert.throws(() => new DeltaClient({ baseUrl: url, retry: { attempts: 0 } }), (e: unknown) => e instanceof DeltaClientError && e.code === "INVALID_CONFIG");
  });

  it("monotonic reads: sends the highest X-Delta-Applied-Index seen as ?minIndex= on every read, never lower", async () => {
    let index = 12;
    handler = (req, res) => {
      // The write's node has applied 12; a later node answers with an older index, which must not lower it.
      const at = req.method === "POST" ? index : 5;
      res.setHeader("x-delta-applied-index", String(at));
      protocolRoutes(withoutQuery(req), res);
    };
    const c = client();
    await c.status(); // first read: nothing seen yet, no minIndex
    assert.equal(requests[0]?.url, "/v1/status");
    assert.equal(c.appliedIndex, 5);
    const signed = fastSignTransfer(PRIVATE_KEY, DOMAIN, { to: BOB, token: TOKEN, amount: 1n, fee: 0n, nonce: 7n, deadline: 1_900_000_000n });
    await c.submitTransfer(signed);
    assert.equal(c.appliedIndex, 12);
    await c.account(ALICE);
    await c.transfer(HASH);
    assert.equal(requests[2]?.url, `/v1/accounts/${ALICE}?minIndex=12`);
    assert.equal(requests[3]?.url, `/v1/transfers/${HASH}?minIndex=12`);
    assert.equal(c.appliedIndex, 12, "an older index from another node does not lower it");
    index = 20;
    await c.submitTransfer(signed);
    await c.status();
    assert.equal(requests[5]?.url, "/v1/status?minIndex=20");
    const plain = new DeltaClient({ baseUrl: url, retry: FAST_RETRY, monotonicReads: false });
    await plain.submitTransfer(signed);
    await plain.status();
    assert.equal(requests[7]?.url, "/v1/status", "monotonicReads: false sends no minIndex");
  });

  it("a read answered 503 BEHIND moves on to the next node, which answers", async () => {
    let behind = 0;
    handler = (req, res) => {
      if (req.url?.includes("minIndex=") && behind++ === 0) return refusal(res, 503, "BEHIND", "not there yet", { "retry-after": "0" });
      res.setHeader("x-delta-applied-index", "30");
      protocolRoutes(withoutQuery(req), res);
    };
    const c = new DeltaClient({ baseUrls: [url, url], retry: FAST_RETRY });
    await c.status();
    const status = await c.status();
    assert.equal(status.term, 3);
    assert.equal(behind, 2);
    assert.equal(requests.filter((r) => r.url === "/v1/status?minIndex=30").length, 2);
  });

  it("504 OUTCOME_UNKNOWN is not retried: the error carries the hash, and waitForTransfer waits for the outcome", async () => {
    let looks = 0;
    handler = (req, res) => {
      if (req.method === "POST") return reply(res, 504, { error: { code: "OUTCOME_UNKNOWN", message: "not decided in time" }, hash: HASH });
      if (req.url?.startsWith(`/v1/transfers/${HASH}`)) {
        looks++;
        if (looks === 1) return refusal(res, 404, "NOT_FOUND", "unknown");
        if (looks === 2) return reply(res, 200, transferBody("pending"));
        return reply(res, 200, transferBody("committed"));
      }
      protocolRoutes(req, res);
    };
    const c = client();
    const signed = fastSignTransfer(PRIVATE_KEY, DOMAIN, { to: BOB, token: TOKEN, amount: 1n, fee: 0n, nonce: 7n, deadline: 1_900_000_000n });
    const error = await c.submitTransfer(signed).then(
      () => assert.fail("a 504 must throw"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof DeltaClientError);
    assert.equal(error.code, "OUTCOME_UNKNOWN");
    assert.equal(error.status, 504);
    assert.equal(error.hash, HASH);
    assert.equal(requests.filter((r) => r.method === "POST").length, 1, "an unknown outcome is never sent again by the client");
    const outcome = await c.waitForTransfer(HASH, { pollMs: 1, timeoutMs: 5_000 });
    assert.equal(outcome?.status, "committed");
    assert.equal(looks, 3);
  });

  it("waitForTransfer resolves undefined once an unknown transfer's deadline is long past, and times out otherwise", async () => {
    handler = (req, res) => (req.url === "/v1/status" ? protocolRoutes(req, res) : refusal(res, 404, "NOT_FOUND", "unknown"));
    const c = client();
    assert.equal(await c.waitForTransfer(HASH, { deadline: 1_000n, pollMs: 1 }), undefined);
    // The last look is made at the cluster's commit index (the status answer's 10), not at whatever the client had seen.
    assert.equal(requests.at(-1)?.url, `/v1/transfers/${HASH}?minIndex=10`);
    await assert.rejects(c.waitForTransfer(HASH, { pollMs: 5, timeoutMs: 30 }), (e: unknown) => e instanceof DeltaClientError && e.code === "REQUEST_TIMEOUT");
  });

  it("a batch item answered OUTCOME_UNKNOWN keeps its hash", async () => {
    handler = (_req, res) => reply(res, 200, { results: [{ error: { code: "OUTCOME_UNKNOWN", message: "not decided" }, hash: HASH }] });
    const signed = fastSignTransfer(PRIVATE_KEY, DOMAIN, { to: BOB, token: TOKEN, amount: 1n, fee: 0n, nonce: 7n, deadline: 1_900_000_000n });
    const [item] = await client().submitTransfers([signed]);
    assert.deepEqual(item, { error: { code: "OUTCOME_UNKNOWN", message: "not decided" }, hash: HASH });
  });

});

describe("signing helpers", () => {
  const wallet = new Wallet(PRIVATE_KEY);
  const fields = { to: BOB, token: TOKEN, amount: BIG, fee: 2n, nonce: 3n, deadline: 1_900_000_000n };

  it("signTransfer's signature recovers to the wallet and equals fastSignTransfer's", async () => {
    const signed = await signTransfer(wallet, DOMAIN, fields);
    assert.equal(signed.from, ALICE);
    assert.equal(recoverSigner(hashTransfer(DOMAIN, signed), signed.signature), ALICE);
    const fast = fastSignTransfer(PRIVATE_KEY, DOMAIN, fields);
    assert.deepEqual(fast, signed);
    assert.deepEqual(fastSignTransfer(wallet.signingKey, DOMAIN, { ...fields, from: ALICE }), signed);
  });

  it("signWithdrawal's signature recovers to the wallet and equals fastSignWithdrawal's", async () => {
    const w = { token: NATIVE_TOKEN, amount: 9n, nonce: 4n, deadline: 1_900_000_000n };
    const signed = await signWithdrawal(wallet, DOMAIN, w);
    assert.equal(recoverSigner(hashWithdrawal(DOMAIN, signed), signed.signature), ALICE);
    assert.deepEqual(fastSignWithdrawal(PRIVATE_KEY, DOMAIN, w), signed);
  });

  it("defaults fee to 0 and checksums addresses given in lowercase", async () => {
    const signed = await signTransfer(wallet, DOMAIN, { to: BOB.toLowerCase(), token: NATIVE_TOKEN, amount: 1n, nonce: 0n, deadline: 1n });
    assert.equal(signed.fee, 0n);
    assert.equal(signed.to, BOB);
  });

  it("refuses to sign a transfer from an address that is not the signer's", async () => {
    await assert.rejects(signTransfer(wallet, DOMAIN, { ...fields, from: BOB }), (e: unknown) => e instanceof DeltaError && e.code === "INVALID_SIGNATURE");
  });
});
