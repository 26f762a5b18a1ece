// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The devnet's well-known keys. Ganache's `--wallet.deterministic` derives its accounts from this
 * public mnemonic, so these keys are public knowledge: never fund them on a real chain.
 */
import { HDNodeWallet, Mnemonic } from "ethers";

/** Ganache's deterministic-wallet mnemonic (public, devnet only). */
export const DEVNET_MNEMONIC = "myth like bonus scare over problem client lizard pioneer submit female collect";
/** The devnet chain id (PROTOCOL.md §5). */
export const DEVNET_CHAIN_ID = 1337;
/** The devnet RPC URL (PROTOCOL.md §5). */
export const DEVNET_RPC_URL = "http://127.0.0.1:8545";
/** Accounts Ganache creates and funds on the devnet: deployer, 3 validators, fee recipient, users. */
export const DEVNET_ACCOUNTS = 20;

/** Roles of the devnet's deterministic accounts, by index. */
export const DEVNET_ROLES = {
  deployer: 0,
  validators: [1, 2, 3],
  feeRecipient: 4,
  firstUser: 5,
} as const;

let cached: string[] | undefined;

/** The first `DEVNET_ACCOUNTS` private keys of the devnet mnemonic (m/44'/60'/0'/0/i), 0x-hex. */
export function devnetPrivateKeys(): string[] {
  if (cached === undefined) {
    const mnemonic = Mnemonic.fromPhrase(DEVNET_MNEMONIC);
    cached = [];
    for (let i = 0; i < DEVNET_ACCOUNTS; i++) {
      cached.push(HDNodeWallet.fromMnemonic(mnemonic, `m/44'/60'/0'/0/${i}`).privateKey);
    }
  }
  return [...cached];
}
