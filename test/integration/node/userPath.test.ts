// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * A user's path through the public API only, on the real devnet pieces: a Ganache chain with the
 * bridge, three node processes (REST, Mokka over TCP, SQLite). Deposit ETH on Ganache, see it
 * credited once on every node, pay with a fee through a follower, see equal balances and nonces
 * on all nodes, withdraw (off-chain debit), and a refused transfer changes nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import type { DevnetNodes } from "../../../src/devnet/nodes.ts";
import { getJson, pollUntil, post, startTestDevnet, type TestDevnet } from "./devnetFixture.ts";
import { NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";

describe("a user's path through the public API (Ganache + 3 node processes)", { timeout: 180_000 }, () => {
  let devnet: TestDevnet;
  let chain: DevnetChain;
  let cluster: DevnetNodes;
  let rests: string[] = [];

  before(async () => {
    devnet = await startTestDevnet("userpath");
    ({ chain, cluster } = devnet);
    rests = devnet.rests;
  });
  after(async () => {
    await devnet?.stop();
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
    const sent = await post(`${follower}/v1/transfers`, wire);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body["status"], "committed");

    // The same signed transfer again: refused (duplicate / nonce reuse), nothing changes.
    const again = await post(`${rests[0]}/v1/transfers`, wire);
    assert.equal(again.status, 409, JSON.stringify(again.body));

    const withdrawal = { account: alice.address, token: NATIVE_TOKEN, amount: 100_000n, nonce: 1n, deadline: transfer.deadline };
    const wsig = await alice.signTypedData(domain, TYPES.Withdrawal, withdrawal);
    const w = await post(`${rests[2]}/v1/withdrawals`, { ...withdrawal, amount: "100000", nonce: "1", deadline: withdrawal.deadline.toString(), signature: wsig });
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

    // The leader's metrics count the blocks it proposed and their commit times.
    const leaderRest = rests[cluster.nodes.findIndex((n) => n.address === status["leader"])]!;
    const metrics = await (await fetch(`${leaderRest}/metrics`)).text();
    const blocks = /^delta_block_messages_count (\d+)/m.exec(metrics);
    assert.ok(blocks !== null && Number(blocks[1]) >= 2, "at least the transfer's and the withdrawal's blocks");
    assert.match(metrics, /^delta_block_commit_seconds_count [1-9]/m);
    assert.match(metrics, /^delta_node_role\{role="leader"\} 1/m);
  });
});
