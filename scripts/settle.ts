// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * `npx hardhat run scripts/settle.ts --network ganache`, with the devnet up (`npm start`): seals
 * the open epoch through the admin endpoint, fetches every sealed epoch's quorum-signed settlement
 * that is not on-chain yet, submits the chunks the bridge still expects with Hardhat's signer,
 * waits for the receipts, and prints what it settled with the gas the same payments would have
 * cost one by one on-chain. Nothing to settle: it says so and exits 0.
 *
 * The cluster's leader submits settlements too (settlement.autoSubmit): both read the bridge's
 * `lastEpoch()`/`nextChunk()` before each chunk, so a chunk is never skipped, and one that the
 * other side landed first is simply passed over.
 *
 * Inputs: `.devnet/devnet.json` (written by `npm start`), or DELTA_DEVNET_FILE naming another
 * file; DELTA_NODES (comma-separated REST URLs) and DELTA_ADMIN_TOKEN override the file's.
 * The bridge is the one the nodes name in GET /v1/domain.
 *
 * It exits once its report is printed, however it is started (issue 14): the Hardhat connection
 * is closed in a finally and its RPC requests time out after a minute (scripts/hardhatNetwork.ts,
 * scripts/scriptExit.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import type { NetworkConnection } from "hardhat/types/network";
import { Interface, type InterfaceAbi, type Provider } from "ethers";
import { asDeltaBridge, loadArtifact, SettlementSubmitter, type SignedSettlement } from "../src/chain/index.ts";
import { DeltaClient, DeltaClientError, NATIVE_TOKEN, type DomainInfo, type SettlementInfo } from "../src/client/index.ts";
import { closeNetwork, openNetwork } from "./hardhatNetwork.ts";
import { exitWhenIdle } from "./scriptExit.ts";

/** Gas of a plain ETH transfer. */
const ETH_TRANSFER_GAS = 21_000n;
/** Settlement transactions not mined in this time are sent again at +25% gas price, up to the cap. */
const REPLACE_AFTER_MS = 15_000;
const MAX_GAS_PRICE_GWEI = 500;
/** How long one epoch may take to land before the script gives up. */
const EPOCH_TIMEOUT_MS = 120_000;
/** How long to wait for the validators' signatures of a sealed epoch. */
const SIGNATURES_TIMEOUT_MS = 60_000;

/** A failure the user can act on: printed as one line, exit code 1, no stack trace. */
class UserError extends Error {}

function say(line: string): void {
  process.stdout.write(`[settle] ${line}\n`);
}

function gas(n: bigint): string {
  return n.toLocaleString("en-US");
}

interface Inputs {
  readonly nodes: readonly string[];
  readonly adminToken: string;
  /** Funded accounts of the devnet file (to measure a token transfer's gas). */
  readonly accounts: readonly string[];
}

function readInputs(): Inputs {
  const path = process.env["DELTA_DEVNET_FILE"] ?? ".devnet/devnet.json";
  let file: { nodes?: { rest?: unknown }[]; adminToken?: unknown; accounts?: { address?: unknown }[] } = {};
  if (existsSync(path)) {
    try {
      file = JSON.parse(readFileSync(path, "utf8")) as typeof file; // fields checked below
    } catch (error) {
      throw new UserError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else if (process.env["DELTA_NODES"] === undefined) {
    throw new UserError(`${path} not found: the devnet is not running (start it with \`npm start\`), or set DELTA_NODES and DELTA_ADMIN_TOKEN`);
  }
  const nodes = process.env["DELTA_NODES"]?.split(",").map((s) => s.trim()).filter((s) => s !== "") ?? (file.nodes ?? []).map((n) => String(n.rest));
  const adminToken = process.env["DELTA_ADMIN_TOKEN"] ?? (typeof file.adminToken === "string" ? file.adminToken : "");
  if (nodes.length === 0) throw new UserError(`no node URLs: ${path} lists none and DELTA_NODES is not set`);
  if (adminToken === "") throw new UserError(`no admin token: ${path} has none and DELTA_ADMIN_TOKEN is not set`);
  const accounts = (file.accounts ?? []).map((a) => String(a.address)).filter((a) => /^0x[0-9a-fA-F]{40}$/.test(a));
  return { nodes, adminToken, accounts };
}

/** Gas of one transfer of `token` between two accounts that already hold it, measured by eth_estimateGas. */
async function tokenTransferGas(provider: Provider, token: string, holders: readonly string[]): Promise<bigint | undefined> {
  const erc20 = new Interface(["function transfer(address to, uint256 amount) returns (bool)"]);
  for (let i = 0; i + 1 < holders.length; i++) {
    try {
      return await provider.estimateGas({ from: holders[i], to: token, data: erc20.encodeFunctionData("transfer", [holders[i + 1], 1n]) });
    } catch {
      // this holder has none of the token; try the next
    }
  }
  return undefined;
}

async function main(): Promise<void> {
  const inputs = readInputs();
  const client = new DeltaClient({ baseUrls: inputs.nodes, retry: { attempts: 3 }, timeoutMs: 30_000 });
  let domain: DomainInfo;
  try {
    domain = await client.domain();
  } catch (error) {
    throw new UserError(`no node answers at ${inputs.nodes.join(", ")}: is the devnet running (\`npm start\`)? (${error instanceof Error ? error.message : String(error)})`);
  }
  const connection = await openNetwork();
  try {
    await settleOn(connection.ethers);
  } finally {
    // Even after a failure: no socket of Hardhat's pool outlives the work, and a request still in
    // flight cannot keep the process alive until its timeout (scripts/scriptExit.ts).
    await closeNetwork(connection, "settle");
  }

  async function settleOn(ethers: NetworkConnection["ethers"]): Promise<void> {
    const [signer] = await ethers.getSigners();
    if (signer === undefined) throw new UserError("the selected Hardhat network has no accounts to sign with");
    const payer = signer;
    const chainId = (await ethers.provider.getNetwork()).chainId;
    if (chainId !== domain.chainId) throw new UserError(`the nodes settle on chain ${domain.chainId} but this network is chain ${chainId}: pick the right --network`);
    if ((await ethers.provider.getCode(domain.verifyingContract)) === "0x") {
      throw new UserError(`no DeltaBridge at ${domain.verifyingContract} on this network: a stale devnet or the wrong --network`);
    }
    const abi = loadArtifact("DeltaBridge").abi as InterfaceAbi;
    const bridge = asDeltaBridge(new ethers.Contract(domain.verifyingContract, abi, signer));
    const bridgeInterface = new Interface(abi);

    let sealed: bigint | null;
    try {
      sealed = await client.seal(inputs.adminToken);
    } catch (error) {
      if (error instanceof DeltaClientError && error.status === 401) throw new UserError("the nodes refused the admin token (401): check DELTA_ADMIN_TOKEN or .devnet/devnet.json");
      throw error;
    }
    say(sealed === null ? "the open epoch holds nothing; nothing new to seal" : `sealed epoch ${sealed}`);
    // The node that answers may not have applied the seal yet: the sealed epoch counts in any case.
    const status = await client.status();
    const lastSealed = sealed !== null && sealed > status.epoch - 1n ? sealed : status.epoch - 1n;
    const onChain = (await bridge.lastEpoch()) as bigint;
    if (onChain >= lastSealed) {
      say(lastSealed === 0n ? "nothing to settle: no epoch was ever sealed" : `nothing to settle: every sealed epoch is on-chain (the last is ${onChain})`);
      return;
    }
    for (let epoch = onChain + 1n; epoch <= lastSealed; epoch++) await settleEpoch(epoch);

    async function settleEpoch(epoch: bigint): Promise<void> {
      const info = await signedSettlement(epoch);
      const chunks = info.chunks.length;
      say(`epoch ${epoch}: ${chunks} chunk${chunks === 1 ? "" : "s"} signed by ${info.chunks[0]?.signatures.length ?? 0} validators`);
      const signed: SignedSettlement = { epoch, settlements: info.chunks.map((c) => c.settlement), signatures: info.chunks.map((c) => c.signatures) };
      // The same submitter as the cluster's leader (src/chain/settlementSubmitter.ts): the chain's
      // lastEpoch()/nextChunk() decide which chunk goes next, whoever landed the others.
      const sent = new Map<number, string>();
      const submitter = new SettlementSubmitter({
        provider: ethers.provider,
        signer: payer,
        bridge: domain.verifyingContract,
        replaceAfterMs: REPLACE_AFTER_MS,
        maxGasPriceGwei: MAX_GAS_PRICE_GWEI,
        logger: {
          info: (fields, message) => {
            if (message === "settlement chunk sent" && typeof fields["tx"] === "string") sent.set(Number(fields["chunk"]), fields["tx"]);
          },
          warn: (fields, message) => {
            // A replacement (same nonce, higher price): its hash is the one that may land.
            if (typeof fields["tx"] === "string") sent.set(Number(fields["chunk"]), fields["tx"]);
            say(`  ${message} (${JSON.stringify(fields)})`);
          },
        },
      });
      const giveUpAt = Date.now() + EPOCH_TIMEOUT_MS;
      let failures = 0;
      for (;;) {
        const last = await submitter.read("lastEpoch");
        if (last >= epoch) break;
        if (last !== epoch - 1n) throw new UserError(`the bridge is at epoch ${last}, so epoch ${epoch} cannot land yet`);
        const k = Number(await submitter.read("nextChunk"));
        if (k >= chunks) throw new UserError(`the bridge expects chunk ${k} of epoch ${epoch}, which has only ${chunks}`);
        if (Date.now() > giveUpAt) throw new UserError(`epoch ${epoch} did not land within ${EPOCH_TIMEOUT_MS / 1000} s (chunk ${k + 1}/${chunks} is next)`);
        let progressed: boolean;
        try {
          progressed = await submitter.step(signed, k);
          failures = 0;
        } catch (error) {
          // Most often the cluster's leader landed this chunk first (the estimate then refuses
          // ours); the chain is read again. Three refusals in a row with no progress: give up.
          if (Number(await submitter.read("nextChunk")) > k || (await submitter.read("lastEpoch")) >= epoch) {
            say(`  chunk ${k + 1}/${chunks} was landed by the cluster first`);
            continue;
          }
          if (++failures >= 3) throw new UserError(`chunk ${k + 1}/${chunks} of epoch ${epoch} was refused: ${describe(error, bridgeInterface)}`);
          say(`  chunk ${k + 1}/${chunks} failed (${describe(error, bridgeInterface)}); trying again`);
          progressed = false;
        }
        if (!progressed) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // The chunks this script sent (a replacement's hash last), as they landed.
      for (const [k, tx] of [...sent].sort((x, y) => x[0] - y[0])) {
        const receipt = await ethers.provider.getTransactionReceipt(tx);
        if (receipt !== null && receipt.status === 1) say(`  chunk ${k + 1}/${chunks} landed in block ${receipt.blockNumber} (tx ${tx}, ${gas(receipt.gasUsed)} gas)`);
        else say(`  chunk ${k + 1}/${chunks}: our transaction ${tx} did not land (the cluster's did)`);
      }
      await report(epoch, chunks, sent.size);
    }

    /** The epoch's signed settlement; waits while the validators' signatures are being gathered. */
    async function signedSettlement(epoch: bigint): Promise<SettlementInfo> {
      const deadline = Date.now() + SIGNATURES_TIMEOUT_MS;
      let told = false;
      for (;;) {
        try {
          return await client.settlement(epoch);
        } catch (error) {
          // WRONG_STATE: signatures still being gathered. EPOCH_OPEN: the node that answered has not
          // applied the seal yet (a follower a moment behind the leader).
          const waiting = error instanceof DeltaClientError && (error.serverCode === "WRONG_STATE" || error.serverCode === "EPOCH_OPEN");
          if (!waiting || Date.now() > deadline) throw error;
          if (!told) say(`epoch ${epoch}: waiting for the validators' signatures`);
          told = true;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    }

    async function report(epoch: bigint, chunks: number, ours: number): Promise<void> {
      const view = await client.epoch(epoch);
      const tokens = await client.epochTokens(epoch);
      const settledEvents = await bridge.queryFilter(bridge.filters["Settled"]!(epoch));
      let used = 0n;
      for (const event of settledEvents) used += (await ethers.provider.getTransactionReceipt(event.transactionHash))?.gasUsed ?? 0n;
      let oneByOne = 0n;
      const parts: string[] = [];
      let transfers = 0;
      let withdrawals = 0;
      for (const t of tokens?.tokens ?? []) {
        transfers += t.transfers;
        withdrawals += t.withdrawals;
        if (t.transfers === 0) continue;
        const each = t.token === NATIVE_TOKEN ? ETH_TRANSFER_GAS : await tokenTransferGas(ethers.provider, t.token, inputs.accounts);
        if (each === undefined) {
          parts.push(`${t.transfers} × ? (${t.token}: no holder to measure with)`);
          continue;
        }
        oneByOne += BigInt(t.transfers) * each;
        parts.push(`${t.transfers} × ${gas(each)} (${t.token === NATIVE_TOKEN ? "ETH" : t.token})`);
      }
      say(`epoch ${epoch} settled (${ours} of ${chunks} chunks sent by this script, the rest by the cluster)`);
      const rows: [string, string][] = [
        ["epoch", epoch.toString()],
        ["transfers", transfers.toString()],
        ["withdrawals", withdrawals.toString()],
        ["deltas", String(view?.deltas.length ?? "?")],
        ["payouts", String(view?.payouts.length ?? "?")],
        ["chunks", chunks.toString()],
        ["gas used", gas(used)],
        ["one by one", parts.length === 0 ? "0 (no transfers)" : `${parts.join(" + ")} = ${gas(oneByOne)}`],
        ["saving", saving(used, oneByOne)],
      ];
      for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(12)} ${v}\n`);
    }
  }
}

/** How the settlement's gas compares with the same transfers one by one. */
function saving(used: bigint, oneByOne: bigint): string {
  if (used === 0n || oneByOne === 0n) return "n/a";
  const ratio = (Number((oneByOne * 100n) / used) / 100).toFixed(2);
  if (oneByOne > used) return `${ratio}× less gas than one by one (${gas(oneByOne - used)} gas saved)`;
  return `none: ${ratio}× (one by one would cost ${gas(used - oneByOne)} gas less; a settlement's fixed cost pays off with more transfers)`;
}

/** A revert as its custom error with arguments, when the bridge's ABI knows it. */
function describe(error: unknown, iface: Interface): string {
  const e = error as { data?: unknown; shortMessage?: unknown; message?: unknown } | null;
  const data = typeof e?.data === "string" ? e.data : undefined;
  if (data !== undefined) {
    const parsed = iface.parseError(data);
    if (parsed !== null) return `${parsed.name}(${parsed.args.map(String).join(", ")})`;
  }
  return typeof e?.shortMessage === "string" ? e.shortMessage : error instanceof Error ? error.message : String(error);
}

try {
  await main();
} catch (error) {
  // One line: an ethers error's short message, not its request dump.
  const e = error as { shortMessage?: unknown } | null;
  const message = typeof e?.shortMessage === "string" ? e.shortMessage : error instanceof Error ? error.message : String(error);
  process.stderr.write(`[settle] error: ${message.split("\n")[0]}\n`);
  process.exitCode = 1;
}
// Everything is closed by now; this only ends what a dependency might still hold (scriptExit.ts).
exitWhenIdle("settle");
