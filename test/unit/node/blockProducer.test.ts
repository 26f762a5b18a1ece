// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The leader's block producer with the real mempool and a scripted log: messages past their
 * deadline are refused before a block is cut (none of them reaches the log), a block the log
 * does not accept or that loses its index hands its messages back, and at most two blocks are in
 * flight (group commit).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import type { LedgerMessage } from "../../../src/ledger/index.ts";
import { BlockProducer, dropExpired, MAX_BLOCKS_IN_FLIGHT, type BlockLog } from "../../../src/node/blockProducer.ts";
import { decodeEntry } from "../../../src/node/entryCodec.ts";
import { Mempool } from "../../../src/node/mempool.ts";
import type { Hash } from "../../../src/protocol/index.ts";

const NOW_MS = 1_800_000_000_000;
const NOW_SEC = BigInt(NOW_MS / 1000);

function message(n: number, deadline: bigint, from = n): LedgerMessage {
  return {
    kind: "transfer",
    hash: `0x${n.toString(16).padStart(64, "0")}` as Hash,
    from: `0x${from.toString(16).padStart(40, "0")}`,
    to: "0x00000000000000000000000000000000000000b2",
    token: "0x0000000000000000000000000000000000000000",
    amount: 1n,
    fee: 0n,
    nonce: 0n,
    deadline,
  };
}

/** A log that records proposals and lets the test decide each commit. */
function scriptedLog(accept = true) {
  const proposed: Uint8Array[][] = [];
  const commits: ((ours: boolean) => void)[] = [];
  const log: BlockLog = {
    propose: async (data) => {
      proposed.push([...data]);
      return accept ? { accepted: true, lastIndex: proposed.length, term: 1 } : { accepted: false, term: 1 };
    },
    waitForCommit: () => new Promise<boolean>((resolve) => commits.push(resolve)),
  };
  return { log, proposed, commits };
}

function producer(log: BlockLog, mempool: Mempool, lost: LedgerMessage[][], expired: LedgerMessage[]) {
  return new BlockProducer({
    mempool,
    log,
    ledgerNonce: () => 0n,
    logger: pino({ level: "silent" }),
    maxMessages: 2,
    answerBoundMs: 30_000,
    onLost: (ms) => lost.push([...ms]),
    onExpired: (m) => expired.push(m),
    nowMs: () => NOW_MS,
  });
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("dropExpired", () => {
  it("keeps the order of the valid ones, reports the others, returns the same array when none expired", () => {
    const unused = (): bigint => 0n;
    const ok = [message(1, NOW_SEC), message(2, NOW_SEC + 9n)];
    assert.equal(dropExpired(ok, NOW_SEC, unused, () => assert.fail("none expired")), ok);
    const out: LedgerMessage[] = [];
    const mixed = [message(1, NOW_SEC - 1n), message(2, NOW_SEC), message(3, 0n), message(4, NOW_SEC + 1n)];
    assert.deepEqual(dropExpired(mixed, NOW_SEC, unused, (m) => out.push(m)).map((m) => m.hash), [mixed[1]!.hash, mixed[3]!.hash]);
    assert.deepEqual(out.map((m) => m.hash), [mixed[0]!.hash, mixed[2]!.hash]);
  });

  it("leaves a message whose nonce the ledger has used to the ledger (it may be a copy of one that committed)", () => {
    const used = (): bigint => 1n; // every sender's nonce 0 is used
    const copy = message(1, NOW_SEC - 60n); // nonce 0, long past its deadline
    const out: LedgerMessage[] = [];
    assert.deepEqual(dropExpired([copy], NOW_SEC, used, (m) => out.push(m)), [copy]);
    assert.deepEqual(out, [], "not answered DEADLINE_EXPIRED: the ledger answers NONCE_REUSED, which the member maps to its committed copy");
  });
});

describe("BlockProducer", () => {
  it("refuses expired messages without proposing anything when none is left", async () => {
    const { log, proposed } = scriptedLog();
    const mempool = new Mempool();
    const lost: LedgerMessage[][] = [];
    const expired: LedgerMessage[] = [];
    mempool.add(message(1, NOW_SEC - 2n), NOW_MS);
    await producer(log, mempool, lost, expired).cut();
    assert.equal(proposed.length, 0, "nothing reached the log");
    assert.equal(expired.length, 1);
    assert.equal(mempool.size, 0);
  });

  it("proposes the valid ones in a block stamped with the block time", async () => {
    const { log, proposed } = scriptedLog();
    const mempool = new Mempool();
    mempool.add(message(1, NOW_SEC - 2n), NOW_MS);
    mempool.add(message(2, NOW_SEC + 60n), NOW_MS);
    const expired: LedgerMessage[] = [];
    await producer(log, mempool, [], expired).cut();
    assert.equal(proposed.length, 1);
    const entry = decodeEntry(proposed[0]![0]!);
    assert.ok(entry?.type === "block");
    assert.equal(entry.timestampSec, NOW_SEC);
    assert.deepEqual(entry.messages.map((m) => m.hash), [message(2, 0n).hash]);
    assert.equal(expired.length, 1);
  });

  it("hands back a block the log does not accept, and one that loses its index", async () => {
    const refused = scriptedLog(false);
    const mempool = new Mempool();
    const lost: LedgerMessage[][] = [];
    mempool.add(message(1, NOW_SEC + 60n), NOW_MS);
    await producer(refused.log, mempool, lost, []).cut();
    assert.deepEqual(lost.map((l) => l.length), [1]);

    const scripted = scriptedLog();
    const p = producer(scripted.log, mempool, lost, []);
    mempool.add(message(2, NOW_SEC + 60n), NOW_MS);
    await p.cut();
    assert.equal(p.inFlight, 1);
    scripted.commits[0]!(false); // another entry committed at its index
    await turn();
    assert.equal(p.inFlight, 0);
    assert.deepEqual(lost.map((l) => l.length), [1, 1]);
  });

  it("keeps at most MAX_BLOCKS_IN_FLIGHT blocks uncommitted; a commit lets the next one go", async () => {
    const { log, proposed, commits } = scriptedLog();
    const mempool = new Mempool();
    for (let i = 1; i <= 8; i++) mempool.add(message(i, NOW_SEC + 60n), NOW_MS);
    const p = producer(log, mempool, [], []);
    for (let i = 0; i < 5; i++) await p.cut();
    assert.equal(proposed.length, MAX_BLOCKS_IN_FLIGHT);
    assert.equal(mempool.size, 8 - 2 * MAX_BLOCKS_IN_FLIGHT, "blocks of maxMessages (2)");
    commits[0]!(true);
    await turn();
    await turn();
    assert.equal(proposed.length, MAX_BLOCKS_IN_FLIGHT + 1, "the commit cut the next block");
  });
});
