// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Follows DeltaBridge's `Deposited` events on the leader and turns each, once it has the
 * configured confirmations, into a deposit entry of the log. Exactly-once crediting is the
 * ledger's job (a depositId is credited once, whoever proposes it, however often), so the watcher
 * may rescan: a new leader starts at the furthest of `chain.fromBlock`, its own saved cursor and
 * the cursor the cluster shares through the log (node.ts's depositCursor entries). RPC errors are
 * retried with exponential backoff; the watcher never throws.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { Contract, Interface, JsonRpcProvider, getAddress } from "ethers";
import { chainProvider } from "./provider.ts";
import type { DepositEntry } from "../ledger/index.ts";
import type { Address } from "../protocol/index.ts";

const DEPOSITED = new Interface(["event Deposited(address indexed account, address indexed token, uint256 amount, uint256 depositId)"]);
/** Most blocks per eth_getLogs call (providers cap ranges). */
const MAX_RANGE = 5_000;

export interface DepositWatcherChain {
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly bridge: string;
  readonly confirmations: number;
  readonly pollMs: number;
  readonly fromBlock: number;
}

/**
 * Proposes deposit entries and resolves true once they are committed (credited or refused as
 * duplicates by the ledger); false when this node no longer leads or they did not commit (the
 * watcher stops advancing and tries again later).
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

export class DepositWatcher {
  readonly #chain: DepositWatcherChain;
  readonly #log: ChainLogger;
  readonly #propose: ProposeDeposits;
  readonly #provider: JsonRpcProvider;
  readonly #bridge: Contract;
  #cursor: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #failures = 0;

  readonly #cursorFile: string | undefined;

  /**
   * `cursorFile`: where the first block not yet scanned is kept, so a restarted node resumes there
   * instead of rescanning from `fromBlock`. It only advances past blocks whose deposits are
   * committed, so a crash can never skip a deposit; at worst a block is scanned twice (the ledger
   * credits a depositId once).
   */
  constructor(chain: DepositWatcherChain, log: ChainLogger, propose: ProposeDeposits, cursorFile?: string, sharedCursor = 0) {
    this.#chain = chain;
    this.#log = log;
    this.#propose = propose;
    this.#cursorFile = cursorFile;
    this.#cursor = Math.max(chain.fromBlock, readCursor(cursorFile), sharedCursor);
    this.#provider = chainProvider(chain.rpcUrl, chain.chainId);
    this.#bridge = new Contract(getAddress(chain.bridge), DEPOSITED, this.#provider);
  }

  /** The first block not yet scanned: every deposit below it is committed. */
  get cursor(): number {
    return this.#cursor;
  }

  start(): void {
    this.#log.info({ nextBlock: this.#cursor }, "deposit watcher started");
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
      const head = await this.#provider.getBlockNumber();
      // A deposit in block b has head - b + 1 confirmations.
      const safe = head - Math.max(1, this.#chain.confirmations) + 1;
      while (!this.#stopped && this.#cursor <= safe) {
        const to = Math.min(safe, this.#cursor + MAX_RANGE - 1);
        const events = await this.#bridge.queryFilter("Deposited", this.#cursor, to);
        const deposits: DepositEntry[] = [];
        for (const e of events) {
          const parsed = DEPOSITED.parseLog(e);
          if (parsed === null) continue;
          deposits.push({
            type: "deposit",
            depositId: BigInt(parsed.args.getValue("depositId")),
            account: getAddress(String(parsed.args.getValue("account"))) as Address,
            token: getAddress(String(parsed.args.getValue("token"))) as Address,
            amount: BigInt(parsed.args.getValue("amount")),
          });
        }
        if (deposits.length > 0 && !(await this.#propose(deposits))) break; // not leading, or not committed
        this.#cursor = to + 1;
        writeCursor(this.#cursorFile, this.#cursor);
      }
      this.#failures = 0;
      this.#schedule(this.#chain.pollMs);
    } catch (error) {
      this.#failures++;
      const backoff = Math.min(30_000, this.#chain.pollMs * 2 ** Math.min(this.#failures, 6));
      this.#log.warn({ failures: this.#failures, retryMs: backoff, reason: error instanceof Error ? error.message.replace(/\/\/[^/@\s]+@/g, "//***@").slice(0, 200) : "unknown" }, "deposit watcher: RPC failed; retrying");
      this.#schedule(backoff);
    }
  }
}
