// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue 15, "Zero-fee dust makes the operator pay", on the real devnet pieces (Ganache with the
 * bridge, three node processes): a cluster whose config asks minFee 1,000 and newAccountFee 5,000
 * (wei) for the test token, nothing for ETH, and does not list a second ERC-20 (the junk token).
 * 1. GET /v1/fees on every node answers that policy, applied by the ledger;
 * 2. a transfer below minFee, and a 1-wei transfer at fee 0 to a fresh address (the dust that made
 *    the operator pay a new storage slot per message), are refused 422 FEE_TOO_LOW and change
 *    nothing: nonce, balances, state hash, and nothing enters the log (the commit index);
 * 3. to a fresh address, minFee alone is FEE_TOO_LOW; minFee + newAccountFee commits and the fee
 *    recipient gains it; the next transfer to that address pays minFee only;
 * 4. a transfer of the deposited junk token is refused 422 TOKEN_NOT_ACCEPTED, its withdrawal commits;
 * 5. after the leader is killed (SIGKILL), the new leader enforces the same policy.
 * Before the fix every one of these transfers committed at any fee.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs, deployTestToken, type Erc20Contract } from "../../../src/chain/index.ts";
import { fastSignTransfer, fastSignWithdrawal } from "../../../src/client/index.ts";
import { startDevnetChain, type DevnetChain } from "../../../src/devnet/chain.ts";
import { nodeOptionsFor, startDevnetNodes, type DevnetNodes } from "../../../src/devnet/nodes.ts";
import { checksumAddress, encodeTransferRequest, encodeWithdrawalRequest, NATIVE_TOKEN, type Address, type BridgeDomain } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, post, TEST_ADMIN_TOKEN, type Json } from "./devnetFixture.ts";

const MIN_FEE = 1_000n;
const NEW_ACCOUNT_FEE = 5_000n;
const DEPOSIT = 10n ** 18n;
const deadline = (): bigint => BigInt(Math.floor(Date.now() / 1000) + 3_600);

async function stateOf(rest: string): Promise<{ stateHash: string; depositCursor: number }> {
  const r = await fetch(`${rest}/v1/admin/state`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return (await r.json()) as { stateHash: string; depositCursor: number }; // the StateView body
}

async function balancesOf(rest: string, account: string): Promise<Record<string, string>> {
  return (await getJson(`${rest}/v1/accounts/${account}`))["balances"] as Record<string, string>; // AccountView.balances
}

async function leaderOf(rests: readonly string[]): Promise<string> {
  return pollUntil("one leader every live node names", 20_000, async () => {
    const all = await Promise.all(rests.map((r) => getJson(`${r}/v1/status`)));
    const leading = all.map((s, i) => (s["role"] === "leader" ? rests[i] : undefined)).filter((r) => r !== undefined);
    const named = all.find((s) => s["role"] === "leader")?.["address"];
    return leading.length === 1 && all.every((s) => s["leader"] === named) ? leading[0] : undefined;
  });
}

function codeOf(answer: { status: number; body: Json }): string {
  const error = answer.body["error"] as { code?: string } | undefined;
  return `${answer.status} ${error?.code ?? String(answer.body["status"])}`;
}

describe("fees that cover settlement (issue 15)", { timeout: 300_000 }, () => {
  let dir = "";
  let chain: DevnetChain;
  let cluster: DevnetNodes;
  let rests: string[] = [];
  let domain: BridgeDomain;
  let junk: Erc20Contract;
  let junkAddress: Address;
  let token: Address;
  let alice: Wallet;
  let feeRecipient = "";
  let nonce = 0n;
  const fresh = (): Address => checksumAddress(Wallet.createRandom().address) as Address;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "delta-fees-"));
    chain = await startDevnetChain();
    alice = new Wallet(chain.users[0]!.privateKey, chain.provider);
    token = checksumAddress(chain.tokenAddress) as Address;
    feeRecipient = chain.feeRecipient;
    // A second ERC-20, deposited like any other but left out of the fee policy.
    junk = await deployTestToken(alice, "Junk", "JNK");
    junkAddress = checksumAddress(await junk.getAddress()) as Address;
    await (await connectAs(junk, alice).mint(alice.address, DEPOSIT)).wait();
    try {
      cluster = await startDevnetNodes({
        dir,
        ...nodeOptionsFor(chain),
        adminToken: TEST_ADMIN_TOKEN,
        epoch: { intervalMs: 0, maxMessages: 0 },
        fees: { [token]: { minFee: MIN_FEE, newAccountFee: NEW_ACCOUNT_FEE }, [NATIVE_TOKEN]: { minFee: 0n, newAccountFee: 0n } },
      });
    } catch (error) {
      await chain.close();
      throw error;
    }
    rests = cluster.nodes.map((n) => n.rest);
    const d = await getJson(`${rests[0]}/v1/domain`);
    domain = { name: "DeltaBridge", version: "1", chainId: BigInt(String(d["chainId"])), verifyingContract: String(d["verifyingContract"]) as Address };
    for (const t of [chain.token, junk]) {
      await (await connectAs(t, alice).approve(chain.bridgeAddress, DEPOSIT)).wait();
      await (await connectAs(chain.bridge, alice).depositToken(await t.getAddress(), DEPOSIT)).wait();
    }
    for (const rest of rests) {
      await pollUntil(`both deposits credited on ${rest}`, 30_000, async () => {
        const b = await balancesOf(rest, alice.address);
        return b[token] === DEPOSIT.toString() && b[junkAddress] === DEPOSIT.toString() ? true : undefined;
      });
    }
  });

  after(async () => {
    await cluster?.stop();
    await chain?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  async function transfer(rest: string, to: Address, amount: bigint, fee: bigint, via: Address = token): Promise<{ status: number; body: Json }> {
    const signed = fastSignTransfer(alice.privateKey, domain, { from: alice.address, to, token: via, amount, fee, nonce, deadline: deadline() });
    const answer = await post(`${rest}/v1/transfers`, encodeTransferRequest(signed));
    if (answer.status === 200) nonce++;
    return answer;
  }

  it("serves the configured policy on every node, applied by the ledger", async () => {
    const expected = {
      tokens: { [NATIVE_TOKEN]: { minFee: "0", newAccountFee: "0" }, [token]: { minFee: MIN_FEE.toString(), newAccountFee: NEW_ACCOUNT_FEE.toString() } },
      source: "ledger",
    };
    for (const rest of rests) {
      const fees = await pollUntil(`the policy applied on ${rest}`, 20_000, async () => {
        const f = await getJson(`${rest}/v1/fees`);
        return f["source"] === "ledger" ? f : undefined;
      });
      assert.deepEqual(fees, expected);
    }
  });

  it("refuses a fee below the policy 422 FEE_TOO_LOW at once: nonce, balances, state and log unchanged", async () => {
    const leader = await leaderOf(rests);
    const bob = checksumAddress(chain.users[1]!.address) as Address;
    // Bob gets his first token at the full price, so that below he is a recipient that holds it.
    assert.equal(codeOf(await transfer(leader, bob, 1n, MIN_FEE + NEW_ACCOUNT_FEE)), "200 committed");
    // The deposit cursor entry that follows the deposits is in the log: nothing else moves it now.
    const blockNumber = await chain.provider.getBlockNumber();
    await pollUntil("the deposit cursor shared past the last block", 20_000, async () => ((await stateOf(leader)).depositCursor > blockNumber ? true : undefined));
    const before = {
      state: await stateOf(leader),
      commitIndex: (await getJson(`${leader}/v1/status`))["commitIndex"],
      account: await getJson(`${leader}/v1/accounts/${alice.address}`),
      fees: await balancesOf(leader, feeRecipient),
    };
    for (const rest of rests) {
      // Below minFee to a holder; and the dust of the finding: 1 wei at fee 0 to a fresh address.
      assert.equal(codeOf(await transfer(rest, bob, 1n, MIN_FEE - 1n)), "422 FEE_TOO_LOW", rest);
      assert.equal(codeOf(await transfer(rest, fresh(), 1n, 0n)), "422 FEE_TOO_LOW", rest);
    }
    assert.deepEqual(await getJson(`${leader}/v1/accounts/${alice.address}`), before.account);
    assert.deepEqual(await balancesOf(leader, feeRecipient), before.fees);
    assert.equal((await stateOf(leader)).stateHash, before.state.stateHash);
    assert.equal((await getJson(`${leader}/v1/status`))["commitIndex"], before.commitIndex, "a refused transfer entered the log");
  });

  it("asks minFee + newAccountFee of a recipient that never held the token, once; the fee recipient gains what is paid", async () => {
    const leader = await leaderOf(rests);
    const carol = fresh();
    const paidBefore = BigInt((await balancesOf(leader, feeRecipient))[token] ?? "0");
    const refused = await transfer(rests[1]!, carol, 1n, MIN_FEE);
    assert.equal(codeOf(refused), "422 FEE_TOO_LOW");
    assert.match(String((refused.body["error"] as Json)["message"]), /newAccountFee/);
    assert.equal(codeOf(await transfer(rests[1]!, carol, 1n, MIN_FEE + NEW_ACCOUNT_FEE)), "200 committed");
    assert.equal(codeOf(await transfer(rests[2]!, carol, 1n, MIN_FEE)), "200 committed");
    for (const rest of rests) {
      await pollUntil(`both fees credited on ${rest}`, 10_000, async () => {
        const paid = BigInt((await balancesOf(rest, feeRecipient))[token] ?? "0");
        return paid === paidBefore + 2n * MIN_FEE + NEW_ACCOUNT_FEE ? true : undefined;
      });
      assert.equal((await balancesOf(rest, carol))[token], "2");
    }
  });

  it("refuses a transfer of a token the policy does not list 422 TOKEN_NOT_ACCEPTED; its withdrawal commits", async () => {
    const bob = checksumAddress(chain.users[1]!.address) as Address;
    for (const rest of rests) assert.equal(codeOf(await transfer(rest, bob, 1n, 10n ** 17n, junkAddress)), "422 TOKEN_NOT_ACCEPTED", rest);
    assert.equal((await balancesOf(rests[0]!, alice.address))[junkAddress], DEPOSIT.toString());
    // Half of it: Alice still holds junk below, so only the policy can refuse its transfer.
    const w = fastSignWithdrawal(alice.privateKey, domain, { account: alice.address, token: junkAddress, amount: DEPOSIT / 2n, nonce, deadline: deadline() });
    const answer = await post(`${rests[2]}/v1/withdrawals`, encodeWithdrawalRequest(w));
    assert.equal(codeOf(answer), "200 committed");
    nonce++;
    assert.equal((await balancesOf(rests[2]!, alice.address))[junkAddress], (DEPOSIT / 2n).toString());
  });

  it("after the leader is killed, the new leader enforces the same policy", async () => {
    const old = await leaderOf(rests);
    const i = rests.indexOf(old);
    cluster.nodes[i]!.process.kill("SIGKILL");
    const live = rests.filter((r) => r !== old);
    const leader = await pollUntil("a new leader", 30_000, async () => {
      const l = await leaderOf(live).catch(() => undefined);
      return l !== undefined && l !== old ? l : undefined;
    });
    const dave = fresh();
    for (const rest of live) {
      assert.equal(codeOf(await transfer(rest, dave, 1n, MIN_FEE)), "422 FEE_TOO_LOW", rest);
      assert.equal(codeOf(await transfer(rest, dave, 1n, 0n, junkAddress)), "422 TOKEN_NOT_ACCEPTED", rest);
    }
    assert.equal(codeOf(await transfer(leader, dave, 1n, MIN_FEE + NEW_ACCOUNT_FEE)), "200 committed");
    assert.equal((await getJson(`${leader}/v1/fees`))["source"], "ledger");
  });
});
