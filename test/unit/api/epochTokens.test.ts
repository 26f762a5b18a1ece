// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * GET /v1/epochs/:n/tokens (ours, not PROTOCOL.md's) over HTTP, served by createApi over the
 * real-ledger service (ledgerService.ts): per token, the transfers and withdrawals an epoch applied,
 * tokens ascending by address (not by their checksummed spelling), for an open, a sealed and a
 * settled epoch. Every answer is checked against EpochTokensViewSchema.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { getAddress, Wallet } from "ethers";
import { EpochTokensViewSchema, EpochViewSchema } from "../../../src/api/index.ts";
import { applyEntry } from "../../../src/ledger/index.ts";
import { type Address, type BridgeDomain, NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";
import { apiCaller, closeApi, listenApi } from "./httpCaller.ts";
import { LedgerService } from "./ledgerService.ts";

const DOMAIN: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const ADMIN_TOKEN = "epoch-tokens-test-admin-token";
/**
 * Two tokens whose checksummed spellings sort the other way round from their addresses
 * ("0xAa…" > "0xAB…" as strings, 0xaa… < 0xab… as numbers): the answer must follow the addresses.
 */
const TOKEN_A: Address = "0xAa00000000000000000000000000000000000002";
const TOKEN_B: Address = "0xAB00000000000000000000000000000000000001";
const FEE_RECIPIENT: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const NODE_ADDRESS: Address = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
const ETH = 10n ** 18n;
const FAR_DEADLINE = "4000000000";

// Hardhat's well-known development keys: never hold value.
const alice = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const bob = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const carol = new Wallet("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804c8ab365a");
/** Never funded: only receives, and has its one spending attempt refused. */
const dave = new Wallet("0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba");

/** Epoch 1's counts, as the messages below make them. */
const EPOCH_1 = {
  epoch: "1",
  tokens: [
    { token: NATIVE_TOKEN, transfers: 2, withdrawals: 1 },
    { token: TOKEN_A, transfers: 1, withdrawals: 1 },
    { token: TOKEN_B, transfers: 2, withdrawals: 1 },
  ],
};

let service: LedgerService;
let server: Server;
let base = "";

const { call, refused } = apiCaller(() => base);

/** GET /v1/epochs/:n/tokens: 200, exactly the schema's fields, checksummed tokens strictly ascending by address. */
async function tokensOf(n: string): Promise<unknown> {
  const answer = await call("GET", `/v1/epochs/${n}/tokens`);
  assert.equal(answer.status, 200, answer.text);
  const view = EpochTokensViewSchema.parse(answer.body);
  // Nothing beyond the documented fields (parse would drop them silently).
  assert.deepEqual(view, answer.body);
  for (const [i, t] of view.tokens.entries()) {
    assert.equal(t.token, getAddress(t.token), "token not checksummed");
    const previous = view.tokens[i - 1];
    if (previous !== undefined) assert.ok(BigInt(previous.token) < BigInt(t.token), `tokens not ascending: ${previous.token} then ${t.token}`);
  }
  return answer.body;
}

async function transfer(signer: Wallet, to: Wallet, token: Address, amount: bigint, fee: bigint, nonce: number, status = 200): Promise<void> {
  const message = { from: signer.address, to: to.address, token, amount: amount.toString(), fee: fee.toString(), nonce: String(nonce), deadline: FAR_DEADLINE };
  const signature = await signer.signTypedData(DOMAIN, TYPES.Transfer, message);
  const answer = await call("POST", "/v1/transfers", { ...message, signature });
  assert.equal(answer.status, status, answer.text);
}

async function withdraw(signer: Wallet, token: Address, amount: bigint, nonce: number): Promise<void> {
  const message = { account: signer.address, token, amount: amount.toString(), nonce: String(nonce), deadline: FAR_DEADLINE };
  const signature = await signer.signTypedData(DOMAIN, TYPES.Withdrawal, message);
  const answer = await call("POST", "/v1/withdrawals", { ...message, signature });
  assert.equal(answer.status, 200, answer.text);
}

async function statusOf(n: string): Promise<string> {
  const answer = await call("GET", `/v1/epochs/${n}`);
  assert.equal(answer.status, 200, answer.text);
  return EpochViewSchema.parse(answer.body).status;
}

before(async () => {
  service = new LedgerService({ domain: DOMAIN, feeRecipient: FEE_RECIPIENT, nodeAddress: NODE_ADDRESS });
  service.deposit(alice.address as Address, NATIVE_TOKEN, 10n * ETH);
  service.deposit(alice.address as Address, TOKEN_A, 1_000n);
  service.deposit(alice.address as Address, TOKEN_B, 1_000n);
  service.deposit(bob.address as Address, NATIVE_TOKEN, 5n * ETH);
  service.deposit(carol.address as Address, TOKEN_B, 1_000n);
  ({ server, base } = await listenApi(service, ADMIN_TOKEN));
});

after(() => closeApi(server));

describe("GET /v1/epochs/:n/tokens", () => {
  test("400 INVALID_BODY for a malformed epoch number", async () => {
    for (const n of ["abc", "01", "-1", "1.0", "0x1", "1e3", String(1n << 64n), "current"]) {
      await refused(`/v1/epochs/${n}/tokens`, 400, "INVALID_BODY");
    }
  });

  test("404 NOT_FOUND for an epoch that does not exist", async () => {
    await refused("/v1/epochs/0/tokens", 404, "NOT_FOUND");
    await refused("/v1/epochs/2/tokens", 404, "NOT_FOUND");
    await refused(`/v1/epochs/${(1n << 64n) - 1n}/tokens`, 404, "NOT_FOUND");
  });

  test("an empty open epoch: no tokens", async () => {
    assert.equal(await statusOf("1"), "open");
    assert.deepEqual(await tokensOf("1"), { epoch: "1", tokens: [] });
  });

  test("an open epoch with ETH and token transfers and withdrawals: counts per token, ascending, refusals left out", async () => {
    // TOKEN_B first and ETH last: the answer must not follow the order the messages came in.
    await transfer(alice, bob, TOKEN_B, 100n, 0n, 0);
    await transfer(carol, dave, TOKEN_B, 50n, 3n, 0);
    await transfer(alice, carol, TOKEN_A, 10n, 0n, 1);
    await withdraw(carol, TOKEN_B, 20n, 1);
    await withdraw(alice, TOKEN_A, 5n, 2);
    await transfer(alice, bob, NATIVE_TOKEN, 1n * ETH, 1_000n, 3);
    await transfer(bob, carol, NATIVE_TOKEN, 2n * ETH, 0n, 0);
    await withdraw(bob, NATIVE_TOKEN, 1n * ETH, 1);
    // Refused by the ledger (Dave holds no ETH): not counted.
    await transfer(dave, alice, NATIVE_TOKEN, 1n, 0n, 0, 422);
    const stateBefore = service.stateHash();
    assert.deepEqual(await tokensOf("1"), EPOCH_1);
    assert.equal(service.stateHash(), stateBefore, "a read changes nothing");
    await refused("/v1/epochs/2/tokens", 404, "NOT_FOUND");
  });

  test("a sealed epoch keeps its counts; the next epoch opens empty and counts on its own", async () => {
    const sealed = await call("POST", "/v1/admin/seal", undefined, { authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.deepEqual(sealed.body, { epoch: "1" });
    assert.equal(await statusOf("1"), "sealed");
    assert.deepEqual(await tokensOf("1"), EPOCH_1);
    assert.deepEqual(await tokensOf("2"), { epoch: "2", tokens: [] });

    await transfer(alice, dave, TOKEN_A, 1n, 0n, 4);
    assert.deepEqual(await tokensOf("2"), { epoch: "2", tokens: [{ token: TOKEN_A, transfers: 1, withdrawals: 0 }] });
    assert.deepEqual(await tokensOf("1"), EPOCH_1, "a sealed epoch takes no new messages");
  });

  test("a settled epoch keeps its counts", async () => {
    // The node settles through its log; the test service has no settler, so apply the entry directly.
    const settled = applyEntry(service.state, { type: "settled", epoch: 1n, txHashes: [`0x${"ab".repeat(32)}`] });
    assert.equal(settled.status, "settled");
    assert.equal(await statusOf("1"), "settled");
    assert.deepEqual(await tokensOf("1"), EPOCH_1);
  });

  test("the OpenAPI document lists the route with its answers", async () => {
    const answer = await call("GET", "/v1/openapi.json");
    assert.equal(answer.status, 200);
    const doc = answer.body as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } }; // checked field by field below
    const op = doc.paths["/v1/epochs/{n}/tokens"]?.["get"];
    assert.ok(op !== undefined, "route not listed");
    assert.equal(op.operationId, "getEpochTokens");
    assert.deepEqual(Object.keys(op.responses).sort(), ["200", "400", "404", "500", "503"]);
    assert.deepEqual(op.responses["200"], { description: "The epoch's counts per token, tokens ascending", content: { "application/json": { schema: { $ref: "#/components/schemas/EpochTokensView" } } },
      headers: { "X-Delta-Applied-Index": { description: "the last log index the answering node had applied", schema: { type: "string", pattern: "^(0|[1-9][0-9]*)$" } } },
    });
    assert.ok(doc.components.schemas["EpochTokensView"] !== undefined);
  });
});
