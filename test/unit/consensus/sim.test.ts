// SPDX-License-Identifier: AGPL-3.0-or-later
/**
 * Runs the deterministic simulation (sim.ts) over many seeds. A failure names its seed; replay it
 * alone with `SIM_SEED=<seed> node --test test/unit/consensus/sim.test.ts`. SIM_SEEDS and
 * SIM_STEPS change how many seeds and steps per seed run (defaults 3,000 and 1,000).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SimMode, SimOptions } from "./sim.ts";
import { runSim, SimFailure } from "./sim.ts";

const MODES: readonly SimMode[] = ["calm", "faults", "adversarial", "chaos"];

/** Seed -> scenario: alternates 3 and 5 nodes, cycles through the four modes. */
function optionsFor(seed: number, steps: number): SimOptions {
  const mode = MODES[Math.floor(seed / 2) % MODES.length] ?? "calm";
  return { seed, nodes: seed % 2 === 0 ? 3 : 5, steps, mode };
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}

function run(opts: SimOptions): ReturnType<typeof runSim> {
  try {
    return runSim(opts);
  } catch (e) {
    if (e instanceof SimFailure) {
      assert.fail(`sim seed ${opts.seed} (${opts.nodes} nodes, ${opts.mode}) failed: ${e.message}\nreplay: SIM_SEED=${opts.seed} node --test test/unit/consensus/sim.test.ts`);
    }
    throw new Error(`sim seed ${opts.seed} crashed; replay: SIM_SEED=${opts.seed} node --test test/unit/consensus/sim.test.ts`, { cause: e });
  }
}

const steps = envInt("SIM_STEPS", 1000);
const only = process.env.SIM_SEED;

describe("log core simulation", () => {
  if (only !== undefined && only !== "") {
    it(`seed ${only}`, () => {
      const opts = optionsFor(envInt("SIM_SEED", 0), steps);
      const r = run(opts);
      console.log(`seed ${opts.seed} ${opts.nodes} nodes ${opts.mode}: committed ${r.maxCommit}, proposals ${r.proposalsAccepted}, core steps ${r.coreSteps}`);
    });
    return;
  }

  const seeds = envInt("SIM_SEEDS", 3000);
  it(`keeps log matching, committed prefixes and apply order over ${seeds} seeds of ${steps} steps`, () => {
    const started = performance.now();
    let coreSteps = 0;
    let calm = 0;
    let calmCommitted = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const opts = optionsFor(seed, steps);
      const r = run(opts);
      coreSteps += r.coreSteps;
      if (opts.mode === "calm") {
        calm++;
        if (r.maxCommit > 0) calmCommitted++;
        // Liveness sanity: without faults, a leader gets elected and entries commit.
        assert.ok(r.maxCommit > 0, `calm seed ${seed} committed nothing; replay: SIM_SEED=${seed} node --test test/unit/consensus/sim.test.ts`);
      }
    }
    const ms = performance.now() - started;
    console.log(`sim: ${seeds} seeds x ${steps} steps, ${coreSteps} core steps, ${calmCommitted}/${calm} calm seeds committed, ${(ms / 1000).toFixed(1)} s`);
  });
});
