// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Peers on other hosts: the three nodes listen on 127.0.0.2, 127.0.0.3 and 127.0.0.4 (separate
 * addresses, as separate machines would have; Linux routes all of 127/8 to loopback), with
 * Ganache on 127.0.0.1 like a remote RPC. Nothing may assume a shared address: the cluster
 * elects, credits a deposit, takes a transfer through a follower, and each node's REST API answers
 * on its own address only (not on every interface).
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import { DeltaClient, fastSignTransfer } from "../../../src/client/index.ts";
import { NATIVE_TOKEN } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, startTestDevnet, type TestDevnet } from "./devnetFixture.ts";

const HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("nodes on separate addresses (127.0.0.2-4)", { timeout: 180_000 }, () => {
  let devnet: TestDevnet;

  before(async () => {
    devnet = await startTestDevnet("separate-hosts", { hosts: HOSTS, epoch: { intervalMs: 0, maxMessages: 0 } });
  });
  after(async () => {
    await devnet?.stop();
  });

  it("elects, credits, forwards and commits across addresses; REST answers on its own address only", async () => {
    const { chain, rests } = devnet;
    rests.forEach((rest, i) => assert.equal(new URL(rest).hostname, HOSTS[i]));
    const statuses = await Promise.all(rests.map((r) => getJson(`${r}/v1/status`)));
    for (const s of statuses) {
      for (const peer of s["peers"] as { rest: string }[]) assert.ok(HOSTS.includes(new URL(peer.rest).hostname), peer.rest);
    }

    const alice = new Wallet(chain.users[0]!.privateKey, chain.provider);
    const bob = chain.users[1]!.address;
    await (await connectAs(chain.bridge, alice).deposit({ value: 50_000n })).wait();
    for (const rest of rests) {
      await pollUntil(`credit on ${rest}`, 30_000, async () => {
        const a = await getJson(`${rest}/v1/accounts/${alice.address}`);
        return (a["balances"] as Record<string, string>)[NATIVE_TOKEN] === "50000" ? true : undefined;
      });
    }
    const leader = statuses[0]!["leader"];
    const follower = rests[devnet.cluster.nodes.findIndex((n) => n.address !== leader)]!;
    const client = new DeltaClient({ baseUrl: follower });
    const domain = await client.domain();
    const t = fastSignTransfer(alice.privateKey, domain, { to: bob, token: NATIVE_TOKEN, amount: 1_234n, fee: 0n, nonce: 0n, deadline: BigInt(Math.floor(Date.now() / 1000) + 3600) });
    const committed = await client.submitTransfer(t);
    assert.equal(committed.status, "committed");
    for (const rest of rests) {
      await pollUntil(`bob's credit on ${rest}`, 10_000, async () => {
        const b = await getJson(`${rest}/v1/accounts/${bob}`);
        return (b["balances"] as Record<string, string>)[NATIVE_TOKEN] === "1234" ? true : undefined;
      });
    }

    // A transfer signed by someone else, sent to the follower, is refused there (nodes forward
    // only what they checked) and moves nothing.
    const forged = fastSignTransfer(chain.users[2]!.privateKey, domain, { from: alice.address, to: bob, token: NATIVE_TOKEN, amount: 1n, nonce: 1n, deadline: BigInt(Math.floor(Date.now() / 1000) + 3600) });
    const res = await fetch(`${follower}/v1/transfers/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ transfers: [{ ...forged, amount: "1", fee: "0", nonce: "1", deadline: forged.deadline.toString() }] }),
    });
    const answer = (await res.json()) as { results: { error?: { code: string } }[] };
    assert.equal(answer.results[0]?.error?.code, "INVALID_SIGNATURE", JSON.stringify(answer));
    const bobAfter = await getJson(`${follower}/v1/accounts/${bob}`);
    assert.equal((bobAfter["balances"] as Record<string, string>)[NATIVE_TOKEN], "1234");

    // Bound to the configured address, not to every interface: another loopback address is refused.
    for (const rest of rests) {
      const port = Number(new URL(rest).port);
      assert.equal(await accepts(new URL(rest).hostname, port), true);
      assert.equal(await accepts("127.0.0.1", port), false, `${rest} must not answer on 127.0.0.1`);
    }
  });
});
