// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * The router (src/node/router.ts) in process, the way the log core's simulation tests the log:
 * scripted leader changes, lost forwards, stale verdicts from an old leader, a follower that
 * applies the deciding block after the verdict, the answer bound, and a leader owing verdicts.
 * Time and the leader are arguments, so every script is exact.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BatchItemResult, CommittedView } from "../../../src/api/index.ts";
import type { LedgerMessage } from "../../../src/ledger/index.ts";
import type { Hash } from "../../../src/protocol/index.ts";
import { Router, type LeaderView, type RouterAction } from "../../../src/node/router.ts";

const SELF = "self";
const A = "leader-a";
const B = "leader-b";
const BOUND = 30_000;

function message(n: number): LedgerMessage {
  const hash = `0x${n.toString(16).padStart(64, "0")}` as Hash;
  return {
    kind: "transfer",
    hash,
    from: "0x00000000000000000000000000000000000000a1",
    to: "0x00000000000000000000000000000000000000b2",
    token: "0x0000000000000000000000000000000000000000",
    amount: 1n,
    fee: 0n,
    nonce: BigInt(n),
    deadline: 4_000_000_000n,
  };
}

const follow = (leader: string | null): LeaderView => ({ leader, leading: false });
const LEAD: LeaderView = { leader: SELF, leading: true };
const committed = (m: LedgerMessage, index = 0): CommittedView => ({ hash: m.hash, status: "committed", index, epoch: "1" });
const refused = (code: "NO_LEADER" | "DUPLICATE" | "INSUFFICIENT_BALANCE"): BatchItemResult => ({ error: { code, message: code } });

/** A router with a ledger stand-in: the hashes `ledger` holds committed. */
function setup(options: { answerBoundMs?: number } = {}) {
  const ledger = new Map<string, CommittedView>();
  const router = new Router({ self: SELF, answerBoundMs: options.answerBoundMs ?? BOUND, committed: (h) => ledger.get(h) });
  return { router, ledger };
}

/** Settles `answer` into a box the test can read synchronously after a microtask turn. */
function watch(answer: Promise<BatchItemResult>): { value: BatchItemResult | undefined } {
  const box: { value: BatchItemResult | undefined } = { value: undefined };
  void answer.then((v) => (box.value = v));
  return box;
}

function refusal(v: BatchItemResult | undefined): { code: string; hash: string | undefined } | undefined {
  return v !== undefined && "error" in v ? { code: v.error.code, hash: v.hash } : undefined;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function forwards(actions: readonly RouterAction[]): { to: string; hashes: string[] }[] {
  return actions.flatMap((a) => (a.type === "forward" ? [{ to: a.to, hashes: a.messages.map((m) => m.hash) }] : []));
}

describe("Router", () => {
  it("leading: accepted messages go to the mempool once, a second copy joins the first", async () => {
    const { router } = setup();
    const m = message(1);
    const first = router.accept([m], 0, LEAD);
    assert.deepEqual(first.actions, [{ type: "mempool", messages: [m] }]);
    const second = router.accept([m], 1, LEAD);
    assert.deepEqual(second.actions, [], "a hash already pending is not routed again");
    const a = watch(first.answers[0]!);
    const b = watch(second.answers[0]!);
    router.applied(7, [{ hash: m.hash, result: committed(m) }]);
    await turn();
    assert.deepEqual(a.value, committed(m));
    assert.deepEqual(b.value, committed(m));
  });

  it("following: gathers, forwards to the leader, answers the leader's verdict only once the block is applied here", async () => {
    const { router } = setup();
    const m = message(1);
    const { answers, actions } = router.accept([m], 0, follow(A));
    assert.deepEqual(actions, []);
    assert.equal(router.queuedForForward, 1);
    assert.deepEqual(forwards(router.flush(2, follow(A))), [{ to: A, hashes: [m.hash] }]);
    const answer = watch(answers[0]!);
    router.applied(4, []);
    router.verdicts(A, [{ hash: m.hash, result: committed(m), at: 6 }], 10);
    await turn();
    assert.equal(answer.value, undefined, "decided at 6, applied here only to 4: no answer yet (read your writes)");
    assert.equal(router.parked, 1);
    router.applied(5, []);
    await turn();
    assert.equal(answer.value, undefined);
    router.applied(6, []);
    await turn();
    assert.deepEqual(answer.value, committed(m));
    assert.equal(router.parked, 0);
  });

  it("a parked message is not forwarded again, even after the retry time or a leader change", async () => {
    const { router } = setup();
    const m = message(1);
    const answer = watch(router.accept([m], 0, follow(A)).answers[0]!);
    router.flush(2, follow(A));
    router.verdicts(A, [{ hash: m.hash, result: committed(m), at: 9 }], 10);
    router.tick(6_000, follow(B));
    assert.deepEqual(forwards(router.tick(6_005, follow(B))), []);
    assert.deepEqual(forwards(router.flush(6_006, follow(B))), []);
    router.applied(9, []);
    await turn();
    assert.deepEqual(answer.value, committed(m));
  });

  it("a leader change sends unanswered forwards to the new leader; the old leader's late verdict is ignored", async () => {
    const { router } = setup();
    const m = message(1);
    const answer = watch(router.accept([m], 0, follow(A)).answers[0]!);
    router.flush(2, follow(A));
    // A steps down (an election: no leader), then B leads.
    assert.deepEqual(router.tick(10, follow(null)), []);
    assert.deepEqual(forwards(router.tick(20, follow(B))), []);
    assert.deepEqual(forwards(router.flush(22, follow(B))), [{ to: B, hashes: [m.hash] }]);
    router.verdicts(A, [{ hash: m.hash, result: refused("INSUFFICIENT_BALANCE"), at: 3 }], 30);
    await turn();
    assert.equal(answer.value, undefined, "only the member it was last forwarded to speaks for it");
    router.verdicts(B, [{ hash: m.hash, result: committed(m), at: 0 }], 31);
    await turn();
    assert.deepEqual(answer.value, committed(m));
  });

  it("a forward with no verdict within the retry time goes again to the same leader", () => {
    const { router } = setup();
    const m = message(1);
    router.accept([m], 0, follow(A));
    router.flush(2, follow(A));
    router.tick(4_000, follow(A));
    assert.deepEqual(forwards(router.flush(4_001, follow(A))), []);
    router.tick(5_002, follow(A)); // found overdue: routed again on the next look
    router.tick(5_007, follow(A));
    assert.deepEqual(forwards(router.flush(5_008, follow(A))), [{ to: A, hashes: [m.hash] }]);
  });

  it("NO_LEADER from the leader routes again after the backoff, not at once", () => {
    const { router } = setup();
    const m = message(1);
    router.accept([m], 0, follow(A));
    router.flush(2, follow(A));
    router.verdicts(A, [{ hash: m.hash, result: refused("NO_LEADER"), at: 0 }], 10);
    router.tick(50, follow(A));
    assert.deepEqual(forwards(router.flush(51, follow(A))), [], "still inside the 100 ms backoff");
    router.tick(111, follow(B));
    assert.deepEqual(forwards(router.flush(112, follow(B))), [{ to: B, hashes: [m.hash] }]);
  });

  it("becoming leader takes what waited for a leader into the mempool; losing the lead routes the mempool's messages again", () => {
    const { router } = setup();
    const m = message(1);
    router.accept([m], 0, follow(null));
    const mine = router.tick(5, LEAD);
    assert.deepEqual(mine, [{ type: "mempool", messages: [m] }]);
    router.lost([m]);
    router.tick(10, follow(B));
    assert.deepEqual(forwards(router.flush(11, follow(B))), [{ to: B, hashes: [m.hash] }]);
  });

  it("a resent message refused as a duplicate of its own committed copy answers the committed view", async () => {
    const { router, ledger } = setup();
    const m = message(1);
    const answer = watch(router.accept([m], 0, follow(A)).answers[0]!);
    router.flush(2, follow(A));
    router.tick(10, follow(B)); // A lost: the message is resent to B (routed on the next look)
    router.tick(15, follow(B));
    assert.deepEqual(forwards(router.flush(16, follow(B))), [{ to: B, hashes: [m.hash] }]);
    // Our ledger has A's block with m committed (it made it after all); B refuses the copy.
    ledger.set(m.hash, committed(m, 3));
    router.applied(5, []);
    router.verdicts(B, [{ hash: m.hash, result: refused("DUPLICATE"), at: 5 }], 20);
    await turn();
    assert.deepEqual(answer.value, committed(m, 3));
  });

  it("the bound: OUTCOME_UNKNOWN with the hash once handed to a leader, NO_LEADER if never sent", async () => {
    const { router } = setup({ answerBoundMs: 1_000 });
    const sent = message(1);
    const never = message(2);
    const a = watch(router.accept([sent], 0, follow(A)).answers[0]!);
    router.flush(2, follow(A));
    const b = watch(router.accept([never], 0, follow(null)).answers[0]!);
    router.tick(999, follow(null));
    await turn();
    assert.equal(a.value, undefined);
    router.tick(1_000, follow(null));
    await turn();
    assert.deepEqual(refusal(a.value), { code: "OUTCOME_UNKNOWN", hash: sent.hash });
    assert.deepEqual(refusal(b.value), { code: "NO_LEADER", hash: undefined });
    assert.equal(router.pending.size, 0);
    // A verdict after the bound changes nothing (the client has its answer).
    router.verdicts(A, [{ hash: sent.hash, result: committed(sent), at: 0 }], 1_001);
    assert.equal(router.pending.expiredTotal, 2);
  });

  it("counts how long it has known no leader, and a leader that cannot propose counts as none", () => {
    const { router } = setup();
    router.tick(0, follow(A));
    assert.equal(router.leaderlessForMs(10), 0);
    router.tick(100, follow(null));
    assert.equal(router.leaderlessForMs(3_100), 3_000);
    router.tick(3_200, { leader: SELF, leading: false });
    assert.equal(router.leaderlessForMs(3_300), 3_200);
    router.tick(3_400, LEAD);
    assert.equal(router.leaderlessForMs(3_500), 0);
  });

  it("leading: owed verdicts go out per member, together, in chunks of at most 5,000", () => {
    const { router } = setup();
    for (let i = 0; i < 5_001; i++) router.owe(B, { hash: message(i).hash, result: committed(message(i)), at: 9 });
    router.owe(A, { hash: message(1).hash, result: refused("INSUFFICIENT_BALANCE"), at: 9 });
    assert.equal(router.owedCount, 5_002);
    const out = router.takeOwed();
    assert.deepEqual(
      out.map((a) => (a.type === "verdicts" ? [a.to, a.verdicts.length] : [])),
      [
        [B, 5_000],
        [B, 1],
        [A, 1],
      ],
    );
    assert.deepEqual(router.takeOwed(), []);
  });

  it("stop answers every waiting client, parked ones included: OUTCOME_UNKNOWN once sent, NO_LEADER if never", async () => {
    const { router } = setup();
    const m1 = message(1);
    const m2 = message(2);
    const m3 = message(3);
    const [a1, a2] = router.accept([m1, m2], 0, follow(A)).answers.map(watch);
    router.flush(1, follow(A));
    const a3 = watch(router.accept([m3], 2, follow(null)).answers[0]!);
    router.verdicts(A, [{ hash: m2.hash, result: committed(m2), at: 50 }], 2);
    assert.equal(router.parked, 1);
    router.stop();
    await turn();
    assert.deepEqual(refusal(a1!.value), { code: "OUTCOME_UNKNOWN", hash: m1.hash });
    assert.deepEqual(refusal(a2!.value), { code: "OUTCOME_UNKNOWN", hash: m2.hash }, "parked: decided, but not applied here");
    assert.deepEqual(refusal(a3.value), { code: "NO_LEADER", hash: undefined });
    assert.equal(router.pending.size, 0);
    assert.equal(router.parked, 0);
  });

  it("a parked message is taken out of the queues a leader change put it in, and never routed again", async () => {
    const { router } = setup();
    const m = message(1);
    const answer = watch(router.accept([m], 0, follow(A)).answers[0]!);
    router.flush(1, follow(A));
    router.tick(10, follow(B)); // leader change: queued to go to B
    router.verdicts(A, [{ hash: m.hash, result: committed(m), at: 9 }], 11); // A's verdict is late, but A sent it to us... ignored:
    // only the member it was last forwarded to speaks for it, and that is still A until it goes to B.
    assert.equal(router.parked, 1, "A decided it: parked until index 9 is applied here");
    assert.deepEqual(forwards(router.tick(15, follow(B))), []);
    assert.deepEqual(forwards(router.flush(16, follow(B))), [], "not sent to B");
    assert.deepEqual(router.tick(20, LEAD), [], "nor into our own mempool once we lead");
    router.lost([m]);
    assert.deepEqual(router.tick(25, LEAD), []);
    router.applied(9, []);
    await turn();
    assert.deepEqual(answer.value, committed(m));
  });

  it("a parked answer whose index is never reached is dropped at the bound", async () => {
    const { router } = setup({ answerBoundMs: 1_000 });
    const m = message(1);
    const answer = watch(router.accept([m], 0, follow(A)).answers[0]!);
    router.flush(1, follow(A));
    router.verdicts(A, [{ hash: m.hash, result: committed(m), at: 9_000_000 }], 2);
    assert.equal(router.parked, 1);
    router.tick(1_000, follow(A));
    await turn();
    assert.deepEqual(refusal(answer.value), { code: "OUTCOME_UNKNOWN", hash: m.hash });
    assert.equal(router.parked, 0, "nothing waits for an index this node may never apply");
  });


  it("the leader's OUTCOME_UNKNOWN reaches the client with the message's hash (the wire does not carry it)", async () => {
    const { router } = setup();
    const m = message(1);
    const answer = watch(router.accept([m], 0, follow(A)).answers[0]!);
    router.flush(1, follow(A));
    router.verdicts(A, [{ hash: m.hash, result: { error: { code: "OUTCOME_UNKNOWN", message: "not decided" } }, at: 0 }], 2);
    await turn();
    assert.deepEqual(refusal(answer.value), { code: "OUTCOME_UNKNOWN", hash: m.hash });
  });
});
