// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * An embedded Ganache chain for the devnet, tests and benchmarks: chainId 1337, the deterministic
 * wallet, a 30M gas block limit, bound to loopback.
 */
import { createServer } from "node:net";
import ganache from "ganache";
import { DEVNET_ACCOUNTS, DEVNET_CHAIN_ID } from "./keys.ts";

export interface GanacheOptions {
  /** TCP port; 0 picks a free one. */
  readonly port?: number;
  readonly host?: string;
  /** Starting balance of each deterministic account, in ETH. */
  readonly balanceEth?: number;
  readonly blockGasLimit?: bigint;
}

export interface RunningGanache {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP port that was free a moment ago on `host`. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Starts Ganache in this process; `close()` stops it. */
export async function startGanache(options: GanacheOptions = {}): Promise<RunningGanache> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port === undefined || options.port === 0 ? await freePort(host) : options.port;
  const server = ganache.server({
    chain: { chainId: DEVNET_CHAIN_ID, networkId: DEVNET_CHAIN_ID, hardfork: "shanghai" },
    wallet: { deterministic: true, totalAccounts: DEVNET_ACCOUNTS, defaultBalance: options.balanceEth ?? 1_000_000 },
    miner: { blockGasLimit: `0x${(options.blockGasLimit ?? 30_000_000n).toString(16)}` },
    logging: { quiet: true },
  });
  await server.listen(port, host);
  return {
    url: `http://${host}:${port}`,
    port,
    close: () => server.close(),
  };
}
