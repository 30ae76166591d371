/**
 * Noise measured, not used to throw runs away (docs/design.md §18), without processes: steal time from
 * /proc/stat text (src/run/steal.ts) and the steady-state detection on window series
 * (src/stats/steady.ts), synthetic and recorded on this machine (test/fixtures/aa-windows.json).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../src/determinism.js";
import { DRIFT_LIMIT, stability } from "../src/run/run-result";
import { foreignPct, foreignPerWindow, parseCpuLine, stealPct, stealPerWindow } from "../src/run/steal";
import { detectSteady, normalQuantile, type Steady, type SteadyInput, tQuantile } from "../src/stats/steady";
import { ols } from "../src/stats/ols";

describe("steal time from /proc/stat", () => {
  // Two readings of a 2-vCPU guest 5 s apart (clock ticks summed over CPUs): user nice system idle iowait irq softirq steal guest guest_nice.
  const a = "cpu  58824 13301 19796 72432 730 0 706 283 0 0\ncpu0 29000 6000 9800 36000 300 0 350 140 0 0\nintr 1 2 3\n";
  const b = "cpu  59524 13301 20096 73132 730 0 806 483 40 0\ncpu0 29350 6000 9950 36350 300 0 400 240 20 0\nintr 4 5 6\n";

  test("steal is the 8th field's share of the first eight over the interval; guest time is inside user already, not counted twice", () => {
    expect(parseCpuLine(a)).toEqual({ t: 0, total: 58824 + 13301 + 19796 + 72432 + 730 + 0 + 706 + 283, steal: 283, busy: 58824 + 13301 + 19796 + 0 + 706 });
    // Over the interval: user 700, system 300, idle 700, softirq 100, steal 200 → 200 / 2000 = 10 %.
    expect(stealPct(parseCpuLine(a), parseCpuLine(b))).toBe(10);
    expect(stealPct(parseCpuLine(a), parseCpuLine(a))).toBeNull();
    // A kernel without the steal field: no steal, still a total.
    expect(parseCpuLine("cpu  10 0 10 80\n")).toEqual({ t: 0, total: 100, steal: 0, busy: 20 });
    expect(() => parseCpuLine("intr 1 2\n")).toThrow("/proc/stat has no `cpu` line");
  });

  test("per window: the counters interpolated at each window's edge, on the windows' clock", () => {
    // A reading every second; steal grows 1 tick per 100 in the first 5 s, 20 per 100 in the next 5 s.
    const samples = Array.from({ length: 11 }, (_, s) => ({ t: 1_000_000 + s * 1000, total: 100 * s, steal: s <= 5 ? s : 5 + 20 * (s - 5), busy: 0 }));
    expect(stealPerWindow(samples, 1_000_000, 5, 2)).toEqual([1, 20]);
    // Windows starting half a second later straddle the change: 4.5 s at 1 % and 0.5 s at 20 %.
    // The last window ends 0.5 s after the last reading: it ends at that reading (the engine's clock starts at
    // its first request, a little after the readings began and ended); 1.5 s after, it is not covered.
    expect(stealPerWindow(samples, 1_000_500, 5, 2)).toEqual([2.9, 20]);
    expect(stealPerWindow(samples, 1_001_500, 5, 2)).toEqual([6.7, null]);
    expect(stealPerWindow(samples, 999_000, 5, 1)).toEqual([null]);
  });

  test("the machine's CPU used by others: busy time less what the run's processes used, per window", () => {
    // 2 CPUs, 100 ticks of total time per second; busy 60 per second; the run's processes 40 per second, then 10.
    const cpu = Array.from({ length: 11 }, (_, s) => ({ t: s * 1000, total: 200 * s, steal: 0, busy: 120 * s }));
    const run = Array.from({ length: 11 }, (_, s) => ({ t: s * 1000, ticks: s <= 5 ? 80 * s : 400 + 20 * (s - 5) }));
    expect(foreignPerWindow(cpu, run, 0, 5, 2)).toEqual([20, 50]);
    expect(foreignPct(cpu, run, 0, 10_000)).toBe(35);
  });
});

describe("statistics the detection uses", () => {
  test("t and normal quantiles, least squares against known values", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.005)).toBeCloseTo(-2.575829, 5);
    expect(tQuantile(4)).toBeCloseTo(4.604, 3);
    expect(tQuantile(40)).toBeCloseTo(2.704, 2);
    // t(10) at a two-sided 0.001: 4.587.
    expect(tQuantile(10, 0.001)).toBeCloseTo(4.587, 1);
    const fit = ols([[1, 0], [1, 1], [1, 2], [1, 3]], [1, 3, 5, 7])!;
    expect(fit.beta.map((b) => Math.round(b * 1e9) / 1e9)).toEqual([1, 2]);
    expect(fit.df).toBe(2);
  });
});

/** A series around `level` with a CV of `cv` (seeded), `windows` long. */
function noisy(level: number, cv: number, windows: number, seed: number): number[] {
  const random = mulberry32(seed);
  // Sum of 4 uniforms: close to normal, sd 1/sqrt(3) × … scaled to `cv`.
  return Array.from({ length: windows }, () => level * (1 + cv * ((random() + random() + random() + random() - 2) * Math.sqrt(3))));
}

const closed = (okPerWindow: number[], stealPct?: number[]): SteadyInput => ({ mode: "duration", windowSeconds: 5, okPerWindow: okPerWindow.map(Math.round), stealPct });
const steadyOf = (input: SteadyInput) => detectSteady(input) as Steady;
const oldFlag = (windows: number[]) => Math.abs(stability(windows.map(Math.round), 5)?.drift ?? 0) > DRIFT_LIMIT;

describe("steady-state detection on synthetic windows", () => {
  test("a warm-up transient at the start is trimmed and recorded; the rest is steady", () => {
    const windows = [1500, 2100, ...noisy(2500, 0.03, 10, 1)];
    const s = steadyOf(closed(windows, Array(12).fill(1)));
    expect(s.trimmed_windows).toEqual([0, 1]);
    expect(s.steady).toBe(true);
    expect(s.reason).toContain("after 2 warm-up window(s)");
    // Without trimming, the old drift rule called this run unstable.
    expect(oldFlag(windows)).toBe(true);
  });

  test("a flat noisy series whose dips follow steal is not flagged, though its drift was far beyond 5 %", () => {
    // Steal low early and in bursts late; throughput falls 3 % per steal point in those windows.
    const steal = [0.5, 1, 0.3, 0.8, 1.2, 0.4, 6, 1, 8, 9, 0.6, 7];
    const windows = noisy(2000, 0.04, 12, 7).map((x, i) => x * (1 - 0.03 * steal[i]));
    expect(oldFlag(windows)).toBe(true);
    const s = steadyOf(closed(windows, steal));
    expect(s.steal_coefficient_from).toBe("this run");
    expect(s.steal_coefficient!).toBeLessThan(-0.015);
    expect(s.steady).toBe(true);
    expect(s.set_aside_windows).toEqual([]);
  });

  test("a burst of steal far above the run's own is set aside, and said", () => {
    const steal = [0.5, 1, 0.3, 0.8, 25, 0.4, 0.6, 1, 0.8, 0.9, 0.6, 0.7];
    const windows = noisy(2000, 0.03, 12, 11).map((x, i) => (i === 4 ? x * 0.4 : x));
    const s = steadyOf(closed(windows, steal));
    expect(s.set_aside_windows).toEqual([4]);
    expect(s.steady).toBe(true);
  });

  test("a case that keeps slowing down is flagged, whatever steal does; so is a late level shift", () => {
    const steal = noisy(2, 0.5, 12, 3);
    const slowing = noisy(2000, 0.04, 12, 5).map((x, i) => x * (1 - 0.025 * i)); // −27 % over the run
    const s = steadyOf(closed(slowing, steal));
    expect(s.steady).toBe(false);
    expect(s.reason).toStartWith("throughput keeps moving after steal is accounted for: -");
    const shifted = noisy(2000, 0.03, 12, 9).map((x, i) => (i >= 8 ? x * 0.7 : x));
    const t = steadyOf(closed(shifted, Array(12).fill(0.5)));
    expect(t.steady).toBe(false);
    expect(t.shift!.at_window).toBe(8);
  });

  test("the open model detects on latency: throughput pinned, latency that climbs is flagged, flat latency is not", () => {
    const pinned = Array(12).fill(300);
    const climbing = Array.from({ length: 12 }, (_, i) => 6 * 1.08 ** i);
    const flat = noisy(6, 0.08, 12, 13);
    const rate = (latencyP50: number[]): SteadyInput => ({ mode: "rate", windowSeconds: 5, okPerWindow: pinned, latencyP50, stealPct: Array(12).fill(1) });
    expect(steadyOf(rate(climbing))).toMatchObject({ series: "latency_p50_ms", steady: false });
    expect(steadyOf(rate(flat))).toMatchObject({ series: "latency_p50_ms", steady: true });
    expect(detectSteady({ mode: "rate", windowSeconds: 5, okPerWindow: pinned })).toEqual({ not_measured: "an open-model run without per-window latency: its throughput is pinned by the arrival rate, so there is nothing to detect on" });
  });

  test("CPU taken by other processes of the VM (a build) is the machine too: a run whose throughput follows it is not flagged", () => {
    const foreign = [2, 3, 2, 4, 3, 2, 3, 40, 45, 42, 44, 41];
    const windows = noisy(2000, 0.03, 12, 17).map((x, i) => x * (1 - 0.008 * foreign[i]));
    const s = steadyOf({ ...closed(windows, Array(12).fill(0.2)), foreignPct: foreign });
    expect(s.foreign_coefficient_from).toBe("this run");
    expect(s.steady).toBe(true);
    // Without the foreign CPU, the same windows look like a level shift of the case.
    expect(steadyOf(closed(windows, Array(12).fill(0.2))).steady).toBe(false);
  });

  test("with 4 windows (a 20 s run) a gross trend is still caught against the machine's noise; mild noise is not", () => {
    const s = steadyOf(closed([2000, 1700, 1400, 1100], [1, 1, 1, 1]));
    expect(s).toMatchObject({ steady: false, noise_from: "the machine's floor" });
    expect(steadyOf(closed([2000, 2100, 1920, 2040], [1, 1, 1, 1])).steady).toBe(true);
  });

  test("fewer windows than the detection needs are said, never passed silently; a stall is not steady", () => {
    expect(detectSteady(closed([500, 500, 500]))).toEqual({ not_measured: "only 3 whole window(s) of 5 s: steady-state detection needs at least 4 (a run of 20 s or more)" });
    expect(steadyOf(closed([2000, 2010, 1990, 2000, 2005, 0, 0, 0, 0]))).toMatchObject({ steady: false });
  });
});

describe("steady-state detection on windows recorded on this machine", () => {
  interface Recorded { file: string; mode: SteadyInput["mode"]; window_seconds: number; ok_per_window: number[]; latency_p50_ms: number[] | null; steal_pct_windows: number[] | null; foreign_cpu_pct_windows?: number[] | null }
  const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "aa-windows.json"), "utf8")) as { recorded: string[]; runs: Recorded[] };
  const inputOf = (r: Recorded): SteadyInput => ({ mode: r.mode, windowSeconds: r.window_seconds, okPerWindow: r.ok_per_window, latencyP50: r.latency_p50_ms, stealPct: r.steal_pct_windows, foreignPct: r.foreign_cpu_pct_windows ?? null });

  test("A/A runs (case2 against itself): at most 10 % flagged `no_steady_state`, where the 5 % drift rule flagged most", () => {
    expect(fixture.runs.length).toBeGreaterThanOrEqual(32);
    const detected = fixture.runs.map((r) => detectSteady(inputOf(r)));
    // Every run has enough windows: none passes by not being measured.
    expect(detected.filter((d) => "not_measured" in d)).toEqual([]);
    const flagged = fixture.runs.filter((_, i) => (detected[i] as Steady).steady === false).map((r) => r.file);
    expect(flagged.length / fixture.runs.length).toBeLessThanOrEqual(0.1);
    const drifted = fixture.runs.filter((r) => r.mode !== "rate" && oldFlag(r.ok_per_window));
    expect(drifted.length).toBeGreaterThan(fixture.runs.filter((r) => r.mode !== "rate").length / 2);
  });

  test("the same recorded runs with a real defect added are flagged: throughput falling 40 % (closed model), latency tripling (open model)", () => {
    // At 4 windows (20 s) this is about what the detection resolves on this machine: a doubling of
    // latency within 20 s is caught in 5 of these 12 open-model runs, a fall of 20 % in 9 of 12 closed.
    const closedRuns = fixture.runs.filter((r) => r.mode !== "rate");
    const openRuns = fixture.runs.filter((r) => r.mode === "rate");
    expect(Math.min(closedRuns.length, openRuns.length)).toBeGreaterThanOrEqual(12);
    const caught = (runs: Recorded[], defect: (r: Recorded) => SteadyInput) => runs.filter((r) => (detectSteady(defect(r)) as Steady).steady === false).length / runs.length;
    const along = (r: Recorded, i: number) => i / (r.ok_per_window.length - 1);
    expect(caught(closedRuns, (r) => ({ ...inputOf(r), okPerWindow: r.ok_per_window.map((ok, i) => Math.round(ok * (1 - 0.4 * along(r, i)))) }))).toBeGreaterThanOrEqual(0.8);
    expect(caught(openRuns, (r) => ({ ...inputOf(r), latencyP50: r.latency_p50_ms!.map((ms, i) => ms * 3 ** along(r, i)) }))).toBeGreaterThanOrEqual(0.8);
  });
});

describe("short runs are judged too (windows shorter than 5 s below 20 s)", () => {
  test("the demo's 5 s runs get five 1 s windows (one 5 s window before: no drift could ever be seen); from 20 s on, 5 s windows", () => {
    const { windowCount, windowSecondsFor } = require("../src/run/engine/k6") as typeof import("../src/run/engine/k6");
    const at = (duration: string) => ({ seconds: windowSecondsFor({ mode: "duration", vus: 10, duration }), windows: windowCount({ mode: "duration", vus: 10, duration }) });
    expect(at("5s")).toEqual({ seconds: 1, windows: 5 });
    expect(at("4s")).toEqual({ seconds: 1, windows: 4 });
    expect(at("10s")).toEqual({ seconds: 2, windows: 5 });
    expect(at("20s")).toEqual({ seconds: 5, windows: 4 });
    expect(at("30s")).toEqual({ seconds: 5, windows: 6 });
    expect(windowSecondsFor({ mode: "rate", vus: 10, rate: 30, duration: "5s" })).toBe(1);
    // Five 1 s windows are enough for the detection: a run that never settles is flagged.
    const rising = detectSteady({ mode: "duration", windowSeconds: 1, okPerWindow: [100, 130, 160, 190, 220] });
    expect("not_measured" in rising).toBe(false);
    expect((rising as { steady: boolean }).steady).toBe(false);
  });

  /** log-normal windows of a given CV around `level`, optionally scaled by a trend, from a seeded generator. */
  const simulate = (windows: number, cv: number, seed: number, trend = 0) => {
    const { mulberry32 } = require("../src/determinism.js") as { mulberry32: (s: number) => () => number };
    const random = mulberry32(seed);
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const sd = Math.sqrt(Math.log(1 + cv * cv));
    return Array.from({ length: windows }, (_, i) => Math.round(400 * (1 + (trend * i) / (windows - 1)) * Math.exp(sd * normal())));
  };
  const flaggedShare = (windows: number, cv: number, windowSeconds: number, trend = 0, n = 2000) => {
    let flagged = 0;
    for (let s = 1; s <= n; s++) {
      const d = detectSteady({ mode: "duration", windowSeconds, okPerWindow: simulate(windows, cv, s * 7919 + windows, trend) });
      if (!("not_measured" in d) && !d.steady) flagged++;
    }
    return flagged / n;
  };

  test("the noise floor follows the window's length: steady 1 s windows at 12–15 % CV are flagged about as rarely as 5 s windows at 5 %", () => {
    const { noiseFloor } = require("../src/stats/steady") as typeof import("../src/stats/steady");
    expect(noiseFloor("ok_rps", 5)).toBeCloseTo(0.05, 9);
    expect(noiseFloor("ok_rps", 1)).toBeCloseTo(0.05 * Math.sqrt(5), 9);
    expect(noiseFloor("latency_p50_ms", 2)).toBeCloseTo(0.1 * Math.sqrt(2.5), 9);
    expect(noiseFloor("ok_rps", 10)).toBeCloseTo(0.05, 9);
    // Steady runs (the review's case: window CV 12–15 % with 1 s windows, 4 or 5 of them): they
    // were flagged in 11–20 % with 5 s constants; at most 5 % now, like 5 s windows at their 5 %.
    const rates = [4, 5].flatMap((w) => [0.12, 0.15].map((cv) => flaggedShare(w, cv, 1)));
    for (const r of rates) expect(r).toBeLessThan(0.05);
    expect(flaggedShare(5, 0.05, 5)).toBeLessThan(0.05);
    // And a case that keeps slowing is still caught at 1 s windows: throughput falling by half.
    expect(flaggedShare(5, 0.12, 1, -0.5, 500)).toBeGreaterThan(0.8);
  });
});
