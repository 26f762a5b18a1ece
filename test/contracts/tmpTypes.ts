// SPDX-License-Identifier: AGPL-3.0-or-later
// TEMPORARY until src/protocol lands.
export const SETTLEMENT_TYPES = {
  Settlement: [
    { name: "epoch", type: "uint64" }, { name: "chunk", type: "uint32" }, { name: "chunks", type: "uint32" },
    { name: "transfersRoot", type: "bytes32" }, { name: "deltas", type: "Delta[]" }, { name: "payouts", type: "Payout[]" },
  ],
  Delta: [{ name: "account", type: "address" }, { name: "token", type: "address" }, { name: "amount", type: "int256" }],
  Payout: [{ name: "account", type: "address" }, { name: "token", type: "address" }, { name: "amount", type: "uint256" }],
};
export const ROTATION_TYPES = {
  Rotation: [{ name: "validators", type: "address[]" }, { name: "threshold", type: "uint256" }, { name: "nonce", type: "uint64" }],
};
