// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Settlement as a user sees it, on the real devnet pieces (Ganache with the bridge, three node
 * processes), through the public API and the contract only: Alice, Bob and Mike deposit ETH and
 * the test token, make the talk's four transfers (plus token transfers with a fee in the same
 * epoch); the epoch seals by itself and settles by itself; on-chain balances move by exactly
 * -8, +3, +5; the proofs verify against the on-chain root with OpenZeppelin MerkleProof; Alice
 * withdraws off-chain, the next epoch settles, and she claims ETH and tokens on-chain. Then the
 * escape hatch: the cluster stops, time passes the escape delay on Ganache, anyone freezes the
 * bridge, and every user leaves with their last settled balance plus what was withdrawable.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ContractFactory, recoverAddress, Wallet, type InterfaceAbi } from "ethers";
import { connectAs, loadArtifact, withMethods } from "../../../src/chain/index.ts";
import { DeltaClient, fastSignTransfer, fastSignWithdrawal, type DomainInfo, type SignedTransfer } from "../../../src/client/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import { hashSettlement, NATIVE_TOKEN } from "../../../src/protocol/index.ts";
import { devnetPrivateKeys, DEVNET_ROLES } from "../../../src/devnet/keys.ts";
import { getJson, pollUntil, startTestDevnet, type Json, type TestDevnet } from "./devnetFixture.ts";

const U = 10n ** 15n; // one "unit" of the talk's example, in wei
const DEADLINE = BigInt(Math.floor(Date.now() / 1000) + 3600);

describe("settlement end to end (Ganache + 3 node processes)", { timeout: 240_000 }, () => {
  let devnet: TestDevnet;
  let chain: DevnetChain;
  let client: DeltaClient;
  let domain: DomainInfo;

  before(async () => {
    // Seal 1.5 s after an epoch's first message; the leader submits every chunk itself.
    devnet = await startTestDevnet("settlement", { epoch: { intervalMs: 1_500, maxMessages: 0 } });
    chain = devnet.chain;
    client = new DeltaClient({ baseUrls: devnet.rests });
    domain = await client.domain();
  });
  after(async () => {
    await devnet?.stop();
  });

  async function epochSettled(n: bigint): Promise<Json> {
    return pollUntil(`epoch ${n} settled on every node`, 60_000, async () => {
      const views = await Promise.all(devnet.rests.map((r) => getJson(`${r}/v1/epochs/${n}`)));
      return views.every((v) => v["status"] === "settled") ? views[0] : undefined;
    });
  }

  it("the talk's example settles by itself: -8, +3, +5 on-chain; ERC-20 and fees alike; withdrawals claimable", async () => {
    const [alice, bob, mike] = chain.users.slice(0, 3).map((u) => new Wallet(u.privateKey, chain.provider));
    const token = chain.tokenAddress;
    // Deposits: 100 units of ETH and of the token each.
    for (const w of [alice!, bob!, mike!]) {
      await (await connectAs(chain.bridge, w).deposit({ value: 100n * U })).wait();
      await (await connectAs(chain.token, w).approve(chain.bridgeAddress, 100n * U)).wait();
      await (await connectAs(chain.bridge, w).depositToken(token, 100n * U)).wait();
    }
    for (const w of [alice!, bob!, mike!]) {
      await pollUntil(`credits of ${w.address}`, 30_000, async () => {
        const views = await Promise.all(devnet.rests.map((r) => getJson(`${r}/v1/accounts/${w.address}`)));
        return views.every((v) => {
          const b = v["balances"] as Record<string, string>;
          return b[NATIVE_TOKEN] === (100n * U).toString() && b[token] === (100n * U).toString();
        })
          ? true
          : undefined;
      });
    }
    const onChain = async (who: string, t: string): Promise<bigint> => (await chain.bridge.balanceOf(t, who)) as bigint;
    const before = new Map<string, bigint>();
    for (const w of [alice!, bob!, mike!, { address: chain.feeRecipient }]) {
      for (const t of [NATIVE_TOKEN, token]) before.set(`${w.address}:${t}`, await onChain(w.address, t));
    }

    // The talk's four transfers in ETH, and two token transfers with fees, in one epoch.
    const t = (key: Wallet, to: Wallet, tok: string, amount: bigint, nonce: bigint, fee = 0n): SignedTransfer =>
      fastSignTransfer(key.privateKey, domain, { to: to.address, token: tok, amount: amount * U, fee: fee * U, nonce, deadline: DEADLINE });
    const transfers = [
      t(alice!, bob!, NATIVE_TOKEN, 5n, 0n),
      t(alice!, mike!, NATIVE_TOKEN, 5n, 1n),
      t(bob!, mike!, NATIVE_TOKEN, 2n, 0n),
      t(mike!, alice!, NATIVE_TOKEN, 2n, 0n),
      t(alice!, bob!, token, 7n, 2n, 1n),
      t(bob!, mike!, token, 3n, 1n, 1n),
    ];
    const results = await client.submitTransfers(transfers);
    for (const r of results) assert.ok("status" in r && r.status === "committed", JSON.stringify(r, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
    const epoch = (results[0] as { epoch: bigint }).epoch;
    assert.ok(results.every((r) => "epoch" in r && r.epoch === epoch), "all in one epoch");

    const view = await epochSettled(epoch);
    assert.equal(view["transfers"], 6);
    const deltas = new Map((view["deltas"] as Json[]).map((d) => [`${String(d["account"])}:${String(d["token"])}`, BigInt(String(d["delta"]))]));
    assert.equal(deltas.get(`${alice!.address}:${NATIVE_TOKEN}`), -8n * U);
    assert.equal(deltas.get(`${bob!.address}:${NATIVE_TOKEN}`), 3n * U);
    assert.equal(deltas.get(`${mike!.address}:${NATIVE_TOKEN}`), 5n * U);

    // On-chain: exactly the netted deltas, per account and token; the fee recipient got the fees.
    const moved = async (who: string, tok: string): Promise<bigint> => (await onChain(who, tok)) - before.get(`${who}:${tok}`)!;
    assert.equal(await moved(alice!.address, NATIVE_TOKEN), -8n * U);
    assert.equal(await moved(bob!.address, NATIVE_TOKEN), 3n * U);
    assert.equal(await moved(mike!.address, NATIVE_TOKEN), 5n * U);
    assert.equal(await moved(alice!.address, token), -8n * U);
    assert.equal(await moved(bob!.address, token), 3n * U);
    assert.equal(await moved(mike!.address, token), 3n * U);
    assert.equal(await moved(chain.feeRecipient, token), 2n * U);
    assert.equal((await chain.bridge.lastEpoch()) as bigint, epoch);
    assert.equal((await chain.bridge.transfersRoot(epoch)) as string, view["root"]);
    const txs = view["settlementTxs"] as string[];
    assert.equal(txs.length, 1, "one chunk");
    const receipt = await chain.provider.getTransactionReceipt(txs[0]!);
    assert.equal(receipt?.status, 1);

    // The signed settlement, from every node: signatures by distinct validators, ascending.
    const validators = chain.validators.map((v) => v.address.toLowerCase());
    for (const rest of devnet.rests) {
      const s = await getJson(`${rest}/v1/epochs/${epoch}/settlement`);
      const chunks = s["chunks"] as { settlement: Json; signatures: string[] }[];
      assert.equal(chunks.length, 1);
      const c = chunks[0]!.settlement;
      const digest = hashSettlement(domain, {
        epoch: BigInt(String(c["epoch"])),
        chunk: Number(c["chunk"]),
        chunks: Number(c["chunks"]),
        transfersRoot: String(c["transfersRoot"]) as `0x${string}`,
        deltas: (c["deltas"] as Json[]).map((d) => ({ account: String(d["account"]) as `0x${string}`, token: String(d["token"]) as `0x${string}`, amount: BigInt(String(d["amount"])) })),
        payouts: [],
      });
      const signers = chunks[0]!.signatures.map((sig) => recoverAddress(digest, sig).toLowerCase());
      assert.ok(signers.length >= 2, "at least the threshold");
      assert.deepEqual([...signers].sort(), signers, "ascending");
      assert.equal(new Set(signers).size, signers.length);
      for (const a of signers) assert.ok(validators.includes(a), `${a} is a validator`);
    }

    // Every transfer shows settled, and its proof verifies on-chain against the bridge's root.
    const harnessArtifact = loadArtifact("MerkleProofHarness");
    const harness = withMethods(
      await new ContractFactory(harnessArtifact.abi as InterfaceAbi, harnessArtifact.bytecode, new Wallet(chain.users[9]!.privateKey, chain.provider)).deploy(),
      ["verify"],
    );
    const onChainRoot = (await chain.bridge.transfersRoot(epoch)) as string;
    for (const r of results) {
      const hash = (r as { hash: string }).hash;
      const info = await getJson(`${devnet.rests[2]}/v1/transfers/${hash}`);
      assert.equal(info["status"], "settled");
      const proof = await getJson(`${devnet.rests[1]}/v1/transfers/${hash}/proof`);
      assert.equal(proof["root"], onChainRoot);
      assert.equal(await harness.verify(proof["proof"], onChainRoot, proof["leaf"]), true);
    }

    // Withdrawals: off-chain debit now, claimable once their epoch settles.
    const aliceNonce = await client.nextNonce(alice!.address);
    const wEth = fastSignWithdrawal(alice!.privateKey, domain, { token: NATIVE_TOKEN, amount: 10n * U, nonce: aliceNonce, deadline: DEADLINE });
    const wTok = fastSignWithdrawal(alice!.privateKey, domain, { token, amount: 4n * U, nonce: aliceNonce + 1n, deadline: DEADLINE });
    const c1 = await client.submitWithdrawal(wEth);
    const c2 = await client.submitWithdrawal(wTok);
    // The epoch seals by age: the two may fall in consecutive epochs.
    await epochSettled(c1.epoch);
    await epochSettled(c2.epoch);
    assert.equal((await chain.bridge.withdrawable(NATIVE_TOKEN, alice!.address)) as bigint, 10n * U);
    assert.equal((await chain.bridge.withdrawable(token, alice!.address)) as bigint, 4n * U);
    assert.equal(await moved(alice!.address, NATIVE_TOKEN), -18n * U, "the payout left her settled balance");

    // Balances read at the receipt's block and the one before (Ganache mines one tx per block).
    const wr = (await (await connectAs(chain.bridge, alice!).withdraw(NATIVE_TOKEN)).wait()) as { gasUsed: bigint; gasPrice: bigint; blockNumber: number };
    const ethBefore = await chain.provider.getBalance(alice!.address, wr.blockNumber - 1);
    const ethAfter = await chain.provider.getBalance(alice!.address, wr.blockNumber);
    assert.equal(ethAfter - ethBefore, 10n * U - wr.gasUsed * wr.gasPrice, "her ETH rose by the amount minus gas");
    const tokBefore = (await chain.token.balanceOf(alice!.address)) as bigint;
    await (await connectAs(chain.bridge, alice!).withdraw(token)).wait();
    assert.equal(((await chain.token.balanceOf(alice!.address)) as bigint) - tokBefore, 4n * U);
    assert.equal((await chain.bridge.withdrawable(NATIVE_TOKEN, alice!.address)) as bigint, 0n);
  });

  it("escape hatch: operators gone, freeze() after the delay, everyone leaves with settled balance plus withdrawable", async () => {
    const [alice, bob, mike] = chain.users.slice(0, 3).map((u) => new Wallet(u.privateKey, chain.provider));
    const fees = new Wallet(devnetPrivateKeys()[DEVNET_ROLES.feeRecipient]!, chain.provider);
    const token = chain.tokenAddress;
    // Bob's withdrawal settles but he does not claim it.
    const bobW = fastSignWithdrawal(bob!.privateKey, domain, { token: NATIVE_TOKEN, amount: 1n * U, nonce: await client.nextNonce(bob!.address), deadline: DEADLINE });
    await epochSettled((await client.submitWithdrawal(bobW)).epoch);
    assert.equal((await chain.bridge.withdrawable(NATIVE_TOKEN, bob!.address)) as bigint, 1n * U);
    // Mike pays Alice off-chain, committed; the operators vanish before that epoch can seal (it
    // seals 1.5 s after its first message; the stop takes a fraction of that).
    const lastSettled = (await chain.bridge.lastEpoch()) as bigint;
    const mikeSettled = (await chain.bridge.balanceOf(NATIVE_TOKEN, mike!.address)) as bigint;
    const pay = fastSignTransfer(mike!.privateKey, domain, { to: alice!.address, token: NATIVE_TOKEN, amount: 1n * U, nonce: await client.nextNonce(mike!.address), deadline: DEADLINE });
    assert.equal((await client.submitTransfer(pay)).status, "committed");
    // Off-chain (every node, once it applied the block) he has paid.
    for (const rest of devnet.rests) {
      await pollUntil(`Mike's payment applied on ${rest}`, 10_000, async () => {
        const a = await getJson(`${rest}/v1/accounts/${mike!.address}`);
        return (a["balances"] as Record<string, string>)[NATIVE_TOKEN] === (mikeSettled - 1n * U).toString() ? true : undefined;
      });
    }
    await devnet.cluster.stop();
    assert.equal((await chain.bridge.lastEpoch()) as bigint, lastSettled, "the last epoch never settled");
    const mikeEth = (await chain.bridge.balanceOf(NATIVE_TOKEN, mike!.address)) as bigint;
    assert.equal(mikeEth, mikeSettled, "Mike's settled balance ignores his unsettled payment");

    const bridge = connectAs(chain.bridge, new Wallet(chain.users[9]!.privateKey, chain.provider));
    await assert.rejects(bridge.freeze.staticCall(), (e: { revert?: { name?: string } }) => e.revert?.name === "EscapeDelayNotPassed");
    const delay = (await chain.bridge.escapeDelay()) as bigint;
    await chain.provider.send("evm_increaseTime", [Number(delay) + 1]);
    await chain.provider.send("evm_mine", []);
    await (await bridge.freeze()).wait();
    assert.equal((await chain.bridge.frozen()) as boolean, true);
    await assert.rejects(connectAs(chain.bridge, alice!).deposit.staticCall({ value: 1n }), (e: { revert?: { name?: string } }) => e.revert?.name === "BridgeFrozen");

    for (const w of [alice!, bob!, mike!, fees]) {
      for (const t of [NATIVE_TOKEN, token]) {
        const owed = ((await chain.bridge.balanceOf(t, w.address)) as bigint) + ((await chain.bridge.withdrawable(t, w.address)) as bigint);
        if (owed === 0n) continue;
        const r = (await (await connectAs(chain.bridge, w).withdraw(t)).wait()) as { gasUsed: bigint; gasPrice: bigint; blockNumber: number };
        const at = (block: number): Promise<bigint> =>
          t === NATIVE_TOKEN ? chain.provider.getBalance(w.address, block) : (chain.token.balanceOf(w.address, { blockTag: block }) as Promise<bigint>);
        const before = await at(r.blockNumber - 1);
        const afterBal = await at(r.blockNumber);
        assert.equal(afterBal - before, t === NATIVE_TOKEN ? owed - r.gasUsed * r.gasPrice : owed, `${w.address} leaves with ${owed} of ${t}`);
        assert.equal((await chain.bridge.balanceOf(t, w.address)) as bigint, 0n);
        assert.equal((await chain.bridge.withdrawable(t, w.address)) as bigint, 0n);
      }
    }
    assert.ok(mikeEth > 0n, "Mike had a settled balance to leave with");
    // Mike left with his settled balance: the unsettled payment never reached the chain.
    // Everyone who ever deposited has left: the bridge holds nothing more of either asset.
    assert.equal(await chain.provider.getBalance(chain.bridgeAddress), 0n);
    assert.equal((await chain.token.balanceOf(chain.bridgeAddress)) as bigint, 0n);
  });
});
