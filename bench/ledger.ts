// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Ledger figures beside the signature-recovery ones, printed as a table and written to
 * bench/results/ledger.json:
 *
 *   node bench/ledger.ts                 (everything)
 *   node bench/ledger.ts --ledger-only   (skips recovery; what `--cpu-prof` runs are for)
 *
 * - applyPerSec: transfers applied per second by `applyEntry`, signatures already checked, in
 *   blocks of 1,000, among 1,000 accounts with checksummed addresses (what the protocol's parser
 *   hands over), median of 3 runs on fresh ledgers after a warm-up.
 * - netting100kMs: 100,000 transfers among 1,000 accounts, from messages to settlement chunks:
 *   applying them (the netting), sealing (the transfers root: 200,000 keccak256), building the
 *   chunks. Each part is reported too. netting100kHeapMb is the heap used right after, minus the
 *   heap before (after a forced GC): the epoch's messages and index plus garbage not yet
 *   collected; netting100kRetainedHeapMb is the same after another GC; the Merkle tree's buffer
 *   lives outside the JS heap and is netting100kArrayBuffersMb.
 * Figures depend on the machine and its load: compare them side by side from one run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { arch, cpus, platform, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { getAddress } from "ethers";
import {
  applyEntry,
  buildSettlementChunks,
  createLedger,
  getEpochSummary,
  type LedgerState,
  type TransferMessage,
} from "../src/ledger/index.ts";
import type { Address, Hash } from "../src/protocol/index.ts";
import { measureRecovery } from "./recover.ts";

const ACCOUNTS = 1000;
const BLOCK = 1000;
const APPLY_COUNT = 200_000;
const NETTING_COUNT = 100_000;
const CHUNK_ITEMS = 100;
const APPLY_GOAL_PER_SEC = 200_000;
const NETTING_GOAL_MS = 1000;

/** GC on demand, for heap figures: V8 exposes `gc` to contexts created after the flag is set. */
setFlagsFromString("--expose-gc");
// runInNewContext returns the new context's `gc`, a function once --expose-gc is set.
const collect = runInNewContext("gc") as () => void;

/** Two full GCs, the second for anything the first left waiting. */
function gc(): void {
  collect();
  collect();
}

function addressOf(i: number): Address {
  // EIP-55 spelling, as the protocol's parser delivers it; ethers returns a checksummed 0x address.
  return getAddress(`0x${bytesToHex(keccak_256(new TextEncoder().encode(`account-${i}`))).slice(0, 40)}`) as Address;
}

const accounts = Array.from({ length: ACCOUNTS }, (_, i) => addressOf(i));
const token = addressOf(-1);
const feeRecipient = addressOf(-2);

/** A transfer as it travels in a log entry: every field a string, as JSON carries it. */
interface WireTransfer {
  hash: string;
  from: string;
  to: string;
  token: string;
  amount: string;
  fee: string;
  nonce: string;
  deadline: string;
}

/**
 * JSON text of `count` transfers in nonce order among the accounts; hashes are keccak256 of a
 * counter. Each run decodes it afresh (`decodeTransfers`), so every run meets new, flat strings
 * whose hashes V8 has not cached yet, as a node does with entries arriving from the log.
 */
function makeTransfersJson(count: number): string {
  const nonces = new Array<bigint>(ACCOUNTS).fill(0n);
  const out: WireTransfer[] = [];
  for (let i = 0; i < count; i++) {
    const from = (i * 7919) % ACCOUNTS;
    const to = (from + 1 + (i % (ACCOUNTS - 1))) % ACCOUNTS;
    const nonce = nonces[from] ?? 0n;
    nonces[from] = nonce + 1n;
    out.push({
      hash: `0x${bytesToHex(keccak_256(new TextEncoder().encode(`transfer-${i}`)))}`,
      from: accounts[from] ?? feeRecipient,
      to: accounts[to] ?? feeRecipient,
      token,
      amount: (BigInt(1 + (i % 100)) * 10n ** 15n).toString(),
      fee: (BigInt(i % 3) * 10n ** 12n).toString(),
      nonce: nonce.toString(),
      deadline: "2000000000",
    });
  }
  return JSON.stringify(out);
}

function decodeTransfers(json: string): TransferMessage[] {
  // The text is makeTransfersJson's output just above, an array of WireTransfer.
  const wire = JSON.parse(json) as WireTransfer[];
  return wire.map((w) => ({
    kind: "transfer",
    // Shapes fixed by makeTransfersJson: 0x hex of 32 bytes, checksummed 0x addresses.
    hash: w.hash as Hash,
    from: w.from as Address,
    to: w.to as Address,
    token: w.token as Address,
    amount: BigInt(w.amount),
    fee: BigInt(w.fee),
    nonce: BigInt(w.nonce),
    deadline: BigInt(w.deadline),
  }));
}

function freshTransfers(count: number): TransferMessage[] {
  return decodeTransfers(makeTransfersJson(count));
}

function fundedLedger(): LedgerState {
  const ledger = createLedger({ feeRecipient });
  accounts.forEach((account, i) => {
    const r = applyEntry(ledger, { type: "deposit", depositId: BigInt(i), account, token, amount: 10n ** 24n });
    if (r.status !== "credited") throw new Error(`bench setup: deposit ${i} refused`);
  });
  return ledger;
}

/** Applies messages in blocks; returns elapsed ms. Throws if anything is refused (the bench would lie). */
function applyAll(ledger: LedgerState, messages: readonly TransferMessage[]): number {
  const start = performance.now();
  let rejected = 0;
  for (let i = 0; i < messages.length; i += BLOCK) {
    rejected += applyEntry(ledger, { type: "block", timestampSec: 1_700_000_000n, messages: messages.slice(i, i + BLOCK) }).rejected;
  }
  const ms = performance.now() - start;
  if (rejected !== 0) throw new Error(`bench setup: ${rejected} transfers refused`);
  return ms;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function mb(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

function measureApply(): { applyPerSec: number; runs: number[] } {
  const json = makeTransfersJson(APPLY_COUNT);
  applyAll(fundedLedger(), decodeTransfers(json).slice(0, 50_000)); // warm-up: JIT
  const runs: number[] = [];
  for (let run = 0; run < 3; run++) {
    const messages = decodeTransfers(json);
    const ledger = fundedLedger();
    gc();
    runs.push(Math.round((APPLY_COUNT * 1000) / applyAll(ledger, messages)));
  }
  return { applyPerSec: median(runs), runs };
}

interface NettingFigures {
  netting100kMs: number;
  applyMs: number;
  sealMs: number;
  chunksMs: number;
  chunks: number;
  deltas: number;
  netting100kHeapMb: number;
  netting100kRetainedHeapMb: number;
  netting100kArrayBuffersMb: number;
}

function measureNetting(): NettingFigures {
  // Built in a helper: its JSON text must not linger in a register of this frame while heap is measured.
  const messages = freshTransfers(NETTING_COUNT);
  const ledger = fundedLedger();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const buffersBefore = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  const applyMs = applyAll(ledger, messages);
  const t1 = performance.now();
  const sealed = applyEntry(ledger, { type: "seal", epoch: 1n });
  const t2 = performance.now();
  const summary = getEpochSummary(ledger, 1n);
  if (sealed.status !== "sealed" || summary === undefined) throw new Error("bench: seal refused");
  const chunks = buildSettlementChunks(summary, CHUNK_ITEMS);
  const t3 = performance.now();
  const heapAfter = process.memoryUsage().heapUsed;
  gc();
  const heapRetained = process.memoryUsage().heapUsed;
  const buffersRetained = process.memoryUsage().arrayBuffers;
  // Keeps the input alive through both readings, so "retained" is the ledger's growth alone.
  if (messages.length !== NETTING_COUNT) throw new Error("bench: messages lost");
  return {
    netting100kMs: Math.round(t3 - t0),
    applyMs: Math.round(applyMs),
    sealMs: Math.round(t2 - t1),
    chunksMs: Math.round((t3 - t2) * 10) / 10,
    chunks: chunks.length,
    deltas: summary.deltas.length,
    netting100kHeapMb: mb(heapAfter - heapBefore),
    netting100kRetainedHeapMb: mb(heapRetained - heapBefore),
    netting100kArrayBuffersMb: mb(buffersRetained - buffersBefore),
  };
}

const ledgerOnly = process.argv.includes("--ledger-only");
const recovery = ledgerOnly ? null : await measureRecovery();
const apply = measureApply();
const netting = measureNetting();

const cpu = cpus();
const results = {
  recoverPerSec: recovery?.recoverPerSec ?? null,
  recoverPerSecJs: recovery?.recoverPerSecJs ?? null,
  recoverPerSecBatched: recovery?.recoverPerSecBatched ?? null,
  recoverThreads: recovery?.threads ?? null,
  applyPerSec: apply.applyPerSec,
  applyRunsPerSec: apply.runs,
  netting100kMs: netting.netting100kMs,
  netting100kApplyMs: netting.applyMs,
  netting100kSealMs: netting.sealMs,
  netting100kChunksMs: netting.chunksMs,
  netting100kChunks: netting.chunks,
  netting100kDeltas: netting.deltas,
  netting100kHeapMb: netting.netting100kHeapMb,
  netting100kRetainedHeapMb: netting.netting100kRetainedHeapMb,
  netting100kArrayBuffersMb: netting.netting100kArrayBuffersMb,
  goals: { applyPerSec: APPLY_GOAL_PER_SEC, netting100kMs: NETTING_GOAL_MS },
  parameters: { accounts: ACCOUNTS, blockSize: BLOCK, applyTransfers: APPLY_COUNT, nettingTransfers: NETTING_COUNT, chunkItems: CHUNK_ITEMS },
  machine: {
    cpu: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    totalMemGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: platform(),
    arch: arch(),
    node: process.version,
    v8: process.versions.v8,
  },
  timestamp: new Date().toISOString(),
};

const rows: [string, string, string][] = [
  ["signature recovery, native, 1 thread", `${results.recoverPerSec ?? "skipped"} /s`, ""],
  ["signature recovery, pure JS, 1 thread", `${results.recoverPerSecJs ?? "skipped"} /s`, ""],
  [`signature recovery, pool of ${results.recoverThreads ?? "-"} threads`, `${results.recoverPerSecBatched ?? "skipped"} /s`, ""],
  ["ledger apply (signatures checked)", `${results.applyPerSec} /s`, `goal >= ${APPLY_GOAL_PER_SEC} /s`],
  ["netting 100k transfers: total", `${results.netting100kMs} ms`, `goal < ${NETTING_GOAL_MS} ms`],
  ["  apply (balances, nonces, deltas)", `${results.netting100kApplyMs} ms`, ""],
  ["  seal (transfers root)", `${results.netting100kSealMs} ms`, ""],
  [`  chunks (${results.netting100kDeltas} deltas -> ${results.netting100kChunks} chunks)`, `${results.netting100kChunksMs} ms`, ""],
  ["  heap used / retained", `${results.netting100kHeapMb} / ${results.netting100kRetainedHeapMb} MB`, ""],
  ["  Merkle tree buffer (outside the heap)", `${results.netting100kArrayBuffersMb} MB`, ""],
];
console.log(`${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node}`);
for (const [what, value, goal] of rows) console.log(`${what.padEnd(48)} ${value.padStart(16)}   ${goal}`);

const dir = new URL("./results/", import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL("ledger.json", dir), `${JSON.stringify(results, null, 2)}\n`);
console.log("written: bench/results/ledger.json");
