// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Follows DeltaBridge's `Deposited` events on the leader and turns each, once its block is final
 * enough (`chain.finality`), into a deposit entry of the log. Exactly-once crediting is the
 * ledger's job (a depositId is decided once, whoever proposes it, however often), so the watcher
 * may rescan: a new leader starts at the furthest of `chain.fromBlock`, its own saved cursor and
 * the cursor the cluster shares through the log (node.ts's depositCursor entries). RPC errors are
 * retried with exponential backoff; the watcher never throws.
 *
 * It trusts its RPC no further than it can check (docs/operations.md "Deposits and finality"):
 * - Finality: with "finalized" it scans only up to the chain's `finalized` block; a chain without
 *   that tag, or a development chain whose tag is just its latest block (Ganache, Hardhat), gets
 *   nothing credited and an error line until `{ confirmations: N }` is configured.
 * - Completeness: after scanning up to block `to` it reads the bridge's `nextDepositId()` AT `to`.
 *   If the ledger has not decided every id below it, the scan missed deposits (an RPC answering
 *   `eth_getLogs` with [] for blocks it has not synced): the cursor does not move, the block of
 *   the first missing id is found by bisecting `nextDepositId()` over past blocks, and the scan
 *   resumes there. Events the bridge does not count yet, or from another address, are a lie too.
 * - Reorganisations: it remembers the hash of each block it scanned up to; when one changes, the
 *   cursor goes back to the newest block whose hash still holds and the blocks above are rescanned.
 * - Conflicts: a depositId the ledger decided with other contents (account, token, amount) is
 *   proposed as is, so that every replica's ledger refuses it (DEPOSIT_CONFLICT, never credited)
 *   and remembers it. While the ledger holds a conflict the watcher of every leader halts: it
 *   credits nothing more and logs an error every HALT_RECHECK_MS, since crediting either version
 *   of that id, or anything after it, could create money the bridge does not hold.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { getAddress, Interface, JsonRpcProvider } from "ethers";
import { chainProvider } from "./provider.ts";
import type { DepositEntry } from "../ledger/index.ts";
import type { Address } from "../protocol/index.ts";

const BRIDGE = new Interface([
  "event Deposited(address indexed account, address indexed token, uint256 amount, uint256 depositId)",
  "function nextDepositId() view returns (uint256)",
]);
const DEPOSITED_TOPIC = BRIDGE.getEvent("Deposited")?.topicHash ?? "";
const NEXT_DEPOSIT_ID_CALL = BRIDGE.encodeFunctionData("nextDepositId", []);
/** Most blocks per eth_getLogs call (providers cap ranges). */
const MAX_RANGE = 5_000;
/** Block hashes remembered for reorganisation checks (one per scanned range). */
const MAX_CHECKPOINTS = 128;
/** While halted (a conflict, or no usable finality), the watcher looks again and logs this often. */
export const HALT_RECHECK_MS = 10_000;
/** Clients whose `finalized` tag is their latest block, not a finality (checked with web3_clientVersion). */
const NO_REAL_FINALITY = /^(ganache|hardhatnetwork)\b/i;

/** When a deposit may be credited: at the chain's `finalized` block, or after N confirmations (its own block counted). */
export type DepositFinality = "finalized" | { readonly confirmations: number };

export interface DepositWatcherChain {
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly bridge: string;
  readonly finality: DepositFinality;
  readonly pollMs: number;
  readonly fromBlock: number;
}

/** A deposit's contents as the ledger decided them (lowercase or checksummed addresses, wei). */
export interface DecidedDeposit {
  readonly account: string;
  readonly token: string;
  readonly amount: bigint;
}

/** The leader's applied ledger, as far as the watcher reads it. */
export interface DepositLedger {
  /** The contents `depositId` was decided with (credited or refused for good), or undefined. */
  decided(depositId: bigint): DecidedDeposit | undefined;
  /** The lowest id not decided yet. */
  firstUndecided(): bigint;
  /** Ids the ledger saw again with other contents: any of them halts the watcher. */
  conflicts(): readonly (DecidedDeposit & { readonly depositId: bigint })[];
}

/** Counters the watcher moves (the node registers them on /metrics). */
export interface DepositWatcherMetrics {
  /** The scan went back: `gap` (the bridge counts deposits the scan missed), `reorg` (a scanned block changed). */
  rescan(reason: "gap" | "reorg"): void;
}

/**
 * Proposes deposit entries and resolves true once they are committed (credited or refused by the
 * ledger); false when this node no longer leads or they did not commit (the watcher stops
 * advancing and tries again later).
 */
export type ProposeDeposits = (deposits: readonly DepositEntry[]) => Promise<boolean>;

/** The saved cursor, or 0 when there is none or it is unreadable (then the watcher rescans). */
function readCursor(file: string | undefined): number {
  if (file === undefined) return 0;
  try {
    const v = (JSON.parse(readFileSync(file, "utf8")) as { nextBlock?: unknown }).nextBlock; // our own file
    return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : 0;
  } catch {
    return 0;
  }
}

/** Saves the cursor atomically (write, then rename over the old file). */
function writeCursor(file: string | undefined, nextBlock: number): void {
  if (file === undefined) return;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ nextBlock }) + "\n");
  renameSync(tmp, file);
}

/** The pino methods the chain loops use: `(fields, constant message)`. */
export interface ChainLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/** An RPC answer that is not what the method returns: the poll fails and is retried. */
class BadRpcAnswer extends Error {
  constructor(what: string) {
    super(`the RPC answered ${what} malformed`);
    this.name = "BadRpcAnswer";
  }
}

const HEX_QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;
const HEX_HASH = /^0x[0-9a-fA-F]{64}$/;

function quantity(value: unknown, what: string): number {
  if (typeof value !== "string" || !HEX_QUANTITY.test(value)) throw new BadRpcAnswer(what);
  const n = Number.parseInt(value, 16);
  if (!Number.isSafeInteger(n)) throw new BadRpcAnswer(what);
  return n;
}

/** A block's number and hash from eth_getBlockByNumber, or null when the RPC has no such block. */
function blockHead(value: unknown): { readonly number: number; readonly hash: string } | null {
  if (value === null) return null;
  if (typeof value !== "object") throw new BadRpcAnswer("a block");
  const b = value as { number?: unknown; hash?: unknown }; // an object; each field checked below
  if (typeof b.hash !== "string" || !HEX_HASH.test(b.hash)) throw new BadRpcAnswer("a block hash");
  return { number: quantity(b.number, "a block number"), hash: b.hash.toLowerCase() };
}

/** A JSON-RPC error answer (the RPC understood and refused), as opposed to a transport failure. */
function isRpcRefusal(error: unknown): boolean {
  // ethers keeps the JSON-RPC error object as `error`, or as `info.error` for "method not supported".
  const e = error as { error?: { code?: unknown }; info?: { error?: { code?: unknown } } } | null;
  const inner = e?.error ?? e?.info?.error;
  return typeof inner === "object" && inner !== null && typeof inner.code === "number";
}

/** A Deposited event found by a scan, with where it sits. */
interface FoundDeposit {
  readonly entry: DepositEntry;
  readonly block: number;
  readonly logIndex: number;
}

type ScanOutcome = "advanced" | "retry" | "halted" | "notLeading";

export class DepositWatcher {
  readonly #chain: DepositWatcherChain;
  readonly #log: ChainLogger;
  readonly #propose: ProposeDeposits;
  readonly #ledger: DepositLedger;
  readonly #metrics: DepositWatcherMetrics;
  readonly #provider: JsonRpcProvider;
  readonly #bridge: string;
  #cursor: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #failures = 0;
  /** Finalized mode: whether the client's `finalized` tag means anything (checked once). */
  #clientChecked = false;
  #fakeFinality = false;
  /** Blocks this watcher scanned up to, with their hashes then, ascending: the reorganisation check. */
  #checkpoints: { readonly number: number; readonly hash: string }[] = [];

  readonly #cursorFile: string | undefined;

  /**
   * `cursorFile`: where the first block not yet scanned is kept, so a restarted node resumes there
   * instead of rescanning from `fromBlock`. It only advances past blocks whose deposits are
   * committed and counted complete by the bridge, so a crash can never skip a deposit; at worst a
   * block is scanned twice (the ledger decides a depositId once).
   */
  constructor(
    chain: DepositWatcherChain,
    log: ChainLogger,
    propose: ProposeDeposits,
    ledger: DepositLedger,
    metrics: DepositWatcherMetrics,
    cursorFile?: string,
    sharedCursor = 0,
  ) {
    this.#chain = chain;
    this.#log = log;
    this.#propose = propose;
    this.#ledger = ledger;
    this.#metrics = metrics;
    this.#cursorFile = cursorFile;
    this.#cursor = Math.max(chain.fromBlock, readCursor(cursorFile), sharedCursor);
    // No answer cache: the reorganisation checks compare two reads of one block.
    this.#provider = chainProvider(chain.rpcUrl, chain.chainId, { cacheTimeout: -1 });
    this.#bridge = getAddress(chain.bridge).toLowerCase();
  }

  /** The first block not yet scanned: every deposit below it is committed. */
  get cursor(): number {
    return this.#cursor;
  }

  start(): void {
    this.#log.info({ nextBlock: this.#cursor, finality: this.#chain.finality }, "deposit watcher started");
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#provider.destroy();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#poll(), ms);
  }

  async #poll(): Promise<void> {
    try {
      const nextMs = await this.#pollOnce();
      this.#failures = 0;
      this.#schedule(nextMs);
    } catch (error) {
      this.#failures++;
      const backoff = Math.min(30_000, this.#chain.pollMs * 2 ** Math.min(this.#failures, 6));
      this.#log.warn({ failures: this.#failures, retryMs: backoff, reason: error instanceof Error ? error.message.replace(/\/\/[^/@\s]+@/g, "//***@").slice(0, 200) : "unknown" }, "deposit watcher: RPC failed; retrying");
      this.#schedule(backoff);
    }
  }

  /** One look at the chain; resolves the delay until the next. */
  async #pollOnce(): Promise<number> {
    if (this.#haltedByConflict()) return HALT_RECHECK_MS;
    const target = await this.#creditableHead();
    if (target === undefined) return HALT_RECHECK_MS;
    await this.#checkReorg();
    while (!this.#stopped && this.#cursor <= target) {
      const outcome = await this.#scan(this.#cursor, Math.min(target, this.#cursor + MAX_RANGE - 1));
      if (outcome === "halted") return HALT_RECHECK_MS;
      if (outcome !== "advanced") break; // not leading, or a gap or a reorganisation to look at again
    }
    return this.#chain.pollMs;
  }

  /** True (with an error line) while the ledger holds a deposit conflict: nothing is credited. */
  #haltedByConflict(): boolean {
    const conflicts = this.#ledger.conflicts();
    if (conflicts.length === 0) return false;
    this.#log.error(
      {
        conflicts: conflicts.slice(0, 10).map((c) => {
          const decided = this.#ledger.decided(c.depositId);
          return {
            depositId: c.depositId.toString(),
            decided: decided === undefined ? null : { account: decided.account, token: decided.token, amount: decided.amount.toString() },
            seen: { account: c.account, token: c.token, amount: c.amount.toString() },
          };
        }),
        nextBlock: this.#cursor,
      },
      "deposits halted: a depositId was seen with other contents than it was credited with; nothing more is credited until an operator resolves it (docs/operations.md)",
    );
    return true;
  }

  /** The highest block whose deposits may be credited now, or undefined (logged) when none may. */
  async #creditableHead(): Promise<number | undefined> {
    const finality = this.#chain.finality;
    if (finality !== "finalized") {
      const head = quantity(await this.#provider.send("eth_blockNumber", []), "eth_blockNumber");
      // A deposit in block b has head - b + 1 confirmations.
      return head - Math.max(1, finality.confirmations) + 1;
    }
    if (!this.#clientChecked) {
      const version = await this.#provider.send("web3_clientVersion", []).catch((error: unknown) => {
        if (isRpcRefusal(error)) return ""; // not every RPC tells; then the tag is taken at its word
        throw error;
      });
      this.#fakeFinality = typeof version === "string" && NO_REAL_FINALITY.test(version);
      this.#clientChecked = true;
    }
    if (this.#fakeFinality) {
      this.#log.error(
        { finality: "finalized" },
        "deposits halted: this chain's `finalized` block is just its latest block (Ganache, Hardhat), no finality; set chain.finality to { confirmations: N }",
      );
      return undefined;
    }
    let finalized: { readonly number: number } | null;
    try {
      finalized = blockHead(await this.#provider.send("eth_getBlockByNumber", ["finalized", false]));
    } catch (error) {
      if (!isRpcRefusal(error)) throw error;
      finalized = null;
    }
    if (finalized === null) {
      this.#log.error(
        { finality: "finalized" },
        "deposits halted: the RPC has no `finalized` block; set chain.finality to { confirmations: N } for this chain (docs/operations.md)",
      );
      return undefined;
    }
    return finalized.number;
  }

  /** The bridge's `nextDepositId()` at block `block` (0 before the bridge has code there). */
  async #nextDepositIdAt(block: number): Promise<bigint> {
    const answer: unknown = await this.#provider.send("eth_call", [{ to: this.#bridge, data: NEXT_DEPOSIT_ID_CALL }, `0x${block.toString(16)}`]);
    if (answer === "0x") return 0n; // no code at that block: the bridge was not deployed yet
    if (typeof answer !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(answer)) throw new BadRpcAnswer("nextDepositId()");
    return BigInt(answer);
  }

  async #blockAt(block: number): Promise<{ readonly number: number; readonly hash: string } | null> {
    return blockHead(await this.#provider.send("eth_getBlockByNumber", [`0x${block.toString(16)}`, false]));
  }

  /**
   * A block this watcher scanned up to has another hash now: the chain reorganised below the
   * cursor. The cursor goes back to just past the newest checkpoint that still holds (or to
   * `fromBlock` if none does), and those blocks are scanned again, where the ledger's contents
   * check catches a depositId that now carries other contents.
   */
  async #checkReorg(): Promise<void> {
    const last = this.#checkpoints.at(-1);
    if (last === undefined || (await this.#blockAt(last.number))?.hash === last.hash) return;
    let keep = -1;
    for (let i = this.#checkpoints.length - 2; i >= 0; i--) {
      const cp = this.#checkpoints[i]!; // i is within the array
      if ((await this.#blockAt(cp.number))?.hash === cp.hash) {
        keep = i;
        break;
      }
    }
    const back = keep >= 0 ? this.#checkpoints[keep]!.number + 1 : this.#chain.fromBlock; // keep is an index of the array
    this.#checkpoints = keep >= 0 ? this.#checkpoints.slice(0, keep + 1) : [];
    this.#metrics.rescan("reorg");
    this.#log.warn({ changedBlock: last.number, nextBlock: this.#cursor, rescanFrom: back }, "deposit watcher: the chain reorganised below the cursor; rescanning");
    this.#moveCursorBack(back);
  }

  #moveCursorBack(block: number): void {
    if (block >= this.#cursor) return;
    this.#cursor = block;
    this.#checkpoints = this.#checkpoints.filter((cp) => cp.number < block);
    writeCursor(this.#cursorFile, this.#cursor);
  }

  /** Scans [from, to]: proposes what it finds, then checks the result against the bridge's count. */
  async #scan(from: number, to: number): Promise<ScanOutcome> {
    const before = await this.#blockAt(to);
    if (before === null) return "retry"; // the RPC no longer has it (behind, or reorganised)
    const logs: unknown = await this.#provider.send("eth_getLogs", [
      { address: this.#bridge, topics: [DEPOSITED_TOPIC], fromBlock: `0x${from.toString(16)}`, toBlock: `0x${to.toString(16)}` },
    ]);
    const found = this.#parseLogs(logs, from, to);
    if (found === undefined) return "retry";
    const bridgeNext = await this.#nextDepositIdAt(to);
    if ((await this.#blockAt(to))?.hash !== before.hash) {
      this.#log.warn({ from, to }, "deposit watcher: the chain reorganised during a scan; scanning again");
      return "retry";
    }
    const beyond = found.find((f) => f.entry.depositId >= bridgeNext);
    if (beyond !== undefined) {
      this.#log.warn(
        { from, to, depositId: beyond.entry.depositId.toString(), bridgeNextDepositId: bridgeNext.toString() },
        "deposit watcher: the RPC returned a deposit the bridge does not count at that block; ignoring this scan",
      );
      return "retry";
    }

    // Contents against what the ledger decided; a conflict is proposed (the ledger refuses and
    // remembers it on every replica) and nothing after it.
    const proposal: DepositEntry[] = [];
    let conflict: FoundDeposit | undefined;
    for (const f of found) {
      const decided = this.#ledger.decided(f.entry.depositId);
      if (decided === undefined) {
        proposal.push(f.entry);
        continue;
      }
      if (sameDeposit(decided, f.entry)) continue;
      conflict = f;
      proposal.push(f.entry);
      this.#log.error(
        {
          depositId: f.entry.depositId.toString(),
          block: f.block,
          decided: { account: decided.account, token: decided.token, amount: decided.amount.toString() },
          seen: { account: f.entry.account, token: f.entry.token, amount: f.entry.amount.toString() },
        },
        "deposit conflict: the chain shows a credited depositId with other contents; not credited, deposits halt",
      );
      break;
    }
    if (proposal.length > 0 && !(await this.#propose(proposal))) return "notLeading";
    if (conflict !== undefined) {
      this.#moveCursorBack(conflict.block);
      return "halted";
    }

    // Completeness: every id the bridge had issued by block `to` must be decided now.
    const missing = this.#ledger.firstUndecided();
    if (missing < bridgeNext) {
      this.#metrics.rescan("gap");
      const rescanFrom = await this.#blockOfDeposit(missing, to);
      this.#log.warn(
        { from, to, found: found.length, missingDepositId: missing.toString(), bridgeNextDepositId: bridgeNext.toString(), rescanFrom },
        "deposit watcher: the bridge counts deposits this scan did not find; the cursor stays and the gap is scanned again",
      );
      this.#moveCursorBack(rescanFrom);
      return "retry";
    }
    this.#cursor = to + 1;
    writeCursor(this.#cursorFile, this.#cursor);
    this.#checkpoints.push({ number: to, hash: before.hash });
    if (this.#checkpoints.length > MAX_CHECKPOINTS) this.#checkpoints.shift();
    return "advanced";
  }

  /** Parsed Deposited events of the bridge in [from, to], in chain order; undefined (logged) on an answer that cannot be right. */
  #parseLogs(logs: unknown, from: number, to: number): FoundDeposit[] | undefined {
    if (!Array.isArray(logs)) throw new BadRpcAnswer("eth_getLogs");
    const found: FoundDeposit[] = [];
    for (const raw of logs as unknown[]) {
      const log = raw as { address?: unknown; topics?: unknown; data?: unknown; blockNumber?: unknown; logIndex?: unknown; removed?: unknown } | null; // fields checked below
      if (log === null || typeof log !== "object" || log.removed === true) continue;
      const block = quantity(log.blockNumber, "a log's block number");
      if (typeof log.address !== "string" || log.address.toLowerCase() !== this.#bridge || block < from || block > to) {
        this.#log.warn({ from, to, address: String(log.address), block }, "deposit watcher: the RPC returned a log from elsewhere; ignoring this scan");
        return undefined;
      }
      if (!Array.isArray(log.topics) || typeof log.data !== "string") throw new BadRpcAnswer("a log");
      const parsed = BRIDGE.parseLog({ topics: log.topics as string[], data: log.data }); // strings checked by parseLog
      if (parsed === null || parsed.name !== "Deposited") continue;
      found.push({
        block,
        logIndex: quantity(log.logIndex, "a log index"),
        entry: {
          type: "deposit",
          depositId: BigInt(parsed.args.getValue("depositId")),
          account: getAddress(String(parsed.args.getValue("account"))) as Address,
          token: getAddress(String(parsed.args.getValue("token"))) as Address,
          amount: BigInt(parsed.args.getValue("amount")),
        },
      });
    }
    return found.sort((a, b) => a.block - b.block || a.logIndex - b.logIndex);
  }

  /**
   * The first block at which the bridge had issued deposit `id` (its `nextDepositId()` above `id`),
   * by bisection over [fromBlock, upTo]. A past block's state may be gone from a pruning node;
   * then the lower end reached so far is returned, which is still at or before that block.
   */
  async #blockOfDeposit(id: bigint, upTo: number): Promise<number> {
    let lo = this.#chain.fromBlock;
    let hi = upTo;
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      let next: bigint;
      try {
        next = await this.#nextDepositIdAt(mid);
      } catch {
        break;
      }
      if (next > id) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Same contents: account, token (any case) and amount. */
function sameDeposit(decided: DecidedDeposit, seen: DepositEntry): boolean {
  return decided.account.toLowerCase() === seen.account.toLowerCase() && decided.token.toLowerCase() === seen.token.toLowerCase() && decided.amount === seen.amount;
}
