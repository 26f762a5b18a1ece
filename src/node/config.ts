// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * A node's configuration: one zod schema, read from a JSON file with environment overrides, and
 * validated in one place. A bad config throws INVALID_CONFIG listing every bad field (the entry
 * point prints it and exits non-zero). Secrets (keys, admin token) are never echoed.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { DeltaError } from "../errors.ts";

const hex32 = z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/, "must be 32 bytes of hex");
const addressHex = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address");
const port = z.int().min(0).max(65_535);
/** A fee in a token's wei: an unsigned decimal string up to 2^256-1 (a transfer's fee is a uint256). */
const feeWei = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, "must be a decimal string of wei")
  .refine((s) => BigInt(s) < 1n << 256n, "must be at most 2^256-1");
/**
 * The fee policy (docs/operations.md "Fees"): per accepted token address, minFee and newAccountFee
 * in its wei. Each token once, whatever its case. Every member should carry the same (docs/node.md).
 */
/** At most this many tokens in `fees`: a feePolicy log entry holds at most 10,000 (src/node/entryCodec.ts). */
const MAX_FEE_TOKENS = 10_000;
const FeesSchema = z
  .record(addressHex, z.strictObject({ minFee: feeWei, newAccountFee: feeWei }))
  .refine((fees) => Object.keys(fees).length <= MAX_FEE_TOKENS, `lists more than ${MAX_FEE_TOKENS} tokens, more than one feePolicy log entry holds`)
  .refine((fees) => new Set(Object.keys(fees).map((t) => t.toLowerCase())).size === Object.keys(fees).length, "lists one token twice (in two cases)");

export const MemberSchema = z.strictObject({
  /** Transport identity public key (64 hex digits). */
  id: z.string().regex(/^[0-9a-f]{64}$/, "must be the 64-hex transport public key"),
  host: z.string().min(1),
  port,
  /** Compressed secp256k1 Mokka public key, 66 hex digits. */
  mokkaPublicKey: z.string().regex(/^0[23][0-9a-f]{64}$/, "must be a compressed secp256k1 public key"),
  /** REST base URL, e.g. http://127.0.0.1:7001 */
  rest: z.url(),
  /** The member's validator address (the node's public address). */
  address: addressHex,
});

/** The transport listens on this node's own entry of `members` (its host and port). */
export const ConfigSchema = z.strictObject({
  /** Listen address of the REST API; loopback unless configured. */
  host: z.string().default("127.0.0.1"),
  restPort: port,
  dataDir: z.string().min(1),
  clusterId: z.string().min(1),
  /** Ed25519 seed of the transport identity (hex). */
  identitySeed: hex32,
  mokkaPrivateKey: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits"),
  /** The validator key (signs settlements); never used for Mokka or the transport. */
  validatorPrivateKey: hex32,
  members: z.array(MemberSchema).min(3).max(5),
  adminToken: z.string().min(16, "must be at least 16 characters"),
  feeRecipient: addressHex,
  /**
   * The fee policy the leader puts in the log (PROTOCOL.md §2 `GET /v1/fees`); absent: no policy,
   * every token transferable at any fee. Tokens not listed cannot be transferred, only withdrawn.
   */
  fees: FeesSchema.optional(),
  /**
   * The consensus transport. It accepts sockets only from the members' hosts; a member whose
   * connections come from another address (NAT, a container bridge, a node listening on 0.0.0.0)
   * is let in by listing that address here (docs/consensus.md "Who may connect").
   */
  transport: z.strictObject({ extraAllowedAddresses: z.array(z.union([z.ipv4(), z.ipv6()])).max(64).default([]) }).default({ extraAllowedAddresses: [] }),
  chain: z.strictObject({
    rpcUrl: z.url(),
    chainId: z.int().positive(),
    bridge: addressHex,
    /** Confirmations a landed settlement waits for before the leader marks its epoch settled, counting its own block. */
    confirmations: z.int().min(1).max(10_000).default(1),
    /**
     * When a deposit is credited (docs/operations.md "Deposits and finality"): "finalized" (the
     * default) credits up to the chain's `finalized` block; `{ confirmations: N }` once the deposit's
     * block has N confirmations, its own counted, for chains without a finalized tag and the devnet.
     */
    finality: z.union([z.literal("finalized"), z.strictObject({ confirmations: z.int().min(1).max(100_000) })]).default("finalized"),
    pollMs: z.int().min(10).default(500),
    /** First block to scan for deposits (the bridge's deployment block). */
    fromBlock: z.int().min(0).default(0),
  }),
  /**
   * How long a write waits for its verdict, across leader changes, before it is answered 504
   * OUTCOME_UNKNOWN (PROTOCOL.md §2 says 30 s; tests shorten it).
   */
  answerBoundMs: z.int().min(1_000).max(600_000).default(30_000),
  /**
   * The REST server's bounds (docs/api.md "Bounded work"): open connections and requests in
   * progress per client address (an IPv6 client by its /64), and its timeouts. The request
   * timeout bounds receiving a request, not waiting for its answer (that is answerBoundMs).
   */
  http: z
    .strictObject({
      maxConnectionsPerAddress: z.int().min(1).max(100_000).default(64),
      maxRequestsPerAddress: z.int().min(1).max(100_000).default(32),
      headersTimeoutMs: z.int().min(100).max(600_000).default(10_000),
      requestTimeoutMs: z.int().min(100).max(600_000).default(30_000),
      keepAliveTimeoutMs: z.int().min(100).max(600_000).default(5_000),
    })
    .refine((http) => http.headersTimeoutMs <= http.requestTimeoutMs, { message: "headersTimeoutMs must not exceed requestTimeoutMs", path: ["headersTimeoutMs"] })
    .default({ maxConnectionsPerAddress: 64, maxRequestsPerAddress: 32, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 }),
  block: z
    .strictObject({ intervalMs: z.int().min(1).default(5), maxMessages: z.int().min(1).max(10_000).default(2_000) })
    .default({ intervalMs: 5, maxMessages: 2_000 }),
  /**
   * The leader's mempool and admission (docs/node.md "Admission"): messages and bytes it holds at
   * most (the lowest fees are pushed out first), how far past its next nonce one account may queue.
   */
  mempool: z
    .strictObject({
      maxMessages: z.int().min(1).max(10_000_000).default(200_000),
      maxBytes: z.int().min(1_024).default(128 * 1024 * 1024),
      maxNonceAhead: z.int().min(1).max(1_000_000).default(10_000),
    })
    .default({ maxMessages: 200_000, maxBytes: 128 * 1024 * 1024, maxNonceAhead: 10_000 }),
  /**
   * The leader seals the open epoch once it is this old or holds this many messages (never an
   * empty one); 0 turns that trigger off. `POST /v1/admin/seal` seals at any time.
   */
  epoch: z
    .strictObject({ intervalMs: z.int().min(0).default(30_000), maxMessages: z.int().min(0).default(10_000) })
    .default({ intervalMs: 30_000, maxMessages: 10_000 }),
  settlement: z
    .strictObject({
      /**
       * Items (deltas plus payouts) per settlement chunk, at most. Each epoch's plan lowers it, and
       * caps the distinct tokens per chunk, so that the gas model's bound of a chunk fits 80% of the
       * chain's block gas limit (src/chain/settlementGas.ts, measured on Ganache): 911 items for a
       * one-token epoch on a 30M-gas chain, fewer when a chunk holds many tokens.
       */
      maxItemsPerChunk: z.int().min(2).max(10_000).default(1_000),
      /** The leader submits the signed chunks itself; false leaves that to scripts/settle.ts or anyone. */
      autoSubmit: z.boolean().default(true),
      /** Pays the settlement gas; defaults to the validator key (its address needs ETH). */
      submitterPrivateKey: hex32.optional(),
      /** How often the leader looks at the chain and its sealed epochs. */
      pollMs: z.int().min(20).default(1_000),
      /** A settlement transaction not mined in this time is sent again with a 25% higher gas price. */
      replaceAfterMs: z.int().min(100).default(30_000),
      /** Replacements never raise the gas price above this (gwei); a transaction at the cap just waits. */
      maxGasPriceGwei: z.int().min(1).default(500),
      /** Pause before sending each chunk; 0 in production (tests open a window with it). */
      chunkDelayMs: z.int().min(0).default(0),
    })
    .default({ maxItemsPerChunk: 1_000, autoSubmit: true, pollMs: 1_000, replaceAfterMs: 30_000, maxGasPriceGwei: 500, chunkDelayMs: 0 }),
});

export type Config = Readonly<z.output<typeof ConfigSchema>>;

/** One accepted token of the configured fee policy, in wei (the shape of a feePolicy log entry's tokens). */
export interface ConfiguredFee {
  /** Lowercase. */
  readonly token: `0x${string}`;
  readonly minFee: bigint;
  readonly newAccountFee: bigint;
}

/** The config's fee policy as the ledger holds one, tokens ascending (lowercase); null when `fees` is absent. */
export function configuredFees(config: Pick<Config, "fees">): readonly ConfiguredFee[] | null {
  if (config.fees === undefined) return null;
  return Object.entries(config.fees)
    .map(([token, f]) => ({ token: token.toLowerCase() as `0x${string}`, minFee: BigInt(f.minFee), newAccountFee: BigInt(f.newAccountFee) })) // checked 0x address
    .sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
}
export type Member = z.output<typeof MemberSchema>;

/** Environment variables that override config fields (strings parsed as the field expects). */
const ENV_OVERRIDES: Record<string, (raw: Record<string, unknown>, v: string) => void> = {
  DELTA_REST_PORT: (raw, v) => (raw["restPort"] = Number(v)),
  DELTA_HOST: (raw, v) => (raw["host"] = v),
  DELTA_DATA_DIR: (raw, v) => (raw["dataDir"] = v),
  DELTA_ADMIN_TOKEN: (raw, v) => (raw["adminToken"] = v),
  DELTA_ANSWER_BOUND_MS: (raw, v) => (raw["answerBoundMs"] = Number(v)),
};

/** Validates `raw`; throws INVALID_CONFIG listing every bad field. */
export function parseConfig(raw: unknown): Config {
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new DeltaError("INVALID_CONFIG", `invalid config:\n  ${problems.join("\n  ")}`, { details: { problems } });
  }
  return Object.freeze(r.data);
}

/** Reads the JSON file at `path`, applies DELTA_* environment overrides, validates. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new DeltaError("INVALID_CONFIG", `cannot read config ${path}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new DeltaError("INVALID_CONFIG", `config ${path} must be a JSON object`);
  const obj = { ...(raw as Record<string, unknown>) }; // a JSON object: plain own properties
  for (const [name, apply] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v !== undefined) apply(obj, v);
  }
  return parseConfig(obj);
}
