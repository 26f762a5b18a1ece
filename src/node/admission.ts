// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Admission control (PROTOCOL.md §2 "Admission"): what a node refuses at once, before a message
 * costs a signature check, a forward or log space. Pure data structures: the ledger's balances
 * and the clock come in as arguments.
 *
 * - `Reservations`: what each account has in flight at this node, per token. A message is taken
 *   in only when the account's available balance (the ledger's, as applied here) less what it
 *   already has in flight covers its `amount + fee`. A reservation ends when this node's ledger
 *   applies the message (its balance then says the same) or when its clients are answered
 *   otherwise (refused, expired, shutdown), whichever comes first.
 * - `RefusalMemory`: refusals that no later block can change, kept for a while, so a replayed
 *   body costs a hash lookup instead of a signature recovery (docs/node.md "Admission").
 *
 * Admission may only ever be stricter than the ledger, never looser: the ledger decides what
 * commits. A message refused here because its account's earlier messages were in flight can be
 * sent again once those are decided.
 */
import type { LedgerMessage } from "../ledger/index.ts";

/** The account whose balance pays for `m`, lowercase. */
function payerOf(m: LedgerMessage): string {
  return (m.kind === "transfer" ? m.from : m.account).toLowerCase();
}

/** What `m` takes from its payer's balance: amount + fee (a withdrawal has no fee). */
export function debitOf(m: LedgerMessage): bigint {
  return m.kind === "transfer" ? m.amount + m.fee : m.amount;
}

/** The ledger's available balance of `token` for `account` (both lowercase), 0 when none. */
export type AvailableBalance = (account: string, token: string) => bigint;

interface Reservation {
  readonly key: string;
  readonly nonce: bigint;
  readonly debit: bigint;
}

/** One account's reservations of one token. */
interface Held {
  readonly byHash: Map<string, Reservation>;
  total: bigint;
  /** At least the highest nonce held (an upper bound once a release took the highest). */
  maxNonce: bigint;
}

/**
 * Debits in flight per (account, token), by message hash. Only an account's *lower* nonces stand
 * before a message: the ledger applies an account's messages in nonce order, so nonce 1 arriving
 * before nonce 0 must not make nonce 0 look unpayable (the ledger would commit nonce 0 and refuse
 * nonce 1). A message's headroom is the balance less the debits of its account's reserved
 * messages with lower nonces, in the same token.
 */
export class Reservations {
  readonly #byHash = new Map<string, Reservation>();
  readonly #byKey = new Map<string, Held>();

  /** Messages holding a reservation. */
  get size(): number {
    return this.#byHash.size;
  }

  has(hash: string): boolean {
    return this.#byHash.has(hash);
  }

  /** What `account` (lowercase) has in flight of `token` (lowercase), all nonces. */
  inFlight(account: string, token: string): bigint {
    return this.#byKey.get(keyOf(account, token))?.total ?? 0n;
  }

  /** Debits held for nonces below `nonce` (usually all of them: an account's nonces come in order). */
  #before(held: Held | undefined, nonce: bigint): bigint {
    if (held === undefined) return 0n;
    if (nonce > held.maxNonce) return held.total;
    let sum = 0n;
    for (const r of held.byHash.values()) if (r.nonce < nonce) sum += r.debit;
    return sum;
  }

  /**
   * How much `m`'s payer could still spend of its token here before `m`: the ledger's balance less
   * the debits of its reserved messages with lower nonces (negative when the ledger's balance fell
   * below them, e.g. after a message reserved elsewhere committed first).
   */
  headroom(m: LedgerMessage, available: AvailableBalance): bigint {
    const payer = payerOf(m);
    const token = m.token.toLowerCase();
    const balance = available(payer, token);
    // Nothing in flight at all (the usual case between bursts): no key to build.
    return this.#byKey.size === 0 ? balance : balance - this.#before(this.#byKey.get(keyOf(payer, token)), m.nonce);
  }

  /** True when `m` fits its payer's headroom (a message already reserved always fits). */
  fits(m: LedgerMessage, available: AvailableBalance): boolean {
    return this.#byHash.has(m.hash) || debitOf(m) <= this.headroom(m, available);
  }

  /**
   * Reserves `m`'s debit when it fits; false (nothing changed) when it does not. Reserving a
   * message that holds a reservation already is a no-op that answers true.
   */
  reserve(m: LedgerMessage, available: AvailableBalance): boolean {
    if (this.#byHash.has(m.hash)) return true;
    const payer = payerOf(m);
    const token = m.token.toLowerCase();
    const key = keyOf(payer, token);
    const held = this.#byKey.get(key);
    const debit = debitOf(m);
    if (debit > available(payer, token) - this.#before(held, m.nonce)) return false;
    const r: Reservation = { key, nonce: m.nonce, debit };
    this.#byHash.set(m.hash, r);
    if (held === undefined) this.#byKey.set(key, { byHash: new Map([[m.hash, r]]), total: debit, maxNonce: m.nonce });
    else {
      held.byHash.set(m.hash, r);
      held.total += debit;
      if (m.nonce > held.maxNonce) held.maxNonce = m.nonce;
    }
    return true;
  }

  /** Ends `hash`'s reservation, if it holds one (idempotent). */
  release(hash: string): void {
    const r = this.#byHash.get(hash);
    if (r === undefined) return;
    this.#byHash.delete(hash);
    const held = this.#byKey.get(r.key);
    if (held === undefined) return;
    held.byHash.delete(hash);
    held.total -= r.debit;
    if (held.byHash.size === 0) this.#byKey.delete(r.key);
  }

  clear(): void {
    this.#byHash.clear();
    this.#byKey.clear();
  }
}

function keyOf(account: string, token: string): string {
  return `${account}:${token}`;
}

/** A refusal to give again: its code and message. */
export interface RememberedRefusal {
  readonly code: string;
  readonly message: string;
}

interface MemoryEntry extends RememberedRefusal {
  readonly untilMs: number;
}

export interface RefusalMemoryOptions {
  /** Entries kept at most; the oldest go first. */
  readonly maxEntries?: number;
  /** How long one is kept, ms. */
  readonly ttlMs?: number;
}

/** Refusals kept by default (about 200 bytes each: 40 MB at most). */
export const DEFAULT_REFUSAL_MEMORY_ENTRIES = 200_000;
/** How long a refusal is kept by default, ms. */
export const DEFAULT_REFUSAL_MEMORY_TTL_MS = 60_000;

/**
 * Refusals by key, kept up to `ttlMs` and at most `maxEntries` (oldest dropped first: a Map keeps
 * insertion order, so both the expiry and the cap drop from its front).
 *
 * The key must make the refusal true for every request that maps to it: a refusal the message's
 * fields decide (a used nonce, a committed hash, a passed deadline) is keyed by its hash; a bad
 * signature by hash and signature, since anyone can send a message's fields with a wrong
 * signature, and the right one must not be refused for it.
 */
export class RefusalMemory {
  readonly #entries = new Map<string, MemoryEntry>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;

  constructor(options: RefusalMemoryOptions = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_REFUSAL_MEMORY_ENTRIES;
    this.#ttlMs = options.ttlMs ?? DEFAULT_REFUSAL_MEMORY_TTL_MS;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** True when nothing is kept (callers skip building a key). */
  get empty(): boolean {
    return this.#entries.size === 0;
  }

  /** The refusal kept for `key`, unless it is older than the ttl. */
  get(key: string, nowMs: number): RememberedRefusal | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.untilMs <= nowMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  remember(key: string, refusal: RememberedRefusal, nowMs: number): void {
    if (this.#maxEntries <= 0) return;
    this.#entries.delete(key); // re-inserted at the back: it is the newest now
    this.#entries.set(key, { code: refusal.code, message: refusal.message, untilMs: nowMs + this.#ttlMs });
    this.#prune(nowMs);
  }

  /** Drops what expired, and the oldest beyond the cap. */
  #prune(nowMs: number): void {
    for (const [key, e] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && e.untilMs > nowMs) return;
      this.#entries.delete(key);
    }
  }
}

/** The key of a signature refusal: the message and the signature that failed. */
export function signatureKey(hash: string, signature: string): string {
  return `${hash}:${signature.toLowerCase()}`;
}
