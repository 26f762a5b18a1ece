// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The devnet's on-chain half: a Ganache chain, DeltaBridge with the three node keys as validators
 * (threshold 2) and a test ERC-20 minted to the user accounts. `npm start` and the integration
 * tests both use it; only the port differs.
 */
import { JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { deployBridge, deployTestToken, type DeltaBridgeContract, type Erc20Contract } from "../chain/index.ts";
import { startGanache, type RunningGanache } from "./ganache.ts";
import { DEVNET_ACCOUNTS, DEVNET_CHAIN_ID, DEVNET_ROLES, devnetPrivateKeys } from "./keys.ts";

/** Test tokens minted to every user account: one million, 18 decimals. */
export const DEVNET_TOKEN_GRANT = 1_000_000n * 10n ** 18n;
/** Seconds without a landed settlement before anyone may freeze the devnet bridge. */
export const DEVNET_ESCAPE_DELAY_SEC = 86_400n;

export interface DevnetAccount {
  readonly address: string;
  readonly privateKey: string;
}

export interface DevnetChain {
  readonly ganache: RunningGanache;
  readonly provider: JsonRpcProvider;
  readonly chainId: number;
  readonly bridge: DeltaBridgeContract;
  readonly bridgeAddress: string;
  readonly token: Erc20Contract;
  readonly tokenAddress: string;
  /** Validator (node) keys, in role order. */
  readonly validators: readonly DevnetAccount[];
  readonly feeRecipient: string;
  /** User accounts (not validators, not the deployer), each funded with ETH and the test token. */
  readonly users: readonly DevnetAccount[];
  close(): Promise<void>;
}

export interface DevnetChainOptions {
  /** Ganache's port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Progress lines go here (default: nowhere). */
  readonly log?: (line: string) => void;
}

/** Starts Ganache, deploys the bridge and the token, mints to the users. `close()` stops Ganache. */
export async function startDevnetChain(options: DevnetChainOptions = {}): Promise<DevnetChain> {
  const log = options.log ?? (() => {});
  const ganache = await startGanache({ port: options.port ?? 0 });
  // cacheTimeout -1: no 250 ms answer cache, so two transactions in a row never reuse a stale nonce.
  const provider = new JsonRpcProvider(ganache.url, DEVNET_CHAIN_ID, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  try {
    log(`ganache listening on ${ganache.url} (chainId ${DEVNET_CHAIN_ID})`);
    const keys = devnetPrivateKeys();
    const account = (i: number): DevnetAccount => {
      const privateKey = keys[i];
      if (privateKey === undefined) throw new Error(`devnet key ${i} missing`);
      return { address: new Wallet(privateKey).address, privateKey };
    };
    const deployer = new NonceManager(new Wallet(account(DEVNET_ROLES.deployer).privateKey, provider));
    const validators = DEVNET_ROLES.validators.map(account);
    const users: DevnetAccount[] = [];
    for (let i = DEVNET_ROLES.firstUser; i < DEVNET_ACCOUNTS; i++) users.push(account(i));

    const bridge = await deployBridge(deployer, {
      validators: validators.map((v) => v.address),
      threshold: 2n,
      escapeDelaySec: DEVNET_ESCAPE_DELAY_SEC,
    });
    const bridgeAddress = await bridge.getAddress();
    log(`DeltaBridge deployed at ${bridgeAddress} (3 validators, threshold 2)`);
    const token = await deployTestToken(deployer);
    const tokenAddress = await token.getAddress();
    const pending = [];
    for (const u of users) pending.push(await token.mint(u.address, DEVNET_TOKEN_GRANT));
    for (const tx of pending) await tx.wait();
    log(`test token deployed at ${tokenAddress}, minted to ${users.length} user accounts`);
    return {
      ganache,
      provider,
      chainId: DEVNET_CHAIN_ID,
      bridge,
      bridgeAddress,
      token,
      tokenAddress,
      validators,
      feeRecipient: account(DEVNET_ROLES.feeRecipient).address,
      users,
      close: async () => {
        // Let Ganache finish mining what it holds (a settlement chunk can take a moment): closing
        // its database under a running block made it throw "Database is not open" at exit.
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline) {
          const pool = (await provider.send("txpool_content", []).catch(() => undefined)) as { pending?: Record<string, unknown> } | undefined;
          if (pool === undefined || Object.keys(pool.pending ?? {}).length === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        provider.destroy();
        await ganache.close();
      },
    };
  } catch (error) {
    provider.destroy();
    await ganache.close();
    throw error;
  }
}
