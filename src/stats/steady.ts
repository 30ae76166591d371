/**
 * Steady state, detected rather than assumed (docs/design.md §18). A run's 5 s windows move for two
 * reasons: the case (a warm-up, a queue that builds, a leak) and the machine (a shared VM's
 * steal time: on the machine fleetbench was written on, window throughput followed steal at
 * r = −0.84). Only the first is the case's fault, so the windows are read in four steps:
 *
 * 1. Windows whose steal is far above the run's own (a burst of the hypervisor's) are set aside.
 * 2. What steal explains is taken out: the log of the series is regressed on steal and time
 *    together; with too few windows to fit steal, the machine's coefficient below is used.
 * 3. A warm-up transient is trimmed: leading windows (at most a third) that stand apart from the
 *    rest by more than its own noise and by more than MATERIAL.
 * 4. What remains must be flat: `no_steady_state` when a trend over the kept windows is both
 *    significant (at 1 %, against the larger of the run's own noise and the machine's) and
 *    material (a change above MATERIAL over the kept span), or when a level shift inside them is
 *    (the largest over the split points, Bonferroni-corrected).
 *
 * The series is what moves: successful requests per window in the closed model; in the open
 * model (mode "rate") throughput is pinned by the arrival rate, so the windows' median latency.
 * Every window set aside or trimmed is listed; nothing is dropped silently.
 */
import { normalQuantile, tQuantile as studentQuantile } from "./distributions";
import { ols } from "./ols";

export { normalQuantile };

/** Windows the detection needs: fewer say `not_measured`. 4 windows (20 s) give a trend 2 degrees of freedom. */
export const MIN_WINDOWS = 4;
/** Warm-up trimming: at most a third of the windows (at least one) from this many windows on. */
export const TRIM_MIN_WINDOWS = 4;
/** Fitting the steal coefficient per run needs this many windows (3 parameters, 5 degrees of freedom). */
export const FIT_MIN_WINDOWS = 8;
/**
 * CALIBRATION (the 2-vCPU VM fleetbench was written on; test/fixtures/aa-windows.json holds the
 * windows). 24 A/A runs of case2 against itself, an Apollo Router build (about one core) beside
 * them: `just compare 10 20s --cases case2,case2 --repeat 6` (closed model) and `--rate 60 20s`
 * (open model), 4 windows each; then 8 more with 6 windows (`10 30s --repeat 4`), the build over. Closed: window CV 6–15 %, throughput falling 7–22 % within 11
 * of 12 runs (the old 5 % drift rule flagged those 11). Open: throughput pinned at 60 req/s (the
 * drift rule could never fire), median latency per window 5–32 ms. Steal 0–1 % throughout, and
 * the other processes' CPU 52–67 % of all CPU time. The constants below follow from that and from the issue's
 * own measurement (24 windows of a 2-minute run: 230–429 req/s with steal 0.1–10.9 %, r = −0.84).
 *
 * MATERIAL: a change under it is not called a failure to settle however significant.
 * Throughput: 10 %. The A/A spread of a 20 s run's windows (pooled residual sd 7 %) makes ±10 %
 * the smallest trend 4 or 6 windows can tell from noise at all; a defect worth flagging
 * (postgres.js's queue, docs/design.md §12: −50 to −75 % within a minute) is far beyond it.
 * Latency (open model): 50 %. The windows' median latency at a fixed 60 req/s moved far more
 * between windows (robust sd 10 %, 24 % with its outliers; the first window 13–40 % above the
 * rest in 10 of 12 runs) while throughput held the rate; a case that cannot keep up sees its
 * latency grow without bound, by far more than half within a run.
 */
export const MATERIAL = { ok_rps: 0.1, latency_p50_ms: 0.5 };
/** A leading window is trimmed as a warm-up only when it stands more than 10 % apart (and 3 noise sds), in either series. */
export const TRIM_MATERIAL = 0.1;
/** A window whose steal exceeds the run's median by this many points is set aside (10 points: the issue's whole range). */
export const STEAL_ASIDE_PP = 10;
/**
 * The machine's coefficients (change of the log series per percentage point), used when a run
 * has fewer than FIT_MIN_WINDOWS windows to fit its own. Steal: the issue's run, ln(230/429)
 * over 10.8 points at r = −0.84 ≈ −0.04 (not measurable in the A/A runs: steal stayed ≤ 0.1 %);
 * latency moves the other way by as much (closed model: latency ≈ VUs ÷ throughput).
 */
export const STEAL_COEFFICIENT = { ok_rps: -0.04, latency_p50_ms: 0.04 };
/**
 * Other processes' CPU (per point of all CPU time). Measured between runs of the 30 s A/A
 * comparison (`just compare 10 30s --cases case2,case2 --repeat 4`): 3 runs with 31–35 % of the
 * machine taken by other processes gave 1430–1813 successful requests per window, 5 runs with
 * 1–4 % gave 2307–2937 and median latency 16–18 ms against 25–32: ln(1600 / 2650) over 30 points
 * ≈ −0.016 per point, and +0.016 for latency. Within a run it barely moved (regressor range < 1
 * point), so it could not be fitted there.
 */
export const FOREIGN_COEFFICIENT = { ok_rps: -0.016, latency_p50_ms: 0.016 };
/**
 * The machine's window noise: sd of the log series between windows of one run once steal is
 * taken out. A run's own estimate from a few windows can be far below it by chance (2 degrees
 * of freedom at 4 windows); the larger of the two is used, with the normal's quantile when it
 * is the machine's. Throughput 5 %: the low end of this machine's window CV (5–8 % in the
 * issue; the A/A runs' pooled residual sd 7 %, median run 6 %). Latency 10 %: the A/A rate runs'
 * robust sd (median absolute successive difference).
 */
export const NOISE_FLOOR = { ok_rps: 0.05, latency_p50_ms: 0.1 };
/** The window length the floor above was measured on (the A/A runs' 5 s windows). */
export const FLOOR_WINDOW_SECONDS = 5;

/**
 * The floor for windows of `windowSeconds`: a window counts (or takes the median of) fewer
 * requests when it is shorter, and the sampling noise of a count or a median falls as the square
 * root of the requests in it, so a 1 s window's floor is √5 times the 5 s one's (5 % → 11 % for
 * throughput). Without this a short run (the demo's 1 s windows) was judged by 5 s constants and a
 * steady run was flagged in 11–20 % of cases (docs/noise.md). Longer windows keep the measured floor.
 */
export function noiseFloor(name: keyof typeof NOISE_FLOOR, windowSeconds: number): number {
  return NOISE_FLOOR[name] * Math.sqrt(Math.max(1, FLOOR_WINDOW_SECONDS / Math.max(windowSeconds, 1e-9)));
}
/**
 * Neighbouring windows of this machine are alike (its slow moments last longer than 5 s). The
 * standard errors are widened by sqrt((1 + ρ) / (1 − ρ)), ρ the larger of this and the run's own
 * (from 8 windows on). 0.3 is a prior, not a measurement: 4- and 6-window runs cannot estimate it
 * (their residuals' lag-1 autocorrelation is biased to about −0.6); with it, simulated i.i.d. and
 * AR(1) (ρ = 0.5) noise of CV 4–8 % is flagged in ≤ 5 % of 4–24-window runs.
 */
export const AUTOCORRELATION = 0.3;

export type SeriesName = keyof typeof STEAL_COEFFICIENT;

export interface SteadyInput {
  mode: "duration" | "iterations" | "rate";
  windowSeconds: number;
  /** Successful requests per whole window. */
  okPerWindow: number[];
  /** Median latency per window (ms), when the engine counted it. */
  latencyP50?: (number | null)[] | null;
  /** Steal per window (%), aligned with the windows, when it was measured. */
  stealPct?: (number | null)[] | null;
  /** CPU other processes of this VM used per window (% of all CPU time), when it was measured. */
  foreignPct?: (number | null)[] | null;
}

export interface Steady {
  series: SeriesName;
  /** Windows of the run. */
  windows: number;
  /** Leading windows trimmed as a warm-up transient (indexes into the run's windows). */
  trimmed_windows: number[];
  /** Windows set aside for their steal (indexes). */
  set_aside_windows: number[];
  /** The change of the log series per steal percentage point, and where it came from. */
  steal_coefficient: number | null;
  steal_coefficient_from: "this run" | "the machine's calibration" | "not measured";
  /** The same for the CPU other processes of this VM used (per percentage point of all CPU time). */
  foreign_coefficient: number | null;
  foreign_coefficient_from: "this run" | "the machine's calibration" | "not measured";
  /** The window noise the tests are judged against (sd of the log series), and whose it is. */
  noise_sd: number;
  noise_from: "this run" | "the machine's floor";
  /** Lag-1 autocorrelation the standard errors were widened for (the larger of the run's and the machine's). */
  autocorrelation: number;
  /** Change over the kept windows after steal: fitted trend, as a fraction (0.1 = +10 %), its t and the t it had to exceed. */
  trend: { change: number; t: number; t_limit: number } | null;
  /** The largest level shift between kept windows: where it starts (index), its size, its t and the t it had to exceed. */
  shift: { at_window: number; change: number; t: number; t_limit: number } | null;
  steady: boolean;
  /** One sentence: why steady or not. */
  reason: string;
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
/** A t statistic, kept finite for JSON: a difference over zero noise is "beyond any limit", written 999. */
const finiteT = (x: number) => (Number.isFinite(x) ? round(x, 2) : Math.sign(x) * 999);

/** Two-sided quantile of Student's t at level 1 − alpha (the 99 % one by default): the exact one of src/stats/distributions.ts. */
export const tQuantile = (df: number, alpha = 0.01): number => studentQuantile(1 - alpha / 2, df);

/** A per-window series usable as a regressor: one number per window, or null. */
const valid = (xs: (number | null)[] | null | undefined, n: number) => (xs && xs.length === n && xs.every((x) => typeof x === "number") ? (xs as number[]) : null);

/** A robust standard deviation: the median absolute deviation scaled to the normal's. */
function robustSd(xs: number[]): number {
  const m = median(xs);
  return median(xs.map((x) => Math.abs(x - m))) / 0.6745;
}

/** Which series moves in this mode, and its values (null where a window has none). */
function seriesOf(input: SteadyInput): { name: SeriesName; values: (number | null)[] } {
  if (input.mode === "rate" && input.latencyP50?.length) return { name: "latency_p50_ms", values: input.latencyP50 };
  return { name: "ok_rps", values: input.okPerWindow.map((ok) => ok / input.windowSeconds) };
}

/**
 * The steady-state detection of one run's windows. Fewer windows than MIN_WINDOWS (or an open
 * model run without per-window latency) give `{ not_measured }`, never a silent pass.
 */
export function detectSteady(input: SteadyInput): Steady | { not_measured: string } {
  const n = input.okPerWindow.length;
  if (n < MIN_WINDOWS) return { not_measured: `only ${n} whole window(s) of ${input.windowSeconds} s: steady-state detection needs at least ${MIN_WINDOWS} (a run of ${MIN_WINDOWS * input.windowSeconds} s or more)` };
  if (input.mode === "rate" && !input.latencyP50?.length) return { not_measured: "an open-model run without per-window latency: its throughput is pinned by the arrival rate, so there is nothing to detect on" };
  const { name, values } = seriesOf(input);
  // A window with no successful request (or no latency) is a stall: it stays, at a floor, so a run that stops does not look steady.
  const least = name === "ok_rps" ? 1 / input.windowSeconds : 0.001;
  const y = values.map((v) => Math.log(Math.max(v ?? least, least)));
  const steal = valid(input.stealPct, n);

  // 1. Bursts of steal far above the run's own level, set aside (while enough windows are left).
  const setAside: number[] = [];
  if (steal) {
    const typical = median(steal);
    const high = steal.map((s, i) => [s, i] as const).filter(([s]) => s - typical > STEAL_ASIDE_PP).map(([, i]) => i);
    if (n - high.length >= MIN_WINDOWS) setAside.push(...high);
  }
  let kept = Array.from({ length: n }, (_, i) => i).filter((i) => !setAside.includes(i));

  // 2. What the machine explains: steal and the CPU other processes of this VM took, each with
  //    this run's own coefficient when it has the windows and the regressor varies (fitted
  //    together with time, so a trend of the case is not taken for the machine), else the machine's.
  const foreign = valid(input.foreignPct, n);
  const regressors = ([["steal", steal], ["foreign", foreign]] as const).filter((r): r is readonly ["steal" | "foreign", number[]] => r[1] !== null);
  const varying = regressors.filter(([, x]) => { const v = kept.map((i) => x[i]); return Math.max(...v) - Math.min(...v) >= 1; });
  const fit = varying.length && kept.length >= FIT_MIN_WINDOWS ? ols(kept.map((i) => [1, ...varying.map(([, x]) => x[i]), i]), kept.map((i) => y[i])) : null;
  const coefficients: Record<"steal" | "foreign", { value: number | null; from: Steady["steal_coefficient_from"] }> = {
    steal: { value: null, from: "not measured" },
    foreign: { value: null, from: "not measured" },
  };
  for (const [what] of regressors) {
    const j = varying.findIndex(([w]) => w === what);
    coefficients[what] = fit && j >= 0 ? { value: fit.beta[1 + j], from: "this run" } : { value: (what === "steal" ? STEAL_COEFFICIENT : FOREIGN_COEFFICIENT)[name], from: "the machine's calibration" };
  }
  const z = y.map((v, i) => v - regressors.reduce((sum, [what, x]) => sum + coefficients[what].value! * x[i], 0));

  // 3. A warm-up transient: leading windows apart from the rest by more than 3 times its noise
  //    (never less than the machine's) and by more than TRIM_MATERIAL.
  const trimmed: number[] = [];
  const material = MATERIAL[name];
  if (kept.length >= TRIM_MIN_WINDOWS) {
    const most = Math.max(1, Math.floor(kept.length / 3));
    for (let j = 0; j < most; j++) {
      const rest = kept.slice(j + 1).map((i) => z[i]);
      const centre = median(rest);
      const noise = Math.max(robustSd(rest), noiseFloor(name, input.windowSeconds));
      const apart = Math.abs(z[kept[j]] - centre);
      if (apart > 3 * noise && apart > Math.log(1 + TRIM_MATERIAL)) trimmed.push(kept[j]);
      else break;
    }
    kept = kept.filter((i) => !trimmed.includes(i));
  }

  // 4. What remains: a trend after steal (time as a regressor beside steal's adjustment), and the largest level shift.
  const zs = kept.map((i) => z[i]);
  const line = ols(kept.map((i) => [1, i]), zs);
  const floor = noiseFloor(name, input.windowSeconds);
  // With fewer than 4 degrees of freedom the run's own noise is a guess (a steep fall bends the
  // log line and its residuals hide the fall itself): the machine's is used alone there.
  const own = line && line.df >= 4 ? line.sigma : 0;
  const noise = Math.max(own, floor);
  const noiseFrom: Steady["noise_from"] = own > floor ? "this run" : "the machine's floor";
  const rho = line ? autocorrelation(kept.map((i, r) => zs[r] - line.beta[0] - line.beta[1] * i)) : AUTOCORRELATION;
  const widen = Math.sqrt((1 + rho) / (1 - rho));
  let trend: Steady["trend"] = null;
  if (line) {
    const span = kept.at(-1)! - kept[0];
    const centre = mean(kept);
    const se = (widen * noise) / Math.sqrt(kept.reduce((sum, i) => sum + (i - centre) ** 2, 0));
    const limit = noiseFrom === "this run" ? tQuantile(line.df) : normalQuantile(1 - 0.01 / 2);
    trend = { change: round(Math.exp(line.beta[1] * span) - 1), t: finiteT(line.beta[1] / se), t_limit: round(limit, 2) };
  }
  const shift = levelShift(kept, zs, floor, widen);
  const trendFails = trend !== null && Math.abs(trend.t) > trend.t_limit && Math.abs(trend.change) > material;
  const shiftFails = shift !== null && Math.abs(shift.t) > shift.t_limit && Math.abs(shift.change) > material;
  const what = name === "ok_rps" ? "throughput" : "median latency";
  const reason = trendFails
    ? `${what} keeps moving after steal is accounted for: ${pct(trend!.change)} over windows ${kept[0]}–${kept.at(-1)} (t = ${trend!.t}, beyond ${trend!.t_limit})`
    : shiftFails
      ? `${what} shifts by ${pct(shift!.change)} from window ${shift!.at_window} on, after steal is accounted for (t = ${shift!.t}, beyond ${shift!.t_limit})`
      : `${what} settles${trimmed.length ? ` after ${trimmed.length} warm-up window(s)` : ""}: no trend or level shift beyond ${material * 100} % and the noise of its ${kept.length} windows`;
  return {
    series: name,
    windows: n,
    trimmed_windows: trimmed,
    set_aside_windows: setAside,
    steal_coefficient: coefficients.steal.value === null ? null : round(coefficients.steal.value, 5),
    steal_coefficient_from: coefficients.steal.from,
    foreign_coefficient: coefficients.foreign.value === null ? null : round(coefficients.foreign.value, 5),
    foreign_coefficient_from: coefficients.foreign.from,
    noise_sd: round(noise),
    noise_from: noiseFrom,
    autocorrelation: round(rho, 3),
    trend,
    shift,
    steady: !trendFails && !shiftFails,
    reason,
  };
}

const pct = (x: number) => `${x > 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;

/**
 * The largest level shift: over every split with at least 2 windows on each side, the t of the
 * difference of the two means (pooled variance); its limit is the 99 % t quantile with the
 * alpha divided among the splits tried (Bonferroni), since the largest of several t's is judged.
 */
/** Lag-1 autocorrelation of residuals: the run's own from 8 of them on (bias −1/n corrected), never below the machine's, at most 0.8. */
function autocorrelation(e: number[]): number {
  if (e.length < FIT_MIN_WINDOWS) return AUTOCORRELATION;
  const ss = e.reduce((s, x) => s + x * x, 0);
  const own = ss > 0 ? e.slice(1).reduce((s, x, i) => s + x * e[i], 0) / ss + 1 / e.length : 0;
  return Math.min(0.8, Math.max(AUTOCORRELATION, own));
}

function levelShift(index: number[], z: number[], floor: number, widen: number): Steady["shift"] {
  const n = z.length;
  if (n < 5) return null; // with 4 windows a shift is what the trend test sees
  const splits = n - 3;
  let best: { at: number; d: number; t: number; limit: number } | null = null;
  for (let k = 2; k <= n - 2; k++) {
    const a = z.slice(0, k);
    const b = z.slice(k);
    const ma = mean(a);
    const mb = mean(b);
    const ss = a.reduce((s, x) => s + (x - ma) ** 2, 0) + b.reduce((s, x) => s + (x - mb) ** 2, 0);
    const sp = Math.sqrt(ss / (n - 2));
    // The larger of this split's noise and the machine's, as for the trend.
    const noise = Math.max(sp, floor);
    const t = (mb - ma) / (widen * noise * Math.sqrt(1 / k + 1 / (n - k)));
    const limit = sp > floor ? tQuantile(n - 2, 0.01 / splits) : normalQuantile(1 - 0.01 / 2 / splits);
    if (!best || Math.abs(t) / limit > Math.abs(best.t) / best.limit) best = { at: k, d: mb - ma, t, limit };
  }
  if (!best) return null;
  return { at_window: index[best.at], change: round(Math.exp(best.d) - 1), t: finiteT(best.t), t_limit: round(best.limit, 2) };
}
