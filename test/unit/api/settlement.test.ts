// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * GET /v1/epochs/:n/settlement (PROTOCOL.md §2) over HTTP, served by createApi over the real-ledger
 * service (ledgerService.ts) with three validator keys and chunks of at most 3 items, so one epoch
 * settles in several chunks. The answer must be exactly what `DeltaBridge.settle` accepts: every
 * chunk conserves per token, the chunks add up to the epoch's netting, and each chunk's signatures
 * recover, over the EIP-712 digest ethers computes on its own, to the validators in ascending order.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { recoverAddress, Signature, TypedDataEncoder, Wallet } from "ethers";
import { EpochViewSchema, SettlementViewSchema } from "../../../src/api/index.ts";
import { type Address, type BridgeDomain, hashSettlement, NATIVE_TOKEN, SECP256K1_N, type Settlement, TYPES } from "../../../src/protocol/index.ts";
import { apiCaller, closeApi, listenApi } from "./httpCaller.ts";
import { LedgerService, TEST_VALIDATORS } from "./ledgerService.ts";

const DOMAIN: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const ADMIN_TOKEN = "settlement-test-admin-token";
const TOKEN: Address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const FEE_RECIPIENT: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const NODE_ADDRESS: Address = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
const MAX_ITEMS = 3;
const ETH = 10n ** 18n;
const FAR_DEADLINE = "4000000000";

// Hardhat's well-known development keys: never hold value.
const alice = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const bob = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const carol = new Wallet("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804c8ab365a");
/** Never funded: only receives. */
const dave = new Wallet("0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba");

/** Handed to the service in descending address order: the answer must sort them. */
const VALIDATORS = [...TEST_VALIDATORS].sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? 1 : -1));
const ASCENDING = VALIDATORS.map((v) => v.address).reverse();

let service: LedgerService;
let server: Server;
let base = "";

const { call, refused } = apiCaller(() => base);

async function transfer(signer: Wallet, to: Wallet | Address, token: Address, amount: bigint, fee: bigint, nonce: number): Promise<void> {
  const message = {
    from: signer.address,
    to: typeof to === "string" ? to : to.address,
    token,
    amount: amount.toString(),
    fee: fee.toString(),
    nonce: String(nonce),
    deadline: FAR_DEADLINE,
  };
  const signature = await signer.signTypedData(DOMAIN, TYPES.Transfer, message);
  const answer = await call("POST", "/v1/transfers", { ...message, signature });
  assert.equal(answer.status, 200, answer.text);
}

async function withdraw(signer: Wallet, token: Address, amount: bigint, nonce: number): Promise<void> {
  const message = { account: signer.address, token, amount: amount.toString(), nonce: String(nonce), deadline: FAR_DEADLINE };
  const signature = await signer.signTypedData(DOMAIN, TYPES.Withdrawal, message);
  const answer = await call("POST", "/v1/withdrawals", { ...message, signature });
  assert.equal(answer.status, 200, answer.text);
}

/** The wire settlement back as the protocol struct, to hash it. */
function toSettlement(s: {
  epoch: string;
  chunk: number;
  chunks: number;
  transfersRoot: string;
  deltas: readonly { account: string; token: string; amount: string }[];
  payouts: readonly { account: string; token: string; amount: string }[];
}): Settlement {
  const item = (i: { account: string; token: string; amount: string }) => ({ account: i.account as Address, token: i.token as Address, amount: BigInt(i.amount) }); // validated by SettlementViewSchema
  return { epoch: BigInt(s.epoch), chunk: s.chunk, chunks: s.chunks, transfersRoot: s.transfersRoot as `0x${string}`, deltas: s.deltas.map(item), payouts: s.payouts.map(item) };
}

function addTo(map: Map<string, bigint>, key: string, amount: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + amount);
}

before(async () => {
  service = new LedgerService({ domain: DOMAIN, feeRecipient: FEE_RECIPIENT, nodeAddress: NODE_ADDRESS, validators: VALIDATORS, maxItemsPerChunk: MAX_ITEMS, signaturesGathered: false });
  service.deposit(alice.address as Address, NATIVE_TOKEN, 10n * ETH);
  service.deposit(alice.address as Address, TOKEN, 1_000n);
  service.deposit(bob.address as Address, NATIVE_TOKEN, 5n * ETH);
  service.deposit(carol.address as Address, TOKEN, 1_000n);
  ({ server, base } = await listenApi(service, ADMIN_TOKEN));
});

after(() => closeApi(server));

describe("GET /v1/epochs/:n/settlement", () => {
  test("400 INVALID_BODY for a malformed epoch number", async () => {
    for (const n of ["abc", "01", "-1", "1.0", "0x1", String(1n << 64n), "current"]) {
      await refused(`/v1/epochs/${n}/settlement`, 400, "INVALID_BODY");
    }
  });

  test("404 NOT_FOUND for an epoch that does not exist", async () => {
    await refused("/v1/epochs/0/settlement", 404, "NOT_FOUND");
    await refused("/v1/epochs/2/settlement", 404, "NOT_FOUND");
    await refused(`/v1/epochs/${(1n << 64n) - 1n}/settlement`, 404, "NOT_FOUND");
  });

  test("409 EPOCH_OPEN while the epoch is open", async () => {
    await transfer(alice, bob, NATIVE_TOKEN, 1n * ETH, 1_000n, 0);
    await transfer(alice, carol, TOKEN, 300n, 5n, 1);
    await transfer(bob, carol, NATIVE_TOKEN, 2n * ETH, 0n, 0);
    await transfer(carol, dave.address as Address, TOKEN, 100n, 0n, 0);
    await withdraw(bob, NATIVE_TOKEN, 1n * ETH, 1);
    await withdraw(carol, TOKEN, 50n, 1);
    await refused("/v1/epochs/1/settlement", 409, "EPOCH_OPEN");
  });

  test("409 WRONG_STATE once sealed while the validators' signatures are being gathered", async () => {
    const sealed = await call("POST", "/v1/admin/seal", undefined, { authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.deepEqual(sealed.body, { epoch: "1" });
    const stateBefore = service.stateHash();
    await refused("/v1/epochs/1/settlement", 409, "WRONG_STATE");
    assert.equal(service.stateHash(), stateBefore);
    // The next epoch is open now (and empty).
    await refused("/v1/epochs/2/settlement", 409, "EPOCH_OPEN");
  });

  test("a sealed epoch: every chunk conserves, the chunks add up to the epoch, each signed by the validators in ascending order", async () => {
    service.signaturesGathered = true;
    const answer = await call("GET", "/v1/epochs/1/settlement");
    assert.equal(answer.status, 200, answer.text);
    const view = SettlementViewSchema.parse(answer.body);
    // Nothing beyond the documented fields (parse would drop them silently).
    assert.deepEqual(view, answer.body);
    assert.equal(view.epoch, "1");

    const epochAnswer = await call("GET", "/v1/epochs/1");
    const epoch = EpochViewSchema.parse(epochAnswer.body);
    assert.equal(epoch.status, "sealed");
    // 5 items per token (4 deltas and a payout each) cannot fit chunks of 3.
    assert.ok(view.chunks.length >= 4, `expected several chunks, got ${view.chunks.length}`);

    const deltas = new Map<string, bigint>();
    const payouts = new Map<string, bigint>();
    for (const [i, { settlement, signatures }] of view.chunks.entries()) {
      assert.equal(settlement.epoch, "1");
      assert.equal(settlement.chunk, i);
      assert.equal(settlement.chunks, view.chunks.length);
      assert.equal(settlement.transfersRoot, epoch.root);
      assert.ok(settlement.deltas.length + settlement.payouts.length <= MAX_ITEMS, `chunk ${i} is over ${MAX_ITEMS} items`);
      assert.ok(settlement.deltas.length + settlement.payouts.length > 0, `chunk ${i} is empty`);

      const perToken = new Map<string, bigint>();
      for (const d of settlement.deltas) {
        assert.notEqual(BigInt(d.amount), 0n);
        addTo(perToken, d.token, BigInt(d.amount));
        addTo(deltas, `${d.account}/${d.token}`, BigInt(d.amount));
      }
      for (const p of settlement.payouts) {
        assert.ok(BigInt(p.amount) > 0n);
        addTo(perToken, p.token, BigInt(p.amount));
        addTo(payouts, `${p.account}/${p.token}`, BigInt(p.amount));
      }
      for (const [token, sum] of perToken) assert.equal(sum, 0n, `chunk ${i} does not conserve ${token}`);

      // The digest the contract checks, computed by ethers from the wire values alone...
      const digest = TypedDataEncoder.hash(DOMAIN, TYPES.Settlement, settlement);
      // ...is the one the node signs (src/protocol).
      assert.equal(hashSettlement(DOMAIN, toSettlement(settlement)), digest);
      const signers = signatures.map((sig) => recoverAddress(digest, sig));
      assert.deepEqual(signers, ASCENDING, `chunk ${i}: signers not the validators in ascending order`);
      for (const sig of signatures) {
        const { s, v } = Signature.from(sig);
        assert.ok(BigInt(s) <= SECP256K1_N / 2n, "high-s signature");
        assert.ok(v === 27 || v === 28);
      }
    }

    const epochDeltas = new Map(epoch.deltas.map((d) => [`${d.account}/${d.token}`, BigInt(d.delta)]));
    const epochPayouts = new Map(epoch.payouts.map((p) => [`${p.account}/${p.token}`, BigInt(p.amount)]));
    assert.deepEqual(deltas, epochDeltas);
    assert.deepEqual(payouts, epochPayouts);
    // The scenario's netting, as a cross-check of the epoch view itself.
    assert.equal(epochPayouts.get(`${bob.address}/${NATIVE_TOKEN}`), 1n * ETH);
    assert.equal(epochDeltas.get(`${FEE_RECIPIENT}/${TOKEN}`), 5n);
    assert.equal(epochDeltas.get(`${dave.address}/${TOKEN}`), 100n);
  });

  test("the OpenAPI document lists the route with its answers", async () => {
    const answer = await call("GET", "/v1/openapi.json");
    assert.equal(answer.status, 200);
    const doc = answer.body as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } }; // checked field by field below
    const op = doc.paths["/v1/epochs/{n}/settlement"]?.["get"];
    assert.ok(op !== undefined, "route not listed");
    assert.equal(op.operationId, "getEpochSettlement");
    assert.deepEqual(Object.keys(op.responses).sort(), ["200", "400", "404", "409", "500", "503"]);
    assert.deepEqual(op.responses["200"], { description: "Every chunk with its validators' signatures", content: { "application/json": { schema: { $ref: "#/components/schemas/SettlementView" } } },
      headers: { "X-Delta-Applied-Index": { description: "the last log index the answering node had applied", schema: { type: "string", pattern: "^(0|[1-9][0-9]*)$" } } },
    });
    assert.ok(doc.components.schemas["SettlementView"] !== undefined);
  });
});
