// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The JSON-RPC provider the node's long-running chain loops use (deposit watcher, settler).
 *
 * ethers waits up to 300 s for an answer by default. An RPC that accepts the connection and then
 * never answers (a hung provider, a firewall dropping packets) would hold a loop that long with
 * no error, no retry and no log line; a refused or reset connection fails at once. A request
 * timeout turns the hang into an ordinary failure, which the loops retry with backoff.
 */
import { FetchRequest, JsonRpcProvider, type JsonRpcApiProviderOptions } from "ethers";

/** How long one RPC request may take before it counts as failed (ms). */
export const RPC_TIMEOUT_MS = 10_000;

/** A provider for `rpcUrl` on `chainId` (static network: no chainId probe) whose requests time out. */
export function chainProvider(rpcUrl: string, chainId: number, options: JsonRpcApiProviderOptions = {}, timeoutMs = RPC_TIMEOUT_MS): JsonRpcProvider {
  const request = new FetchRequest(rpcUrl);
  request.timeout = timeoutMs;
  return new JsonRpcProvider(request, chainId, { staticNetwork: true, ...options });
}
