// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue #6, Deposits: the watcher survives an RPC outage (retries with backoff, resumes from the
 * last credited block kept in storage). On the real devnet pieces (Ganache + 3 node processes),
 * with a TCP proxy of this process (node:net) between the nodes and Ganache's RPC:
 * 1. a deposit made while the proxy works is credited once on every node;
 * 2. the proxy stalls until the leader's watcher has a request in it, then is cut (listener
 *    closed, open connections reset): the watcher's request is reset, then its connections refused. Two deposits land on Ganache directly, more blocks are mined; over several
 *    failed, backed-off retries of the leader's watcher no node credits anything and the watcher's
 *    saved cursor stays before the first missed deposit;
 * 3. the proxy comes back on the same port: both deposits are credited exactly once on every
 *    node, totals stay exact after more blocks and a later deposit, and a transfer still commits;
 * 4. the proxy hangs (connections accepted, requests read, never answered, nothing reset) while a
 *    deposit lands on Ganache: the leader's watcher request times out after RPC_TIMEOUT_MS and is
 *    logged as a retry, nothing is credited meanwhile; once the proxy answers again the deposit is
 *    credited exactly once on every node.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Wallet, type TransactionReceipt } from "ethers";
import { connectAs, RPC_TIMEOUT_MS } from "../../../src/chain/index.ts";
import { startDevnetChain, type DevnetChain } from "../../../src/devnet/chain.ts";
import { nodeOptionsFor, startDevnetNodes, type DevnetNodes } from "../../../src/devnet/nodes.ts";
import { NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";
import { getJson, pollUntil, post, TEST_ADMIN_TOKEN, logLines } from "./devnetFixture.ts";

/** The watcher's log line for a failed poll (src/node/depositWatcher.ts); there is no metric for it. */
const RETRY_MSG = "deposit watcher: RPC failed; retrying";
/** The devnet nodes' chain.pollMs (src/devnet/nodes.ts): the watcher's first backoff is twice it. */
const POLL_MS = 200;

/**
 * A TCP proxy to Ganache's RPC that can stall (requests swallowed, unanswered), be cut (listener
 * closed, every open connection reset) and be restored on the same port, or hang (connections
 * accepted and read, never answered nor reset) and resume.
 */
interface RpcProxy {
  readonly url: string;
  /** Connections accepted so far (each one forwarded to Ganache). */
  readonly accepted: number;
  /** Request bytes swallowed while stalled (a request that will get no answer). */
  readonly swallowed: number;
  /** Sockets of the proxy (either side) not yet destroyed. */
  readonly liveSockets: number;
  /** From now on nothing is forwarded either way: requests hang, unanswered. */
  stall(): void;
  /**
   * A hung RPC: like stall(), and new connections are accepted and read but never connected to
   * Ganache, answered or closed. Nothing is reset.
   */
  hang(): void;
  /**
   * Forwards again (after hang()). Connections accepted while hung stay held, unanswered (their
   * clients have given up on them) until cut()/close().
   */
  resume(): void;
  /** Closes the listener (new connections are refused) and resets every open connection. */
  cut(): Promise<void>;
  /** Listens again on the same port, forwarding again. */
  restore(): Promise<void>;
  /** cut() for good. */
  close(): Promise<void>;
}

async function startRpcProxy(targetPort: number, host = "127.0.0.1"): Promise<RpcProxy> {
  const open = new Set<Socket>();
  /** Every socket ever opened by the proxy, to check in teardown that none is left. */
  const all = new Set<Socket>();
  let server: Server | undefined;
  let accepted = 0;
  let swallowed = 0;
  let stalled = false;
  let hanging = false;
  let port = 0;
  const onConnection = (client: Socket): void => {
    accepted++;
    all.add(client);
    if (hanging) {
      // Held: read (so the request is fully sent) and counted, never answered; only close() ends it.
      open.add(client);
      const forget = (): void => {
        client.destroy();
        open.delete(client);
      };
      client.on("error", forget);
      client.on("close", forget);
      client.on("data", (chunk: Buffer) => {
        swallowed += chunk.length;
      });
      return;
    }
    const upstream = connect(targetPort, host);
    all.add(upstream);
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    // While hung, Ganache closing its side (its keep-alive timeout ends an idle connection after
    // 5 s) must not reach the client either: the client's connection is then held, like a new one.
    const upstreamGone = (): void => {
      if (!hanging) return drop();
      upstream.destroy();
      open.delete(upstream);
    };
    client.on("error", drop);
    client.on("close", drop);
    upstream.on("error", upstreamGone);
    upstream.on("close", upstreamGone);
    // No pipe(): each chunk checks `stalled` (RPC messages are small; no backpressure needed).
    client.on("data", (chunk: Buffer) => {
      if (stalled || upstream.destroyed) swallowed += chunk.length;
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!stalled) client.write(chunk);
    });
  };
  const listen = (p: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer(onConnection);
      s.once("error", reject);
      s.listen(p, host, () => {
        s.off("error", reject);
        server = s;
        port = (s.address() as AddressInfo).port; // a TCP server's address
        resolve();
      });
    });
  const cut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    // RST to the nodes' side: ECONNRESET on a request in flight or a kept-alive socket. Not on a
    // socket already ended (its peer's FIN made Node end our side: a shutdown is pending): libuv
    // refuses to reset such a socket (uv_tcp_close_reset: EINVAL), Node still marks the handle
    // closing, and it is never closed, so the process spun at 100% CPU in its exit cleanup
    // forever (seen in CI; a gdb backtrace showed Environment::CleanupHandles). It gets a FIN.
    for (const sock of open) {
      if (sock.writableEnded || sock.readyState !== "open") sock.destroy();
      else sock.resetAndDestroy();
    }
    open.clear();
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen(0);
  return {
    get url() {
      return `http://${host}:${port}`;
    },
    get accepted() {
      return accepted;
    },
    get swallowed() {
      return swallowed;
    },
    get liveSockets() {
      return [...all].filter((sock) => !sock.destroyed).length;
    },
    stall: () => {
      stalled = true;
    },
    hang: () => {
      stalled = true;
      hanging = true;
    },
    resume: () => {
      stalled = false;
      hanging = false;
    },
    cut,
    restore: async () => {
      if (server !== undefined) return;
      stalled = false;
      hanging = false;
      // The port was ours a moment ago; retry briefly should the kernel not hand it back at once.
      const deadline = Date.now() + 5_000;
      for (;;) {
        try {
          return await listen(port);
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
    close: cut,
  };
}

/** The depositIds credited in a node's log ("deposit credited" is logged once per credit applied). */
function creditedIds(path: string): string[] {
  return logLines(path)
    .filter((l) => l["msg"] === "deposit credited")
    .map((l) => String(l["depositId"]));
}

/** The watcher's saved cursor (first block not yet scanned), or undefined before it wrote one. */
function savedCursor(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { nextBlock: number }).nextBlock; // the watcher's own file
  } catch {
    return undefined;
  }
}

describe("deposits across an RPC outage (Ganache behind a TCP proxy + 3 node processes)", { timeout: 120_000 }, () => {
  let dir: string | undefined;
  let chain: DevnetChain | undefined;
  let proxy: RpcProxy | undefined;
  let cluster: DevnetNodes | undefined;
  let rests: string[] = [];
  let user: Wallet;
  /** Every deposit made so far: amount and depositId. */
  const deposits: { amount: bigint; id: string; block: number }[] = [];

  const nativeBalance = async (rest: string, account: string): Promise<string | undefined> =>
    ((await getJson(`${rest}/v1/accounts/${account}`))["balances"] as Record<string, string> | undefined)?.[NATIVE_TOKEN]; // the account view's balances map
  const balances = (account: string): Promise<(string | undefined)[]> => Promise.all(rests.map((r) => nativeBalance(r, account)));
  const leaderIndex = async (): Promise<number> => {
    const status = await getJson(`${rests[0]}/v1/status`);
    const i = cluster!.nodes.findIndex((n) => n.address === status["leader"]);
    assert.ok(i >= 0, `a leader is named: ${JSON.stringify(status)}`);
    return i;
  };
  const cursorFile = (i: number): string => join(dirname(cluster!.nodes[i]!.configPath), `node${i + 1}`, "deposit-cursor.json");
  /** Deposits `amount` wei straight on Ganache (never through the proxy) and records its depositId. */
  const deposit = async (amount: bigint): Promise<void> => {
    const receipt = (await (await connectAs(chain!.bridge, user).deposit({ value: amount })).wait()) as TransactionReceipt;
    const ids = receipt.logs.map((l) => chain!.bridge.interface.parseLog(l)).filter((e) => e?.name === "Deposited").map((e) => String(e!.args.getValue("depositId")));
    assert.equal(ids.length, 1, "one Deposited event");
    deposits.push({ amount, id: ids[0]!, block: receipt.blockNumber });
  };
  const total = (): string => deposits.reduce((s, d) => s + d.amount, 0n).toString();
  const mine = async (blocks: number): Promise<void> => {
    for (let i = 0; i < blocks; i++) await chain!.provider.send("evm_mine", []);
  };
  /** Every node's log shows each depositId made so far credited exactly once, and nothing else. */
  const assertCreditedOnce = (): void => {
    const expected = deposits.map((d) => d.id).sort();
    for (const node of cluster!.nodes) assert.deepEqual(creditedIds(node.logPath).sort(), expected, `credits in ${node.logPath}`);
  };

  before(async () => {
    const tmp = mkdtempSync(join(tmpdir(), "delta-deposit-outage-"));
    dir = tmp;
    chain = await startDevnetChain();
    proxy = await startRpcProxy(chain.ganache.port);
    // The nodes reach Ganache only through the proxy. No automatic seal within the test: the
    // settler (the other RPC user) then stays idle and only the deposit watcher talks to the chain.
    cluster = await startDevnetNodes({ dir: tmp, ...nodeOptionsFor(chain), rpcUrl: proxy.url, adminToken: TEST_ADMIN_TOKEN, epoch: { intervalMs: 600_000 } });
    rests = cluster.nodes.map((n) => n.rest);
    user = new Wallet(chain.users[3]!.privateKey, chain.provider);
  });

  after(async () => {
    // Each step runs even if an earlier one failed, so nothing is left behind.
    const steps = [async () => cluster?.stop(), async () => proxy?.close(), async () => chain?.close()];
    const errors: unknown[] = [];
    for (const step of steps) await step().catch((e: unknown) => errors.push(e));
    // The connections held by the hang phase (and every other) are gone with the proxy.
    if (proxy !== undefined && proxy.liveSockets !== 0) errors.push(new Error(`${proxy.liveSockets} proxy socket(s) left open`));
    for (const node of cluster?.nodes ?? []) assert.ok(node.process.exitCode !== null || node.process.signalCode !== null, `node pid ${node.pid} exited`);
    if (dir !== undefined) {
      // DELTA_KEEP_TEST_DIR=1 keeps the configs, data and node logs for a post-mortem.
      if (process.env["DELTA_KEEP_TEST_DIR"] === undefined) rmSync(dir, { recursive: true, force: true });
      else process.stderr.write(`kept ${dir}\n`);
    }
    if (errors.length > 0) throw errors[0];
  });

  it("credits a deposit made while the RPC path works, once on every node, through the proxy", async () => {
    await deposit(1_000_000n);
    for (const rest of rests) {
      await pollUntil(`the first credit on ${rest}`, 20_000, async () => ((await nativeBalance(rest, user.address)) === total() ? true : undefined));
    }
    assert.ok(proxy!.accepted > 0, "the nodes reach Ganache through the proxy");
    assertCreditedOnce();
  });

  it("credits deposits made during an outage exactly once after the RPC comes back", async () => {
    const leader = await leaderIndex();
    const leaderLog = cluster!.nodes[leader]!.logPath;
    assert.equal(logLines(leaderLog).filter((l) => l["msg"] === RETRY_MSG).length, 0, "no RPC failure before the outage");
    // The leader's saved cursor is past the first deposit (it advances once the credit commits).
    const cursorAtCut = await pollUntil("the leader's saved cursor past the first deposit", 10_000, async () => {
      const c = savedCursor(cursorFile(leader));
      return c !== undefined && c > deposits[0]!.block ? c : undefined;
    });

    // First a stall: the leader's watcher (the only RPC user now) sends its next request into
    // the proxy and waits for an answer that never comes; then the cut resets that very request
    // and refuses every new connection. Both failure kinds of an outage, in a known order.
    proxy!.stall();
    await pollUntil("a watcher request stalled in the proxy", 5_000, async () => (proxy!.swallowed > 0 ? true : undefined));
    await proxy!.cut();
    const cutAt = Date.now();
    await deposit(20_000n);
    await deposit(300n);
    await mine(3);
    const missedFrom = deposits[1]!.block;
    assert.ok(cursorAtCut <= missedFrom, `the cursor ${cursorAtCut} is not past the first missed deposit's block ${missedFrom}`);

    // The outage window. No fixed sleep: we watch until the leader's watcher has logged at least
    // three failed polls (backoff 400, 800, 1,600 ms: about 1.2 s after the cut) and the missed
    // deposits have had 2 s on a confirmed chain, checking on every look that no node credits
    // anything and the saved cursor does not move past them. A deadline bounds the wait.
    const confirmedAt = Date.now();
    const windowDeadline = confirmedAt + 20_000;
    let retries: Record<string, unknown>[];
    for (;;) {
      const bal = await balances(user.address);
      assert.deepEqual(bal, rests.map(() => "1000000"), `balances during the outage, ${Date.now() - cutAt} ms after the cut`);
      const c = savedCursor(cursorFile(leader));
      assert.ok(c !== undefined && c <= missedFrom, `the saved cursor ${c} stays at or before block ${missedFrom} during the outage`);
      retries = logLines(leaderLog).filter((l) => l["msg"] === RETRY_MSG);
      if (retries.length >= 3 && Date.now() - confirmedAt >= 2_000) break;
      assert.ok(Date.now() < windowDeadline, `the watcher logged ${retries.length} retries in 20 s of outage`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Exponential backoff: failures count 1, 2, 3, … and each wait doubles (pollMs × 2^failures).
    retries.forEach((l, k) => {
      assert.equal(l["failures"], k + 1, JSON.stringify(l));
      assert.equal(l["retryMs"], Math.min(30_000, POLL_MS * 2 ** Math.min(k + 1, 6)), JSON.stringify(l));
    });
    const reasons = retries.map((l) => String(l["reason"]));
    assert.match(reasons[0]!, /ECONNRESET|socket hang up/i, `the stalled request is reset: ${JSON.stringify(reasons)}`);
    assert.ok(reasons.slice(1).every((r) => /ECONNREFUSED/.test(r)), `then connections are refused: ${JSON.stringify(reasons)}`);
    assert.equal(await leaderIndex(), leader, "the leader did not change during the outage");

    const acceptedBefore = proxy!.accepted;
    await proxy!.restore();
    const restoredAt = Date.now();
    // The next retry comes within the last logged backoff (at most 12.8 s here); 30 s is ample.
    for (const rest of rests) {
      await pollUntil(`both missed deposits on ${rest}`, 30_000, async () => ((await nativeBalance(rest, user.address)) === total() ? true : undefined));
    }
    const recoveredMs = Date.now() - restoredAt;
    assert.ok(proxy!.accepted > acceptedBefore, "the watcher reconnected through the restored proxy");
    const resumedAt = await pollUntil("the leader's saved cursor past the missed deposits", 10_000, async () => {
      const c = savedCursor(cursorFile(leader));
      return c !== undefined && c > deposits[2]!.block ? c : undefined;
    });
    process.stdout.write(`# outage: ${retries.length}+ retries (${retries.map((l) => `${String(l["retryMs"])} ms: ${String(l["reason"])}`).join("; ")}), credited ${recoveredMs} ms after restore; cursor ${cursorAtCut} -> ${resumedAt}\n`);
    assertCreditedOnce();
  });

  it("keeps every credit exact after more blocks and a later deposit, and still commits a transfer", async () => {
    await mine(3);
    await deposit(4_000n);
    await mine(2);
    for (const rest of rests) {
      await pollUntil(`the later deposit on ${rest}`, 20_000, async () => ((await nativeBalance(rest, user.address)) === total() ? true : undefined));
    }
    // Once the leader's saved cursor is past the head, every block so far (the outage ones too) has
    // been scanned since the restore; totals are still exact (distinct amounts: a double credit
    // shows) and each depositId is logged credited once per node.
    const leader = await leaderIndex();
    const head = await chain!.provider.getBlockNumber();
    await pollUntil("the leader's scan at the head", 10_000, async () => ((savedCursor(cursorFile(leader)) ?? 0) > head ? true : undefined));
    assert.equal(total(), "1024300");
    assert.deepEqual(await balances(user.address), rests.map(() => total()));
    assertCreditedOnce();

    // Healthy: a transfer through a follower commits and every node applies it.
    const bob = chain!.users[4]!.address;
    const domainJson = await getJson(`${rests[0]}/v1/domain`);
    const domain = { name: "DeltaBridge", version: "1", chainId: BigInt(String(domainJson["chainId"])), verifyingContract: chain!.bridgeAddress };
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const msg = { from: user.address, to: bob, token: NATIVE_TOKEN, amount: 100_000n, fee: 1_000n, nonce: 0n, deadline };
    const signature = await user.signTypedData(domain, TYPES.Transfer, msg);
    const follower = rests[(leader + 1) % rests.length]!;
    const sent = await post(`${follower}/v1/transfers`, { ...msg, amount: "100000", fee: "1000", nonce: "0", deadline: deadline.toString(), signature });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body["status"], "committed");
    for (const rest of rests) {
      await pollUntil(`the transfer on ${rest}`, 10_000, async () => ((await nativeBalance(rest, bob)) === "100000" ? true : undefined));
      assert.equal(await nativeBalance(rest, user.address), String(1_024_300 - 100_000 - 1_000), rest);
    }
    assertCreditedOnce();
  });

  it("times out a request the RPC accepts but never answers, retries, and credits the deposit once after it answers again", async () => {
    const leader = await leaderIndex();
    const leaderLog = cluster!.nodes[leader]!.logPath;
    const retryLines = (): Record<string, unknown>[] => logLines(leaderLog).filter((l) => l["msg"] === RETRY_MSG);
    const retriesBefore = retryLines().length;
    const balancesBefore = await balances(user.address);
    assert.deepEqual(balancesBefore, rests.map(() => balancesBefore[0]), "every node agrees before the hang");
    const swallowedBefore = proxy!.swallowed;

    // The hang: the leader's watcher (the only RPC user) sends its next poll into the proxy, which
    // reads it and never answers nor resets. Only the request timeout can end that request.
    proxy!.hang();
    const hungAt = Date.now();
    await deposit(50_000n);
    const hungDeposit = deposits.at(-1)!;
    await pollUntil("a watcher request held by the hung proxy", 5_000, async () => (proxy!.swallowed > swallowedBefore ? true : undefined));

    // Watch the leader's log for the timed-out poll (RPC_TIMEOUT_MS, plus at most a poll interval),
    // checking on every look that nothing is credited and the saved cursor stays at the deposit.
    const hangDeadline = hungAt + RPC_TIMEOUT_MS + 15_000;
    let timedOut: Record<string, unknown>[];
    for (;;) {
      timedOut = retryLines().slice(retriesBefore);
      if (timedOut.length > 0) break;
      assert.deepEqual(await balances(user.address), balancesBefore, `balances during the hang, ${Date.now() - hungAt} ms in`);
      const c = savedCursor(cursorFile(leader));
      assert.ok(c !== undefined && c <= hungDeposit.block, `the saved cursor ${c} stays at or before block ${hungDeposit.block} during the hang`);
      assert.ok(Date.now() < hangDeadline, `no retry logged ${Date.now() - hungAt} ms into the hang`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Answer again at once: the watcher's next try is due 2 × pollMs after the logged failure.
    proxy!.resume();
    const resumedAt = Date.now();

    const line = timedOut[0]!;
    const reason = String(line["reason"]);
    assert.match(reason, /timeout/i, `the hung request times out: ${JSON.stringify(line)}`);
    assert.doesNotMatch(reason, /ECONNRESET|ECONNREFUSED|hang up/i, "the hang resets nothing");
    // The first failure since the last good poll, backed off by 2 × pollMs.
    assert.equal(line["failures"], 1, JSON.stringify(line));
    assert.equal(line["retryMs"], POLL_MS * 2, JSON.stringify(line));
    // It took the request timeout to notice (the hung request may have been sent just before hang()).
    const detectedMs = Number(line["time"]) - hungAt;
    assert.ok(detectedMs >= RPC_TIMEOUT_MS - 1_000, `the retry came ${detectedMs} ms into the hang, not after the ${RPC_TIMEOUT_MS} ms timeout`);
    assert.ok(detectedMs <= RPC_TIMEOUT_MS + 5_000, `the retry came ${detectedMs} ms into the hang`);

    // Credited exactly once on every node. Normally within a poll or two of the resume; should
    // the next try still have gone into the hang, it takes another timeout (the deadline allows it).
    const expected = (BigInt(balancesBefore[0]!) + hungDeposit.amount).toString();
    for (const rest of rests) {
      await pollUntil(`the deposit made during the hang on ${rest}`, RPC_TIMEOUT_MS + 10_000, async () => ((await nativeBalance(rest, user.address)) === expected ? true : undefined));
    }
    const creditedMs = Date.now() - resumedAt;
    await pollUntil("the leader's saved cursor past the hung deposit", 10_000, async () => ((savedCursor(cursorFile(leader)) ?? 0) > hungDeposit.block ? true : undefined));
    assert.deepEqual(await balances(user.address), rests.map(() => expected));
    assert.equal(await leaderIndex(), leader, "the leader did not change during the hang");
    assertCreditedOnce();
    const hangRetries = retryLines().slice(retriesBefore);
    process.stdout.write(`# hang: retry logged ${detectedMs} ms after hang() (failures ${String(line["failures"])}, retryMs ${String(line["retryMs"])}, reason ${JSON.stringify(reason)}); ${hangRetries.length} retry line(s) in all; credited ${creditedMs} ms after resume\n`);
  });
});
