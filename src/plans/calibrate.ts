/**
 * `just calibrate` (docs/design.md §18, §23): the instrument proves itself on the user's machine. Case 1
 * runs three times in every round at one arrival rate: twice as it is (an A/A pair: what "no
 * difference" looks like here) and once with a known CPU cost injected into telemetry-service
 * (`--inject-cpu telemetry-service=1ms`: that much CPU time burnt per request it receives).
 *
 * It checks the headline, the number a comparison decides on: the paired ratio of the case's total
 * CPU per request, injected ÷ plain (geometric mean of the per-round ratios, 95 % t interval with
 * each round set against its own expected ratio: headlineCheck), against the expected ratio
 * (plain + calls × injected) ÷ plain — the plain run's total per client request, plus
 * telemetry-service's calls per client request × the injected time (mix 50/30/20 at N = 15:
 * 0.5·15 + 0.3·1 + 0.2·10 = 9.8 calls → +9.8 ms). The pass: the interval lies within ±10 % of
 * it. Whether the interval also holds the expected ratio is said, not required: the injection
 * slows telemetry-service, and its caller pays for that too (robot-service +0.71 ms and PostgreSQL
 * +0.20 ms per client request here, its answers spread out over more wake-ups), a real cost of
 * about 5 % of the ratio that ten rounds resolve; requiring it inside the interval would fail a
 * sound instrument for running enough rounds. Every other process's change is printed beside it.
 *
 * On a noisy machine five rounds may give an interval that reaches past the band: rounds are then
 * added, up to `maxRepeat` (10 by default), a look after every round from `repeat` on, until the
 * interval lies within the band (passed) or wholly beyond it (failed). An interval that still
 * straddles an edge of the band at the last look is undecided, said as such (exit 4): it shows
 * neither a sound instrument nor a faulty one, only too few rounds for this machine's noise — with
 * the callers' ~5 % above and a per-round spread of 0.08, 70 % of calibrations (simulated in
 * test/calibrate.test.ts). Failed is also the injected process alone wholly beyond ±10 %.
 *
 * Each look's interval is a repeated confidence interval (the group-sequential t boundaries of
 * src/stats/t-path.ts, 2.5 % per side spent over the looks), so a ratio 10 % off the
 * expected one passes at some look in at most 2.5 % of calibrations however the rounds stop; with
 * `maxRepeat` = `repeat` it is the fixed t interval. Beside it, as a second line, the injected
 * process alone: its own added CPU per client request against calls × injected. The A/A pair must
 * give no verdict, and the line says how often one is expected by chance; last, the smallest CPU
 * difference this machine resolves at R rounds.
 *
 *   bun src/main.ts calibrate [DURATION] [--repeat 5] [--max-repeat 10] [--rate 30] [--inject 1ms] [--warmup 3s]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config";
import { compare } from "./compare";
import { fileStamp, type RunResult, writeAtomic } from "../run/results";
import { CALIBRATION_PROCESS, type CalibrateOptions, type Calibration, calibrationColumns, calibrationLines, calibrationOf, headlineDesign, headlineLook, TOLERANCE } from "./calibration";

export const CALIBRATE_DEFAULTS: CalibrateOptions & { maxRepeat: number } = { duration: "10s", repeat: 5, maxRepeat: 10, rate: 30, injectMs: 1, warmup: "3s" };

export async function calibrate(config: Config, options: CalibrateOptions, log: (line: string) => void = console.log) {
  log(`calibration: Case 1 three times per round at ${options.rate} requests/s — twice as it is (A/A), once with ${options.injectMs} ms of CPU burnt per request in ${CALIBRATION_PROCESS}`);
  const result = await compare(config, {
    vus: 10,
    duration: options.duration,
    repeat: headlineDesign(options)?.maxRounds ?? options.repeat,
    rate: options.rate,
    lookAfterRound: { minRounds: options.repeat, what: `the headline's interval lies within ±${TOLERANCE * 100} % of the expected ratio, or wholly beyond it`, look: (done) => headlineLook(done, options) },
    phases: ["rate"],
    warmup: options.warmup,
    seed: options.seed,
    gateways: [],
    cases: ["case1", "case1", "case1"],
    inject: [null, null, { [CALIBRATION_PROCESS]: options.injectMs }],
  }, log);
  const targets = result.comparison.targets;
  if (targets.length !== 3) throw new Error(`calibration needs all three columns to have run: got ${targets.join(", ")}`);
  const { plain, twin, injected } = calibrationColumns(targets) as Record<"plain" | "twin" | "injected", string>;
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
