// SPDX-License-Identifier: AGPL-3.0-or-later
/** A valid node config (as JSON) for config tests: the unit tests of parseConfig and the bad-config process test. */

/** Member `i` of a 3-member cluster, with well-shaped keys and ports. */
export const member = (i: number) => ({
  id: i.toString(16).padStart(64, "0"),
  host: "127.0.0.1",
  port: 7100 + i,
  mokkaPublicKey: `02${i.toString(16).padStart(64, "0")}`,
  rest: `http://127.0.0.1:${7000 + i}`,
  address: `0x${i.toString(16).padStart(40, "0")}`,
});

/** A config parseConfig accepts, with its data in `dataDir`. */
export function goodConfig(dataDir: string) {
  return {
    restPort: 7001,
    dataDir,
    clusterId: "c",
    identitySeed: "11".repeat(32),
    mokkaPrivateKey: "22".repeat(32),
    validatorPrivateKey: "33".repeat(32),
    members: [member(1), member(2), member(3)],
    adminToken: "0123456789abcdef",
    feeRecipient: `0x${"44".repeat(20)}`,
    chain: { rpcUrl: "http://127.0.0.1:8545", chainId: 1337, bridge: `0x${"55".repeat(20)}` },
  };
}
