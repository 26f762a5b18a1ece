// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue #6, Tests: a deposit seen by a node that restarts before crediting it is credited exactly
 * once. On the real devnet pieces (Ganache + 3 node processes): the leader is killed with SIGKILL
 * right after the deposit is mined (before or while it credits it), a new leader's watcher rescans
 * from the bridge's first block, the killed node restarts from its disk; every node shows the
 * deposit once, and a second deposit after the restart is credited once too.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import { waitForClusterReady, type DevnetNodes } from "../../../src/devnet/nodes.ts";
import { readFileSync } from "node:fs";
import { getJson, pollUntil, startTestDevnet, TEST_ADMIN_TOKEN, type TestDevnet } from "./devnetFixture.ts";
import { NATIVE_TOKEN } from "../../../src/protocol/index.ts";

async function nativeBalance(rest: string, account: string): Promise<string | undefined> {
  const a = await getJson(`${rest}/v1/accounts/${account}`);
  return (a["balances"] as Record<string, string> | undefined)?.[NATIVE_TOKEN]; // the account view's balances map
}

describe("deposits across a leader crash and restart (Ganache + 3 node processes)", { timeout: 180_000 }, () => {
  let devnet: TestDevnet;
  let chain: DevnetChain;
  let cluster: DevnetNodes;

  before(async () => {
    devnet = await startTestDevnet("deposit-restart");
    ({ chain, cluster } = devnet);
  });
  after(async () => {
    await devnet?.stop();
  });

  it("credits a deposit seen by a node that restarts before crediting it exactly once", async () => {
    const rests = cluster.nodes.map((n) => n.rest);
    const user = new Wallet(chain.users[7]!.privateKey, chain.provider);
    // Distinct amounts: any double credit gives a total that no correct history gives.
    const first = 1_000_000n;
    const second = 30_000n;
    const status = await getJson(`${rests[0]}/v1/status`);
    const leaderIndex = cluster.nodes.findIndex((n) => n.address === status["leader"]);
    assert.ok(leaderIndex >= 0, JSON.stringify(status));

    await (await connectAs(chain.bridge, user).deposit({ value: first })).wait();
    // Mined with 1 confirmation: the leader's watcher sees it within a poll (200 ms). Kill it now.
    cluster.nodes[leaderIndex]!.process.kill("SIGKILL");
    const live = rests.filter((_, i) => i !== leaderIndex);
    // The survivors agree on a new leader (they name the dead one until their election runs).
    await pollUntil("a new leader", 30_000, async () => {
      const leaders = await Promise.all(live.map(async (rest) => (await getJson(`${rest}/v1/status`))["leader"]));
      return leaders.every((l) => l !== null && l !== status["leader"] && l === leaders[0]) ? true : undefined;
    });
    for (const rest of live) {
      await pollUntil(`first credit on ${rest}`, 30_000, async () => ((await nativeBalance(rest, user.address)) === first.toString() ? true : undefined));
    }

    await cluster.restart(leaderIndex);
    await waitForClusterReady(rests, 60_000);
    await (await connectAs(chain.bridge, user).deposit({ value: second })).wait();
    const total = (first + second).toString();
    for (const rest of rests) {
      await pollUntil(`both credits on ${rest}`, 30_000, async () => ((await nativeBalance(rest, user.address)) === total ? true : undefined));
    }

    // Every node has applied the same log prefix (the leader's commit index at this point) and
    // still shows each deposit once: the watchers' rescans were refused as duplicates.
    const leaderNow = (await getJson(`${rests[0]}/v1/status`))["leader"];
    const leaderRest = rests[cluster.nodes.findIndex((n) => n.address === leaderNow)];
    assert.ok(leaderRest !== undefined, "a leader is named");
    const commitIndex = Number((await getJson(`${leaderRest}/v1/status`))["commitIndex"]);
    for (const rest of rests) {
      await pollUntil(`${rest} applied ${commitIndex}`, 10_000, async () => (Number((await getJson(`${rest}/v1/status`))["appliedIndex"]) >= commitIndex ? true : undefined));
      assert.equal(await nativeBalance(rest, user.address), total, rest);
      const account = await getJson(`${rest}/v1/accounts/${user.address}`);
      assert.equal(account["nonce"], "0", "deposits use no nonce");
    }
  });

  it("a new leader resumes the deposit scan at the cursor the log shares, not at fromBlock", async () => {
    const rests = cluster.nodes.map((n) => n.rest);
    const user = new Wallet(chain.users[8]!.privateKey, chain.provider);
    const receipt = await (await connectAs(chain.bridge, user).deposit({ value: 5_000n })).wait();
    const depositBlock = Number(receipt.blockNumber);
    // The leader shares its cursor through the log (every 5 s while it moves): every node learns it.
    const adminState = async (rest: string): Promise<number> => {
      const r = await fetch(`${rest}/v1/admin/state`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      return Number(((await r.json()) as Record<string, unknown>)["depositCursor"]);
    };
    for (const rest of rests) {
      await pollUntil(`the shared cursor past block ${depositBlock} on ${rest}`, 30_000, async () => ((await adminState(rest)) > depositBlock ? true : undefined));
    }
    const status = await getJson(`${rests[0]}/v1/status`);
    const leaderIndex = cluster.nodes.findIndex((n) => n.address === status["leader"]);
    const startLines = (i: number): string[] => readFileSync(cluster.nodes[i]!.logPath, "utf8").split("\n").filter((l) => l.includes("deposit watcher started"));
    const startsBefore = cluster.nodes.map((_, i) => startLines(i).length);
    const exited = new Promise((resolve) => cluster.nodes[leaderIndex]!.process.once("exit", resolve));
    cluster.nodes[leaderIndex]!.process.kill("SIGKILL");
    await exited;
    const live = [0, 1, 2].filter((i) => i !== leaderIndex);
    const next = await pollUntil("a new leader", 30_000, async () => {
      const leaders = await Promise.all(live.map(async (i) => (await getJson(`${rests[i]}/v1/status`))["leader"]));
      const i = cluster.nodes.findIndex((n) => n.address === leaders[0]);
      return leaders.every((l) => l === leaders[0]) && live.includes(i) ? i : undefined;
    });
    // Its watcher starts past the deposit's block. Its own cursor file, if it has one, is older:
    // it last led before this deposit, so only the shared cursor can put it there.
    const started = await pollUntil("the new leader's watcher start", 30_000, async () => {
      const lines = startLines(next);
      // A start logged after the kill (a node that led before has older lines).
      return lines.length > startsBefore[next]! ? Number((JSON.parse(lines.at(-1)!) as { nextBlock: number }).nextBlock) : undefined;
    });
    assert.ok(started > depositBlock, `the new leader's watcher started at block ${started}, past the deposit's block ${depositBlock}`);
    // And it still credits new deposits (once).
    await (await connectAs(chain.bridge, user).deposit({ value: 700n })).wait();
    for (const i of live) {
      await pollUntil(`the later deposit on ${rests[i]}`, 30_000, async () => ((await nativeBalance(rests[i]!, user.address)) === "5700" ? true : undefined));
    }
    await cluster.restart(leaderIndex);
  });
});
