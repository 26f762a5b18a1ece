// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * GET /v1/fees and the fee refusals over HTTP, served by createApi over the real-ledger service
 * (ledgerService.ts): the policy as the ledger applies it (tokens checksummed, decimal strings,
 * checked against FeesViewSchema), "none" before any policy, and a transfer refused 422
 * TOKEN_NOT_ACCEPTED or FEE_TOO_LOW with nothing changed, while a withdrawal of any token commits.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { Wallet } from "ethers";
import { ErrorBodySchema, FeesViewSchema } from "../../../src/api/index.ts";
import { type Address, type BridgeDomain, NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";
import { apiCaller, closeApi, listenApi, type Answer } from "./httpCaller.ts";
import { LedgerService } from "./ledgerService.ts";

const DOMAIN: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const ADMIN_TOKEN = "fees-test-admin-token-0123";
const TOKEN: Address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const JUNK: Address = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const FEE_RECIPIENT: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const NODE_ADDRESS: Address = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
const FAR_DEADLINE = "4000000000";

// Hardhat's well-known development keys: never hold value.
const alice = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const bob = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");

let service: LedgerService;
let server: Server;
let base = "";
const { call } = apiCaller(() => base);

async function transfer(token: Address, fee: bigint, nonce: bigint): Promise<Answer> {
  const message = { from: alice.address, to: bob.address, token, amount: "1", fee: fee.toString(), nonce: nonce.toString(), deadline: FAR_DEADLINE };
  return call("POST", "/v1/transfers", { ...message, signature: await alice.signTypedData(DOMAIN, TYPES.Transfer, message) });
}

before(async () => {
  service = new LedgerService({ domain: DOMAIN, feeRecipient: FEE_RECIPIENT, nodeAddress: NODE_ADDRESS });
  service.deposit(alice.address as Address, TOKEN, 1_000_000n);
  service.deposit(alice.address as Address, JUNK, 1_000n);
  ({ server, base } = await listenApi(service, ADMIN_TOKEN));
});

after(() => closeApi(server));

describe("GET /v1/fees", () => {
  test("answers source none and no tokens before any policy is applied", async () => {
    const answer = await call("GET", "/v1/fees");
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(FeesViewSchema.strict().parse(answer.body), { tokens: {}, source: "none" });
  });

  test("answers the applied policy, tokens checksummed, fees as decimal strings", async () => {
    service.setFeePolicy([
      { token: TOKEN.toLowerCase() as Address, minFee: 10n ** 30n, newAccountFee: 7n },
      { token: NATIVE_TOKEN, minFee: 0n, newAccountFee: 0n },
    ]);
    const answer = await call("GET", "/v1/fees");
    assert.equal(answer.status, 200, answer.text);
    const view = FeesViewSchema.strict().parse(answer.body);
    assert.deepEqual(view, {
      tokens: { [NATIVE_TOKEN]: { minFee: "0", newAccountFee: "0" }, [TOKEN]: { minFee: (10n ** 30n).toString(), newAccountFee: "7" } },
      source: "ledger",
    });
  });

  test("a transfer of a token not listed answers 422 TOKEN_NOT_ACCEPTED, one below the fee 422 FEE_TOO_LOW; nothing changes", async () => {
    service.setFeePolicy([{ token: TOKEN, minFee: 100n, newAccountFee: 50n }]);
    const before = service.stateHash();
    const junk = await transfer(JUNK, 10n ** 6n, 0n);
    assert.equal(junk.status, 422, junk.text);
    assert.equal(ErrorBodySchema.parse(junk.body).error.code, "TOKEN_NOT_ACCEPTED");
    // Bob never held TOKEN: minFee alone is short by newAccountFee.
    const low = await transfer(TOKEN, 100n, 0n);
    assert.equal(low.status, 422, low.text);
    assert.equal(ErrorBodySchema.parse(low.body).error.code, "FEE_TOO_LOW");
    assert.match(ErrorBodySchema.parse(low.body).error.message, /newAccountFee 50/);
    assert.equal(service.stateHash(), before);
    const paid = await transfer(TOKEN, 150n, 0n);
    assert.equal(paid.status, 200, paid.text);
    assert.equal(service.account(FEE_RECIPIENT).balances[TOKEN], "150");
  });

  test("a withdrawal of a token not listed commits", async () => {
    const message = { account: alice.address, token: JUNK, amount: "1000", nonce: "1", deadline: FAR_DEADLINE };
    const answer = await call("POST", "/v1/withdrawals", { ...message, signature: await alice.signTypedData(DOMAIN, TYPES.Withdrawal, message) });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(service.account(alice.address).balances[JUNK], "0");
  });
});
