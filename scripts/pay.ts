// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npm run pay` (node scripts/pay.ts), with the devnet up (`npm start`): one off-chain payment end
 * to end, the example the devnet's banner offers and a template to copy. Reads .devnet/devnet.json
 * (DELTA_DEVNET_FILE names another), asks the nodes for the fee (GET /v1/fees and the payee's
 * account: minFee, plus newAccountFee for a payee that never held ETH here) and prints it, deposits
 * ETH on the bridge when the payer's off-chain balance is short of amount + fee and waits until the
 * nodes credit it, signs a Transfer (PROTOCOL.md §1) with that fee and the domain the nodes
 * announce, POSTs it (§2) through the typed client (src/client/) and prints the answer.
 *
 * Options: --from <i>, --to <j> pick accounts[i] and accounts[j] of the devnet file (0 and 1);
 * --amount <ETH> (0.001); --help. Any failure: a line saying what to do on stderr, exit code 1.
 * It exits once it has printed the answer, however it is started (issue 14; scripts/scriptExit.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Contract, formatEther, getAddress, parseEther, Wallet } from "ethers";
import { chainProvider } from "../src/chain/provider.ts";
import {
  type Address,
  type CommittedResult,
  DeltaClient,
  DeltaClientError,
  type DomainInfo,
  NATIVE_TOKEN,
  signTransfer,
  type TransferQuote,
} from "../src/client/index.ts";
import { exitWhenIdle } from "./scriptExit.ts";

/** Where `npm start` writes it, whatever the current directory. */
const DEFAULT_FILE = fileURLToPath(new URL("../.devnet/devnet.json", import.meta.url));
/** The nodes credit a deposit after 1 confirmation on the devnet (§5); this is only a failure bound. */
const CREDIT_TIMEOUT_MS = 30_000;
/** Validity of the signed transfer: ample for a devnet, short enough that a stray copy soon expires. */
const DEADLINE_SEC = 600n;
const USAGE = "usage: npm run pay -- [--from <i>] [--to <j>] [--amount <ETH>]   (accounts[i] pays accounts[j] of the devnet file; defaults 0, 1, 0.001)";

/** A failure the user can act on: printed as one line, exit code 1. */
class UserError extends Error {}

interface DevnetAccount {
  readonly address: string;
  readonly privateKey: string;
}

/** The parts of PROTOCOL.md §5's devnet file this script uses. */
interface DevnetFile {
  readonly chainId: number;
  readonly rpcUrl: string;
  readonly bridge: string;
  readonly rests: readonly string[];
  readonly accounts: readonly DevnetAccount[];
}

/** The command line, unchecked against the devnet file yet. */
interface Options {
  readonly from: string;
  readonly to: string;
  readonly amount: string;
  readonly help: boolean;
}

interface Payment {
  readonly payer: DevnetAccount;
  readonly payee: DevnetAccount;
  readonly amount: bigint;
  /** Set once quoted (quoteFee): what the transfer pays the fee recipient. */
  readonly fee: bigint;
}

function say(line: string): void {
  process.stdout.write(`[pay] ${line}\n`);
}

function isAccount(value: unknown): value is DevnetAccount {
  const a = value as { address?: unknown; privateKey?: unknown } | null;
  return typeof a?.address === "string" && typeof a.privateKey === "string";
}

/** Reads and checks the devnet file; a missing one means the devnet is not running (it is removed on stop). */
function readDevnetFile(path: string): DevnetFile {
  if (!existsSync(path)) {
    throw new UserError(`${path} not found: the devnet is not running. Start it with \`npm start\` in the repository and wait for "devnet is up"`);
  }
  let raw: { chainId?: unknown; rpcUrl?: unknown; bridge?: unknown; nodes?: unknown; accounts?: unknown };
  try {
    raw = JSON.parse(readFileSync(path, "utf8")) as typeof raw; // fields checked below
  } catch (error) {
    throw new UserError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const rests = Array.isArray(raw.nodes) ? raw.nodes.map((n: { rest?: unknown } | null) => n?.rest).filter((r) => typeof r === "string") : [];
  const accounts = Array.isArray(raw.accounts) ? raw.accounts.filter(isAccount) : [];
  if (typeof raw.chainId !== "number" || typeof raw.rpcUrl !== "string" || typeof raw.bridge !== "string" || rests.length === 0 || accounts.length < 2) {
    throw new UserError(`${path} is not a devnet file (PROTOCOL.md §5): it needs chainId, rpcUrl, bridge, nodes[].rest and two accounts or more`);
  }
  return { chainId: raw.chainId, rpcUrl: raw.rpcUrl, bridge: raw.bridge, rests, accounts };
}

/** An index into the devnet file's accounts, from a command-line option. */
function accountAt(file: DevnetFile, option: string, text: string): DevnetAccount {
  const account = /^\d+$/.test(text) ? file.accounts[Number(text)] : undefined;
  if (account === undefined) throw new UserError(`--${option} ${text} is not an index of the devnet file's ${file.accounts.length} accounts (0 to ${file.accounts.length - 1})`);
  return account;
}

function readOptions(): Options {
  try {
    const { values } = parseArgs({
      options: { from: { type: "string", default: "0" }, to: { type: "string", default: "1" }, amount: { type: "string", default: "0.001" }, help: { type: "boolean", default: false } },
    });
    return values;
  } catch (error) {
    throw new UserError(`${error instanceof Error ? error.message : String(error)}; ${USAGE}`);
  }
}

function paymentOf(file: DevnetFile, options: Options): Payment {
  const payer = accountAt(file, "from", options.from);
  const payee = accountAt(file, "to", options.to);
  if (payer === payee) throw new UserError("--from and --to name the same account; the nodes refuse a transfer to oneself");
  let amount: bigint;
  try {
    amount = parseEther(options.amount);
  } catch {
    throw new UserError(`--amount ${options.amount} is not an amount of ETH (e.g. 0.25)`);
  }
  if (amount <= 0n) throw new UserError("--amount must be more than 0");
  return { payer, payee, amount, fee: 0n };
}

/** The domain the nodes sign with; refuses a devnet file that names another bridge (a stale file). */
async function nodesDomain(client: DeltaClient, file: DevnetFile): Promise<DomainInfo> {
  let domain: DomainInfo;
  try {
    domain = await client.domain();
  } catch (error) {
    if (error instanceof DeltaClientError && error.code === "NODE_UNREACHABLE") {
      throw new UserError(`no node answers at ${file.rests.join(", ")}: the devnet has stopped or the file is stale; start it with \`npm start\``);
    }
    throw error;
  }
  if (domain.verifyingContract !== getAddress(file.bridge)) {
    throw new UserError(`the nodes serve bridge ${domain.verifyingContract}, the devnet file names ${file.bridge}: the file is stale; restart the devnet`);
  }
  return domain;
}

/** The payer's available off-chain ETH. */
async function offChainEth(client: DeltaClient, address: string): Promise<bigint> {
  const balances: Readonly<Record<Address, bigint>> = (await client.account(address)).balances;
  return balances[NATIVE_TOKEN] ?? 0n;
}

/** The least fee the nodes take for this payment now (PROTOCOL.md §2 GET /v1/fees), printed before anything is signed. */
async function quoteFee(client: DeltaClient, payment: Payment): Promise<Payment> {
  const quote: TransferQuote = await client.quoteTransfer({ from: payment.payer.address, to: payment.payee.address, token: NATIVE_TOKEN, amount: payment.amount });
  const why = quote.newAccount && quote.fee > quote.minFee ? `minFee ${formatEther(quote.minFee)} + newAccountFee (the payee never held ETH here)` : "minFee";
  say(`fee: ${formatEther(quote.fee)} ETH (${why}; GET /v1/fees)`);
  return { ...payment, fee: quote.fee };
}

/** Deposits what the payer lacks on the bridge (Ganache) and waits until the nodes credit it. */
async function depositIfShort(client: DeltaClient, file: DevnetFile, payment: Payment): Promise<void> {
  const need = payment.amount + payment.fee;
  const have = await offChainEth(client, payment.payer.address);
  if (have >= need) return;
  const shortfall = need - have;
  say(`${payment.payer.address} holds ${formatEther(have)} ETH off-chain: depositing ${formatEther(shortfall)} ETH on the bridge ${file.bridge}`);
  // Requests time out after RPC_TIMEOUT_MS, not ethers' 300 s: a Ganache that never answers fails
  // the deposit instead of holding the script (scripts/scriptExit.ts).
  const provider = chainProvider(file.rpcUrl, file.chainId, { pollingInterval: 100 });
  try {
    const bridge = new Contract(file.bridge, ["function deposit() payable"], new Wallet(payment.payer.privateKey, provider));
    const receipt = await (await bridge.getFunction("deposit")({ value: shortfall })).wait();
    say(`deposit mined (tx ${receipt?.hash}); waiting for the nodes to credit it`);
  } catch (error) {
    const e = error as { shortMessage?: unknown } | null;
    throw new UserError(`the deposit on ${file.rpcUrl} failed: ${typeof e?.shortMessage === "string" ? e.shortMessage : String(error)}`);
  } finally {
    provider.destroy();
  }
  const deadline = Date.now() + CREDIT_TIMEOUT_MS;
  while ((await offChainEth(client, payment.payer.address)) < need) {
    if (Date.now() > deadline) throw new UserError(`the nodes did not credit the deposit within ${CREDIT_TIMEOUT_MS / 1000} s; see .devnet/nodes/node*.log`);
    await delay(100);
  }
}

/** Signs the Transfer with the payer's key and POSTs it; resolves once it is committed on a quorum. */
async function pay(client: DeltaClient, domain: DomainInfo, payment: Payment): Promise<CommittedResult> {
  const signed = await signTransfer(new Wallet(payment.payer.privateKey), domain, {
    to: payment.payee.address,
    token: NATIVE_TOKEN,
    amount: payment.amount,
    fee: payment.fee,
    nonce: await client.nextNonce(payment.payer.address),
    deadline: BigInt(Math.floor(Date.now() / 1000)) + DEADLINE_SEC,
  });
  say(`POST /v1/transfers: ${formatEther(payment.amount)} ETH from ${signed.from} to ${signed.to}, fee ${formatEther(signed.fee)} ETH, nonce ${signed.nonce}`);
  return client.submitTransfer(signed);
}

async function main(): Promise<void> {
  const options = readOptions();
  if (options.help) return say(USAGE);
  const file = readDevnetFile(process.env["DELTA_DEVNET_FILE"] ?? DEFAULT_FILE);
  const asked = paymentOf(file, options);
  const client = new DeltaClient({ baseUrls: file.rests });
  const domain = await nodesDomain(client, file);
  const payment = await quoteFee(client, asked);
  await depositIfShort(client, file, payment);
  const result = await pay(client, domain, payment);
  // The node's answer as it came over the wire (§2): the epoch is a decimal string.
  process.stdout.write(JSON.stringify({ ...result, epoch: result.epoch.toString() }) + "\n");
  say(`committed; look it up on any node: curl -s ${file.rests[0]}/v1/transfers/${result.hash}`);
}

/** One line for any failure; a node's refusal keeps its HTTP status and PROTOCOL.md error code. */
function describe(error: unknown): string {
  if (error instanceof DeltaClientError) {
    const refusal = error.status === undefined ? error.code : `HTTP ${error.status} ${error.serverCode ?? error.code}`;
    return `${refusal}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`[pay] error: ${describe(error)}\n`);
  process.exitCode = 1;
}
// The provider is destroyed and the client holds no connection; this only ends what a dependency
// might still hold (scriptExit.ts).
exitWhenIdle("pay");
