/**
 * The calibration's figures, pure (tested on recorded runs): from the runs of the comparison `just
 * calibrate` (calibrate.ts) ran, the headline check on the case's total CPU per request, the injected
 * process alone, the A/A pair, and the lines that say them. The method is in calibrate.ts's header.
 */
import { ALPHA, pairedT, resolvable } from "../stats/paired";
import type { RunResult } from "../run/results";
import { cpuMsPerRequest, inCaseTotal } from "../run/run-result";
import { median } from "../stats/stats";
import { EXCLUDING_FLAGS, targetOf } from "./verdicts";
import { tBoundaries } from "../stats/t-path";

/** The process the known cost goes into, and how far off the measured cost may be. */
export const CALIBRATION_PROCESS = "telemetry-service";
export const TOLERANCE = 0.1;

export interface CalibrateOptions {
  duration: string;
  /** Rounds before the first look. */
  repeat: number;
  /** The last look: rounds are added up to it while the headline is undecided. @default repeat (a fixed design) */
  maxRepeat?: number;
  rate: number;
  /** CPU milliseconds burnt per request telemetry-service receives. */
  injectMs: number;
  warmup: string;
  seed?: number;
}

/** The headline check: the case's total CPU per request, injected ÷ plain, against what the injection must add. */
export interface HeadlineCheck {
  /** Geometric mean over rounds of injected ÷ plain total CPU per request. */
  ratio: number;
  /** Its 95 % interval with each round set against its own expected ratio (see headlineCheck). */
  ci: [number, number];
  /** The pair's own 95 % paired t interval, as the comparison shows it (wider: it carries the plain runs' noise whole). */
  pair_ci: [number, number];
  /** (plain + calls × injected) ÷ plain per round, geometric mean over rounds: what the ratio must be. */
  expected_ratio: number;
  /** expected × (1 ± TOLERANCE): the interval must lie inside. */
  bounds: [number, number];
  /** The interval contains the expected ratio (reported; with enough rounds a real second-order cost elsewhere leaves it out). */
  contains: boolean;
  /** The interval lies within the bounds: the pass. */
  within: boolean;
  /** The interval lies wholly beyond the bounds: failed for good. */
  outside?: boolean;
  /** Passed (within) or failed for good (outside): no round needs adding. */
  decided?: boolean;
  /** How the interval was drawn: a fixed t interval, or a repeated one at this look of a sequential design. */
  interval_kind?: string;
  /** The plain run's total CPU per client request (ms), geometric mean over rounds. */
  plain_ms: number;
  rounds: number;
}

export interface Calibration {
  schema_version: 1;
  created_at: string;
  comparison: string;
  params: CalibrateOptions;
  process: string;
  /** The pass: the headline's interval lies within ±10 % of the expected ratio. Absent in calibrations before it. */
  headline?: HeadlineCheck;
  /** telemetry-service's calls per client request in the injected runs (median over rounds). */
  calls_per_request: number;
  expected_ms: number;
  /** Mean over rounds of (injected − plain) telemetry-service CPU ms per client request, with its 95 % t-interval. */
  measured_ms: number;
  measured_ci: [number, number];
  /** measured ÷ expected − 1 (the injected process alone). */
  error: number;
  /** The injected process alone within ±10 % (the pass before the headline check). */
  process_passed?: boolean;
  /** The headline check (before it: the injected process alone). */
  passed: boolean;
  /** passed (within the band), failed (wholly beyond it) or undecided (straddling an edge after the last round). Absent before it: passed or failed. */
  outcome?: CalibrationOutcome;
  /** Every other process of the case: its change in CPU per client request with the injection (ms, mean over rounds). */
  elsewhere_ms?: Record<string, number>;
  /** What failed, in one line; null unless failed. */
  why_failed?: string | null;
  /** Why it is undecided, in one line; null unless undecided. */
  why_undecided?: string | null;
  /** The total CPU per request of the injected column against the plain one, in the comparison's family: must be `higher`. */
  total_verdict: string;
  /** The A/A pair on total CPU per request: must be `equivalent` or `inconclusive`. `false_verdict_chance`: at most α ÷ the family's pairs. */
  aa: { verdict: string; ratio: number; ci: [number, number]; sd_log: number | null; rounds: number; false_verdict_chance?: number };
  /** The smallest ratio difference of total CPU per request these rounds resolve, from the A/A spread. */
  resolvable_at_r: number | null;
  rounds: number;
}

export type CalibrationOutcome = "passed" | "failed" | "undecided";

export type CalibrationFigures = Omit<Calibration, "schema_version" | "created_at" | "comparison">;

/**
 * The headline check on per-round numbers (pure): each round's plain and injected total CPU per
 * client request (ms) and the injected process's calls per client request in that round.
 *
 * Each round has its own expected ratio E_r = (plain_r + calls_r × injected) ÷ plain_r, so the
 * interval is drawn from the rounds' log(measured_r ÷ E_r) = log(injected_r ÷ (plain_r + calls_r ×
 * injected)), paired by round, and stated as a ratio: E·e^(mean ± t·sd/√R), E the geometric mean
 * of the E_r. Its centre is the measured ratio itself (the geometric mean of injected ÷ plain). A
 * plain run that came out high makes that round's measured ratio low and its expected ratio low
 * alike, so that noise counts at plain ÷ (plain + calls × injected) of its weight instead of whole:
 * the same question, asked more precisely. The pair's own interval is kept beside it (pair_ci).
 */
export function headlineCheck(rounds: readonly { plain: number; injected: number; calls: number }[], injectMs: number, design?: { minRounds: number; maxRounds: number }): HeadlineCheck {
  const bad = rounds.find((r) => !(r.plain > 0 && r.injected > 0 && r.calls >= 0));
  if (bad) throw new Error(`the headline check needs positive totals and calls per request in every round: got plain ${bad.plain}, injected ${bad.injected}, calls ${bad.calls}`);
  if (rounds.length < 2) throw new Error(`the headline check needs at least 2 rounds with a plain and an injected run: got ${rounds.length}`);
  const geometric = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
  const expected = geometric(rounds.map((r) => (r.plain + r.calls * injectMs) / r.plain));
  const pair = pairedT(rounds.map((r) => Math.log(r.injected / r.plain)));
  const t = pairedT(rounds.map((r) => Math.log(r.injected / (r.plain + r.calls * injectMs))));
  // A sequential design widens the interval to the look's repeated boundary (rounds beyond the
  // last look, or before the first, are judged as the fixed design they then are).
  const k = rounds.length;
  const sequential = design && design.maxRounds > design.minRounds && k >= design.minRounds && k <= design.maxRounds;
  let range = t.ci;
  let kind = `95 % t interval over ${k} rounds`;
  if (sequential) {
    const c = tBoundaries(ALPHA / 2, design.minRounds, design.maxRounds, 2)[k - design.minRounds];
    const se = t.sd / Math.sqrt(k);
    range = [t.mean - c * se, t.mean + c * se];
    kind = `95 % repeated interval at look ${k} of rounds ${design.minRounds}–${design.maxRounds} (t boundary ${c.toFixed(2)})`;
  }
  const ci: [number, number] = [expected * Math.exp(range[0]), expected * Math.exp(range[1])];
  const bounds: [number, number] = [expected * (1 - TOLERANCE), expected * (1 + TOLERANCE)];
  const contains = ci[0] <= expected && expected <= ci[1];
  const within = bounds[0] <= ci[0] && ci[1] <= bounds[1];
  const outside = ci[1] < bounds[0] || ci[0] > bounds[1];
  return {
    ratio: Math.exp(pair.mean), ci, pair_ci: [Math.exp(pair.ci[0]), Math.exp(pair.ci[1])], expected_ratio: expected, bounds,
    contains,
    within,
    outside,
    decided: within || outside,
    interval_kind: kind,
    plain_ms: geometric(rounds.map((r) => r.plain)),
    rounds: k,
  };
}

const processMs = (r: RunResult, name: string) => r.resources[name]?.cpu_ms_per_request ?? null;
const counted = (r: RunResult) => !r.flags.some((f) => EXCLUDING_FLAGS.includes(f));

/** The rounds the calibration can use (pure): those whose plain and injected runs both count, and their figures. */
export function calibrationRounds(runs: readonly { round: number; result: RunResult }[], columns: { plain: string; injected: string }) {
  const byRound = new Map<number, { plain?: RunResult; injected?: RunResult }>();
  for (const r of runs) {
    const column = targetOf(r.result);
    const slot = byRound.get(r.round) ?? {};
    if (column === columns.plain) slot.plain = r.result;
    if (column === columns.injected) slot.injected = r.result;
    byRound.set(r.round, slot);
  }
  // Rounds whose plain and injected runs both count in the comparison (no errors, a steady state).
  const both = [...byRound.values()].filter((s): s is { plain: RunResult; injected: RunResult } => !!s.plain && !!s.injected && counted(s.plain) && counted(s.injected));
  const calls = both.map((s) => s.injected.calls_per_request[CALIBRATION_PROCESS]).filter((c): c is number => typeof c === "number");
  const callsPerRequest = calls.length ? median(calls) : null;
  const differences: number[] = [];
  const totals: { plain: number; injected: number; calls: number }[] = [];
  for (const { plain, injected } of both) {
    const [a, b] = [processMs(plain, CALIBRATION_PROCESS), processMs(injected, CALIBRATION_PROCESS)];
    if (a !== null && b !== null) differences.push(b - a);
    const [p, i] = [cpuMsPerRequest(plain, inCaseTotal), cpuMsPerRequest(injected, inCaseTotal)];
    const c = injected.calls_per_request[CALIBRATION_PROCESS];
    if (p !== null && i !== null && p > 0 && i > 0 && (typeof c === "number" || callsPerRequest !== null)) totals.push({ plain: p, injected: i, calls: typeof c === "number" ? c : callsPerRequest! });
  }
  // Every other process of the case: its CPU per client request, injected − plain, mean over the rounds.
  const names = [...new Set(both.flatMap(({ plain }) => Object.keys(plain.resources)))].filter((p) => inCaseTotal(p) && p !== CALIBRATION_PROCESS).sort();
  const elsewhere = Object.fromEntries(names.map((p) => {
    const d = both.map(({ plain, injected }) => [processMs(plain, p), processMs(injected, p)]).filter((x): x is [number, number] => x[0] !== null && x[1] !== null).map(([a, b]) => b - a);
    return [p, d.length ? d.reduce((s, x) => s + x, 0) / d.length : Number.NaN];
  }));
  return { usable: both.length, callsPerRequest, differences, totals, elsewhere };
}

/** The calibration's three columns among a comparison's targets, by how compare names them (#1, #2, the injection). */
export const calibrationColumns = (targets: readonly string[]) => ({
  plain: targets.find((t) => t.endsWith("#1")),
  twin: targets.find((t) => t.endsWith("#2")),
  injected: targets.find((t) => t.includes(CALIBRATION_PROCESS)),
});

/** The sequential design of a calibration's headline, when rounds may be added. */
export const headlineDesign = (o: Pick<CalibrateOptions, "repeat" | "maxRepeat">) => (o.maxRepeat !== undefined && o.maxRepeat > o.repeat ? { minRounds: o.repeat, maxRounds: o.maxRepeat } : undefined);

/**
 * After a round of a calibration: whether its headline is decided (pure). Null while rounds are to
 * be added; otherwise why they stop. Before the first look's worth of usable rounds, undecided.
 */
export function headlineLook(runs: readonly { round: number; result: RunResult }[], options: CalibrateOptions): string | null {
  const design = headlineDesign(options);
  if (!design) return null;
  const { plain, injected } = calibrationColumns([...new Set(runs.map((r) => targetOf(r.result)))]);
  if (!plain || !injected) return null;
  const { totals } = calibrationRounds(runs, { plain, injected });
  if (totals.length < design.minRounds) return null;
  const h = headlineCheck(totals, options.injectMs, design);
  if (!h.decided) return null;
  return `the headline is decided after ${h.rounds} usable rounds: ×${ratioText(h.ci[0])}–${ratioText(h.ci[1])} lies ${h.within ? "within" : "wholly beyond"} ±${TOLERANCE * 100} % of the expected ×${ratioText(h.expected_ratio)}`;
}

/** The calibration's figures from the runs of its comparison (pure; tested on recorded runs). */
export function calibrationOf(
  runs: { round: number; result: RunResult }[],
  columns: { plain: string; twin: string; injected: string },
  comparison: { metrics: Record<string, { pairs: { a: string; b: string; paired?: { verdict: string; ratio: number; ci: [number, number]; verdict_ci?: [number, number]; sd_log: number | null; rounds: number } }[] }> },
  options: CalibrateOptions,
): CalibrationFigures {
  const { usable, callsPerRequest, differences, totals, elsewhere } = calibrationRounds(runs, columns);
  if (callsPerRequest === null) throw new Error(`calibration needs ${CALIBRATION_PROCESS}'s calls per client request from the injected runs: none of ${usable} round(s) has them`);
  if (differences.length < 2 || totals.length < 2) throw new Error(`calibration needs at least 2 rounds in which both the plain and the injected run completed without errors: got ${Math.min(differences.length, totals.length)}`);
  const t = pairedT(differences);
  const expected = callsPerRequest * options.injectMs;
  const error = t.mean / expected - 1;
  const headline = headlineCheck(totals, options.injectMs, headlineDesign(options));
  const find = (key: string, a: string, b: string) => comparison.metrics[key]?.pairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a));
  const aaPair = find("cpu_ms_total", columns.plain, columns.twin)?.paired;
  const totalPair = find("cpu_ms_total", columns.injected, columns.plain);
  // The stored pair may be (plain, injected): its verdict then reads the other way round.
  const flip: Record<string, string> = { lower: "higher", higher: "lower" };
  const totalVerdict = totalPair?.paired ? (totalPair.a === columns.injected ? totalPair.paired.verdict : flip[totalPair.paired.verdict] ?? totalPair.paired.verdict) : "inconclusive";
  // The A/A pair is one of the metric's pairs: the family's α is shared, and its share is at most α ÷ their number.
  const familyPairs = Math.max(1, comparison.metrics.cpu_ms_total?.pairs.length ?? 1);
  // The injected process alone has a narrow interval: wholly beyond ±10 % of calls × injected, the burn itself is off.
  const processOutside = t.ci[0] > expected * (1 + TOLERANCE) || t.ci[1] < expected * (1 - TOLERANCE);
  const outcome: CalibrationOutcome = headline.outside || processOutside ? "failed" : headline.within ? "passed" : "undecided";
  const passed = outcome === "passed";
  return {
    params: options,
    process: CALIBRATION_PROCESS,
    headline,
    calls_per_request: callsPerRequest,
    expected_ms: expected,
    measured_ms: t.mean,
    measured_ci: t.ci,
    error,
    process_passed: Math.abs(error) <= TOLERANCE,
    passed,
    outcome,
    why_failed: outcome !== "failed" ? null : processOutside
      ? `${CALIBRATION_PROCESS} alone was measured +${t.mean.toFixed(2)} ms [${t.ci[0].toFixed(2)}–${t.ci[1].toFixed(2)}] per client request, wholly beyond ±${TOLERANCE * 100} % of the expected +${expected.toFixed(2)} ms (${callsPerRequest.toFixed(2)} calls × ${options.injectMs} ms): the burn is not what was asked`
      : `the total CPU per request with the injection was measured ×${headline.ratio.toFixed(3)} [${headline.ci[0].toFixed(3)}–${headline.ci[1].toFixed(3)}], wholly beyond ±${TOLERANCE * 100} % of the expected ×${headline.expected_ratio.toFixed(3)}`,
    why_undecided: outcome === "undecided"
      ? `after ${headline.rounds} rounds the interval of the total CPU per request with the injection, ×${headline.ci[0].toFixed(3)}–${headline.ci[1].toFixed(3)}, reaches past ±${TOLERANCE * 100} % of the expected ×${headline.expected_ratio.toFixed(3)} (${headline.bounds[0].toFixed(3)}–${headline.bounds[1].toFixed(3)}) without lying beyond it: neither passed nor failed; more rounds (--max-repeat) or longer runs would narrow it`
      : null,
    total_verdict: totalVerdict,
    aa: aaPair
      ? { verdict: aaPair.verdict, ratio: aaPair.ratio, ci: aaPair.verdict_ci ?? aaPair.ci, sd_log: aaPair.sd_log, rounds: aaPair.rounds, false_verdict_chance: ALPHA / familyPairs }
      : { verdict: "inconclusive", ratio: Number.NaN, ci: [Number.NaN, Number.NaN], sd_log: null, rounds: 0, false_verdict_chance: ALPHA / familyPairs },
    resolvable_at_r: aaPair?.sd_log != null ? resolvable(aaPair.sd_log, aaPair.rounds) : null,
    rounds: differences.length,
    elsewhere_ms: elsewhere,
  };
}

const ratioText = (x: number) => x.toFixed(3);
const percentText = (x: number) => `${Number((x * 100).toPrecision(2))} %`;

/** The calibration in a few lines, for the console and the file's readers: the headline first, the injected process second. */
export function calibrationLines(c: CalibrationFigures): string[] {
  const ms = (x: number) => x.toFixed(2);
  const aaOk = c.aa.verdict === "equivalent" || c.aa.verdict === "inconclusive";
  const h = c.headline;
  const chance = c.aa.false_verdict_chance;
  const byChance = chance === undefined ? "" : ` (one comes by chance in at most ${percentText(chance)} of calibrations, about 1 in ${Math.round(1 / chance)}: ${ALPHA * 100} % over the comparison's ${Math.round(ALPHA / chance)} pairs)`;
  const processLine = `measured +${ms(c.measured_ms)} ms (95 % CI ${ms(c.measured_ci[0])}–${ms(c.measured_ci[1])}, paired over ${c.rounds} rounds at ${c.params.rate} requests/s): ${(c.error * 100).toFixed(1)} % off, ${Math.abs(c.error) <= TOLERANCE ? "within" : "OUTSIDE"} ±${TOLERANCE * 100} %`;
  return [
    ...(h
      ? [
        `injected ${c.params.injectMs} ms of CPU per request into ${c.process}, which received ${c.calls_per_request.toFixed(2)} calls per client request; the case's total CPU per client request was ${ms(h.plain_ms)} ms without it: expected ×${ratioText(h.expected_ratio)} with it ((${ms(h.plain_ms)} + ${c.calls_per_request.toFixed(2)} × ${c.params.injectMs} ms) ÷ ${ms(h.plain_ms)})`,
        `measured ×${ratioText(h.ratio)} (95 % CI ${ratioText(h.ci[0])}–${ratioText(h.ci[1])}${h.interval_kind?.includes("repeated") ? `, ${h.interval_kind.replace(/^95 % /, "a ")}` : ""}, each of ${h.rounds} rounds at ${c.params.rate} requests/s set against its own expected ratio; the pair alone ${ratioText(h.pair_ci[0])}–${ratioText(h.pair_ci[1])}, verdict ${c.total_verdict}): ${h.within ? "within" : h.outside ? "OUTSIDE" : "reaching past"} ±${TOLERANCE * 100} % of it (${ratioText(h.bounds[0])}–${ratioText(h.bounds[1])}): ${c.passed ? "passed" : c.outcome === "undecided" ? "UNDECIDED" : "FAILED"}; ${h.contains ? "it holds the expected ratio" : `it leaves the expected ratio out: the total rose ${h.ratio > h.expected_ratio ? "more" : "less"} than the injection, by ${ms(Math.abs(h.ratio - h.expected_ratio) * h.plain_ms)} ms per client request`}`,
        ...(c.elsewhere_ms ? [`the rest of the case with the injection, CPU per client request: ${Object.entries(c.elsewhere_ms).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).map(([p, d]) => `${p} ${d >= 0 ? "+" : "−"}${ms(Math.abs(d))} ms`).join(", ")}`] : []),
        `${c.process} alone: expected +${ms(c.expected_ms)} ms of its CPU per client request (${c.calls_per_request.toFixed(2)} calls × ${c.params.injectMs} ms); ${processLine}`,
      ]
      : [
        `injected ${c.params.injectMs} ms of CPU per request into ${c.process}, which received ${c.calls_per_request.toFixed(2)} calls per client request: expected +${ms(c.expected_ms)} ms of its CPU per client request`,
        processLine,
        `total CPU per request with the injection: ${c.total_verdict}${c.total_verdict === "higher" ? "" : " (expected higher)"}`,
      ]),
    `A/A (Case 1 against itself): ${c.aa.verdict}, ratio ${ratioText(c.aa.ratio)} [${ratioText(c.aa.ci[0])}–${ratioText(c.aa.ci[1])}]${aaOk ? `: no false verdict${byChance}` : `: a verdict between identical targets${byChance} — this machine was noisier than its intervals say, or this was that chance`}`,
    c.resolvable_at_r === null ? "smallest resolvable difference: not known (the A/A pair has no spread)" : `smallest difference in total CPU per request this machine resolves at ${c.aa.rounds} rounds with 80 % power: ±${(c.resolvable_at_r * 100).toFixed(1)} % (A/A spread of the per-round log ratio ${c.aa.sd_log!.toFixed(3)})`,
  ];
}
