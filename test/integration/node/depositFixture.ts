// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Shared by the deposit safety tests (depositReorg, depositLyingRpc): a devnet whose nodes may
 * reach Ganache through another URL and credit at a chosen finality, and readers of what a node
 * shows from outside: balances, /metrics, its log file, its saved deposit cursor.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Wallet, type TransactionReceipt } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import type { DevnetNodes, DevnetNodesOptions } from "../../../src/devnet/nodes.ts";
import { NATIVE_TOKEN } from "../../../src/protocol/index.ts";
import { getJson, logLines, startTestDevnet, TEST_ADMIN_TOKEN } from "./devnetFixture.ts";
/** Shared with the other node tests (devnetFixture.ts). */
export { logLines, metricValue } from "./devnetFixture.ts";

export interface DepositDevnet {
  readonly chain: DevnetChain;
  readonly cluster: DevnetNodes;
  readonly rests: readonly string[];
  stop(): Promise<void>;
}

/**
 * Ganache with the bridge, then 3 node processes crediting at `finality`, reaching the chain at
 * `rpcUrl(chain)` (default: Ganache itself). No automatic seal: only the deposit watcher talks to
 * the chain.
 */
export async function startDepositDevnet(
  name: string,
  finality: NonNullable<DevnetNodesOptions["finality"]>,
  rpcUrl?: (chain: DevnetChain) => Promise<string>,
): Promise<DepositDevnet> {
  return startTestDevnet(name, { finality, epoch: { intervalMs: 600_000 }, ...(rpcUrl === undefined ? {} : { rpcUrl }) });
}

/** An account's native balance on the node at `rest` (wei, decimal), undefined if it has none. */
export async function nativeBalance(rest: string, account: string): Promise<string | undefined> {
  return ((await getJson(`${rest}/v1/accounts/${account}`))["balances"] as Record<string, string> | undefined)?.[NATIVE_TOKEN]; // the account view's balances map
}

/** The ledger state hash of the node at `rest` (GET /v1/admin/state). */
export async function stateHashOf(rest: string): Promise<string> {
  const r = await fetch(`${rest}/v1/admin/state`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return String(((await r.json()) as Record<string, unknown>)["stateHash"]);
}

/** The depositIds credited in a node's log ("deposit credited" is logged once per credit applied). */
export function creditedIds(path: string): string[] {
  return logLines(path)
    .filter((l) => l["msg"] === "deposit credited")
    .map((l) => String(l["depositId"]));
}

/** The index of the current leader among the cluster's nodes. */
export async function leaderIndex(devnet: DepositDevnet): Promise<number> {
  const status = await getJson(`${devnet.rests[0]}/v1/status`);
  const i = devnet.cluster.nodes.findIndex((n) => n.address === status["leader"]);
  if (i < 0) throw new Error(`no leader named: ${JSON.stringify(status)}`);
  return i;
}

/** Node i's saved deposit cursor (first block not yet scanned), undefined before it wrote one. */
export function savedCursor(devnet: DepositDevnet, i: number): number | undefined {
  const file = join(dirname(devnet.cluster.nodes[i]!.configPath), `node${i + 1}`, "deposit-cursor.json");
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { nextBlock: number }).nextBlock; // the watcher's own file
  } catch {
    return undefined;
  }
}

/** Deposits `amount` wei of ETH from `user` straight on Ganache; its depositId and block. */
export async function depositEth(chain: DevnetChain, user: Wallet, amount: bigint): Promise<{ id: bigint; block: number }> {
  const receipt = (await (await connectAs(chain.bridge, user).deposit({ value: amount })).wait()) as TransactionReceipt;
  for (const log of receipt.logs) {
    const e = chain.bridge.interface.parseLog(log);
    if (e?.name === "Deposited") return { id: BigInt(e.args.getValue("depositId")), block: receipt.blockNumber };
  }
  throw new Error("no Deposited event");
}
