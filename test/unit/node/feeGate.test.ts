// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The node's half of the fee policy: the config's `fees` section (validated, one token once in any
 * case, fees up to 2^256-1, turned into the ledger's form by configuredFees), and the block
 * producer's gate: no block while `mayCut` says the ledger has not applied the leader's policy;
 * the messages wait in the mempool and go out in the first cut after it has.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { applyEntry, createLedger, isFeePolicy, type LedgerMessage } from "../../../src/ledger/index.ts";
import { BlockProducer, type BlockLog } from "../../../src/node/blockProducer.ts";
import { configuredFees, parseConfig } from "../../../src/node/config.ts";
import { decodeEntry } from "../../../src/node/entryCodec.ts";
import { Mempool } from "../../../src/node/mempool.ts";
import type { Address, Hash } from "../../../src/protocol/index.ts";
import { goodConfig } from "./configFixture.ts";

const TOKEN = "0xAbCdEf0000000000000000000000000000000001";
const ETH = "0x0000000000000000000000000000000000000000";

describe("config fees", () => {
  it("is optional: absent means no policy", () => {
    assert.equal(configuredFees(parseConfig(goodConfig("/tmp/x"))), null);
  });

  it("turns decimal strings into the ledger's form, tokens lowercase and ascending", () => {
    const config = parseConfig({ ...goodConfig("/tmp/x"), fees: { [TOKEN]: { minFee: "1000", newAccountFee: (2n ** 256n - 1n).toString() }, [ETH]: { minFee: "0", newAccountFee: "0" } } });
    assert.deepEqual(configuredFees(config), [
      { token: ETH, minFee: 0n, newAccountFee: 0n },
      { token: TOKEN.toLowerCase(), minFee: 1_000n, newAccountFee: 2n ** 256n - 1n },
    ]);
    assert.deepEqual(configuredFees({ fees: {} }), []);
  });

  it("refuses a token twice in two cases, a fee above 2^256-1, a number, a negative or a malformed address", () => {
    const bad: unknown[] = [
      { [TOKEN]: { minFee: "1", newAccountFee: "0" }, [TOKEN.toLowerCase()]: { minFee: "1", newAccountFee: "0" } },
      { [TOKEN]: { minFee: (2n ** 256n).toString(), newAccountFee: "0" } },
      { [TOKEN]: { minFee: 1, newAccountFee: "0" } },
      { [TOKEN]: { minFee: "-1", newAccountFee: "0" } },
      { [TOKEN]: { minFee: "01", newAccountFee: "0" } },
      { [TOKEN]: { minFee: "1" } },
      { "0x1234": { minFee: "1", newAccountFee: "0" } },
    ];
    for (const fees of bad) assert.throws(() => parseConfig({ ...goodConfig("/tmp/x"), fees }), { code: "INVALID_CONFIG" }, JSON.stringify(fees));
  });
});

describe("block producer fee gate", () => {
  const message: LedgerMessage = {
    kind: "transfer",
    hash: `0x${"01".padStart(64, "0")}` as Hash,
    from: "0x00000000000000000000000000000000000000a1",
    to: "0x00000000000000000000000000000000000000b2",
    token: ETH as Address,
    amount: 1n,
    fee: 0n,
    nonce: 0n,
    deadline: 4_000_000_000n,
  };

  it("cuts no block until the ledger has applied the leader's policy, then sends the waiting messages", async () => {
    const ledger = createLedger({ feeRecipient: "0x00000000000000000000000000000000000000fe" });
    const policy = configuredFees(parseConfig({ ...goodConfig("/tmp/x"), fees: { [ETH]: { minFee: "5", newAccountFee: "0" } } }));
    const proposed: Uint8Array[][] = [];
    const log: BlockLog = {
      propose: async (data) => {
        proposed.push([...data]);
        return { accepted: true, lastIndex: proposed.length, term: 1 };
      },
      waitForCommit: () => new Promise<boolean>(() => {}),
    };
    const mempool = new Mempool();
    mempool.add(message, Date.now());
    const producer = new BlockProducer({
      mempool,
      log,
      ledgerNonce: () => 0n,
      logger: pino({ level: "silent" }),
      maxMessages: 10,
      answerBoundMs: 30_000,
      onLost: () => assert.fail("nothing is lost"),
      onExpired: () => assert.fail("nothing expires"),
      mayCut: () => isFeePolicy(ledger, policy),
    });
    await producer.cut();
    await producer.cut();
    assert.equal(proposed.length, 0, "a block was cut under a policy the leader's config does not name");
    assert.equal(mempool.size, 1, "the message waits in the mempool");
    assert.equal(applyEntry(ledger, { type: "feePolicy", tokens: policy }).status, "applied");
    await producer.cut();
    assert.equal(proposed.length, 1);
    const entry = decodeEntry(proposed[0]![0]!);
    assert.equal(entry?.type, "block");
    assert.deepEqual(entry?.type === "block" ? entry.messages.map((m) => m.hash) : [], [message.hash]);
    producer.stop();
  });
});
