// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Property tests over random histories of deposits, transfers, withdrawals, seals and settlements.
 *
 * Each random history is turned into log entries next to a reference model written for
 * obviousness (plain maps, one rule per line), which also decides the nonce a message should
 * carry. The ledger must agree with the model on every verdict and every balance, and the
 * invariants of docs/ledger.md must hold after every entry.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import fc from "fast-check";
import { getAddress, keccak256 } from "ethers";
import {
  applyEntry,
  buildSettlementChunks,
  createLedger,
  EMPTY_TRANSFERS_ROOT,
  getAccount,
  getEpochSummary,
  getMessage,
  getMessageProof,
  parseLedgerSnapshot,
  restoreLedger,
  stateHash,
  takeSnapshot,
  type ApplyResult,
  type EpochSummary,
  type LedgerEntry,
  type LedgerMessage,
  type LedgerState,
} from "../../../src/ledger/index.ts";
import type { Address, Settlement } from "../../../src/protocol/index.ts";
import { hashOf } from "./fixtures.ts";

/** Letter-rich addresses, so their checksummed spelling differs from the lowercase one. */
const POOL: readonly Address[] = Array.from({ length: 5 }, (_, i): Address => `0x${hashOf(`pool-${i}`).slice(2, 42)}`);
const FEE_RECIPIENT = POOL[0] ?? "0x";
const TOKENS: readonly Address[] = ["0x0000000000000000000000000000000000000000", `0x${hashOf("token").slice(2, 42)}`];
const NOW = 1_700_000_000n;

type NonceMode = "next" | "gap" | "reuse";
type Op =
  | { op: "deposit"; account: number; token: number; amount: bigint; duplicate: boolean }
  | {
      op: "transfer";
      from: number;
      to: number;
      token: number;
      amount: bigint;
      fee: bigint;
      nonce: NonceMode;
      expired: boolean;
      funded: boolean;
    }
  | { op: "withdrawal"; account: number; token: number; amount: bigint; nonce: NonceMode; expired: boolean; funded: boolean }
  | { op: "break" }
  | { op: "seal"; wrongEpoch: boolean }
  | { op: "settle" };

const idx = (n: number) => fc.integer({ min: 0, max: n - 1 });
const nonceMode = fc.oneof({ weight: 14, arbitrary: fc.constant<NonceMode>("next") }, fc.constant<NonceMode>("gap"), fc.constant<NonceMode>("reuse"));
const expired = fc.integer({ min: 0, max: 15 }).map((x) => x === 0);
/** Mostly send from a holding that has a balance (see `pickSender`), sometimes from anyone. */
const funded = fc.integer({ min: 0, max: 4 }).map((x) => x !== 0);

const depositArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constant("deposit" as const),
  account: idx(POOL.length),
  token: idx(TOKENS.length),
  amount: fc.bigInt({ min: 1n, max: 1000n }),
  duplicate: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
});
/** Mostly 1..60, sometimes 0 (refused). */
const amountArb = fc.oneof({ weight: 15, arbitrary: fc.bigInt({ min: 1n, max: 60n }) }, { weight: 1, arbitrary: fc.constant(0n) });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: depositArb },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant("transfer" as const),
      from: idx(POOL.length),
      // An offset from `from`: 0 (a self-transfer, refused) only now and then.
      to: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: POOL.length - 1 }) }, { weight: 1, arbitrary: fc.constant(0) }),
      token: idx(TOKENS.length),
      amount: amountArb,
      fee: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 5n })),
      nonce: nonceMode,
      expired,
      funded,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("withdrawal" as const),
      account: idx(POOL.length),
      token: idx(TOKENS.length),
      amount: fc.bigInt({ min: 1n, max: 60n }),
      nonce: nonceMode,
      expired,
      funded,
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: "break" as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("seal" as const), wrongEpoch: fc.integer({ min: 0, max: 7 }).map((x) => x === 0) }) },
  { weight: 1, arbitrary: fc.constant({ op: "settle" as const }) },
);

const key = (account: string, token: string) => `${account}|${token}`;

/** The reference model: what the ledger must do, written as plainly as possible. */
class Model {
  readonly balances = new Map<string, bigint>();
  readonly nonces = new Map<string, bigint>();
  /** Credited deposit ids and their contents, `account|token|amount`. */
  readonly credited = new Map<bigint, string>();
  readonly deposited = new Map<string, bigint>();
  readonly withdrawn = new Map<string, bigint>();
  openEpoch = 1n;
  sealed = 0n;
  settled = 0n;

  balance(account: string, token: string): bigint {
    return this.balances.get(key(account, token)) ?? 0n;
  }
  add(account: string, token: string, amount: bigint): void {
    this.balances.set(key(account, token), this.balance(account, token) + amount);
  }
  nonce(account: string): bigint {
    return this.nonces.get(account) ?? 0n;
  }

  /** The verdict on a message, applying it when valid: "ok" or the refusal code. */
  message(m: LedgerMessage, nowSec: bigint): string {
    if (m.amount === 0n) return "AMOUNT_ZERO";
    const signer = m.kind === "transfer" ? m.from : m.account;
    if (m.kind === "transfer" && m.from === m.to) return "SELF_TRANSFER";
    if (m.nonce < this.nonce(signer)) return "NONCE_REUSED";
    if (m.nonce > this.nonce(signer)) return "NONCE_GAP";
    if (m.deadline < nowSec) return "DEADLINE_EXPIRED";
    const debit = m.kind === "transfer" ? m.amount + m.fee : m.amount;
    if (this.balance(signer, m.token) < debit) return "INSUFFICIENT_BALANCE";
    this.nonces.set(signer, m.nonce + 1n);
    this.add(signer, m.token, -debit);
    if (m.kind === "transfer") {
      this.add(m.to, m.token, m.amount);
      this.add(FEE_RECIPIENT, m.token, m.fee);
    } else {
      this.withdrawn.set(m.token, (this.withdrawn.get(m.token) ?? 0n) + m.amount);
    }
    return "ok";
  }
}

interface History {
  readonly entries: LedgerEntry[];
  /** Per entry, the model's verdicts: one per message for a block, one for anything else. */
  readonly verdicts: string[][];
  /** The model's balances and nonces after each entry. */
  readonly after: { balances: Map<string, bigint>; nonces: Map<string, bigint> }[];
  /** Deposits credited in each epoch, by account|token (index 0 = epoch 1). */
  readonly depositsByEpoch: Map<string, bigint>[];
}

/**
 * The sender and token of a message: when `funded`, the `pick`-th of the holdings the model says
 * have a balance (so most messages can pass); otherwise, or when none has, the raw indices.
 */
function pickSender(model: Model, pick: number, token: number, funded: boolean): [number, number] {
  if (funded) {
    const holdings: [number, number][] = [];
    POOL.forEach((account, a) => TOKENS.forEach((t, ti) => model.balance(account, t) > 0n && holdings.push([a, ti])));
    const chosen = holdings[(pick * TOKENS.length + token) % Math.max(holdings.length, 1)];
    if (chosen !== undefined) return chosen;
  }
  return [pick, token];
}

/** Turns random ops into log entries, deciding nonces and verdicts with the model. */
function buildHistory(ops: readonly Op[]): History {
  const model = new Model();
  const entries: LedgerEntry[] = [];
  const verdicts: string[][] = [];
  const after: History["after"] = [];
  const record = () => after.push({ balances: new Map(model.balances), nonces: new Map(model.nonces) });
  const depositsByEpoch: Map<string, bigint>[] = [new Map()];
  let pending: LedgerMessage[] = [];
  let pendingVerdicts: string[] = [];
  let counter = 0;
  let nextDepositId = 0n;
  const flush = () => {
    if (pending.length === 0) return;
    entries.push({ type: "block", timestampSec: NOW, messages: pending });
    verdicts.push(pendingVerdicts);
    record();
    pending = [];
    pendingVerdicts = [];
  };
  const nonceFor = (account: string, mode: NonceMode): bigint => {
    const next = model.nonce(account);
    if (mode === "gap") return next + 1n;
    if (mode === "reuse") return next === 0n ? next + 2n : next - 1n;
    return next;
  };
  for (const op of ops) {
    if (op.op === "transfer" || op.op === "withdrawal") {
      counter++;
      const [senderIndex, tokenIndex] = pickSender(model, op.op === "transfer" ? op.from : op.account, op.token, op.funded);
      const token = TOKENS[tokenIndex] ?? "0x";
      const deadline = op.expired ? NOW - 1n : NOW + 600n;
      let m: LedgerMessage;
      if (op.op === "transfer") {
        const from = POOL[senderIndex] ?? "0x";
        m = {
          kind: "transfer",
          hash: hashOf(`prop-${counter}`),
          from,
          to: POOL[(senderIndex + op.to) % POOL.length] ?? "0x",
          token,
          amount: op.amount,
          fee: op.fee,
          nonce: nonceFor(from, op.nonce),
          deadline,
        };
      } else {
        const account = POOL[senderIndex] ?? "0x";
        m = { kind: "withdrawal", hash: hashOf(`prop-${counter}`), account, token, amount: op.amount, nonce: nonceFor(account, op.nonce), deadline };
      }
      pending.push(m);
      pendingVerdicts.push(model.message(m, NOW));
      continue;
    }
    flush();
    if (op.op === "deposit") {
      const account = POOL[op.account] ?? "0x";
      const token = TOKENS[op.token] ?? "0x";
      const fresh = !op.duplicate || nextDepositId === 0n;
      const depositId = fresh ? nextDepositId++ : nextDepositId - 1n;
      entries.push({ type: "deposit", depositId, account, token, amount: op.amount });
      const contents = `${account.toLowerCase()}|${token.toLowerCase()}|${op.amount}`;
      if (fresh) {
        model.credited.set(depositId, contents);
        model.add(account, token, op.amount);
        model.deposited.set(token, (model.deposited.get(token) ?? 0n) + op.amount);
        const current = depositsByEpoch[depositsByEpoch.length - 1];
        current?.set(key(account, token), (current.get(key(account, token)) ?? 0n) + op.amount);
      }
      // The same id again: a harmless repeat with the same contents, a conflict (never credited) with others.
      verdicts.push([fresh ? "credited" : model.credited.get(depositId) === contents ? "DUPLICATE_DEPOSIT" : "DEPOSIT_CONFLICT"]);
    } else if (op.op === "seal") {
      entries.push({ type: "seal", epoch: op.wrongEpoch ? model.openEpoch + 1n : model.openEpoch });
      if (op.wrongEpoch) {
        verdicts.push(["WRONG_STATE"]);
      } else {
        verdicts.push(["sealed"]);
        model.sealed = model.openEpoch;
        model.openEpoch++;
        depositsByEpoch.push(new Map());
      }
    } else if (op.op === "settle") {
      // The next epoch to settle if there is one sealed; otherwise the open one, which must be refused.
      const target = model.settled < model.sealed ? model.settled + 1n : model.openEpoch;
      entries.push({ type: "settled", epoch: target, txHashes: [hashOf(`tx-${target}`)] });
      if (target === model.openEpoch) {
        verdicts.push(["EPOCH_NOT_SEALED"]);
      } else {
        verdicts.push(["settled"]);
        model.settled = target;
      }
    }
    if (after.length < entries.length) record();
  }
  flush();
  return { entries, verdicts, after, depositsByEpoch };
}

function verdictsOf(result: ApplyResult): string[] {
  if (result.type === "block") return result.results.map((r) => (r.status === "committed" ? "ok" : r.code));
  return [result.status === "rejected" ? result.code : result.status];
}

/** Every balance of the pool, by account|token (zero when absent). */
function balancesOf(ledger: LedgerState): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const account of POOL) {
    for (const token of TOKENS) out.set(key(account, token), 0n);
    for (const b of getAccount(ledger, account).balances) out.set(key(account, b.token), b.amount);
  }
  return out;
}

function assertChunksRight(summary: EpochSummary, chunks: readonly Settlement[], max: number): void {
  assert.ok(chunks.length >= 1, "an epoch always has a chunk");
  const net = new Map<string, bigint>();
  for (const d of summary.deltas) net.set(key(d.account, d.token), d.amount);
  const sumDeltas = new Map<string, bigint>();
  const sumPayouts = new Map<string, bigint>();
  for (const [i, chunk] of chunks.entries()) {
    assert.equal(chunk.epoch, summary.epoch);
    assert.equal(chunk.chunk, i);
    assert.equal(chunk.chunks, chunks.length);
    assert.equal(chunk.transfersRoot, summary.root);
    assert.ok(chunk.deltas.length + chunk.payouts.length <= max, `chunk ${i} holds at most ${max} items`);
    if (chunks.length > 1) assert.ok(chunk.deltas.length + chunk.payouts.length >= 2, "no chunk but the only one is empty");
    const perToken = new Map<string, bigint>();
    const seen = new Set<string>();
    for (const d of chunk.deltas) {
      assert.notEqual(d.amount, 0n, "no zero delta piece");
      const k = key(d.account, d.token);
      assert.ok(!seen.has(`d${k}`), "one delta item per account and token in a chunk");
      seen.add(`d${k}`);
      const total = net.get(k);
      assert.ok(total !== undefined && total !== 0n, "a piece belongs to a non-zero net delta");
      assert.equal(d.amount > 0n, total > 0n, "a piece has the sign of the account's net delta");
      perToken.set(d.token, (perToken.get(d.token) ?? 0n) + d.amount);
      sumDeltas.set(k, (sumDeltas.get(k) ?? 0n) + d.amount);
    }
    for (const p of chunk.payouts) {
      assert.ok(p.amount > 0n);
      const k = key(p.account, p.token);
      assert.ok(!seen.has(`p${k}`), "one payout item per account and token in a chunk");
      seen.add(`p${k}`);
      perToken.set(p.token, (perToken.get(p.token) ?? 0n) + p.amount);
      sumPayouts.set(k, (sumPayouts.get(k) ?? 0n) + p.amount);
    }
    for (const [token, sum] of perToken) assert.equal(sum, 0n, `chunk ${i} conserves ${token}`);
  }
  assert.deepEqual(
    sumDeltas,
    new Map(summary.deltas.map((d) => [key(d.account, d.token), d.amount])),
    "chunks add up to the epoch's deltas",
  );
  assert.deepEqual(
    sumPayouts,
    new Map(summary.payouts.map((p) => [key(p.account, p.token), p.amount])),
    "chunks add up to the epoch's payouts",
  );
}

/**
 * Applies a history to a fresh ledger with every invariant checked after every entry, plus a
 * simulated bridge that settles each epoch the moment it is sealed (the worst case: only the
 * deposits credited so far are on-chain) and applies each chunk's debits before its credits.
 */
function runChecked(history: History, maxItems: number): LedgerState {
  const ledger = createLedger({ feeRecipient: FEE_RECIPIENT });
  const chain = new Map<string, bigint>();
  const chainWithdrawable = new Map<string, bigint>();
  let boundary = balancesOf(ledger);
  let epochIndex = 0;
  /** Hashes committed in the open epoch, in the order the results reported them. */
  let committedHashes: string[] = [];
  /** Deposit ids already refused DEPOSIT_CONFLICT. */
  const conflicted = new Set<bigint>();
  for (const [i, entry] of history.entries.entries()) {
    const before = stateHash(ledger);
    const result = applyEntry(ledger, entry);
    const verdicts = verdictsOf(result);
    assert.deepEqual(verdicts, history.verdicts[i], `entry ${i} (${entry.type}) verdicts match the model`);
    if (entry.type === "deposit" && verdicts[0] === "DEPOSIT_CONFLICT" && !conflicted.has(entry.depositId)) {
      // The one refusal that changes something: the ledger remembers an id's first conflict.
      conflicted.add(entry.depositId);
      assert.notEqual(stateHash(ledger), before, `entry ${i}: a first deposit conflict is remembered`);
    } else if (verdicts.every((v) => v !== "ok" && v !== "credited" && v !== "sealed" && v !== "settled")) {
      assert.equal(stateHash(ledger), before, `entry ${i}: a refusal changes nothing`);
    } else {
      assert.notEqual(stateHash(ledger), before, `entry ${i}: anything applied shows in the state hash`);
    }
    if (result.type === "block") {
      for (const r of result.results) {
        if (r.status !== "committed") continue;
        assert.equal(r.epoch, BigInt(epochIndex + 1), "committed into the open epoch");
        assert.equal(r.index, committedHashes.length, "indices run 0, 1, 2, ... in log order");
        committedHashes.push(r.hash);
      }
    }
    if (entry.type === "deposit" && result.type === "deposit" && result.status === "credited") {
      const k = key(entry.account, entry.token);
      chain.set(k, (chain.get(k) ?? 0n) + entry.amount);
    }

    // The ledger agrees with the model on every balance and nonce; none is negative.
    const expected = history.after[i];
    assert.ok(expected !== undefined);
    const balances = balancesOf(ledger);
    for (const [k, amount] of balances) {
      assert.ok(amount >= 0n, `balance ${k} is not negative`);
      assert.equal(amount, expected.balances.get(k) ?? 0n, `balance ${k} after entry ${i} matches the model`);
    }
    for (const account of POOL) {
      assert.equal(getAccount(ledger, account).nonce, expected.nonces.get(account) ?? 0n, `nonce of ${account} after entry ${i}`);
    }

    // Conservation per token: all balances add up to deposited minus withdrawn.
    const snapshot = takeSnapshot(ledger);
    for (const t of snapshot.tokens) {
      const sum = snapshot.accounts.flatMap((a) => a.balances).filter((b) => b.token === t.token).reduce((s, b) => s + BigInt(b.amount), 0n);
      assert.equal(sum, BigInt(t.deposited) - BigInt(t.withdrawn), `token ${t.token} conserves`);
    }

    if (entry.type === "seal" && result.type === "seal" && result.status === "sealed") {
      const summary = getEpochSummary(ledger, entry.epoch);
      assert.ok(summary !== undefined && summary.root !== null);
      // Deltas are the change of balances across the epoch, less its deposits.
      const deposits = history.depositsByEpoch[epochIndex] ?? new Map<string, bigint>();
      const changes = new Map<string, bigint>();
      for (const [k, amount] of balances) {
        const change = amount - (boundary.get(k) ?? 0n) - (deposits.get(k) ?? 0n);
        if (change !== 0n) changes.set(k, change);
      }
      assert.deepEqual(new Map(summary.deltas.map((d) => [key(d.account, d.token), d.amount])), changes, "deltas = balance change - deposits");
      boundary = balances;
      epochIndex++;

      // The root is the library's over the committed hashes in log order; every proof verifies.
      assert.equal(summary.transfers + summary.withdrawals, committedHashes.length);
      const expectedRoot =
        committedHashes.length === 0
          ? EMPTY_TRANSFERS_ROOT
          : SimpleMerkleTree.of(
              committedHashes.map((h) => keccak256(h)),
              { sortLeaves: false },
            ).root;
      assert.equal(summary.root, expectedRoot);
      for (const [index, hash] of committedHashes.entries()) {
        assert.equal(getMessage(ledger, hash)?.index, index);
        const proof = getMessageProof(ledger, hash);
        assert.ok(SimpleMerkleTree.verify(proof.root, proof.leaf, [...proof.proof]), `proof of message ${index}`);
      }
      committedHashes = [];

      const chunks = buildSettlementChunks(summary, maxItems);
      assertChunksRight(summary, chunks, maxItems);
      assert.deepEqual(buildSettlementChunks(summary, maxItems), chunks, "chunking is deterministic");
      // The bridge, chunk by chunk in order, each chunk's debits first: no balance below zero.
      for (const chunk of chunks) {
        const ordered = [...chunk.deltas].sort((a, b) => (a.amount < b.amount ? -1 : a.amount > b.amount ? 1 : 0));
        for (const d of ordered) {
          const k = key(d.account, d.token);
          const next = (chain.get(k) ?? 0n) + d.amount;
          assert.ok(next >= 0n, `on-chain balance ${k} stays >= 0 (chunk ${chunk.chunk})`);
          chain.set(k, next);
        }
        for (const p of chunk.payouts) {
          const k = key(p.account, p.token);
          chainWithdrawable.set(k, (chainWithdrawable.get(k) ?? 0n) + p.amount);
        }
      }
      // Settled on-chain balances now equal the off-chain balances at the seal.
      for (const [k, amount] of balances) assert.equal(chain.get(k) ?? 0n, amount, `on-chain ${k} equals off-chain at the seal`);
    }
  }
  return ledger;
}

/** The same entry with every address in its EIP-55 spelling. */
function checksummed(entry: LedgerEntry): LedgerEntry {
  // getAddress returns the checksummed 0x address; the template type is only a shape.
  const cs = (a: Address) => getAddress(a) as Address;
  if (entry.type === "deposit") return { ...entry, account: cs(entry.account), token: cs(entry.token) };
  if (entry.type !== "block") return entry;
  return {
    ...entry,
    messages: entry.messages.map((m) =>
      m.kind === "transfer" ? { ...m, from: cs(m.from), to: cs(m.to), token: cs(m.token) } : { ...m, account: cs(m.account), token: cs(m.token) },
    ),
  };
}

/** A few deposits first, so that most messages have something to move. */
const historyArb = fc
  .tuple(fc.array(depositArb, { minLength: 5, maxLength: 12 }), fc.array(opArb, { minLength: 1, maxLength: 80, size: "medium" }))
  .map(([deposits, ops]) => buildHistory([...deposits, ...ops]));

describe("ledger properties", () => {
  it("agrees with the model; conserves; never goes negative; deltas are balance changes; chunks conserve, respect N and settle on a simulated bridge", () => {
    fc.assert(
      fc.property(historyArb, fc.integer({ min: 2, max: 6 }), (history, maxItems) => {
        runChecked(history, maxItems);
      }),
      { numRuns: 150 },
    );
  });

  it("replay from scratch equals snapshot plus tail, through JSON", () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), (history, cut) => {
        const split = cut % (history.entries.length + 1);
        const full = createLedger({ feeRecipient: FEE_RECIPIENT });
        const fullResults = history.entries.map((e) => applyEntry(full, e));
        const head = createLedger({ feeRecipient: FEE_RECIPIENT });
        for (const e of history.entries.slice(0, split)) applyEntry(head, e);
        const stored = JSON.stringify(takeSnapshot(head));
        const resumed = restoreLedger({ feeRecipient: FEE_RECIPIENT }, parseLedgerSnapshot(JSON.parse(stored)));
        assert.equal(stateHash(resumed), stateHash(head));
        const tailResults = history.entries.slice(split).map((e) => applyEntry(resumed, e));
        assert.deepEqual(tailResults, fullResults.slice(split));
        assert.equal(stateHash(resumed), stateHash(full));
        assert.deepEqual(takeSnapshot(resumed), takeSnapshot(full));
      }),
      { numRuns: 150 },
    );
  });

  it("two replicas agree on every result and the state hash, even when one sees checksummed addresses", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const a = createLedger({ feeRecipient: FEE_RECIPIENT });
        const b = createLedger({ feeRecipient: getAddress(FEE_RECIPIENT) as Address });
        for (const entry of history.entries) {
          assert.deepEqual(applyEntry(b, checksummed(entry)), applyEntry(a, entry));
        }
        assert.equal(stateHash(a), stateHash(b));
      }),
      { numRuns: 100 },
    );
  });

  it("different histories give different state hashes (the hash sees balances, nonces and epochs)", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const a = createLedger({ feeRecipient: FEE_RECIPIENT });
        for (const entry of history.entries) applyEntry(a, entry);
        const before = stateHash(a);
        // One more fresh deposit always changes the state.
        applyEntry(a, { type: "deposit", depositId: 1_000_000n, account: POOL[1] ?? "0x", token: TOKENS[0] ?? "0x", amount: 1n });
        assert.notEqual(stateHash(a), before);
      }),
      { numRuns: 30 },
    );
  });
});
