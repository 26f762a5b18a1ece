// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * A user's path through the public API only, on the real devnet pieces: a Ganache chain with the
 * bridge, three node processes (REST, Mokka over TCP, SQLite). Deposit ETH on Ganache, see it
 * credited once on every node, pay with a fee through a follower, see equal balances and nonces
 * on all nodes, withdraw (off-chain debit), and a refused transfer changes nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import { startDevnetChain, type DevnetChain } from "../../../src/devnet/chain.ts";
import { startDevnetNodes, type DevnetNodes } from "../../../src/devnet/nodes.ts";
import { NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";

const ADMIN = "test-admin-token-0123456789";

async function getJson(url: string): Promise<Record<string, unknown>> {
  const r = await fetch(url);
  return (await r.json()) as Record<string, unknown>; // the API answers JSON objects
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> }; // JSON object answers
}

async function pollUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a user's path through the public API (Ganache + 3 node processes)", { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "delta-userpath-"));
  let chain: DevnetChain;
  let cluster: DevnetNodes;
  let rests: string[] = [];

  before(async () => {
    chain = await startDevnetChain();
    cluster = await startDevnetNodes({
      dir,
      rpcUrl: chain.ganache.url,
      chainId: chain.chainId,
      bridge: chain.bridgeAddress,
      feeRecipient: chain.feeRecipient,
      validatorKeys: chain.validators.map((v) => v.privateKey),
      adminToken: ADMIN,
    });
    rests = cluster.nodes.map((n) => n.rest);
  });
  after(async () => {
    await cluster?.stop();
    await chain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("deposits, pays with a fee through a follower, withdraws; all nodes agree", async () => {
    const alice = new Wallet(chain.users[0]!.privateKey, chain.provider);
    const bob = chain.users[1]!.address;
    const domainJson = await getJson(`${rests[0]}/v1/domain`);
    assert.equal(domainJson["verifyingContract"], chain.bridgeAddress);
    const domain = { name: "DeltaBridge", version: "1", chainId: BigInt(String(domainJson["chainId"])), verifyingContract: chain.bridgeAddress };

    await (await connectAs(chain.bridge, alice).deposit({ value: 1_000_000n })).wait();
    for (const rest of rests) {
      await pollUntil(`credit on ${rest}`, 20_000, async () => {
        const a = await getJson(`${rest}/v1/accounts/${alice.address}`);
        return (a["balances"] as Record<string, string>)[NATIVE_TOKEN] === "1000000" ? true : undefined;
      });
    }

    const status = await getJson(`${rests[0]}/v1/status`);
    const follower = rests.find((_, i) => cluster.nodes[i]!.address !== status["leader"])!;
    const transfer = { from: alice.address, to: bob, token: NATIVE_TOKEN, amount: 300_000n, fee: 1_000n, nonce: 0n, deadline: BigInt(Math.floor(Date.now() / 1000) + 3600) };
    const signature = await alice.signTypedData(domain, TYPES.Transfer, transfer);
    const wire = { ...transfer, amount: "300000", fee: "1000", nonce: "0", deadline: transfer.deadline.toString(), signature };
    const sent = await postJson(`${follower}/v1/transfers`, wire);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body["status"], "committed");

    // The same signed transfer again: refused (duplicate / nonce reuse), nothing changes.
    const again = await postJson(`${rests[0]}/v1/transfers`, wire);
    assert.equal(again.status, 409, JSON.stringify(again.body));

    const withdrawal = { account: alice.address, token: NATIVE_TOKEN, amount: 100_000n, nonce: 1n, deadline: transfer.deadline };
    const wsig = await alice.signTypedData(domain, TYPES.Withdrawal, withdrawal);
    const w = await postJson(`${rests[2]}/v1/withdrawals`, { ...withdrawal, amount: "100000", nonce: "1", deadline: withdrawal.deadline.toString(), signature: wsig });
    assert.equal(w.status, 200, JSON.stringify(w.body));

    for (const rest of rests) {
      const a = await pollUntil(`alice settled on ${rest}`, 10_000, async () => {
        const acct = await getJson(`${rest}/v1/accounts/${alice.address}`);
        return acct["nonce"] === "2" ? acct : undefined;
      });
      assert.deepEqual(a["balances"], { [NATIVE_TOKEN]: String(1_000_000 - 300_000 - 1_000 - 100_000) });
      const b = await getJson(`${rest}/v1/accounts/${bob}`);
      assert.deepEqual(b["balances"], { [NATIVE_TOKEN]: "300000" });
      const fees = await getJson(`${rest}/v1/accounts/${chain.feeRecipient}`);
      assert.deepEqual(fees["balances"], { [NATIVE_TOKEN]: "1000" });
    }
  });
});
