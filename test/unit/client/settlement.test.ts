// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * DeltaClient.settlement (GET /v1/epochs/:n/settlement) against a fake fetch that answers like
 * src/api's SettlementView: a valid answer parses into protocol Settlements that hash and recover
 * to the signer, every malformed variant is BAD_RESPONSE, and the node's refusals keep their codes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SigningKey } from "ethers";
import { DeltaClient, DeltaClientError, type DomainInfo, type Hex, NATIVE_TOKEN, type Settlement } from "../../../src/client/index.ts";
import { hashSettlement, recoverSigner } from "../../../src/protocol/index.ts";

// Hardhat's first deterministic account: a public test key.
const PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const BRIDGE = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const DOMAIN: DomainInfo = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: BRIDGE, feeRecipient: BOB };
const ROOT: Hex = `0x${"ab".repeat(32)}`;
const BIG = 10n ** 30n + 7n; // above 2^53: a JSON number would round it

/** The two chunks of epoch 3 as the node's ledger would build them (lowercase addresses on the wire to check checksumming). */
const CHUNKS: readonly Settlement[] = [
  {
    epoch: 3n, chunk: 0, chunks: 2, transfersRoot: ROOT,
    deltas: [{ account: ALICE, token: NATIVE_TOKEN, amount: -BIG }, { account: BOB, token: NATIVE_TOKEN, amount: BIG }],
    payouts: [],
  },
  {
    epoch: 3n, chunk: 1, chunks: 2, transfersRoot: ROOT,
    deltas: [{ account: ALICE, token: TOKEN, amount: -8000n }],
    payouts: [{ account: ALICE, token: TOKEN, amount: 7990n }, { account: BOB, token: TOKEN, amount: 10n }],
  },
];

const key = new SigningKey(PRIVATE_KEY);
function sign(s: Settlement): string {
  return key.sign(hashSettlement(DOMAIN, s)).serialized;
}

type Json = Record<string, unknown>;

/** The wire form of CHUNKS (PROTOCOL.md §2 / src/api SettlementView), freshly built so tests may mutate it. */
function validAnswer(): Json & { chunks: { settlement: Json & { deltas: Json[]; payouts: Json[] }; signatures: string[] }[] } {
  return {
    epoch: "3",
    chunks: CHUNKS.map((s) => ({
      settlement: {
        epoch: s.epoch.toString(), chunk: s.chunk, chunks: s.chunks, transfersRoot: s.transfersRoot,
        deltas: s.deltas.map((d) => ({ account: d.account.toLowerCase(), token: d.token.toLowerCase(), amount: d.amount.toString() })),
        payouts: s.payouts.map((p) => ({ account: p.account.toLowerCase(), token: p.token.toLowerCase(), amount: p.amount.toString() })),
      },
      signatures: [sign(s)],
    })),
  };
}

interface Call {
  readonly url: string;
  readonly method: string;
}

/** A client over a fake fetch that answers every request with `status` and `body`, recording the calls. */
function clientAnswering(status: number, body: unknown): { client: DeltaClient; calls: Call[] } {
  const calls: Call[] = [];
  const fakeFetch: typeof fetch = async (input, init) => {
    calls.push({ url: String(input), method: init?.method ?? "GET" });
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  };
  const client = new DeltaClient({ baseUrl: "http://node.test:7001", fetch: fakeFetch, retry: { attempts: 3, baseMs: 1, maxMs: 2 } });
  return { client, calls };
}

type Answer = ReturnType<typeof validAnswer>;
type ChunkJson = Answer["chunks"][number];

/** Chunk `k` of an answer built by validAnswer (always there). */
function chunkOf(b: Answer, k: number): ChunkJson {
  const chunk = b.chunks[k];
  if (chunk === undefined) throw new Error(`validAnswer has no chunk ${k}`);
  return chunk;
}

/** Item `i` of a list built by validAnswer (always there). */
function item(list: readonly Json[], i: number): Json {
  const found = list[i];
  if (found === undefined) throw new Error(`validAnswer has no item ${i}`);
  return found;
}

function isBadResponse(field: RegExp): (e: unknown) => boolean {
  return (e: unknown) => e instanceof DeltaClientError && e.code === "BAD_RESPONSE" && field.test(e.message);
}

describe("DeltaClient.settlement", () => {
  it("parses a valid answer into protocol Settlements: bigint epochs and amounts, checksummed addresses", async () => {
    const { client, calls } = clientAnswering(200, validAnswer());
    const info = await client.settlement(3n);
    assert.deepEqual(calls, [{ url: "http://node.test:7001/v1/epochs/3/settlement", method: "GET" }]);
    assert.equal(info.epoch, 3n);
    assert.equal(info.chunks.length, 2);
    assert.deepEqual(info.chunks.map((c) => c.settlement), CHUNKS);
    assert.equal(info.chunks[0]?.settlement.deltas[0]?.account, ALICE, "checksummed");
    assert.equal(info.chunks[1]?.settlement.payouts[0]?.token, TOKEN, "checksummed");
    assert.equal(info.chunks[0]?.settlement.deltas[0]?.amount, -BIG, "signed and exact above 2^53");
    for (const chunk of info.chunks) {
      assert.equal(chunk.signatures.length, 1);
      const [signature] = chunk.signatures;
      assert.match(signature ?? "", /^0x[0-9a-f]{130}$/);
      // Handed straight to hashSettlement, the parsed chunk gives the digest the validator signed.
      assert.equal(recoverSigner(hashSettlement(DOMAIN, chunk.settlement), signature ?? "0x"), ALICE);
    }
  });

  it("accepts a delta of zero and payouts of zero, and signatures in uppercase hex (returned lowercase)", async () => {
    const body = validAnswer();
    const chunk = body.chunks[1];
    assert.ok(chunk);
    chunk.settlement.deltas.push({ account: BOB, token: TOKEN, amount: "0" });
    chunk.signatures = [`0x${(chunk.signatures[0] ?? "").slice(2).toUpperCase()}`];
    const info = await clientAnswering(200, body).client.settlement(3n);
    assert.equal(info.chunks[1]?.settlement.deltas.at(-1)?.amount, 0n);
    assert.match(info.chunks[1]?.signatures[0] ?? "", /^0x[0-9a-f]{130}$/);
  });

  const malformed: readonly { readonly name: string; readonly field: RegExp; readonly mutate: (b: Answer) => unknown }[] = [
    { name: "a delta amount as a JSON number", field: /chunks\[1\]\.settlement\.deltas\[0\]\.amount/, mutate: (b) => void (item(chunkOf(b, 1).settlement.deltas, 0).amount = -8000) },
    { name: "a payout amount as a JSON number", field: /chunks\[1\]\.settlement\.payouts\[0\]\.amount/, mutate: (b) => void (item(chunkOf(b, 1).settlement.payouts, 0).amount = 7990) },
    { name: "a negative payout amount", field: /payouts\[1\]\.amount/, mutate: (b) => void (item(chunkOf(b, 1).settlement.payouts, 1).amount = "-10") },
    { name: "a delta amount with leading zeros", field: /deltas\[0\]\.amount/, mutate: (b) => void (item(chunkOf(b, 1).settlement.deltas, 0).amount = "-08000") },
    { name: "a delta amount below int256", field: /deltas\[0\]\.amount/, mutate: (b) => void (item(chunkOf(b, 1).settlement.deltas, 0).amount = `-${2n ** 255n + 1n}`) },
    { name: "a signature one byte short", field: /chunks\[0\]\.signatures\[0\]/, mutate: (b) => void (chunkOf(b, 0).signatures = chunkOf(b, 0).signatures.map((sig) => sig.slice(0, -2))) },
    { name: "a signature one byte long", field: /chunks\[1\]\.signatures\[0\]/, mutate: (b) => void (chunkOf(b, 1).signatures = chunkOf(b, 1).signatures.map((sig) => `${sig}00`)) },
    { name: "a signature that is not hex", field: /chunks\[0\]\.signatures\[0\]/, mutate: (b) => void (chunkOf(b, 0).signatures = [`0x${"zz".repeat(65)}`]) },
    { name: "signatures that are not an array", field: /chunks\[1\]\.signatures/, mutate: (b) => void Reflect.set(chunkOf(b, 1), "signatures", "0x") },
    { name: "chunks listed out of order", field: /chunks\[0\]\.settlement\.chunk\b/, mutate: (b) => void b.chunks.reverse() },
    { name: "a chunk index that skips", field: /chunks\[1\]\.settlement\.chunk\b/, mutate: (b) => void (chunkOf(b, 1).settlement.chunk = 2) },
    { name: "a chunk count that is not the array's length", field: /chunks\[0\]\.settlement\.chunks/, mutate: (b) => void b.chunks.pop() },
    { name: "a chunk index as a decimal string", field: /chunks\[0\]\.settlement\.chunk\b/, mutate: (b) => void (chunkOf(b, 0).settlement.chunk = "0") },
    { name: "a negative chunk index", field: /chunks\[0\]\.settlement\.chunk\b/, mutate: (b) => void (chunkOf(b, 0).settlement.chunk = -1) },
    { name: "a missing transfersRoot", field: /chunks\[0\]\.settlement\.transfersRoot/, mutate: (b) => void delete chunkOf(b, 0).settlement.transfersRoot },
    { name: "a missing payouts list", field: /chunks\[1\]\.settlement\.payouts/, mutate: (b) => void Reflect.deleteProperty(chunkOf(b, 1).settlement, "payouts") },
    { name: "a missing delta token", field: /chunks\[0\]\.settlement\.deltas\[1\]\.token/, mutate: (b) => void delete item(chunkOf(b, 0).settlement.deltas, 1).token },
    { name: "a missing settlement", field: /chunks\[0\]\.settlement/, mutate: (b) => void Reflect.deleteProperty(chunkOf(b, 0), "settlement") },
    { name: "a missing top-level epoch", field: /: epoch /, mutate: (b) => void delete b.epoch },
    { name: "a transfersRoot in uppercase hex", field: /chunks\[0\]\.settlement\.transfersRoot/, mutate: (b) => void (chunkOf(b, 0).settlement.transfersRoot = `0x${"AB".repeat(32)}`) },
    { name: "chunks with different transfers roots", field: /chunks\[1\]\.settlement\.transfersRoot/, mutate: (b) => void (chunkOf(b, 1).settlement.transfersRoot = `0x${"cd".repeat(32)}`) },
    { name: "a chunk of another epoch", field: /chunks\[1\]\.settlement\.epoch/, mutate: (b) => void (chunkOf(b, 1).settlement.epoch = "4") },
    { name: "a chunk epoch as a JSON number", field: /chunks\[0\]\.settlement\.epoch/, mutate: (b) => void (chunkOf(b, 0).settlement.epoch = 3) },
    { name: "an answer about another epoch than asked", field: /: epoch is 4, not the epoch 3 asked for/, mutate: (b) => { b.epoch = "4"; for (const c of b.chunks) c.settlement.epoch = "4"; } },
    { name: "an epoch above uint64", field: /: epoch is above the largest uint64/, mutate: (b) => void (b.epoch = (2n ** 64n).toString()) },
    { name: "no chunks at all", field: /: chunks is empty/, mutate: (b) => void (b.chunks.length = 0) },
    { name: "a delta account that is not an address", field: /chunks\[0\]\.settlement\.deltas\[0\]\.account/, mutate: (b) => void (item(chunkOf(b, 0).settlement.deltas, 0).account = "0x1234") },
    { name: "a payout token with a wrong checksum", field: /chunks\[1\]\.settlement\.payouts\[0\]\.token/, mutate: (b) => void (item(chunkOf(b, 1).settlement.payouts, 0).token = TOKEN.replace("F", "f")) },
    { name: "a body that is an array", field: /: body is not a JSON object/, mutate: () => [] },
  ];
  for (const variant of malformed) {
    it(`refuses ${variant.name} with BAD_RESPONSE`, async () => {
      const body = validAnswer();
      const replaced = variant.mutate(body);
      const { client } = clientAnswering(200, replaced === undefined ? body : replaced);
      await assert.rejects(client.settlement(3n), isBadResponse(variant.field));
    });
  }

  for (const [status, code, message] of [
    [409, "EPOCH_OPEN", "epoch 3 is open"],
    [409, "WRONG_STATE", "epoch 3 is sealed; its signatures are being gathered"],
    [404, "NOT_FOUND", "no epoch 3"],
  ] as const) {
    it(`surfaces ${status} ${code} as a DeltaClientError with that code, without retrying`, async () => {
      const { client, calls } = clientAnswering(status, { error: { code, message } });
      const error = await client.settlement(3n).then(
        () => assert.fail("expected a refusal"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof DeltaClientError);
      assert.equal(error.code, code);
      assert.equal(error.serverCode, code);
      assert.equal(error.status, status);
      assert.equal(error.message, message);
      assert.equal(calls.length, 1);
    });
  }
});
