// SPDX-License-Identifier: AGPL-3.0-or-later
/** Arguments of DeltaBridge's `settle(Settlement, bytes[])` as ethers takes them. */
import type { Settlement } from "../protocol/index.ts";

/** The ABI tuple of a Settlement (PROTOCOL.md §3): (epoch, chunk, chunks, transfersRoot, Delta[], Payout[]). */
export function settlementTuple(s: Settlement): unknown[] {
  return [s.epoch, s.chunk, s.chunks, s.transfersRoot, s.deltas.map((d) => [d.account, d.token, d.amount]), s.payouts.map((p) => [p.account, p.token, p.amount])];
}
