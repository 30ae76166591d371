/**
 * Measuring the grid (docs/design.md §20).
 *
 *   bun src/main.ts grid [--fleet 15,150,1500] [--hops 0,1,5] [--at R] [--quick] [--resume DIR]
 *
 * A grid measures, in every cell of fleet size × hop latency, each target's capacity at the SLO
 * (src/plans/capacity.ts, searched upwards from the map's rate) and the model (src/plans/model-run.ts)
 * at rates up to the map's rate among the targets that meet the SLO there. Each finished cell is
 * its own file in the grid's folder, so an interrupted grid keeps them and `--resume` measures only
 * the rest. src/plans/decision.ts turns the cells into the decision map.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type CapacityOptions, sloText, type Slo } from "./capacity";
import { selectTargets, targetFor } from "../run/cases";
import type { Config, GatewayChoice } from "../config";
import { contentHash, createSql } from "../db";
import { UsageError } from "../errors";
import { minutes, RUN_OVERHEAD_S } from "./estimate";
import { durationSeconds } from "../run/load";
import type { ModelDoc, Price } from "./cost";
import { measureModel, type ModelOptions, modelPlan } from "./model-run";
import { clusterDown, clusterPid, clusterUp } from "../run/pg-cluster";
import { fileStamp, writeAtomic } from "../run/results";
import type { RuntimeName } from "../runtime";
import { seed as seedFleet } from "../seed";
import { capacityCurves, type TargetStep, targetPlan } from "./curves";

export interface GridParams {
  fleet: number[];
  /** Hop latency per cell in ms; 0 is the direct connection (no proxy), as every ordinary run. */
  hops: number[];
  /** The map's rate: the SLO is judged there, and the model measured up to it. */
  at: number;
  quick: boolean;
  repeat: number;
  duration: string;
  warmup: string;
  slo: Slo;
  capacity: { step: string; warmup: string; precision: number; max_factor: number };
  cases: TargetStep["case"][] | null;
  gateways: GatewayChoice[];
  runtimes: RuntimeName[];
  api: string | null;
  price: Price | null;
  seed: number;
}

export const GRID_DEFAULTS = {
  fleet: [15, 150, 1500], hops: [0, 1, 5], at: 50,
  full: { repeat: 3, duration: "10s", warmup: "3s", capacity: { step: "10s", warmup: "3s", precision: 0.05, max_factor: 8 } },
  // Within 30 minutes on a 2-core machine (gridEstimate): 2 × 2 cells, 2 rounds, short runs, a coarse search.
  quick: { fleet: [15, 150], hops: [0, 5], repeat: 2, duration: "5s", warmup: "1s", capacity: { step: "5s", warmup: "1s", precision: 0.25, max_factor: 2 } },
};

/** One finished cell: capacities at the SLO and the model at the map's rate. */
export interface CellDoc {
  schema_version: 1;
  kind: "grid-cell";
  fleet: number;
  hop_ms: number;
  at: number;
  started_at: string;
  finished_at: string;
  content_hash: string | null;
  slo: Slo;
  capacities: { target: string; capacity: number | null; bracket: [number | null, number | null]; note: string | null; steps: number }[];
  /** The targets whose capacity reaches the map's rate: the ones the model measured. */
  eligible: string[];
  model: ModelDoc | null;
}

export interface GridDoc {
  schema_version: 1;
  kind: "grid";
  created_at: string;
  params: GridParams;
  targets: string[];
  cells: { fleet: number; hop_ms: number; file: string }[];
  estimate_seconds: number;
}

export const cellFile = (fleet: number, hop: number) => `cell-N${fleet}-D${hop}ms.json`;

/** The model's rates in a cell: up to the map's rate (halves below it), whole requests/s, at least 1. */
export function cellRates(at: number, quick: boolean): number[] {
  const fractions = quick ? [0.5, 1] : [0.25, 0.5, 1];
  return [...new Set(fractions.map((f) => Math.max(1, Math.round(f * at))))];
}

/** Steps a capacity search is assumed to take, for the estimate (from `at` doubling to max, then bisecting to the precision). */
const searchSteps = (p: GridParams) => Math.ceil(Math.log2(p.capacity.max_factor)) + 1 + Math.ceil(Math.log2(1 / p.capacity.precision));

/** About how long a grid takes: every cell's reseed, searches and model. */
export function gridEstimate(p: GridParams, targets: number): { seconds: number; line: string } {
  const step = durationSeconds(p.capacity.step) + durationSeconds(p.capacity.warmup) + RUN_OVERHEAD_S;
  const search = searchSteps(p) * step + 8; // + the case's start and stop
  const model = modelPlan(targets, { rates: cellRates(p.at, p.quick), repeat: p.repeat, duration: p.duration, warmup: p.warmup }).seconds;
  const reseed = (n: number) => 5 + n / 100;
  const cells = p.fleet.flatMap((n) => p.hops.map(() => reseed(n) + targets * search + model));
  const seconds = cells.reduce((s, c) => s + c, 0);
  return {
    seconds,
    line: `planned grid: ${p.fleet.length} fleet size(s) (${p.fleet.join(", ")}) × ${p.hops.length} hop latenc${p.hops.length === 1 ? "y" : "ies"} (${p.hops.map((d) => `${d} ms`).join(", ")}) = ${cells.length} cells × ${targets} target(s); per cell a capacity search per target (about ${searchSteps(p)} steps of ${p.capacity.step}) and the model at ${cellRates(p.at, p.quick).join(", ")} requests/s × ${p.repeat} round(s) of ${p.duration}: about ${minutes(seconds)} in all`,
  };
}

/** The folder of a grid: given as the folder or its grid.json. */
export function gridDir(path: string): string {
  const dir = path.endsWith(".json") ? dirname(path) : path;
  if (!existsSync(join(dir, "grid.json"))) throw new UsageError(`a grid is named by its folder (results/grid-<time>) or its grid.json: no grid.json in "${dir}"`);
  return dir;
}

/** The finished cells of a grid folder (a file that does not parse is measured again). */
export function readCells(dir: string): CellDoc[] {
  const grid = JSON.parse(readFileSync(join(dir, "grid.json"), "utf8")) as GridDoc;
  return grid.cells.flatMap((c) => {
    const path = join(dir, c.file);
    if (!existsSync(path)) return [];
    try {
      const cell = JSON.parse(readFileSync(path, "utf8")) as CellDoc;
      return cell.kind === "grid-cell" ? [cell] : [];
    } catch {
      return [];
    }
  });
}

/** Loads a fleet of `n` robots; returns the data's content hash. */
async function reseed(config: Config, n: number, log: (line: string) => void): Promise<string> {
  await clusterUp(config, log);
  const sql = createSql(config, "fleetbench-grid");
  try {
    await seedFleet(sql, n, log);
    return await contentHash(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** The options of compare that select exactly `rows` (null when no selection does). */
function selectionOf(rows: TargetStep[]): Pick<ModelOptions, "cases" | "gateways" | "runtimes"> | null {
  const cases = [...new Set(rows.map((r) => r.case))];
  const gateways = [...new Set(rows.flatMap((r) => targetFor(r.case, r.config).choice ?? []))];
  const runtimes = [...new Set(rows.map((r) => r.config.runtime))];
  const picked = selectTargets(cases, gateways, runtimes).map((t) => t.label).sort();
  return picked.join("|") === rows.map((r) => r.label).sort().join("|") ? { cases, gateways, runtimes } : null;
}

/** One cell: the fleet reseeded, every target's capacity searched from the map's rate, the model among those that reach it. */
async function measureCell(config: Config, p: GridParams, fleet: number, hop: number, log: (line: string) => void, stopped: () => boolean): Promise<{ cell: CellDoc | null; interrupted: boolean }> {
  const cellConfig: Config = { ...config, hopLatencyMs: hop === 0 ? null : hop };
  const started = new Date().toISOString();
  log(`\n########## cell: fleet of ${fleet} robots, ${hop} ms per internal hop ##########`);
  const hash = await reseed(cellConfig, fleet, log);
  if (stopped()) return { cell: null, interrupted: true };
  const plan = targetPlan(cellConfig, p.cases ?? undefined, p.gateways, p.runtimes);
  const search: CapacityOptions = {
    slo: p.slo, start: p.at, max: p.at * p.capacity.max_factor, step: p.capacity.step, warmup: p.capacity.warmup,
    precision: p.capacity.precision, ...(p.api ? { api: p.api as CapacityOptions["api"] } : {}),
  };
  const found = await capacityCurves(cellConfig, plan, { ...search, repeat: 1, seed: p.seed }, log);
  if (found.interrupted || stopped()) return { cell: null, interrupted: true };
  const capacities = (found.doc.searches ?? []).map((s) => ({ target: s.target, capacity: s.capacity, bracket: s.bracket, note: s.note, steps: s.steps.length }));
  const eligibleRows = plan.filter((row) => (capacities.find((c) => c.target === row.label)?.capacity ?? 0) >= p.at);
  let model: ModelDoc | null = null;
  if (eligibleRows.length) {
    const selection = selectionOf(eligibleRows) ?? selectionOf(plan)!;
    const measured = await measureModel(cellConfig, {
      rates: cellRates(p.at, p.quick), duration: p.duration, warmup: p.warmup, repeat: p.repeat, seed: p.seed,
      ...selection, at: p.at, price: p.price ?? undefined, stop: stopped, ...(p.api ? { api: p.api as ModelOptions["api"] } : {}),
    }, log);
    if (measured.interrupted) return { cell: null, interrupted: true };
    model = measured.doc;
  } else log(`no target meets ${sloText(p.slo)} at ${p.at} requests/s in this cell: no model measured`);
  return {
    interrupted: false,
    cell: {
      schema_version: 1, kind: "grid-cell", fleet, hop_ms: hop, at: p.at, started_at: started, finished_at: new Date().toISOString(),
      content_hash: hash, slo: p.slo, capacities, eligible: eligibleRows.map((r) => r.label), model,
    },
  };
}

/**
 * A grid, new (`dir` null: results/grid-<time>/) or resumed (its folder): every cell not yet in a
 * file. The configured fleet is put back at the end. Returns the folder and whether it finished.
 */
export async function runGrid(config: Config, p: GridParams | null, resume: string | null, log: (line: string) => void = console.log): Promise<{ dir: string; complete: boolean; interrupted: boolean }> {
  let dir: string;
  let grid: GridDoc;
  if (resume) {
    dir = gridDir(resume);
    grid = JSON.parse(readFileSync(join(dir, "grid.json"), "utf8")) as GridDoc;
  } else {
    dir = join(config.resultsDir, `grid-${fileStamp()}`);
    mkdirSync(dir, { recursive: true });
    const targets = targetPlan(config, p!.cases ?? undefined, p!.gateways, p!.runtimes).map((t) => t.label);
    const estimate = gridEstimate(p!, targets.length);
    grid = {
      schema_version: 1, kind: "grid", created_at: new Date().toISOString(), params: p!, targets,
      cells: p!.fleet.flatMap((fleet) => p!.hops.map((hop_ms) => ({ fleet, hop_ms, file: cellFile(fleet, hop_ms) }))),
      estimate_seconds: Math.round(estimate.seconds),
    };
    writeAtomic(join(dir, "grid.json"), `${JSON.stringify(grid, null, 2)}\n`);
  }
  const params = grid.params;
  const finished = new Set(readCells(dir).map((c) => cellFile(c.fleet, c.hop_ms)));
  const todo = grid.cells.filter((c) => !finished.has(c.file));
  log(`${gridEstimate({ ...params, fleet: [...new Set(todo.map((c) => c.fleet))], hops: [...new Set(todo.map((c) => c.hop_ms))] }, grid.targets.length).line.replace(/= \d+ cells/, `≈ ${todo.length} cells`)}`);
  log(`grid folder: ${dir}${finished.size ? ` (${finished.size} cell(s) already finished, kept)` : ""}; an interrupted grid continues with --resume ${dir}`);
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  try {
    for (const c of todo) {
      if (interrupted) break;
      const { cell, interrupted: stopped } = await measureCell(config, params, c.fleet, c.hop_ms, log, () => interrupted);
      if (stopped || !cell) {
        interrupted = true;
        break;
      }
      writeAtomic(join(dir, c.file), `${JSON.stringify(cell, null, 2)}\n`);
      log(`cell written: ${join(dir, c.file)}`);
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    log(`\nputting the configured fleet of ${config.fleetSize} robots back`);
    await reseed(config, config.fleetSize, log);
    if (!dbWasUp) await clusterDown(config, log);
  }
  const complete = readCells(dir).length === grid.cells.length;
  if (!complete) log(`grid not complete (${readCells(dir).length} of ${grid.cells.length} cells): continue with \`just grid --resume ${dir}\``);
  return { dir, complete, interrupted };
}

/** Checks a grid's axes: fleet sizes positive, hop latencies whole milliseconds ≥ 0. */
export function checkAxes(fleet: number[], hops: number[]) {
  if (hops.some((h) => !Number.isInteger(h) || h < 0 || h > 60000)) throw new UsageError(`--hops takes whole milliseconds from 0 to 60000 (e.g. 0,1,5), got ${hops.join(",")}`);
  if (new Set(fleet).size !== fleet.length || new Set(hops).size !== hops.length) throw new UsageError(`--fleet and --hops name each value once, got --fleet ${fleet.join(",")} --hops ${hops.join(",")}`);
}
