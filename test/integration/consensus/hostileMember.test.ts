// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Hostile input from an authenticated member never crashes a node: one real ReplicatedLog (its
 * own SQLite file, Mokka, TCP) whose two peers are transports driven by this test with the
 * members' keys, sending malformed Mokka packets (MOKKA.md §6: Mokka itself exits on a vote with
 * `data: null` or on non-JSON), packets claiming another member's Mokka key, and broken log
 * messages. Each is dropped and counted; the node keeps running and answering.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateIdentity, type NodeIdentity } from "../../../src/consensus/identity.ts";
import { mokkaPublicKeyOf, ReplicatedLog, type LogMember } from "../../../src/consensus/replicatedLog.ts";
import { TcpTransport } from "../../../src/consensus/tcpTransport.ts";
import { freePort } from "../../../src/devnet/ganache.ts";
import { pollUntil } from "./cluster.ts";

describe("replicated log: hostile packets from an authenticated member", () => {
  const dir = mkdtempSync(join(tmpdir(), "delta-hostile-"));
  let node: ReplicatedLog;
  let peers: TcpTransport[] = [];
  let members: LogMember[] = [];
  let identities: NodeIdentity[] = [];

  before(async () => {
    identities = [generateIdentity(), generateIdentity(), generateIdentity()];
    const mokkaKeys = identities.map(() => randomBytes(32).toString("hex"));
    members = [];
    for (let i = 0; i < 3; i++) {
      members.push({ id: identities[i]!.id, host: "127.0.0.1", port: await freePort(), mokkaPublicKey: mokkaPublicKeyOf(mokkaKeys[i]!) });
    }
    node = await ReplicatedLog.open({
      identity: identities[0]!,
      mokkaPrivateKey: mokkaKeys[0]!,
      members,
      clusterId: "hostile-test",
      storePath: join(dir, "node0.db"),
      onCommit: () => {},
    });
    // The two other members, as bare transports: authenticated, but sending whatever we like.
    peers = await Promise.all(
      [1, 2].map((i) =>
        TcpTransport.start({ identity: identities[i]!, clusterId: "hostile-test", members: members.map(({ id, host, port }) => ({ id, host, port })), port: members[i]!.port }),
      ),
    );
    await pollUntil("peers connected", 10_000, () => (peers.every((p) => p.isConnected(members[0]!.id)) ? true : undefined));
  });
  after(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
  const dropped = (): Record<string, number> => node.stats().dropped;
  const total = (d: Record<string, number>): number => Object.values(d).reduce((a, b) => a + b, 0);

  it("drops each malformed packet, counts it, and keeps running", async () => {
    const self = members[0]!.id;
    const peer = members[1]!;
    const other = members[2]!;
    const cases: [string, Uint8Array][] = [
      ["not JSON", new TextEncoder().encode("{not json")],
      ["JSON but not an object", json([1, 2, 3])],
      ["a vote with data null (crashes bare Mokka)", json({ state: 2, type: 11, term: 5, publicKey: peer.mokkaPublicKey, data: null, proof: null })],
      ["a vote without our log fields", json({ state: 2, type: 11, term: 5, publicKey: peer.mokkaPublicKey, data: { nonce: Date.now() }, proof: null })],
      ["a packet claiming the other member's Mokka key", json({ state: 1, type: 10, term: 9, publicKey: other.mokkaPublicKey, data: null, proof: "a:b:c" })],
      ["a log message of the wrong shape", json({ state: 1, type: 100, term: 1, publicKey: peer.mokkaPublicKey, data: { type: "append", term: "one" }, proof: null })],
      ["a log message with a bogus entry", json({ state: 1, type: 100, term: 1, publicKey: peer.mokkaPublicKey, data: { type: "append", term: 1, leader: peer.id, prevIndex: 0, prevTerm: 0, prevHash: "0".repeat(64), entries: [{ index: 1 }], leaderCommit: 0, lastIndex: 0, lastTerm: 0 }, proof: null })],
      ["negative and fractional numbers", json({ state: -1, type: 10.5, term: -3, publicKey: peer.mokkaPublicKey, data: null, proof: null })],
    ];
    let expected = total(dropped());
    for (const [what, payload] of cases) {
      peers[0]!.send(self, payload);
      expected++;
      await pollUntil(`${what} dropped`, 5_000, () => (total(dropped()) >= expected ? true : undefined));
    }
    const d = dropped();
    assert.ok(d["badJson"]! >= 1 && d["badPacket"]! >= 4 && d["wrongMokkaKey"]! >= 1 && d["badLogMessage"]! >= 2, JSON.stringify(d));
    // Still alive: it answers, its transport still talks to the peers, and its store is open.
    assert.equal(node.status().id, self);
    assert.ok(peers[0]!.isConnected(self));
  });

  it("survives thousands of random payloads from a member", async () => {
    const self = members[0]!.id;
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const before = node.stats().transport.framesIn;
    for (let i = 0; i < 2_000; i++) {
      const prefix = new TextEncoder().encode('{"state":1,"type":');
      const bytes = new Uint8Array(prefix.length + Math.floor(rand() * 300));
      for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(rand() * 256);
      // Half of them start like a JSON object, to get past the first parse more often.
      if (i % 2 === 0) bytes.set(prefix, 0);
      peers[1]!.send(self, bytes);
    }
    await pollUntil("all delivered", 10_000, () => (node.stats().transport.framesIn >= before + 2_000 ? true : undefined));
    assert.equal(node.status().id, self);
  });
});
