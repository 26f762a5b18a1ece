// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Issue 15, "Deposits trust one RPC's latest view": an RPC that answers `eth_getLogs` with []
 * for blocks it has not synced. On the real devnet pieces (Ganache + 3 node processes), with an
 * HTTP JSON-RPC proxy of this process between the nodes and Ganache that, while lying, forwards
 * everything but replaces every `eth_getLogs` result with []:
 * 1. a deposit made while the proxy lies is not credited, and the leader's watcher does not move
 *    its cursor past it: the bridge's nextDepositId() at the scanned block counts it, so the
 *    watcher logs the gap, counts it (delta_deposit_rescans_total{reason="gap"}) and rescans.
 *    Before the fix the cursor moved past the deposit, which was then never credited.
 * 2. once the proxy stops lying, the deposit is credited exactly once on every node, and a later
 *    deposit too; every replica's state hash agrees.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
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

const GAP_LINE = "deposit watcher: the bridge counts deposits this scan did not find; the cursor stays and the gap is scanned again";

/** A JSON-RPC proxy to `target` that can lie about logs. */
interface LyingRpc {
  readonly url: string;
  /** eth_getLogs answers replaced with [] so far. */
  readonly lies: number;
  lie(on: boolean): void;
  close(): Promise<void>;
}

async function startLyingRpc(target: string): Promise<LyingRpc> {
  let lying = false;
  let lies = 0;
  const sockets = new Set<Socket>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
    let text = await upstream.text();
    if (lying) {
      // ethers may batch: a request is an object or an array of them, and so is the answer.
      const request = JSON.parse(body) as unknown;
      const logIds = new Set((Array.isArray(request) ? request : [request]).filter((r: { method?: unknown }) => r.method === "eth_getLogs").map((r: { id?: unknown }) => r.id));
      if (logIds.size > 0) {
        const answer = JSON.parse(text) as unknown;
        const lie = (a: { id?: unknown; result?: unknown }): unknown => {
          if (!logIds.has(a.id) || !Array.isArray(a.result)) return a;
          lies++;
          return { ...a, result: [] };
        };
        text = JSON.stringify(Array.isArray(answer) ? answer.map(lie) : lie(answer as { id?: unknown }));
      }
    }
    res.writeHead(upstream.status, { "content-type": "application/json" });
    res.end(text);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.statusCode = 502;
      res.end();
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port; // a TCP server's address
  return {
    url: `http://127.0.0.1:${port}`,
    get lies() {
      return lies;
    },
    lie: (on) => {
      lying = on;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("deposits behind an RPC that answers eth_getLogs with [] (HTTP proxy + Ganache + 3 node processes)", { timeout: 120_000 }, () => {
  let devnet: DepositDevnet | undefined;
  let proxy: LyingRpc | undefined;

  before(async () => {
    devnet = await startDepositDevnet("deposit-lying-rpc", { confirmations: 1 }, async (chain) => {
      proxy = await startLyingRpc(chain.ganache.url);
      return proxy.url;
    });
  });
  after(async () => {
    await devnet?.stop();
    await proxy?.close();
  });

  it("does not move past a deposit the RPC hid, and credits it exactly once on every node once the RPC tells the truth", async () => {
    const { chain, rests, cluster } = devnet!;
    const user = new Wallet(chain.users[9]!.privateKey, chain.provider);
    const leader = await leaderIndex(devnet!);
    const leaderLog = cluster.nodes[leader]!.logPath;

    proxy!.lie(true);
    const hidden = await depositEth(chain, user, 12_345n);
    for (let i = 0; i < 3; i++) await chain.provider.send("evm_mine", []);
    // The leader's watcher scans past the deposit's block, is told [] and finds the bridge counting more.
    const gap = await pollUntil("the leader's gap line", 20_000, async () => logLines(leaderLog).find((l) => l["msg"] === GAP_LINE));
    assert.equal(gap["missingDepositId"], hidden.id.toString());
    assert.ok(Number(gap["rescanFrom"]) <= hidden.block, `rescans from block ${String(gap["rescanFrom"])}, at or before the deposit's ${hidden.block}`);
    assert.ok(proxy!.lies > 0, "the proxy lied");
    // Several looks while the proxy lies: nothing credited, the cursor never past the deposit.
    const gapsBefore = await metricValue(rests[leader]!, "delta_deposit_rescans_total", 'reason="gap"');
    assert.ok(gapsBefore >= 1);
    await pollUntil("more gap rescans", 20_000, async () => ((await metricValue(rests[leader]!, "delta_deposit_rescans_total", 'reason="gap"')) >= gapsBefore + 3 ? true : undefined));
    for (const rest of rests) assert.equal(await nativeBalance(rest, user.address), undefined, `${rest}: not credited while hidden`);
    const cursor = savedCursor(devnet!, leader);
    assert.ok(cursor === undefined || cursor <= hidden.block, `the saved cursor ${cursor} stays at or before block ${hidden.block}`);

    proxy!.lie(false);
    for (const rest of rests) await pollUntil(`the hidden deposit on ${rest}`, 20_000, async () => ((await nativeBalance(rest, user.address)) === "12345" ? true : undefined));
    const later = await depositEth(chain, user, 5n);
    for (const rest of rests) await pollUntil(`the later deposit on ${rest}`, 20_000, async () => ((await nativeBalance(rest, user.address)) === "12350" ? true : undefined));
    await pollUntil("the leader's cursor past the later deposit", 10_000, async () => ((savedCursor(devnet!, leader) ?? 0) > later.block ? true : undefined));
    for (const node of cluster.nodes) {
      assert.deepEqual(creditedIds(node.logPath).sort(), [hidden.id.toString(), later.id.toString()].sort(), `each credited once in ${node.logPath}`);
    }
    const hashes = await Promise.all(rests.map(stateHashOf));
    assert.ok(hashes.every((h) => h === hashes[0]), `every replica agrees: ${hashes.join(", ")}`);
    for (const rest of rests) assert.equal(await metricValue(rest, "delta_deposit_conflicts"), 0, rest);
  });
});
