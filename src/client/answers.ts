// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The node's answers (PROTOCOL.md §2) as typed values: decimal strings that are amounts, nonces,
 * deadlines or epochs become bigint; addresses are checked and checksummed. A node that answers
 * anything else is refused with BAD_RESPONSE rather than handed on half-parsed: a wrong balance or
 * nonce read as a number would be silently rounded, and a script would sign the wrong nonce.
 */
import {
  type Address,
  type BridgeDomain,
  checkAddress,
  checkIntDecimal,
  checkUintDecimal,
  type Hash,
  type Hex,
  MAX_UINT32,
  MAX_UINT64,
  type Settlement,
  isHash,
} from "../protocol/index.ts";
import { DeltaClientError, isRecord } from "./clientError.ts";

/** GET /v1/domain: the EIP-712 domain (usable as is by the signing helpers) plus the fee recipient. */
export interface DomainInfo extends BridgeDomain {
  readonly feeRecipient: Address;
}

/** A node's Raft role. */
export type NodeRole = "leader" | "follower" | "candidate";

/** GET /v1/status. */
export interface StatusInfo {
  readonly address: Address;
  readonly role: NodeRole;
  readonly term: number;
  readonly leader: Address | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The open epoch. */
  readonly epoch: bigint;
  readonly lastSettledEpoch: bigint;
  readonly peers: readonly { readonly address: Address; readonly rest: string }[];
}

/** GET /v1/accounts/:address. */
export interface AccountInfo {
  readonly address: Address;
  /** The next nonce to sign (shared by transfers and withdrawals). */
  readonly nonce: bigint;
  /** Available off-chain wei by checksummed token address; tokens never held are absent. */
  readonly balances: Readonly<Record<Address, bigint>>;
}

/** One accepted token's fees, wei of the token. */
export interface TokenFees {
  /** The least fee of any transfer of the token. */
  readonly minFee: bigint;
  /** Added to minFee when the recipient has never held the token. */
  readonly newAccountFee: bigint;
}

/** GET /v1/fees: the fee policy by checksummed token address. */
export interface FeesInfo {
  /** Accepted tokens; a transfer of another is refused TOKEN_NOT_ACCEPTED, unless `source` is "none". */
  readonly tokens: Readonly<Record<Address, TokenFees>>;
  /** "ledger": applied by the cluster; "config": the node's, not committed yet; "none": no policy, every token at fee 0. */
  readonly source: "ledger" | "config" | "none";
}

/** A write committed on a quorum and applied (POST /v1/transfers, /v1/withdrawals, batch items). */
export interface CommittedResult {
  readonly hash: Hash;
  readonly status: "committed";
  /** Log index of the block that holds it. */
  readonly index: number;
  readonly epoch: bigint;
}

/** One refused batch item, with the code and message the node gave. */
export interface RefusedResult {
  readonly error: { readonly code: string; readonly message: string };
  /** OUTCOME_UNKNOWN only: the transfer's hash; it may still commit (DeltaClient.waitForTransfer). */
  readonly hash?: Hash;
}

/** One item of POST /v1/transfers/batch, in the order sent; narrow with `"error" in result`. */
export type BatchItemResult = CommittedResult | RefusedResult;

/** Lifecycle of a known transfer. */
export type TransferStatus = "pending" | "committed" | "settled";

/** GET /v1/transfers/:hash. */
export interface TransferInfo {
  readonly hash: Hash;
  readonly status: TransferStatus;
  /** Null while pending. */
  readonly index: number | null;
  /** Null while pending. */
  readonly epoch: bigint | null;
  readonly from: Address;
  readonly to: Address;
  readonly token: Address;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly nonce: bigint;
  /** Unix seconds. */
  readonly deadline: bigint;
}

/** Lifecycle of an epoch. */
export type EpochStatus = "open" | "sealed" | "settled";

/** GET /v1/epochs/current and /v1/epochs/:n. */
export interface EpochInfo {
  readonly epoch: bigint;
  readonly status: EpochStatus;
  /** Transfers and withdrawals applied in it. */
  readonly transfers: number;
  /** Transfers root; null while open. */
  readonly root: Hash | null;
  /** Signed wei changes of settled balances. */
  readonly deltas: readonly { readonly account: Address; readonly token: Address; readonly delta: bigint }[];
  readonly payouts: readonly { readonly account: Address; readonly token: Address; readonly amount: bigint }[];
  readonly settlementTxs: readonly Hash[];
}

/** One chunk of GET /v1/epochs/:n/settlement: the Settlement struct and its quorum's signatures. */
export interface SettlementChunkInfo {
  /** PROTOCOL.md §3 Settlement, as hashSettlement and the bridge's `settle` take it. */
  readonly settlement: Settlement;
  /** 65-byte `r || s || v` signatures over the chunk's EIP-712 digest (0x + 130 lowercase hex), as the node ordered them. */
  readonly signatures: readonly Hex[];
}

/** GET /v1/epochs/:n/settlement: a sealed epoch's quorum-signed chunks; submit `settle(chunk.settlement, chunk.signatures)` in order. */
export interface SettlementInfo {
  readonly epoch: bigint;
  /** Every chunk of the epoch (at least one), chunk k at index k. */
  readonly chunks: readonly SettlementChunkInfo[];
}

// ---------------------------------------------------------------------------------------------
// Field readers. `where` names the request, so a BAD_RESPONSE says which answer was wrong.

function bad(where: string, field: string, reason: string): DeltaClientError {
  return new DeltaClientError("BAD_RESPONSE", `${where}: ${field} ${reason}`, { details: { request: where, field } });
}

function record(value: unknown, where: string, field: string): Record<string, unknown> {
  if (!isRecord(value)) throw bad(where, field, "is not a JSON object");
  return value;
}

function array(value: unknown, where: string, field: string): readonly unknown[] {
  if (!Array.isArray(value)) throw bad(where, field, "is not a JSON array");
  return value;
}

function string(value: unknown, where: string, field: string): string {
  if (typeof value !== "string") throw bad(where, field, "is not a string");
  return value;
}

function address(value: unknown, where: string, field: string): Address {
  const check = checkAddress(string(value, where, field));
  if (!check.ok) throw bad(where, field, check.reason);
  return check.address;
}

function uint(value: unknown, where: string, field: string, max?: bigint, maxName?: string): bigint {
  const check = checkUintDecimal(string(value, where, field), max, maxName);
  if (!check.ok) throw bad(where, field, check.reason);
  return check.value;
}

function int(value: unknown, where: string, field: string): bigint {
  const check = checkIntDecimal(string(value, where, field));
  if (!check.ok) throw bad(where, field, check.reason);
  return check.value;
}

/** A JSON number that is a non-negative safe integer (log indexes, terms, counts). */
function count(value: unknown, where: string, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw bad(where, field, "is not a non-negative integer");
  }
  return value;
}

/** Transaction hashes too; §2 says hashes are lowercase, but a node proxying a chain RPC may not lowercase them. */
function hash(value: unknown, where: string, field: string): Hash {
  const text = string(value, where, field).toLowerCase();
  if (!isHash(text)) throw bad(where, field, "is not 0x followed by 64 hex digits");
  // Checked against the 0x + 64 hex digits pattern just above.
  return text as Hash;
}

/** A transfers root as PROTOCOL.md §2 writes hashes: 0x + 64 lowercase hex digits, nothing else. */
function strictHash(value: unknown, where: string, field: string): Hash {
  const text = string(value, where, field);
  if (!isHash(text)) throw bad(where, field, "is not 0x followed by 64 lowercase hex digits");
  // Checked against the 0x + 64 lowercase hex digits pattern just above.
  return text as Hash;
}

const SIGNATURE_PATTERN = /^0x[0-9a-fA-F]{130}$/;
/** A 65-byte signature's shape only; whether it recovers to a validator is the bridge's check. */
function signature(value: unknown, where: string, field: string): Hex {
  const text = string(value, where, field);
  if (!SIGNATURE_PATTERN.test(text)) throw bad(where, field, "is not 0x followed by 130 hex digits (65 bytes r || s || v)");
  // Checked against the 0x + 130 hex digits pattern just above.
  return text.toLowerCase() as Hex;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], where: string, field: string): T {
  const text = string(value, where, field);
  const found = allowed.find((item) => item === text);
  if (found === undefined) throw bad(where, field, `is not one of ${allowed.join(", ")}`);
  return found;
}

function nullable<T>(value: unknown, read: (v: unknown, where: string, field: string) => T, where: string, field: string): T | null {
  return value === null ? null : read(value, where, field);
}

// ---------------------------------------------------------------------------------------------
// Answers.

/** Parses GET /v1/domain; throws DeltaClientError BAD_RESPONSE. */
export function parseDomainAnswer(body: unknown, where: string): DomainInfo {
  const b = record(body, where, "body");
  if (b.name !== "DeltaBridge") throw bad(where, "name", `is not "DeltaBridge"`);
  if (b.version !== "1") throw bad(where, "version", `is not "1"`);
  return {
    name: "DeltaBridge",
    version: "1",
    chainId: uint(b.chainId, where, "chainId"),
    verifyingContract: address(b.verifyingContract, where, "verifyingContract"),
    feeRecipient: address(b.feeRecipient, where, "feeRecipient"),
  };
}

const ROLES: readonly NodeRole[] = ["leader", "follower", "candidate"];

/** Parses GET /v1/status; throws DeltaClientError BAD_RESPONSE. */
export function parseStatusAnswer(body: unknown, where: string): StatusInfo {
  const b = record(body, where, "body");
  return {
    address: address(b.address, where, "address"),
    role: oneOf(b.role, ROLES, where, "role"),
    term: count(b.term, where, "term"),
    leader: nullable(b.leader, address, where, "leader"),
    commitIndex: count(b.commitIndex, where, "commitIndex"),
    appliedIndex: count(b.appliedIndex, where, "appliedIndex"),
    epoch: uint(b.epoch, where, "epoch"),
    lastSettledEpoch: uint(b.lastSettledEpoch, where, "lastSettledEpoch"),
    peers: array(b.peers, where, "peers").map((item, i) => {
      const p = record(item, where, `peers[${i}]`);
      return { address: address(p.address, where, `peers[${i}].address`), rest: string(p.rest, where, `peers[${i}].rest`) };
    }),
  };
}

/** Parses GET /v1/accounts/:address; throws DeltaClientError BAD_RESPONSE. */
export function parseAccountAnswer(body: unknown, where: string): AccountInfo {
  const b = record(body, where, "body");
  const balances: Record<Address, bigint> = {};
  // Keys are checked as addresses first, so "__proto__" and the like never become keys.
  for (const [token, amount] of Object.entries(record(b.balances, where, "balances"))) {
    balances[address(token, where, "balances key")] = uint(amount, where, `balances[${token}]`);
  }
  return { address: address(b.address, where, "address"), nonce: uint(b.nonce, where, "nonce"), balances };
}

const FEE_SOURCES: readonly FeesInfo["source"][] = ["ledger", "config", "none"];

/** Parses GET /v1/fees; throws DeltaClientError BAD_RESPONSE. */
export function parseFeesAnswer(body: unknown, where: string): FeesInfo {
  const b = record(body, where, "body");
  const tokens: Record<Address, TokenFees> = {};
  // Keys are checked as addresses first, so "__proto__" and the like never become keys.
  for (const [token, fees] of Object.entries(record(b.tokens, where, "tokens"))) {
    const f = record(fees, where, `tokens[${token}]`);
    tokens[address(token, where, "tokens key")] = { minFee: uint(f.minFee, where, `tokens[${token}].minFee`), newAccountFee: uint(f.newAccountFee, where, `tokens[${token}].newAccountFee`) };
  }
  return { tokens, source: oneOf(b.source, FEE_SOURCES, where, "source") };
}

/** Parses a committed write (`{ hash, status: "committed", index, epoch }`); throws DeltaClientError BAD_RESPONSE. */
export function parseCommittedAnswer(body: unknown, where: string, field = "body"): CommittedResult {
  const b = record(body, where, field);
  if (b.status !== "committed") throw bad(where, `${field}.status`, `is not "committed"`);
  return {
    hash: hash(b.hash, where, `${field}.hash`),
    status: "committed",
    index: count(b.index, where, `${field}.index`),
    epoch: uint(b.epoch, where, `${field}.epoch`),
  };
}

/** Parses a batch answer, checking it holds exactly `expected` results; throws DeltaClientError BAD_RESPONSE. */
export function parseBatchAnswer(body: unknown, where: string, expected: number): BatchItemResult[] {
  const results = array(record(body, where, "body").results, where, "results");
  if (results.length !== expected) throw bad(where, "results", `holds ${results.length} items for ${expected} transfers sent`);
  return results.map((item, i): BatchItemResult => {
    const field = `results[${i}]`;
    const r = record(item, where, field);
    if (r.error === undefined) return parseCommittedAnswer(r, where, field);
    const e = record(r.error, where, `${field}.error`);
    const error = { code: string(e.code, where, `${field}.error.code`), message: string(e.message, where, `${field}.error.message`) };
    return r.hash === undefined ? { error } : { error, hash: hash(r.hash, where, `${field}.hash`) };
  });
}

const TRANSFER_STATUSES: readonly TransferStatus[] = ["pending", "committed", "settled"];

/** Parses GET /v1/transfers/:hash; throws DeltaClientError BAD_RESPONSE. */
export function parseTransferAnswer(body: unknown, where: string): TransferInfo {
  const b = record(body, where, "body");
  return {
    hash: hash(b.hash, where, "hash"),
    status: oneOf(b.status, TRANSFER_STATUSES, where, "status"),
    index: nullable(b.index, count, where, "index"),
    epoch: nullable(b.epoch, uint, where, "epoch"),
    from: address(b.from, where, "from"),
    to: address(b.to, where, "to"),
    token: address(b.token, where, "token"),
    amount: uint(b.amount, where, "amount"),
    fee: uint(b.fee, where, "fee"),
    nonce: uint(b.nonce, where, "nonce"),
    deadline: uint(b.deadline, where, "deadline"),
  };
}

const EPOCH_STATUSES: readonly EpochStatus[] = ["open", "sealed", "settled"];

/** Parses GET /v1/epochs/current or /v1/epochs/:n; throws DeltaClientError BAD_RESPONSE. */
export function parseEpochAnswer(body: unknown, where: string): EpochInfo {
  const b = record(body, where, "body");
  return {
    epoch: uint(b.epoch, where, "epoch"),
    status: oneOf(b.status, EPOCH_STATUSES, where, "status"),
    transfers: count(b.transfers, where, "transfers"),
    root: nullable(b.root, hash, where, "root"),
    deltas: array(b.deltas, where, "deltas").map((item, i) => {
      const d = record(item, where, `deltas[${i}]`);
      return {
        account: address(d.account, where, `deltas[${i}].account`),
        token: address(d.token, where, `deltas[${i}].token`),
        delta: int(d.delta, where, `deltas[${i}].delta`),
      };
    }),
    payouts: array(b.payouts, where, "payouts").map((item, i) => {
      const p = record(item, where, `payouts[${i}]`);
      return {
        account: address(p.account, where, `payouts[${i}].account`),
        token: address(p.token, where, `payouts[${i}].token`),
        amount: uint(p.amount, where, `payouts[${i}].amount`),
      };
    }),
    settlementTxs: array(b.settlementTxs, where, "settlementTxs").map((tx, i) => hash(tx, where, `settlementTxs[${i}]`)),
  };
}

/** GET /v1/epochs/:n/tokens (beyond PROTOCOL.md): per token, the epoch's applied transfers and withdrawals. */
export interface EpochTokensInfo {
  readonly epoch: bigint;
  /** Tokens ascending; NATIVE_TOKEN for ETH. */
  readonly tokens: readonly { readonly token: Address; readonly transfers: number; readonly withdrawals: number }[];
}

/** Parses GET /v1/epochs/:n/tokens; throws BAD_RESPONSE. */
export function parseEpochTokensAnswer(body: unknown, where: string): EpochTokensInfo {
  const b = record(body, where, "body");
  return {
    epoch: uint(b.epoch, where, "epoch"),
    tokens: array(b.tokens, where, "tokens").map((item, i) => {
      const t = record(item, where, `tokens[${i}]`);
      return {
        token: address(t.token, where, `tokens[${i}].token`),
        transfers: count(t.transfers, where, `tokens[${i}].transfers`),
        withdrawals: count(t.withdrawals, where, `tokens[${i}].withdrawals`),
      };
    }),
  };
}

/** Parses POST /v1/admin/seal: the sealed epoch, or null when the open one was empty; throws BAD_RESPONSE. */
export function parseSealAnswer(body: unknown, where: string): bigint | null {
  return nullable(record(body, where, "body").epoch, uint, where, "epoch");
}

/**
 * Parses GET /v1/epochs/:n/settlement; throws DeltaClientError BAD_RESPONSE. Beyond each field's
 * form it checks what `settle` relies on: at least one chunk, chunk k at index k, every chunk's
 * `chunks` equal to their number and its epoch and transfers root equal to the answer's, and the
 * answer's epoch equal to `expectedEpoch` when given (the one asked for).
 */
export function parseSettlementAnswer(body: unknown, where: string, expectedEpoch?: bigint): SettlementInfo {
  const b = record(body, where, "body");
  const epoch = uint(b.epoch, where, "epoch", MAX_UINT64, "uint64 (2^64 - 1)");
  if (expectedEpoch !== undefined && epoch !== expectedEpoch) throw bad(where, "epoch", `is ${epoch}, not the epoch ${expectedEpoch} asked for`);
  const items = array(b.chunks, where, "chunks");
  if (items.length === 0) throw bad(where, "chunks", "is empty; a sealed epoch settles in at least one chunk");
  let root: Hash | undefined;
  const chunks = items.map((item, k): SettlementChunkInfo => {
    const field = `chunks[${k}]`;
    const c = record(item, where, field);
    const s = record(c.settlement, where, `${field}.settlement`);
    const at = `${field}.settlement`;
    const chunkEpoch = uint(s.epoch, where, `${at}.epoch`, MAX_UINT64, "uint64 (2^64 - 1)");
    if (chunkEpoch !== epoch) throw bad(where, `${at}.epoch`, `is ${chunkEpoch}, not the answer's epoch ${epoch}`);
    const chunk = count(s.chunk, where, `${at}.chunk`);
    if (chunk !== k) throw bad(where, `${at}.chunk`, `is ${chunk} at index ${k}; chunks must be listed in order from 0`);
    const total = count(s.chunks, where, `${at}.chunks`);
    if (total !== items.length) throw bad(where, `${at}.chunks`, `is ${total} but the answer holds ${items.length} chunks`);
    if (BigInt(total) > MAX_UINT32) throw bad(where, `${at}.chunks`, "is above the largest uint32");
    const transfersRoot = strictHash(s.transfersRoot, where, `${at}.transfersRoot`);
    if (root !== undefined && transfersRoot !== root) throw bad(where, `${at}.transfersRoot`, `differs from chunk 0's ${root}`);
    root = transfersRoot;
    const settlement: Settlement = {
      epoch,
      chunk,
      chunks: total,
      transfersRoot,
      deltas: array(s.deltas, where, `${at}.deltas`).map((d, i) => {
        const r = record(d, where, `${at}.deltas[${i}]`);
        return {
          account: address(r.account, where, `${at}.deltas[${i}].account`),
          token: address(r.token, where, `${at}.deltas[${i}].token`),
          amount: int(r.amount, where, `${at}.deltas[${i}].amount`),
        };
      }),
      payouts: array(s.payouts, where, `${at}.payouts`).map((p, i) => {
        const r = record(p, where, `${at}.payouts[${i}]`);
        return {
          account: address(r.account, where, `${at}.payouts[${i}].account`),
          token: address(r.token, where, `${at}.payouts[${i}].token`),
          amount: uint(r.amount, where, `${at}.payouts[${i}].amount`),
        };
      }),
    };
    const signatures = array(c.signatures, where, `${field}.signatures`).map((sig, i) => signature(sig, where, `${field}.signatures[${i}]`));
    return { settlement, signatures };
  });
  return { epoch, chunks };
}
