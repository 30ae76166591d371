/**
 * Curves, not points (docs/design.md §14): capacity searches and sweeps over every target of the table,
 * in rounds whose target order is shuffled from a recorded seed (as comparisons). Every measured
 * run is a point of a curve; a curve document (src/plans/curve-doc.ts: results/capacity-*.json,
 * results/sweep-*.json) holds them all, and the report (src/report/curve-report.ts) draws it.
 *
 *   bun src/main.ts capacity CASE [--slo p99=200ms] ...       one target's capacity
 *   bun src/main.ts compare --capacity [--slo ...] ...        every target's capacity
 *   bun src/main.ts sweep fleet 15,150,1500 [DURATION] [--vus V | --rate R | --capacity]
 *   bun src/main.ts sweep rate 50,100,200,400 [DURATION]
 */
import { type CapacityOptions, judge, type Search, searchCapacity, stepRunner } from "./capacity";
import { capacitiesOf, type CurveDoc, type Point, pointOf } from "./curve-doc";
import { type CaseName, configFor, selectTargets } from "../run/cases";
import { roundOrders } from "./rounds";
import type { Config, GatewayChoice } from "../config";
import { contentHash, createSql } from "../db";
import { UsageError } from "../errors";
import type { RuntimeName } from "../runtime";
import { clusterDown, clusterPid, clusterUp } from "../run/pg-cluster";
import type { RunResult } from "../run/results";
import { seed as seedFleet } from "../seed";
import { stopCase, up } from "../run/supervisor";
import { RATE_VUS, runLoad } from "../run/load";
import { commonFingerprint } from "./verdicts";

/** A comma-separated list of positive integers: `15,150,1500`. */
export function parseList(text: string | undefined, what: string): number[] {
  const items = (text ?? "").split(",");
  if (!text || items.some((i) => !/^\d+$/.test(i.trim()) || Number(i) < 1)) {
    throw new UsageError(`${what} takes a comma-separated list of positive integers (e.g. 15,150,1500), got "${text ?? ""}"`);
  }
  return items.map(Number);
}

export interface TargetStep {
  case: CaseName;
  config: Config;
  label: string;
}

/**
 * The rows of the table to measure: every case (or those named), Case 3 once per gateway asked
 * for, each on every runtime asked for (default: FLEET_RUNTIME's).
 */
export function targetPlan(config: Config, cases: CaseName[] | undefined, gateways: GatewayChoice[], runtimes: readonly RuntimeName[] = [config.runtime]): TargetStep[] {
  return selectTargets(cases, gateways, runtimes).map((t) => ({ case: t.case, config: configFor(t, config), label: t.label }));
}


interface RoundsOptions {
  repeat: number;
  seed?: number;
}

/** Runs `body` for every target in every round, in each round's shuffled order; Ctrl-C stops after the current step. */
async function inRounds(
  config: Config,
  plan: TargetStep[],
  options: RoundsOptions,
  log: (line: string) => void,
  body: (step: TargetStep, round: number, stop: () => boolean) => Promise<void>,
) {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const orders = roundOrders(plan.map((p) => p.label), options.repeat, seed);
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log("interrupted: the curve ends after the current run");
  };
  process.on("SIGINT", onSignal);
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  log(`${options.repeat} round(s) of ${plan.map((p) => p.label).join(", ")}, each round in its own shuffled order (seed ${seed}; --seed ${seed} repeats the orders)`);
  let rounds = 0;
  try {
    for (let round = 1; round <= options.repeat && !interrupted; round++) {
      rounds = round;
      for (const label of orders[round - 1]) {
        if (interrupted) break;
        log(`\n=== round ${round}: ${label} ===`);
        await body(plan.find((p) => p.label === label)!, round, () => interrupted);
      }
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    if (!dbWasUp) await clusterDown(config, log);
  }
  return { seed, rounds: orders.slice(0, rounds).map((order, i) => ({ round: i + 1, order })), interrupted };
}

/**
 * One capacity search on a target kept up through it (each step a warm-up and a measured run
 * against the same processes); `record` gets every step's run as it completes.
 */
async function searchOn(step: TargetStep, title: string, options: CapacityOptions, record: (rate: number, path: string, result: RunResult, meets: boolean) => void, log: (line: string) => void): Promise<Search> {
  await up(step.config, step.case, { log });
  try {
    return await searchCapacity(title, options, async (rate) => {
      const run = await stepRunner(step.config, step.case, options, log)(rate);
      record(rate, run.path, run.result, judge(run.result, options.slo).meets);
      return run;
    }, log);
  } finally {
    await stopCase(step.config, log);
  }
}

/** Loads a fleet of `n` robots; returns the data's content hash. */
async function reseed(config: Config, n: number, log: (line: string) => void): Promise<string> {
  await clusterUp(config, log);
  const sql = createSql(config, "fleetbench-sweep");
  try {
    await seedFleet(sql, n, log);
    return await contentHash(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** Capacity of every target in `plan` (one search per target and round). */
export async function capacityCurves(
  config: Config,
  plan: TargetStep[],
  options: CapacityOptions & RoundsOptions,
  log: (line: string) => void = console.log,
) {
  const searches: NonNullable<CurveDoc["searches"]> = [];
  const points: Point[] = [];
  const results: RunResult[] = [];
  const { seed, rounds, interrupted } = await inRounds(config, plan, options, log, async (step, round) => {
    const search = await searchOn(step, step.label, options, (rate, path, result, meets) => {
      results.push(result);
      points.push(pointOf(step.label, rate, round, path, result, { meets }));
    }, log);
    searches.push({ ...search, round });
  });
  const doc: CurveDoc = {
    schema_version: 1, kind: "capacity", axis: "rate", created_at: new Date().toISOString(), seed,
    params: { slo: options.slo, start: options.start, max: options.max, step: options.step, warmup: options.warmup, api: options.api ?? null, repeat: options.repeat },
    targets: plan.map((p) => p.label), rounds, slo: options.slo, searches, capacities: capacitiesOf(searches, seed), points,
    fingerprint: commonFingerprint(results.map((r) => r.fingerprint)),
  };
  return { doc, interrupted };
}

export interface SweepOptions extends RoundsOptions {
  axis: "fleet" | "rate";
  values: number[];
  duration: string;
  warmup: string;
  /** Closed model (VUs), open model (an arrival rate), or a capacity search at each fleet size. */
  load: { kind: "vus"; vus: number } | { kind: "rate"; rate: number } | { kind: "capacity"; capacity: CapacityOptions };
  api?: CapacityOptions["api"];
}

/**
 * A sweep: every target at every x. A fleet sweep reseeds the database for each size (its content
 * hash goes into each point) and puts the configured fleet back at the end; within a fleet size the
 * rounds are shuffled as in a comparison.
 */
export async function sweep(config: Config, plan: TargetStep[], options: SweepOptions, log: (line: string) => void = console.log) {
  const points: Point[] = [];
  const searches: NonNullable<CurveDoc["searches"]> = [];
  const results: RunResult[] = [];
  const allRounds: CurveDoc["rounds"] = [];
  let seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  let interrupted = false;
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  try {
    for (const x of options.values) {
      if (interrupted) break;
      if (options.axis === "fleet") log(`\n##### fleet of ${x} robots #####`);
      const hash = options.axis === "fleet" ? await reseed(config, x, log) : undefined;
      const measureOne = async (step: TargetStep, round: number) => {
        const record = (path: string, result: RunResult, extra: Partial<Point> = {}) => {
          results.push(result);
          points.push(pointOf(step.label, x, round, path, result, { ...(hash ? { content_hash: hash } : {}), ...extra }));
        };
        if (options.load.kind === "capacity") {
          const search = await searchOn(step, `${step.label} at N = ${x}`, options.load.capacity, (_rate, path, result, meets) => record(path, result, { meets }), log);
          searches.push({ ...search, target: step.label, round, x });
          return;
        }
        const rate = options.axis === "rate" ? x : options.load.kind === "rate" ? options.load.rate : undefined;
        const params = rate !== undefined
          ? { case: step.case, mode: "rate" as const, vus: RATE_VUS, rate, duration: options.duration, warmup: options.warmup, api: options.api }
          : { case: step.case, mode: "duration" as const, vus: (options.load as { vus: number }).vus, duration: options.duration, warmup: options.warmup, api: options.api };
        const { path, result } = await runLoad(step.config, params, log, { keepDatabase: true });
        if (result.flags.includes("sut_overloaded")) log(`⚠ ${step.label} could not keep up with ${rate} requests/s (${result.summary?.dropped_iterations} iterations dropped)`);
        record(path, result);
      };
      const done = await inRounds(config, plan, { repeat: options.repeat, seed }, log, async (step, round) => measureOne(step, round));
      seed = done.seed;
      allRounds.push(...done.rounds.map((r) => ({ ...r, x })));
      interrupted = done.interrupted;
    }
  } finally {
    if (options.axis === "fleet") {
      log(`\nputting the configured fleet of ${config.fleetSize} robots back`);
      await reseed(config, config.fleetSize, log);
    }
    if (!dbWasUp) await clusterDown(config, log);
  }
  const { load } = options;
  const doc: CurveDoc = {
    schema_version: 1, kind: "sweep", axis: options.axis, created_at: new Date().toISOString(), seed,
    params: {
      values: options.values, duration: options.duration, warmup: options.warmup, repeat: options.repeat, api: options.api ?? null,
      load: load.kind === "capacity" ? { kind: "capacity", slo: load.capacity.slo, start: load.capacity.start, max: load.capacity.max, step: load.capacity.step } : load,
    },
    targets: plan.map((p) => p.label), rounds: allRounds, points,
    ...(load.kind === "capacity" ? { slo: load.capacity.slo, searches, capacities: capacitiesOf(searches, seed) } : {}),
    fingerprint: commonFingerprint(results.map((r) => r.fingerprint)),
  };
  return { doc, interrupted };
}
