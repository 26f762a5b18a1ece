// SPDX-License-Identifier: AGPL-3.0-or-later
import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import { DEVNET_CHAIN_ID, DEVNET_RPC_URL, devnetPrivateKeys } from "./src/devnet/keys.ts";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatEthers, hardhatNodeTestRunner, hardhatNetworkHelpers],
  solidity: {
    version: "0.8.30",
    // The npm solc's wasm build: compiling never downloads anything (TOOLCHAIN.md §1).
    path: require.resolve("solc/soljson.js"),
    settings: {
      // OZ 5.4 + paris: no MCOPY/PUSH0-era opcodes Ganache 7.9.2 cannot run (TOOLCHAIN.md §3).
      evmVersion: "paris",
      optimizer: { enabled: true, runs: 200 },
    },
  },
  paths: {
    tests: { solidity: "test/contracts", nodejs: "test" },
  },
  test: {
    solidity: {
      fuzz: { runs: 256 },
      invariant: { runs: 64, depth: 32, failOnRevert: false },
    },
  },
  networks: {
    ganache: {
      type: "http",
      chainType: "l1",
      url: process.env.DELTA_RPC_URL ?? DEVNET_RPC_URL,
      chainId: DEVNET_CHAIN_ID,
      // Hardhat signs locally with the devnet's deterministic keys: Ganache refuses the JSON-string
      // typed data that remote signing sends (TOOLCHAIN.md §3).
      accounts: devnetPrivateKeys(),
    },
  },
});
