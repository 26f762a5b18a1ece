// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Splits a sealed epoch's netting into settlement chunks (PROTOCOL.md §3), pure and deterministic.
 *
 * Rules every chunk meets: at most N items (deltas plus payouts) and, when asked, at most K distinct
 * tokens (the bridge's per-token bookkeeping grows with the tokens of a chunk: src/chain/settlementGas.ts);
 * per token, the sum of its deltas
 * plus the sum of its payouts is zero; all chunks carry the epoch's transfers root; together they
 * add up exactly to the epoch's deltas and payouts; zero deltas are left out.
 *
 * Algorithm, per token in ascending order: debits are the negative deltas, by account; credits
 * are the positive deltas and the payouts, by account (a delta before a payout of the same
 * account). Two pointers walk them, and each step moves x = min(debit left, credit left) from the
 * current debit to the current credit, adding -x to the debit's item and +x to the credit's item in
 * the current chunk (creating either item on its first step in the chunk). Every step is balanced,
 * so the chunk may close between any two steps and still conserve; it closes when the next step's
 * new items would exceed N, or when the next step would bring a (K+1)th token into it. Tokens are
 * walked in order, so a chunk holds a run of consecutive tokens, and a token split by an item
 * boundary goes on in the next chunk. A fresh chunk's first step adds two items, hence N >= 2. A token's
 * steps are at most (debits + credits - 1), since each exhausts at least one side.
 *
 * Why no chunk can drive an on-chain balance below zero, in any chunk order or item order:
 * 1. Every piece of an account's delta has the sign of its net epoch delta D: the pieces are a
 *    partition of |D| within one side of the walk (debits or credits), never a debit piece plus a
 *    credit piece of the same account and token. Payouts go to `withdrawable`, not `balanceOf`.
 * 2. Before the epoch's first chunk, on-chain `balanceOf(a)` is the account's on-chain deposits
 *    plus every earlier epoch's deltas (epochs settle in order, chunk by chunk). The ledger credits
 *    a deposit only once it is on-chain, so that is at least the off-chain balance at the start of
 *    the epoch plus the deposits credited during it, which is at least -D because the off-chain
 *    balance at the end of the epoch (start + deposits + D) is never negative.
 * 3. So while the pieces of a negative D land, `balanceOf(a)` stays at or above start + D >= 0,
 *    and accounts with D > 0 only ever rise. Zero net deltas are left out entirely.
 * (The argument assumes credited deposits are final on-chain: the watcher's confirmation depth.)
 */
import { DeltaError } from "../errors.ts";
import type { Address, Delta, Hash, Payout, Settlement } from "../protocol/index.ts";
import { compareAccountToken, isAddressKey, isHash, toKey, type EpochStatus } from "./ledgerState.ts";

/** What chunking needs of an epoch; an `EpochSummary` of a sealed or settled epoch is one. */
export interface SettlementSource {
  readonly epoch: bigint;
  readonly status: EpochStatus;
  readonly root: Hash | null;
  readonly deltas: readonly Delta[];
  readonly payouts: readonly Payout[];
}

const MAX_INT256 = (1n << 255n) - 1n;
const MIN_INT256 = -(1n << 255n);
const MAX_UINT256 = (1n << 256n) - 1n;
const MAX_UINT64 = (1n << 64n) - 1n;

/** A mutable piece under construction in a chunk. */
interface Piece {
  readonly account: Address;
  readonly token: Address;
  amount: bigint;
}

interface Side {
  readonly account: Address;
  readonly isPayout: boolean;
  /** Magnitude, always > 0. */
  readonly amount: bigint;
}

interface TokenSides {
  readonly debits: Side[];
  readonly credits: Side[];
  sum: bigint;
}

interface ChunkDraft {
  readonly deltas: Piece[];
  readonly payouts: Piece[];
  items: number;
  /** Distinct tokens with an item in the chunk. */
  tokens: number;
}

function inconsistent(message: string, details: Record<string, unknown>): never {
  throw new DeltaError("INTERNAL", `epoch netting is inconsistent: ${message}`, { details });
}

function sidesOf(byToken: Map<Address, TokenSides>, token: Address): TokenSides {
  let sides = byToken.get(token);
  if (sides === undefined) {
    sides = { debits: [], credits: [], sum: 0n };
    byToken.set(token, sides);
  }
  return sides;
}

/** Groups the epoch's items by token, checking each is well-formed and each token conserves. */
function groupByToken(source: SettlementSource): Map<Address, TokenSides> {
  const byToken = new Map<Address, TokenSides>();
  const seen = new Set<string>();
  const checkKey = (kind: string, account: Address, token: Address): void => {
    if (!isAddressKey(account) || !isAddressKey(token)) inconsistent(`a ${kind} has a malformed address`, { account, token });
    const key = `${kind}/${account}/${token}`;
    if (seen.has(key)) inconsistent(`two ${kind}s for one account and token`, { account, token });
    seen.add(key);
  };
  for (const d of source.deltas) {
    const account = toKey(d.account);
    const token = toKey(d.token);
    checkKey("delta", account, token);
    if (d.amount > MAX_INT256 || d.amount < MIN_INT256) {
      throw new DeltaError("AMOUNT_TOO_LARGE", "a delta does not fit int256", { details: { account, token } });
    }
    if (d.amount === 0n) continue; // a zero net delta settles nothing
    const sides = sidesOf(byToken, token);
    sides.sum += d.amount;
    if (d.amount < 0n) sides.debits.push({ account, isPayout: false, amount: -d.amount });
    else sides.credits.push({ account, isPayout: false, amount: d.amount });
  }
  for (const p of source.payouts) {
    const account = toKey(p.account);
    const token = toKey(p.token);
    checkKey("payout", account, token);
    if (p.amount <= 0n || p.amount > MAX_UINT256) inconsistent("a payout is not in 1 .. 2^256-1", { account, token });
    const sides = sidesOf(byToken, token);
    sides.sum += p.amount;
    sides.credits.push({ account, isPayout: true, amount: p.amount });
  }
  for (const [token, sides] of byToken) {
    if (sides.sum !== 0n) inconsistent("a token's deltas and payouts do not sum to zero", { token, sum: sides.sum.toString() });
  }
  return byToken;
}

function bySideOrder(a: Side, b: Side): number {
  if (a.account !== b.account) return a.account < b.account ? -1 : 1;
  return (a.isPayout ? 1 : 0) - (b.isPayout ? 1 : 0);
}

/**
 * The settlement chunks of a sealed (or settled) epoch, each with at most `maxItemsPerChunk`
 * deltas plus payouts and, when `maxTokensPerChunk` is given, at most that many distinct tokens
 * (without it, as many as fit the items: the chunking of settlement plans from before the token
 * cap). An epoch with nothing to move still yields one empty chunk, because the bridge advances
 * `lastEpoch()` only on an epoch's last chunk. Throws INVALID_CHUNK_SIZE when `maxItemsPerChunk`
 * is not an integer >= 2 or `maxTokensPerChunk` not an integer >= 1, EPOCH_OPEN for an open epoch,
 * AMOUNT_TOO_LARGE for a delta outside int256, INTERNAL for netting that does not conserve.
 */
export function buildSettlementChunks(source: SettlementSource, maxItemsPerChunk: number, maxTokensPerChunk?: number): Settlement[] {
  if (!Number.isSafeInteger(maxItemsPerChunk) || maxItemsPerChunk < 2) {
    throw new DeltaError(
      "INVALID_CHUNK_SIZE",
      "maxItemsPerChunk must be an integer of at least 2: a chunk's first step moves value from one item to another",
      { details: { maxItemsPerChunk } },
    );
  }
  if (maxTokensPerChunk !== undefined && (!Number.isSafeInteger(maxTokensPerChunk) || maxTokensPerChunk < 1)) {
    throw new DeltaError("INVALID_CHUNK_SIZE", "maxTokensPerChunk must be an integer of at least 1", { details: { maxTokensPerChunk } });
  }
  const maxTokens = maxTokensPerChunk ?? Number.MAX_SAFE_INTEGER;
  if (source.status === "open" || source.root === null) {
    throw new DeltaError("EPOCH_OPEN", `epoch ${source.epoch} is open; only a sealed epoch settles`);
  }
  if (!isHash(source.root)) inconsistent("the root is not a lowercase 32-byte hash", { root: source.root });
  if (source.epoch < 1n || source.epoch > MAX_UINT64) inconsistent("the epoch is not in 1 .. 2^64-1", { epoch: source.epoch.toString() });
  const root = source.root;
  const byToken = groupByToken(source);
  const tokens = [...byToken.keys()].sort();

  const drafts: ChunkDraft[] = [];
  let chunk: ChunkDraft = { deltas: [], payouts: [], items: 0, tokens: 0 };
  for (const token of tokens) {
    const sides = byToken.get(token);
    if (sides === undefined) continue;
    const { debits, credits } = sides;
    debits.sort(bySideOrder);
    credits.sort(bySideOrder);
    let i = 0;
    let j = 0;
    let debitLeft = debits[0]?.amount ?? 0n;
    let creditLeft = credits[0]?.amount ?? 0n;
    // The current debit's and credit's items in the current chunk, null until their first step there.
    let debitPiece: Piece | null = null;
    let creditPiece: Piece | null = null;
    // Whether this token has an item in the current chunk yet.
    let inChunk = false;
    while (i < debits.length) {
      const debit = debits[i];
      const credit = credits[j];
      // Equal sums: while a debit is left, so is a credit.
      if (debit === undefined || credit === undefined) return inconsistent("debits outlast credits", { token });
      const newItems = (debitPiece === null ? 1 : 0) + (creditPiece === null ? 1 : 0);
      if (chunk.items + newItems > maxItemsPerChunk || (!inChunk && chunk.tokens >= maxTokens)) {
        drafts.push(chunk);
        chunk = { deltas: [], payouts: [], items: 0, tokens: 0 };
        debitPiece = null;
        creditPiece = null;
        inChunk = false;
      }
      if (!inChunk) {
        chunk.tokens++;
        inChunk = true;
      }
      const x = debitLeft < creditLeft ? debitLeft : creditLeft;
      if (debitPiece === null) {
        debitPiece = { account: debit.account, token, amount: 0n };
        chunk.deltas.push(debitPiece);
        chunk.items++;
      }
      if (creditPiece === null) {
        creditPiece = { account: credit.account, token, amount: 0n };
        (credit.isPayout ? chunk.payouts : chunk.deltas).push(creditPiece);
        chunk.items++;
      }
      debitPiece.amount -= x;
      creditPiece.amount += x;
      debitLeft -= x;
      creditLeft -= x;
      if (debitLeft === 0n) {
        i++;
        debitPiece = null;
        debitLeft = debits[i]?.amount ?? 0n;
      }
      if (creditLeft === 0n) {
        j++;
        creditPiece = null;
        creditLeft = credits[j]?.amount ?? 0n;
      }
    }
    if (j !== credits.length) inconsistent("credits outlast debits", { token });
  }
  if (chunk.items > 0 || drafts.length === 0) drafts.push(chunk);

  const freeze = (p: Piece): Delta => Object.freeze({ account: p.account, token: p.token, amount: p.amount });
  return drafts.map(
    (draft, index): Settlement =>
      Object.freeze({
        epoch: source.epoch,
        chunk: index,
        chunks: drafts.length,
        transfersRoot: root,
        deltas: Object.freeze(draft.deltas.map(freeze).sort(compareAccountToken)),
        payouts: Object.freeze(draft.payouts.map(freeze).sort(compareAccountToken)),
      }),
  );
}
