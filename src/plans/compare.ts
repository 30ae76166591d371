/**
 * All cases under the same parameters in R interleaved rounds (docs/design.md §13), then the verdicts and
 * the report. Each round runs the cases in its own order, shuffled from a recorded seed, so a
 * machine that drifts does not line up with one case. The verdicts (src/plans/verdicts.ts) go to
 * results/compare-<time>.json, and the report is rendered from it.
 *
 *   bun src/main.ts compare [VUS] [DURATION] [--repeat R] [--seed S] [--gateways apollo-router,hive-gateway] [--api NAME] [--warmup 5s]
 */
import { basename, join } from "node:path";
import { type CaseName, type Platform, selectTargets, shortLabel } from "../run/cases";
import type { RuntimeName } from "../runtime";
import type { Config, GatewayChoice } from "../config";
import { RefusedError } from "../errors";
import { type LoadParams, RATE_VUS, runLoad } from "../run/load";
import { METRONOME_HZ, startMetronome, stopMetronome } from "../run/metronome";
import { budgetedWaits, WAIT_BUDGET_MS } from "../run/canary";
import { median } from "../stats/stats";
import { writeReport } from "../report/report";
import { clusterDown, clusterPid } from "../run/pg-cluster";
import { stopCase } from "../run/supervisor";
import { pinPlan } from "../run/pin";
import { fileStamp, type RunResult, writeAtomic } from "../run/results";
import { analyse, type Phase, targetOf } from "./verdicts";
import { okRps } from "../run/run-result";
import { runsEstimate } from "./estimate";
import { costSplits } from "./cost-split";
import { attachCostSplits, equalRate, probeWindow, RATE_FRACTION, roundOrders } from "./rounds";
import { checkComposePlan, COMPOSE_CYCLE_SECONDS, composePreflight, composeRun } from "./compare-compose";
import { applySequential, sequentialLook, UNTIL_DECIDED_METRICS } from "./until-decided";
import { comparePlan } from "./compare-plan";

export interface CompareOptions {
  vus: number;
  duration: string;
  /**
   * The open-model runs' measured duration when it differs from the closed model's: CPU per request
   * at a low equal rate is the noisiest figure of a round, and a longer window narrows it most
   * (docs/noise.md). @default duration
   */
  rateDuration?: string;
  /**
   * A metronome beside every run (src/run/metronome.ts), its CPU per second recorded per run
   * (`extra.metronome`): the machine's factor per run, for study. Not used by the verdicts: its
   * reading falls as the load beside it rises (docs/noise.md).
   */
  metronome?: boolean;
  repeat: number;
  /** The gateways to run each case through, of those it has (Case 3's four, case1's and case1b's two); a case none of them belongs to runs through its default. */
  gateways: GatewayChoice[];
  /** The runtimes of the TypeScript roles, each target on each (docs/design.md §16; default: FLEET_RUNTIME's). */
  runtimes?: RuntimeName[];
  api?: LoadParams["api"];
  warmup: string;
  /** Seeds the order of the rounds; random (and recorded) when not given. */
  seed?: number;
  /** The load engine on a CPU of its own, the case on the others, in every run (src/run/pin.ts). */
  pin?: boolean;
  /**
   * The cases to compare (default: all). A case named twice runs as two columns, "#1" and "#2":
   * an A/A comparison, which shows what "no clear difference" looks like on this machine.
   */
  cases?: CaseName[];
  /**
   * Equal offered load (docs/design.md §14): every run in the open model at this arrival rate (requests/s)
   * instead of `vus` looping VUs. A target that cannot keep up is flagged `sut_overloaded` and said.
   */
  rate?: number;
  /** Printed above everything in the report (src/cli/demo.ts says why Case 3 has one gateway only). */
  notes?: string[];
  /**
   * The operating points of every round: `closed` (`vus` looping VUs: throughput and latency) and
   * `rate` (every target at one arrival rate: CPU per request at equal offered load, docs/design.md §18).
   * @default ["closed", "rate"], or ["rate"] when `rate` is given
   */
  phases?: Phase[];
  /** @default 0.05: a pair whose ratio's interval lies within 1 ± this is `equivalent`. */
  equivalence?: number;
  /**
   * `--until-decided`: rounds are added, from `minRounds` up to `repeat` (the last look, fixed in
   * advance), until every pair of UNTIL_DECIDED_METRICS is decided or equivalent or the budget
   * ends, under the group-sequential procedure of src/stats/sequential.ts, whose error rate holds
   * however the rounds stop; those metrics' verdicts are then the sequential ones.
   */
  untilDecided?: { minRounds: number; budgetMs?: number };
  /**
   * A look of the caller's own after every round from `minRounds` on (`repeat` is then the most
   * rounds): it returns why the rounds stop, or null to add one (just calibrate's headline).
   */
  lookAfterRound?: { minRounds: number; what: string; look: (done: { round: number; result: RunResult }[]) => string | null };
  /** Per target of the plan (by position): CPU burnt per request in named processes (just calibrate). */
  inject?: (Record<string, number> | null)[];
  /**
   * Where each target runs (docs/design.md §19): `native` (processes on this machine) and/or `compose`
   * (the same case's Docker Compose stack, src/deploy/compose-run.ts). With both, every target runs
   * on each, in the same rounds, so the containers' and their bridge network's cost is itself a
   * paired, measured factor.
   * @default ["native"]
   */
  platforms?: Platform[];
}

export async function compare(config: Config, options: CompareOptions, log: (line: string) => void = console.log) {
  // The rows of the target table, each round's orders naming them shortly ("case1", "case3 (apollo-router)").
  const platforms = options.platforms ?? ["native"];
  const targets = selectTargets(options.cases, options.gateways, options.runtimes ?? [config.runtime]);
  if (platforms.includes("compose")) checkComposePlan(targets, options);
  const { plan, columnOf } = comparePlan(config, targets, platforms, options.inject);
  const nativeOnly = platforms.includes("compose") ? targets.filter((t) => !t.compose) : [];
  if (nativeOnly.length) log(`native only (compose runs Bun's rows, Case 3 through apollo-router): ${nativeOnly.map(shortLabel).join(", ")}`);
  // Compose runs need an engine, Compose and no stack running (it would hold the native ports): said before anything runs.
  if (platforms.includes("compose")) await composePreflight(config, log);
  // Refused before anything runs when the machine cannot be split.
  if (options.pin) pinPlan();
  const phases: Phase[] = options.phases ?? (options.rate !== undefined ? ["rate"] : ["closed", "rate"]);
  // A recorded seed: the order of every round can be reproduced with --seed.
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const orders = roundOrders(plan.map((p) => p.label), options.repeat, seed);
  const until = options.untilDecided;
  const started = Date.now();
  let sequential: ReturnType<typeof sequentialLook> | null = null;
  let stoppedBecause = "";
  const stamp = fileStamp();
  const listPath = join(config.resultsDir, `compare-${stamp}.list`);
  const done: { file: string; round: number; result: RunResult }[] = [];
  const refused: string[] = [];
  const overloaded: string[] = [];
  const total = plan.length * options.repeat * phases.length;
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  let rate = options.rate;
  let rateFrom = options.rate !== undefined ? "given with --rate" : undefined;
  let interrupted = false;
  let failure: string | null = null;
  const onSignal = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  const points = phases.map((ph) => (ph === "closed" ? `${options.vus} VUs (closed model: throughput and latency)` : `${rate !== undefined ? `${rate} requests/s` : "one arrival rate every target sustains"} (open model: CPU and latency at equal offered load)`));
  const lookAfter = options.lookAfterRound;
  log(`comparison at ${points.join(" and ")}: ${options.untilDecided ? `rounds added until every pair of ${UNTIL_DECIDED_METRICS.join(" and ")} is decided (a look after every round from ${options.untilDecided.minRounds} on, at most ${options.repeat} rounds${options.untilDecided.budgetMs ? `, within ${Math.round(options.untilDecided.budgetMs / 60000)} min` : ""})` : lookAfter && lookAfter.minRounds < options.repeat ? `rounds added until ${lookAfter.what} (a look after every round from ${lookAfter.minRounds} on, at most ${options.repeat} rounds)` : `${options.repeat} round(s)`} of ${plan.map((p) => p.label).join(", ")}, each round in its own shuffled order (seed ${seed}; --seed ${seed} repeats the orders)`);
  // The equal offered load comes from warm data: a probe of every target before round 1, not
  // counted (a case's very first run after a start can serve a third of what it serves warm).
  const probing = phases.includes("rate") && rate === undefined;
  if (probing) log(`the rate: ${RATE_FRACTION} × the slowest target's closed-model throughput in a warm probe of every target before round 1 (not counted)`);
  if (options.untilDecided) log("the plan below is the most it can take: it stops as soon as every pair is decided or the budget would be passed");
  else if (lookAfter && lookAfter.minRounds < options.repeat) log(`the plan below is the most it can take: it stops as soon as ${lookAfter.what}`);
  const rateDuration = options.rateDuration ?? options.duration;
  // Runs at the rate with a window of their own (--rate-duration): said in the estimate and the recorded params.
  const ownRateWindow = phases.includes("rate") && rateDuration !== options.duration;
  const rateRuns = phases.includes("rate") ? plan.length * options.repeat : 0;
  // A native target's second operating point runs on the start of its first (see the rounds below).
  const sameStart = phases.length > 1 ? plan.filter((p) => p.platform === "native").length * options.repeat * (phases.length - 1) : 0;
  const how = `${plan.length} targets × ${options.repeat} rounds${phases.length > 1 ? ` × ${phases.length} operating points${sameStart ? " on one start" : ""}` : ""}${probing ? `, and a probe of each target` : ""}`;
  log(runsEstimate(total + (probing ? plan.length : 0), how, options.warmup, options.duration, ownRateWindow ? { runs: rateRuns, window: rateDuration, what: "at the rate" } : undefined, sameStart));
  const composeRuns = plan.filter((p) => p.platform === "compose").length * options.repeat * phases.length;
  if (composeRuns) log(`plus about ${Math.round((composeRuns * COMPOSE_CYCLE_SECONDS) / 60)} min to start and stop a compose stack around each of the ${composeRuns} compose runs (about ${COMPOSE_CYCLE_SECONDS} s each here), and the native cluster stopped before each`);
  // The machine's usual speed: the median canary of the comparison's runs so far (probes too), from
  // the third on. A native run whose canary is slower than it waits for the machine first (src/run/canary.ts).
  const speeds: number[] = [];
  const heard = (r: RunResult) => {
    const index = (r.extra.canary as { index?: number } | undefined)?.index;
    if (typeof index === "number") speeds.push(index);
  };
  const usualSpeed = () => (speeds.length >= 3 ? median(speeds) : null);
  // The wait's last canary is the run's own (src/run/canary.ts): a run takes one canary, not two.
  const waitForMachine = budgetedWaits(WAIT_BUDGET_MS, log, () => interrupted);
  /** `sameStart`: the target's operating points share one start of its case (native runs with both phases). */
  const runOne = async (step: (typeof plan)[number], round: number, phase: Phase, sameStart: { keepCase?: boolean; follows?: string } = {}): Promise<{ file: string; started: boolean } | null> => {
    log(`\n=== [${done.length + refused.length + 1}/${total}] round ${round}: ${step.label}${phases.length > 1 ? (phase === "rate" ? ` at ${rate} requests/s` : ` at ${options.vus} VUs`) : ""} ===`);
    try {
      const load = phase === "rate" ? { mode: "rate" as const, vus: RATE_VUS, rate: rate! } : { mode: "duration" as const, vus: options.vus };
      const params = {
        case: step.case, ...load, duration: phase === "rate" ? rateDuration : options.duration, api: options.api, warmup: options.warmup, pin: options.pin,
        ...(step.injectCpu ? { injectCpu: step.injectCpu } : {}),
      };
      const machine = step.platform === "native" ? await waitForMachine(usualSpeed()) : null;
      const { path, result, started } = step.platform === "compose"
        ? { ...(await composeRun(config, params, log, step.column!)), started: false }
        : await runLoad(step.config, params, log, { keepDatabase: true, column: step.column, ...machine, ...sameStart });
      heard(result);
      if (result.flags.includes("sut_overloaded")) {
        overloaded.push(step.label);
        log(`⚠ ${step.label} could not keep up with ${rate} requests/s: ${result.summary?.dropped_iterations} requests not sent on time (flagged sut_overloaded; the rate is above its capacity)`);
      }
      if (result.status !== "complete") {
        // Ctrl-C, or the engine failed: either way the rounds stop here, and the reason is said.
        if (!result.extra.interrupted) failure = `${step.label}: ${result.extra.engine_failure ?? result.extra.k6_failure ?? "incomplete"} (${basename(path)})`;
        interrupted = true;
        return null;
      }
      done.push({ file: basename(path), round, result });
      writeAtomic(listPath, `${done.map((d) => d.file).join("\n")}\n`);
      return { file: basename(path), started };
    } catch (error) {
      if (!(error instanceof RefusedError)) {
        // A run that broke (a process gone, a scrape refused): the rounds stop, but what completed
        // is analysed and reported before the error is raised, never thrown away.
        failure = `${step.label}: ${(error as Error).message}`;
        interrupted = true;
        return null;
      }
      log((error as Error).message);
      // The first difference goes into the final message too: a quiet caller still learns why.
      refused.push(`${step.label} (${(error as Error).message.split("\n")[1]?.trim() ?? "see above"})`);
      return null;
    }
  };
  /** One target once at the closed model's VUs, not counted: its successful throughput, or null. */
  const probeOne = async (step: (typeof plan)[number]) => {
    log(`\n=== probe: ${step.label} at ${options.vus} VUs (not counted) ===`);
    const params = { case: step.case, mode: "duration" as const, vus: options.vus, duration: probeWindow(options.duration), api: options.api, warmup: options.warmup, pin: options.pin, ...(step.injectCpu ? { injectCpu: step.injectCpu } : {}) };
    try {
      const machine = step.platform === "native" ? await waitForMachine(usualSpeed()) : null;
      const { result } = step.platform === "compose" ? await composeRun(config, params, log, step.column!) : await runLoad(step.config, params, log, { keepDatabase: true, column: step.column, probe: true, ...machine });
      heard(result);
      if (result.extra.interrupted) interrupted = true;
      return result.status === "complete" ? okRps(result) : null;
    } catch (error) {
      if (error instanceof RefusedError) return null;
      throw error;
    }
  };
  // The machine's factor per run, recorded beside every run when asked (src/run/metronome.ts).
  if (options.metronome) {
    const why = await startMetronome();
    log(why ? `no metronome: ${why}` : `the metronome: ${METRONOME_HZ} beats/s of fixed work beside every run, its CPU per second recorded per run (extra.metronome; not used by the verdicts)`);
  }
  try {
    if (probing) {
      const probe: { target: string; okRps: number | null }[] = [];
      for (const step of plan) {
        if (interrupted) break;
        probe.push({ target: columnOf.get(step.label)!, okRps: await probeOne(step) });
      }
      if (!interrupted) {
        ({ rate, from: rateFrom } = equalRate(probe, RATE_FRACTION, "a warm probe before round 1, not counted"));
        log(`\nequal offered load: ${rate} requests/s (${rateFrom})`);
      }
    }
    for (let round = 1; round <= options.repeat && !interrupted; round++) {
      // Every target in the round's order, its operating points back to back on one start of its
      // case: the closed model first, which warms it for the rate (one warm-up chunk there instead
      // of a fresh start and up to three). Compose runs start a stack each.
      for (const label of orders[round - 1]) {
        if (interrupted) break;
        const step = plan.find((p) => p.label === label)!;
        const shared = step.platform === "native" && phases.length > 1;
        let before: { file: string; started: boolean } | null = null;
        let startedHere = false;
        try {
          for (const [i, phase] of phases.entries()) {
            if (interrupted) break;
            before = await runOne(step, round, phase, shared ? { keepCase: i < phases.length - 1, ...(before ? { follows: before.file } : {}) } : {});
            if (i === 0) startedHere = !!before?.started;
          }
        } finally {
          // What the first run of the target started and kept, the last one leaves to this.
          if (shared && startedHere) await stopCase(step.config, log);
        }
      }
      if (phases.length > 1) attachCostSplits(config, done, round, [...columnOf.values()]);
      if (lookAfter && round >= lookAfter.minRounds && round < options.repeat && !interrupted) {
        const why = lookAfter.look(done);
        log(`\nafter round ${round}: ${why ?? `not yet: ${lookAfter.what}; another round`}`);
        if (why) {
          stoppedBecause = why;
          break;
        }
      }
      if (until && round >= until.minRounds && !interrupted) {
        // The next round would not end within the budget: this look is the last.
        const perRound = (Date.now() - started) / round;
        const overBudget = until.budgetMs !== undefined && Date.now() - started + perRound > until.budgetMs;
        sequential = sequentialLook(done, [...new Set(columnOf.values())], round, { minRounds: until.minRounds, maxRounds: options.repeat, equivalence: options.equivalence, final: overBudget || round === options.repeat });
        const open = sequential.families.flatMap((f) => f.family.pairs.filter((p) => p.verdict === "continue").map((p) => `${f.key}: ${p.a} / ${p.b}`));
        log(`\nafter round ${round}: ${open.length ? `${open.length} pair(s) undecided (${open.join("; ")})` : "every pair decided or equivalent"}`);
        if (!open.length || overBudget) {
          stoppedBecause = !open.length ? `every pair of ${UNTIL_DECIDED_METRICS.join(" and ")} decided or equivalent after ${round} rounds` : `the budget (${Math.round(until.budgetMs! / 60000)} min) would end within the next round: stopped after ${round} rounds`;
          log(stoppedBecause);
          break;
        }
      }
    }
  } finally {
    await stopMetronome();
    process.removeListener("SIGINT", onSignal);
    if (!dbWasUp) await clusterDown(config, log);
  }
  if (failure) log(`a run failed, so the comparison stopped: ${failure}`);
  if (!done.length) throw new Error(`no case completed a run: nothing to report${failure ? ` (${failure})` : ""}`);
  const comparison = analyse(done, {
    seed,
    equivalence: options.equivalence,
    params: {
      mode: phases.length > 1 ? "closed+rate" : phases[0] === "rate" ? "rate" : "duration",
      phases,
      ...(rate !== undefined ? { rate } : {}),
      ...(rateFrom ? { rate_from: rateFrom } : {}),
      vus: options.vus, duration: options.duration, ...(ownRateWindow ? { rate_duration: rateDuration } : {}), ...(sameStart ? { same_start: plan.every((p) => p.platform === "native") ? true : "native" } : {}), ...(options.metronome ? { metronome: true } : {}), warmup: options.warmup, api: options.api ?? null, repeat: options.repeat, gateways: options.gateways, pin: options.pin ?? false,
      ...(options.cases ? { cases: options.cases } : {}),
      ...(options.inject?.some(Boolean) ? { inject_cpu: options.inject } : {}),
      ...(options.platforms ? { platforms: options.platforms } : {}),
    },
    rounds: orders.slice(0, Math.max(...done.map((d) => d.round))).map((order, i) => ({ round: i + 1, order })),
    targets: [...new Set(columnOf.values())].filter((t) => done.some((d) => targetOf(d.result) === t)),
  });
  if (rate !== undefined && phases.length > 1) comparison.cost_split = costSplits(done, comparison.targets, targetOf);
  if (until) {
    const rounds = Math.max(...done.map((d) => d.round));
    // Stopped early (Ctrl-C, a failure) or at the last look: the final look says inconclusive for what is open.
    const last = sequentialLook(done, comparison.targets, rounds, { minRounds: until.minRounds, maxRounds: options.repeat, equivalence: options.equivalence, final: true });
    applySequential(comparison, last);
    comparison.sequential = { method: last.method, rounds, stopped: stoppedBecause || (interrupted ? `interrupted after ${rounds} rounds` : `the last look (${options.repeat} rounds)`), metrics: Object.fromEntries(last.families.map((f) => [f.key, f.family.pairs])) };
    void sequential;
  }
  const notes = [...(options.notes ?? [])];
  const overloadedTargets = [...new Set(overloaded)];
  if (overloadedTargets.length) notes.push(`At ${rate} requests/s, ${overloadedTargets.join(", ")} could not keep up in some runs (flagged sut_overloaded): the offered load is above their capacity, so their latency is a queue's, not the architecture's (\`just compare --capacity\` finds each capacity).`);
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

