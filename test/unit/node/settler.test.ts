// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The settler's checks that need no chain (src/node/settler.ts), over a real ledger and real
 * validator keys: the epoch's plan fixes its chunk limits, items and tokens (a request for other
 * limits is not signed; a plan from before the token cap still rebuilds its old chunks); a
 * "signatures" entry is kept only with a majority of members on every chunk, the same signers on
 * every chunk, ascending, at the planned limits; a refused entry leaves room for a good one;
 * malformed application messages are dropped without a throw.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Wallet } from "ethers";
import { applyEntry, createLedger } from "../../../src/ledger/index.ts";
import { parseConfig } from "../../../src/node/config.ts";
import type { NodeEntry, SignaturesEntry } from "../../../src/node/entryCodec.ts";
import { Settler, settlementsOf, type PlanLimits } from "../../../src/node/settler.ts";
import { hashSettlement, type BridgeDomain, type Hex } from "../../../src/protocol/index.ts";
import { accountAt, block, deposit, FEES, transfer, withdrawal } from "../ledger/fixtures.ts";

// Hardhat's well-known development keys: never hold value.
const KEYS = [
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804c8ab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];
const validators = KEYS.map((k) => new Wallet(k));
const DOMAIN: BridgeDomain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
const ids = ["1", "2", "3"].map((c) => c.repeat(64));
const config = parseConfig({
  restPort: 7001,
  dataDir: "/tmp/x",
  clusterId: "c",
  identitySeed: "11".repeat(32),
  mokkaPrivateKey: "22".repeat(32),
  validatorPrivateKey: KEYS[0]!.slice(2),
  members: validators.map((v, i) => ({ id: ids[i], host: "127.0.0.1", port: 7100 + i, mokkaPublicKey: `02${"3".repeat(64)}`, rest: `http://127.0.0.1:${7000 + i}`, address: v.address })),
  adminToken: "0123456789abcdef",
  feeRecipient: FEES,
  chain: { rpcUrl: "http://127.0.0.1:9", chainId: 1337, bridge: DOMAIN.verifyingContract },
});

/** A ledger whose epoch 1 is sealed with 9 accounts paid by one: 10 deltas. */
function sealedLedger() {
  const ledger = createLedger({ feeRecipient: FEES });
  const payer = accountAt(1);
  applyEntry(ledger, deposit(0n, payer, 1_000n));
  applyEntry(ledger, block(Array.from({ length: 9 }, (_, i) => transfer(payer, accountAt(2 + i), BigInt(i + 1), BigInt(i)))));
  assert.equal(applyEntry(ledger, { type: "seal", epoch: 1n }).status, "sealed");
  return ledger;
}

function settlerOn(ledger: ReturnType<typeof createLedger>) {
  const sent: { to: string; data: Record<string, unknown> }[] = [];
  const committed: NodeEntry[] = [];
  const logs: string[] = [];
  const log = { info: () => {}, debug: () => {}, warn: (_: unknown, m?: string) => void logs.push(String(m)), error: (_: unknown, m?: string) => void logs.push(String(m)) };
  const settler = new Settler(
    { ledger, domain: DOMAIN, config, log, canPropose: () => false, commit: async (e) => (committed.push(e), true), sendApp: (to, data) => void sent.push({ to, data }) },
    ids[0]!,
    validators[0]!,
  );
  return { settler, sent, committed, logs };
}

/** Chunk limits of `maxItems` items and, when given, `maxTokens` tokens. */
function lim(maxItems: number, maxTokens?: number): PlanLimits {
  return { maxItems, maxTokens };
}

/** Signatures of `signers` over every chunk at `limits`, ascending by signer per chunk. */
function signaturesEntry(ledger: ReturnType<typeof createLedger>, limits: PlanLimits, signers: readonly Wallet[]): SignaturesEntry {
  const ordered = [...signers].sort((a, b) => (a.address.toLowerCase() < b.address.toLowerCase() ? -1 : 1));
  const chunks = settlementsOf(ledger, 1n, limits)!.map((s) => ordered.map((w) => w.signingKey.sign(hashSettlement(DOMAIN, s)).serialized as Hex));
  return { type: "signatures", epoch: 1n, maxItems: limits.maxItems, ...(limits.maxTokens === undefined ? {} : { maxTokens: limits.maxTokens }), chunks };
}

/** A ledger whose epoch 1 is sealed with one account withdrawing 6 tokens: 6 debits and 6 payouts. */
function sealedManyTokens() {
  const ledger = createLedger({ feeRecipient: FEES });
  const holder = accountAt(1);
  const tokens = Array.from({ length: 6 }, (_, i) => accountAt(100 + i));
  tokens.forEach((token, i) => applyEntry(ledger, deposit(BigInt(i), holder, 10n, token)));
  applyEntry(ledger, block(tokens.map((token, i) => withdrawal(holder, 4n, BigInt(i), { token }))));
  assert.equal(applyEntry(ledger, { type: "seal", epoch: 1n }).status, "sealed");
  return ledger;
}

describe("settler: plan, signatures entry checks, hostile app messages", () => {
  const made: Settler[] = [];
  after(() => made.forEach((s) => s.stop()));

  it("signs only at the epoch's planned chunk size", () => {
    const ledger = sealedLedger();
    const { settler, sent } = settlerOn(ledger);
    made.push(settler);
    // Before the plan: nothing is signed, whatever the size.
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 4 });
    assert.equal(sent.length, 0);
    settler.apply({ type: "settlementPlan", epoch: 1n, maxItems: 4 });
    // Sizes 4 and 5 both give 3 chunks of these 10 deltas: only the planned one is signed.
    assert.equal(settlementsOf(ledger, 1n, lim(4))!.length, settlementsOf(ledger, 1n, lim(5))!.length);
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 5 });
    assert.equal(sent.length, 0, "another chunking of the same epoch is never signed");
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 4 });
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.to, ids[1]);
    assert.equal((sent[0]!.data["signatures"] as string[]).length, 3);
    // A later plan for the same epoch changes nothing.
    settler.apply({ type: "settlementPlan", epoch: 1n, maxItems: 5 });
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 5 });
    assert.equal(sent.length, 1);
  });

  it("keeps a signatures entry only with a majority, the same signers on every chunk, at the planned size", () => {
    const ledger = sealedLedger();
    const { settler, logs } = settlerOn(ledger);
    made.push(settler);
    settler.apply({ type: "settlementPlan", epoch: 1n, maxItems: 4 });
    // One signature per chunk: below a majority of 3, could never land; refused, not kept.
    settler.apply(signaturesEntry(ledger, lim(4), validators.slice(0, 1)));
    assert.equal(settler.signed(1n), undefined);
    // No signatures at all.
    settler.apply({ type: "signatures", epoch: 1n, maxItems: 4, chunks: settlementsOf(ledger, 1n, lim(4))!.map(() => []) });
    assert.equal(settler.signed(1n), undefined);
    // The wrong size (not the plan's).
    settler.apply(signaturesEntry(ledger, lim(5), validators.slice(0, 2)));
    assert.equal(settler.signed(1n), undefined);
    // Different signer sets on different chunks.
    const a = signaturesEntry(ledger, lim(4), [validators[0]!, validators[1]!]);
    const b = signaturesEntry(ledger, lim(4), [validators[1]!, validators[2]!]);
    settler.apply({ ...a, chunks: [a.chunks[0]!, ...b.chunks.slice(1)] });
    assert.equal(settler.signed(1n), undefined);
    // Signers not ascending.
    settler.apply({ ...a, chunks: a.chunks.map((c) => [...c].reverse()) });
    assert.equal(settler.signed(1n), undefined);
    // A signature by someone who is not a member.
    settler.apply(signaturesEntry(ledger, lim(4), [validators[0]!, Wallet.createRandom() as unknown as Wallet]));
    assert.equal(settler.signed(1n), undefined);
    assert.ok(logs.filter((l) => l === "signatures entry refused").length >= 6);
    // A good entry after all those is kept.
    settler.apply(a);
    assert.equal(settler.signed(1n)?.settlements.length, 3);
    assert.deepEqual(settler.signed(1n)?.signatures, a.chunks);
  });

  it("signs only at the planned token cap: the same item count with another cap, or none, is another chunking", () => {
    const ledger = sealedManyTokens();
    const { settler, sent } = settlerOn(ledger);
    made.push(settler);
    // 12 items in 6 tokens: a cap of 2 tokens gives 3 chunks, no cap 1 chunk, at 12 items.
    assert.equal(settlementsOf(ledger, 1n, lim(12, 2))!.length, 3);
    assert.equal(settlementsOf(ledger, 1n, lim(12))!.length, 1);
    settler.apply({ type: "settlementPlan", epoch: 1n, maxItems: 12, maxTokens: 2 });
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 12 });
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 12, maxTokens: 3 });
    assert.equal(sent.length, 0, "another token cap, or none, is never signed");
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 12, maxTokens: 2 });
    assert.equal(sent.length, 1);
    assert.deepEqual({ ...sent[0]!.data, signatures: undefined }, { t: "sigs", epoch: "1", maxItems: 12, maxTokens: 2, signatures: undefined });
    assert.equal((sent[0]!.data["signatures"] as string[]).length, 3);
    // A signatures entry without the cap (or with another) is refused; one at the plan's is kept.
    settler.apply(signaturesEntry(ledger, lim(12), validators.slice(0, 2)));
    settler.apply(signaturesEntry(ledger, lim(12, 3), validators.slice(0, 2)));
    assert.equal(settler.signed(1n), undefined);
    settler.apply(signaturesEntry(ledger, lim(12, 2), validators.slice(0, 2)));
    assert.equal(settler.signed(1n)?.settlements.length, 3);
    for (const s of settler.signed(1n)!.settlements) assert.ok(new Set([...s.deltas, ...s.payouts].map((x) => x.token)).size <= 2);
  });

  it("a plan from before the token cap (no maxTokens) rebuilds the chunks it was signed over", () => {
    const ledger = sealedManyTokens();
    const { settler, sent } = settlerOn(ledger);
    made.push(settler);
    settler.apply({ type: "settlementPlan", epoch: 1n, maxItems: 12 });
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 12, maxTokens: 2 });
    assert.equal(sent.length, 0);
    settler.onAppMessage(ids[1]!, { t: "sigReq", epoch: "1", maxItems: 12 });
    assert.deepEqual(Object.keys(sent[0]!.data).sort(), ["epoch", "maxItems", "signatures", "t"], "no maxTokens field for an old plan");
    settler.apply(signaturesEntry(ledger, lim(12), validators.slice(0, 2)));
    assert.equal(settler.signed(1n)?.settlements.length, 1);
  });

  it("drops malformed or hostile application messages without a throw", () => {
    const ledger = sealedLedger();
    const { settler, sent } = settlerOn(ledger);
    made.push(settler);
    settler.apply({ type: "settlementPlan", epoch: 1n, maxItems: 4 });
    for (const data of [null, 7, "x", [], {}, { t: "sigReq" }, { t: "sigReq", epoch: 1, maxItems: 4 }, { t: "sigReq", epoch: "-1", maxItems: 4 }, { t: "sigReq", epoch: "1", maxItems: 1 }, { t: "sigReq", epoch: "1", maxItems: 4, maxTokens: 0 }, { t: "sigReq", epoch: "1", maxItems: 4, maxTokens: "2" }, { t: "sigs", epoch: "1", maxItems: 4, signatures: ["0x12"] }, { t: "sigs", epoch: "1", maxItems: 4, signatures: [`0x${"ab".repeat(65)}`], extra: 1 }, { t: "other" }]) {
      assert.doesNotThrow(() => settler.onAppMessage(ids[1]!, data));
    }
    // From a non-member: a valid request is still ignored for non-planned sizes, and no throw.
    assert.doesNotThrow(() => settler.onAppMessage("f".repeat(64), { t: "sigReq", epoch: "1", maxItems: 4 }));
    assert.equal(sent.filter((m) => m.to !== "f".repeat(64)).length, 0);
  });
});
