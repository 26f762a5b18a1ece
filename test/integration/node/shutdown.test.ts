// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue #6, graceful shutdown on SIGTERM ("stop intake, finish in-flight commits, close
 * storage"), on the real devnet pieces (Ganache + 3 node processes):
 * - transfers are made to be in flight at a node: every other node is frozen (SIGSTOP), so none
 *   can commit, and the node is seen holding each one as `pending` (GET /v1/transfers/:hash);
 * - SIGTERM to that node; once it logs "shutting down", a new transfer to it is not taken (503 or
 *   connection refused) and the others are thawed (SIGCONT), so the in-flight ones can commit
 *   while it drains;
 * - it exits 0 within a deadline, after logging "stopped"; every in-flight request got an answer,
 *   committed (200) or 503 (retry later), never a cut connection;
 * - restarted on the same data directory, it reopens its own log (no entry lost, no torn tail)
 *   and catches up: its state hash equals the others'; every committed transfer is there once.
 * Once for the leader, once for a follower.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it, type TestContext } from "node:test";
import { TypedDataEncoder, Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import type { DevnetChain } from "../../../src/devnet/chain.ts";
import { waitForClusterReady, type DevnetNodes } from "../../../src/devnet/nodes.ts";
import { NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, post, startTestDevnet, TEST_ADMIN_TOKEN, type Json, type TestDevnet } from "./devnetFixture.ts";

/**
 * From SIGTERM to the process's exit. NodeRuntime.stop() drains for at most 5 s (its default
 * drainMs), then closes the deposit watcher, the consensus transport, SQLite and the signature
 * worker: well under a second. 15 s leaves room for two cores shared with other work.
 */
const EXIT_DEADLINE_MS = 15_000;
const DEPOSIT = 1_000n;

interface LogLine {
  readonly msg?: string;
  readonly [field: string]: unknown;
}

function logLines(path: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of readFileSync(path, "utf8").split("\n")) {
    if (!text.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(text) as LogLine); // pino writes one JSON object per line
    } catch {
      // a line cut by the crash of an earlier run of the node: not ours to judge here
    }
  }
  return lines;
}

async function stateOf(rest: string): Promise<{ stateHash: string; appliedIndex: number }> {
  const r = await fetch(`${rest}/v1/admin/state`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  assert.equal(r.status, 200);
  const body = (await r.json()) as Json; // the state view
  return { stateHash: String(body["stateHash"]), appliedIndex: Number(body["appliedIndex"]) };
}

describe("graceful shutdown on SIGTERM with transfers in flight (Ganache + 3 node processes)", { timeout: 300_000 }, () => {
  let devnet: TestDevnet;
  let chain: DevnetChain;
  let cluster: DevnetNodes;
  let rests: string[] = [];
  let domain: { name: string; version: string; chainId: bigint; verifyingContract: string };
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  /** Nodes this test froze: thawed in `after` whatever happens, so that stop() can end them. */
  const frozen = new Set<number>();

  /** A signed transfer of 7 wei to user 14, and its hash (the EIP-712 digest, PROTOCOL.md §1). */
  async function sign(w: Wallet, nonce: bigint): Promise<{ body: Json; hash: string }> {
    const t = { from: w.address, to: chain.users[14]!.address, token: NATIVE_TOKEN, amount: 7n, fee: 0n, nonce, deadline };
    const signature = await w.signTypedData(domain, TYPES.Transfer, t);
    const body = { ...t, amount: "7", fee: "0", nonce: nonce.toString(), deadline: deadline.toString(), signature };
    return { body, hash: TypedDataEncoder.hash(domain, TYPES.Transfer, t) };
  }

  async function leaderIndex(): Promise<number> {
    await waitForClusterReady(rests, 60_000);
    const status = await getJson(`${rests[0]}/v1/status`);
    const i = cluster.nodes.findIndex((n) => n.address === status["leader"]);
    assert.ok(i >= 0, JSON.stringify(status));
    return i;
  }

  before(async () => {
    devnet = await startTestDevnet("shutdown");
    ({ chain, cluster } = devnet);
    rests = devnet.rests;
    domain = { name: "DeltaBridge", version: "1", chainId: BigInt(chain.chainId), verifyingContract: chain.bridgeAddress };
    // Users 0..13 send (one transfer each, nonce 0); user 14 receives.
    for (const u of chain.users.slice(0, 14)) {
      await (await connectAs(chain.bridge, new Wallet(u.privateKey, chain.provider)).deposit({ value: DEPOSIT })).wait();
    }
    for (const rest of rests) {
      for (const u of chain.users.slice(0, 14)) {
        await pollUntil(`credit of ${u.address} on ${rest}`, 30_000, async () => {
          const a = await getJson(`${rest}/v1/accounts/${u.address}`);
          return (a["balances"] as Record<string, string>)[NATIVE_TOKEN] === DEPOSIT.toString() ? true : undefined;
        });
      }
    }
  });
  after(async () => {
    for (const i of frozen) cluster?.nodes[i]?.process.kill("SIGCONT");
    await devnet?.stop();
  });

  /**
   * SIGTERM to node `target` while the transfers of `senders` are in flight to it, and `late`
   * sends one after it began to stop; then the checks of the file's header.
   */
  async function terminateWithTransfersInFlight(t: TestContext, target: number, senders: Wallet[], late: Wallet): Promise<void> {
    const node = cluster.nodes[target]!;
    const others = [0, 1, 2].filter((i) => i !== target);
    const commitIndexBefore = Number((await getJson(`${node.rest}/v1/status`))["commitIndex"]);
    const signed = await Promise.all(senders.map((w) => sign(w, 0n)));

    // Freeze every other node: the target can take the transfers but no block can commit.
    for (const i of others) {
      cluster.nodes[i]!.process.kill("SIGSTOP");
      frozen.add(i);
    }
    const hashes = signed.map((x) => x.hash);
    const inFlight = signed.map((x) => post(`${node.rest}/v1/transfers`, x.body));
    // In flight: the target holds each one, pending (none can be committed while the others sleep).
    await pollUntil("every transfer pending at the target", 10_000, async () => {
      const views = await Promise.all(hashes.map((h) => getJson(`${node.rest}/v1/transfers/${h}`)));
      return views.every((v) => v["status"] === "pending") ? true : undefined;
    });

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>((resolve) =>
      node.process.once("exit", (code, signal) => resolve({ code, signal, atMs: performance.now() })),
    );
    const linesBefore = logLines(node.logPath).length;
    const termAtMs = performance.now();
    node.process.kill("SIGTERM");
    await pollUntil("the target logs that it is shutting down", 10_000, async () =>
      logLines(node.logPath).slice(linesBefore).some((l) => l.msg === "shutting down") ? true : undefined,
    );
    // Intake is stopped: a new transfer is refused (503) or finds no listener (status 0).
    const lateSigned = await sign(late, 0n);
    const refused = await post(`${node.rest}/v1/transfers`, lateSigned.body);
    assert.ok(refused.status === 503 || refused.status === 0, `a transfer sent to a stopping node: ${refused.status} ${JSON.stringify(refused.body)}`);
    t.diagnostic(`a transfer sent after SIGTERM: ${refused.status === 0 ? "connection refused" : "503"}`);
    // Thaw the others: the in-flight transfers can now commit while the target drains.
    for (const i of others) {
      cluster.nodes[i]!.process.kill("SIGCONT");
      frozen.delete(i);
    }

    const exit = await Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), EXIT_DEADLINE_MS).unref())]);
    assert.ok(exit !== undefined, `the node did not exit within ${EXIT_DEADLINE_MS} ms of SIGTERM`);
    assert.equal(exit.signal, null, "killed by a signal instead of exiting");
    assert.equal(exit.code, 0, `exit code ${exit.code}; see ${node.logPath}`);
    t.diagnostic(`node ${target + 1} exited ${Math.round(exit.atMs - termAtMs)} ms after SIGTERM`);
    const shutdownLog = logLines(node.logPath).slice(linesBefore).map((l) => l.msg);
    assert.ok(shutdownLog.indexOf("stopped") > shutdownLog.indexOf("shutting down"), "the node logged no orderly stop");

    // Every in-flight request got an answer: committed, or 503 (retry later); none was cut off.
    const answers = await Promise.all(inFlight);
    for (const [k, a] of answers.entries()) {
      assert.ok(a.status === 200 || a.status === 503, `in-flight transfer ${k}: ${a.status} ${JSON.stringify(a.body)}`);
      if (a.status === 200) assert.equal(a.body["hash"], hashes[k]);
    }
    const committed = answers.filter((a) => a.status === 200).length;
    t.diagnostic(`${committed} of ${answers.length} in-flight transfers answered committed, the rest 503`);
    // The drain finishes in-flight commits: with the others thawed within the drain, they commit.
    assert.ok(committed > 0, `no in-flight transfer was committed during the drain: ${JSON.stringify(answers.map((a) => a.body))}`);

    // A 503 means "retry later": the client retries on a live node until it is answered for good.
    const live = others.map((i) => rests[i]!);
    for (const [k, a] of answers.entries()) {
      if (a.status !== 503) continue;
      await pollUntil(`transfer ${k} answered for good`, 30_000, async () => {
        const r = await post(`${live[k % live.length]}/v1/transfers`, signed[k]!.body);
        // 409 DUPLICATE: it had committed after all (the 503 only said the node stopped waiting).
        return r.status === 200 || (r.status === 409 && (r.body["error"] as Json)["code"] === "DUPLICATE") ? true : undefined;
      });
    }

    // Restart on the same data directory: its own log comes back whole.
    await cluster.restart(target);
    await waitForClusterReady(rests, 60_000);
    const opened = logLines(node.logPath)
      .slice(linesBefore)
      .filter((l) => l.msg === "replicated log opened")
      .at(-1);
    assert.ok(opened !== undefined, "the restarted node logged no log opening");
    assert.equal(opened["droppedTail"], 0, JSON.stringify(opened));
    assert.ok(Number(opened["lastIndex"]) >= commitIndexBefore, `reopened at ${String(opened["lastIndex"])}, below the ${commitIndexBefore} committed before SIGTERM`);

    // It catches up: the same state as the others, every transfer applied once, the late one never.
    const leaderRest = rests[await leaderIndex()]!;
    const commitIndex = Number((await getJson(`${leaderRest}/v1/status`))["commitIndex"]);
    const states = await pollUntil("every node at the same state", 30_000, async () => {
      const s = await Promise.all(rests.map(stateOf));
      return s.every((x) => x.appliedIndex >= commitIndex && x.stateHash === s[0]!.stateHash) ? s : undefined;
    });
    assert.equal(new Set(states.map((s) => s.stateHash)).size, 1);
    for (const rest of rests) {
      for (const [k, w] of senders.entries()) {
        const a = await getJson(`${rest}/v1/accounts/${w.address}`);
        assert.equal(a["nonce"], "1", `${w.address} on ${rest}`);
        assert.deepEqual(a["balances"], { [NATIVE_TOKEN]: (DEPOSIT - 7n).toString() }, `${w.address} on ${rest}`);
        const view = await getJson(`${rest}/v1/transfers/${hashes[k]!}`);
        assert.equal(view["status"], "committed", `${hashes[k]} on ${rest}`);
      }
      const l = await getJson(`${rest}/v1/accounts/${late.address}`);
      assert.equal(l["nonce"], "0", `the transfer sent to the stopping node was applied on ${rest}`);
      assert.deepEqual(l["balances"], { [NATIVE_TOKEN]: DEPOSIT.toString() });
    }
  }

  it("the leader: exits 0 after answering what was in flight, restarts on its data and catches up", async (t) => {
    const senders = chain.users.slice(0, 6).map((u) => new Wallet(u.privateKey));
    await terminateWithTransfersInFlight(t, await leaderIndex(), senders, new Wallet(chain.users[12]!.privateKey));
  });

  it("a follower: exits 0 after answering what was in flight, restarts on its data and catches up", async (t) => {
    const senders = chain.users.slice(6, 12).map((u) => new Wallet(u.privateKey));
    const follower = ((await leaderIndex()) + 1) % 3;
    await terminateWithTransfersInFlight(t, follower, senders, new Wallet(chain.users[13]!.privateKey));
  });
});
