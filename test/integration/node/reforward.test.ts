// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue #6: unconfirmed messages are not lost with a leader. Clients stream transfers to one
 * follower while the leader is killed with SIGKILL; the follower keeps every message it accepted
 * and sends it again to the new leader, so every client gets its verdict (committed) across the
 * change, with no 503 to retry, and each transfer is applied exactly once on every live node.
 * Public API only, on the real devnet pieces (Ganache + 3 node processes).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import type { DevnetNodes } from "../../../src/devnet/nodes.ts";
import { getJson, pollUntil, post, startTestDevnet, type Json, type TestDevnet } from "./devnetFixture.ts";
import { NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";

const SENDERS = 5;
const PER_SENDER = 20n;
const FUNDS = 1_000n;

describe("a follower keeps its clients' messages across a leader crash", { timeout: 180_000 }, () => {
  let devnet: TestDevnet;
  let chain: DevnetChain;
  let cluster: DevnetNodes;
  let rests: string[] = [];
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);

  before(async () => {
    devnet = await startTestDevnet("reforward");
    ({ chain, cluster } = devnet);
    rests = devnet.rests;
    for (const u of chain.users.slice(0, SENDERS)) {
      await (await connectAs(chain.bridge, new Wallet(u.privateKey, chain.provider)).deposit({ value: FUNDS })).wait();
    }
    for (const rest of rests) {
      for (const u of chain.users.slice(0, SENDERS)) {
        await pollUntil(`credit of ${u.address} on ${rest}`, 30_000, async () => {
          const a = await getJson(`${rest}/v1/accounts/${u.address}`);
          return (a["balances"] as Record<string, string>)[NATIVE_TOKEN] === FUNDS.toString() ? true : undefined;
        });
      }
    }
  });
  after(async () => {
    await devnet?.stop();
  });

  it("answers every transfer sent to a follower during a leader kill as committed, applied once", async () => {
    const domain = { name: "DeltaBridge", version: "1", chainId: BigInt(chain.chainId), verifyingContract: chain.bridgeAddress };
    const status = await getJson(`${rests[0]}/v1/status`);
    const leaderIndex = cluster.nodes.findIndex((n) => n.address === status["leader"]);
    assert.ok(leaderIndex >= 0, JSON.stringify(status));
    const followerIndex = leaderIndex === 0 ? 1 : 0;
    const follower = rests[followerIndex]!;
    const to = chain.users[12]!.address;
    const senders = chain.users.slice(0, SENDERS).map((u) => new Wallet(u.privateKey));
    const answers: { status: number; body: Json }[] = [];
    let killed = false;
    let answeredAfterKill = 0;

    await Promise.all(
      senders.map(async (w) => {
        for (let nonce = 0n; nonce < PER_SENDER; nonce++) {
          const t = { from: w.address, to, token: NATIVE_TOKEN, amount: 1n, fee: 0n, nonce, deadline };
          const signature = await w.signTypedData(domain, TYPES.Transfer, t);
          const r = await post(`${follower}/v1/transfers`, { ...t, amount: "1", fee: "0", nonce: nonce.toString(), deadline: deadline.toString(), signature });
          answers.push(r);
          if (killed) answeredAfterKill++;
          // A quarter of the way in, with every sender's next transfer on its way: kill the leader.
          if (!killed && answers.length === Number(PER_SENDER) * SENDERS / 4) {
            cluster.nodes[leaderIndex]!.process.kill("SIGKILL");
            killed = true;
          }
        }
      }),
    );
    assert.ok(killed);
    assert.ok(answeredAfterKill > 0);
    const refused = answers.filter((r) => r.status !== 200);
    assert.deepEqual(refused, [], "every client got its verdict, committed, across the leader change");
    assert.equal(new Set(answers.map((r) => r.body["hash"])).size, answers.length);

    const live = rests.filter((_, i) => i !== leaderIndex);
    for (const rest of live) {
      for (const w of senders) {
        const a = await pollUntil(`${w.address} on ${rest}`, 15_000, async () => {
          const x = await getJson(`${rest}/v1/accounts/${w.address}`);
          return x["nonce"] === PER_SENDER.toString() ? x : undefined;
        });
        assert.deepEqual(a["balances"], { [NATIVE_TOKEN]: (FUNDS - PER_SENDER).toString() }, `${w.address} on ${rest}: applied once`);
      }
      const r = await getJson(`${rest}/v1/accounts/${to}`);
      assert.deepEqual(r["balances"], { [NATIVE_TOKEN]: (PER_SENDER * BigInt(SENDERS)).toString() });
    }
  });
});
