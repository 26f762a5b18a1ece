// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * PROTOCOL.md §1: "Several consecutive nonces of one account may be in flight at once (in one
 * batch or in parallel)". Sent in parallel to different nodes, they reach the leader by different
 * paths and in any order; the leader's mempool holds a nonce past the account's next one until
 * its predecessors arrive (docs/node.md, "A write's path"), so every one commits. A real gap is
 * still refused (NONCE_GAP) once its hold ends. Real Ganache, 3 node processes, public API only.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import { getJson, pollUntil, post, startTestDevnet, type Json, type TestDevnet } from "./devnetFixture.ts";
import { NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";

const SENDERS = 4;
const ROUNDS = 3;
/** Nonces per account sent at once in each round, nonce k to node k % 3. */
const PER_ROUND = 4n;
const FUNDS = 1_000n;

describe("consecutive nonces sent in parallel to different nodes all commit", { timeout: 180_000 }, () => {
  let devnet: TestDevnet;
  let chain: DevnetChain;
  let rests: string[] = [];
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);

  before(async () => {
    devnet = await startTestDevnet("parallel-nonces");
    ({ chain, rests } = devnet);
    for (const u of chain.users.slice(0, SENDERS)) {
      await (await connectAs(chain.bridge, new Wallet(u.privateKey, chain.provider)).deposit({ value: FUNDS })).wait();
    }
    for (const u of chain.users.slice(0, SENDERS)) {
      await pollUntil(`credit of ${u.address}`, 30_000, async () => {
        const a = await getJson(`${rests[0]}/v1/accounts/${u.address}`);
        return (a["balances"] as Record<string, string>)[NATIVE_TOKEN] === FUNDS.toString() ? true : undefined;
      });
    }
  });
  after(async () => {
    await devnet?.stop();
  });

  async function body(w: Wallet, nonce: bigint): Promise<Json> {
    const domain = { name: "DeltaBridge", version: "1", chainId: BigInt(chain.chainId), verifyingContract: chain.bridgeAddress };
    const t = { from: w.address, to: chain.users[12]!.address, token: NATIVE_TOKEN, amount: 1n, fee: 0n, nonce, deadline };
    const signature = await w.signTypedData(domain, TYPES.Transfer, t);
    return { ...t, amount: "1", fee: "0", nonce: nonce.toString(), deadline: deadline.toString(), signature };
  }

  it("commits every nonce of every round, each applied once, whatever order they reach the leader", async () => {
    const senders = chain.users.slice(0, SENDERS).map((u) => new Wallet(u.privateKey));
    for (let round = 0; round < ROUNDS; round++) {
      const first = BigInt(round) * PER_ROUND;
      // Signed first, then all sent at once: nonce k of each account to node k % 3.
      const sends: { rest: string; body: Json }[] = [];
      for (const w of senders) for (let k = 0n; k < PER_ROUND; k++) sends.push({ rest: rests[Number(k % 3n)]!, body: await body(w, first + k) });
      const answers = await Promise.all(sends.map((s) => post(`${s.rest}/v1/transfers`, s.body)));
      const refused = answers.filter((a) => a.status !== 200);
      assert.deepEqual(refused, [], `round ${round}: every nonce commits`);
    }
    const total = BigInt(ROUNDS) * PER_ROUND;
    for (const rest of rests) {
      for (const w of senders) {
        const a = await pollUntil(`${w.address} on ${rest}`, 15_000, async () => {
          const x = await getJson(`${rest}/v1/accounts/${w.address}`);
          return x["nonce"] === total.toString() ? x : undefined;
        });
        assert.deepEqual(a["balances"], { [NATIVE_TOKEN]: (FUNDS - total).toString() }, `${w.address} on ${rest}: each applied once`);
      }
    }
  });

  it("still refuses a real gap, once its hold has ended", async () => {
    const w = new Wallet(chain.users[0]!.privateKey);
    const next = BigInt(String((await getJson(`${rests[1]}/v1/accounts/${w.address}`))["nonce"]));
    const answer = await post(`${rests[1]}/v1/transfers`, await body(w, next + 5n));
    assert.equal(answer.status, 409, JSON.stringify(answer.body));
    assert.equal((answer.body["error"] as Json)["code"], "NONCE_GAP");
  });
});
