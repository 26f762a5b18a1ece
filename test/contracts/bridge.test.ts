// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * DeltaBridge flows and refusals on Hardhat's simulated chain (EDR). Each refusal test asserts the
 * exact custom error and that nothing changed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Wallet, TypedDataEncoder } from "ethers";
import { asErc20, withMethods, type DeltaBridgeContract } from "../../src/chain/index.ts";
import {
  deployBridge,
  signSettlement,
  signRotation,
  settlementDigest,
  highSTwin,
  expectRevert,
  depositEth,
  asSigner,
  sortByAddress,
  makeValidators,
  randomWallet,
  ETH,
  ROOT_A,
  ZERO_ROOT,
  type SettlementInput,
} from "./fixture.ts";
import { hashRotation, hashSettlement, TYPES, type Address, type Rotation, type Settlement } from "../../src/protocol/index.ts";

type Fixture = Awaited<ReturnType<typeof deployBridge>>;

/** Alice, Bob and Mike deposit 100 ETH-wei each; returns their addresses. */
async function withDeposits(f: Fixture): Promise<{ alice: string; bob: string; mike: string }> {
  const [, a, b, m] = f.signers;
  assert.ok(a && b && m);
  for (const s of [a, b, m]) await depositEth(f.bridge, s, 100n);
  return { alice: a.address, bob: b.address, mike: m.address };
}

function talkSettlement(alice: string, bob: string, mike: string, epoch = 1n): SettlementInput {
  return {
    epoch,
    chunk: 0,
    chunks: 1,
    transfersRoot: ROOT_A,
    deltas: [
      { account: alice, token: ETH, amount: -8n },
      { account: bob, token: ETH, amount: 3n },
      { account: mike, token: ETH, amount: 5n },
    ],
    payouts: [],
  };
}

async function stateOf(bridge: DeltaBridgeContract, accounts: string[], token = ETH) {
  const out: bigint[] = [];
  for (const a of accounts) {
    out.push(await bridge.balanceOf(token, a), await bridge.withdrawable(token, a));
  }
  return {
    balances: out,
    lastEpoch: await bridge.lastEpoch(),
    nextChunk: await bridge.nextChunk(),
    lastSettledAt: await bridge.lastSettledAt(),
  };
}

describe("DeltaBridge constructor", () => {
  it("refuses an empty set, zero or duplicate validators, and thresholds outside (n/2, n]", async () => {
    const f = await deployBridge();
    const factory = await f.ethers.getContractFactory("DeltaBridge");
    const [v1, v2, v3] = makeValidators(3).map((w) => w.address);
    assert.ok(v1 && v2 && v3);
    await expectRevert(factory.deploy([], 1, 100), f.bridge, "EmptyValidatorSet");
    await expectRevert(factory.deploy([v1, ETH, v3], 2, 100), f.bridge, "ZeroValidator", [1n]);
    await expectRevert(factory.deploy([v1, v2, v1], 2, 100), f.bridge, "DuplicateValidator", [v1]);
    await expectRevert(factory.deploy([v1, v2, v3], 0, 100), f.bridge, "InvalidThreshold", [0n, 3n]);
    await expectRevert(factory.deploy([v1, v2, v3], 4, 100), f.bridge, "InvalidThreshold", [4n, 3n]);
    await expectRevert(factory.deploy([v1, v2, v3, v1].slice(0, 2), 1, 100), f.bridge, "InvalidThreshold", [1n, 2n]);
    // Accepted edge cases: threshold n and a 1-of-1 set.
    await (await factory.deploy([v1, v2, v3], 3, 100)).waitForDeployment();
    await (await factory.deploy([v1], 1, 100)).waitForDeployment();
  });

  it("exposes its set, threshold, delay and initial state, and announces the set", async () => {
    const f = await deployBridge({ escapeDelay: 777n });
    assert.deepEqual([...(await f.bridge.validators())], f.validators.map((v) => v.address));
    assert.equal(await f.bridge.threshold(), 2n);
    assert.equal(await f.bridge.escapeDelay(), 777n);
    assert.equal(await f.bridge.lastEpoch(), 0n);
    assert.equal(await f.bridge.nextChunk(), 0n);
    assert.equal(await f.bridge.frozen(), false);
    assert.equal(await f.bridge.rotationNonce(), 0n);
    assert.equal(await f.bridge.nextDepositId(), 0n);
    const deployBlock = await f.ethers.provider.getBlock("latest");
    assert.ok(deployBlock);
    assert.ok((await f.bridge.lastSettledAt()) <= BigInt(deployBlock.timestamp));
    const events = await f.bridge.queryFilter(f.bridge.filters.ValidatorsRotated!());
    assert.equal(events.length, 1);
  });
});

describe("DeltaBridge deposits", () => {
  it("credits ETH at once, numbers deposits from 0 and emits Deposited", async () => {
    const f = await deployBridge();
    const [, alice] = f.signers;
    assert.ok(alice);
    await depositEth(f.bridge, alice, 10n);
    await depositEth(f.bridge, alice, 5n);
    assert.equal(await f.bridge.balanceOf(ETH, alice.address), 15n);
    assert.equal(await f.bridge.nextDepositId(), 2n);
    const events = await f.bridge.queryFilter(f.bridge.filters.Deposited!());
    assert.deepEqual(
      events.map((e) => ("args" in e ? [e.args[0], e.args[1], e.args[2], e.args[3]] : [])),
      [
        [alice.address, ETH, 10n, 0n],
        [alice.address, ETH, 5n, 1n],
      ],
    );
  });

  it("refuses deposits of 0, of the zero address, of an address without code", async () => {
    const f = await deployBridge();
    const [, alice] = f.signers;
    assert.ok(alice);
    const b = asSigner(f.bridge, alice);
    await expectRevert(b.deposit({ value: 0n }), f.bridge, "ZeroAmount");
    await expectRevert(b.depositToken(await f.token.getAddress(), 0n), f.bridge, "ZeroAmount");
    await expectRevert(b.depositToken(ETH, 5n), f.bridge, "InvalidToken", [ETH]);
    const eoa = randomWallet().address;
    await expectRevert(b.depositToken(eoa, 5n), f.bridge, "TokenWithoutCode", [eoa]);
    assert.equal(await f.bridge.nextDepositId(), 0n);
  });

  it("credits ERC-20 deposits after approve, and only what arrived for a fee-on-transfer token", async () => {
    const f = await deployBridge();
    const [, alice] = f.signers;
    assert.ok(alice);
    const bridgeAddr = await f.bridge.getAddress();
    await (await f.token.mint(alice.address, 1000n)).wait();
    await (await asSigner(f.token, alice).approve(bridgeAddr, 1000n)).wait();
    await (await asSigner(f.bridge, alice).depositToken(await f.token.getAddress(), 400n)).wait();
    assert.equal(await f.bridge.balanceOf(await f.token.getAddress(), alice.address), 400n);
    assert.equal(await f.token.balanceOf(bridgeAddr), 400n);

    const fot = asErc20(await f.ethers.deployContract("FeeOnTransferToken"));
    const fotAddr = await fot.getAddress();
    await (await fot.mint(alice.address, 10_000n)).wait();
    await (await asSigner(fot, alice).approve(bridgeAddr, 10_000n)).wait();
    await (await asSigner(f.bridge, alice).depositToken(fotAddr, 1000n)).wait();
    assert.equal(await fot.balanceOf(bridgeAddr), 990n);
    assert.equal(await f.bridge.balanceOf(fotAddr, alice.address), 990n);
    const events = await f.bridge.queryFilter(f.bridge.filters.Deposited!());
    const last = events.at(-1);
    assert.ok(last && "args" in last);
    assert.equal(last.args[2], 990n);
  });

  it("refuses plain ETH sent without deposit()", async () => {
    const f = await deployBridge();
    const [, alice] = f.signers;
    assert.ok(alice);
    await assert.rejects(alice.sendTransaction({ to: await f.bridge.getAddress(), value: 1n }));
    assert.equal(await f.ethers.provider.getBalance(await f.bridge.getAddress()), 0n);
  });
});

describe("DeltaBridge settlement", () => {
  it("applies the talk's deltas (Alice -8, Bob +3, Mike +5), stores the root and emits Settled", async () => {
    const f = await deployBridge();
    const { alice, bob, mike } = await withDeposits(f);
    const s = talkSettlement(alice, bob, mike);
    const sigs = signSettlement(f.domain, s, f.validators.slice(0, 2));
    await (await f.bridge.settle(s, sigs)).wait();
    assert.equal(await f.bridge.balanceOf(ETH, alice), 92n);
    assert.equal(await f.bridge.balanceOf(ETH, bob), 103n);
    assert.equal(await f.bridge.balanceOf(ETH, mike), 105n);
    assert.equal(await f.bridge.lastEpoch(), 1n);
    assert.equal(await f.bridge.nextChunk(), 0n);
    assert.equal(await f.bridge.transfersRoot(1n), ROOT_A);
    const events = await f.bridge.queryFilter(f.bridge.filters.Settled!());
    assert.equal(events.length, 1);
    const e = events[0];
    assert.ok(e && "args" in e);
    assert.deepEqual([e.args[0], e.args[1], e.args[2], e.args[3], e.args[4]], [1n, 0n, 1n, 3n, 0n]);
  });

  it("computes the same digest on-chain as src/protocol's hashSettlement (and ethers) for 0, 1 and many items", async () => {
    const f = await deployBridge();
    const accounts = makeValidators(12).map((w) => w.address);
    const cases: SettlementInput[] = [
      { epoch: 1n, chunk: 0, chunks: 1, transfersRoot: ZERO_ROOT, deltas: [], payouts: [] },
      { epoch: 7n, chunk: 2, chunks: 5, transfersRoot: ROOT_A, deltas: [{ account: accounts[0]!, token: ETH, amount: -1n }], payouts: [] },
      {
        epoch: 2n ** 64n - 1n,
        chunk: 0xffffffff - 1,
        chunks: 0xffffffff,
        transfersRoot: ROOT_A,
        deltas: accounts.map((a, i) => ({ account: a, token: i % 2 ? ETH : accounts[1]!, amount: BigInt(i - 6) * 10n ** 30n })),
        payouts: accounts.slice(0, 5).map((a, i) => ({ account: a, token: ETH, amount: 2n ** 255n - 1n - BigInt(i) })),
      },
    ];
    const domain = { ...f.domain, name: "DeltaBridge", version: "1", verifyingContract: f.domain.verifyingContract as Address } as const;
    // Payouts with 1 item and with many, deltas with 0, 1 and many, across the cases.
    cases.push({ ...cases[0]!, payouts: [{ account: accounts[3]!, token: ETH, amount: 1n }] });
    for (const s of cases) {
      const onChain = await f.bridge.settlementDigest(s);
      // The fixture's inputs are plain strings; src/protocol's types want 0x-template strings.
      assert.equal(onChain, hashSettlement(domain, s as Settlement));
      assert.equal(onChain, settlementDigest(f.domain, s));
    }
  });

  it("settles a withdrawal: delta debits the balance and the payout becomes withdrawable", async () => {
    const f = await deployBridge();
    const { alice } = await withDeposits(f);
    const s: SettlementInput = {
      epoch: 1n, chunk: 0, chunks: 1, transfersRoot: ROOT_A,
      deltas: [{ account: alice, token: ETH, amount: -30n }],
      payouts: [{ account: alice, token: ETH, amount: 30n }],
    };
    await (await f.bridge.settle(s, signSettlement(f.domain, s, f.validators))).wait();
    assert.equal(await f.bridge.balanceOf(ETH, alice), 70n);
    assert.equal(await f.bridge.withdrawable(ETH, alice), 30n);
    const [, aliceSigner] = f.signers;
    assert.ok(aliceSigner);
    const before = await f.ethers.provider.getBalance(alice);
    const receipt = await (await asSigner(f.bridge, aliceSigner).withdraw(ETH)).wait();
    const gas = BigInt(receipt.gasUsed) * BigInt(receipt.gasPrice);
    assert.equal(await f.ethers.provider.getBalance(alice), before + 30n - gas);
    assert.equal(await f.bridge.withdrawable(ETH, alice), 0n);
    await expectRevert(asSigner(f.bridge, aliceSigner).withdraw(ETH), f.bridge, "NothingToWithdraw", [alice, ETH]);
  });

  it("settles an epoch in several chunks, each conserving, and advances lastEpoch only at the end", async () => {
    const f = await deployBridge();
    const { alice, bob, mike } = await withDeposits(f);
    const chunks: SettlementInput[] = [
      { epoch: 1n, chunk: 0, chunks: 3, transfersRoot: ROOT_A, deltas: [{ account: alice, token: ETH, amount: -5n }, { account: bob, token: ETH, amount: 5n }], payouts: [] },
      { epoch: 1n, chunk: 1, chunks: 3, transfersRoot: ROOT_A, deltas: [{ account: alice, token: ETH, amount: -3n }, { account: mike, token: ETH, amount: 3n }], payouts: [] },
      { epoch: 1n, chunk: 2, chunks: 3, transfersRoot: ROOT_A, deltas: [{ account: bob, token: ETH, amount: -2n }], payouts: [{ account: bob, token: ETH, amount: 2n }] },
    ];
    for (const [i, s] of chunks.entries()) {
      await (await f.bridge.settle(s, signSettlement(f.domain, s, f.validators.slice(1)))).wait();
      assert.equal(await f.bridge.lastEpoch(), i === 2 ? 1n : 0n);
      assert.equal(await f.bridge.nextChunk(), i === 2 ? 0n : BigInt(i + 1));
    }
    assert.equal(await f.bridge.balanceOf(ETH, alice), 92n);
    assert.equal(await f.bridge.balanceOf(ETH, bob), 103n);
    assert.equal(await f.bridge.withdrawable(ETH, bob), 2n);
    assert.equal(await f.bridge.balanceOf(ETH, mike), 103n);
    // The next epoch starts at chunk 0 again.
    const next = { ...talkSettlement(alice, bob, mike, 2n) };
    await (await f.bridge.settle(next, signSettlement(f.domain, next, f.validators))).wait();
    assert.equal(await f.bridge.lastEpoch(), 2n);
  });

  describe("refusals (each changes nothing)", () => {
    async function refused(
      f: Fixture,
      s: SettlementInput,
      sigs: string[],
      error: string,
      args?: unknown[],
      watch: string[] = [],
    ): Promise<void> {
      const before = await stateOf(f.bridge, watch);
      await expectRevert(f.bridge.settle(s, sigs), f.bridge, error, args);
      assert.deepEqual(await stateOf(f.bridge, watch), before);
    }

    it("an address word with dirty upper bits, even when a quorum signed over those raw words", async () => {
      const f = await deployBridge();
      const { alice, bob, mike } = await withDeposits(f);
      const s = talkSettlement(alice, bob, mike);
      const bridgeAddress = await f.bridge.getAddress();
      // Alice's account word in the calldata, with its top byte set: still "her" 20 bytes.
      const clean = `000000000000000000000000${alice.slice(2).toLowerCase()}`;
      const dirtyOf = (data: string): string => {
        const at = data.indexOf(clean);
        assert.ok(at > 0, "the account word is in the calldata");
        return `${data.slice(0, at)}ff${data.slice(at + 2)}`;
      };
      // The digest the contract computes over the dirty words (settlementDigest hashes them raw).
      const digestCall = dirtyOf(f.bridge.interface.encodeFunctionData("settlementDigest", [s]));
      const dirtyDigest = await f.ethers.provider.call({ to: bridgeAddress, data: digestCall });
      assert.notEqual(dirtyDigest, settlementDigest(f.domain, s));
      const sigs = sortByAddress(f.validators.slice(0, 2)).map((w) => w.signingKey.sign(dirtyDigest).serialized);
      const before = await stateOf(f.bridge, [alice, bob, mike]);
      const settleCall = dirtyOf(f.bridge.interface.encodeFunctionData("settle", [s, sigs]));
      await assert.rejects(f.signers[0]!.sendTransaction({ to: bridgeAddress, data: settleCall }), "the ABI decoder refuses the dirty address");
      assert.deepEqual(await stateOf(f.bridge, [alice, bob, mike]), before);
      assert.equal(await f.bridge.lastEpoch(), 0n);
    });

    it("a quorum short by one", async () => {
      const f = await deployBridge({ validators: 5, threshold: 3 });
      const { alice, bob, mike } = await withDeposits(f);
      const s = talkSettlement(alice, bob, mike);
      await refused(f, s, signSettlement(f.domain, s, f.validators.slice(0, 2)), "InsufficientSignatures", [2n, 3n], [alice]);
      await refused(f, s, [], "InsufficientSignatures", [0n, 3n], [alice]);
    });

    it("a duplicated signer, unsorted signers, an outsider", async () => {
      const f = await deployBridge({ validators: 3, threshold: 2 });
      const { alice, bob, mike } = await withDeposits(f);
      const s = talkSettlement(alice, bob, mike);
      const [v0, v1] = f.validators;
      assert.ok(v0 && v1);
      const [sig0, sig1] = signSettlement(f.domain, s, [v0, v1]);
      assert.ok(sig0 && sig1);
      await refused(f, s, [sig0, sig0], "SignersNotAscending", [1n, v0.address, v0.address], [alice]);
      await refused(f, s, [sig1, sig0], "SignersNotAscending", [1n, v1.address, v0.address], [alice]);
      const outsider = sortByAddress([v0, randomWallet()]);
      const outsiderAddr = outsider.find((w) => w !== v0)!.address;
      await refused(f, s, signSettlement(f.domain, s, outsider), "NotValidator", [outsiderAddr], [alice]);
      // An outsider is refused even when the registered signers alone would make the quorum.
      const three = sortByAddress([v0, v1, randomWallet()]);
      await refused(f, s, signSettlement(f.domain, s, three), "NotValidator", undefined, [alice]);
    });

    it("a high-s twin, a bad v and a malformed signature", async () => {
      const f = await deployBridge();
      const { alice, bob, mike } = await withDeposits(f);
      const s = talkSettlement(alice, bob, mike);
      const [sig0, sig1] = signSettlement(f.domain, s, f.validators.slice(0, 2));
      assert.ok(sig0 && sig1);
      await refused(f, s, [sig0, highSTwin(sig1)], "InvalidSignature", [1n], [alice]);
      await refused(f, s, [sig0, sig1.slice(0, -2) + "1d"], "InvalidSignature", [1n], [alice]);
      await refused(f, s, [sig0.slice(0, -2), sig1], "InvalidSignature", [0n], [alice]);
    });

    it("a signature for another chainId or another bridge address", async () => {
      const f = await deployBridge();
      const { alice, bob, mike } = await withDeposits(f);
      const s = talkSettlement(alice, bob, mike);
      const otherChain = { ...f.domain, chainId: f.domain.chainId + 1n };
      const otherBridge = { ...f.domain, verifyingContract: randomWallet().address };
      // Recovery yields unrelated addresses, which are not validators (or not ascending).
      for (const d of [otherChain, otherBridge]) {
        const before = await stateOf(f.bridge, [alice]);
        await assert.rejects(f.bridge.settle(s, signSettlement(d, s, f.validators)));
        assert.deepEqual(await stateOf(f.bridge, [alice]), before);
      }
      // The right domain passes, proving the refusals came from the domain alone.
      await (await f.bridge.settle(s, signSettlement(f.domain, s, f.validators))).wait();
      assert.equal(await f.bridge.lastEpoch(), 1n);
    });

    it("a replayed, a skipped and an earlier epoch", async () => {
      const f = await deployBridge();
      const { alice, bob, mike } = await withDeposits(f);
      const s1 = talkSettlement(alice, bob, mike, 1n);
      const sigs1 = signSettlement(f.domain, s1, f.validators);
      await (await f.bridge.settle(s1, sigs1)).wait();
      await refused(f, s1, sigs1, "EpochOutOfOrder", [2n, 1n], [alice]);
      const s3 = talkSettlement(alice, bob, mike, 3n);
      await refused(f, s3, signSettlement(f.domain, s3, f.validators), "EpochOutOfOrder", [2n, 3n], [alice]);
      const s2 = talkSettlement(alice, bob, mike, 2n);
      await (await f.bridge.settle(s2, signSettlement(f.domain, s2, f.validators))).wait();
      const s0 = talkSettlement(alice, bob, mike, 0n);
      await refused(f, s0, signSettlement(f.domain, s0, f.validators), "EpochOutOfOrder", [3n, 0n], [alice]);
      await refused(f, s1, sigs1, "EpochOutOfOrder", [3n, 1n], [alice]);
    });

    it("a wrong chunk index, a chunk past the count, a changed count or root", async () => {
      const f = await deployBridge();
      const { alice, bob } = await withDeposits(f);
      const pair = (chunk: number, chunks: number, root = ROOT_A): SettlementInput => ({
        epoch: 1n, chunk, chunks, transfersRoot: root,
        deltas: [{ account: alice, token: ETH, amount: -1n }, { account: bob, token: ETH, amount: 1n }], payouts: [],
      });
      const sign = (s: SettlementInput) => signSettlement(f.domain, s, f.validators);
      await refused(f, pair(1, 3), sign(pair(1, 3)), "ChunkOutOfOrder", [0n, 1n], [alice]);
      await refused(f, pair(0, 0), sign(pair(0, 0)), "ChunkOutOfRange", [0n, 0n], [alice]);
      await (await f.bridge.settle(pair(0, 3), sign(pair(0, 3)))).wait();
      await refused(f, pair(0, 3), sign(pair(0, 3)), "ChunkOutOfOrder", [1n, 0n], [alice]);
      await refused(f, pair(2, 3), sign(pair(2, 3)), "ChunkOutOfOrder", [1n, 2n], [alice]);
      await refused(f, pair(1, 4), sign(pair(1, 4)), "ChunkCountChanged", [3n, 4n], [alice]);
      await refused(f, pair(1, 2), sign(pair(1, 2)), "ChunkCountChanged", [3n, 2n], [alice]);
      await refused(f, pair(1, 3, ZERO_ROOT), sign(pair(1, 3, ZERO_ROOT)), "TransfersRootChanged", [ROOT_A, ZERO_ROOT], [alice]);
      await (await f.bridge.settle(pair(1, 3), sign(pair(1, 3)))).wait();
      assert.equal(await f.bridge.nextChunk(), 2n);
    });

    it("a non-conserving chunk, even when the next chunk would balance it", async () => {
      const f = await deployBridge();
      const { alice, bob } = await withDeposits(f);
      const token = await f.token.getAddress();
      const c0: SettlementInput = {
        epoch: 1n, chunk: 0, chunks: 2, transfersRoot: ROOT_A,
        deltas: [{ account: alice, token: ETH, amount: -5n }, { account: bob, token: ETH, amount: 4n }], payouts: [],
      };
      await refused(f, c0, signSettlement(f.domain, c0, f.validators), "ChunkNotConserved", [ETH, -1n], [alice, bob]);
      // Conserving in sum over tokens but not per token.
      const mixed: SettlementInput = {
        epoch: 1n, chunk: 0, chunks: 1, transfersRoot: ROOT_A,
        deltas: [{ account: alice, token: ETH, amount: -5n }, { account: bob, token, amount: 5n }], payouts: [],
      };
      await refused(f, mixed, signSettlement(f.domain, mixed, f.validators), "ChunkNotConserved", [ETH, -5n], [alice, bob]);
      // A payout that exceeds the debit.
      const greedy: SettlementInput = {
        epoch: 1n, chunk: 0, chunks: 1, transfersRoot: ROOT_A,
        deltas: [{ account: alice, token: ETH, amount: -5n }], payouts: [{ account: alice, token: ETH, amount: 6n }],
      };
      await refused(f, greedy, signSettlement(f.domain, greedy, f.validators), "ChunkNotConserved", [ETH, 1n], [alice]);
      // A chunk of payouts only (money from nowhere).
      const free: SettlementInput = { ...greedy, deltas: [] };
      await refused(f, free, signSettlement(f.domain, free, f.validators), "ChunkNotConserved", [ETH, 6n], [alice]);
    });

    it("a negative balance, including int256.min", async () => {
      const f = await deployBridge();
      const { alice, bob } = await withDeposits(f);
      const over: SettlementInput = {
        epoch: 1n, chunk: 0, chunks: 1, transfersRoot: ROOT_A,
        deltas: [{ account: alice, token: ETH, amount: -101n }, { account: bob, token: ETH, amount: 101n }], payouts: [],
      };
      await refused(f, over, signSettlement(f.domain, over, f.validators), "BalanceBelowZero", [alice, ETH, 100n, -101n], [alice, bob]);
      const min = -(2n ** 255n);
      const huge: SettlementInput = { ...over, deltas: [{ account: alice, token: ETH, amount: min }] };
      await refused(f, huge, signSettlement(f.domain, huge, f.validators), "BalanceBelowZero", [alice, ETH, 100n, min], [alice]);
      // A credit listed after the debit does not rescue it: order is part of the check.
      const later: SettlementInput = {
        ...over,
        deltas: [{ account: bob, token: ETH, amount: -150n }, { account: bob, token: ETH, amount: 150n }],
      };
      await refused(f, later, signSettlement(f.domain, later, f.validators), "BalanceBelowZero", [bob, ETH, 100n, -150n], [bob]);
    });

    it("a bridge-side payment failure reverts the withdrawal and keeps the claim", async () => {
      const f = await deployBridge();
      const rejecting = withMethods(
        await f.ethers.deployContract("RejectingReceiver", [await f.bridge.getAddress()]),
        ["depositToBridge", "withdrawFromBridge"],
      );
      const addr = await rejecting.getAddress();
      await (await rejecting.depositToBridge({ value: 50n })).wait();
      const s: SettlementInput = {
        epoch: 1n, chunk: 0, chunks: 1, transfersRoot: ROOT_A,
        deltas: [{ account: addr, token: ETH, amount: -50n }], payouts: [{ account: addr, token: ETH, amount: 50n }],
      };
      await (await f.bridge.settle(s, signSettlement(f.domain, s, f.validators))).wait();
      await expectRevert(rejecting.withdrawFromBridge(), f.bridge, "EthTransferFailed", [addr, 50n]);
      assert.equal(await f.bridge.withdrawable(ETH, addr), 50n);
    });
  });

  it("pays a reentrant receiver once", async () => {
    const f = await deployBridge();
    const attacker = withMethods(
      await f.ethers.deployContract("ReentrantReceiver", [await f.bridge.getAddress()]),
      ["depositToBridge", "attack", "attempts", "reentered"],
    );
    const addr = await attacker.getAddress();
    const [, alice] = f.signers;
    assert.ok(alice);
    await depositEth(f.bridge, alice, 1000n);
    await (await attacker.depositToBridge({ value: 100n })).wait();
    const s: SettlementInput = {
      epoch: 1n, chunk: 0, chunks: 1, transfersRoot: ROOT_A,
      deltas: [{ account: addr, token: ETH, amount: -100n }], payouts: [{ account: addr, token: ETH, amount: 100n }],
    };
    await (await f.bridge.settle(s, signSettlement(f.domain, s, f.validators))).wait();
    await (await attacker.attack()).wait();
    assert.equal(await attacker.attempts(), 1n);
    assert.equal(await attacker.reentered(), false);
    assert.equal(await f.ethers.provider.getBalance(addr), 100n);
    assert.equal(await f.ethers.provider.getBalance(await f.bridge.getAddress()), 1000n);
  });
});

describe("DeltaBridge rotation", () => {
  it("rotates with a quorum of the current set; old signatures and a replayed rotation then fail", async () => {
    const f = await deployBridge();
    const { alice, bob, mike } = await withDeposits(f);
    const next = makeValidators(5);
    const rotation = { validators: next.map((v) => v.address), threshold: 3n, nonce: 0n };
    // All three sign, so a replay carries enough signatures to reach the signer checks.
    const sigs = signRotation(f.domain, rotation, f.validators);
    await (await f.bridge.rotateValidators(rotation.validators, 3n, sigs)).wait();
    assert.equal(await f.bridge.rotationNonce(), 1n);
    assert.deepEqual([...(await f.bridge.validators())], rotation.validators);
    assert.equal(await f.bridge.threshold(), 3n);
    const events = await f.bridge.queryFilter(f.bridge.filters.ValidatorsRotated!());
    const last = events.at(-1);
    assert.ok(last && "args" in last);
    assert.equal(last.args[0], 1n);

    await expectRevert(f.bridge.rotateValidators(rotation.validators, 3n, sigs), f.bridge, "NotValidator");
    const s = talkSettlement(alice, bob, mike);
    await expectRevert(f.bridge.settle(s, signSettlement(f.domain, s, f.validators)), f.bridge, "NotValidator");
    await expectRevert(f.bridge.settle(s, signSettlement(f.domain, s, next.slice(0, 2))), f.bridge, "InsufficientSignatures", [2n, 3n]);
    await (await f.bridge.settle(s, signSettlement(f.domain, s, next.slice(0, 3)))).wait();
    assert.equal(await f.bridge.lastEpoch(), 1n);

    // The replayed rotation, signed by the new set at the old nonce, is also refused.
    const replay = signRotation(f.domain, rotation, next.slice(0, 3));
    await expectRevert(f.bridge.rotateValidators(rotation.validators, 3n, replay), f.bridge, "NotValidator");
    assert.equal(await f.bridge.rotationNonce(), 1n);
  });

  it("keeps members shared by the old and new set, and refuses invalid new sets", async () => {
    const f = await deployBridge();
    const [v0, v1, v2] = f.validators;
    assert.ok(v0 && v1 && v2);
    const bad = async (validators: string[], threshold: bigint, error: string, args?: unknown[]) => {
      const sigs = signRotation(f.domain, { validators, threshold, nonce: 0n }, [v0, v1]);
      await expectRevert(f.bridge.rotateValidators(validators, threshold, sigs), f.bridge, error, args);
      assert.equal(await f.bridge.rotationNonce(), 0n);
    };
    await bad([], 0n, "EmptyValidatorSet");
    await bad([v0.address, ETH, v2.address], 2n, "ZeroValidator", [1n]);
    await bad([v0.address, v0.address, v2.address], 2n, "DuplicateValidator", [v0.address]);
    await bad([v0.address, v1.address], 1n, "InvalidThreshold", [1n, 2n]);
    await bad([v0.address, v1.address], 3n, "InvalidThreshold", [3n, 2n]);
    const fresh = randomWallet();
    const set = sortByAddress([v0, fresh]);
    const r = { validators: set.map((w) => w.address), threshold: 2n, nonce: 0n };
    await (await f.bridge.rotateValidators(r.validators, 2n, signRotation(f.domain, r, [v0, v1]))).wait();
    const r2 = { validators: [v2.address], threshold: 1n, nonce: 1n };
    await expectRevert(
      f.bridge.rotateValidators(r2.validators, 1n, signRotation(f.domain, r2, [v0])),
      f.bridge, "InsufficientSignatures", [1n, 2n],
    );
    await (await f.bridge.rotateValidators(r2.validators, 1n, signRotation(f.domain, r2, set))).wait();
    assert.deepEqual([...(await f.bridge.validators())], [v2.address]);
  });

  it("computes the rotation digest TypedDataEncoder computes", async () => {
    const f = await deployBridge();
    const r = { validators: makeValidators(4).map((v) => v.address), threshold: 3n, nonce: 9n };
    const onChain = await f.bridge.rotationDigest(r.validators, r.threshold, r.nonce);
    assert.equal(onChain, TypedDataEncoder.hash(f.domain, TYPES.Rotation, r));
    const domain = { ...f.domain, name: "DeltaBridge", version: "1", verifyingContract: f.domain.verifyingContract as Address } as const;
    // Checksummed wallet addresses are 0x strings, which is what Rotation's Address type names.
    assert.equal(onChain, hashRotation(domain, r as Rotation));
  });
});

describe("DeltaBridge escape hatch", () => {
  it("refuses freeze before the delay, allows it after, then only withdrawals work", async () => {
    const f = await deployBridge({ escapeDelay: 1000n });
    const { alice, bob, mike } = await withDeposits(f);
    const token = await f.token.getAddress();
    const [, aliceSigner, bobSigner] = f.signers;
    assert.ok(aliceSigner && bobSigner);
    await (await f.token.mint(aliceSigner.address, 50n)).wait();
    await (await asSigner(f.token, aliceSigner).approve(await f.bridge.getAddress(), 50n)).wait();
    await (await asSigner(f.bridge, aliceSigner).depositToken(token, 50n)).wait();
    const s: SettlementInput = {
      ...talkSettlement(alice, bob, mike),
      deltas: [...talkSettlement(alice, bob, mike).deltas, { account: bob, token: ETH, amount: -10n }],
      payouts: [{ account: bob, token: ETH, amount: 10n }],
    };
    await (await f.bridge.settle(s, signSettlement(f.domain, s, f.validators))).wait();
    const settledAt = await f.bridge.lastSettledAt();

    await expectRevert(f.bridge.freeze(), f.bridge, "EscapeDelayNotPassed");
    // At exactly lastSettledAt + delay the hatch is still shut: strictly later is required.
    await f.connection.networkHelpers.time.setNextBlockTimestamp(settledAt + 1000n);
    await expectRevert(f.bridge.freeze({ gasLimit: 100_000n }), f.bridge, "EscapeDelayNotPassed", [settledAt + 1000n, settledAt + 1000n]);
    await f.connection.networkHelpers.time.increaseTo(settledAt + 1001n);
    await (await f.bridge.freeze()).wait();
    assert.equal(await f.bridge.frozen(), true);
    assert.equal((await f.bridge.queryFilter(f.bridge.filters.Frozen!())).length, 1);

    const s2 = talkSettlement(alice, bob, mike, 2n);
    await expectRevert(f.bridge.settle(s2, signSettlement(f.domain, s2, f.validators)), f.bridge, "BridgeFrozen");
    const r = { validators: f.validators.map((v) => v.address), threshold: 3n, nonce: 0n };
    await expectRevert(f.bridge.rotateValidators(r.validators, 3n, signRotation(f.domain, r, f.validators)), f.bridge, "BridgeFrozen");
    await expectRevert(asSigner(f.bridge, aliceSigner).deposit({ value: 1n }), f.bridge, "BridgeFrozen");
    await expectRevert(asSigner(f.bridge, aliceSigner).depositToken(token, 1n), f.bridge, "BridgeFrozen");
    await expectRevert(f.bridge.freeze(), f.bridge, "BridgeFrozen");

    // Bob leaves with settled balance (103 - 10) plus withdrawable (10); Alice with ETH and tokens.
    const bobBefore = await f.ethers.provider.getBalance(bob);
    const rc = await (await asSigner(f.bridge, bobSigner).withdraw(ETH)).wait();
    assert.equal(await f.ethers.provider.getBalance(bob), bobBefore + 103n - BigInt(rc.gasUsed) * BigInt(rc.gasPrice));
    assert.equal(await f.bridge.balanceOf(ETH, bob), 0n);
    assert.equal(await f.bridge.withdrawable(ETH, bob), 0n);
    await (await asSigner(f.bridge, aliceSigner).withdraw(token)).wait();
    assert.equal(await f.token.balanceOf(alice), 50n);
    await expectRevert(asSigner(f.bridge, aliceSigner).withdraw(token), f.bridge, "NothingToWithdraw", [alice, token]);
  });

  it("a landed chunk restarts the escape delay", async () => {
    const f = await deployBridge({ escapeDelay: 1000n });
    const { alice, bob, mike } = await withDeposits(f);
    const deployedAt = await f.bridge.lastSettledAt();
    await f.connection.networkHelpers.time.increaseTo(deployedAt + 900n);
    const s = talkSettlement(alice, bob, mike);
    await (await f.bridge.settle(s, signSettlement(f.domain, s, f.validators))).wait();
    const settledAt = await f.bridge.lastSettledAt();
    assert.ok(settledAt >= deployedAt + 900n);
    await f.connection.networkHelpers.time.increaseTo(deployedAt + 1100n);
    await expectRevert(f.bridge.freeze(), f.bridge, "EscapeDelayNotPassed");
    assert.equal(await f.bridge.frozen(), false);
  });
});

describe("DeltaBridge types", () => {
  it("signs with the protocol's Settlement type (nested Delta[] and Payout[])", () => {
    assert.equal(
      TypedDataEncoder.from(TYPES.Settlement).encodeType("Settlement"),
      "Settlement(uint64 epoch,uint32 chunk,uint32 chunks,bytes32 transfersRoot,Delta[] deltas,Payout[] payouts)" +
        "Delta(address account,address token,int256 amount)Payout(address account,address token,uint256 amount)",
    );
  });
});
