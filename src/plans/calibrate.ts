/**
 * `just calibrate` (DESIGN §18): the instrument proves itself on the user's machine. Case 1 runs
 * three times in every round at one arrival rate: twice as it is (an A/A pair: what "no
 * difference" looks like here) and once with a known CPU cost injected into telemetry-service
 * (`--inject-cpu telemetry-service=1ms`: that much CPU time burnt per request it receives). The
 * expected increase of telemetry-service's CPU per client request is its calls per client request
 * × the injected time (mix 50/30/20 at N = 15: 0.5·15 + 0.3·1 + 0.2·10 = 9.8 calls → 9.8 ms). It
 * says measured against expected with its interval, whether the A/A pair gave a verdict (it must
 * not), and the smallest CPU difference this machine resolves at R rounds; it fails when the
 * measured injected cost is more than 10 % off.
 *
 *   bun src/main.ts calibrate [DURATION] [--repeat 5] [--rate 30] [--inject 1ms] [--warmup 3s]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config";
import { compare } from "./compare";
import { pairedT, resolvable } from "../stats/paired";
import { fileStamp, type RunResult, writeAtomic } from "../run/results";
import { median } from "../stats/stats";
import { targetOf } from "./verdicts";

/** The process the known cost goes into, and how far off the measured cost may be. */
export const CALIBRATION_PROCESS = "telemetry-service";
export const TOLERANCE = 0.1;

export interface CalibrateOptions {
  duration: string;
  repeat: number;
  rate: number;
  /** CPU milliseconds burnt per request telemetry-service receives. */
  injectMs: number;
  warmup: string;
  seed?: number;
}

export const CALIBRATE_DEFAULTS: CalibrateOptions = { duration: "10s", repeat: 5, rate: 30, injectMs: 1, warmup: "3s" };

export interface Calibration {
  schema_version: 1;
  created_at: string;
  comparison: string;
  params: CalibrateOptions;
  process: string;
  /** telemetry-service's calls per client request in the injected runs (median over rounds). */
  calls_per_request: number;
  expected_ms: number;
  /** Mean over rounds of (injected − plain) telemetry-service CPU ms per client request, with its 95 % t-interval. */
  measured_ms: number;
  measured_ci: [number, number];
  /** measured ÷ expected − 1. */
  error: number;
  passed: boolean;
  /** The total CPU per request of the injected column against the plain one: must be `higher`. */
  total_verdict: string;
  /** The A/A pair on total CPU per request: must be `equivalent` or `inconclusive`. */
  aa: { verdict: string; ratio: number; ci: [number, number]; sd_log: number | null; rounds: number };
  /** The smallest ratio difference of total CPU per request these rounds resolve, from the A/A spread. */
  resolvable_at_r: number | null;
  rounds: number;
}

const processMs = (r: RunResult, name: string) => r.resources[name]?.cpu_ms_per_request ?? null;

/** The calibration's figures from the runs of its comparison (pure; tested on recorded runs). */
export function calibrationOf(
  runs: { round: number; result: RunResult }[],
  columns: { plain: string; twin: string; injected: string },
  comparison: { metrics: Record<string, { pairs: { a: string; b: string; paired?: { verdict: string; ratio: number; ci: [number, number]; verdict_ci?: [number, number]; sd_log: number | null; rounds: number } }[] }> },
  options: CalibrateOptions,
): Omit<Calibration, "schema_version" | "created_at" | "comparison"> {
  const byRound = new Map<number, { plain?: RunResult; injected?: RunResult }>();
  for (const r of runs) {
    const column = targetOf(r.result);
    const slot = byRound.get(r.round) ?? {};
    if (column === columns.plain) slot.plain = r.result;
    if (column === columns.injected) slot.injected = r.result;
    byRound.set(r.round, slot);
  }
  const differences: number[] = [];
  const calls: number[] = [];
  for (const { plain, injected } of byRound.values()) {
    if (!plain || !injected || plain.flags.includes("errors") || injected.flags.includes("errors")) continue;
    const [a, b] = [processMs(plain, CALIBRATION_PROCESS), processMs(injected, CALIBRATION_PROCESS)];
    if (a === null || b === null) continue;
    differences.push(b - a);
    const c = injected.calls_per_request[CALIBRATION_PROCESS];
    if (typeof c === "number") calls.push(c);
  }
  if (differences.length < 2) throw new Error(`calibration needs at least 2 rounds in which both the plain and the injected run completed without errors: got ${differences.length}`);
  const t = pairedT(differences);
  const callsPerRequest = median(calls);
  const expected = callsPerRequest * options.injectMs;
  const error = t.mean / expected - 1;
  const find = (key: string, a: string, b: string) => comparison.metrics[key]?.pairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a));
  const aaPair = find("cpu_ms_total", columns.plain, columns.twin)?.paired;
  const totalPair = find("cpu_ms_total", columns.injected, columns.plain);
  // The stored pair may be (plain, injected): its verdict then reads the other way round.
  const flip: Record<string, string> = { lower: "higher", higher: "lower" };
  const totalVerdict = totalPair?.paired ? (totalPair.a === columns.injected ? totalPair.paired.verdict : flip[totalPair.paired.verdict] ?? totalPair.paired.verdict) : "inconclusive";
  return {
    params: options,
    process: CALIBRATION_PROCESS,
    calls_per_request: callsPerRequest,
    expected_ms: expected,
    measured_ms: t.mean,
    measured_ci: t.ci,
    error,
    passed: Math.abs(error) <= TOLERANCE,
    total_verdict: totalVerdict,
    aa: aaPair ? { verdict: aaPair.verdict, ratio: aaPair.ratio, ci: aaPair.verdict_ci ?? aaPair.ci, sd_log: aaPair.sd_log, rounds: aaPair.rounds } : { verdict: "inconclusive", ratio: Number.NaN, ci: [Number.NaN, Number.NaN], sd_log: null, rounds: 0 },
    resolvable_at_r: aaPair?.sd_log != null ? resolvable(aaPair.sd_log, aaPair.rounds) : null,
    rounds: differences.length,
  };
}

/** The calibration in a few lines, for the console and the file's readers. */
export function calibrationLines(c: Omit<Calibration, "schema_version" | "created_at" | "comparison">): string[] {
  const ms = (x: number) => x.toFixed(2);
  const aaOk = c.aa.verdict === "equivalent" || c.aa.verdict === "inconclusive";
  return [
    `injected ${c.params.injectMs} ms of CPU per request into ${c.process}, which received ${c.calls_per_request.toFixed(2)} calls per client request: expected +${ms(c.expected_ms)} ms of its CPU per client request`,
    `measured +${ms(c.measured_ms)} ms (95 % CI ${ms(c.measured_ci[0])}–${ms(c.measured_ci[1])}, paired over ${c.rounds} rounds at ${c.params.rate} requests/s): ${(c.error * 100).toFixed(1)} % off, ${c.passed ? "within" : "OUTSIDE"} ±${TOLERANCE * 100} %`,
    `total CPU per request with the injection: ${c.total_verdict}${c.total_verdict === "higher" ? "" : " (expected higher)"}`,
    `A/A (Case 1 against itself): ${c.aa.verdict}, ratio ${c.aa.ratio.toFixed(3)} [${c.aa.ci[0].toFixed(3)}–${c.aa.ci[1].toFixed(3)}]${aaOk ? ": no false verdict" : ": a verdict between identical targets — this machine was noisier than its intervals say"}`,
    c.resolvable_at_r === null ? "smallest resolvable difference: not known (the A/A pair has no spread)" : `smallest difference in total CPU per request this machine resolves at ${c.aa.rounds} rounds with 80 % power: ±${(c.resolvable_at_r * 100).toFixed(1)} % (A/A spread of the per-round log ratio ${c.aa.sd_log!.toFixed(3)})`,
  ];
}

export async function calibrate(config: Config, options: CalibrateOptions, log: (line: string) => void = console.log) {
  log(`calibration: Case 1 three times per round at ${options.rate} requests/s — twice as it is (A/A), once with ${options.injectMs} ms of CPU burnt per request in ${CALIBRATION_PROCESS}`);
  const result = await compare(config, {
    vus: 10,
    duration: options.duration,
    repeat: options.repeat,
    rate: options.rate,
    phases: ["rate"],
    warmup: options.warmup,
    seed: options.seed,
    gateways: [],
    cases: ["case1", "case1", "case1"],
    inject: [null, null, { [CALIBRATION_PROCESS]: options.injectMs }],
  }, log);
  const targets = result.comparison.targets;
  if (targets.length !== 3) throw new Error(`calibration needs all three columns to have run: got ${targets.join(", ")}`);
  const [plain, twin, injected] = [targets.find((t) => t.endsWith("#1"))!, targets.find((t) => t.endsWith("#2"))!, targets.find((t) => t.includes(CALIBRATION_PROCESS))!];
  const runs = result.comparison.runs.map((r) => ({ round: r.round, result: JSON.parse(readFileSync(join(config.resultsDir, r.file), "utf8")) as RunResult }));
  const figures = calibrationOf(runs, { plain, twin, injected }, result.comparison, options);
  const calibration: Calibration = { schema_version: 1, created_at: new Date().toISOString(), comparison: result.compare, ...figures };
  const path = join(config.resultsDir, `calibrate-${fileStamp()}.json`);
  writeAtomic(path, `${JSON.stringify(calibration, null, 2)}\n`);
  log("");
  for (const line of calibrationLines(figures)) log(line);
  log(`calibration: ${path}`);
  return { path, calibration, interrupted: result.interrupted };
}
