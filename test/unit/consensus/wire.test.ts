// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The wire-size estimates behind the log core's byte budgets and the driver's entry-size limit
 * must never fall short of the real encoding: an underestimate would let an append outgrow the
 * transport's frame cap, which drops it (the stall these budgets exist to prevent).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AppendMessage, SnapshotMessage } from "../../../src/consensus/messages.ts";
import {
  ENTRY_WIRE_OVERHEAD_BYTES,
  MESSAGE_WIRE_OVERHEAD_BYTES,
  decodeMessage,
  encodeMessage,
  entryWireBytes,
  maxEntryDataBytes,
  maxSnapshotDataBytes,
} from "../../../src/consensus/wire.ts";
import type { LogEntry } from "../../../src/storage/index.ts";

const MAX = Number.MAX_SAFE_INTEGER;
/** The longest id messages.ts accepts (MAX_ID_LENGTH). */
const LONG_ID = "f".repeat(256);
const HASH = "ab".repeat(32);

/** A wire entry with every field at its widest; its data need not match its hash for sizing. */
function wideEntry(dataLength: number): LogEntry {
  return { index: MAX, term: MAX, leader: LONG_ID, prevHash: HASH, data: new Uint8Array(dataLength).fill(0xff), hash: HASH };
}

function wideAppend(entries: readonly LogEntry[]): AppendMessage {
  return { type: "append", term: MAX, leader: LONG_ID, prevIndex: MAX, prevTerm: MAX, prevHash: HASH, entries, leaderCommit: MAX, lastIndex: MAX, lastTerm: MAX };
}

/** The payload the driver hands the transport: Mokka's packet (MessageApi.packet) around the message. */
function mokkaPayloadBytes(data: Record<string, unknown>): number {
  const proof = `${Date.now()}:${"02" + "cd".repeat(32)}:${"ef".repeat(32)}`;
  const packet = { state: 1, type: 100, term: MAX, publicKey: "03" + "12".repeat(32), data, proof, timestamp: Date.now() };
  return Buffer.byteLength(JSON.stringify(packet));
}

describe("wire sizes", () => {
  it("entryWireBytes bounds what an entry adds to an encoded append", () => {
    const empty = Buffer.byteLength(JSON.stringify(encodeMessage(wideAppend([]))));
    for (const n of [0, 1, 2, 3, 4, 1000, 65_537]) {
      const one = Buffer.byteLength(JSON.stringify(encodeMessage(wideAppend([wideEntry(n)]))));
      const two = Buffer.byteLength(JSON.stringify(encodeMessage(wideAppend([wideEntry(n), wideEntry(n)]))));
      assert.ok(one - empty <= entryWireBytes(n), `first entry of ${n} bytes: ${one - empty} > ${entryWireBytes(n)}`);
      assert.ok(two - one <= entryWireBytes(n), `second entry of ${n} bytes: ${two - one} > ${entryWireBytes(n)}`);
      assert.ok(entryWireBytes(n) - (one - empty) <= ENTRY_WIRE_OVERHEAD_BYTES, "and not wildly above");
    }
  });

  it("MESSAGE_WIRE_OVERHEAD_BYTES bounds an append or snapshot without its data, in Mokka's packet", () => {
    assert.ok(mokkaPayloadBytes(encodeMessage(wideAppend([]))) <= MESSAGE_WIRE_OVERHEAD_BYTES);
    const snapshot: SnapshotMessage = { type: "snapshot", term: MAX, leader: LONG_ID, meta: { index: MAX, term: MAX, hash: HASH }, data: new Uint8Array(0), lastIndex: MAX, lastTerm: MAX };
    assert.ok(mokkaPayloadBytes(encodeMessage(snapshot)) <= MESSAGE_WIRE_OVERHEAD_BYTES);
  });

  it("maxEntryDataBytes: the largest entry fits one payload alone, and one more base64 group would not", () => {
    for (const payload of [100_000, 1_000_003, 16 * 1024 * 1024 - 41]) {
      const max = maxEntryDataBytes(payload);
      assert.ok(max > 0 && max % 3 === 0);
      const encoded = encodeMessage(wideAppend([wideEntry(max)]));
      assert.ok(mokkaPayloadBytes(encoded) <= payload, `entry of ${max} bytes fits ${payload}`);
      assert.ok(MESSAGE_WIRE_OVERHEAD_BYTES + entryWireBytes(max + 1) > payload, "the estimate allows no more");
      const back = decodeMessage(JSON.parse(JSON.stringify(encoded)));
      assert.ok(back.ok, "and it decodes");
    }
    assert.equal(maxEntryDataBytes(MESSAGE_WIRE_OVERHEAD_BYTES), 0);
  });

  it("maxSnapshotDataBytes: the largest snapshot fits one payload", () => {
    const payload = 200_000;
    const max = maxSnapshotDataBytes(payload);
    const snapshot: SnapshotMessage = { type: "snapshot", term: MAX, leader: LONG_ID, meta: { index: MAX, term: MAX, hash: HASH }, data: new Uint8Array(max), lastIndex: MAX, lastTerm: MAX };
    assert.ok(mokkaPayloadBytes(encodeMessage(snapshot)) <= payload);
    assert.ok(max > payload * 0.7);
  });
});
