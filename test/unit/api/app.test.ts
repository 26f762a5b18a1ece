// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The REST API of PROTOCOL.md §2 over HTTP, served by createApi over a NodeService backed by a
 * real ledger and real signature recovery (ledgerService.ts). Happy paths check each answer
 * against its OpenAPI schema; every refusal is table-driven and proven to leave the ledger's state
 * hash unchanged.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, Wallet } from "ethers";
import { pino } from "pino";
import type { z } from "zod";
import {
  AccountViewSchema,
  BatchResultSchema,
  CommittedViewSchema,
  createApi,
  DomainViewSchema,
  EpochViewSchema,
  ProofViewSchema,
  ErrorBodySchema,
  HealthSchema,
  SealResultSchema,
  SettlementViewSchema,
  StatusViewSchema,
  TransferViewSchema,
} from "../../../src/api/index.ts";
import {
  type Address,
  type BridgeDomain,
  NATIVE_TOKEN,
  SECP256K1_N,
  TRANSFER_BATCH_MAX,
  TYPES,
} from "../../../src/protocol/index.ts";
import { LedgerService, NOW_SEC } from "./ledgerService.ts";

const DOMAIN: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const ADMIN_TOKEN = "s3cret-admin-token-for-tests";
const TOKEN: Address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const FEE_RECIPIENT: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const NODE_ADDRESS: Address = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

// Hardhat's well-known development keys: never hold value.
const alice = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const bob = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const carol = new Wallet("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804c8ab365a");
/** Never funded and never paid. */
const dave = new Wallet("0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba");

function addr(wallet: Wallet): Address {
  return wallet.address as Address; // ethers gives a checksummed 0x + 40 hex digits
}

const FAR_DEADLINE = "4000000000";
const ETH = 10n ** 18n;

type Json = Record<string, unknown>;

interface TransferFields {
  from?: string;
  to: string;
  token?: string;
  amount: string;
  fee?: string;
  nonce: string;
  deadline?: string;
}

/** A transfer body signed by `signer` (by default the sender), as a wallet sends it. */
async function signTransfer(signer: Wallet, fields: TransferFields): Promise<Json> {
  const message = {
    from: fields.from ?? signer.address,
    to: fields.to,
    token: fields.token ?? NATIVE_TOKEN,
    amount: fields.amount,
    fee: fields.fee ?? "0",
    nonce: fields.nonce,
    deadline: fields.deadline ?? FAR_DEADLINE,
  };
  const signature = await signer.signTypedData(DOMAIN, TYPES.Transfer, message);
  return { ...message, signature };
}

async function signWithdrawal(signer: Wallet, fields: { amount: string; nonce: string; token?: string; deadline?: string; account?: string }): Promise<Json> {
  const message = {
    account: fields.account ?? signer.address,
    token: fields.token ?? NATIVE_TOKEN,
    amount: fields.amount,
    nonce: fields.nonce,
    deadline: fields.deadline ?? FAR_DEADLINE,
  };
  const signature = await signer.signTypedData(DOMAIN, TYPES.Withdrawal, message);
  return { ...message, signature };
}

/** The malleable twin (r, n - s, v flipped): same signer, high s. */
function highS(signature: string): string {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = signature.slice(130) === "1b" ? "1c" : "1b";
  return `${signature.slice(0, 66)}${(SECP256K1_N - s).toString(16).padStart(64, "0")}${v}`;
}

function badChecksum(address: string): string {
  // Flip the case of the first letter digit: still mixed case, no longer EIP-55.
  const i = address.slice(2).search(/[a-fA-F]/) + 2;
  const c = address.charAt(i);
  return address.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + address.slice(i + 1);
}

interface Call {
  readonly method: "GET" | "POST";
  readonly path: string;
  /** JSON-encoded unless `raw` is given. */
  readonly json?: unknown;
  readonly raw?: string | Uint8Array;
  /** Content-Type to send; default application/json for `json`. */
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: unknown;
}

let service: LedgerService;
let server: Server;
let small: Server;
let base = "";
let smallBase = "";
const logLines: string[] = [];

async function listen(app: ReturnType<typeof createApi>): Promise<{ server: Server; base: string }> {
  const s = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    s.once("listening", resolve);
    s.once("error", reject);
  });
  const { port } = s.address() as AddressInfo; // a TCP listener's address is an AddressInfo
  return { server: s, base: `http://127.0.0.1:${port}` };
}

async function call(c: Call, at: string = base): Promise<Answer> {
  const headers: Record<string, string> = { ...c.headers };
  let body: string | Uint8Array | undefined;
  if (c.raw !== undefined) body = c.raw;
  else if (c.json !== undefined) body = JSON.stringify(c.json);
  if (c.contentType !== undefined) headers["content-type"] = c.contentType;
  else if (c.json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(at + c.path, { method: c.method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** Asserts a 200 JSON answer matching `schema`, and returns it parsed. */
function ok<S extends z.ZodType>(answer: Answer, schema: S): z.output<S> {
  assert.equal(answer.status, 200, answer.text);
  assert.match(answer.headers.get("content-type") ?? "", /^application\/json/);
  return schema.parse(answer.body);
}

function field(value: unknown, key: string): unknown {
  assert.ok(typeof value === "object" && value !== null, "expected an object");
  return (value as Record<string, unknown>)[key]; // narrowed to a non-null object just above
}

function nonceOf(wallet: Wallet): bigint {
  return BigInt(service.account(wallet.address).nonce);
}

before(async () => {
  service = new LedgerService({ domain: DOMAIN, feeRecipient: FEE_RECIPIENT, nodeAddress: NODE_ADDRESS });
  service.deposit(addr(alice), NATIVE_TOKEN, 100n * ETH);
  service.deposit(addr(alice), TOKEN, 1_000n);
  const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });
  ({ server, base } = await listen(createApi(service, { adminToken: ADMIN_TOKEN, logger })));
  // A second app in the same process: its own metrics registry, and a 1 KiB body limit.
  ({ server: small, base: smallBase } = await listen(createApi(service, { adminToken: ADMIN_TOKEN, maxBodyBytes: 1024 })));
});

after(async () => {
  for (const s of [server, small]) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

describe("REST API happy paths (PROTOCOL.md §2)", () => {
  let committedHash = "";

  test("GET /v1/domain answers the EIP-712 domain and the fee recipient", async () => {
    const domain = ok(await call({ method: "GET", path: "/v1/domain" }), DomainViewSchema);
    assert.deepEqual(domain, { name: "DeltaBridge", version: "1", chainId: "1337", verifyingContract: DOMAIN.verifyingContract, feeRecipient: FEE_RECIPIENT });
  });

  test("GET /v1/status answers the node's role, term, indexes and epochs", async () => {
    const status = ok(await call({ method: "GET", path: "/v1/status" }), StatusViewSchema);
    assert.equal(status.role, "leader");
    assert.equal(status.epoch, "1");
    assert.equal(status.leader, NODE_ADDRESS);
  });

  test("GET /v1/accounts/:address accepts any case and answers checksummed", async () => {
    const account = ok(await call({ method: "GET", path: `/v1/accounts/${alice.address.toLowerCase()}` }), AccountViewSchema);
    assert.deepEqual(account, { address: addr(alice), nonce: "0", balances: { [NATIVE_TOKEN]: (100n * ETH).toString(), [TOKEN]: "1000" } });
    const unknown = ok(await call({ method: "GET", path: `/v1/accounts/${carol.address.toUpperCase().replace("0X", "0x")}` }), AccountViewSchema);
    assert.deepEqual(unknown, { address: addr(carol), nonce: "0", balances: {} });
  });

  test("POST /v1/transfers commits a signed transfer and answers hash, index and epoch", async () => {
    const body = await signTransfer(alice, { to: bob.address, amount: ETH.toString(), fee: "1000", nonce: "0" });
    const committed = ok(await call({ method: "POST", path: "/v1/transfers", json: body }), CommittedViewSchema);
    assert.deepEqual({ ...committed, hash: "" }, { hash: "", status: "committed", index: 0, epoch: "1" });
    committedHash = committed.hash;
    assert.equal(service.account(bob.address).balances[NATIVE_TOKEN], ETH.toString());
  });

  test("GET /v1/transfers/:hash answers the committed transfer (hash in any case)", async () => {
    for (const hash of [committedHash, committedHash.toUpperCase().replace("0X", "0x")]) {
      const view = ok(await call({ method: "GET", path: `/v1/transfers/${hash}` }), TransferViewSchema);
      assert.deepEqual(view, {
        hash: committedHash,
        status: "committed",
        index: 0,
        epoch: "1",
        from: addr(alice),
        to: addr(bob),
        token: NATIVE_TOKEN,
        amount: ETH.toString(),
        fee: "1000",
        nonce: "0",
        deadline: FAR_DEADLINE,
      });
    }
  });

  test("POST /v1/withdrawals commits a signed withdrawal and debits at once", async () => {
    const body = await signWithdrawal(alice, { token: TOKEN, amount: "400", nonce: "1" });
    const committed = ok(await call({ method: "POST", path: "/v1/withdrawals", json: body }), CommittedViewSchema);
    assert.equal(committed.index, 1);
    assert.equal(service.account(alice.address).balances[TOKEN], "600");
  });

  test("POST /v1/transfers/batch answers every item in order: valid ones committed, invalid ones refused in place", async () => {
    const n = nonceOf(alice);
    const first = await signTransfer(alice, { to: bob.address, amount: "5", nonce: String(n) });
    const items = [
      first,
      { ...(await signTransfer(alice, { to: bob.address, amount: "6", nonce: String(n + 1n) })), amount: "six" },
      await signTransfer(alice, { to: carol.address, amount: "7", nonce: String(n + 1n) }),
      await signTransfer(carol, { from: alice.address, to: carol.address, amount: "8", nonce: String(n + 2n) }),
      await signTransfer(alice, { to: bob.address, amount: "9", nonce: String(n + 9n) }),
      first,
      await signTransfer(alice, { to: bob.address, amount: "10", nonce: String(n + 2n) }),
    ];
    const before = service.stateHash();
    const { results } = ok(await call({ method: "POST", path: "/v1/transfers/batch", json: { transfers: items } }), BatchResultSchema);
    assert.notEqual(service.stateHash(), before);
    const summary = results.map((r) => ("error" in r ? r.error.code : `${r.status}@${r.index}`));
    assert.deepEqual(summary, ["committed@2", "INVALID_AMOUNT", "committed@3", "INVALID_SIGNATURE", "NONCE_GAP", "DUPLICATE", "committed@4"]);
    const refusal = results[1];
    assert.ok(refusal !== undefined && "error" in refusal);
    assert.match(refusal.error.message, /^amount /);
    assert.equal(nonceOf(alice), n + 3n);
  });

  test("POST /v1/transfers/batch with only invalid items answers each and applies nothing", async () => {
    const before = service.stateHash();
    const { results } = ok(await call({ method: "POST", path: "/v1/transfers/batch", json: { transfers: [{}, { memo: 1 }] } }), BatchResultSchema);
    assert.deepEqual(results.map((r) => ("error" in r ? r.error.code : r.status)), ["MISSING_FIELD", "UNKNOWN_FIELD"]);
    assert.equal(service.stateHash(), before);
  });

  test("GET /v1/epochs/current answers the open epoch's netting so far", async () => {
    const epoch = ok(await call({ method: "GET", path: "/v1/epochs/current" }), EpochViewSchema);
    assert.equal(epoch.epoch, "1");
    assert.equal(epoch.status, "open");
    assert.equal(epoch.root, null);
    assert.equal(epoch.transfers, 4);
    assert.ok(epoch.deltas.some((d) => d.account === addr(bob) && d.token === NATIVE_TOKEN));
    assert.ok(epoch.payouts.some((p) => p.account === addr(alice) && p.token === TOKEN && p.amount === "400"));
  });

  let provenHash = "";
  test("GET /v1/transfers/:hash/proof: 409 EPOCH_OPEN while the epoch is open, 404 for an unknown hash", async () => {
    const body = await signTransfer(alice, { to: bob.address, amount: "3", nonce: String(nonceOf(alice)) });
    const committed = ok(await call({ method: "POST", path: "/v1/transfers", json: body }), CommittedViewSchema);
    provenHash = committed.hash;
    const open = await call({ method: "GET", path: `/v1/transfers/${provenHash}/proof` });
    assert.equal(open.status, 409);
    assert.equal(field(field(open.body, "error"), "code"), "EPOCH_OPEN");
    const unknown = await call({ method: "GET", path: `/v1/transfers/0x${"cd".repeat(32)}/proof` });
    assert.equal(unknown.status, 404);
  });

  test("POST /v1/admin/seal with the token seals the open epoch, then answers null when empty", async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    assert.deepEqual(ok(await call({ method: "POST", path: "/v1/admin/seal", headers: auth }), SealResultSchema), { epoch: "1" });
    assert.deepEqual(ok(await call({ method: "POST", path: "/v1/admin/seal", headers: auth, json: {} }), SealResultSchema), { epoch: null });
    const sealed = ok(await call({ method: "GET", path: "/v1/epochs/1" }), EpochViewSchema);
    assert.equal(sealed.status, "sealed");
    assert.match(sealed.root ?? "", /^0x[0-9a-f]{64}$/);
    // Once sealed, the proof links keccak256(hash) to the epoch's root (PROTOCOL.md §4).
    const proof = ok(await call({ method: "GET", path: `/v1/transfers/${provenHash}/proof` }), ProofViewSchema);
    assert.equal(proof.root, sealed.root);
    assert.equal(proof.leaf, keccak256(provenHash));
    assert.ok(SimpleMerkleTree.verify(proof.root, proof.leaf, proof.proof));
    // And its settlement is served (settlement.test.ts checks it in depth).
    const settlement = ok(await call({ method: "GET", path: "/v1/epochs/1/settlement" }), SettlementViewSchema);
    assert.deepEqual(settlement.chunks.map((c) => c.settlement.transfersRoot), [sealed.root]);
    const current = ok(await call({ method: "GET", path: "/v1/epochs/current" }), EpochViewSchema);
    assert.deepEqual([current.epoch, current.status, current.transfers], ["2", "open", 0]);
  });

  test("GET /healthz answers ok", async () => {
    assert.deepEqual(ok(await call({ method: "GET", path: "/healthz" }), HealthSchema), { status: "ok" });
  });
});

// ---------------------------------------------------------------------------------------------

interface Refusal {
  readonly name: string;
  readonly status: number;
  readonly code: string;
  readonly request: () => Promise<Call> | Call;
  /** Runs before the request (and is undone after). */
  readonly setup?: () => () => void;
  readonly at?: () => string;
  readonly retryAfter?: string;
}

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const post = (path: string, json: unknown): Call => ({ method: "POST", path, json });
const get = (path: string): Call => ({ method: "GET", path });
const transferTo = async (fields: Partial<TransferFields>, signer: Wallet = alice): Promise<Json> =>
  signTransfer(signer, { to: bob.address, amount: "1", nonce: String(nonceOf(alice)), ...fields });
const noLeader = () => {
  service.noLeader = true;
  return () => void (service.noLeader = false);
};

const REFUSALS: readonly Refusal[] = [
  // 400: malformed
  { name: "malformed JSON", status: 400, code: "INVALID_BODY", request: () => ({ method: "POST", path: "/v1/transfers", raw: '{"from":', contentType: "application/json" }) },
  { name: "a JSON array body", status: 400, code: "INVALID_BODY", request: () => post("/v1/transfers", []) },
  { name: "a JSON string body (strict JSON)", status: 400, code: "INVALID_BODY", request: () => ({ method: "POST", path: "/v1/transfers", raw: '"hi"', contentType: "application/json" }) },
  { name: "an empty JSON body", status: 400, code: "MISSING_FIELD", request: () => ({ method: "POST", path: "/v1/transfers", raw: "", contentType: "application/json" }) },
  { name: "an unknown field", status: 400, code: "UNKNOWN_FIELD", request: async () => post("/v1/transfers", { ...(await transferTo({})), memo: "hi" }) },
  { name: "a missing signature", status: 400, code: "MISSING_FIELD", request: async () => post("/v1/transfers", { ...(await transferTo({})), signature: undefined }) },
  { name: "a fractional amount", status: 400, code: "INVALID_AMOUNT", request: async () => post("/v1/transfers", { ...(await transferTo({})), amount: "1.5" }) },
  { name: "a zero amount", status: 400, code: "AMOUNT_ZERO", request: async () => post("/v1/transfers", await transferTo({ amount: "0" })) },
  { name: "an amount as a JSON number", status: 400, code: "AMOUNT_NOT_STRING", request: async () => post("/v1/transfers", { ...(await transferTo({})), amount: 1 }) },
  { name: "an amount over uint256", status: 400, code: "AMOUNT_TOO_LARGE", request: async () => post("/v1/transfers", { ...(await transferTo({})), amount: (1n << 256n).toString() }) },
  { name: "a malformed address", status: 400, code: "INVALID_ADDRESS", request: async () => post("/v1/transfers", { ...(await transferTo({})), to: "0x1234" }) },
  { name: "a bad checksum", status: 400, code: "BAD_CHECKSUM", request: async () => post("/v1/transfers", { ...(await transferTo({})), to: badChecksum(bob.address) }) },
  { name: "the zero address as receiver", status: 400, code: "ZERO_ADDRESS", request: async () => post("/v1/transfers", await transferTo({ to: NATIVE_TOKEN })) },
  { name: "a transfer to oneself", status: 400, code: "SELF_TRANSFER", request: async () => post("/v1/transfers", await transferTo({ to: alice.address })) },
  {
    name: "a high-s signature",
    status: 400,
    code: "HIGH_S_SIGNATURE",
    request: async () => {
      const body = await transferTo({});
      return post("/v1/transfers", { ...body, signature: highS(String(body["signature"])) });
    },
  },
  {
    name: "a signature with v = 29",
    status: 400,
    code: "INVALID_V",
    request: async () => {
      const body = await transferTo({});
      return post("/v1/transfers", { ...body, signature: `${String(body["signature"]).slice(0, 130)}1d` });
    },
  },
  { name: "a transfer signed by someone else", status: 400, code: "INVALID_SIGNATURE", request: async () => post("/v1/transfers", await transferTo({ from: alice.address }, carol)) },
  {
    name: "a withdrawal signed by someone else",
    status: 400,
    code: "INVALID_SIGNATURE",
    request: async () => post("/v1/withdrawals", await signWithdrawal(carol, { account: alice.address, amount: "1", nonce: String(nonceOf(alice)) })),
  },
  { name: "an empty batch", status: 400, code: "BATCH_SIZE", request: () => post("/v1/transfers/batch", { transfers: [] }) },
  { name: "a batch over 10,000 items", status: 400, code: "BATCH_SIZE", request: () => post("/v1/transfers/batch", { transfers: new Array<Json>(TRANSFER_BATCH_MAX + 1).fill({}) }) },
  { name: "a batch envelope with an unknown field", status: 400, code: "UNKNOWN_FIELD", request: () => post("/v1/transfers/batch", { transfers: [{}], extra: 1 }) },
  { name: "a malformed address in the path", status: 400, code: "INVALID_ADDRESS", request: () => get("/v1/accounts/0x1234") },
  { name: "a bad checksum in the path", status: 400, code: "BAD_CHECKSUM", request: () => get(`/v1/accounts/${badChecksum(alice.address)}`) },
  { name: "a malformed hash in the path", status: 400, code: "INVALID_HASH", request: () => get("/v1/transfers/0x1234") },
  { name: "a non-decimal epoch", status: 400, code: "INVALID_BODY", request: () => get("/v1/epochs/one") },
  { name: "an epoch with a leading zero", status: 400, code: "INVALID_BODY", request: () => get("/v1/epochs/01") },
  { name: "an epoch over uint64", status: 400, code: "INVALID_BODY", request: () => get(`/v1/epochs/${1n << 64n}`) },
  { name: "a settlement of a malformed epoch", status: 400, code: "INVALID_BODY", request: () => get("/v1/epochs/1e3/settlement") },
  { name: "the tokens of a malformed epoch", status: 400, code: "INVALID_BODY", request: () => get("/v1/epochs/01/tokens") },
  { name: "a seal body with a field", status: 400, code: "UNKNOWN_FIELD", request: () => ({ method: "POST", path: "/v1/admin/seal", json: { epoch: "1" }, headers: auth }) },
  // 401
  { name: "a seal without a token", status: 401, code: "UNAUTHORIZED", request: () => ({ method: "POST", path: "/v1/admin/seal" }) },
  { name: "a seal with a wrong token", status: 401, code: "UNAUTHORIZED", request: () => ({ method: "POST", path: "/v1/admin/seal", headers: { authorization: "Bearer wrong" } }) },
  {
    name: "a seal with the token under another scheme",
    status: 401,
    code: "UNAUTHORIZED",
    request: () => ({ method: "POST", path: "/v1/admin/seal", headers: { authorization: `Basic ${ADMIN_TOKEN}` } }),
  },
  {
    name: "a seal with the token plus a suffix",
    status: 401,
    code: "UNAUTHORIZED",
    request: () => ({ method: "POST", path: "/v1/admin/seal", headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } }),
  },
  // 404
  { name: "an unknown transfer", status: 404, code: "NOT_FOUND", request: () => get(`/v1/transfers/0x${"ab".repeat(32)}`) },
  { name: "an unknown epoch", status: 404, code: "NOT_FOUND", request: () => get("/v1/epochs/99") },
  { name: "epoch 0", status: 404, code: "NOT_FOUND", request: () => get("/v1/epochs/0") },
  { name: "an unknown route", status: 404, code: "NOT_FOUND", request: () => get("/v1/nope") },
  { name: "a known path with the wrong method", status: 404, code: "NOT_FOUND", request: () => get("/v1/withdrawals") },
  { name: "an unknown transfer's proof", status: 404, code: "NOT_FOUND", request: () => get(`/v1/transfers/0x${"ab".repeat(32)}/proof`) },
  { name: "an unknown epoch's settlement", status: 404, code: "NOT_FOUND", request: () => get("/v1/epochs/99/settlement") },
  { name: "an unknown epoch's tokens", status: 404, code: "NOT_FOUND", request: () => get("/v1/epochs/99/tokens") },
  // 409
  { name: "a reused nonce", status: 409, code: "NONCE_REUSED", request: async () => post("/v1/transfers", await transferTo({ nonce: "0", amount: "3" })) },
  { name: "a nonce gap", status: 409, code: "NONCE_GAP", request: async () => post("/v1/transfers", await transferTo({ nonce: String(nonceOf(alice) + 2n) })) },
  {
    name: "a duplicate transfer",
    status: 409,
    code: "DUPLICATE",
    request: async () => {
      const body = await transferTo({ amount: "2" });
      const first = await call(post("/v1/transfers", body));
      assert.equal(first.status, 200, first.text);
      return post("/v1/transfers", body);
    },
  },
  { name: "the open epoch's settlement", status: 409, code: "EPOCH_OPEN", request: () => get(`/v1/epochs/${service.status().epoch}/settlement`) },
  { name: "a reused withdrawal nonce", status: 409, code: "NONCE_REUSED", request: async () => post("/v1/withdrawals", await signWithdrawal(alice, { amount: "1", nonce: "0" })) },
  // 413, 415
  {
    name: "a body over 8 MiB",
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    request: () => ({ method: "POST", path: "/v1/transfers/batch", raw: JSON.stringify({ transfers: ["x".repeat(8 * 1024 * 1024)] }), contentType: "application/json" }),
  },
  {
    name: "a body over a configured 1 KiB limit",
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    at: () => smallBase,
    request: async () => post("/v1/transfers/batch", { transfers: [await transferTo({}), await transferTo({}), await transferTo({}), await transferTo({})] }),
  },
  { name: "a text/plain body", status: 415, code: "UNSUPPORTED_MEDIA_TYPE", request: () => ({ method: "POST", path: "/v1/transfers", raw: "{}", contentType: "text/plain" }) },
  { name: "a body without Content-Type", status: 415, code: "UNSUPPORTED_MEDIA_TYPE", request: () => ({ method: "POST", path: "/v1/withdrawals", raw: new TextEncoder().encode("{}") }) },
  { name: "a form body", status: 415, code: "UNSUPPORTED_MEDIA_TYPE", request: () => ({ method: "POST", path: "/v1/transfers/batch", raw: "a=1", contentType: "application/x-www-form-urlencoded" }) },
  { name: "a write with no body at all", status: 415, code: "UNSUPPORTED_MEDIA_TYPE", request: () => ({ method: "POST", path: "/v1/transfers" }) },
  { name: "a seal with a text body", status: 415, code: "UNSUPPORTED_MEDIA_TYPE", request: () => ({ method: "POST", path: "/v1/admin/seal", raw: "{}", contentType: "text/plain", headers: auth }) },
  { name: "a JSON body in latin1", status: 415, code: "UNSUPPORTED_MEDIA_TYPE", request: () => ({ method: "POST", path: "/v1/transfers", raw: "{}", contentType: "application/json; charset=latin1" }) },
  // 422
  { name: "an amount over the balance", status: 422, code: "INSUFFICIENT_BALANCE", request: async () => post("/v1/transfers", await transferTo({ amount: (1000n * ETH).toString() })) },
  { name: "amount plus fee over the balance", status: 422, code: "INSUFFICIENT_BALANCE", request: async () => post("/v1/transfers", await transferTo({ token: TOKEN, amount: "600", fee: "1" })) },
  { name: "a sender with no balance", status: 422, code: "INSUFFICIENT_BALANCE", request: async () => post("/v1/transfers", await signTransfer(dave, { to: bob.address, amount: "1", nonce: "0" })) },
  { name: "an expired deadline", status: 422, code: "DEADLINE_EXPIRED", request: async () => post("/v1/transfers", await transferTo({ deadline: String(NOW_SEC - 1n) })) },
  { name: "a withdrawal over the balance", status: 422, code: "INSUFFICIENT_BALANCE", request: async () => post("/v1/withdrawals", await signWithdrawal(alice, { token: TOKEN, amount: "601", nonce: String(nonceOf(alice)) })) },
  // 503
  { name: "a transfer with no leader", status: 503, code: "NO_LEADER", retryAfter: "2", setup: noLeader, request: async () => post("/v1/transfers", await transferTo({})) },
  { name: "a batch with no leader", status: 503, code: "NO_LEADER", retryAfter: "2", setup: noLeader, request: async () => post("/v1/transfers/batch", { transfers: [await transferTo({})] }) },
  {
    name: "a withdrawal with no leader",
    status: 503,
    code: "NO_LEADER",
    retryAfter: "2",
    setup: noLeader,
    request: async () => post("/v1/withdrawals", await signWithdrawal(alice, { amount: "1", nonce: String(nonceOf(alice)) })),
  },
  { name: "a seal with no leader", status: 503, code: "NO_LEADER", retryAfter: "2", setup: noLeader, request: () => ({ method: "POST", path: "/v1/admin/seal", headers: auth }) },
  // 500
  {
    name: "an unexpected failure in the service",
    status: 500,
    code: "INTERNAL",
    setup: () => {
      service.failWith = new Error("disk /var/lib/delta/secret.db is gone");
      return () => void (service.failWith = undefined);
    },
    request: async () => post("/v1/transfers", await transferTo({})),
  },
];

describe("REST API refusals (PROTOCOL.md §2): each answers its status and code and changes nothing", () => {
  for (const r of REFUSALS) {
    test(`${r.status} ${r.code}: ${r.name}`, async () => {
      const request = await r.request();
      const stateBefore = service.stateHash();
      const undo = r.setup?.();
      let answer: Answer;
      try {
        answer = await call(request, r.at?.() ?? base);
      } finally {
        undo?.();
      }
      assert.equal(answer.status, r.status, answer.text);
      assert.match(answer.headers.get("content-type") ?? "", /^application\/json/);
      const body = ErrorBodySchema.strict().parse(answer.body);
      assert.equal(body.error.code, r.code, body.error.message);
      assert.ok(body.error.message.length > 0);
      assert.deepEqual(Object.keys(body.error).sort(), ["code", "message"]);
      if (r.retryAfter !== undefined) assert.equal(answer.headers.get("retry-after"), r.retryAfter);
      if (r.status === 401) assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer/);
      if (r.status === 500) assert.doesNotMatch(answer.text, /secret|disk|var/);
      assert.equal(service.stateHash(), stateBefore, "a refused request changed the ledger");
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe("observability", () => {
  test("GET /metrics serves the node gauges and the API counters in Prometheus text", async () => {
    const answer = await call({ method: "GET", path: "/metrics" });
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get("content-type") ?? "", /^text\/plain/);
    for (const line of [
      'delta_node_role{role="leader"} 1',
      'delta_node_role{role="follower"} 0',
      "delta_node_term 3",
      "delta_node_commit_index 42",
      "delta_node_applied_index 41",
      "delta_mempool_size 7",
      'delta_refusals_total{code="NONCE_GAP"}',
      'delta_refusals_total{code="NO_LEADER"}',
      'delta_http_requests_total{method="POST",route="/v1/transfers",status="200"}',
      'delta_http_requests_total{method="GET",route="unmatched",status="404"}',
      'delta_submit_duration_seconds_bucket{le="0.05",route="/v1/transfers"}',
    ]) {
      assert.ok(answer.text.includes(line), `missing ${line}`);
    }
    assert.match(answer.text, /^delta_transfers_committed_total [1-9]/m);
    assert.match(answer.text, /^delta_withdrawals_committed_total [1-9]/m);
  });

  test("each app counts in its own registry", async () => {
    const answer = await call({ method: "GET", path: "/metrics" }, smallBase);
    assert.ok(answer.text.includes("delta_node_term 3"));
    assert.doesNotMatch(answer.text, /route="\/v1\/withdrawals",status="200"/);
  });

  test("logs hold the 500's stack and never the admin token or Authorization header", () => {
    const all = logLines.join("");
    assert.ok(!all.includes(ADMIN_TOKEN), "admin token logged");
    assert.doesNotMatch(all, /authorization|Bearer/i);
    const failures = logLines.map((l): unknown => JSON.parse(l)).filter((l) => field(l, "msg") === "request failed");
    assert.equal(failures.length, 1);
    assert.match(String(field(field(failures[0], "err"), "stack")), /secret\.db is gone/);
    assert.ok(logLines.some((l) => l.includes('"admin request refused"')));
  });
});

describe("GET /v1/openapi.json", () => {
  const ROUTES: readonly [string, string][] = [
    ["get", "/v1/domain"],
    ["get", "/v1/status"],
    ["get", "/v1/accounts/{address}"],
    ["post", "/v1/transfers"],
    ["post", "/v1/transfers/batch"],
    ["get", "/v1/transfers/{hash}"],
    ["get", "/v1/transfers/{hash}/proof"],
    ["post", "/v1/withdrawals"],
    ["get", "/v1/epochs/current"],
    ["get", "/v1/epochs/{n}"],
    ["get", "/v1/epochs/{n}/settlement"],
    ["get", "/v1/epochs/{n}/tokens"],
    ["get", "/v1/fees"],
    ["post", "/v1/admin/seal"],
    ["get", "/v1/admin/state"],
    ["get", "/healthz"],
    ["get", "/metrics"],
    ["get", "/v1/openapi.json"],
  ];

  test("GET /v1/admin/state needs the admin token and answers the ledger's state hash", async () => {
    const refused = await call({ method: "GET", path: "/v1/admin/state" });
    assert.equal(refused.status, 401);
    const answer = await call({ method: "GET", path: "/v1/admin/state", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(answer.status, 200);
    assert.equal(field(answer.body, "stateHash"), service.stateHash());
  });

  test("is OpenAPI 3.1 listing every route with its schemas and error answers", async () => {
    const answer = await call({ method: "GET", path: "/v1/openapi.json" });
    assert.equal(answer.status, 200);
    const doc = answer.body;
    assert.equal(field(doc, "openapi"), "3.1.0");
    const paths = field(doc, "paths");
    const listed = Object.entries(paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)); // paths is a JSON object of objects
    assert.deepEqual(listed.sort(), ROUTES.map(([m, p]) => `${m} ${p}`).sort());
    const op = (m: string, p: string) => field(field(paths, p), m);
    assert.deepEqual(field(field(field(field(op("post", "/v1/transfers"), "requestBody"), "content"), "application/json"), "schema"), { $ref: "#/components/schemas/TransferRequest" });
    for (const status of ["400", "409", "413", "415", "422", "503"]) assert.ok(field(field(op("post", "/v1/transfers"), "responses"), status) !== undefined, status);
    assert.ok(field(field(op("post", "/v1/admin/seal"), "responses"), "401") !== undefined);
    // Every $ref resolves to a component.
    const schemas = field(field(doc, "components"), "schemas");
    const refs = [...answer.text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? "");
    assert.ok(refs.length > 10);
    for (const ref of refs) assert.ok(field(schemas, ref) !== undefined, `dangling $ref ${ref}`);
    // The request schemas come from protocol/ (patterns and strictness included).
    const transfer = field(schemas, "TransferRequest");
    assert.equal(field(transfer, "additionalProperties"), false);
    assert.deepEqual(field(transfer, "required"), ["from", "to", "token", "amount", "fee", "nonce", "deadline", "signature"]);
  });
});

describe("createApi options", () => {
  test("refuses an empty admin token and a bad body limit", () => {
    assert.throws(() => createApi(service, { adminToken: "" }), { code: "INVALID_CONFIG" });
    assert.throws(() => createApi(service, { adminToken: "x", maxBodyBytes: 0 }), { code: "INVALID_CONFIG" });
  });
});

