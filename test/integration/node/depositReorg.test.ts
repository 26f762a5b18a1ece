// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue 15, "Deposits trust one RPC's latest view": chain reorganisations, on a real Ganache
 * (evm_snapshot / evm_revert replace the chain after a deposit with another fork) and 3 node
 * processes.
 *
 * 1. Credited at 1 confirmation, then reorganised: Alice's deposit (id 0) is credited; the chain is
 *    replaced by a fork where Bob's deposit takes id 0 and Carol's id 1. The watcher sees a
 *    scanned block change, rescans, finds id 0 with other contents: nothing of the new fork is
 *    credited (before the fix Carol's id 1 was credited and Bob's deposit refused as a duplicate,
 *    silently), every node's ledger records the conflict (delta_deposit_conflicts 1, equal state
 *    hashes), the leader logs the error, and later deposits are not credited either (halted).
 * 2. With finality configured (4 confirmations) the deposit that the reorganisation removes is
 *    never credited; the new fork's deposits are, once each, after 4 confirmations.
 * 3. finality "finalized" on Ganache, whose `finalized` block is just its latest: nothing is
 *    credited and the leader says why.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { pollUntil } from "./devnetFixture.ts";
import {
  creditedIds,
  depositEth,
  leaderIndex,
  logLines,
  metricValue,
  nativeBalance,
  savedCursor,
  startDepositDevnet,
  stateHashOf,
  type DepositDevnet,
} from "./depositFixture.ts";

const CONFLICT_LINE = "deposit conflict: the chain shows a credited depositId with other contents; not credited, deposits halt";
const HALTED_LINE = /^deposits halted: a depositId was seen with other contents/;

describe("a reorganisation after a credit at 1 confirmation (Ganache evm_revert + 3 node processes)", { timeout: 120_000 }, () => {
  let devnet: DepositDevnet | undefined;
  let alice: Wallet, bob: Wallet, carol: Wallet, dave: Wallet;

  before(async () => {
    devnet = await startDepositDevnet("deposit-reorg", { confirmations: 1 });
    const users = devnet.chain.users;
    [alice, bob, carol, dave] = [0, 1, 2, 3].map((i) => new Wallet(users[i]!.privateKey, devnet!.chain.provider)) as [Wallet, Wallet, Wallet, Wallet];
  });
  after(async () => devnet?.stop());

  it("detects the depositId that now carries other contents, credits nothing of the new fork on any node, and halts", async () => {
    const { chain, rests, cluster } = devnet!;
    const snapshot = String(await chain.provider.send("evm_snapshot", []));
    const old = await depositEth(chain, alice, 1_000n);
    assert.equal(old.id, 0n);
    for (const rest of rests) await pollUntil(`Alice's deposit on ${rest}`, 20_000, async () => ((await nativeBalance(rest, alice.address)) === "1000" ? true : undefined));

    // The other fork: Alice's deposit never happened; Bob's takes id 0 (same block height), Carol's id 1.
    assert.equal(await chain.provider.send("evm_revert", [snapshot]), true);
    const b = await depositEth(chain, bob, 2_000n);
    const c = await depositEth(chain, carol, 3_000n);
    assert.deepEqual([b.id, c.id, b.block], [0n, 1n, old.block], "the new fork reuses the ids and the height");

    // Every node's ledger records the conflict (it went through the log) and credits neither.
    for (const rest of rests) await pollUntil(`the conflict on ${rest}`, 20_000, async () => ((await metricValue(rest, "delta_deposit_conflicts")) === 1 ? true : undefined));
    const leader = await leaderIndex(devnet!);
    const leaderLog = cluster.nodes[leader]!.logPath;
    const conflictLines = logLines(leaderLog).filter((l) => l["msg"] === CONFLICT_LINE);
    assert.ok(conflictLines.length >= 1, "the leader logs the conflict");
    assert.equal(conflictLines[0]!["level"], 50, "as an error");
    assert.equal(conflictLines[0]!["depositId"], "0");
    assert.deepEqual(conflictLines[0]!["seen"], { account: bob.address, token: "0x0000000000000000000000000000000000000000", amount: "2000" });
    assert.ok((await metricValue(rests[leader]!, "delta_deposit_rescans_total", 'reason="reorg"')) >= 1, "the leader counted the reorganisation");

    // More blocks, and a deposit that would be fine on its own: the watcher stays halted.
    const d = await depositEth(chain, dave, 4_000n);
    for (let i = 0; i < 3; i++) await chain.provider.send("evm_mine", []);
    const haltedBefore = logLines(leaderLog).filter((l) => HALTED_LINE.test(String(l["msg"]))).length;
    await pollUntil("the watcher saying again that it is halted", 30_000, async () =>
      logLines(leaderLog).filter((l) => HALTED_LINE.test(String(l["msg"]))).length > haltedBefore ? true : undefined,
    );
    for (const rest of rests) {
      assert.equal(await nativeBalance(rest, alice.address), "1000", `${rest}: the old fork's credit stays (the ledger cannot take it back)`);
      for (const w of [bob, carol, dave]) assert.equal(await nativeBalance(rest, w.address), undefined, `${rest}: nothing after the conflict is credited`);
      assert.equal(await metricValue(rest, "delta_deposit_conflicts"), 1, rest);
    }
    for (const node of cluster.nodes) assert.deepEqual(creditedIds(node.logPath), ["0"], `only Alice's credit in ${node.logPath}`);
    const hashes = await Promise.all(rests.map(stateHashOf));
    assert.ok(hashes.every((h) => h === hashes[0]), `every replica agrees: ${hashes.join(", ")}`);
    assert.ok(savedCursor(devnet!, leader)! <= b.block, `the leader's cursor stays at the conflict (block ${b.block})`);
    assert.ok(d.id === 2n);
  });
});

describe("a reorganisation before the configured finality (4 confirmations)", { timeout: 120_000 }, () => {
  let devnet: DepositDevnet | undefined;
  before(async () => {
    devnet = await startDepositDevnet("deposit-finality", { confirmations: 4 });
  });
  after(async () => devnet?.stop());

  it("never credits the deposit the reorganisation removed, and credits the new fork's deposits once each", async () => {
    const { chain, rests, cluster } = devnet!;
    const [alice, bob, carol] = [4, 5, 6].map((i) => new Wallet(chain.users[i]!.privateKey, chain.provider)) as [Wallet, Wallet, Wallet];
    const snapshot = String(await chain.provider.send("evm_snapshot", []));
    const old = await depositEth(chain, alice, 1_000n);
    // Three confirmations, one short: the leader's watcher scans up to just before Alice's block.
    await chain.provider.send("evm_mine", []);
    await chain.provider.send("evm_mine", []);
    const leader = await leaderIndex(devnet!);
    await pollUntil("the leader's scan up to just before Alice's block", 20_000, async () => (savedCursor(devnet!, leader) === old.block ? true : undefined));
    for (const rest of rests) assert.equal(await nativeBalance(rest, alice.address), undefined, rest);

    assert.equal(await chain.provider.send("evm_revert", [snapshot]), true);
    const b = await depositEth(chain, bob, 2_000n);
    const c = await depositEth(chain, carol, 3_000n);
    assert.deepEqual([b.id, c.id], [0n, 1n]);
    for (let i = 0; i < 3; i++) await chain.provider.send("evm_mine", []);
    for (const rest of rests) {
      await pollUntil(`the new fork's deposits on ${rest}`, 20_000, async () =>
        (await nativeBalance(rest, bob.address)) === "2000" && (await nativeBalance(rest, carol.address)) === "3000" ? true : undefined,
      );
      assert.equal(await nativeBalance(rest, alice.address), undefined, `${rest}: the removed deposit is never credited`);
      assert.equal(await metricValue(rest, "delta_deposit_conflicts"), 0, rest);
    }
    for (const node of cluster.nodes) assert.deepEqual(creditedIds(node.logPath).sort(), ["0", "1"], node.logPath);
  });
});

describe('finality "finalized" on Ganache (its finalized block is its latest)', { timeout: 120_000 }, () => {
  let devnet: DepositDevnet | undefined;
  before(async () => {
    devnet = await startDepositDevnet("deposit-finalized", "finalized");
  });
  after(async () => devnet?.stop());

  it("credits nothing and logs why, since that tag is no finality there", async () => {
    const { chain, rests, cluster } = devnet!;
    const user = new Wallet(chain.users[7]!.privateKey, chain.provider);
    const answer = (await chain.provider.send("eth_getBlockByNumber", ["finalized", false])) as { number: string };
    assert.equal(Number(answer.number), await chain.provider.getBlockNumber(), "Ganache answers `finalized` with its latest block");
    await depositEth(chain, user, 7_000n);
    for (let i = 0; i < 3; i++) await chain.provider.send("evm_mine", []);
    const minedAt = Date.now();
    const leader = await leaderIndex(devnet!);
    // The halted watcher looks again every HALT_RECHECK_MS (10 s): wait for a look after the deposit.
    const line = await pollUntil("the leader's finality error after the deposit", 30_000, async () =>
      logLines(cluster.nodes[leader]!.logPath).find((l) => String(l["msg"]).includes("`finalized` block is just its latest block") && Number(l["time"]) > minedAt),
    );
    assert.equal(line["level"], 50, "an error");
    for (const rest of rests) assert.equal(await nativeBalance(rest, user.address), undefined, rest);
  });
});
