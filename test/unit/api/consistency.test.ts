// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * PROTOCOL.md §2's consistency lines at the API layer, over the real-ledger service: the
 * X-Delta-Applied-Index header on every answer (reads, writes, refusals, unknown routes), GET
 * ?minIndex= (answered at once when applied, 503 BEHIND with Retry-After when not, 400 when
 * malformed), and 504 OUTCOME_UNKNOWN carrying the write's hash, for single writes and batch
 * items. The waiting itself, across real nodes, is tested in test/integration/node/readYourWrites.test.ts.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { Wallet } from "ethers";
import { ErrorBodySchema } from "../../../src/api/index.ts";
import { type Address, type BridgeDomain, NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";
import { closeApi, listenApi } from "./httpCaller.ts";
import { LedgerService } from "./ledgerService.ts";

const DOMAIN: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const ADMIN_TOKEN = "consistency-test-admin-token";
const FEE_RECIPIENT: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const NODE_ADDRESS: Address = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
// Hardhat's well-known development keys: never hold value.
const alice = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const bob = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");

let service: LedgerService;
let server: Server;
let base = "";

async function signTransfer(nonce: bigint, amount = "1"): Promise<Record<string, string>> {
  const message = { from: alice.address, to: bob.address, token: NATIVE_TOKEN, amount, fee: "0", nonce: nonce.toString(), deadline: "4000000000" };
  return { ...message, signature: await alice.signTypedData(DOMAIN, TYPES.Transfer, message) };
}

async function send(method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function appliedIndexOf(headers: Headers): number {
  const raw = headers.get("x-delta-applied-index");
  assert.ok(raw !== null && /^\d+$/.test(raw), `X-Delta-Applied-Index missing or malformed: ${raw}`);
  return Number(raw);
}

before(async () => {
  service = new LedgerService({ domain: DOMAIN, feeRecipient: FEE_RECIPIENT, nodeAddress: NODE_ADDRESS });
  service.deposit(alice.address as Address, NATIVE_TOKEN, 10n ** 18n);
  ({ server, base } = await listenApi(service, ADMIN_TOKEN));
});

after(async () => {
  await closeApi(server);
});

describe("X-Delta-Applied-Index", () => {
  test("every answer carries the node's applied index: reads, refusals, unknown routes", async () => {
    for (const path of ["/v1/status", "/v1/domain", `/v1/accounts/${alice.address}`, `/v1/transfers/0x${"ab".repeat(32)}`, "/v1/nowhere", "/healthz"]) {
      const answer = await send("GET", path);
      assert.equal(appliedIndexOf(answer.headers), service.appliedIndex(), path);
    }
  });

  test("a write's answer carries an index that includes the write", async () => {
    const before = service.appliedIndex();
    const answer = await send("POST", "/v1/transfers", await signTransfer(BigInt(service.account(alice.address).nonce)));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(appliedIndexOf(answer.headers), before + 1);
  });
});

describe("GET ?minIndex=", () => {
  test("answers at once when the node has applied that index", async () => {
    const at = service.appliedIndex();
    const answer = await send("GET", `/v1/accounts/${alice.address}?minIndex=${at}`);
    assert.equal(answer.status, 200);
    assert.equal(appliedIndexOf(answer.headers), at);
  });

  test("answers 503 BEHIND with Retry-After when the node has not applied it in time", async () => {
    const answer = await send("GET", `/v1/status?minIndex=${service.appliedIndex() + 1}`);
    assert.equal(answer.status, 503);
    assert.equal(ErrorBodySchema.strict().parse(answer.body).error.code, "BEHIND");
    assert.equal(answer.headers.get("retry-after"), "1");
    assert.equal(appliedIndexOf(answer.headers), service.appliedIndex());
  });

  test("refuses a malformed minIndex with 400 and reads nothing", async () => {
    for (const bad of ["-1", "1.5", "abc", "", "01", "99999999999999999999", "1&minIndex=2"]) {
      const answer = await send("GET", `/v1/status?minIndex=${bad}`);
      assert.equal(answer.status, 400, `minIndex=${bad}: ${JSON.stringify(answer.body)}`);
      assert.equal(ErrorBodySchema.strict().parse(answer.body).error.code, "INVALID_BODY");
    }
  });

  test("does not apply to writes (a POST with ?minIndex= is not held)", async () => {
    const answer = await send("POST", `/v1/transfers?minIndex=${service.appliedIndex() + 1000}`, await signTransfer(BigInt(service.account(alice.address).nonce)));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  });
});

describe("504 OUTCOME_UNKNOWN", () => {
  test("a single write not decided in time answers 504 with its hash, a batch item the same in place", async () => {
    service.outcomeUnknown = true;
    try {
      const nonce = BigInt(service.account(alice.address).nonce);
      const stateBefore = service.stateView().stateHash;
      const single = await send("POST", "/v1/transfers", await signTransfer(nonce));
      assert.equal(single.status, 504);
      const body = ErrorBodySchema.strict().parse(single.body);
      assert.equal(body.error.code, "OUTCOME_UNKNOWN");
      assert.match(body.hash ?? "", /^0x[0-9a-f]{64}$/);
      const batch = await send("POST", "/v1/transfers/batch", { transfers: [await signTransfer(nonce, "2"), { bad: true }] });
      assert.equal(batch.status, 200);
      const [unknown, bad] = (batch.body as { results: unknown[] }).results;
      const item = ErrorBodySchema.strict().parse(unknown);
      assert.equal(item.error.code, "OUTCOME_UNKNOWN");
      assert.match(item.hash ?? "", /^0x[0-9a-f]{64}$/);
      assert.notEqual(item.hash, body.hash);
      assert.equal("hash" in (bad as object), false, "a refusal other than OUTCOME_UNKNOWN carries no hash");
      assert.equal(service.stateView().stateHash, stateBefore);
    } finally {
      service.outcomeUnknown = false;
    }
  });
});
