// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The state transition: `applyEntry(state, entry)` applies one committed log entry in place and
 * reports what happened to it. Same state and entry give the same result and state on every
 * replica: no clock, no randomness, no iteration over anything unordered that reaches the result.
 *
 * Refusals are values (STYLE.md: expected outcomes are values): a refused message, deposit, seal
 * or settlement is reported with its code and changes nothing (save that a deposit id refused
 * for good, or seen again with other contents, is remembered as such). Each handler below checks
 * everything first and only then writes, so a refusal can never leave a half-applied message.
 * Throws happen only on a broken invariant (a bug), with code INTERNAL.
 *
 * Checks run in this order, and the first failure is the verdict: shape (hash, amounts,
 * addresses), nonce, deadline, duplicate hash, then for a transfer the fee policy (token accepted,
 * fee high enough; feePolicy.ts), balance.
 */
import { DeltaError, type ErrorCode } from "../errors.ts";
import type { Address, Hash } from "../protocol/index.ts";
import type {
  BlockEntry,
  DepositEntry,
  FeePolicyEntry,
  LedgerEntry,
  LedgerMessage,
  SealEntry,
  SettledEntry,
  TransferMessage,
  WithdrawalMessage,
} from "./entry.ts";
import {
  collectNetting,
  findDeposit,
  findEpoch,
  indexShard,
  isAddressKey,
  isHash,
  newEpoch,
  openEpochOf,
  recordDeposit,
  toKey,
  ZERO_ADDRESS,
  type AccountRecord,
  type CommittedMessage,
  type EpochRecord,
  type Holding,
  type LedgerState,
  type TokenTotals,
} from "./ledgerState.ts";
import { checkFeePolicyEntry, feeRefusal, policyOfEntry } from "./feePolicy.ts";
import { buildMerkleTree, getMerkleRoot } from "./merkleTree.ts";

/** Every code a ledger refusal can carry. */
export const LEDGER_REJECT_CODES = [
  "INVALID_HASH",
  "INVALID_ADDRESS",
  "ZERO_ADDRESS",
  "SELF_TRANSFER",
  "AMOUNT_ZERO",
  "INVALID_AMOUNT",
  "INVALID_BODY",
  "NONCE_REUSED",
  "NONCE_GAP",
  "DEADLINE_EXPIRED",
  "DUPLICATE",
  "INSUFFICIENT_BALANCE",
  "DUPLICATE_DEPOSIT",
  "AMOUNT_TOO_LARGE",
  "EPOCH_NOT_SEALED",
  "WRONG_STATE",
  "TOKEN_NOT_ACCEPTED",
  "FEE_TOO_LOW",
  "DEPOSIT_CONFLICT",
] as const satisfies readonly ErrorCode[];

/** A code a ledger refusal can carry. */
export type LedgerRejectCode = (typeof LEDGER_REJECT_CODES)[number];

/** A refusal: nothing changed. `reason` is for a person. */
export interface Rejection {
  readonly status: "rejected";
  readonly code: LedgerRejectCode;
  readonly reason: string;
}

/** A message applied: its epoch and its position there (also its Merkle leaf index). */
export interface CommittedMessageResult {
  readonly hash: Hash;
  readonly kind: "transfer" | "withdrawal";
  readonly status: "committed";
  readonly epoch: bigint;
  readonly index: number;
}

/** A message refused at apply time. */
export interface RejectedMessageResult extends Rejection {
  readonly hash: Hash;
  readonly kind: "transfer" | "withdrawal";
}

/** The verdict on one message, for the node to answer its client. */
export type MessageResult = CommittedMessageResult | RejectedMessageResult;

/** The verdicts on a block's messages, in the block's order. */
export interface BlockResult {
  readonly type: "block";
  readonly results: readonly MessageResult[];
  readonly committed: number;
  readonly rejected: number;
}

/** A deposit credited, or refused (a duplicate id, the same id with other contents, a malformed field). */
export type DepositResult =
  | { readonly type: "deposit"; readonly depositId: bigint; readonly status: "credited" }
  | ({ readonly type: "deposit"; readonly depositId: bigint } & Rejection);

/** An epoch sealed, or the seal refused (it named an epoch that is not the open one). */
export type SealResult =
  | { readonly type: "seal"; readonly epoch: bigint; readonly status: "sealed"; readonly root: Hash; readonly messages: number }
  | ({ readonly type: "seal"; readonly epoch: bigint } & Rejection);

/** An epoch marked settled, or the mark refused (not sealed, already settled, out of order). */
export type SettledResult =
  | { readonly type: "settled"; readonly epoch: bigint; readonly status: "settled" }
  | ({ readonly type: "settled"; readonly epoch: bigint } & Rejection);

/** A fee policy applied, or refused (a malformed token or fee: a bug upstream; the policy in force stays). */
export type FeePolicyResult =
  | { readonly type: "feePolicy"; readonly status: "applied" }
  | ({ readonly type: "feePolicy" } & Rejection);

/** What `applyEntry` reports, by entry type. */
export type ApplyResult = BlockResult | DepositResult | SealResult | SettledResult | FeePolicyResult;

function reject(code: LedgerRejectCode, reason: string): Rejection {
  return { status: "rejected", code, reason };
}

function rejectMessage(
  message: { readonly hash: Hash; readonly kind: "transfer" | "withdrawal" },
  code: LedgerRejectCode,
  reason: string,
): RejectedMessageResult {
  return { hash: message.hash, kind: message.kind, status: "rejected", code, reason };
}

/**
 * Why an address that is not yet an account cannot become one, or null when it can. Known
 * accounts were checked when created, so the hot path checks shape only for new ones.
 */
function checkNewAccount(key: string, field: string): Rejection | null {
  if (!isAddressKey(key)) return reject("INVALID_ADDRESS", `${field} must be 0x and 40 hex digits`);
  if (key === ZERO_ADDRESS) return reject("ZERO_ADDRESS", `${field} must not be the zero address`);
  return null;
}

/** Why a message's nonce is not the account's next one, or null when it is (PROTOCOL.md §1). */
function checkNonce(nonce: bigint, expected: bigint): Rejection | null {
  if (nonce === expected) return null;
  return nonce < expected
    ? reject("NONCE_REUSED", `nonce ${nonce} is already used; the account's next nonce is ${expected}`)
    : reject("NONCE_GAP", `nonce ${nonce} skips ahead; the account's next nonce is ${expected}`);
}

function addAccount(state: LedgerState, key: Address): AccountRecord {
  const account: AccountRecord = { address: key, nonce: 0n, holdings: new Map() };
  state.accounts.set(key, account);
  return account;
}

function holdingOf(account: AccountRecord, token: Address): Holding {
  let holding = account.holdings.get(token);
  if (holding === undefined) {
    holding = { balance: 0n, delta: 0n, payout: 0n, epochIndex: -1 };
    account.holdings.set(token, holding);
  }
  return holding;
}

/** Makes `holding`'s delta and payout those of the open epoch, listing it there on first touch. */
function touch(epoch: EpochRecord, epochIndex: number, account: Address, token: Address, holding: Holding): Holding {
  if (holding.epochIndex !== epochIndex) {
    holding.epochIndex = epochIndex;
    holding.delta = 0n;
    holding.payout = 0n;
    epoch.touched.push({ account, token, holding });
  }
  return holding;
}

function recordMessage(state: LedgerState, epoch: EpochRecord, message: CommittedMessage): void {
  epoch.messages.push(message);
  indexShard(state, message.hash).set(message.hash, message);
}

/**
 * The checks transfers and withdrawals share, in verdict order (docs/ledger.md): a known or
 * well-formed token, the signer's next nonce (one sequence for both kinds), the deadline against
 * the block time, and a hash not applied before. Null when all pass.
 */
function checkTokenNonceDeadlineHash(
  state: LedgerState,
  m: TransferMessage | WithdrawalMessage,
  tokenKey: string,
  totals: TokenTotals | undefined,
  signer: AccountRecord | undefined,
  nowSec: bigint,
): MessageResult | null {
  if (totals === undefined && !isAddressKey(tokenKey)) {
    return rejectMessage(m, "INVALID_ADDRESS", "token must be 0x and 40 hex digits");
  }
  const badNonce = checkNonce(m.nonce, signer === undefined ? 0n : signer.nonce);
  if (badNonce !== null) return rejectMessage(m, badNonce.code, badNonce.reason);
  if (m.deadline < nowSec) {
    return rejectMessage(m, "DEADLINE_EXPIRED", `deadline ${m.deadline} is before the block time ${nowSec}`);
  }
  if (indexShard(state, m.hash).has(m.hash)) return rejectMessage(m, "DUPLICATE", "a message with this hash is already applied");
  return null;
}

function applyTransfer(
  state: LedgerState,
  epoch: EpochRecord,
  epochIndex: number,
  m: TransferMessage,
  nowSec: bigint,
): MessageResult {
  const { hash, amount, fee, nonce } = m;
  if (!isHash(hash)) return rejectMessage(m, "INVALID_HASH", "hash must be 0x and 64 lowercase hex digits");
  if (amount <= 0n) {
    return amount === 0n
      ? rejectMessage(m, "AMOUNT_ZERO", "amount must be greater than 0")
      : rejectMessage(m, "INVALID_AMOUNT", "amount must not be negative");
  }
  if (fee < 0n) return rejectMessage(m, "INVALID_AMOUNT", "fee must not be negative");
  const fromKey = toKey(m.from);
  const toKeyValue = toKey(m.to);
  const tokenKey = toKey(m.token);
  const sender = state.accounts.get(fromKey);
  if (sender === undefined) {
    const bad = checkNewAccount(fromKey, "from");
    if (bad !== null) return rejectMessage(m, bad.code, bad.reason);
  }
  const recipient = state.accounts.get(toKeyValue);
  if (recipient === undefined) {
    const bad = checkNewAccount(toKeyValue, "to");
    if (bad !== null) return rejectMessage(m, bad.code, bad.reason);
  }
  if (fromKey === toKeyValue) return rejectMessage(m, "SELF_TRANSFER", "from and to must differ");
  const totals = state.tokens.get(tokenKey);
  const refused = checkTokenNonceDeadlineHash(state, m, tokenKey, totals, sender, nowSec);
  if (refused !== null) return refused;
  // PROTOCOL.md §2: a token the fee policy does not list cannot move; the fee pays for settlement.
  const feeRefused = feeRefusal(state, { to: toKeyValue, token: tokenKey, fee });
  if (feeRefused !== null) return rejectMessage(m, feeRefused.code, feeRefused.reason);
  const debit = amount + fee;
  const from = sender === undefined ? undefined : sender.holdings.get(tokenKey);
  // No token totals means nobody ever deposited the token, so no balance of it exists anywhere.
  if (sender === undefined || from === undefined || totals === undefined || from.balance < debit) {
    const available = from === undefined ? 0n : from.balance;
    return rejectMessage(m, "INSUFFICIENT_BALANCE", `amount + fee is ${debit} but the available balance is ${available}`);
  }

  // Every check passed; nothing below can refuse. Each update re-reads its holding, so a transfer
  // from or to the fee recipient nets correctly (the holdings may be the same object).
  sender.nonce = nonce + 1n; // the nonce check passed: nonce is the expected one
  from.balance -= debit;
  touch(epoch, epochIndex, sender.address, totals.token, from).delta -= debit;
  const receiver = recipient ?? addAccount(state, toKeyValue);
  const to = holdingOf(receiver, totals.token);
  to.balance += amount;
  touch(epoch, epochIndex, receiver.address, totals.token, to).delta += amount;
  if (fee > 0n) {
    const feeAccount = state.accounts.get(state.feeRecipient) ?? addAccount(state, state.feeRecipient);
    const feeHolding = holdingOf(feeAccount, totals.token);
    feeHolding.balance += fee;
    touch(epoch, epochIndex, feeAccount.address, totals.token, feeHolding).delta += fee;
  }
  const position = epoch.messages.length;
  recordMessage(state, epoch, {
    kind: "transfer",
    hash,
    from: sender.address,
    to: receiver.address,
    token: totals.token,
    amount,
    fee,
    nonce,
    deadline: m.deadline,
    epochIndex,
    position,
  });
  epoch.transfers++;
  return { hash, kind: "transfer", status: "committed", epoch: epoch.number, index: position };
}

function applyWithdrawal(
  state: LedgerState,
  epoch: EpochRecord,
  epochIndex: number,
  m: WithdrawalMessage,
  nowSec: bigint,
): MessageResult {
  const { hash, amount, nonce } = m;
  if (!isHash(hash)) return rejectMessage(m, "INVALID_HASH", "hash must be 0x and 64 lowercase hex digits");
  if (amount <= 0n) {
    return amount === 0n
      ? rejectMessage(m, "AMOUNT_ZERO", "amount must be greater than 0")
      : rejectMessage(m, "INVALID_AMOUNT", "amount must not be negative");
  }
  const accountKey = toKey(m.account);
  const tokenKey = toKey(m.token);
  const account = state.accounts.get(accountKey);
  if (account === undefined) {
    const bad = checkNewAccount(accountKey, "account");
    if (bad !== null) return rejectMessage(m, bad.code, bad.reason);
  }
  const totals = state.tokens.get(tokenKey);
  const refused = checkTokenNonceDeadlineHash(state, m, tokenKey, totals, account, nowSec);
  if (refused !== null) return refused;
  const holding = account === undefined ? undefined : account.holdings.get(tokenKey);
  if (account === undefined || holding === undefined || totals === undefined || holding.balance < amount) {
    const available = holding === undefined ? 0n : holding.balance;
    return rejectMessage(m, "INSUFFICIENT_BALANCE", `amount is ${amount} but the available balance is ${available}`);
  }

  // PROTOCOL.md §2: the amount leaves the off-chain balance at once. It settles as a negative
  // delta of the account and a payout of the same amount, which keeps the chunk conserving.
  account.nonce = nonce + 1n; // the nonce check passed: nonce is the expected one
  holding.balance -= amount;
  const touched = touch(epoch, epochIndex, account.address, totals.token, holding);
  touched.delta -= amount;
  touched.payout += amount;
  totals.withdrawn += amount;
  const position = epoch.messages.length;
  recordMessage(state, epoch, {
    kind: "withdrawal",
    hash,
    account: account.address,
    token: totals.token,
    amount,
    nonce,
    deadline: m.deadline,
    epochIndex,
    position,
  });
  epoch.withdrawals++;
  return { hash, kind: "withdrawal", status: "committed", epoch: epoch.number, index: position };
}

/**
 * Throws INTERNAL, before anything changes, when the entry breaks its TypeScript type (a number
 * where a bigint belongs, an unknown kind). Such an entry cannot come out of the typed pipeline,
 * and applying it would let JavaScript coercion decide a verdict, or throw halfway through a
 * message; refusing the whole block loudly is the only answer that cannot half-apply it.
 */
function assertBlockShape(entry: BlockEntry): void {
  const bad = (why: string, i: number): never => {
    throw new DeltaError("INTERNAL", `malformed block entry: ${why}`, { details: { message: i } });
  };
  if (typeof entry.timestampSec !== "bigint") bad("timestampSec is not a bigint", -1);
  for (let i = 0; i < entry.messages.length; i++) {
    const m = entry.messages[i];
    if (m === undefined || m === null || typeof m !== "object") return bad("not an object", i);
    if (typeof m.hash !== "string" || typeof m.token !== "string") bad("hash or token is not a string", i);
    if (typeof m.amount !== "bigint" || typeof m.nonce !== "bigint" || typeof m.deadline !== "bigint") {
      bad("amount, nonce or deadline is not a bigint", i);
    }
    if (m.kind === "transfer") {
      if (typeof m.fee !== "bigint") bad("fee is not a bigint", i);
      if (typeof m.from !== "string" || typeof m.to !== "string") bad("from or to is not a string", i);
    } else if (m.kind === "withdrawal") {
      if (typeof m.account !== "string") bad("account is not a string", i);
    } else {
      bad("kind is neither transfer nor withdrawal", i);
    }
  }
}

function applyBlock(state: LedgerState, entry: BlockEntry): BlockResult {
  assertBlockShape(entry);
  const epochIndex = state.epochs.length - 1;
  const epoch = openEpochOf(state);
  const results: MessageResult[] = new Array<MessageResult>(entry.messages.length);
  let committed = 0;
  for (let i = 0; i < entry.messages.length; i++) {
    // assertBlockShape checked every element is an object of a known kind.
    const m = entry.messages[i] as LedgerMessage;
    const result =
      m.kind === "transfer"
        ? applyTransfer(state, epoch, epochIndex, m, entry.timestampSec)
        : applyWithdrawal(state, epoch, epochIndex, m, entry.timestampSec);
    if (result.status === "committed") committed++;
    results[i] = result;
  }
  return { type: "block", results, committed, rejected: results.length - committed };
}

/**
 * The most the ledger credits of one token over its lifetime: 2^192 - 1 (about 6e57; no real token
 * comes near). Why a bound: every settlement figure is then far inside the bridge's int256/uint256
 * ranges, so every sealed epoch can always settle. An epoch delta is end - start - deposits of one
 * holding, at most 3 x (total deposits) in magnitude; a payout at most total deposits; a chunk's
 * running per-token sum at most 2^32 items x that, which is below 2^227 < 2^255. Without it, a
 * delta above int256 would make the epoch, and every later one, impossible to settle. A deposit
 * refused here stays in the bridge's settled balance on-chain, so the escape hatch still returns it.
 */
export const MAX_TOKEN_DEPOSITS = (1n << 192n) - 1n;

function applyDeposit(state: LedgerState, entry: DepositEntry): DepositResult {
  const { depositId, amount } = entry;
  // As for blocks: a value that breaks the type is a bug upstream, refused before any change.
  if (typeof depositId !== "bigint" || typeof amount !== "bigint" || typeof entry.account !== "string" || typeof entry.token !== "string") {
    throw new DeltaError("INTERNAL", "malformed deposit entry: depositId/amount must be bigint, account/token strings");
  }
  const head = { type: "deposit", depositId } as const;
  if (depositId < 0n) return { ...head, ...reject("INVALID_BODY", "depositId must not be negative") };
  const accountKey = toKey(entry.account);
  const tokenKey = toKey(entry.token);
  const account = state.accounts.get(accountKey);
  if (account === undefined) {
    const bad = checkNewAccount(accountKey, "account");
    if (bad !== null) return { ...head, ...bad };
  }
  const totals = state.tokens.get(tokenKey);
  if (totals === undefined && !isAddressKey(tokenKey)) {
    return { ...head, ...reject("INVALID_ADDRESS", "token must be 0x and 40 hex digits") };
  }
  // PROTOCOL.md §3: the bridge refuses deposits of 0, so one here is a watcher bug.
  if (amount <= 0n) return { ...head, ...reject(amount === 0n ? "AMOUNT_ZERO" : "INVALID_AMOUNT", "amount must be greater than 0") };
  const decided = findDeposit(state, depositId);
  if (decided !== undefined) {
    if (decided.account === accountKey && decided.token === tokenKey && decided.amount === amount) {
      return { ...head, ...reject("DUPLICATE_DEPOSIT", `deposit ${depositId} is already ${decided.credited ? "credited" : "refused"}`) };
    }
    // The same id with other contents: the chain this came from is not the one the id was decided
    // on (a reorganisation after the credit, or a lying RPC). Crediting either version could be
    // wrong, so nothing is credited; the conflict is remembered (first other contents), which
    // stops the deposit watcher of every leader until an operator looks (docs/operations.md).
    if (!state.deposits.conflicts.has(depositId)) {
      state.deposits.conflicts.set(depositId, { account: accountKey, token: tokenKey, amount, credited: false });
    }
    return {
      ...head,
      ...reject(
        "DEPOSIT_CONFLICT",
        `deposit ${depositId} was decided as ${decided.amount} of ${decided.token} for ${decided.account}, now seen as ${amount} of ${tokenKey} for ${accountKey}`,
      ),
    };
  }
  if ((totals?.deposited ?? 0n) + amount > MAX_TOKEN_DEPOSITS) {
    // Decided for good: the id is remembered (a later copy is a duplicate, other contents a conflict).
    recordDeposit(state, depositId, { account: accountKey, token: tokenKey, amount, credited: false });
    return {
      ...head,
      ...reject("AMOUNT_TOO_LARGE", `deposits of token ${tokenKey} would exceed 2^192-1 in all, the most the ledger can settle`),
    };
  }

  // Deposits are on-chain already: they raise the balance but are no part of the epoch's deltas.
  const holder = account ?? addAccount(state, accountKey);
  let tokenTotals = totals;
  if (tokenTotals === undefined) {
    tokenTotals = { token: tokenKey, deposited: 0n, withdrawn: 0n };
    state.tokens.set(tokenKey, tokenTotals);
  }
  holdingOf(holder, tokenTotals.token).balance += amount;
  tokenTotals.deposited += amount;
  recordDeposit(state, depositId, { account: holder.address, token: tokenTotals.token, amount, credited: true });
  return { ...head, status: "credited" };
}

function applySeal(state: LedgerState, entry: SealEntry): SealResult {
  if (typeof entry.epoch !== "bigint") throw new DeltaError("INTERNAL", "malformed seal entry: epoch must be a bigint");
  const epochIndex = state.epochs.length - 1;
  const epoch = openEpochOf(state);
  if (entry.epoch !== epoch.number) {
    return {
      type: "seal",
      epoch: entry.epoch,
      ...reject("WRONG_STATE", `epoch ${entry.epoch} is not the open epoch (${epoch.number}); nothing sealed`),
    };
  }
  // Compute first, then change: building the tree is the only step that could throw.
  const { deltas, payouts } = collectNetting(epoch, epochIndex);
  const tree = buildMerkleTree(epoch.messages.map((m) => m.hash));
  const root = getMerkleRoot(tree);
  epoch.status = "sealed";
  epoch.deltas = deltas;
  epoch.payouts = payouts;
  epoch.root = root;
  epoch.tree = tree;
  epoch.touched = [];
  state.epochs.push(newEpoch(epoch.number + 1n));
  return { type: "seal", epoch: epoch.number, status: "sealed", root, messages: epoch.messages.length };
}

function applySettled(state: LedgerState, entry: SettledEntry): SettledResult {
  if (typeof entry.epoch !== "bigint" || !Array.isArray(entry.txHashes)) {
    throw new DeltaError("INTERNAL", "malformed settled entry: epoch must be a bigint and txHashes an array");
  }
  const head = { type: "settled", epoch: entry.epoch } as const;
  if (entry.txHashes.length === 0) return { ...head, ...reject("INVALID_BODY", "txHashes must list at least one transaction") };
  for (const tx of entry.txHashes) {
    if (!isHash(tx)) return { ...head, ...reject("INVALID_HASH", "every tx hash must be 0x and 64 lowercase hex digits") };
  }
  const epoch = findEpoch(state, entry.epoch);
  if (epoch === undefined || epoch.status === "open") {
    return { ...head, ...reject("EPOCH_NOT_SEALED", `epoch ${entry.epoch} is not sealed`) };
  }
  if (epoch.status === "settled") return { ...head, ...reject("WRONG_STATE", `epoch ${entry.epoch} is already settled`) };
  // Sealed epochs follow the settled ones, so the next to settle is epochs[settledCount] (PROTOCOL.md §3: in order).
  const next = state.epochs[state.settledCount];
  if (next !== epoch) {
    return { ...head, ...reject("WRONG_STATE", `epoch ${next?.number ?? "none"} must settle before epoch ${entry.epoch}`) };
  }
  epoch.status = "settled";
  epoch.settlementTxs = Object.freeze([...entry.txHashes]);
  state.settledCount++;
  return { ...head, status: "settled" };
}

function applyFeePolicy(state: LedgerState, entry: FeePolicyEntry): FeePolicyResult {
  // As for blocks: a value that breaks the type is a bug upstream, refused before any change.
  const { tokens } = entry;
  if (tokens !== null) {
    if (!Array.isArray(tokens)) throw new DeltaError("INTERNAL", "malformed feePolicy entry: tokens must be an array or null");
    for (const t of tokens) {
      if (typeof t !== "object" || t === null || typeof t.token !== "string" || typeof t.minFee !== "bigint" || typeof t.newAccountFee !== "bigint") {
        throw new DeltaError("INTERNAL", "malformed feePolicy entry: each token needs a token string and bigint fees");
      }
    }
  }
  const bad = checkFeePolicyEntry(entry);
  if (bad !== null) return { type: "feePolicy", ...reject("INVALID_BODY", bad) };
  state.feePolicy = policyOfEntry(tokens);
  return { type: "feePolicy", status: "applied" };
}

/** Applies a block of messages; see the typed overloads of `applyEntry`. */
export function applyEntry(state: LedgerState, entry: BlockEntry): BlockResult;
/** Credits a deposit once per id. */
export function applyEntry(state: LedgerState, entry: DepositEntry): DepositResult;
/** Seals the open epoch. */
export function applyEntry(state: LedgerState, entry: SealEntry): SealResult;
/** Marks the next sealed epoch settled. */
export function applyEntry(state: LedgerState, entry: SettledEntry): SettledResult;
/** Replaces the fee policy. */
export function applyEntry(state: LedgerState, entry: FeePolicyEntry): FeePolicyResult;
/** Applies any entry. */
export function applyEntry(state: LedgerState, entry: LedgerEntry): ApplyResult;
export function applyEntry(state: LedgerState, entry: LedgerEntry): ApplyResult {
  switch (entry.type) {
    case "block":
      return applyBlock(state, entry);
    case "deposit":
      return applyDeposit(state, entry);
    case "seal":
      return applySeal(state, entry);
    case "settled":
      return applySettled(state, entry);
    case "feePolicy":
      return applyFeePolicy(state, entry);
    default: {
      const unknown: never = entry;
      throw new DeltaError("INTERNAL", "unknown ledger entry type", { details: { entry: String(unknown) } });
    }
  }
}
