// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The leader's mempool (PROTOCOL.md §1): messages waiting for a block. Higher fees go first when
 * more wait than a block takes, but an account's own messages stay in nonce order; a hash is held
 * once. Pure data structure: time and the ledger's nonces come in as arguments; the node cuts
 * blocks from it on a timer or when it is full.
 *
 * Gaps are held back. PROTOCOL.md lets an account have consecutive nonces in flight "in one batch
 * or in parallel": nonce 1 sent to one node and nonce 2 to another reach the leader by different
 * paths, and nonce 2 may come first. A message whose nonce is past the account's next one (the
 * ledger's, or the one after what the leader already put in a block) waits up to `gapHoldMs` for
 * its predecessors; after that it goes into a block anyway and the ledger refuses it (NONCE_GAP).
 *
 * Cost: `take` looks at the accounts not held back (an account held waits aside until its hold
 * ends or it gets a message), plus a heap of account heads when more are ready than the block
 * takes (O(k log n) for k messages from n accounts). An earlier version scanned every account for
 * every message it took, which made one block of 2,000 from 50,000 waiting accounts cost seconds
 * of the leader's event loop.
 */
import type { LedgerMessage } from "../ledger/index.ts";

/** How long a message waits for the nonces before it (ms) by default. */
export const DEFAULT_GAP_HOLD_MS = 1_000;
/** Messages the mempool holds at most, by default (config mempool.maxMessages). */
export const DEFAULT_MEMPOOL_MAX_MESSAGES = 200_000;
/** Bytes the mempool holds at most, by default (config mempool.maxBytes; see `sizeOf`). */
export const DEFAULT_MEMPOOL_MAX_BYTES = 128 * 1024 * 1024;
/**
 * How far past its next nonce an account may queue, by default (config mempool.maxNonceAhead): a
 * whole batch (PROTOCOL.md §2: up to 10,000 items) of one account's consecutive nonces fits.
 */
export const DEFAULT_MAX_NONCE_AHEAD = 10_000;

/**
 * What a message costs the mempool, in bytes: its strings and numbers as they sit in memory, and
 * a fixed part for the objects around them (measured with heap snapshots: about 700 bytes for a
 * transfer with short decimals).
 */
export function sizeOf(m: LedgerMessage): number {
  // Bigints counted at 24 bytes each (a 256-bit value takes 32 bytes plus its header; most are
  // small): exact enough for a cap, and no conversion on the hot path.
  const fixed = 480 + 3 * 24 + m.hash.length + m.token.length;
  return m.kind === "transfer" ? fixed + 24 + m.from.length + m.to.length : fixed + m.account.length;
}

/** What `admit` did with a message. */
export type AdmitResult =
  /** Taken in; `evicted` are the messages it pushed out (lowest fees first), now no longer held. */
  | { readonly status: "added"; readonly evicted: readonly LedgerMessage[] }
  /** A message with its hash is already waiting. */
  | { readonly status: "duplicate" }
  /** The mempool is full of messages with fees at least as high. */
  | { readonly status: "full" }
  /** Its nonce is more than maxNonceAhead past the account's next one. */
  | { readonly status: "tooFarAhead"; readonly next: bigint };

/** Limits of a mempool (config `mempool`). */
export interface MempoolOptions {
  readonly gapHoldMs?: number;
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  readonly maxNonceAhead?: number;
}

/** Min-heap entry of the eviction order (a waiting message): lowest fee first; among equal fees, the newest. */
type EvictItem = Waiting;

/** `a` is evicted before `b`. */
function evictsFirst(a: EvictItem, b: EvictItem): boolean {
  return a.fee !== b.fee ? a.fee < b.fee : a.seq > b.seq;
}

/** Next-nonce hints older than this are dropped (blocks commit within seconds; the ledger then knows). */
const HINT_TTL_MS = 60_000;

interface Waiting {
  readonly m: LedgerMessage;
  readonly atMs: number;
  readonly fee: bigint;
  /** Arrival order (the newest is evicted first among equal fees). */
  readonly seq: number;
  readonly size: number;
  /** Left the mempool (taken, evicted, expired): a stale eviction-heap item. */
  gone: boolean;
}

/** Where the leader stands with one account: what it put in blocks, and since when. */
interface NonceHint {
  next: bigint;
  atMs: number;
}

/** The account that signed `m` (its nonce sequence), lowercase. */
export function signerOf(m: LedgerMessage): string {
  return (m.kind === "transfer" ? m.from : m.account).toLowerCase();
}

function feeOf(m: LedgerMessage): bigint {
  return m.kind === "transfer" ? m.fee : 0n;
}

/** The account's next nonce as far as the ledger has applied (lowercase address in). */
export type LedgerNonce = (signer: string) => bigint;

/** One account's ready head in the fee heap. */
interface Head {
  readonly signer: string;
  readonly fee: bigint;
}

/** a before b: higher fee first; equal fees by address, so the order is deterministic. */
function before(a: Head, b: Head): boolean {
  return a.fee !== b.fee ? a.fee > b.fee : a.signer < b.signer;
}


/**
 * A binary heap ordered by `first(a, b)` (a comes out before b); built from `items` in O(n). The
 * mempool's three orders use it: ready account heads by fee, held accounts by the end of their
 * hold, and eviction by lowest fee.
 */
class Heap<T> {
  readonly #first: (a: T, b: T) => boolean;
  #items: T[];

  constructor(first: (a: T, b: T) => boolean, items: T[] = []) {
    this.#first = first;
    this.#items = items;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.#first(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.#down(0);
    }
    return top;
  }

  clear(): void {
    this.#items = [];
  }

  #down(i: number): void {
    const items = this.#items;
    for (;;) {
      const l = 2 * i + 1;
      let best = i;
      if (l < items.length && this.#first(items[l]!, items[best]!)) best = l;
      if (l + 1 < items.length && this.#first(items[l + 1]!, items[best]!)) best = l + 1;
      if (best === i) return;
      [items[i], items[best]] = [items[best]!, items[i]!];
      i = best;
    }
  }
}

/** A held account and the end of its hold (stale pairs are skipped by the caller). */
interface Hold {
  readonly until: number;
  readonly signer: string;
}


export class Mempool {
  /** Per signer, messages sorted by nonce (equal nonces in arrival order). */
  readonly #bySigner = new Map<string, Waiting[]>();
  readonly #hashes = new Set<string>();
  /** Per signer, the nonce after the last message this leader put in a block. */
  readonly #hints = new Map<string, NonceHint>();
  /**
   * Accounts with messages whose head waits for earlier nonces, and when that hold ends. `take`
   * looks only at the other accounts (`#active`), so messages held back cost nothing per block
   * however many wait: a flood of gapped messages from throwaway keys would otherwise make every
   * block scan all of them. An account comes back when it gets a message or its hold ends.
   */
  readonly #heldUntil = new Map<string, number>();
  readonly #holds = new Heap<Hold>((a, b) => a.until < b.until);
  /** Accounts with messages and no hold: the ones `take` looks at. */
  readonly #active = new Set<string>();
  readonly #gapHoldMs: number;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #maxNonceAhead: bigint;
  /**
   * Eviction order over the waiting messages, kept only while the mempool is near full (built in
   * O(n) when it fills, dropped once it is half empty): an ordinary leader never pays for it.
   * Items of messages gone since are stale and skipped.
   */
  #evict: Heap<EvictItem> | undefined;
  #seq = 0;
  #bytes = 0;

  constructor(options: MempoolOptions = {}) {
    this.#gapHoldMs = options.gapHoldMs ?? DEFAULT_GAP_HOLD_MS;
    this.#maxMessages = options.maxMessages ?? DEFAULT_MEMPOOL_MAX_MESSAGES;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MEMPOOL_MAX_BYTES;
    this.#maxNonceAhead = BigInt(options.maxNonceAhead ?? DEFAULT_MAX_NONCE_AHEAD);
  }

  get size(): number {
    return this.#hashes.size;
  }

  /** Bytes the waiting messages cost (`sizeOf`). */
  get bytes(): number {
    return this.#bytes;
  }

  has(hash: string): boolean {
    return this.#hashes.has(hash);
  }

  /** Adds `m` (arrived at `nowMs`) without the limits; false when a message with its hash is already waiting. */
  add(m: LedgerMessage, nowMs: number): boolean {
    if (this.#hashes.has(m.hash)) return false;
    this.#insert(m, nowMs);
    return true;
  }

  /**
   * Takes `m` in within the limits: refused when its nonce is more than maxNonceAhead past the
   * account's next one (the ledger's, or what this leader already put in blocks), or when the
   * mempool is full and every waiting message pays at least its fee. Otherwise the lowest-fee
   * messages make room, each with the later nonces of its account (they could not commit
   * without it).
   */
  admit(m: LedgerMessage, nowMs: number, ledgerNonce: LedgerNonce): AdmitResult {
    if (this.#hashes.has(m.hash)) return { status: "duplicate" };
    const next = this.#expected(signerOf(m), ledgerNonce);
    if (m.nonce - next >= this.#maxNonceAhead) return { status: "tooFarAhead", next };
    const size = sizeOf(m);
    const fee = feeOf(m);
    const evicted: LedgerMessage[] = [];
    while (this.#hashes.size + 1 > this.#maxMessages || this.#bytes + size > this.#maxBytes) {
      const lowest = this.#lowest();
      // Nothing cheaper to push out: the newcomer is the one that does not fit.
      if (lowest === undefined || lowest.fee >= fee || signerOf(lowest.m) === signerOf(m)) {
        // Put back what was pushed out for it: it did not get in after all.
        for (const e of evicted) this.#insert(e, nowMs);
        return { status: "full" };
      }
      for (const e of this.#removeFrom(lowest.m)) evicted.push(e);
    }
    this.#insert(m, nowMs);
    return { status: "added", evicted };
  }

  /**
   * Removes and returns the waiting messages whose deadline is before `nowSec`, except those
   * whose nonce the ledger has used (they may be copies of a committed message; the ledger
   * answers them NONCE_REUSED in a block, see blockProducer.ts dropExpired).
   */
  dropExpired(nowSec: bigint, ledgerNonce: LedgerNonce): LedgerMessage[] {
    const out: LedgerMessage[] = [];
    const gone: Waiting[] = [];
    for (const [signer, queue] of this.#bySigner) {
      if (!queue.some((w) => w.m.deadline < nowSec)) continue;
      const next = ledgerNonce(signer);
      const kept = queue.filter((w) => {
        if (w.m.deadline >= nowSec || w.m.nonce < next) return true;
        out.push(w.m);
        gone.push(w);
        return false;
      });
      if (kept.length === queue.length) continue;
      if (kept.length === 0) {
        this.#bySigner.delete(signer);
        this.#active.delete(signer);
      } else this.#bySigner.set(signer, kept);
    }
    for (const w of gone) this.#forget(w);
    this.#maybeDropEvictionHeap();
    return out;
  }

  /** The next message to evict (lowest fee, newest among equals), skipping stale heap items. */
  #lowest(): EvictItem | undefined {
    if (this.#evict === undefined) {
      const live: Waiting[] = [];
      for (const queue of this.#bySigner.values()) for (const w of queue) live.push(w);
      this.#evict = new Heap(evictsFirst, live);
    }
    for (let top = this.#evict.peek(); top !== undefined; top = this.#evict.peek()) {
      if (!top.gone) return top;
      this.#evict.pop();
    }
    return undefined;
  }

  /** Drops the eviction heap once the mempool is half empty (it is rebuilt when it fills again). */
  #maybeDropEvictionHeap(): void {
    if (this.#evict !== undefined && this.#hashes.size < this.#maxMessages / 2 && this.#bytes < this.#maxBytes / 2) this.#evict = undefined;
  }

  /** Removes `m` and its account's later messages; returns them. */
  #removeFrom(m: LedgerMessage): LedgerMessage[] {
    const signer = signerOf(m);
    const queue = this.#bySigner.get(signer);
    if (queue === undefined) return [];
    const at = queue.findIndex((w) => w.m.hash === m.hash);
    if (at < 0) return [];
    // Later nonces of the same account depend on it; equal nonces after it in arrival order too.
    const removed = queue.splice(at);
    if (queue.length === 0) {
      this.#bySigner.delete(signer);
      this.#active.delete(signer);
    }
    for (const w of removed) this.#forget(w);
    return removed.map((w) => w.m);
  }

  /** Bookkeeping of a message that left the queues (taken, evicted or expired). */
  #forget(w: Waiting): void {
    if (w.gone) return;
    w.gone = true;
    this.#hashes.delete(w.m.hash);
    this.#bytes -= w.size;
  }

  #insert(m: LedgerMessage, nowMs: number): void {
    this.#hashes.add(m.hash);
    const w: Waiting = { m, atMs: nowMs, fee: feeOf(m), seq: this.#seq++, size: sizeOf(m), gone: false };
    this.#bytes += w.size;
    if (this.#evict !== undefined) {
      this.#evict.push(w);
      // Stale items (messages taken into blocks) are dropped once they outnumber the live ones.
      if (this.#evict.size > 2 * this.#hashes.size + 1_024) this.#evict = undefined;
    }
    const key = signerOf(m);
    // New message, new chance: it may be the nonce the held head waits for.
    this.#heldUntil.delete(key);
    this.#active.add(key);
    const queue = this.#bySigner.get(key);
    if (queue === undefined) {
      this.#bySigner.set(key, [w]);
      return;
    }
    // Usually the next nonce: append. Otherwise after the last one not above it (binary search).
    if (queue[queue.length - 1]!.m.nonce <= m.nonce) {
      queue.push(w);
      return;
    }
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (queue[mid]!.m.nonce <= m.nonce) lo = mid + 1;
      else hi = mid;
    }
    queue.splice(lo, 0, w);
  }

  /**
   * Removes and returns up to `max` messages for the next block: repeatedly the highest-fee ready
   * head among the accounts' queues, each account's messages in nonce order. A head is ready
   * unless its nonce is past the account's next one and it arrived less than gapHoldMs ago.
   */
  take(max: number, nowMs: number, ledgerNonce: LedgerNonce): LedgerMessage[] {
    const out: LedgerMessage[] = [];
    if (max <= 0 || this.#hashes.size === 0) return out;
    this.#pruneHints(nowMs, ledgerNonce);
    this.#releaseHolds(nowMs);
    const heads: Head[] = [];
    const runs: { readonly signer: string; readonly queue: Waiting[]; readonly n: number; readonly next: bigint; readonly moved: boolean }[] = [];
    let ready = 0;
    for (const signer of this.#active) {
      const queue = this.#bySigner.get(signer);
      if (queue === undefined || queue.length === 0) {
        this.#active.delete(signer);
        continue;
      }
      const run = this.#readyRun(signer, queue, nowMs, ledgerNonce);
      if (run.n === 0) {
        this.#hold(signer, queue[0]!.atMs + this.#gapHoldMs);
        continue;
      }
      ready += run.n;
      runs.push({ signer, queue, ...run });
      heads.push({ signer, fee: feeOf(queue[0]!.m) });
    }
    if (ready <= max) {
      // Everything ready fits: no ordering by fee is needed, only nonce order per account.
      for (const { signer, queue, n, next, moved } of runs) {
        for (let i = 0; i < n; i++) {
          const w = queue[i]!;
          this.#forget(w);
          out.push(w.m);
        }
        if (n === queue.length) {
          this.#bySigner.delete(signer);
          this.#active.delete(signer);
        } else queue.splice(0, n); // the rest wait for earlier nonces: the next take holds the account
        if (moved) this.#setHint(signer, next, nowMs);
      }
      this.#maybeDropEvictionHeap();
      return out;
    }
    const heap = new Heap(before, heads);
    while (out.length < max) {
      const h = heap.pop();
      if (h === undefined) break;
      this.#takeHeadIfReady(h.signer, nowMs, ledgerNonce, out);
      const next = this.#bySigner.get(h.signer)?.[0];
      if (next !== undefined && this.#isReady(h.signer, next, nowMs, ledgerNonce)) heap.push({ signer: h.signer, fee: feeOf(next.m) });
    }
    this.#maybeDropEvictionHeap();
    return out;
  }

  /** Removes and returns everything, in no particular order (the node lost the lead). */
  takeAll(): LedgerMessage[] {
    const out: LedgerMessage[] = [];
    for (const queue of this.#bySigner.values()) for (const w of queue) out.push(w.m);
    this.#bySigner.clear();
    this.#hashes.clear();
    this.#evict = undefined;
    this.#bytes = 0;
    this.#hints.clear();
    this.#heldUntil.clear();
    this.#holds.clear();
    this.#active.clear();
    return out;
  }

  /**
   * The ledger applied a message of `m`'s account (a block from an earlier leader, say): a held
   * head of that account may now be next in line, so it is looked at again by the next take.
   */
  wake(m: LedgerMessage): void {
    if (this.#heldUntil.size === 0) return;
    const key = signerOf(m);
    if (this.#heldUntil.delete(key)) this.#active.add(key);
  }

  /** Sets `signer` aside until `untilMs` (its head's hold ends) or its next message. */
  #hold(signer: string, untilMs: number): void {
    this.#active.delete(signer);
    this.#heldUntil.set(signer, untilMs);
    this.#holds.push({ until: untilMs, signer });
  }

  /** Brings back the accounts whose hold has ended. */
  #releaseHolds(nowMs: number): void {
    for (let h = this.#holds.peek(); h !== undefined && h.until <= nowMs; h = this.#holds.peek()) {
      this.#holds.pop();
      // Stale pairs (the account came back with a new message, or was held again) are skipped.
      if (this.#heldUntil.get(h.signer) !== h.until) continue;
      this.#heldUntil.delete(h.signer);
      if (this.#bySigner.has(h.signer)) this.#active.add(h.signer);
    }
  }

  /**
   * Forgets what this leader assumed about `m`'s account beyond the ledger: `m` was refused, or
   * its block did not go through, so the nonces after it are not in line. Forgetting can only
   * make a message wait (up to gapHoldMs), never refuse it.
   */
  forgetNonce(m: LedgerMessage): void {
    this.#hints.delete(signerOf(m));
  }

  /** The nonce the account's next message should carry, as far as this leader knows. */
  #expected(signer: string, ledgerNonce: LedgerNonce): bigint {
    const fromLedger = ledgerNonce(signer);
    const hint = this.#hints.get(signer);
    return hint !== undefined && hint.next > fromLedger ? hint.next : fromLedger;
  }

  #isReady(signer: string, w: Waiting, nowMs: number, ledgerNonce: LedgerNonce): boolean {
    return nowMs - w.atMs >= this.#gapHoldMs || w.m.nonce <= this.#expected(signer, ledgerNonce);
  }

  /**
   * How many of `queue`'s messages are ready now, from its head; the account's next nonce once
   * they are taken, and whether they move it.
   */
  #readyRun(signer: string, queue: readonly Waiting[], nowMs: number, ledgerNonce: LedgerNonce): { n: number; next: bigint; moved: boolean } {
    const first = this.#expected(signer, ledgerNonce);
    let expected = first;
    let n = 0;
    for (const w of queue) {
      if (w.m.nonce > expected && nowMs - w.atMs < this.#gapHoldMs) break;
      if (w.m.nonce === expected) expected++; // one let go after its hold is a gap: it moves nothing
      n++;
    }
    return { n, next: expected, moved: expected !== first };
  }

  #setHint(signer: string, next: bigint, nowMs: number): void {
    const hint = this.#hints.get(signer);
    if (hint === undefined) this.#hints.set(signer, { next, atMs: nowMs });
    else {
      hint.next = next;
      hint.atMs = nowMs;
    }
  }

  /** Moves the account's head into `out` if it is ready; false otherwise or when none is left. */
  #takeHeadIfReady(signer: string, nowMs: number, ledgerNonce: LedgerNonce, out: LedgerMessage[]): boolean {
    const queue = this.#bySigner.get(signer);
    const w = queue?.[0];
    if (queue === undefined || w === undefined || !this.#isReady(signer, w, nowMs, ledgerNonce)) return false;
    queue.shift();
    if (queue.length === 0) {
      this.#bySigner.delete(signer);
      this.#active.delete(signer);
    }
    this.#forget(w);
    out.push(w.m);
    // Only the expected nonce moves the hint. One below it is a repeat; one above it was let go
    // after its hold and the ledger will refuse it as a gap: counting it would make the next
    // out-of-order sends of this account skip their hold.
    if (w.m.nonce === this.#expected(signer, ledgerNonce)) this.#setHint(signer, w.m.nonce + 1n, nowMs);
    return true;
  }

  /** Drops hints the ledger has caught up with, or too old to matter, once they outnumber the queues. */
  #pruneHints(nowMs: number, ledgerNonce: LedgerNonce): void {
    if (this.#hints.size <= 2 * this.#bySigner.size + 1_024) return;
    for (const [signer, hint] of this.#hints) {
      if (hint.next <= ledgerNonce(signer) || nowMs - hint.atMs > HINT_TTL_MS) this.#hints.delete(signer);
    }
  }
}
