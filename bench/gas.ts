// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Gas of DeltaBridge.settle on a real Ganache (shanghai rules, 30M gas blocks), the chain the devnet
 * runs. Prints a table and writes bench/results/gas.json:
 * - gas per delta of a 100-delta chunk touching existing accounts (50 debits, 50 credits);
 * - the marginal gas per delta, from 100- and 400-delta chunks;
 * - the largest chunk of existing-account deltas that fits a 30M gas block, found by prediction and
 *   confirmed by landing it (and by the next size up failing to fit);
 * - gas per delta for fresh accounts (zero to non-zero storage), for comparison;
 * - what the number of distinct tokens in a chunk costs (`tokens`): chunks of one existing-account
 *   debit and one payout to a fresh account per token, at 32, 128 and 256 tokens, fitted to
 *   a + b T + c T^2 against the same items in one token. The bridge finds a token's running sum by
 *   a linear scan, so c is the cost of one step of that scan; src/chain/settlementGas.ts holds the
 *   model built from these figures.
 * Run: npm run bench:gas (everything), or `node bench/gas.ts tokens` for the token figures alone
 * (merged into an existing gas.json).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { JsonRpcProvider, Wallet, NonceManager, getAddress, hexlify, randomBytes, TypedDataEncoder } from "ethers";
import { connectAs } from "../src/chain/index.ts";
import { startGanache } from "../src/devnet/ganache.ts";
import { depositJunkTokens } from "../src/devnet/junkTokens.ts";
import { devnetPrivateKeys, DEVNET_ROLES } from "../src/devnet/keys.ts";
import { deployBridge } from "../src/chain/index.ts";
import { NATIVE_TOKEN } from "../src/protocol/types.ts";
import { TYPES } from "../src/protocol/index.ts";

const SETTLEMENT_TYPES = TYPES.Settlement;

const BLOCK_GAS_LIMIT = 30_000_000n;
const CREDIT = 10n ** 12n;

interface DeltaIn {
  account: string;
  token: string;
  amount: bigint;
}

/** `node bench/gas.ts tokens`: only the token figures, merged into the existing gas.json. */
const tokensOnly = process.argv[2] === "tokens";

async function main(): Promise<void> {
  const chain = await startGanache({ blockGasLimit: BLOCK_GAS_LIMIT });
  try {
    const provider = new JsonRpcProvider(chain.url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    const keys = devnetPrivateKeys();
    const deployer = new NonceManager(new Wallet(keys[DEVNET_ROLES.deployer]!, provider));
    const validators = DEVNET_ROLES.validators
      .map((i) => new Wallet(keys[i]!))
      .sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
    const bridge = await deployBridge(deployer, {
      validators: validators.map((v) => v.address),
      threshold: 2n,
      escapeDelaySec: 86_400n,
    });
    let epoch = 0n;
    const domain = { name: "DeltaBridge", version: "1", chainId: 1337n, verifyingContract: await bridge.getAddress() };
    const settlementDigest = (s: object): string => TypedDataEncoder.hash(domain, SETTLEMENT_TYPES, s);

    /**
     * Lands a one-chunk epoch with the block's whole gas as limit and returns the gas it used, or
     * null when it does not fit (out of gas reverts it, changing nothing). One execution per try:
     * Ganache's eth_estimateGas re-executes many times and takes minutes on 30M-gas chunks.
     */
    async function settle(deltas: DeltaIn[], payouts: DeltaIn[] = []): Promise<bigint | null> {
      const s = { epoch: epoch + 1n, chunk: 0, chunks: 1, transfersRoot: "0x" + "11".repeat(32), deltas, payouts };
      const digest = settlementDigest(s);
      const sigs = validators.slice(0, 2).map((v) => v.signingKey.sign(digest).serialized);
      try {
        const receipt = await (await bridge.settle(s, sigs, { gasLimit: BLOCK_GAS_LIMIT })).wait();
        epoch += 1n;
        return receipt.gasUsed;
      } catch {
        return null;
      }
    }

    /** True when the chunk executes within the block gas limit (eth_call, nothing mined). */
    async function fitsByCall(deltas: DeltaIn[]): Promise<boolean> {
      const s = { epoch: epoch + 1n, chunk: 0, chunks: 1, transfersRoot: "0x" + "11".repeat(32), deltas, payouts: [] };
      const digest = settlementDigest(s);
      const sigs = validators.slice(0, 2).map((v) => v.signingKey.sign(digest).serialized);
      try {
        await bridge.settle.staticCall(s, sigs, { gasLimit: BLOCK_GAS_LIMIT });
        return true;
      } catch {
        return false;
      }
    }

    // A whale deposit funds every seeded account through settlements.
    const whale = await deployer.getAddress();
    await (await connectAs(bridge, deployer).deposit({ value: 10n ** 23n })).wait();

    const accounts: string[] = [];
    // Random addresses, not wallets: no key is needed to receive a credit.
    const fresh = (n: number) => Array.from({ length: n }, () => getAddress(hexlify(randomBytes(20))));
    async function seed(n: number): Promise<bigint> {
      const batch = fresh(n);
      const deltas: DeltaIn[] = [{ account: whale, token: NATIVE_TOKEN, amount: -CREDIT * BigInt(n) }];
      for (const a of batch) deltas.push({ account: a, token: NATIVE_TOKEN, amount: CREDIT });
      const gas = await settle(deltas);
      if (gas === null) throw new Error(`seeding ${n} accounts did not fit a block`);
      accounts.push(...batch);
      return gas;
    }
    const seedGas = await seed(800);
    process.stdout.write(`seeded 800 fresh accounts: ${seedGas} gas\n`);

    /**
     * What distinct tokens cost. Per token count T: a chunk of T existing-account debits and T
     * payouts to fresh accounts all in ETH, and the same items spread over T junk tokens (one
     * account's debit of each, a fresh account's payout of each), items ordered as the node orders
     * them (by account, then token). Also payouts alone (one whale debit) for the payout's price.
     */
    async function measureTokens(): Promise<Record<string, unknown>> {
      const holder = new Wallet(keys[DEVNET_ROLES.firstUser]!, provider);
      const counts = [32, 128, 256];
      const maxCount = counts[counts.length - 1]!;
      const started = Date.now();
      const tokens = (await depositJunkTokens(holder, provider, await bridge.getAddress(), maxCount, 10n ** 30n)).map((t) => getAddress(t));
      process.stdout.write(`deployed and deposited ${maxCount} junk tokens in ${Date.now() - started} ms\n`);
      const byAccountToken = (x: DeltaIn, y: DeltaIn): number => {
        const a = x.account.toLowerCase();
        const b = y.account.toLowerCase();
        if (a !== b) return a < b ? -1 : 1;
        return x.token.toLowerCase() < y.token.toLowerCase() ? -1 : 1;
      };
      const oneToken: Record<number, number> = {};
      const manyTokens: Record<number, number> = {};
      const payoutsOnly: Record<number, number> = {};
      for (const n of counts) {
        const payTo = fresh(n);
        const g = await settle(
          accounts.slice(0, n).map((account) => ({ account, token: NATIVE_TOKEN, amount: -1n })).sort(byAccountToken),
          payTo.map((account) => ({ account, token: NATIVE_TOKEN, amount: 1n })).sort(byAccountToken),
        );
        const spread = fresh(n);
        const m = await settle(
          tokens.slice(0, n).map((token) => ({ account: holder.address, token, amount: -1n })).sort(byAccountToken),
          spread.map((account, i) => ({ account, token: tokens[i]!, amount: 1n })).sort(byAccountToken),
        );
        const p = await settle([{ account: whale, token: NATIVE_TOKEN, amount: -BigInt(n) }], fresh(n).map((account) => ({ account, token: NATIVE_TOKEN, amount: 1n })));
        if (g === null || m === null || p === null) throw new Error(`a ${n}-token measurement chunk did not land`);
        oneToken[n] = Number(g);
        manyTokens[n] = Number(m);
        payoutsOnly[n] = Number(p);
        process.stdout.write(`${n} pairs: one token ${g}, ${n} tokens ${m}; ${n} payouts alone ${p}\n`);
      }
      // extra(T) = manyTokens(T) - oneToken(T) = b T + c T^2 + a: divided differences through the three counts.
      const [t1, t2, t3] = counts as [number, number, number];
      const extra = (t: number): number => manyTokens[t]! - oneToken[t]!;
      const e1 = (extra(t2) - extra(t1)) / (t2 - t1);
      const e2 = (extra(t3) - extra(t2)) / (t3 - t2);
      const c = (e2 - e1) / (t3 - t1);
      const b = e1 - c * (t1 + t2);
      const a = extra(t1) - b * t1 - c * t1 * t1;
      const pairMarginal = (oneToken[t3]! - oneToken[t1]!) / (t3 - t1);
      const payoutMarginal = (payoutsOnly[t3]! - payoutsOnly[t1]!) / (t3 - t1);
      return {
        counts,
        oneTokenGas: oneToken,
        manyTokensGas: manyTokens,
        payoutsOnlyGas: payoutsOnly,
        pairMarginal: Math.round(pairMarginal),
        freshPayoutMarginal: Math.round(payoutMarginal),
        existingDebitMarginal: Math.round(pairMarginal - payoutMarginal),
        tokenExtraFit: { a: Math.round(a), perToken: Number(b.toFixed(1)), perTokenSquared: Number(c.toFixed(2)) },
      };
    }

    if (tokensOnly) {
      const tokenFigures = await measureTokens();
      const path = new URL("./results/gas.json", import.meta.url);
      const previous = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>) : { bench: "gas" }; // our own file
      const merged = { ...previous, gasPerDeltaFreshAccounts800: Math.round(Number(seedGas) / 801), tokens: { ...tokenFigures, at: new Date().toISOString() } };
      mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
      writeFileSync(path, JSON.stringify(merged, null, 2) + "\n");
      console.log(JSON.stringify(merged.tokens, null, 2));
      process.stdout.write("wrote bench/results/gas.json (tokens)\n");
      provider.destroy();
      return;
    }

    // Debits on the first half of `n` accounts, credits on the second: every slot already non-zero.
    const existingChunk = (n: number): DeltaIn[] => {
      const half = n / 2;
      const deltas: DeltaIn[] = [];
      for (let i = 0; i < half; i++) deltas.push({ account: accounts[i]!, token: NATIVE_TOKEN, amount: -1n });
      for (let i = half; i < n; i++) deltas.push({ account: accounts[i]!, token: NATIVE_TOKEN, amount: 1n });
      return deltas;
    };
    const g100 = await settle(existingChunk(100));
    const g400 = await settle(existingChunk(400));
    if (g100 === null || g400 === null) throw new Error("a 100- or 400-delta chunk failed to land");
    const marginal = Number(g400 - g100) / 300;
    const fixed = Number(g100) - marginal * 100;
    // Gas is not quite linear in the chunk size: memory grows with it and the EVM prices memory
    // quadratically. Fit gas(n) = a + b n + c n^2 through 100, 400 and 1,600 deltas, solve for the
    // block limit, land that size (stepping down by the fit if it does not fit), then show with
    // one eth_call that 2 more do not fit (one execution; a mined failure costs two on Ganache).
    const linearGuess = Math.floor((Number(BLOCK_GAS_LIMIT) - fixed) / marginal);
    while (accounts.length < Math.max(1600, linearGuess) + 200) {
      const seeded = await seed(Math.min(1000, Math.max(1600, linearGuess) + 200 - accounts.length));
      process.stdout.write(`seeded ${accounts.length} accounts (last chunk ${seeded} gas)\n`);
    }
    const g1600 = await settle(existingChunk(1600));
    if (g1600 === null) throw new Error("a 1,600-delta chunk failed to land");
    // Divided differences through (100, g100), (400, g400), (1600, g1600).
    const d1 = (Number(g400) - Number(g100)) / 300;
    const d2 = (Number(g1600) - Number(g400)) / 1200;
    const c = (d2 - d1) / 1500;
    const b = d1 - c * 500;
    const a = Number(g100) - b * 100 - c * 100 * 100;
    const fit = (n: number): number => a + b * n + c * n * n;
    let predicted = c > 0 ? Math.floor((-b + Math.sqrt(b * b - 4 * c * (a - Number(BLOCK_GAS_LIMIT)))) / (2 * c)) : linearGuess;
    predicted -= predicted % 2;
    process.stdout.write(`fit: ${a.toFixed(0)} + ${b.toFixed(1)} n + ${c.toExponential(3)} n^2; predicted largest ${predicted}\n`);
    while (accounts.length < predicted + 200) {
      const seeded = await seed(Math.min(1000, predicted + 200 - accounts.length));
      process.stdout.write(`seeded ${accounts.length} accounts (last chunk ${seeded} gas)\n`);
    }
    let largest = predicted;
    let landedGas = await settle(existingChunk(largest));
    while (landedGas === null) {
      // Step down by what the fit says the overshoot costs, at least 2 deltas.
      const step = Math.max(2, Math.ceil((fit(largest) - Number(BLOCK_GAS_LIMIT)) / b) + 2);
      largest -= step + (step % 2);
      process.stdout.write(`did not fit; trying ${largest}\n`);
      landedGas = await settle(existingChunk(largest));
    }
    const nextFits = await fitsByCall(existingChunk(largest + 2));
    if (nextFits) process.stdout.write(`note: ${largest + 2} deltas would also fit; the figure is a lower bound\n`);
    process.stdout.write(`largest chunk that lands in ${BLOCK_GAS_LIMIT} gas: ${largest} deltas\n`);
    const freshPerDelta = Number(seedGas) / 801;

    const result = {
      bench: "gas",
      chain: "ganache 7.9.2 (shanghai), solc 0.8.30 paris, optimizer 200 runs",
      blockGasLimit: Number(BLOCK_GAS_LIMIT),
      chunk100Gas: Number(g100),
      gasPerDelta100: Math.round(Number(g100) / 100),
      marginalGasPerDelta: Math.round(marginal),
      fixedGasPerChunk: Math.round(fixed),
      largestChunkIn30M: largest,
      largestChunkGasUsed: Number(landedGas),
      largestPlusTwoFits: nextFits,
      chunk1600Gas: Number(g1600),
      fit: { a: Math.round(a), b: Number(b.toFixed(2)), c },
      gasPerDeltaFreshAccounts: Math.round(freshPerDelta),
      tokens: await measureTokens(),
      at: new Date().toISOString(),
    };
    console.table({
      "100-delta chunk, existing accounts": { gas: result.chunk100Gas, perDelta: result.gasPerDelta100 },
      "marginal delta (100 -> 400)": { gas: result.marginalGasPerDelta, perDelta: result.marginalGasPerDelta },
      [`largest chunk in 30M (${largest} deltas)`]: { gas: result.largestChunkGasUsed, perDelta: Math.round(Number(landedGas) / largest) },
      "fresh accounts (801-delta seed chunk)": { gas: Number(seedGas), perDelta: result.gasPerDeltaFreshAccounts },
    });
    mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
    writeFileSync(new URL("./results/gas.json", import.meta.url), JSON.stringify(result, null, 2) + "\n");
    process.stdout.write("wrote bench/results/gas.json\n");
    provider.destroy();
  } finally {
    await chain.close();
  }
}

await main();
