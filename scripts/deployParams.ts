// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The environment of `scripts/deploy.ts`, parsed and checked before anything is sent: every check
 * the DeltaBridge constructor makes (`_installValidators`: non-empty set, no zero or duplicate
 * address, threshold more than half and at most the set's size) is made here first, so a doomed
 * deployment costs nothing. Pure apart from reading the values it is given.
 */
import { getAddress, ZeroAddress } from "ethers";
import { DeltaError } from "../src/errors.ts";

/** Chain ids treated as a devnet: Ganache's (the project's devnet) and Hardhat's simulated chain. */
export const DEVNET_CHAIN_IDS: readonly bigint[] = [1337n, 31337n];
/** Default escape delay on any network: 7 days. The devnet's own 86,400 s stays in src/devnet. */
export const DEFAULT_ESCAPE_DELAY_SEC = 604_800n;
/** Test tokens minted to each DELTA_MINT_TO account: one million, 18 decimals (as the devnet's grant). */
export const TOKEN_GRANT = 1_000_000n * 10n ** 18n;
/** Largest accepted escape delay: keeps `lastSettledAt + escapeDelay` far from overflow and the JSON output exact. */
export const MAX_ESCAPE_DELAY_SEC = BigInt(Number.MAX_SAFE_INTEGER);

/** Whether to deploy the test token: by chain id (`auto`, unset), always (`1`) or never (`0`). */
export type TokenMode = "auto" | "force" | "skip";

export interface DeployParams {
  /** Checksummed validator addresses, in the order given. */
  readonly validators: readonly string[];
  readonly threshold: bigint;
  readonly escapeDelaySec: bigint;
  readonly token: TokenMode;
  /** Checksummed addresses to mint TOKEN_GRANT to. */
  readonly mintTo: readonly string[];
  /** DELTA_DEPLOY_OUT as given (relative to the working directory), if set. */
  readonly outPath: string | undefined;
}

function invalid(message: string): DeltaError {
  return new DeltaError("INVALID_CONFIG", message);
}

/** The variable's value, trimmed; undefined when unset or blank. */
function value(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

/**
 * A comma-separated list of distinct, non-zero addresses, checksummed. Refuses with the variable,
 * the entry's position (1-based) and its text: not 0x + 40 hex digits, a wrong mixed-case
 * checksum, the zero address, or the same address twice (in any letter case).
 */
export function parseAddressList(name: string, text: string): string[] {
  const entries = text.split(",").map((e) => e.trim());
  const out: string[] = [];
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    const where = `${name} entry ${i + 1} of ${entries.length}`;
    if (entry === "") throw invalid(`${where} is empty (stray comma?)`);
    if (!/^0x[0-9a-fA-F]{40}$/.test(entry)) throw invalid(`${where} "${entry}" is not an address (0x and 40 hex digits)`);
    let address: string;
    try {
      address = getAddress(entry);
    } catch {
      throw invalid(`${where} "${entry}" has a wrong checksum (mixed case that does not match EIP-55)`);
    }
    if (address === ZeroAddress) throw invalid(`${where} is the zero address`);
    const first = seen.get(address);
    if (first !== undefined) throw invalid(`${where} ${address} duplicates entry ${first}`);
    seen.set(address, i + 1);
    out.push(address);
  });
  return out;
}

/** A whole decimal number (digits only), or a refusal naming the variable. */
function parseWhole(name: string, text: string, what: string): bigint {
  if (!/^[0-9]+$/.test(text)) throw invalid(`${name} must be ${what}, got "${text}"`);
  return BigInt(text);
}

/** The smallest majority of `n` validators: floor(n / 2) + 1. */
export function smallestMajority(n: number): bigint {
  return BigInt(Math.floor(n / 2) + 1);
}

/** Parses and checks the deploy script's environment; throws INVALID_CONFIG with a one-line message. */
export function parseDeployEnv(env: Readonly<Record<string, string | undefined>>): DeployParams {
  const validatorsText = value(env, "DELTA_VALIDATORS");
  if (validatorsText === undefined) {
    throw invalid("DELTA_VALIDATORS is required: the validators' addresses, comma-separated");
  }
  const validators = parseAddressList("DELTA_VALIDATORS", validatorsText);
  const n = validators.length;

  const thresholdText = value(env, "DELTA_THRESHOLD");
  const threshold =
    thresholdText === undefined ? smallestMajority(n) : parseWhole("DELTA_THRESHOLD", thresholdText, "a whole number");
  const range = `${smallestMajority(n)} to ${n}`;
  if (threshold * 2n <= BigInt(n)) {
    throw invalid(`DELTA_THRESHOLD ${threshold} is not more than half of the ${n} validators (allowed: ${range})`);
  }
  if (threshold > BigInt(n)) {
    throw invalid(`DELTA_THRESHOLD ${threshold} exceeds the ${n} validators (allowed: ${range})`);
  }

  const delayText = value(env, "DELTA_ESCAPE_DELAY");
  const escapeDelaySec =
    delayText === undefined
      ? DEFAULT_ESCAPE_DELAY_SEC
      : parseWhole("DELTA_ESCAPE_DELAY", delayText, "a positive whole number of seconds");
  if (escapeDelaySec === 0n) throw invalid(`DELTA_ESCAPE_DELAY must be a positive whole number of seconds, got "${delayText}"`);
  if (escapeDelaySec > MAX_ESCAPE_DELAY_SEC) {
    throw invalid(`DELTA_ESCAPE_DELAY ${escapeDelaySec} is too large (at most ${MAX_ESCAPE_DELAY_SEC} seconds)`);
  }

  const tokenText = value(env, "DELTA_DEPLOY_TOKEN");
  let token: TokenMode;
  if (tokenText === undefined) token = "auto";
  else if (tokenText === "1") token = "force";
  else if (tokenText === "0") token = "skip";
  else throw invalid(`DELTA_DEPLOY_TOKEN must be 1 (deploy the test token) or 0 (skip it), got "${tokenText}"`);

  const mintText = value(env, "DELTA_MINT_TO");
  const mintTo = mintText === undefined ? [] : parseAddressList("DELTA_MINT_TO", mintText);

  return { validators, threshold, escapeDelaySec, token, mintTo, outPath: value(env, "DELTA_DEPLOY_OUT") };
}

export function isDevnetChain(chainId: bigint): boolean {
  return DEVNET_CHAIN_IDS.includes(chainId);
}

/**
 * Whether the test token is deployed on `chainId`: DELTA_DEPLOY_TOKEN=1/0 decides, unset means
 * devnets only. Refuses DELTA_MINT_TO off a devnet or when the token is skipped.
 */
export function planToken(params: DeployParams, chainId: bigint): boolean {
  const devnet = isDevnetChain(chainId);
  const deploy = params.token === "force" || (params.token === "auto" && devnet);
  if (params.mintTo.length > 0) {
    if (!devnet) {
      throw invalid(`DELTA_MINT_TO is for devnets only (chainId ${DEVNET_CHAIN_IDS.join(" or ")}); this chain is ${chainId}`);
    }
    if (!deploy) throw invalid("DELTA_MINT_TO is set but DELTA_DEPLOY_TOKEN=0 skips the token");
  }
  return deploy;
}
