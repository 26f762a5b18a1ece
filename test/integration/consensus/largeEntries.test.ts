// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Large entries with three real node processes: the largest entry the driver allows replicates
 * through real transport frames, a larger one is refused at propose time (PAYLOAD_TOO_LARGE), and
 * a follower that missed 24 MiB of 1 MiB entries catches up after a restart. Before appends had a
 * byte budget, the leader sent that follower one ~33 MB catch-up append, over the transport's
 * 16 MiB frame cap; the transport dropped it, the leader resent it, forever.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_ENTRY_DATA_BYTES } from "../../../src/consensus/replicatedLog.ts";
import { Cluster, pollUntil, type NodeProcess } from "./cluster.ts";

const MiB = 1024 * 1024;

/**
 * Proposes `count` entries of `size` bytes at the leader and waits until they commit; returns the
 * last index. Like a client, proposes again at the new leader when a leader change lost them (on
 * an overloaded machine a 12 MiB entry can stall a process past the election timeout).
 */
async function commit(cluster: Cluster, count: number, size: number): Promise<number> {
  const replies: unknown[] = [];
  for (let attempt = 0; attempt < 4; attempt++) {
    const leader = cluster.nodes[await cluster.waitForLeader(20_000)]!;
    // The fixture answers within 30 s (its waitForCommit bound), committed or not.
    const reply = await leader.request({ cmd: "propose", count, size }, 45_000);
    replies.push(reply);
    if (reply["accepted"] === true && reply["committed"] === true) return Number(reply["lastIndex"]);
    assert.ok(reply["code"] === undefined, `refused: ${JSON.stringify(reply)}`);
  }
  assert.fail(`not committed in 4 attempts: ${JSON.stringify(replies)}`);
}

/** Waits until `node` has applied up to `index`, and returns its applied hashes 1..index. */
async function appliedHashes(node: NodeProcess, index: number, timeoutMs = 30_000): Promise<unknown[]> {
  await pollUntil(`apply up to ${index}`, timeoutMs, async () => {
    const s = await node.request({ cmd: "status" });
    return Number(s["commitIndex"]) >= index ? true : undefined;
  });
  const reply = await node.request({ cmd: "hashes", from: 1, to: index });
  return reply["hashes"] as unknown[]; // the fixture answers an array of hex hashes (null where missing)
}

/** The node's transport drop counters (the fixture answers ReplicatedLog.stats()). */
async function drops(node: NodeProcess): Promise<Record<string, number>> {
  const stats = await node.request({ cmd: "stats" });
  return (stats["transport"] as { dropped: Record<string, number> }).dropped;
}

describe("replicated log: large entries", { timeout: 120_000 }, () => {
  let cluster: Cluster;
  let committed = 0;
  before(async () => {
    cluster = await Cluster.create({ size: 3 });
    await cluster.startAll();
  });
  after(async () => {
    await cluster?.destroy();
  });

  it("refuses an entry no frame could carry at propose time, and replicates the largest allowed one", async () => {
    const leader = cluster.nodes[await cluster.waitForLeader(20_000)]!;
    const refused = await leader.request({ cmd: "propose", count: 1, size: MAX_ENTRY_DATA_BYTES + 1 });
    assert.equal(refused["accepted"], false);
    assert.equal(refused["code"], "PAYLOAD_TOO_LARGE", JSON.stringify(refused));
    committed = await commit(cluster, 1, MAX_ENTRY_DATA_BYTES);
    const hashes = await Promise.all(cluster.nodes.map((n) => appliedHashes(n!, committed)));
    for (const h of hashes) assert.deepEqual(h, hashes[0]);
    for (const n of cluster.nodes) assert.equal((await drops(n!))["payloadTooLarge"], 0);
  });

  it("a follower that missed 24 MiB of 1 MiB entries catches up after a restart", async () => {
    const leaderIndex = await cluster.waitForLeader();
    const leader = cluster.nodes[leaderIndex]!;
    const followerIndex = [0, 1, 2].find((i) => i !== leaderIndex)!;
    await cluster.nodes[followerIndex]!.kill("SIGKILL");
    // Three entries per proposal: each append to the live follower stays small whatever the budget.
    for (let b = 0; b < 8; b++) committed = await commit(cluster, 3, MiB);
    const restarted = await cluster.start(followerIndex);
    const expected = await appliedHashes(leader, committed);
    assert.deepEqual(await appliedHashes(restarted, committed), expected);
    for (const n of cluster.nodes) {
      const dropped = await drops(n!);
      assert.equal(dropped["payloadTooLarge"], 0, "no append was ever too large for a frame");
      assert.equal(dropped["queueFull"], 0, "pipelined appends never pushed each other out of the transport's queue");
    }
  });
});
