// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * A user's path through the public API only, on the real devnet pieces: a Ganache chain with the
 * bridge and the test ERC-20, three node processes (REST, Mokka over TCP, SQLite). Deposit ETH and
 * the test token on Ganache (approve + depositToken), see each credited once on every node, pay in
 * both with a fee through a follower, see equal balances and nonces on all nodes, withdraw both
 * (off-chain debit), and a repeated transfer changes nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getAddress, Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import type { DevnetNodes } from "../../../src/devnet/nodes.ts";
import { getJson, pollUntil, post, startTestDevnet, type Json, type TestDevnet } from "./devnetFixture.ts";
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

  it("deposits ETH and the token, pays in both with a fee through a follower, withdraws both; all nodes agree", async () => {
    const alice = new Wallet(chain.users[0]!.privateKey, chain.provider);
    const bob = chain.users[1]!.address;
    const token = getAddress(chain.tokenAddress);
    const domainJson = await getJson(`${rests[0]}/v1/domain`);
    assert.equal(domainJson["verifyingContract"], chain.bridgeAddress);
    const domain = { name: "DeltaBridge", version: "1", chainId: BigInt(String(domainJson["chainId"])), verifyingContract: chain.bridgeAddress };
    const balancesOn = async (rest: string, who: string): Promise<Record<string, string>> =>
      (await getJson(`${rest}/v1/accounts/${who}`))["balances"] as Record<string, string>; // the account view's balances map

    // On-chain: an ETH deposit, then the token's approve + depositToken. Distinct amounts, so a
    // credit applied twice (or to the wrong token) gives balances no correct history gives.
    const ethIn = 1_000_000n;
    const tokenIn = 5_000_000n;
    await (await connectAs(chain.bridge, alice).deposit({ value: ethIn })).wait();
    await (await connectAs(chain.token, alice).approve(chain.bridgeAddress, tokenIn)).wait();
    await (await connectAs(chain.bridge, alice).depositToken(token, tokenIn)).wait();
    assert.equal(await chain.token.balanceOf(chain.bridgeAddress), tokenIn, "the bridge holds the deposited tokens");
    for (const rest of rests) {
      const credited = await pollUntil(`both credits on ${rest}`, 30_000, async () => {
        const b = await balancesOn(rest, alice.address);
        return b[NATIVE_TOKEN] !== undefined && b[token] !== undefined ? b : undefined;
      });
      assert.deepEqual(credited, { [NATIVE_TOKEN]: ethIn.toString(), [token]: tokenIn.toString() }, `credits on ${rest}`);
      const account = await getJson(`${rest}/v1/accounts/${alice.address}`);
      assert.equal(account["nonce"], "0", "deposits use no nonce");
    }

    const status = await getJson(`${rests[0]}/v1/status`);
    const followers = rests.filter((_, i) => cluster.nodes[i]!.address !== status["leader"]);
    assert.equal(followers.length, 2, JSON.stringify(status));
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const signTransfer = async (t: { token: string; amount: bigint; fee: bigint; nonce: bigint }): Promise<Json> => {
      const msg = { from: alice.address, to: bob, token: t.token, amount: t.amount, fee: t.fee, nonce: t.nonce, deadline };
      const signature = await alice.signTypedData(domain, TYPES.Transfer, msg);
      return { ...msg, amount: t.amount.toString(), fee: t.fee.toString(), nonce: t.nonce.toString(), deadline: deadline.toString(), signature };
    };
    const signWithdrawal = async (w: { token: string; amount: bigint; nonce: bigint }): Promise<Json> => {
      const msg = { account: alice.address, token: w.token, amount: w.amount, nonce: w.nonce, deadline };
      const signature = await alice.signTypedData(domain, TYPES.Withdrawal, msg);
      return { ...msg, amount: w.amount.toString(), nonce: w.nonce.toString(), deadline: deadline.toString(), signature };
    };

    // ETH with a fee through one follower, the token with a fee through the other.
    const ethPay = await signTransfer({ token: NATIVE_TOKEN, amount: 300_000n, fee: 1_000n, nonce: 0n });
    const sent = await post(`${followers[0]}/v1/transfers`, ethPay);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body["status"], "committed");
    const tokenPay = await signTransfer({ token, amount: 2_000_000n, fee: 500n, nonce: 1n });
    const sentToken = await post(`${followers[1]}/v1/transfers`, tokenPay);
    assert.equal(sentToken.status, 200, JSON.stringify(sentToken.body));
    assert.equal(sentToken.body["status"], "committed");
    // The token transfer as every node reports it: the node that answered at once (read your
    // writes), the others once they have applied as far as it had (?minIndex=, PROTOCOL.md §2).
    const seenAt = Number((await getJson(`${followers[1]}/v1/status`))["appliedIndex"]);
    for (const rest of rests) {
      const t = await getJson(`${rest}/v1/transfers/${String(sentToken.body["hash"])}${rest === followers[1] ? "" : `?minIndex=${seenAt}`}`);
      assert.equal(t["status"], "committed", `${rest}: ${JSON.stringify(t)}`);
      assert.equal(t["token"], token);
      assert.equal(t["amount"], "2000000");
      assert.equal(t["fee"], "500");
      assert.equal(t["nonce"], "1");
    }

    // The same signed transfer again: refused (duplicate / nonce reuse), nothing changes.
    const again = await post(`${rests[0]}/v1/transfers`, ethPay);
    assert.equal(again.status, 409, JSON.stringify(again.body));

    // Withdrawals of both: debited off-chain at commit.
    const w = await post(`${rests[2]}/v1/withdrawals`, await signWithdrawal({ token: NATIVE_TOKEN, amount: 100_000n, nonce: 2n }));
    assert.equal(w.status, 200, JSON.stringify(w.body));
    const wt = await post(`${followers[0]}/v1/withdrawals`, await signWithdrawal({ token, amount: 1_000_000n, nonce: 3n }));
    assert.equal(wt.status, 200, JSON.stringify(wt.body));
    assert.equal(wt.body["status"], "committed");

    // Equal balances and nonces on every node; each deposit counted exactly once.
    const lastAt = Number((await getJson(`${followers[0]}/v1/status`))["appliedIndex"]);
    for (const rest of rests) {
      const a = await getJson(`${rest}/v1/accounts/${alice.address}?minIndex=${lastAt}`);
      assert.equal(a["nonce"], "4", `${rest}: ${JSON.stringify(a)}`);
      assert.deepEqual(a["balances"], {
        [NATIVE_TOKEN]: String(1_000_000 - 300_000 - 1_000 - 100_000),
        [token]: String(5_000_000 - 2_000_000 - 500 - 1_000_000),
      }, `alice on ${rest}`);
      const b = await getJson(`${rest}/v1/accounts/${bob}`);
      assert.deepEqual(b["balances"], { [NATIVE_TOKEN]: "300000", [token]: "2000000" }, `bob on ${rest}`);
      assert.equal(b["nonce"], "0");
      const fees = await getJson(`${rest}/v1/accounts/${chain.feeRecipient}`);
      assert.deepEqual(fees["balances"], { [NATIVE_TOKEN]: "1000", [token]: "500" }, `fees on ${rest}`);
    }

    // The leader's metrics count the blocks it proposed and their commit times.
    const leaderRest = rests[cluster.nodes.findIndex((n) => n.address === status["leader"])]!;
    const metrics = await (await fetch(`${leaderRest}/metrics`)).text();
    const blocks = /^delta_block_messages_count (\d+)/m.exec(metrics);
    assert.ok(blocks !== null && Number(blocks[1]) >= 4, "at least the two transfers' and the two withdrawals' blocks");
    assert.match(metrics, /^delta_block_commit_seconds_count [1-9]/m);
    assert.match(metrics, /^delta_node_role\{role="leader"\} 1/m);
  });
});
