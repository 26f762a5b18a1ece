// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The replicated log with real processes, sockets and disks: three node processes on loopback,
 * each with its own SQLite file. Elect one leader; commit blocks on all; a follower killed with
 * SIGKILL catches up after restart; the leader killed: a new one, no committed entry lost; an
 * outsider's frames are refused; a follower behind the leader's compacted log gets a snapshot; a
 * node with a torn tail recovers.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { generateIdentity } from "../../../src/consensus/identity.ts";
import { TcpTransport } from "../../../src/consensus/tcpTransport.ts";
import { Cluster, pollUntil, type NodeProcess } from "./cluster.ts";

/** Proposes `count` entries at the leader and waits until the leader has committed them. */
async function proposeAt(node: NodeProcess, count: number): Promise<{ firstIndex: number; lastIndex: number }> {
  const reply = await node.request({ cmd: "propose", count, size: 250 });
  assert.equal(reply["accepted"], true, `proposal refused: ${JSON.stringify(reply)}`);
  assert.equal(reply["committed"], true, `proposal not committed: ${JSON.stringify(reply)}`);
  return { firstIndex: Number(reply["firstIndex"]), lastIndex: Number(reply["lastIndex"]) };
}

/** Waits until `node` has applied up to `index`, and returns its applied hashes 1..index. */
async function appliedHashes(node: NodeProcess, index: number): Promise<string[]> {
  await pollUntil(`apply up to ${index}`, 20_000, async () => {
    const s = await node.request({ cmd: "status" });
    return Number(s["commitIndex"]) >= index ? true : undefined;
  });
  const reply = await node.request({ cmd: "hashes", from: 1, to: index });
  return reply["hashes"] as string[]; // the fixture answers an array of hex hashes (null where missing)
}

describe("replicated log: three real node processes", { timeout: 180_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.create({ size: 3 });
    await cluster.startAll();
  });
  after(async () => {
    await cluster?.destroy();
  });

  let committed = 0;
  let reference: string[] = [];
  /** Entries up to here live only in snapshots (no per-entry hashes on nodes that installed one). */
  let compactedTo = 0;

  it("elects exactly one leader that every node names", async () => {
    const leader = await cluster.waitForLeader(20_000);
    assert.ok(leader >= 0 && leader < 3);
  });

  it("commits blocks on every node, identically and in order", async () => {
    const leader = cluster.nodes[await cluster.waitForLeader()]!;
    for (let b = 0; b < 5; b++) committed = (await proposeAt(leader, 100)).lastIndex;
    const all = await Promise.all(cluster.nodes.map((n) => appliedHashes(n!, committed)));
    reference = all[0]!;
    assert.ok(reference.every((h) => typeof h === "string" && h.length === 64), "every index applied on node 0");
    for (const hashes of all) assert.deepEqual(hashes, reference);
  });

  it("a follower killed with SIGKILL and restarted catches up from its disk", async () => {
    const leaderIndex = await cluster.waitForLeader();
    const followerIndex = [0, 1, 2].find((i) => i !== leaderIndex)!;
    await cluster.nodes[followerIndex]!.kill("SIGKILL");
    // The two left are a majority: blocks still commit.
    for (let b = 0; b < 3; b++) committed = (await proposeAt(cluster.nodes[leaderIndex]!, 200)).lastIndex;
    const restarted = await cluster.start(followerIndex);
    const leaderHashes = await appliedHashes(cluster.nodes[leaderIndex]!, committed);
    assert.deepEqual(await appliedHashes(restarted, committed), leaderHashes);
    assert.deepEqual(leaderHashes.slice(0, reference.length), reference, "earlier commits unchanged");
    reference = leaderHashes;
  });

  it("the leader killed: a new leader, no committed entry lost, and new blocks commit", async () => {
    const oldLeader = await cluster.waitForLeader();
    await cluster.nodes[oldLeader]!.kill("SIGKILL");
    const newLeader = await cluster.waitForLeader(20_000);
    assert.notEqual(newLeader, oldLeader);
    const more = await proposeAt(cluster.nodes[newLeader]!, 50);
    assert.ok(more.firstIndex > committed);
    committed = more.lastIndex;
    const survivors = [0, 1, 2].filter((i) => i !== oldLeader);
    for (const i of survivors) {
      const hashes = await appliedHashes(cluster.nodes[i]!, committed);
      assert.deepEqual(hashes.slice(0, reference.length), reference, `node ${i} kept every committed entry`);
    }
    await cluster.start(oldLeader);
    const back = await appliedHashes(cluster.nodes[oldLeader]!, committed);
    assert.deepEqual(back.slice(0, reference.length), reference);
    reference = back;
  });

  it("refuses an outsider's frames and keeps working", async () => {
    const leaderIndex = await cluster.waitForLeader();
    const target = cluster.members[leaderIndex]!;
    const before = (await cluster.nodes[leaderIndex]!.request({ cmd: "stats" }))["transport"] as { dropped: Record<string, number> };
    // An outsider that knows the member list, but whose key is not in it. The lower id of a pair
    // dials, so pick one below the target's to make the outsider the one that connects.
    let identity = generateIdentity();
    while (identity.id >= target.id) identity = generateIdentity();
    const outsider = await TcpTransport.start({
      identity,
      clusterId: "delta-test-cluster",
      members: [{ id: target.id, host: target.host, port: target.port }],
    });
    try {
      outsider.send(target.id, new TextEncoder().encode(JSON.stringify({ type: 100, state: 1, term: 99, publicKey: target.mokkaPublicKey, data: {}, proof: null })));
      await pollUntil("the outsider refused", 10_000, async () => {
        const now = (await cluster.nodes[leaderIndex]!.request({ cmd: "stats" }))["transport"] as { dropped: Record<string, number> };
        const sum = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);
        return sum(now.dropped) > sum(before.dropped) ? true : undefined;
      });
      assert.equal(outsider.isConnected(target.id), false);
    } finally {
      await outsider.stop();
    }
    committed = (await proposeAt(cluster.nodes[leaderIndex]!, 10)).lastIndex;
  });

  it("a follower behind the leader's compacted log catches up from a snapshot", async () => {
    const leaderIndex = await cluster.waitForLeader();
    const lagging = [0, 1, 2].find((i) => i !== leaderIndex)!;
    await cluster.nodes[lagging]!.kill("SIGKILL");
    committed = (await proposeAt(cluster.nodes[leaderIndex]!, 300)).lastIndex;
    const compacted = await cluster.nodes[leaderIndex]!.request({ cmd: "compact" });
    assert.ok(Number(compacted["compactedTo"]) >= committed, JSON.stringify(compacted));
    compactedTo = Number(compacted["compactedTo"]);
    committed = (await proposeAt(cluster.nodes[leaderIndex]!, 20)).lastIndex;
    const restarted = await cluster.start(lagging);
    const installed = await restarted.waitForEvent("snapshot installed", (e) => e.event === "snapshotInstalled", 20_000);
    assert.ok(Number(installed["index"]) >= Number(compacted["compactedTo"]));
    // After the snapshot it applies the rest entry by entry, the same as the leader.
    const from = Number(installed["index"]) + 1;
    await appliedHashes(restarted, committed);
    const mine = await restarted.request({ cmd: "hashes", from, to: committed });
    const leaders = await cluster.nodes[leaderIndex]!.request({ cmd: "hashes", from, to: committed });
    assert.ok((mine["hashes"] as unknown[]).every((h) => typeof h === "string"));
    assert.deepEqual(mine["hashes"], leaders["hashes"]);
  });

  it("a node whose last record was torn recovers: it drops the tail and catches up", async () => {
    const leaderIndex = await cluster.waitForLeader();
    const victim = [0, 1, 2].find((i) => i !== leaderIndex)!;
    await appliedHashes(cluster.nodes[victim]!, committed);
    const from = compactedTo + 1;
    const hashesBefore = (await cluster.nodes[victim]!.request({ cmd: "hashes", from, to: committed }))["hashes"] as string[];
    assert.ok(hashesBefore.every((h) => typeof h === "string"), "every entry after the snapshot applied");
    await cluster.nodes[victim]!.kill("SIGKILL");
    // Tear the last record as a crash mid-write would: its data cut short, its hash no longer matching.
    const db = new DatabaseSync(`${cluster.dir}/node${victim}.db`);
    db.exec("UPDATE entries SET data = substr(data, 1, length(data) - 7) WHERE idx = (SELECT MAX(idx) FROM entries)");
    db.close();
    const restarted = await cluster.start(victim);
    const opened = await restarted.waitForEvent("log opened", (e) => e["message"] === "replicated log opened");
    assert.ok(Number(opened["droppedTail"]) >= 1, `expected a dropped tail: ${JSON.stringify(opened)}`);
    committed = (await proposeAt(cluster.nodes[leaderIndex]!, 10)).lastIndex;
    await appliedHashes(restarted, committed);
    const after = (await restarted.request({ cmd: "hashes", from, to: committed }))["hashes"] as string[];
    assert.deepEqual(after.slice(0, hashesBefore.length), hashesBefore);
    await appliedHashes(cluster.nodes[leaderIndex]!, committed);
    assert.deepEqual(after, (await cluster.nodes[leaderIndex]!.request({ cmd: "hashes", from, to: committed }))["hashes"]);
  });
});
