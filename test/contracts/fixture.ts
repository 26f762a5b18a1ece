// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Shared set-up for the DeltaBridge flow tests: a fresh simulated chain per call, validators as
 * plain ethers wallets (so tests control exactly who signs what), and helpers that sign
 * settlements and rotations the way the cluster will.
 */
import assert from "node:assert/strict";
import { network } from "hardhat";
import { Wallet, hexlify, randomBytes, type BaseContract, type Signer, TypedDataEncoder } from "ethers";
import { asDeltaBridge, asErc20, connectAs, type DeltaBridgeContract } from "../../src/chain/index.ts";
import { TYPES } from "../../src/protocol/index.ts";

const SETTLEMENT_TYPES = TYPES.Settlement;
const ROTATION_TYPES = TYPES.Rotation;

export interface DeltaInput {
  account: string;
  token: string;
  amount: bigint;
}
export interface PayoutInput {
  account: string;
  token: string;
  amount: bigint;
}
export interface SettlementInput {
  epoch: bigint;
  chunk: number;
  chunks: number;
  transfersRoot: string;
  deltas: DeltaInput[];
  payouts: PayoutInput[];
}

export const ETH = "0x0000000000000000000000000000000000000000";
export const ZERO_ROOT = "0x" + "00".repeat(32);
export const ROOT_A = "0x" + "aa".repeat(32);

/** A wallet with a random key (cheaper than Wallet.createRandom, which derives a mnemonic). */
export function randomWallet(): Wallet {
  return new Wallet(hexlify(randomBytes(32)));
}

/** Validators sorted ascending by address, as the bridge wants their signatures. */
export function makeValidators(n: number): Wallet[] {
  const wallets: Wallet[] = [];
  for (let i = 0; i < n; i++) wallets.push(randomWallet());
  return sortByAddress(wallets);
}

export function sortByAddress<T extends { address: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
}

export async function deployBridge(opts: { validators?: number; threshold?: number; escapeDelay?: bigint } = {}) {
  const connection = await network.create();
  const { ethers } = connection;
  const signers = await ethers.getSigners();
  const validators = makeValidators(opts.validators ?? 3);
  const threshold = opts.threshold ?? 2;
  const escapeDelay = opts.escapeDelay ?? 86_400n;
  const bridge = asDeltaBridge(
    await ethers.deployContract("DeltaBridge", [validators.map((v) => v.address), threshold, escapeDelay]),
  );
  await bridge.waitForDeployment();
  const token = asErc20(await ethers.deployContract("TestToken", ["Test Token", "TST"]));
  await token.waitForDeployment();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const domain = { name: "DeltaBridge", version: "1", chainId, verifyingContract: await bridge.getAddress() };
  return { connection, ethers, signers, validators, threshold, escapeDelay, bridge, token, chainId, domain };
}

export type Domain = { name: string; version: string; chainId: bigint; verifyingContract: string };

export function settlementDigest(domain: Domain, s: SettlementInput): string {
  return TypedDataEncoder.hash(domain, SETTLEMENT_TYPES, s);
}

/** Signatures of `signers` (any order given; sorted ascending unless `keepOrder`). */
export function signSettlement(domain: Domain, s: SettlementInput, signers: Wallet[], keepOrder = false): string[] {
  const digest = settlementDigest(domain, s);
  const ordered = keepOrder ? signers : sortByAddress(signers);
  return ordered.map((w) => w.signingKey.sign(digest).serialized);
}

export function signRotation(
  domain: Domain,
  r: { validators: string[]; threshold: bigint; nonce: bigint },
  signers: Wallet[],
): string[] {
  const digest = TypedDataEncoder.hash(domain, ROTATION_TYPES, r);
  return sortByAddress(signers).map((w) => w.signingKey.sign(digest).serialized);
}

/** The same signature with s replaced by n - s and v flipped: valid for ecrecover, refused as high-s. */
export function highSTwin(signature: string): string {
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const hex = signature.slice(2);
  const r = hex.slice(0, 64);
  const s = BigInt("0x" + hex.slice(64, 128));
  const v = parseInt(hex.slice(128, 130), 16);
  const twinS = (N - s).toString(16).padStart(64, "0");
  const twinV = (v === 27 ? 28 : 27).toString(16);
  return "0x" + r + twinS + twinV;
}

/**
 * Awaits `promise` and asserts it reverted with the custom error `name` (and `args` when given),
 * decoded with `contract`'s ABI. Works on EDR (decoded revert) and Ganache (raw data only).
 */
export async function expectRevert(
  promise: Promise<unknown>,
  contract: BaseContract,
  name: string,
  args?: unknown[],
): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `expected revert ${name}, but the call succeeded`);
  const data = findRevertData(error);
  assert.ok(data !== undefined, `expected revert ${name}, got an error without revert data: ${String(error)}`);
  const parsed = contract.interface.parseError(data);
  assert.ok(parsed !== null, `expected revert ${name}, got undecodable data ${data}`);
  assert.equal(parsed.name, name);
  if (args !== undefined) {
    assert.deepEqual(
      parsed.args.toArray().map((a: unknown) => (typeof a === "string" ? a.toLowerCase() : a)),
      args.map((a) => (typeof a === "string" ? a.toLowerCase() : a)),
    );
  }
}

function findRevertData(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const stack: unknown[] = [error];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const rec = e as Record<string, unknown>; // walking an unknown error object's own fields
    for (const key of ["data", "result"]) {
      const v = rec[key];
      if (typeof v === "string" && /^0x[0-9a-fA-F]{8}/.test(v)) return v;
    }
    for (const key of ["data", "error", "info", "cause", "revert"]) stack.push(rec[key]);
  }
  return undefined;
}

/** Deposits `amount` ETH from `signer`. */
export async function depositEth(bridge: DeltaBridgeContract, signer: Signer, amount: bigint): Promise<void> {
  await (await asSigner(bridge, signer).deposit({ value: amount })).wait();
}

/** `contract` connected to `signer`; connect() keeps the ABI, so the typed shape still holds. */
export function asSigner<T extends BaseContract>(contract: T, signer: Signer): T {
  return connectAs(contract, signer);
}
