// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue #6: "503 with a retry hint when no leader is reachable; a refused request changes
 * nothing". A cluster that lost its majority must say so at once rather than keep each client
 * for the 30 s a node otherwise waits across a leader change (docs/node.md, "A write's path"):
 * - the survivor of a leader and a follower killed has no leader at all;
 * - a leader whose two followers died is still named leader by Mokka but cannot propose.
 * Both answer a write with 503 NO_LEADER and Retry-After within seconds, and take nothing in
 * (the transfer is not pending there). Real Ganache, real node processes, SIGKILL.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { TypedDataEncoder, Wallet } from "ethers";
import { getJson, pollUntil, startTestDevnet, type Json, type TestDevnet } from "./devnetFixture.ts";
import { NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";

/**
 * Bound on one answer once the node has been leaderless for a while: NO_LEADER_FAIL_FAST_MS is
 * 3 s, far below the 30 s wait this test guards against; the rest is slack for a loaded machine.
 */
const ANSWER_BOUND_MS = 10_000;

interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: Json;
  readonly ms: number;
}

/** Probes give up after this: a write sent before the node gave up on a leader waits up to 30 s. */
const PROBE_TIMEOUT_MS = 2_000;

async function postTimed(url: string, body: unknown, timeoutMs = 45_000): Promise<Answer> {
  const started = performance.now();
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const json = (await r.json()) as Json; // the API answers JSON objects
  return { status: r.status, retryAfter: r.headers.get("retry-after"), body: json, ms: performance.now() - started };
}

describe("a cluster without a majority answers writes 503 at once", { timeout: 240_000 }, () => {
  let devnet: TestDevnet | undefined;
  afterEach(async () => {
    await devnet?.stop();
    devnet = undefined;
  });

  /** Kills the nodes `kill` picks (given the leader's index) and checks the survivor's answers. */
  async function lostMajority(name: string, kill: (leader: number) => number[]): Promise<void> {
    devnet = await startTestDevnet(name);
    const { chain, cluster, rests } = devnet;
    const status = await getJson(`${rests[0]}/v1/status`);
    const leader = cluster.nodes.findIndex((n) => n.address === status["leader"]);
    assert.ok(leader >= 0, JSON.stringify(status));
    const killed = kill(leader);
    const survivor = [0, 1, 2].find((i) => !killed.includes(i))!;
    for (const i of killed) cluster.nodes[i]!.process.kill("SIGKILL");

    const domain = { name: "DeltaBridge", version: "1", chainId: BigInt(chain.chainId), verifyingContract: chain.bridgeAddress };
    const w = new Wallet(chain.users[3]!.privateKey);
    const t = { from: w.address, to: chain.users[4]!.address, token: NATIVE_TOKEN, amount: 5n, fee: 0n, nonce: 0n, deadline: BigInt(Math.floor(Date.now() / 1000) + 3600) };
    const signed = async (amount: bigint): Promise<{ body: Json; hash: string }> => {
      const tx = { ...t, amount };
      const signature = await w.signTypedData(domain, TYPES.Transfer, tx);
      return { body: { ...tx, amount: amount.toString(), fee: "0", nonce: "0", deadline: t.deadline.toString(), signature }, hash: TypedDataEncoder.hash(domain, TYPES.Transfer, tx) };
    };

    // Probes (each its own message) until one is refused fast. The first may come before the
    // node gives up on a leader: it is then kept waiting, so a probe gives up after 2 s and the
    // next one is sent; a failed probe (timeout) is "not yet".
    let probe = 100n;
    const answer = await pollUntil("a fast 503 from the survivor", 120_000, async () => {
      const a = await postTimed(`${rests[survivor]}/v1/transfers`, (await signed(probe++)).body, PROBE_TIMEOUT_MS);
      assert.notEqual(a.status, 200, `committed without a majority: ${JSON.stringify(a.body)}`);
      return a.status === 503 ? a : undefined;
    });
    assert.deepEqual((answer.body["error"] as Json)["code"], "NO_LEADER");
    assert.match(answer.retryAfter ?? "", /^[1-9][0-9]*$/, "a Retry-After hint in seconds");
    // Steady state: every further write is refused fast as well, and a fresh one is not taken in.
    const { body, hash } = await signed(5n);
    for (let k = 0; k < 3; k++) {
      const again = await postTimed(`${rests[survivor]}/v1/transfers`, body);
      assert.equal(again.status, 503, JSON.stringify(again.body));
      assert.ok(again.ms < ANSWER_BOUND_MS, `answered in ${again.ms.toFixed(0)} ms`);
    }
    const lookup = await fetch(`${rests[survivor]}/v1/transfers/${hash}`);
    assert.equal(lookup.status, 404, "a refused write is not pending on the node");
    const account = await getJson(`${rests[survivor]}/v1/accounts/${w.address}`);
    assert.equal(account["nonce"], "0");
  }

  it("the survivor of a leader and a follower killed (no leader known)", async () => {
    await lostMajority("noleader-survivor", (leader) => [leader, (leader + 1) % 3]);
  });

  it("a leader whose followers both died (named leader, cannot propose)", async () => {
    await lostMajority("noleader-stranded", (leader) => [(leader + 1) % 3, (leader + 2) % 3]);
  });
});
