// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * DeltaBridge on a real Ganache (the devnet's chain), started by this test on a free loopback port
 * and stopped after: deposit ETH and the test token, settle an epoch signed by two of the three
 * devnet validators over src/protocol's digest, withdraw, and check a refusal decodes there too.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { startDevnetChain, type DevnetChain } from "../../src/devnet/chain.ts";
import { connectAs } from "../../src/chain/index.ts";
import { hashSettlement, NATIVE_TOKEN, type Address, type BridgeDomain, type Settlement } from "../../src/protocol/index.ts";
import { expectRevert } from "../contracts/fixture.ts";

describe("DeltaBridge on Ganache", () => {
  let chain: DevnetChain;
  let domain: BridgeDomain;

  before(async () => {
    chain = await startDevnetChain();
    domain = {
      name: "DeltaBridge",
      version: "1",
      chainId: BigInt(chain.chainId),
      verifyingContract: chain.bridgeAddress as Address,
    };
  });
  after(async () => {
    await chain?.close();
  });

  /** Signatures of the first two validators, ascending by address as the bridge requires. */
  function sign(s: Settlement): string[] {
    const digest = hashSettlement(domain, s);
    return chain.validators
      .slice(0, 2)
      .map((v) => new Wallet(v.privateKey))
      .sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1))
      .map((w) => w.signingKey.sign(digest).serialized);
  }

  it("runs deposit, settle and withdraw", async () => {
    const [aliceKey, bobKey] = chain.users;
    assert.ok(aliceKey && bobKey);
    const alice = new Wallet(aliceKey.privateKey, chain.provider);
    const bob = new Wallet(bobKey.privateKey, chain.provider);
    const bridge = chain.bridge;
    const token = chain.tokenAddress as Address;

    // Deposits: 10 ETH-wei units from Alice, 500 token units from Bob (approve, then depositToken).
    await (await connectAs(bridge, alice).deposit({ value: 1_000n })).wait();
    await (await connectAs(chain.token, bob).approve(chain.bridgeAddress, 500n)).wait();
    await (await connectAs(bridge, bob).depositToken(token, 500n)).wait();
    assert.equal(await bridge.balanceOf(NATIVE_TOKEN, alice.address), 1_000n);
    assert.equal(await bridge.balanceOf(token, bob.address), 500n);
    assert.equal(await bridge.nextDepositId(), 2n);

    // Epoch 1: Alice paid Bob 300 wei off-chain; Bob withdraws 200 tokens (debited, then payable).
    const s: Settlement = {
      epoch: 1n,
      chunk: 0,
      chunks: 1,
      transfersRoot: `0x${"ab".repeat(32)}`,
      deltas: [
        { account: alice.address as Address, token: NATIVE_TOKEN, amount: -300n },
        { account: bob.address as Address, token: NATIVE_TOKEN, amount: 300n },
        { account: bob.address as Address, token, amount: -200n },
      ],
      payouts: [{ account: bob.address as Address, token, amount: 200n }],
    };
    assert.equal(await bridge.settlementDigest(s), hashSettlement(domain, s));
    const receipt = await (await bridge.settle(s, sign(s))).wait();
    assert.equal(receipt.status, 1);
    assert.equal(await bridge.lastEpoch(), 1n);
    assert.equal(await bridge.transfersRoot(1n), s.transfersRoot);
    assert.equal(await bridge.balanceOf(NATIVE_TOKEN, alice.address), 700n);
    assert.equal(await bridge.balanceOf(NATIVE_TOKEN, bob.address), 300n);
    assert.equal(await bridge.withdrawable(token, bob.address), 200n);

    // The same chunk again is a replay: refused with the decoded custom error, nothing changes.
    await expectRevert(bridge.settle(s, sign(s)), bridge, "EpochOutOfOrder", [2n, 1n]);

    const before = await chain.token.balanceOf(bob.address);
    await (await connectAs(bridge, bob).withdraw(token)).wait();
    assert.equal(await chain.token.balanceOf(bob.address), before + 200n);
    assert.equal(await bridge.withdrawable(token, bob.address), 0n);
    assert.equal(await chain.token.balanceOf(chain.bridgeAddress), 300n);
    await expectRevert(connectAs(bridge, bob).withdraw(token), bridge, "NothingToWithdraw", [bob.address, token]);
  });
});
