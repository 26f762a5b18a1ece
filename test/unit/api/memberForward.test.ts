// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * A member's forwarded batch (FORWARD_HEADERS) over HTTP: the API hands the service the exact raw
 * body with the headers, and only when the service accepts them does it skip the signature check
 * (`signaturesChecked`). Missing or refused headers never refuse the request: it is checked in
 * full, so a forged header cannot let a badly signed transfer through.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { Wallet } from "ethers";
import { FORWARD_HEADERS, type ForwardAuth } from "../../../src/api/index.ts";
import { type Address, type BridgeDomain, NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";
import { closeApi, listenApi } from "./httpCaller.ts";
import { LedgerService } from "./ledgerService.ts";

const DOMAIN: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const FEE_RECIPIENT: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const NODE_ADDRESS: Address = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
// Hardhat's well-known development keys: never hold value.
const alice = new Wallet("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const bob = new Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const MEMBER = "a".repeat(64);
const GOOD_SIGNATURE = "b".repeat(128);

let service: LedgerService;
let server: Server;
let base = "";
let seen: ForwardAuth[] = [];

before(async () => {
  service = new LedgerService({ domain: DOMAIN, feeRecipient: FEE_RECIPIENT, nodeAddress: NODE_ADDRESS });
  service.deposit(alice.address as Address, NATIVE_TOKEN, 1_000_000n);
  service.acceptForward = (auth) => {
    seen.push(auth);
    return auth.member === MEMBER && auth.signature === GOOD_SIGNATURE;
  };
  ({ server, base } = await listenApi(service, "member-forward-test-token"));
});
after(() => closeApi(server));

/** A transfer from alice signed by `signer` (alice for a good signature, bob for a bad one). */
async function transferBody(signer: Wallet, nonce: number): Promise<Record<string, string>> {
  const message = { from: alice.address, to: bob.address, token: NATIVE_TOKEN, amount: "10", fee: "0", nonce: String(nonce), deadline: "4000000000" };
  return { ...message, signature: await signer.signTypedData(DOMAIN, TYPES.Transfer, message) };
}

async function postBatch(body: string, headers: Record<string, string>): Promise<{ status: number; json: { results: { status?: string; error?: { code: string } }[] } }> {
  const res = await fetch(`${base}/v1/transfers/batch`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  return { status: res.status, json: (await res.json()) as { results: { status?: string; error?: { code: string } }[] } };
}

describe("member-forwarded batches (x-delta-member, x-delta-timestamp, x-delta-signature)", () => {
  test("accepted headers: the service gets the exact raw body and skips the signature check", async () => {
    seen = [];
    // Badly signed (by bob): accepted only because the service trusts the forwarding member.
    const body = ` {"transfers": [${JSON.stringify(await transferBody(bob, 0))}]}`;
    const answer = await postBatch(body, { [FORWARD_HEADERS.member]: MEMBER, [FORWARD_HEADERS.timestamp]: "123", [FORWARD_HEADERS.signature]: GOOD_SIGNATURE });
    assert.equal(answer.status, 200);
    assert.equal(seen.length, 1);
    assert.equal(Buffer.from(seen[0]!.body).toString("utf8"), body, "the raw bytes, leading space included");
    assert.equal(seen[0]!.timestamp, "123");
    assert.deepEqual(service.lastSubmitOptions, { signaturesChecked: true });
  });

  test("refused headers: checked in full; a badly signed transfer is refused INVALID_SIGNATURE", async () => {
    seen = [];
    const body = JSON.stringify({ transfers: [await transferBody(bob, 1)] });
    const answer = await postBatch(body, { [FORWARD_HEADERS.member]: MEMBER, [FORWARD_HEADERS.timestamp]: "123", [FORWARD_HEADERS.signature]: "c".repeat(128) });
    assert.equal(answer.status, 200);
    assert.equal(answer.json.results[0]?.error?.code, "INVALID_SIGNATURE");
    assert.equal(seen.length, 1);
    assert.deepEqual(service.lastSubmitOptions, { signaturesChecked: false });
  });

  test("no headers (a client): checked in full, the service is not asked", async () => {
    seen = [];
    const body = JSON.stringify({ transfers: [await transferBody(alice, 1)] });
    const answer = await postBatch(body, {});
    assert.equal(answer.status, 200);
    assert.equal(answer.json.results[0]?.status, "committed");
    assert.equal(seen.length, 0);
    assert.deepEqual(service.lastSubmitOptions, { signaturesChecked: false });
  });

  test("incomplete headers: checked in full, the service is not asked", async () => {
    seen = [];
    const body = JSON.stringify({ transfers: [await transferBody(bob, 2)] });
    const answer = await postBatch(body, { [FORWARD_HEADERS.member]: MEMBER, [FORWARD_HEADERS.signature]: GOOD_SIGNATURE });
    assert.equal(answer.json.results[0]?.error?.code, "INVALID_SIGNATURE");
    assert.equal(seen.length, 0);
  });
});
