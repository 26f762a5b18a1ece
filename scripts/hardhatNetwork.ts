// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The Hardhat network connection of scripts/deploy.ts and scripts/settle.ts (`npx hardhat run
 * <script> --network <name>`), opened with a bounded RPC timeout and closed by its user.
 *
 * Hardhat waits up to 300 s for an HTTP network's answer unless the config sets `timeout`, and
 * Ganache may never answer a request (scripts/scriptExit.ts): the script would sit silent for five
 * minutes, then fail with HHE704. A bound well above any answer a working RPC gives these scripts'
 * calls turns that into a failure within a minute. A `timeout` the config sets is kept.
 */
import hre, { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { closeWithin } from "./scriptExit.ts";

/** Per-request timeout of the scripts' HTTP networks when the config sets none (ms). */
export const SCRIPT_RPC_TIMEOUT_MS = 60_000;

/** The network selected with --network (Hardhat's "default" without it), with the timeout bound. */
export async function openNetwork(): Promise<NetworkConnection> {
  const name = hre.globalOptions.network ?? "default";
  const user = hre.userConfig.networks?.[name];
  if (hre.config.networks[name]?.type === "http" && (user?.type !== "http" || user.timeout === undefined)) {
    return network.create({ override: { timeout: SCRIPT_RPC_TIMEOUT_MS } });
  }
  return network.create();
}

/**
 * Closes the connection: stops any polling hardhat-ethers still does for an interrupted
 * `tx.wait()`, then closes Hardhat's HTTP pool (its sockets), waiting a bounded time for requests
 * still in flight.
 */
export async function closeNetwork(connection: NetworkConnection, tag: string): Promise<void> {
  await closeWithin("the ethers provider's listeners", Promise.resolve(connection.ethers.provider.removeAllListeners()), tag);
  await closeWithin(`the ${connection.networkName} connection`, connection.close(), tag);
}
