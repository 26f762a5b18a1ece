// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The fee policy (PROTOCOL.md §2 `GET /v1/fees`): per accepted token, the least fee a transfer
 * pays (`minFee`) and what it adds when its recipient has never held the token
 * (`newAccountFee`). The policy is ledger state, set by `feePolicy` log entries, so every replica
 * judges a transfer by the same policy and a replay of the log reaches the same state whatever the
 * operators' configs say later (docs/ledger.md "Fees").
 *
 * "Never held the token": the recipient has no holding record of it in the ledger. A holding is
 * created by the first deposit of the token to the account or the first transfer of it to the
 * account, and is never removed (a balance that falls to 0 keeps its record). That is the
 * account/token pair's first delta on the bridge: a new storage slot of `balanceOf`, about 20,000
 * gas more than a delta to a pair the bridge already holds, which is what `newAccountFee` pays.
 *
 * A ledger that has never applied a policy (`feePolicy` null) accepts every token at any fee, so
 * logs written before fees existed replay unchanged.
 */
import type { Address } from "../protocol/index.ts";
import type { FeePolicyEntry, FeePolicyToken } from "./entry.ts";
import { isAddressKey, toKey, type FeeRule, type LedgerState } from "./ledgerState.ts";

/** The largest fee a policy may ask: a transfer's fee is a uint256 (PROTOCOL.md §1). */
export const MAX_POLICY_FEE = (1n << 256n) - 1n;

/** Why a transfer breaks the fee policy: its token is not accepted, or its fee is below the least it must pay. */
export interface FeeRefusal {
  readonly code: "TOKEN_NOT_ACCEPTED" | "FEE_TOO_LOW";
  /** For a person: what the policy asks. */
  readonly reason: string;
}

/** The fields of a transfer the fee policy looks at (any address case). */
export interface FeeCheckedTransfer {
  readonly to: string;
  readonly token: string;
  readonly fee: bigint;
}

/** One token's rule as the policy holds it (lowercase token). */
export interface FeePolicyView {
  readonly token: Address;
  readonly minFee: bigint;
  readonly newAccountFee: bigint;
}

/** True when `account` (any case) has no holding record of `token` (any case): see the file's comment. */
export function hasNeverHeld(state: LedgerState, account: string, token: string): boolean {
  return state.accounts.get(toKey(account))?.holdings.has(toKey(token)) !== true;
}

/**
 * The fee policy's verdict on a transfer against the ledger as it stands, or null when the
 * policy lets it through (or no policy is applied). Pure; the ledger gives the same verdict when
 * it applies the transfer, after the nonce, deadline and duplicate checks (docs/ledger.md), so an
 * intake that calls it refuses at once what the ledger would refuse later, unless a policy entry
 * or a first credit of the recipient commits in between.
 */
export function feeRefusal(state: LedgerState, transfer: FeeCheckedTransfer): FeeRefusal | null {
  const policy = state.feePolicy;
  if (policy === null) return null;
  const rule = policy.get(toKey(transfer.token));
  if (rule === undefined) {
    return {
      code: "TOKEN_NOT_ACCEPTED",
      reason: `token ${transfer.token} is not in the cluster's fee policy (GET /v1/fees): it cannot be transferred here, only withdrawn`,
    };
  }
  const fresh = rule.newAccountFee > 0n && hasNeverHeld(state, transfer.to, transfer.token);
  const required = fresh ? rule.minFee + rule.newAccountFee : rule.minFee;
  if (transfer.fee >= required) return null;
  return {
    code: "FEE_TOO_LOW",
    reason: fresh
      ? `fee ${transfer.fee} is below ${required}: minFee ${rule.minFee} plus newAccountFee ${rule.newAccountFee}, since the recipient has never held this token (GET /v1/fees)`
      : `fee ${transfer.fee} is below the token's minFee ${rule.minFee} (GET /v1/fees)`,
  };
}

/**
 * Why a policy entry cannot be applied, or null when it can: every token a 0x address of 40 hex
 * digits, listed once (whatever its case), every fee from 0 to 2^256-1.
 */
export function checkFeePolicyEntry(entry: FeePolicyEntry): string | null {
  if (entry.tokens === null) return null;
  const seen = new Set<string>();
  for (const t of entry.tokens) {
    const key = toKey(t.token);
    if (!isAddressKey(key)) return `token ${String(t.token).slice(0, 60)} must be 0x and 40 hex digits`;
    if (seen.has(key)) return `token ${key} is listed twice`;
    seen.add(key);
    for (const fee of [t.minFee, t.newAccountFee]) {
      if (fee < 0n || fee > MAX_POLICY_FEE) return `the fees of token ${key} must be from 0 to 2^256-1`;
    }
  }
  return null;
}

/** The policy of a checked entry, keyed by lowercase token; null for "no policy". */
export function policyOfEntry(tokens: readonly FeePolicyToken[] | null): ReadonlyMap<Address, FeeRule> | null {
  if (tokens === null) return null;
  const policy = new Map<Address, FeeRule>();
  for (const t of tokens) policy.set(toKey(t.token), Object.freeze({ minFee: t.minFee, newAccountFee: t.newAccountFee }));
  return policy;
}

/** The applied policy, tokens ascending (lowercase); null when none was ever applied (every token at any fee). */
export function getFeePolicy(state: LedgerState): readonly FeePolicyView[] | null {
  const policy = state.feePolicy;
  if (policy === null) return null;
  return [...policy]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([token, rule]) => ({ token, minFee: rule.minFee, newAccountFee: rule.newAccountFee }));
}

/**
 * True when the applied policy is exactly `tokens` (null: no policy), whatever the order and
 * address case of `tokens`. Cheap (a lookup per token): the leader asks before each block.
 */
export function isFeePolicy(state: LedgerState, tokens: readonly FeePolicyToken[] | null): boolean {
  const policy = state.feePolicy;
  if (policy === null || tokens === null) return policy === null && tokens === null;
  if (policy.size !== tokens.length) return false;
  for (const t of tokens) {
    const rule = policy.get(toKey(t.token));
    if (rule === undefined || rule.minFee !== t.minFee || rule.newAccountFee !== t.newAccountFee) return false;
  }
  return true;
}
