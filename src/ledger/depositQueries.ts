// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * What the deposit watcher asks the ledger: how a deposit id was decided, the lowest id not
 * decided yet (to compare with the bridge's `nextDepositId()`), and the conflicts recorded.
 */
import type { Address } from "../protocol/index.ts";
import { findDeposit, type LedgerState } from "./ledgerState.ts";

/** A decided deposit id's contents, lowercase addresses, wei. */
export interface DepositView {
  readonly depositId: bigint;
  readonly account: Address;
  readonly token: Address;
  readonly amount: bigint;
  /** False: refused for good (AMOUNT_TOO_LARGE), or, in a conflict, the other contents. */
  readonly credited: boolean;
}

/** How deposit `depositId` was decided, or undefined if it was not. */
export function getDeposit(state: LedgerState, depositId: bigint): DepositView | undefined {
  const r = findDeposit(state, depositId);
  return r === undefined ? undefined : { depositId, account: r.account, token: r.token, amount: r.amount, credited: r.credited };
}

/** The lowest deposit id not decided yet: every id below it is credited or refused for good. */
export function getFirstUndecidedDeposit(state: LedgerState): bigint {
  return state.deposits.nextId;
}

/** Ids seen again with other contents (ascending), each with those other contents. */
export function getDepositConflicts(state: LedgerState): readonly DepositView[] {
  return [...state.deposits.conflicts]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([depositId, r]) => ({ depositId, account: r.account, token: r.token, amount: r.amount, credited: r.credited }));
}
