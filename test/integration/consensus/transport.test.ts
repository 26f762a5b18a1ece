// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { setImmediate as yieldToIo } from "node:timers/promises";
import fc from "fast-check";
import { Direction, FrameKind, encodeFrame, sealFrame } from "../../../src/consensus/frames.ts";
import { exportIdentitySeedHex } from "../../../src/consensus/identity.ts";
import { TcpTransport, type TransportLogger } from "../../../src/consensus/tcpTransport.ts";
import {
  CLUSTER_ID,
  Cluster,
  FrameProxy,
  HandshakenClient,
  SocketFlood,
  generateIdentity,
  hostileDrops,
  sendRaw,
  sortedIdentities,
  waitFor,
} from "./transportFixtures.ts";

/** Fixed so a failure replays; change it to explore other inputs. */
const FUZZ_SEED = 20240517;

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function cluster(n: number, options: Parameters<typeof Cluster.create>[1] = {}): Promise<Cluster> {
  const c = await Cluster.create(sortedIdentities(n), options);
  cleanups.push(() => c.stopAll());
  return c;
}

async function proxyTo(port: number): Promise<FrameProxy> {
  const p = await FrameProxy.start(port);
  cleanups.push(() => p.stop());
  return p;
}

/** Runs `tasks` at most `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(task));
}

describe("TcpTransport between members", () => {
  test("three members exchange messages both ways, in order", async () => {
    const c = await cluster(3);
    for (let i = 0; i < 3; i++) await c.start(i);
    await c.connected(0, 1);
    await c.connected(0, 2);
    await c.connected(1, 2);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) await c.deliver(i, j, `hello ${i}->${j}`);

    const numbered = Array.from({ length: 200 }, (_, k) => `n${k}`);
    for (const text of numbered) {
      c.node(0).send(c.id(2), Buffer.from(text));
      c.node(2).send(c.id(0), Buffer.from(text));
    }
    await waitFor(() => c.inbox(2).texts(c.id(0)).length === 201 && c.inbox(0).texts(c.id(2)).length === 201, "200 numbered both ways");
    assert.deepEqual(c.inbox(2).texts(c.id(0)).slice(1), numbered);
    assert.deepEqual(c.inbox(0).texts(c.id(2)).slice(1), numbered);
    assert.equal(c.node(0).stats().peers[c.id(2)]?.framesOut, 201);
    assert.equal(hostileDrops(c.node(2).stats()), 0);
  });

  test("logs lifecycle through the given logger without key material", async () => {
    const lines: string[] = [];
    const record = (level: string) => (obj: object, msg: string) => void lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
    const logger: TransportLogger = { warn: record("warn"), info: record("info"), debug: record("debug") };
    const c = await cluster(2, { logger });
    await c.start(0);
    await c.start(1);
    await c.connected(0, 1);
    await c.deliver(0, 1, "logged");
    await sendRaw(c.node(1).port, [Buffer.from("garbage!")]);
    await c.stop(1);
    await waitFor(() => lines.some((l) => l.includes("peer disconnected")), "disconnect logged");
    assert.ok(lines.some((l) => l.startsWith("info transport peer connected")));
    const all = lines.join("\n");
    for (const identity of c.identities) assert.ok(!all.includes(exportIdentitySeedHex(identity)), "no private key in logs");
  });

  test("members started late are reached once they come up", async () => {
    const c = await cluster(3);
    await c.start(1);
    await c.start(0); // dials 1 at once and 2, which is not up yet, with backoff
    await c.connected(0, 1);
    c.node(0).send(c.id(2), Buffer.from("too early"));
    assert.equal(c.node(0).stats().dropped.peerDown, 1);
    await c.start(2);
    await c.connected(0, 2);
    await c.connected(1, 2);
    await c.deliver(0, 2, "late acceptor");
    await c.deliver(2, 1, "from the late one");
  });

  test("a stopped and restarted member gets messages after reconnecting, as acceptor or as dialer", async () => {
    const c = await cluster(3);
    for (let i = 0; i < 3; i++) await c.start(i);
    await c.connected(0, 2);
    await c.connected(1, 2);

    await c.stop(2);
    await waitFor(() => !c.node(0).isConnected(c.id(2)) && !c.node(1).isConnected(c.id(2)), "2 seen down");
    c.node(0).send(c.id(2), Buffer.from("while down"));
    await c.start(2);
    await c.connected(0, 2);
    await c.connected(1, 2);
    await c.deliver(0, 2, "after restart");
    await c.deliver(2, 1, "restarted speaks");
    assert.equal(c.inbox(2).has(c.id(0), "while down"), false);

    await c.stop(0);
    await waitFor(() => !c.node(1).isConnected(c.id(0)), "0 seen down");
    await c.start(0);
    await c.connected(0, 1);
    await c.connected(0, 2);
    await c.deliver(1, 0, "dialer back");
    await c.deliver(0, 2, "dialer speaks");
  });

  test("send() to a down, unknown or stopped peer returns without throwing and counts the drop", async () => {
    const c = await cluster(3, { maxFrameBytes: 4096 });
    const node = await c.start(0);
    for (let k = 0; k < 10_000; k++) node.send(c.id(1), Buffer.from("x"));
    node.send("ff".repeat(32), Buffer.from("x"));
    node.send(c.id(1), Buffer.alloc(8192));
    // Callers without types may pass anything; the transport must still not throw.
    node.send(c.id(1), "not bytes" as unknown as Uint8Array);
    const dropped = node.stats().dropped;
    assert.equal(dropped.peerDown, 10_000);
    assert.equal(dropped.unknownDestination, 1);
    assert.equal(dropped.payloadTooLarge, 1);
    assert.equal(dropped.invalidPayload, 1);
    await c.stop(0);
    node.send(c.id(1), Buffer.from("x"));
    assert.equal(node.stats().dropped.stopped, 1);
  });

  test("a payload too large for a frame is dropped, counted and logged at warn, rate-limited", async () => {
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const logger: TransportLogger = { warn: (obj, msg) => void warnings.push({ obj: { ...obj }, msg }), info() {}, debug() {} };
    const c = await cluster(2, { maxFrameBytes: 4096, logger });
    await c.start(0);
    await c.start(1);
    await c.connected(0, 1);
    for (let k = 0; k < 3; k++) c.node(0).send(c.id(1), Buffer.alloc(8192));
    assert.equal(c.node(0).stats().dropped.payloadTooLarge, 3);
    const dropped = warnings.filter((w) => w.msg === "transport dropped an outgoing payload");
    assert.equal(dropped.length, 1, "one warning for three drops within the interval");
    assert.deepEqual(dropped[0]?.obj, { reason: "payloadTooLarge", peer: c.id(1), bytes: 8192, maxBytes: 4096 - 41, notLoggedSince: 0, total: 1 });
    await c.deliver(0, 1, "smaller ones still go");
  });

  test("a peer that stops reading does not stall messages to the other peer", async () => {
    const c = await cluster(3, { maxQueuedFrames: 16 });
    await c.start(1);
    await c.start(2);
    const proxy = await proxyTo(c.ports[2] ?? 0);
    await c.start(0, { 2: proxy.port });
    await c.connected(0, 1);
    await c.connected(0, 2);

    proxy.pauseClients(); // node 2 now reads nothing node 0 sends
    const big = Buffer.alloc(256 * 1024, 0x61);
    const expected: string[] = [];
    for (let k = 0; k < 300; k++) {
      c.node(0).send(c.id(2), big);
      c.node(0).send(c.id(1), Buffer.from(`m${k}`));
      expected.push(`m${k}`);
      await yieldToIo(); // let sockets move, as a running node would
    }
    await waitFor(() => c.inbox(1).texts(c.id(0)).length === expected.length, "all messages to the reading peer");
    assert.deepEqual(c.inbox(1).texts(c.id(0)), expected);
    const slow = c.node(0).stats().peers[c.id(2)];
    assert.ok(slow !== undefined && slow.queueFullDrops > 0, "the slow peer's bounded queue dropped");
    assert.ok((slow?.queuedFrames ?? Infinity) <= 16);

    proxy.resumeClients();
    c.node(0).send(c.id(2), Buffer.from("caught up"));
    await waitFor(() => c.inbox(2).has(c.id(0), "caught up"), "slow peer drains", 10_000);
  });
});

describe("TcpTransport refuses outsiders and hostile bytes", () => {
  test("an identity outside the member list is refused and counted", async () => {
    const c = await cluster(3);
    for (let i = 0; i < 3; i++) await c.start(i);
    await c.connected(0, 1);
    const target = c.node(2);
    const outsider = generateIdentity();

    await assert.rejects(HandshakenClient.connect(outsider, target.port), /closed during handshake/);
    await waitFor(() => target.stats().dropped.unknownPeer === 1, "unknownPeer counted");

    // A full transport whose own member list names the target: the target still refuses it.
    let intruderIdentity = generateIdentity();
    while (intruderIdentity.id > c.id(2)) intruderIdentity = generateIdentity();
    const intruder = await TcpTransport.start({
      identity: intruderIdentity,
      clusterId: CLUSTER_ID,
      members: [{ id: c.id(2), host: "127.0.0.1", port: target.port }],
      reconnectBaseMs: 10,
    });
    cleanups.push(() => intruder.stop());
    await waitFor(() => target.stats().dropped.unknownPeer >= 2, "intruder refused");
    assert.equal(intruder.isConnected(c.id(2)), false);
    await intruder.stop();

    // A member's key with the wrong cluster id fails the signature check.
    await assert.rejects(HandshakenClient.connect(c.identity(0), c.node(1).port, "another-cluster"), /closed during handshake|badHandshake/);
    await waitFor(() => c.node(1).stats().dropped.badHandshake === 1, "wrong cluster refused");
    await c.deliver(0, 1, "members unaffected");
  });

  test("a flood of idle sockets filling the handshake table does not lock a member out", async () => {
    const c = await cluster(2); // member 0 has the lower id: it dials member 1
    const target = await c.start(1);
    const flood = new SocketFlood(target.port, 256);
    cleanups.push(() => flood.stop());
    // Full: 256 idle sockets for 64 slots, each evicted one re-dialing at once.
    await waitFor(() => target.stats().dropped.tooManyHandshakes >= 256 - 64, "handshake table full");
    await c.start(0);
    await waitFor(() => c.node(0).isConnected(c.id(1)) && target.isConnected(c.id(0)), "member connected during the flood", 5000);
    await c.deliver(0, 1, "through the flood");
    const evicted = target.stats().dropped.tooManyHandshakes;
    await waitFor(() => target.stats().dropped.tooManyHandshakes > evicted + 100, "the flood still going");
    assert.ok(c.node(0).isConnected(c.id(1)), "an authenticated session is never evicted");
    await flood.stop();
    await c.deliver(1, 0, "after the flood");
  });

  test("garbage, random bytes, mutated and replayed real frames, truncation and oversize are dropped and counted", async () => {
    // Member 0 is a key the test holds (lowest id, so the target accepts its calls); 1..3 are real nodes.
    const c = await cluster(4);
    await c.start(2);
    await c.start(3);
    const proxy = await proxyTo(c.ports[2] ?? 0);
    await c.start(1, { 2: proxy.port }); // node 1 reaches node 2 through the proxy
    await c.connected(1, 2);
    await c.connected(1, 3);
    await c.connected(2, 3);
    const target = c.node(2);
    for (let k = 0; k < 5; k++) await c.deliver(1, 2, `warm-up ${k}`);
    const real = [...proxy.captured];
    assert.ok(real.some((f) => f[4] === FrameKind.DATA));

    // 1. Random bytes on fresh connections: each connection is refused exactly once.
    const random = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 400 }),
        // A plausible HELLO header with random content reaches the HELLO parser.
        fc.uint8Array({ minLength: 96, maxLength: 96 }).map((rest) => Buffer.concat([Buffer.from([0, 0, 0, 98, FrameKind.HELLO, 1]), rest])),
        fc.uint8Array({ minLength: 1, maxLength: 200 }).map((body) => encodeFrame(body)),
      ),
      { seed: FUZZ_SEED, numRuns: 150 },
    );
    let before = hostileDrops(target.stats());
    await inBatches(random, 25, (bytes) => sendRaw(target.port, [Buffer.from(bytes)]));
    await waitFor(() => hostileDrops(target.stats()) >= before + random.length, `random connections counted (seed ${FUZZ_SEED})`);
    assert.equal(hostileDrops(target.stats()), before + random.length, `one drop per random connection (seed ${FUZZ_SEED})`);
    await c.deliver(1, 2, "after random bytes");

    // 2. Mutated real frames, and a whole captured session replayed, on fresh connections.
    const mutations = fc.sample(
      fc.tuple(
        fc.nat({ max: real.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
      ),
      { seed: FUZZ_SEED + 1, numRuns: 100 },
    );
    const mutated = mutations.map(([pick, edits, prependSession]) => {
      const frame = Buffer.from(real[pick] ?? Buffer.alloc(1));
      for (const [at, xor] of edits) frame[at % frame.length] = (frame[at % frame.length] ?? 0) ^ xor;
      return prependSession ? [...real.slice(0, 2), frame] : [frame];
    });
    before = hostileDrops(target.stats());
    await inBatches(mutated, 25, (chunks) => sendRaw(target.port, chunks));
    await sendRaw(target.port, real); // the captured session, verbatim
    await waitFor(() => hostileDrops(target.stats()) > before, "mutated frames counted");
    await c.deliver(1, 2, "after mutated frames");
    await c.deliver(2, 3, "others unaffected");

    // 3. Inside an authenticated session (the test's member key): every violation closes it.
    const memberKey = c.identity(0);
    const inSession = async (frames: (client: HandshakenClient) => Buffer[]): Promise<void> => {
      const client = await HandshakenClient.connect(memberKey, target.port);
      for (const f of frames(client)) client.write(f);
      await client.closed();
    };
    const seal = (client: HandshakenClient, seq: number, text: string): Buffer =>
      sealFrame(client.session.sendKey, client.session.sendDirection, seq, FrameKind.DATA, Buffer.from(text));
    let s = target.stats().dropped;
    await inSession((cl) => [seal(cl, 0, "genuine"), seal(cl, 1, "genuine 2"), seal(cl, 1, "replay")]);
    await waitFor(() => target.stats().dropped.replayed === s.replayed + 1, "replayed counted");
    assert.ok(c.inbox(2).has(memberKey.id, "genuine 2"));
    assert.equal(c.inbox(2).has(memberKey.id, "replay"), false);

    await inSession((cl) => [seal(cl, 3, "skipped ahead")]);
    await inSession((cl) => {
      const f = seal(cl, 0, "flipped");
      f[12] = (f[12] ?? 0) ^ 0x10;
      return [f];
    });
    await inSession(() => [Buffer.from([0x01, 0x00, 0x00, 0x01])]); // 16 MiB + 1
    await inSession((cl) => [sealFrame(cl.session.sendKey, Direction.ACCEPTOR_TO_DIALER, 0, FrameKind.DATA, Buffer.from("reflected"))]);
    await waitFor(() => {
      const d = target.stats().dropped;
      return d.outOfOrder === s.outOfOrder + 1 && d.forged === s.forged + 2 && d.oversize >= s.oversize + 1;
    }, "in-session violations counted");
    assert.equal(c.inbox(2).has(memberKey.id, "flipped"), false);

    // Mutated real frames of another session, each on a fresh authenticated session.
    const sealedReal = real.filter((f) => f[4] === FrameKind.DATA);
    s = target.stats().dropped;
    const picks = fc.sample(fc.tuple(fc.nat({ max: sealedReal.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 255 })), {
      seed: FUZZ_SEED + 2,
      numRuns: 20,
    });
    for (const [pick, at, xor] of picks) {
      const frame = Buffer.from(sealedReal[pick] ?? Buffer.alloc(5));
      const i = 4 + (at % (frame.length - 4)); // keep the length prefix, mutate the body
      frame[i] = (frame[i] ?? 0) ^ xor;
      await inSession(() => [frame]);
    }
    await waitFor(() => {
      const d = target.stats().dropped;
      return d.forged + d.malformed - s.forged - s.malformed === picks.length;
    }, "foreign frames counted");

    // 4. Through the proxy, inside the real 1->2 session: replay, bit flip, truncation.
    const retalk = async (label: string, counter: () => number, expected: number): Promise<void> => {
      const handshakes = target.stats().handshakesCompleted;
      c.node(1).send(c.id(2), Buffer.from(label));
      await waitFor(() => counter() === expected, `${label} counted`);
      await waitFor(() => target.stats().handshakesCompleted > handshakes && c.node(1).isConnected(c.id(2)), `${label}: reconnected`);
      await c.deliver(1, 2, `after ${label}`);
    };
    s = target.stats().dropped;
    proxy.tamperNext((body) => ({ write: [encodeFrame(body), encodeFrame(body)] }));
    await retalk("replay", () => target.stats().dropped.replayed, s.replayed + 1);
    assert.equal(c.inbox(2).texts(c.id(1)).filter((t) => t === "replay").length, 1, "delivered once, not twice");

    proxy.tamperNext((body) => {
      const forged = Buffer.from(body);
      forged[10] = (forged[10] ?? 0) ^ 1;
      return { write: [encodeFrame(forged)] };
    });
    await retalk("forgery", () => target.stats().dropped.forged, s.forged + 1);
    assert.equal(c.inbox(2).has(c.id(1), "forgery"), false);

    proxy.tamperNext((body) => ({ write: [encodeFrame(body).subarray(0, 20)], thenClose: true }));
    await retalk("truncation", () => target.stats().dropped.truncated, s.truncated + 1);

    // 5. Oversize prefix before any handshake.
    const oversize = target.stats().dropped.oversize;
    await sendRaw(target.port, [Buffer.from([0x7f, 0xff, 0xff, 0xff])], { end: false });
    assert.equal(target.stats().dropped.oversize, oversize + 1);

    // The real members kept talking through all of it.
    await c.deliver(1, 2, "still here");
    await c.deliver(3, 2, "and here");
    await c.deliver(2, 1, "both ways");
    for (const text of c.inbox(2).texts(c.id(1))) assert.ok(!text.includes("\u0000"), "nothing hostile delivered");
  });
});
