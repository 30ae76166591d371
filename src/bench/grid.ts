/**
 * Measuring the cost model and the grid (DESIGN §20).
 *
 *   bun src/main.ts model [DURATION] [--rates 25,50,100,200] [--repeat R] [--at R] [--price vcpu-hour=P,gb-hour=Q]
 *   bun src/main.ts grid [--fleet 15,150,1500] [--hops 0,1,5] [--at R] [--quick] [--resume DIR]
 *
 * A model measures every target at several offered rates: each round runs every rate in a
 * shuffled order, and each rate is one comparison (src/bench/compare.ts, the open model only),
 * which runs every target in its own shuffled order. Rates are interleaved over the rounds, not
 * measured one after another, so a machine that drifts moves every rate's points alike rather
 * than tilting the line. The points go to src/bench/model.ts; results/model-<time>.json holds it.
 *
 * A grid measures, in every cell of fleet size × hop latency, each target's capacity at the SLO
 * (src/bench/capacity.ts, searched upwards from the map's rate) and the model at rates up to the
 * map's rate among the targets that meet the SLO there. Each finished cell is its own file in the
 * grid's folder, so an interrupted grid keeps them and `--resume` measures only the rest.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type CapacityOptions, sloText, type Slo } from "./capacity";
import { selectTargets } from "./cases";
import { compare, shuffled } from "./compare";
import type { Config } from "../config";
import { contentHash, createSql } from "../db";
import { mulberry32 } from "../determinism.js";
import { UsageError } from "../errors";
import { durationSeconds } from "./load";
import { minutes, RUN_OVERHEAD_S } from "./estimate";
import { type Interval, type ModelPoint, modelPoint } from "./model";
import { analyseModel, type ModelDoc, type Price, rankAt, cheapestChanges, type Ranking } from "./cost";
import { clusterDown, clusterPid, clusterUp } from "./pg-cluster";
import { fileStamp, type RunResult, writeAtomic } from "./results";
import type { RuntimeName } from "../runtime";
import { seed as seedFleet } from "../seed";
import { capacityCurves, type TargetStep, targetPlan } from "./curves";
import { commonFingerprint } from "./verdicts";

export interface ModelOptions {
  rates: number[];
  duration: string;
  warmup: string;
  repeat: number;
  seed?: number;
  cases?: TargetStep["case"][];
  gateways: Config["case3Gateway"][];
  runtimes?: RuntimeName[];
  api?: CapacityOptions["api"];
  /** The rate the ranking is made at (default: the highest rate measured). */
  at?: number;
  price?: Price;
  /** Checked before every block: true stops the model there (a grid's Ctrl-C). */
  stop?: () => boolean;
}

/** A model's runs and about how long they take. */
export function modelPlan(targets: number, options: Pick<ModelOptions, "rates" | "repeat" | "duration" | "warmup">) {
  const runs = targets * options.rates.length * options.repeat;
  const seconds = runs * (durationSeconds(options.duration) + durationSeconds(options.warmup) + RUN_OVERHEAD_S);
  return { runs, seconds, line: `planned: ${options.repeat} round(s) × ${options.rates.length} rate(s) (${options.rates.join(", ")} requests/s) × ${targets} target(s) = ${runs} runs of ${options.duration} after a ${options.warmup} warm-up, about ${minutes(seconds)}` };
}

/** Every target at every rate, in rounds; the fits. The database stays up throughout (started if needed, stopped after). */
export async function measureModel(config: Config, options: ModelOptions, log: (line: string) => void = console.log): Promise<{ doc: ModelDoc; interrupted: boolean }> {
  const plan = selectTargets(options.cases, options.gateways, options.runtimes ?? [config.runtime]);
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = mulberry32(seed);
  log(`model: every target (${plan.map((t) => t.label).join(", ")}) at ${options.rates.join(", ")} requests/s, ${options.repeat} round(s), each round every rate in a shuffled order (seed ${seed})`);
  log(modelPlan(plan.length, options).line);
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  await clusterUp(config, log);
  const points: ModelPoint[] = [];
  const results: RunResult[] = [];
  const blocks: ModelDoc["blocks"] = [];
  const notes: string[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  try {
    for (let round = 1; round <= options.repeat && !interrupted; round++) {
      for (const rate of shuffled(options.rates, random)) {
        if (options.stop?.()) interrupted = true;
        if (interrupted) break;
        log(`\n##### model round ${round} of ${options.repeat}: every target at ${rate} requests/s #####`);
        let done: Awaited<ReturnType<typeof compare>>;
        try {
          done = await compare(config, {
            vus: 10, duration: options.duration, repeat: 1, warmup: options.warmup, seed: Math.floor(random() * 2 ** 31),
            gateways: options.gateways, runtimes: options.runtimes, cases: options.cases, api: options.api, rate, phases: ["rate"],
          }, log);
        } catch (error) {
          // A failed run ends the model here; what was measured is kept and said.
          notes.push(`the model stopped in round ${round} at ${rate} requests/s: ${(error as Error).message}`);
          log(`model stopped: ${(error as Error).message}`);
          interrupted = true;
          break;
        }
        blocks.push({ round, rate, compare: basename(done.compare) });
        for (const run of done.comparison.runs) {
          const result = JSON.parse(readFileSync(join(config.resultsDir, run.file), "utf8")) as RunResult;
          results.push(result);
          points.push(modelPoint(run.target, round, run.file, result));
        }
        if (done.interrupted) interrupted = true;
      }
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    if (!dbWasUp) await clusterDown(config, log);
  }
  const targets = [...new Set([...plan.map((t) => t.label), ...points.map((p) => p.target)])].filter((t) => points.some((p) => p.target === t));
  const params: ModelDoc["params"] = {
    rates: options.rates, duration: options.duration, warmup: options.warmup, repeat: options.repeat, api: options.api ?? null,
    fleet_size: results[0]?.params.fleet_size ?? null, hop_latency_ms: config.hopLatencyMs, at: options.at ?? null, price: options.price ?? null,
  };
  const analysis = analyseModel(points, targets, params);
  const doc: ModelDoc = {
    schema_version: 1, kind: "model", created_at: new Date().toISOString(), seed, params, targets, blocks, points,
    ...analysis, notes: [...notes, ...analysis.notes], fingerprint: commonFingerprint(results.map((r) => r.fingerprint)),
  };
  return { doc, interrupted };
}

/** Writes a model document as results/model-<time>.json. */
export function writeModel(config: Config, doc: ModelDoc): string {
  mkdirSync(config.resultsDir, { recursive: true });
  const path = join(config.resultsDir, `model-${fileStamp()}.json`);
  writeAtomic(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}

// --- The grid ----------------------------------------------------------------------------------

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
  gateways: Config["case3Gateway"][];
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
  const gateways = [...new Set(rows.filter((r) => r.case === "case3").map((r) => r.config.case3Gateway))];
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

// --- The decision map (pure) -------------------------------------------------------------------

export interface Decision {
  fleet: number;
  hop_ms: number;
  at: number;
  verdict: Ranking["verdict"] | "not measured";
  cheapest: string | null;
  runner_up: string | null;
  ratio: number | null;
  ratio_ci: Interval | null;
  /** Targets whose capacity reaches `at`, and those that miss the SLO there (with their capacity). */
  meets: string[];
  misses: { target: string; capacity: number | null }[];
  /** Where the cheapest target changes within the cell's measured rates. */
  changes: { rate: number; from: string; to: string; ci: Interval | null }[];
  /** The cost at `at` is read off a line beyond the rates it was fitted over. */
  extrapolated: boolean;
  basis: string | null;
  /** The cell in words (the heatmap's label and the table's cell). */
  words: string;
}

const short = (target: string) => target.replace(/ · /g, " ");
const fmt = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The decision in one cell at `at` requests/s: the cheapest target meeting the SLO there, its ratio to the runner-up. */
export function decide(cell: CellDoc | null, fleet: number, hop: number, at: number, price?: Price): Decision {
  const base = { fleet, hop_ms: hop, at, cheapest: null, runner_up: null, ratio: null, ratio_ci: null, changes: [], extrapolated: false, basis: null };
  if (!cell) return { ...base, verdict: "not measured", meets: [], misses: [], words: "not measured yet" };
  const meets = cell.capacities.filter((c) => c.capacity !== null && c.capacity >= at).map((c) => c.target);
  const misses = cell.capacities.filter((c) => !meets.includes(c.target)).map((c) => ({ target: c.target, capacity: c.capacity }));
  const models = (cell.model?.models ?? []).filter((m) => meets.includes(m.target));
  const ranking = rankAt(models, at, price);
  const fitted = models.filter((m) => m.total);
  const lo = fitted.length ? Math.max(...fitted.map((m) => m.total!.range[0])) : 0;
  const hi = fitted.length ? Math.min(...fitted.map((m) => m.total!.range[1])) : 0;
  const changes = hi > lo ? cheapestChanges(models, lo, hi, price) : [];
  const [c1, c2] = ranking.costs;
  const extrapolated = ranking.costs.slice(0, 2).some((c) => c.extrapolated);
  const unit = ranking.by === "money" ? "money" : "CPU-hours";
  const words = ranking.verdict === "none"
    ? (meets.length ? `${meets.map(short).join(", ")} meet${meets.length === 1 ? "s" : ""} the SLO, no model` : `no target meets ${sloText(cell.slo)} at ${at}/s`)
    : ranking.verdict === "alone" ? `only ${short(c1.target)} meets the SLO`
    : ranking.verdict === "tie" ? `tie: ${short(c1.target)} ≈ ${short(c2.target)} (${fmt(ranking.ratio!)}×${ranking.ratio_ci ? `, ${fmt(ranking.ratio_ci[0])}–${fmt(ranking.ratio_ci[1])}` : ", no interval"})`
    : `${short(c1.target)}: ${fmt(ranking.ratio!)}× ${short(c2.target)}'s ${unit} (${fmt(ranking.ratio_ci![0])}–${fmt(ranking.ratio_ci![1])})`;
  return {
    ...base, verdict: ranking.verdict, cheapest: c1?.target ?? null, runner_up: c2?.target ?? null, ratio: ranking.ratio, ratio_ci: ranking.ratio_ci,
    meets, misses, changes, extrapolated, basis: ranking.basis, words: `${words}${extrapolated ? " (extrapolated)" : ""}`,
  };
}

/** The decision map of a grid: one decision per cell, in the grid's order. */
export function decisionMap(grid: GridDoc, cells: CellDoc[], at: number = grid.params.at, price: Price | undefined = grid.params.price ?? undefined): Decision[] {
  return grid.cells.map((c) => decide(cells.find((x) => x.fleet === c.fleet && x.hop_ms === c.hop_ms) ?? null, c.fleet, c.hop_ms, at, price));
}

/** Checks a grid's axes: fleet sizes positive, hop latencies whole milliseconds ≥ 0. */
export function checkAxes(fleet: number[], hops: number[]) {
  if (hops.some((h) => !Number.isInteger(h) || h < 0 || h > 60000)) throw new UsageError(`--hops takes whole milliseconds from 0 to 60000 (e.g. 0,1,5), got ${hops.join(",")}`);
  if (new Set(fleet).size !== fleet.length || new Set(hops).size !== hops.length) throw new UsageError(`--fleet and --hops name each value once, got --fleet ${fleet.join(",")} --hops ${hops.join(",")}`);
}
