/**
 * All cases under the same parameters in R interleaved rounds (DESIGN §13), then the verdicts and
 * the report. Each round runs the cases in its own order, shuffled from a recorded seed, so a
 * machine that drifts does not line up with one case. The verdicts (src/bench/verdicts.ts) go to
 * results/compare-<time>.json, and the report is rendered from it.
 *
 *   bun src/main.ts compare [VUS] [DURATION] [--repeat R] [--seed S] [--gateways apollo-router,hive-gateway] [--api NAME] [--warmup 5s]
 */
import { basename, join } from "node:path";
import { type CaseName, CASES, configFor, selectTargets, shortLabel } from "./cases";
import type { RuntimeName } from "../runtime";
import type { Config } from "../config";
import { RefusedError } from "../errors";
import { type LoadParams, RATE_VUS, runLoad } from "./load";
import { writeReport } from "../report/report";
import { clusterDown, clusterPid } from "./pg-cluster";
import { mulberry32 } from "../determinism.js";
import { pinPlan } from "./pin";
import { fileStamp, type RunResult, writeAtomic } from "./results";
import { analyse, targetOf } from "./verdicts";

export interface CompareOptions {
  vus: number;
  duration: string;
  repeat: number;
  /** The gateways of a case that has several (Case 3: apollo-router, hive-gateway). */
  gateways: Config["case3Gateway"][];
  /** The runtimes of the TypeScript roles, each target on each (DESIGN §16; default: FLEET_RUNTIME's). */
  runtimes?: RuntimeName[];
  api?: LoadParams["api"];
  warmup: string;
  /** Seeds the order of the rounds; random (and recorded) when not given. */
  seed?: number;
  /** k6 on a CPU of its own, the case on the others, in every run (src/bench/pin.ts). */
  pin?: boolean;
  /**
   * The cases to compare (default: all). A case named twice runs as two columns, "#1" and "#2":
   * an A/A comparison, which shows what "no clear difference" looks like on this machine.
   */
  cases?: CaseName[];
  /**
   * Equal offered load (DESIGN §14): every run in the open model at this arrival rate (requests/s)
   * instead of `vus` looping VUs. A target that cannot keep up is flagged `sut_overloaded` and said.
   */
  rate?: number;
  /** Printed above everything in the report (src/cli/demo.ts says why Case 3 has one gateway only). */
  notes?: string[];
}

/** Fisher–Yates with a seeded generator: the same seed gives the same order on every machine. */
export function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The orders of `rounds` rounds of `labels`, shuffled anew in each round from `seed`. */
export function roundOrders(labels: string[], rounds: number, seed: number): string[][] {
  const random = mulberry32(seed);
  return Array.from({ length: rounds }, () => shuffled(labels, random));
}

export async function compare(config: Config, options: CompareOptions, log: (line: string) => void = console.log) {
  // The rows of the target table, each round's orders naming them shortly ("case1", "case3 (apollo-router)").
  const plan: { case: CaseName; config: Config; label: string; column?: string }[] = selectTargets(options.cases, options.gateways, options.runtimes ?? [config.runtime]).map((t) => ({
    case: t.case, config: configFor(t, config), label: shortLabel(t),
  }));
  // A target named more than once becomes numbered columns (#1, #2, ...), each its own target.
  for (const label of new Set(plan.map((p) => p.label))) {
    const same = plan.filter((p) => p.label === label);
    if (same.length < 2) continue;
    same.forEach((p, i) => {
      p.label = `${label} #${i + 1}`;
      // The target's name as targetOf gives it (case · gateway), numbered.
      p.column = `${CASES[p.case].target(p.config).label} #${i + 1}`;
    });
  }
  // Refused before anything runs when the machine cannot be split.
  if (options.pin) pinPlan();
  // A recorded seed: the order of every round can be reproduced with --seed.
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const orders = roundOrders(plan.map((p) => p.label), options.repeat, seed);
  const stamp = fileStamp();
  const listPath = join(config.resultsDir, `compare-${stamp}.list`);
  const done: { file: string; round: number; result: RunResult }[] = [];
  const refused: string[] = [];
  const overloaded: string[] = [];
  const total = plan.length * options.repeat;
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  let interrupted = false;
  let failure: string | null = null;
  const onSignal = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  log(`comparison${options.rate !== undefined ? ` at an equal offered load of ${options.rate} requests/s` : ""}: ${options.repeat} round(s) of ${plan.map((p) => p.label).join(", ")}, each round in its own shuffled order (seed ${seed}; --seed ${seed} repeats the orders)`);
  try {
    for (let round = 1; round <= options.repeat && !interrupted; round++) {
      for (const label of orders[round - 1]) {
        if (interrupted) break;
        const step = plan.find((p) => p.label === label)!;
        log(`\n=== [${done.length + refused.length + 1}/${total}] round ${round}: ${label} ===`);
        try {
          const load = options.rate !== undefined ? { mode: "rate" as const, vus: RATE_VUS, rate: options.rate } : { mode: "duration" as const, vus: options.vus };
          const { path, result } = await runLoad(step.config, {
            case: step.case, ...load, duration: options.duration, api: options.api, warmup: options.warmup, pin: options.pin,
          }, log, { keepDatabase: true, column: step.column });
          if (result.flags.includes("sut_overloaded")) {
            overloaded.push(label);
            log(`⚠ ${label} could not keep up with ${options.rate} requests/s: k6 dropped ${result.summary?.dropped_iterations} iterations (flagged sut_overloaded; the rate is above its capacity)`);
          }
          if (result.status !== "complete") {
            // Ctrl-C, or k6 failed: either way the rounds stop here, and the reason is said.
            if (!result.extra.interrupted) failure = `${label}: ${result.extra.k6_failure ?? "incomplete"} (${basename(path)})`;
            interrupted = true;
            break;
          }
          done.push({ file: basename(path), round, result });
          writeAtomic(listPath, `${done.map((d) => d.file).join("\n")}\n`);
        } catch (error) {
          if (!(error instanceof RefusedError)) throw error;
          log((error as Error).message);
          // The first difference goes into the final message too: a quiet caller still learns why.
          refused.push(`${label} (${(error as Error).message.split("\n")[1]?.trim() ?? "see above"})`);
        }
      }
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    if (!dbWasUp) await clusterDown(config, log);
  }
  if (failure) log(`a run failed, so the comparison stopped: ${failure}`);
  if (!done.length) throw new Error(`no case completed a run: nothing to report${failure ? ` (${failure})` : ""}`);
  const comparison = analyse(done, {
    seed,
    params: { mode: options.rate !== undefined ? "rate" : "duration", ...(options.rate !== undefined ? { rate: options.rate } : {}), vus: options.vus, duration: options.duration, warmup: options.warmup, api: options.api ?? null, repeat: options.repeat, gateways: options.gateways, pin: options.pin ?? false, ...(options.cases ? { cases: options.cases } : {}) },
    rounds: orders.slice(0, Math.max(...done.map((d) => d.round))).map((order, i) => ({ round: i + 1, order })),
    targets: [...new Set(done.map((d) => targetOf(d.result)))].sort(),
  });
  const notes = [...(options.notes ?? [])];
  const overloadedTargets = [...new Set(overloaded)];
  if (overloadedTargets.length) notes.push(`At ${options.rate} requests/s, ${overloadedTargets.join(", ")} could not keep up in some runs (flagged sut_overloaded): the offered load is above their capacity, so their latency is a queue's, not the architecture's (\`just compare --capacity\` finds each capacity).`);
  if (notes.length) comparison.notes = notes;
  const comparePath = join(config.resultsDir, `compare-${stamp}.json`);
  writeAtomic(comparePath, `${JSON.stringify(comparison, null, 2)}\n`);
  log(`comparison: ${comparePath}`);
  const report = writeReport(config, done.map((d) => join(config.resultsDir, d.file)), log, comparison);
  if (interrupted) log(`comparison ${failure ? "stopped" : "interrupted"}: the report covers the runs that completed`);
  if (failure) throw new Error(`a run failed: ${failure}`);
  if (refused.length) throw new RefusedError(`not measured (failed the correctness gate): ${refused.join(", ")}`);
  return { ...report, compare: comparePath, comparison, interrupted };
}
