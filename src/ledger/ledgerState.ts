// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The ledger's state and the small helpers every ledger file shares.
 *
 * Addresses (accounts and tokens) are keyed by their lowercase form: the protocol accepts any
 * checksum case, and two spellings of one address must be one account. Everything the ledger
 * returns therefore speaks lowercase; the API checksums on the way out (PROTOCOL.md: "checksummed
 * in answers"). Lowercase also sorts in numeric address order, which is the order of every list
 * the ledger produces.
 *
 * Netting without a second lookup: each account's holding of a token carries both its balance and
 * the open epoch's running delta and payout. `epochIndex` says which epoch those two belong to; a
 * holding first touched in an epoch resets them and is listed in that epoch's `touched`, so sealing
 * reads the deltas off that list instead of keeping a per-epoch map updated per transfer.
 */
import { DeltaError } from "../errors.ts";
import { isHash as isProtocolHash, type Address, type Delta, type Hash, type Payout } from "../protocol/index.ts";
import type { LedgerMessage } from "./entry.ts";
import type { MerkleTree } from "./merkleTree.ts";

/** What every replica must agree on before the first entry. */
export interface LedgerParams {
  /** Receives every transfer's fee, in the transfer's token (PROTOCOL.md §1). */
  readonly feeRecipient: Address;
}

/** One account's holding of one token. */
export interface Holding {
  /** Available off-chain balance, wei; never negative. */
  balance: bigint;
  /** Net change of the settled balance in epoch `epochIndex`, wei (meaningful only while that epoch is open). */
  delta: bigint;
  /** Amount withdrawn in epoch `epochIndex`, wei (same caveat). */
  payout: bigint;
  /** Index into `LedgerState.epochs` of the epoch `delta` and `payout` belong to; -1 for none. */
  epochIndex: number;
}

/** An account: its next nonce and its holdings by lowercase token address. */
export interface AccountRecord {
  readonly address: Address;
  /** Next nonce to sign, shared by transfers and withdrawals (PROTOCOL.md §1). */
  nonce: bigint;
  readonly holdings: Map<Address, Holding>;
}

/** Per token, what came in by deposit and left by withdrawal: their difference is the sum of all balances. */
export interface TokenTotals {
  readonly token: Address;
  deposited: bigint;
  withdrawn: bigint;
}

/** A holding touched in the open epoch, with its owner, so sealing can list the epoch's deltas. */
export interface TouchedHolding {
  readonly account: Address;
  readonly token: Address;
  readonly holding: Holding;
}

/** A message as applied: normalized (lowercase addresses) and placed in its epoch. */
export type CommittedMessage = LedgerMessage & {
  /** Index into `LedgerState.epochs`; the epoch number is `epochIndex + 1`. */
  readonly epochIndex: number;
  /** Position in the epoch's log order, which is also its Merkle leaf index. */
  readonly position: number;
};

/** An epoch's life: open (collecting), sealed (root fixed, awaiting settlement), settled (landed on-chain). */
export type EpochStatus = "open" | "sealed" | "settled";

/** One epoch. Only the last epoch of `LedgerState.epochs` is open. */
export interface EpochRecord {
  /** Epoch number, from 1 (the bridge's `lastEpoch()` starts at 0, so it settles 1 first). */
  readonly number: bigint;
  status: EpochStatus;
  /** Applied transfers and withdrawals in log order: the leaves of the transfers root. */
  readonly messages: CommittedMessage[];
  transfers: number;
  withdrawals: number;
  /** Open epoch only: holdings whose `delta`/`payout` belong to this epoch. Emptied at seal. */
  touched: TouchedHolding[];
  /** Set at seal: non-zero deltas and payouts, sorted by account then token, frozen. */
  deltas: readonly Delta[] | null;
  payouts: readonly Payout[] | null;
  /** Set at seal (PROTOCOL.md §4). */
  root: Hash | null;
  /** Set when settled. */
  settlementTxs: readonly Hash[];
  /** Cache of the built tree for proofs; derived from `messages`, not part of the state hash. */
  tree: MerkleTree | null;
}

/** One token's fee rule (feePolicy.ts), wei of the token. */
export interface FeeRule {
  readonly minFee: bigint;
  readonly newAccountFee: bigint;
}

/** What a deposit id carried when the ledger decided it (lowercase addresses, wei). */
export interface DepositRecord {
  readonly account: Address;
  readonly token: Address;
  readonly amount: bigint;
  /** True when credited; false when refused for good (AMOUNT_TOO_LARGE: the id is decided, nothing changed). */
  readonly credited: boolean;
}

/**
 * Deposit ids decided so far (credited, or refused for good): every id below `nextId`, plus the ids
 * in `above` (all greater than `nextId`), each with the contents it was decided with, so that the
 * same id seen again with other contents (a chain reorganisation, a lying RPC) is told apart from
 * a harmless repeat on every replica (docs/ledger.md "Deposits").
 */
export interface CreditedDeposits {
  nextId: bigint;
  readonly above: Set<bigint>;
  /** Contents by id, in 16 maps by `id mod 16` (one V8 Map holds at most 2^24 entries). */
  readonly records: readonly Map<bigint, DepositRecord>[];
  /**
   * Ids seen again with other contents than they were decided with, and those first other
   * contents (credited false). Any entry here stops the cluster's deposit watcher for good.
   */
  readonly conflicts: Map<bigint, DepositRecord>;
}

/**
 * The whole ledger. Treat it as opaque outside src/ledger/: read it through the query functions
 * and change it only with `applyEntry`.
 */
export interface LedgerState {
  readonly feeRecipient: Address;
  readonly accounts: Map<Address, AccountRecord>;
  readonly tokens: Map<Address, TokenTotals>;
  /** `epochs[i]` is epoch `i + 1`; settled ones first, then sealed ones, then the one open epoch. */
  readonly epochs: EpochRecord[];
  /** How many epochs are settled: `epochs[0 .. settledCount)`. */
  settledCount: number;
  readonly deposits: CreditedDeposits;
  /**
   * Committed messages by hash, split in 16 maps by the hash's first hex digit: one V8 Map holds
   * at most 2^24 entries, which a long-lived node would otherwise reach.
   */
  readonly messageIndex: readonly Map<Hash, CommittedMessage>[];
  /**
   * The fee policy by lowercase token, as the last `feePolicy` entry set it; null before any (every
   * token accepted at any fee). Replaced whole, never changed in place.
   */
  feePolicy: ReadonlyMap<Address, FeeRule> | null;
}

/** The canonical account or token key: lowercase 0x hex. */
export function toKey(address: string): Address {
  // Lowercasing keeps the "0x" prefix; callers check the rest of the shape before storing a new key.
  return address.toLowerCase() as Address;
}

const ADDRESS_KEY = /^0x[0-9a-f]{40}$/;
/** The zero address, lowercase (also the native token, PROTOCOL.md). */
export const ZERO_ADDRESS: Address = "0x0000000000000000000000000000000000000000";

/** True for a lowercase 0x address of 40 hex digits. */
export function isAddressKey(key: string): boolean {
  return ADDRESS_KEY.test(key);
}

/** True for a lowercase 0x hash of 64 hex digits. */
export function isHash(text: string): text is Hash {
  return isProtocolHash(text);
}

/** Starts a ledger at epoch 1 with nothing in it. Throws INVALID_CONFIG for a malformed or zero fee recipient. */
export function createLedger(params: LedgerParams): LedgerState {
  const feeRecipient = toKey(params.feeRecipient);
  if (!isAddressKey(feeRecipient) || feeRecipient === ZERO_ADDRESS) {
    throw new DeltaError("INVALID_CONFIG", "feeRecipient must be a non-zero 0x address of 40 hex digits", {
      details: { feeRecipient: params.feeRecipient },
    });
  }
  return {
    feeRecipient,
    accounts: new Map(),
    tokens: new Map(),
    epochs: [newEpoch(1n)],
    settledCount: 0,
    deposits: { nextId: 0n, above: new Set(), records: Array.from({ length: 16 }, () => new Map<bigint, DepositRecord>()), conflicts: new Map() },
    messageIndex: Array.from({ length: 16 }, () => new Map<Hash, CommittedMessage>()),
    feePolicy: null,
  };
}

/** A fresh open epoch. */
export function newEpoch(number: bigint): EpochRecord {
  return {
    number,
    status: "open",
    messages: [],
    transfers: 0,
    withdrawals: 0,
    touched: [],
    deltas: null,
    payouts: null,
    root: null,
    settlementTxs: [],
    tree: null,
  };
}

/** The shard of `messageIndex` for a validated lowercase hash: its first hex digit. */
export function indexShard(state: LedgerState, hash: Hash): Map<Hash, CommittedMessage> {
  const c = hash.charCodeAt(2);
  const shard = state.messageIndex[c <= 57 ? c - 48 : c - 87];
  if (shard === undefined) throw new DeltaError("INTERNAL", "message hash shard out of range", { details: { hash } });
  return shard;
}

/** The committed message with this hash (any case), if any. */
export function findMessage(state: LedgerState, hash: string): CommittedMessage | undefined {
  const key = hash.toLowerCase();
  return isHash(key) ? indexShard(state, key).get(key) : undefined;
}

/** The shard of `deposits.records` for a non-negative deposit id. */
export function depositShard(state: LedgerState, id: bigint): Map<bigint, DepositRecord> {
  const shard = state.deposits.records[Number(id & 15n)];
  if (shard === undefined) throw new DeltaError("INTERNAL", "deposit shard out of range", { details: { id: id.toString() } });
  return shard;
}

/** The contents deposit `id` was decided with (credited or refused for good), if it was. */
export function findDeposit(state: LedgerState, id: bigint): DepositRecord | undefined {
  return id < 0n ? undefined : depositShard(state, id).get(id);
}

/** Marks `id` decided with `record`, keeping `nextId` the lowest undecided id. */
export function recordDeposit(state: LedgerState, id: bigint, record: DepositRecord): void {
  depositShard(state, id).set(id, record);
  const decided = state.deposits;
  if (id === decided.nextId) {
    decided.nextId++;
    while (decided.above.delete(decided.nextId)) decided.nextId++;
  } else {
    decided.above.add(id);
  }
}

/** The epoch with this number, if it exists. */
export function findEpoch(state: LedgerState, epoch: bigint): EpochRecord | undefined {
  if (epoch < 1n || epoch > BigInt(state.epochs.length)) return undefined;
  // In range just above, and the array length is a safe integer, so the index is exact.
  return state.epochs[Number(epoch - 1n)];
}

/** The open epoch (always the last one). */
export function openEpochOf(state: LedgerState): EpochRecord {
  const epoch = state.epochs[state.epochs.length - 1];
  if (epoch === undefined || epoch.status !== "open") throw new DeltaError("INTERNAL", "ledger has no open epoch");
  return epoch;
}

/** Orders by account, then token (lowercase hex, so numeric address order). */
export function compareAccountToken(
  a: { readonly account: string; readonly token: string },
  b: { readonly account: string; readonly token: string },
): number {
  if (a.account !== b.account) return a.account < b.account ? -1 : 1;
  if (a.token !== b.token) return a.token < b.token ? -1 : 1;
  return 0;
}

/** The open epoch's non-zero deltas and payouts, sorted by account then token, frozen. */
export function collectNetting(epoch: EpochRecord, epochIndex: number): { deltas: readonly Delta[]; payouts: readonly Payout[] } {
  const deltas: Delta[] = [];
  const payouts: Payout[] = [];
  for (const { account, token, holding } of epoch.touched) {
    if (holding.epochIndex !== epochIndex) {
      throw new DeltaError("INTERNAL", "a touched holding belongs to another epoch", { details: { account, token } });
    }
    if (holding.delta !== 0n) deltas.push(Object.freeze({ account, token, amount: holding.delta }));
    if (holding.payout !== 0n) payouts.push(Object.freeze({ account, token, amount: holding.payout }));
  }
  deltas.sort(compareAccountToken);
  payouts.sort(compareAccountToken);
  return { deltas: Object.freeze(deltas), payouts: Object.freeze(payouts) };
}
