// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * PROTOCOL.md §2's consistency promises on the real devnet pieces (Ganache, 3 node processes):
 *
 * - Read your writes: every node, leader and followers, answers 200 to a transfer, a batch, a
 *   withdrawal and an admin seal only once it has applied the write itself, so the read sent right
 *   after the answer, to the same node, shows it. No polling between the write and the read.
 * - Monotonic reads across nodes: a follower held behind (SIGSTOP) answers a read carrying
 *   ?minIndex= only once it has applied that index, so a client that writes through one node and
 *   reads through another never sees its write undone; a node asked for an index it does not
 *   reach answers 503 BEHIND after 5 s.
 * - The leader drops a message past its deadline before cutting a block: 422, no block.
 * - Outcome unknown: a write forwarded to a leader that stops answering is answered 504
 *   OUTCOME_UNKNOWN with its hash, not a "retry" 503; once the cluster is back, the write turns
 *   out committed exactly once (or not at all, and a resend commits it): never twice.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Wallet } from "ethers";
import { connectAs } from "../../../src/chain/index.ts";
import { DeltaClient, fastSignTransfer } from "../../../src/client/index.ts";
import { type Address, type BridgeDomain, NATIVE_TOKEN, TYPES } from "../../../src/protocol/index.ts";
import { pollUntil, startTestDevnet, TEST_ADMIN_TOKEN, type Json, type TestDevnet } from "./devnetFixture.ts";

/** A write's answer bound in this test's nodes: short, so the outcome-unknown case takes seconds. */
const ANSWER_BOUND_MS = 2_500;

interface Answer {
  readonly status: number;
  readonly appliedIndex: number;
  readonly body: Json;
}

async function request(method: "GET" | "POST", url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const r = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(45_000),
  });
  const raw = r.headers.get("x-delta-applied-index");
  assert.ok(raw !== null && /^\d+$/.test(raw), `${method} ${url}: X-Delta-Applied-Index missing (${raw})`);
  return { status: r.status, appliedIndex: Number(raw), body: (await r.json()) as Json }; // the API answers JSON objects
}

const get = (url: string): Promise<Answer> => request("GET", url);
const post = (url: string, body: unknown, headers?: Record<string, string>): Promise<Answer> => request("POST", url, body, headers);

describe("reads agree with writes on every node (Ganache + 3 node processes)", { timeout: 240_000 }, () => {
  let devnet: TestDevnet;
  let rests: string[] = [];
  let domain: BridgeDomain;
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const previousBound = process.env["DELTA_ANSWER_BOUND_MS"];

  before(async () => {
    // Node processes inherit the environment: config.answerBoundMs through its override.
    process.env["DELTA_ANSWER_BOUND_MS"] = String(ANSWER_BOUND_MS);
    // No automatic seals: the only seals are the ones this test asks for.
    devnet = await startTestDevnet("ryw", { epoch: { intervalMs: 0, maxMessages: 0 } });
    rests = devnet.rests;
    const d = (await get(`${rests[0]}/v1/domain`)).body;
    domain = { name: "DeltaBridge", version: "1", chainId: BigInt(String(d["chainId"])), verifyingContract: String(d["verifyingContract"]) as Address }; // checksummed by the node
  });
  after(async () => {
    for (const n of devnet?.cluster.nodes ?? []) if (n.process.exitCode === null) n.process.kill("SIGCONT");
    await devnet?.stop();
    if (previousBound === undefined) delete process.env["DELTA_ANSWER_BOUND_MS"];
    else process.env["DELTA_ANSWER_BOUND_MS"] = previousBound;
  });

  async function leaderIndex(): Promise<number> {
    const status = await pollUntil("a leader", 15_000, async () => {
      const s = (await get(`${rests[0]}/v1/status`)).body;
      return typeof s["leader"] === "string" ? s : undefined;
    });
    const i = devnet.cluster.nodes.findIndex((n) => n.address === status["leader"]);
    assert.ok(i >= 0, JSON.stringify(status));
    return i;
  }

  async function signTransfer(from: Wallet, to: string, amount: bigint, nonce: bigint, dl: bigint = deadline): Promise<Json> {
    const msg = { from: from.address, to, token: NATIVE_TOKEN, amount, fee: 0n, nonce, deadline: dl };
    const signature = await from.signTypedData(domain, TYPES.Transfer, msg);
    return { ...msg, amount: amount.toString(), fee: "0", nonce: nonce.toString(), deadline: dl.toString(), signature };
  }

  async function signWithdrawal(from: Wallet, amount: bigint, nonce: bigint): Promise<Json> {
    const msg = { account: from.address, token: NATIVE_TOKEN, amount, nonce, deadline };
    const signature = await from.signTypedData(domain, TYPES.Withdrawal, msg);
    return { ...msg, amount: amount.toString(), nonce: nonce.toString(), deadline: deadline.toString(), signature };
  }

  /** Deposits `amount` wei for each wallet and waits until every node has credited all of them. */
  async function fund(wallets: readonly Wallet[], amount: bigint): Promise<void> {
    for (const w of wallets) await (await connectAs(devnet.chain.bridge, w.connect(devnet.chain.provider)).deposit({ value: amount })).wait();
    for (const rest of rests) {
      for (const w of wallets) {
        await pollUntil(`the deposit of ${w.address} on ${rest}`, 30_000, async () => {
          const b = (await get(`${rest}/v1/accounts/${w.address}`)).body["balances"] as Record<string, string>; // the account view's balances map
          return b[NATIVE_TOKEN] === amount.toString() ? true : undefined;
        });
      }
    }
  }

  function blocksProposed(metrics: string): number {
    const m = /^delta_block_messages_count (\d+)/m.exec(metrics);
    return m === null ? 0 : Number(m[1]);
  }

  it("the leader drops a message past its deadline before cutting a block (422, no block)", async () => {
    const leader = rests[await leaderIndex()]!;
    // Funded: admission refuses a message nobody can pay for before it reaches any mempool.
    const payer = new Wallet(devnet.chain.users[11]!.privateKey);
    await fund([payer], 1_000n);
    const before = blocksProposed(await (await fetch(`${leader}/metrics`)).text());
    // 2 s past: inside the intake's 5 s clock margin, so it reaches the leader's mempool.
    const expired = await signTransfer(payer, devnet.chain.users[0]!.address, 1n, 0n, BigInt(Math.floor(Date.now() / 1000) - 2));
    const answer = await post(`${leader}/v1/transfers`, expired);
    assert.equal(answer.status, 422, JSON.stringify(answer.body));
    assert.equal((answer.body["error"] as Json)["code"], "DEADLINE_EXPIRED");
    assert.equal(blocksProposed(await (await fetch(`${leader}/metrics`)).text()), before, "no block was cut for it");
  });

  it("every node shows its own answered transfer, batch, withdrawal and seal in the very next read", async () => {
    const users = devnet.chain.users.slice(0, 3).map((u) => new Wallet(u.privateKey));
    const sink = devnet.chain.users[5]!.address;
    await fund(users, 10n ** 18n);
    const nonces = users.map(() => 0n);
    let stale = 0;
    // 40 single transfers round-robin over the three nodes (the count), each read back at once.
    for (let k = 0; k < 40; k++) {
      const i = k % 3;
      const rest = rests[i]!;
      const user = users[i]!;
      const body = await signTransfer(user, sink, 1_000n, nonces[i]!);
      const answer = await post(`${rest}/v1/transfers`, body);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      nonces[i]!++;
      const hash = String(answer.body["hash"]);
      const t = await get(`${rest}/v1/transfers/${hash}`);
      const a = await get(`${rest}/v1/accounts/${user.address}`);
      if (t.status !== 200 || t.body["status"] !== "committed" || a.body["nonce"] !== nonces[i]!.toString()) stale++;
      assert.ok(t.appliedIndex >= answer.appliedIndex && a.appliedIndex >= answer.appliedIndex, "the applied index never goes back on one node");
    }
    assert.equal(stale, 0, `${stale} of 40 reads right after a 200 were stale`);

    for (let i = 0; i < 3; i++) {
      const rest = rests[i]!;
      const user = users[i]!;
      // A batch of three.
      const transfers = [];
      for (let j = 0; j < 3; j++) transfers.push(await signTransfer(user, sink, 10n + BigInt(j), nonces[i]! + BigInt(j)));
      const batch = await post(`${rest}/v1/transfers/batch`, { transfers });
      assert.equal(batch.status, 200, JSON.stringify(batch.body));
      nonces[i]! += 3n;
      for (const r of batch.body["results"] as Json[]) {
        assert.equal(r["status"], "committed", JSON.stringify(r));
        const t = await get(`${rest}/v1/transfers/${String(r["hash"])}`);
        assert.equal(t.status, 200, `batch item on node ${i + 1}: ${JSON.stringify(t.body)}`);
        assert.equal(t.body["status"], "committed");
      }
      // A withdrawal: the balance has moved in the very next read.
      const balanceBefore = BigInt(String(((await get(`${rest}/v1/accounts/${user.address}`)).body["balances"] as Json)[NATIVE_TOKEN]));
      const w = await post(`${rest}/v1/withdrawals`, await signWithdrawal(user, 5_000n, nonces[i]!));
      assert.equal(w.status, 200, JSON.stringify(w.body));
      nonces[i]!++;
      const after = (await get(`${rest}/v1/accounts/${user.address}`)).body;
      assert.equal(after["nonce"], nonces[i]!.toString(), `withdrawal nonce on node ${i + 1}`);
      assert.equal(BigInt(String((after["balances"] as Json)[NATIVE_TOKEN])), balanceBefore - 5_000n, `withdrawal debit on node ${i + 1}`);
      // One more transfer, then an admin seal through this node: the epoch reads sealed, the proof is served.
      const last = await post(`${rest}/v1/transfers`, await signTransfer(user, sink, 7n, nonces[i]!));
      assert.equal(last.status, 200, JSON.stringify(last.body));
      nonces[i]!++;
      const seal = await post(`${rest}/v1/admin/seal`, {}, { authorization: `Bearer ${TEST_ADMIN_TOKEN}` });
      assert.equal(seal.status, 200, JSON.stringify(seal.body));
      const sealed = String(seal.body["epoch"]);
      assert.match(sealed, /^\d+$/, JSON.stringify(seal.body));
      const epoch = await get(`${rest}/v1/epochs/${sealed}`);
      assert.equal(epoch.status, 200);
      assert.notEqual(epoch.body["status"], "open", `epoch ${sealed} on node ${i + 1} right after its seal`);
      const current = await get(`${rest}/v1/epochs/current`);
      assert.equal(current.body["epoch"], String(BigInt(sealed) + 1n));
      const proof = await get(`${rest}/v1/transfers/${String(last.body["hash"])}/proof`);
      assert.equal(proof.status, 200, `proof on node ${i + 1} right after the seal: ${JSON.stringify(proof.body)}`);
      assert.equal(proof.body["epoch"], sealed);
    }
  });

  it("a client writing through the leader and reading through a follower held behind never sees its write undone", async () => {
    const li = await leaderIndex();
    const fi = (li + 1) % 3;
    const follower = devnet.cluster.nodes[fi]!;
    const payer = new Wallet(devnet.chain.users[6]!.privateKey);
    await fund([payer], 10n ** 17n);
    // Writes go to the leader, reads to the follower: one client, as a wallet behind a load balancer.
    const client = new DeltaClient({
      baseUrl: rests[li]!,
      timeoutMs: 20_000,
      fetch: (input, init) => {
        const url = String(input);
        return fetch(init?.method === "GET" || init?.method === undefined ? url.replace(rests[li]!, rests[fi]!) : url, init);
      },
    });
    const before = await client.account(payer.address);
    assert.equal(before.nonce, 0n);
    follower.process.kill("SIGSTOP");
    try {
      const paid = await client.submitTransfer(fastSignTransfer(payer.privateKey, domain, { to: devnet.chain.users[7]!.address, token: NATIVE_TOKEN, amount: 123n, fee: 0n, nonce: 0n, deadline }));
      assert.equal(paid.status, "committed");
      // The follower is stopped: it cannot have applied the write. Its read is sent now and
      // waits in its socket; the follower resumes, and must answer with the write applied.
      const read = client.account(payer.address);
      const raw = fetch(`${rests[fi]}/v1/transfers/${paid.hash}?minIndex=${client.appliedIndex}`);
      follower.process.kill("SIGCONT");
      const seen = await read;
      assert.equal(seen.nonce, 1n, "the follower answered a state older than the client's own write");
      assert.equal(seen.balances[NATIVE_TOKEN], 10n ** 17n - 123n);
      const direct = await raw;
      assert.equal(direct.status, 200);
      assert.ok(Number(direct.headers.get("x-delta-applied-index")) >= client.appliedIndex);
      assert.equal(((await direct.json()) as Json)["status"], "committed");
    } finally {
      follower.process.kill("SIGCONT");
    }
    // An index no node has reached: 503 BEHIND after the 5 s wait, with the node's own index.
    const far = (await get(`${rests[fi]}/v1/status`)).appliedIndex + 1_000_000;
    const startedMs = Date.now();
    const behind = await get(`${rests[fi]}/v1/accounts/${payer.address}?minIndex=${far}`);
    assert.equal(behind.status, 503, JSON.stringify(behind.body));
    assert.equal((behind.body["error"] as Json)["code"], "BEHIND");
    assert.ok(behind.appliedIndex < far);
    assert.ok(Date.now() - startedMs >= 4_500, "BEHIND only after waiting");
  });

  it("a write forwarded to a leader that stops answering is 504 OUTCOME_UNKNOWN with its hash, and commits at most once", async () => {
    const li = await leaderIndex();
    const fi = (li + 1) % 3;
    const oi = (li + 2) % 3;
    const payer = new Wallet(devnet.chain.users[8]!.privateKey);
    await fund([payer], 10n ** 17n);
    const body = await signTransfer(payer, devnet.chain.users[9]!.address, 777n, 0n);
    // The leader and the other follower stop answering: the write reaches the leader's socket
    // but nobody decides it.
    devnet.cluster.nodes[li]!.process.kill("SIGSTOP");
    devnet.cluster.nodes[oi]!.process.kill("SIGSTOP");
    let answer: Answer;
    try {
      answer = await post(`${rests[fi]}/v1/transfers`, body);
    } finally {
      devnet.cluster.nodes[li]!.process.kill("SIGCONT");
      devnet.cluster.nodes[oi]!.process.kill("SIGCONT");
    }
    assert.equal(answer.status, 504, JSON.stringify(answer.body));
    assert.equal((answer.body["error"] as Json)["code"], "OUTCOME_UNKNOWN");
    const hash = String(answer.body["hash"]);
    assert.match(hash, /^0x[0-9a-f]{64}$/);
    // The cluster is back. Paying again with the same signed message is safe: it commits now, or
    // is refused as already committed (409), never applied twice.
    const again = await pollUntil("a decided resend", 30_000, async () => {
      const r = await post(`${rests[fi]}/v1/transfers`, body);
      return r.status === 200 || r.status === 409 ? r : undefined;
    });
    if (again.status === 200) assert.equal(again.body["hash"], hash);
    for (const rest of rests) {
      const a = (await get(`${rest}/v1/accounts/${payer.address}?minIndex=${again.appliedIndex}`)).body;
      assert.equal(a["nonce"], "1", `${rest}: ${JSON.stringify(a)}`);
      assert.equal((a["balances"] as Json)[NATIVE_TOKEN], String(10n ** 17n - 777n), `${rest}: paid exactly once`);
      const t = await get(`${rest}/v1/transfers/${hash}?minIndex=${again.appliedIndex}`);
      assert.equal(t.body["status"], "committed");
    }
  });
});
