// SPDX-License-Identifier: AGPL-3.0-or-later
import assert from "node:assert/strict";
import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { DeltaError } from "../../../src/errors.ts";
import {
  Direction,
  FrameDecoder,
  FrameKind,
  LENGTH_PREFIX_BYTES,
  SEALED_OVERHEAD_BYTES,
  encodeFrame,
  openFrame,
  sealFrame,
  type DecodeStep,
} from "../../../src/consensus/frames.ts";
import { Handshake, type HandshakeFailure, type Session } from "../../../src/consensus/handshake.ts";
import {
  exportIdentityPem,
  exportIdentitySeedHex,
  generateIdentity,
  loadIdentity,
  publicKeyFromId,
  signMessage,
  verifySignature,
  type NodeIdentity,
} from "../../../src/consensus/identity.ts";

const key = createSecretKey(Buffer.alloc(32, 7));
const otherKey = createSecretKey(Buffer.alloc(32, 8));

/** Feeds `bytes` to a decoder in pieces cut at `cuts` and collects every step until it needs more. */
function decodeAll(decoder: FrameDecoder, bytes: Buffer, cuts: number[] = []): DecodeStep[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const steps: DecodeStep[] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    decoder.push(bytes.subarray(from, to));
    from = to;
    for (;;) {
      const step = decoder.next();
      if (step.kind === "needMore") break;
      steps.push(step);
      if (step.kind === "error") return steps;
    }
  }
  return steps;
}

function bodyOf(frame: Buffer): Buffer {
  return frame.subarray(LENGTH_PREFIX_BYTES);
}

describe("frame codec", () => {
  test("round-trips any bodies however the stream is cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bodies, cuts) => {
          const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
          const steps = decodeAll(new FrameDecoder(1024), stream, cuts);
          assert.deepEqual(
            steps.map((s) => (s.kind === "frame" ? [...s.body] : s.kind)),
            bodies.map((b) => [...b]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test("refuses an oversize length prefix as soon as its 4 bytes arrive, buffering nothing", () => {
    const decoder = new FrameDecoder(1024);
    decoder.push(Buffer.from([0xff, 0xff]));
    assert.deepEqual(decoder.next(), { kind: "needMore" });
    decoder.push(Buffer.from([0xff, 0xff]));
    assert.deepEqual(decoder.next(), { kind: "error", reason: "oversize" });
    assert.equal(decoder.bufferedBytes, 0);
    decoder.push(Buffer.alloc(4096));
    assert.equal(decoder.bufferedBytes, 0, "a failed decoder takes no more bytes");
    assert.equal(decoder.next().kind, "error");
  });

  test("accepts a frame of exactly the maximum and refuses one byte more", () => {
    assert.equal(decodeAll(new FrameDecoder(100), encodeFrame(Buffer.alloc(100, 1)))[0]?.kind, "frame");
    assert.deepEqual(decodeAll(new FrameDecoder(100), encodeFrame(Buffer.alloc(101, 1))), [{ kind: "error", reason: "oversize" }]);
  });

  test("refuses an empty body", () => {
    assert.deepEqual(decodeAll(new FrameDecoder(100), Buffer.alloc(4)), [{ kind: "error", reason: "malformed" }]);
  });

  test("holds a truncated frame without returning it", () => {
    const frame = encodeFrame(Buffer.alloc(50, 3));
    const decoder = new FrameDecoder(100);
    assert.deepEqual(decodeAll(decoder, frame.subarray(0, 30)), []);
    assert.equal(decoder.bufferedBytes, 30);
  });

  test("applies a raised maximum to frames that follow in the same chunk", () => {
    const decoder = new FrameDecoder(10);
    decoder.push(Buffer.concat([encodeFrame(Buffer.alloc(8, 1)), encodeFrame(Buffer.alloc(200, 2))]));
    assert.equal(decoder.next().kind, "frame");
    decoder.setMaxFrameBytes(1000);
    const step = decoder.next();
    assert.equal(step.kind === "frame" ? step.body.length : -1, 200);
  });
});

describe("sealed frames", () => {
  test("round-trip payload, kind and sequence number", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), fc.nat({ max: 2 ** 40 }), fc.constantFrom(0, 1), (payload, seq, dirBit) => {
        const direction = dirBit === 0 ? Direction.DIALER_TO_ACCEPTOR : Direction.ACCEPTOR_TO_DIALER;
        const frame = sealFrame(key, direction, seq, FrameKind.DATA, payload);
        assert.equal(frame.readUInt32BE(0), payload.length + SEALED_OVERHEAD_BYTES);
        const opened = openFrame(key, direction, bodyOf(frame), seq);
        assert.ok(opened.ok);
        assert.equal(opened.kind, FrameKind.DATA);
        assert.equal(opened.seq, seq);
        assert.deepEqual([...opened.payload], [...payload]);
      }),
      { numRuns: 300 },
    );
  });

  test("fails verification after any single bit flip in the body", () => {
    const payload = Buffer.from('{"type":10,"term":3}');
    const body = bodyOf(sealFrame(key, Direction.DIALER_TO_ACCEPTOR, 5, FrameKind.DATA, payload));
    for (let bit = 0; bit < body.length * 8; bit++) {
      const mutated = Buffer.from(body);
      mutated[bit >> 3] = (mutated[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      const opened = openFrame(key, Direction.DIALER_TO_ACCEPTOR, mutated, 5);
      assert.equal(opened.ok, false, `bit ${bit} flipped and still accepted`);
    }
  });

  test("fails verification after random mutations of random frames", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.nat({ max: 1000 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 5 }),
        (payload, seq, edits) => {
          const body = bodyOf(sealFrame(key, Direction.ACCEPTOR_TO_DIALER, seq, FrameKind.DATA, payload));
          const mutated = Buffer.from(body);
          for (const [at, xor] of edits) mutated[at % mutated.length] = (mutated[at % mutated.length] ?? 0) ^ xor;
          fc.pre(!mutated.equals(body));
          assert.equal(openFrame(key, Direction.ACCEPTOR_TO_DIALER, mutated, seq).ok, false);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("a flipped length-prefix bit never yields the original frame", () => {
    const frame = sealFrame(key, Direction.DIALER_TO_ACCEPTOR, 0, FrameKind.DATA, Buffer.from("hello"));
    for (let bit = 0; bit < 32; bit++) {
      const mutated = Buffer.from(frame);
      mutated[bit >> 3] = (mutated[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      const steps = decodeAll(new FrameDecoder(1 << 20), mutated);
      for (const step of steps) {
        if (step.kind === "frame") assert.equal(openFrame(key, Direction.DIALER_TO_ACCEPTOR, step.body, 0).ok, false);
      }
    }
  });

  test("refuses a replayed sequence number as replayed and a skipped one as out of order", () => {
    const frame = (seq: number): Buffer => bodyOf(sealFrame(key, Direction.DIALER_TO_ACCEPTOR, seq, FrameKind.DATA, Buffer.from("x")));
    assert.ok(openFrame(key, Direction.DIALER_TO_ACCEPTOR, frame(3), 3).ok);
    assert.deepEqual(openFrame(key, Direction.DIALER_TO_ACCEPTOR, frame(3), 4), { ok: false, reason: "replayed" });
    assert.deepEqual(openFrame(key, Direction.DIALER_TO_ACCEPTOR, frame(0), 4), { ok: false, reason: "replayed" });
    assert.deepEqual(openFrame(key, Direction.DIALER_TO_ACCEPTOR, frame(6), 4), { ok: false, reason: "outOfOrder" });
  });

  test("refuses a frame under another key or reflected to the other direction as forged", () => {
    const body = bodyOf(sealFrame(key, Direction.DIALER_TO_ACCEPTOR, 0, FrameKind.DATA, Buffer.from("x")));
    assert.deepEqual(openFrame(otherKey, Direction.DIALER_TO_ACCEPTOR, body, 0), { ok: false, reason: "forged" });
    assert.deepEqual(openFrame(key, Direction.ACCEPTOR_TO_DIALER, body, 0), { ok: false, reason: "forged" });
  });

  test("refuses truncated bodies and unknown kinds as malformed or forged, never accepted", () => {
    const body = bodyOf(sealFrame(key, Direction.DIALER_TO_ACCEPTOR, 0, FrameKind.DATA, Buffer.from("payload")));
    for (let length = 0; length < body.length; length++) {
      const opened = openFrame(key, Direction.DIALER_TO_ACCEPTOR, body.subarray(0, length), 0);
      assert.equal(opened.ok, false);
      if (length < SEALED_OVERHEAD_BYTES) assert.deepEqual(opened, { ok: false, reason: "malformed" });
    }
    const hello = Buffer.from(body);
    hello[0] = FrameKind.HELLO;
    assert.deepEqual(openFrame(key, Direction.DIALER_TO_ACCEPTOR, hello, 0), { ok: false, reason: "malformed" });
  });
});

describe("identity", () => {
  test("loads back from its seed hex and its PEM with the same id", () => {
    const id = generateIdentity();
    assert.match(id.id, /^[0-9a-f]{64}$/);
    assert.equal(loadIdentity(exportIdentitySeedHex(id)).id, id.id);
    assert.equal(loadIdentity(`0x${exportIdentitySeedHex(id)}`).id, id.id);
    assert.equal(loadIdentity(exportIdentityPem(id)).id, id.id);
  });

  test("signs and verifies; a different message or key fails", () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const sig = signMessage(a, Buffer.from("m"));
    assert.ok(verifySignature(publicKeyFromId(a.id), Buffer.from("m"), sig));
    assert.equal(verifySignature(publicKeyFromId(a.id), Buffer.from("n"), sig), false);
    assert.equal(verifySignature(publicKeyFromId(b.id), Buffer.from("m"), sig), false);
    assert.equal(verifySignature(publicKeyFromId(a.id), Buffer.from("m"), sig.subarray(1)), false);
  });

  test("refuses malformed key material with INVALID_CONFIG and does not echo it", () => {
    for (const bad of ["", "zz", "12".repeat(31), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]) {
      assert.throws(
        () => loadIdentity(bad),
        (err: unknown) => err instanceof DeltaError && err.code === "INVALID_CONFIG" && (bad.length < 8 || !err.message.includes(bad)),
      );
    }
    assert.throws(() => publicKeyFromId("AB".repeat(32)), DeltaError);
  });

  test("prints no private key material when inspected or serialised", () => {
    const id = generateIdentity();
    const seed = exportIdentitySeedHex(id);
    assert.ok(!JSON.stringify(id).includes(seed));
    assert.ok(!String(Object.values(id)).includes(seed));
  });
});

describe("handshake", () => {
  const clusterId = "test-cluster";
  const everyone = (): HandshakeFailure | null => null;

  function pair(
    dialerId: NodeIdentity,
    acceptorId: NodeIdentity,
    options: { acceptorCluster?: string; acceptorCheck?: (id: string) => HandshakeFailure | null } = {},
  ): { dialer: Handshake; acceptor: Handshake } {
    return {
      dialer: new Handshake({ identity: dialerId, clusterId, role: "dialer", checkPeer: everyone }),
      acceptor: new Handshake({
        identity: acceptorId,
        clusterId: options.acceptorCluster ?? clusterId,
        role: "acceptor",
        checkPeer: options.acceptorCheck ?? everyone,
      }),
    };
  }

  function complete(dialer: Handshake, acceptor: Handshake): { d: Session; a: Session } {
    const dHello = dialer.receiveHello(acceptor.helloBody);
    const aHello = acceptor.receiveHello(dialer.helloBody);
    assert.ok(dHello.ok && aHello.ok);
    const d = dialer.receiveAuth(aHello.authBody);
    const a = acceptor.receiveAuth(dHello.authBody);
    assert.ok(d.ok && a.ok);
    return { d: d.session, a: a.session };
  }

  function sameKey(x: KeyObject, y: KeyObject): boolean {
    return x.export().equals(y.export());
  }

  test("derives matching per-direction keys and learns each other's id", () => {
    const alice = generateIdentity();
    const bob = generateIdentity();
    const { dialer, acceptor } = pair(alice, bob);
    const { d, a } = complete(dialer, acceptor);
    assert.equal(d.peerId, bob.id);
    assert.equal(a.peerId, alice.id);
    assert.ok(sameKey(d.sendKey, a.receiveKey));
    assert.ok(sameKey(a.sendKey, d.receiveKey));
    assert.ok(!sameKey(d.sendKey, d.receiveKey));
    const frame = sealFrame(d.sendKey, d.sendDirection, 0, FrameKind.DATA, Buffer.from("hi"));
    assert.ok(openFrame(a.receiveKey, a.receiveDirection, bodyOf(frame), 0).ok);
  });

  test("a fresh session gets fresh keys, so frames of an old session are forged in a new one", () => {
    const alice = generateIdentity();
    const bob = generateIdentity();
    const session = (): { d: Session; a: Session } => {
      const { dialer, acceptor } = pair(alice, bob);
      return complete(dialer, acceptor);
    };
    const first = session();
    const second = session();
    const old = sealFrame(first.d.sendKey, first.d.sendDirection, 0, FrameKind.DATA, Buffer.from("hi"));
    assert.deepEqual(openFrame(second.a.receiveKey, second.a.receiveDirection, bodyOf(old), 0), { ok: false, reason: "forged" });
  });

  test("refuses a peer its check refuses, before signing anything", () => {
    const { dialer, acceptor } = pair(generateIdentity(), generateIdentity(), { acceptorCheck: () => "unknownPeer" });
    assert.deepEqual(acceptor.receiveHello(dialer.helloBody), { ok: false, reason: "unknownPeer" });
  });

  test("refuses an AUTH replayed from another session", () => {
    const alice = generateIdentity();
    const bob = generateIdentity();
    const old = pair(alice, bob);
    const oldHello = old.dialer.receiveHello(old.acceptor.helloBody);
    assert.ok(oldHello.ok);
    // The attacker replays alice's old HELLO and AUTH to a new bob session.
    const fresh = new Handshake({ identity: bob, clusterId, role: "acceptor", checkPeer: everyone });
    assert.ok(fresh.receiveHello(old.dialer.helloBody).ok);
    assert.deepEqual(fresh.receiveAuth(oldHello.authBody), { ok: false, reason: "badHandshake" });
  });

  test("refuses a HELLO whose ephemeral key or nonce was swapped in transit", () => {
    for (const offset of [40, 70]) {
      const { dialer, acceptor } = pair(generateIdentity(), generateIdentity());
      const tampered = Buffer.from(dialer.helloBody);
      tampered[offset] = (tampered[offset] ?? 0) ^ 1;
      const aHello = acceptor.receiveHello(tampered);
      const dHello = dialer.receiveHello(acceptor.helloBody);
      assert.ok(dHello.ok);
      if (aHello.ok) assert.deepEqual(acceptor.receiveAuth(dHello.authBody), { ok: false, reason: "badHandshake" });
    }
  });

  test("refuses a peer of another cluster id", () => {
    const { dialer, acceptor } = pair(generateIdentity(), generateIdentity(), { acceptorCluster: "other" });
    const dHello = dialer.receiveHello(acceptor.helloBody);
    const aHello = acceptor.receiveHello(dialer.helloBody);
    assert.ok(dHello.ok && aHello.ok);
    assert.deepEqual(acceptor.receiveAuth(dHello.authBody), { ok: false, reason: "badHandshake" });
    assert.deepEqual(dialer.receiveAuth(aHello.authBody), { ok: false, reason: "badHandshake" });
  });

  test("refuses its own HELLO reflected back and random bytes, never throwing", () => {
    const me = generateIdentity();
    const hs = new Handshake({ identity: me, clusterId, role: "dialer", checkPeer: everyone });
    assert.deepEqual(hs.receiveHello(hs.helloBody), { ok: false, reason: "badHandshake" });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const h = new Handshake({ identity: me, clusterId, role: "acceptor", checkPeer: everyone });
        const result = h.receiveHello(Buffer.from(bytes));
        if (result.ok) assert.equal(h.receiveAuth(Buffer.from(randomBytes(65))).ok, false);
      }),
      { numRuns: 100 },
    );
  });
});
