// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Snapshots: the whole ledger as a JSON-safe value (bigints as decimal strings), and back.
 *
 * The snapshot is canonical: one state has exactly one snapshot (lists sorted, decimals without
 * leading zeros, addresses lowercase, keys in a fixed order), and `restoreLedger` accepts only
 * canonical snapshots. Hence `stateHash` (keccak256 of the snapshot's JSON) of a restored ledger
 * equals that of the ledger the snapshot was taken from, and a replica that restores a snapshot and
 * applies the tail reaches the hash of one that replayed everything.
 *
 * Restoring trusts nothing it can check cheaply: every epoch's deltas and payouts are recomputed
 * from its messages, every account's nonce from the messages it signed, each token's total from
 * the balances, and the roots of epochs still awaiting settlement from their messages. Settled
 * epochs' roots are checked when a proof first rebuilds their tree (queries.ts).
 */
import { z } from "zod";
import { DeltaError } from "../errors.ts";
import { isHash, type Address, type Delta, type Hash, type Payout } from "../protocol/index.ts";
import {
  collectNetting,
  compareAccountToken,
  createLedger,
  findDeposit,
  indexShard,
  newEpoch,
  recordDeposit,
  ZERO_ADDRESS,
  type AccountRecord,
  type CommittedMessage,
  type DepositRecord,
  type EpochRecord,
  type EpochStatus,
  type Holding,
  type LedgerParams,
  type LedgerState,
} from "./ledgerState.ts";
import { checkFeePolicyEntry, policyOfEntry } from "./feePolicy.ts";
import { buildMerkleTree, getMerkleRoot } from "./merkleTree.ts";

/** Format tag of this snapshot layout; a new layout gets a new tag. */
export const SNAPSHOT_FORMAT = "delta-ledger-snapshot/2";

/** An amount (or nonce, id, epoch) as a canonical decimal string: digits, no leading zero. */
export type DecimalString = string;

/** A decided deposit id and the contents it was decided with (a conflict's: its other contents, credited false). */
export interface SnapshotDeposit {
  readonly id: DecimalString;
  readonly account: Address;
  readonly token: Address;
  readonly amount: DecimalString;
  readonly credited: boolean;
}

/** A transfer as stored in a snapshot. */
export interface SnapshotTransfer {
  readonly kind: "transfer";
  readonly hash: Hash;
  readonly from: Address;
  readonly to: Address;
  readonly token: Address;
  readonly amount: DecimalString;
  readonly fee: DecimalString;
  readonly nonce: DecimalString;
  readonly deadline: DecimalString;
}

/** A withdrawal as stored in a snapshot. */
export interface SnapshotWithdrawal {
  readonly kind: "withdrawal";
  readonly hash: Hash;
  readonly account: Address;
  readonly token: Address;
  readonly amount: DecimalString;
  readonly nonce: DecimalString;
  readonly deadline: DecimalString;
}

/** An account+token amount; signed for deltas, positive for payouts. */
export interface SnapshotAmount {
  readonly account: Address;
  readonly token: Address;
  readonly amount: DecimalString;
}

/** One epoch: its messages in log order and its netting (non-zero, sorted by account then token). */
export interface SnapshotEpoch {
  readonly epoch: DecimalString;
  readonly status: EpochStatus;
  readonly root: Hash | null;
  readonly settlementTxs: readonly Hash[];
  readonly deltas: readonly SnapshotAmount[];
  readonly payouts: readonly SnapshotAmount[];
  readonly messages: readonly (SnapshotTransfer | SnapshotWithdrawal)[];
}

/** One accepted token of the fee policy, as stored in a snapshot. */
export interface SnapshotFeeRule {
  readonly token: Address;
  readonly minFee: DecimalString;
  readonly newAccountFee: DecimalString;
}

/** The whole ledger, JSON-safe and canonical. */
export interface LedgerSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly feeRecipient: Address;
  /**
   * Every decided deposit id with its contents (ascending by id; the ledger's `nextId` and `above`
   * follow from the ids), and the ids seen again with other contents (ascending, each decided).
   */
  readonly deposits: { readonly decided: readonly SnapshotDeposit[]; readonly conflicts: readonly SnapshotDeposit[] };
  readonly tokens: readonly { readonly token: Address; readonly deposited: DecimalString; readonly withdrawn: DecimalString }[];
  readonly accounts: readonly {
    readonly address: Address;
    readonly nonce: DecimalString;
    readonly balances: readonly { readonly token: Address; readonly amount: DecimalString }[];
  }[];
  readonly epochs: readonly SnapshotEpoch[];
  /**
   * The fee policy, tokens ascending; present exactly when one is applied (absent: every token at
   * any fee). Absent rather than null so that the snapshot, and so the state hash, of a ledger that
   * never applied a policy is what it was before fees existed.
   */
  readonly feePolicy?: readonly SnapshotFeeRule[];
}

const ADDRESS_KEY = /^0x[0-9a-f]{40}$/;
const UNSIGNED = /^(0|[1-9][0-9]*)$/;
const SIGNED = /^(0|-?[1-9][0-9]*)$/;

const addressSchema = z.custom<Address>((v) => typeof v === "string" && ADDRESS_KEY.test(v), {
  message: "expected a lowercase 0x address",
});
const hashSchema = z.custom<Hash>((v) => isHash(v), {
  message: "expected a lowercase 0x hash of 32 bytes",
});
const unsignedSchema = z.string().regex(UNSIGNED, "expected a canonical unsigned decimal string");
const signedSchema = z.string().regex(SIGNED, "expected a canonical signed decimal string");
const amountSchema = (amount: z.ZodString) => z.strictObject({ account: addressSchema, token: addressSchema, amount });

const depositSchema = z.strictObject({ id: unsignedSchema, account: addressSchema, token: addressSchema, amount: unsignedSchema, credited: z.boolean() });

const snapshotSchema = z.strictObject({
  format: z.literal(SNAPSHOT_FORMAT),
  feeRecipient: addressSchema,
  deposits: z.strictObject({ decided: z.array(depositSchema), conflicts: z.array(depositSchema) }),
  tokens: z.array(z.strictObject({ token: addressSchema, deposited: unsignedSchema, withdrawn: unsignedSchema })),
  accounts: z.array(
    z.strictObject({
      address: addressSchema,
      nonce: unsignedSchema,
      balances: z.array(z.strictObject({ token: addressSchema, amount: unsignedSchema })),
    }),
  ),
  epochs: z.array(
    z.strictObject({
      epoch: unsignedSchema,
      status: z.enum(["open", "sealed", "settled"]),
      root: hashSchema.nullable(),
      settlementTxs: z.array(hashSchema),
      deltas: z.array(amountSchema(signedSchema)),
      payouts: z.array(amountSchema(unsignedSchema)),
      messages: z.array(
        z.discriminatedUnion("kind", [
          z.strictObject({
            kind: z.literal("transfer"),
            hash: hashSchema,
            from: addressSchema,
            to: addressSchema,
            token: addressSchema,
            amount: unsignedSchema,
            fee: unsignedSchema,
            nonce: unsignedSchema,
            deadline: unsignedSchema,
          }),
          z.strictObject({
            kind: z.literal("withdrawal"),
            hash: hashSchema,
            account: addressSchema,
            token: addressSchema,
            amount: unsignedSchema,
            nonce: unsignedSchema,
            deadline: unsignedSchema,
          }),
        ]),
      ),
    }),
  ),
  feePolicy: z.array(z.strictObject({ token: addressSchema, minFee: unsignedSchema, newAccountFee: unsignedSchema })).optional(),
});

// Compile-time proof that what the schema accepts is a LedgerSnapshot (so parse needs no cast).
// The other direction (the schema accepts every snapshot) is the round-trip test's job.
type SchemaOutput = z.infer<typeof snapshotSchema>;
const schemaOutputIsSnapshot: [SchemaOutput] extends [LedgerSnapshot] ? true : false = true;
void schemaOutputIsSnapshot;

function amountsOf(list: readonly (Delta | Payout)[]): SnapshotAmount[] {
  return list.map((d) => ({ account: d.account, token: d.token, amount: d.amount.toString() }));
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical snapshot of the whole state. */
export function takeSnapshot(state: LedgerState): LedgerSnapshot {
  const byId = (a: readonly [bigint, unknown], b: readonly [bigint, unknown]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const depositOf = ([id, r]: readonly [bigint, DepositRecord]): SnapshotDeposit => ({
    id: id.toString(),
    account: r.account,
    token: r.token,
    amount: r.amount.toString(),
    credited: r.credited,
  });
  const decided = state.deposits.records.flatMap((shard) => [...shard]).sort(byId).map(depositOf);
  const conflicts = [...state.deposits.conflicts].sort(byId).map(depositOf);
  const tokens = [...state.tokens.values()]
    .sort((a, b) => byString(a.token, b.token))
    .map((t) => ({ token: t.token, deposited: t.deposited.toString(), withdrawn: t.withdrawn.toString() }));
  const accounts = [...state.accounts.values()]
    .sort((a, b) => byString(a.address, b.address))
    .map((a) => ({
      address: a.address,
      nonce: a.nonce.toString(),
      balances: [...a.holdings]
        .sort((x, y) => byString(x[0], y[0]))
        .map(([token, h]) => ({ token, amount: h.balance.toString() })),
    }));
  const epochs = state.epochs.map((epoch, index): SnapshotEpoch => {
    const netting =
      epoch.deltas !== null && epoch.payouts !== null ? { deltas: epoch.deltas, payouts: epoch.payouts } : collectNetting(epoch, index);
    return {
      epoch: epoch.number.toString(),
      status: epoch.status,
      root: epoch.root,
      settlementTxs: [...epoch.settlementTxs],
      deltas: amountsOf(netting.deltas),
      payouts: amountsOf(netting.payouts),
      messages: epoch.messages.map((m) =>
        m.kind === "transfer"
          ? {
              kind: "transfer",
              hash: m.hash,
              from: m.from,
              to: m.to,
              token: m.token,
              amount: m.amount.toString(),
              fee: m.fee.toString(),
              nonce: m.nonce.toString(),
              deadline: m.deadline.toString(),
            }
          : {
              kind: "withdrawal",
              hash: m.hash,
              account: m.account,
              token: m.token,
              amount: m.amount.toString(),
              nonce: m.nonce.toString(),
              deadline: m.deadline.toString(),
            },
      ),
    };
  });
  const snapshot: LedgerSnapshot = {
    format: SNAPSHOT_FORMAT,
    feeRecipient: state.feeRecipient,
    deposits: { decided, conflicts },
    tokens,
    accounts,
    epochs,
  };
  if (state.feePolicy === null) return snapshot;
  const feePolicy = [...state.feePolicy]
    .sort((x, y) => byString(x[0], y[0]))
    .map(([token, rule]) => ({ token, minFee: rule.minFee.toString(), newAccountFee: rule.newAccountFee.toString() }));
  return { ...snapshot, feePolicy };
}

/** Checks the shape of a parsed JSON value (e.g. `JSON.parse` of a stored snapshot). Throws INVALID_SNAPSHOT. */
export function parseLedgerSnapshot(value: unknown): LedgerSnapshot {
  const parsed = snapshotSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 10).map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new DeltaError("INVALID_SNAPSHOT", `snapshot is malformed: ${issues.join("; ")}`, { details: { issues } });
  }
  return parsed.data;
}

function corrupt(message: string, details?: Record<string, unknown>): never {
  throw new DeltaError("INVALID_SNAPSHOT", `snapshot is inconsistent: ${message}`, details === undefined ? undefined : { details });
}

function assertAscending(keys: readonly string[], what: string): void {
  for (let i = 1; i < keys.length; i++) {
    const prev = keys[i - 1] ?? "";
    const cur = keys[i] ?? "";
    if (!(prev < cur)) corrupt(`${what} are not strictly ascending`, { at: cur });
  }
}

/** Adds `amount` to the (account, token) entry of a netting map. */
function addTo(map: Map<string, SnapshotAmountBig>, account: Address, token: Address, amount: bigint): void {
  const key = `${account}/${token}`;
  const entry = map.get(key);
  if (entry === undefined) map.set(key, { account, token, amount });
  else entry.amount += amount;
}

interface SnapshotAmountBig {
  readonly account: Address;
  readonly token: Address;
  amount: bigint;
}

/** Non-zero entries of a netting map, as canonical snapshot amounts. */
function canonicalAmounts(map: Map<string, SnapshotAmountBig>): SnapshotAmount[] {
  return [...map.values()]
    .filter((e) => e.amount !== 0n)
    .sort(compareAccountToken)
    .map((e) => ({ account: e.account, token: e.token, amount: e.amount.toString() }));
}

function sameAmounts(a: readonly SnapshotAmount[], b: readonly SnapshotAmount[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined || x.account !== y.account || x.token !== y.token || x.amount !== y.amount) return false;
  }
  return true;
}

/**
 * Rebuilds a ledger from a snapshot for these params. Throws INVALID_SNAPSHOT when the snapshot
 * is not canonical or not consistent, or was taken with another fee recipient.
 */
export function restoreLedger(params: LedgerParams, snapshot: LedgerSnapshot): LedgerState {
  const state = createLedger(params);
  if (snapshot.format !== SNAPSHOT_FORMAT) corrupt(`unknown format ${String(snapshot.format)}`);
  if (snapshot.feeRecipient !== state.feeRecipient) {
    corrupt("it was taken with another fee recipient", { snapshot: snapshot.feeRecipient, params: state.feeRecipient });
  }

  // Deposits: decided ids ascending; the credited ones add up to each token's deposited total
  // (checked with the tokens below); conflicts name decided ids with other contents.
  const creditedByToken = new Map<Address, bigint>();
  let previous = -1n;
  for (const d of snapshot.deposits.decided) {
    const id = BigInt(d.id);
    if (id <= previous) corrupt("decided deposit ids must be strictly ascending", { id: d.id });
    previous = id;
    const amount = BigInt(d.amount);
    if (amount === 0n) corrupt("a deposit of 0 is decided", { id: d.id });
    if (d.credited) {
      if (d.account === ZERO_ADDRESS) corrupt("a deposit is credited to the zero address", { id: d.id });
      creditedByToken.set(d.token, (creditedByToken.get(d.token) ?? 0n) + amount);
    }
    recordDeposit(state, id, { account: d.account, token: d.token, amount, credited: d.credited });
  }
  previous = -1n;
  for (const c of snapshot.deposits.conflicts) {
    const id = BigInt(c.id);
    if (id <= previous) corrupt("conflicting deposit ids must be strictly ascending", { id: c.id });
    previous = id;
    const amount = BigInt(c.amount);
    const decided = findDeposit(state, id);
    if (c.credited || decided === undefined || (decided.account === c.account && decided.token === c.token && decided.amount === amount)) {
      corrupt("a deposit conflict must name a decided id with other contents, not credited", { id: c.id });
    }
    state.deposits.conflicts.set(id, { account: c.account, token: c.token, amount, credited: false });
  }

  // Tokens, then accounts and their balances, whose sum per token must match the token's totals.
  assertAscending(
    snapshot.tokens.map((t) => t.token),
    "tokens",
  );
  const remaining = new Map<Address, bigint>();
  for (const t of snapshot.tokens) {
    const deposited = BigInt(t.deposited);
    const withdrawn = BigInt(t.withdrawn);
    if (withdrawn > deposited) corrupt("a token has more withdrawn than deposited", { token: t.token });
    if ((creditedByToken.get(t.token) ?? 0n) !== deposited) corrupt("a token's deposited total differs from its credited deposits", { token: t.token });
    creditedByToken.delete(t.token);
    state.tokens.set(t.token, { token: t.token, deposited, withdrawn });
    remaining.set(t.token, deposited - withdrawn);
  }
  if (creditedByToken.size > 0) corrupt("a deposit is credited in a token the snapshot does not list");
  assertAscending(
    snapshot.accounts.map((a) => a.address),
    "accounts",
  );
  for (const a of snapshot.accounts) {
    if (a.address === ZERO_ADDRESS) corrupt("the zero address cannot be an account");
    assertAscending(
      a.balances.map((b) => b.token),
      `balances of ${a.address}`,
    );
    const account: AccountRecord = { address: a.address, nonce: BigInt(a.nonce), holdings: new Map() };
    for (const b of a.balances) {
      const left = remaining.get(b.token);
      if (left === undefined) corrupt("a balance is in a token never deposited", { account: a.address, token: b.token });
      const balance = BigInt(b.amount);
      remaining.set(b.token, left - balance);
      account.holdings.set(b.token, { balance, delta: 0n, payout: 0n, epochIndex: -1 });
    }
    state.accounts.set(a.address, account);
  }
  for (const d of snapshot.deposits.decided) {
    if (d.credited && !state.accounts.has(d.account)) corrupt("a deposit is credited to an account the snapshot does not hold", { id: d.id });
  }
  for (const [token, left] of remaining) {
    if (left !== 0n) corrupt("a token's balances do not add up to deposited minus withdrawn", { token, difference: left.toString() });
  }

  // Epochs: settled ones, then sealed ones, then exactly one open one, numbered from 1.
  if (snapshot.epochs.length === 0) corrupt("it has no epochs");
  state.epochs.length = 0;
  const signed = new Map<Address, bigint>();
  const withdrawnByToken = new Map<Address, bigint>();
  let phase = 0; // 0: settled, 1: sealed, 2: open
  const phaseOf: Record<EpochStatus, number> = { settled: 0, sealed: 1, open: 2 };
  for (const [index, e] of snapshot.epochs.entries()) {
    const number = BigInt(index + 1);
    if (e.epoch !== number.toString()) corrupt("epochs must be numbered 1, 2, 3, ...", { epoch: e.epoch });
    const p = phaseOf[e.status];
    if (p < phase) corrupt("epochs must be settled, then sealed, then open", { epoch: e.epoch });
    phase = p;
    const isLast = index === snapshot.epochs.length - 1;
    if ((e.status === "open") !== isLast) corrupt("exactly the last epoch is open", { epoch: e.epoch });
    if ((e.root === null) !== (e.status === "open")) corrupt("an epoch has a root exactly when it is sealed", { epoch: e.epoch });
    if ((e.settlementTxs.length > 0) !== (e.status === "settled")) {
      corrupt("an epoch lists settlement transactions exactly when it is settled", { epoch: e.epoch });
    }

    const record: EpochRecord = newEpoch(number);
    record.status = e.status;
    record.root = e.root;
    record.settlementTxs = Object.freeze([...e.settlementTxs]);
    const deltas = new Map<string, SnapshotAmountBig>();
    const payouts = new Map<string, SnapshotAmountBig>();
    for (const [position, s] of e.messages.entries()) {
      const amount = BigInt(s.amount);
      const nonce = BigInt(s.nonce);
      const deadline = BigInt(s.deadline);
      if (amount === 0n) corrupt("a message moves 0", { hash: s.hash });
      const signer = s.kind === "transfer" ? s.from : s.account;
      if (signer === ZERO_ADDRESS) corrupt("a message is signed by the zero address", { hash: s.hash });
      if (!state.tokens.has(s.token)) corrupt("a message moves a token never deposited", { hash: s.hash });
      // Nonces of each account run 0, 1, 2, ... across epochs in log order (PROTOCOL.md §1).
      const expected = signed.get(signer) ?? 0n;
      if (nonce !== expected) corrupt("an account's messages skip or repeat a nonce", { hash: s.hash });
      signed.set(signer, expected + 1n);
      let message: CommittedMessage;
      if (s.kind === "transfer") {
        const fee = BigInt(s.fee);
        if (s.from === s.to || !state.accounts.has(s.to)) {
          corrupt("a transfer's recipient is itself or not an account", { hash: s.hash });
        }
        addTo(deltas, s.from, s.token, -(amount + fee));
        addTo(deltas, s.to, s.token, amount);
        if (fee > 0n) addTo(deltas, state.feeRecipient, s.token, fee);
        message = {
          kind: "transfer",
          hash: s.hash,
          from: s.from,
          to: s.to,
          token: s.token,
          amount,
          fee,
          nonce,
          deadline,
          epochIndex: index,
          position,
        };
        record.transfers++;
      } else {
        addTo(deltas, s.account, s.token, -amount);
        addTo(payouts, s.account, s.token, amount);
        withdrawnByToken.set(s.token, (withdrawnByToken.get(s.token) ?? 0n) + amount);
        message = {
          kind: "withdrawal",
          hash: s.hash,
          account: s.account,
          token: s.token,
          amount,
          nonce,
          deadline,
          epochIndex: index,
          position,
        };
        record.withdrawals++;
      }
      const shard = indexShard(state, s.hash);
      if (shard.has(s.hash)) corrupt("a message hash appears twice", { hash: s.hash });
      shard.set(s.hash, message);
      record.messages.push(message);
    }
    if (!sameAmounts(canonicalAmounts(deltas), e.deltas) || !sameAmounts(canonicalAmounts(payouts), e.payouts)) {
      corrupt("an epoch's deltas or payouts differ from what its messages add up to", { epoch: e.epoch });
    }
    const toDelta = (x: SnapshotAmount): Delta => Object.freeze({ account: x.account, token: x.token, amount: BigInt(x.amount) });
    if (e.status === "open") {
      restoreOpenNetting(state, record, index, e);
    } else {
      record.deltas = Object.freeze(e.deltas.map(toDelta));
      record.payouts = Object.freeze(e.payouts.map(toDelta));
      // An epoch still to settle is about to be signed: its root must be right now, not at the first proof.
      if (e.status === "sealed") {
        const tree = buildMerkleTree(record.messages.map((m) => m.hash));
        if (getMerkleRoot(tree) !== e.root) corrupt("a sealed epoch's root differs from its messages", { epoch: e.epoch });
        record.tree = tree;
      }
    }
    state.epochs.push(record);
  }
  state.settledCount = snapshot.epochs.filter((e) => e.status === "settled").length;

  for (const account of state.accounts.values()) {
    if ((signed.get(account.address) ?? 0n) !== account.nonce) {
      corrupt("an account's nonce differs from the number of messages it signed", { account: account.address });
    }
    signed.delete(account.address);
  }
  if (signed.size > 0) corrupt("a message is signed by an account the snapshot does not hold");
  for (const [token, totals] of state.tokens) {
    if ((withdrawnByToken.get(token) ?? 0n) !== totals.withdrawn) {
      corrupt("a token's withdrawn total differs from its withdrawals", { token });
    }
    withdrawnByToken.delete(token);
  }
  if (withdrawnByToken.size > 0) corrupt("a withdrawal is in a token never deposited");

  if (snapshot.feePolicy !== undefined) {
    assertAscending(
      snapshot.feePolicy.map((r) => r.token),
      "fee policy tokens",
    );
    const tokens = snapshot.feePolicy.map((r) => ({ token: r.token, minFee: BigInt(r.minFee), newAccountFee: BigInt(r.newAccountFee) }));
    const bad = checkFeePolicyEntry({ type: "feePolicy", tokens });
    if (bad !== null) corrupt(`the fee policy is invalid: ${bad}`);
    state.feePolicy = policyOfEntry(tokens);
  }
  return state;
}

/** Puts the open epoch's netting back on the holdings it touched (see ledgerState.ts). */
function restoreOpenNetting(state: LedgerState, record: EpochRecord, epochIndex: number, e: SnapshotEpoch): void {
  const holdingFor = (x: SnapshotAmount): Holding => {
    const holding = state.accounts.get(x.account)?.holdings.get(x.token);
    if (holding === undefined) corrupt("open-epoch netting names a holding that does not exist", { account: x.account, token: x.token });
    if (holding.epochIndex !== epochIndex) {
      holding.epochIndex = epochIndex;
      record.touched.push({ account: x.account, token: x.token, holding });
    }
    return holding;
  };
  for (const d of e.deltas) holdingFor(d).delta = BigInt(d.amount);
  for (const p of e.payouts) holdingFor(p).payout = BigInt(p.amount);
}
