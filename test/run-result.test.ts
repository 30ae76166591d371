/**
 * From measurements to a result, without processes: status, flags, stability, per-request
 * costs, memory totals (src/run/run-result.ts); k6's summary (src/run/engine/k6.ts); the curated environment
 * (src/run/environment.ts); and the report of a result written before these fields existed.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config";
import { measuredEnv, withheldSwitches } from "../src/run/environment";
import { k6Env, parseSummary, windowCount } from "../src/run/engine/k6";
import { warmupParams } from "../src/run/run-steps";
import { markdownReport, toColumns } from "../src/report/report";
import { differences } from "../src/report/report-context";
import { getconf, parseStat, startSampler } from "../src/run/resources";
import { spawn } from "../src/runtime";
import type { RunResult } from "../src/run/results";
import { type Measured, assembleResult, cv, peakSum, stability } from "../src/run/run-result";

const base = (): RunResult => ({
  schema_version: 1, run_id: "r", case: "case2", gateway: null, mode: "duration",
  params: { vus: 10, duration: "30s", iterations: null, rate: null, fleet_size: 15, mix: { dashboard: 100 } },
  started_at: "2026-11-21T00:00:00.000Z", finished_at: null, status: "incomplete", summary: null,
  calls_per_request: {}, resources: {}, flags: [], fingerprint: {}, extra: {},
});

const summary = (over: Partial<NonNullable<Measured["summary"]>> = {}): NonNullable<Measured["summary"]> => ({
  requests: 3000, rps: 100, ok_rps: 100, error_rate: 0, dropped_iterations: 0,
  latency_ms: { p50: 10, p90: 20, p95: 25, p99: 40, max: 90 }, per_api: {}, window_seconds: 5,
  windows: [500, 500, 500, 500, 500, 500], ...over,
});

const measured = (over: Partial<Measured> = {}): Measured => ({
  summary: summary(), engineExit: 0, interrupted: false, wallSeconds: 30,
  received: { "yoga-gateway": 3000, "robot-service": 3000, "telemetry-service": 3000, "alert-service": 3000 },
  gatewayName: "yoga-gateway",
  usage: {
    "yoga-gateway": { cpu_seconds: 6, peak_rss_bytes: 200, peak_pss_bytes: 150 },
    "robot-service": { cpu_seconds: 3, peak_rss_bytes: 100, peak_pss_bytes: 60 },
    postgres: { cpu_seconds: 1.5, peak_rss_bytes: 900, peak_pss_bytes: 80 },
    vegeta: { cpu_seconds: 9, peak_rss_bytes: 70, peak_pss_bytes: 50 },
  },
  memory: [
    { t: 0, pss: { "yoga-gateway": 150, "robot-service": 10, postgres: 10, vegeta: 50 } },
    { t: 500, pss: { "yoga-gateway": 10, "robot-service": 60, postgres: 80, vegeta: 10 } },
  ],
  ...over,
});

describe("assembleResult", () => {
  test("a clean run is complete, unflagged, with calls and CPU per request", () => {
    const r = assembleResult(base(), measured());
    expect(r.status).toBe("complete");
    expect(r.flags).toEqual([]);
    expect(r.calls_per_request).toEqual({ "robot-service": 1, "telemetry-service": 1, "alert-service": 1 });
    expect(r.resources["yoga-gateway"].cpu_ms_per_request).toBe(2);
    expect(r.resources.postgres.cpu_ms_per_request).toBe(0.5);
    expect(r.summary!.ok_rps).toBe(100);
    expect(r.extra.generator_cpu_share).toBe(0.3);
    expect((r.extra.stability as { drift: number }).drift).toBe(0);
  });

  test("memory totals are the peak of the per-sample sum, not the sum of peaks", () => {
    const r = assembleResult(base(), measured());
    const memory = r.extra.memory as { peak_total_bytes: number; peak_by_component_bytes: Record<string, number> };
    // Samples without the load generator: 170 and 150; the sum of the per-process peaks would be 290.
    expect(memory.peak_total_bytes).toBe(170);
    expect(memory.peak_by_component_bytes).toEqual({ gateway: 150, "data services": 60, postgres: 80 });
    expect(peakSum(measured().memory, () => true)).toBe(220);
  });

  test("errors above 0.1 % flag `errors`; at or below do not", () => {
    expect(assembleResult(base(), measured({ summary: summary({ error_rate: 0.0011 }) })).flags).toEqual(["errors"]);
    expect(assembleResult(base(), measured({ summary: summary({ error_rate: 0.001 }) })).flags).toEqual([]);
  });

  test("requests not sent on time mean the case could not keep up (`sut_overloaded`), the generator above 80 % of a core means `generator_saturated`", () => {
    expect(assembleResult(base(), measured({ summary: summary({ dropped_iterations: 3 }) })).flags).toEqual(["sut_overloaded"]);
    const busy = measured();
    busy.usage.vegeta.cpu_seconds = 25; // 25 s of CPU in 30 s
    expect(assembleResult(base(), busy).flags).toEqual(["generator_saturated"]);
    // A user-brought k6 is the load generator as well, apart from the case's totals.
    const k6 = measured();
    k6.usage = { ...k6.usage, k6: { ...k6.usage.vegeta, cpu_seconds: 25 } };
    delete k6.usage.vegeta;
    const r = assembleResult(base(), k6);
    expect(r.flags).toEqual(["generator_saturated"]);
    expect((r.extra.memory as { peak_by_component_bytes: Record<string, number> }).peak_by_component_bytes).not.toHaveProperty("load generator");
  });

  test("drift is recorded, no longer a flag: noise whose drift passed 5 % stays unflagged, a case that keeps slowing is `no_steady_state`", () => {
    // Before steady-state detection this run was `unstable` (drift −5.9 %); it is noise around a level.
    const noisy = assembleResult(base(), measured({ summary: summary({ windows: [500, 520, 480, 510, 470, 490] }) }));
    expect((noisy.extra.stability as { drift: number }).drift).toBe(-0.0588);
    expect(noisy.flags).toEqual([]);
    expect((noisy.extra.stability as { steady: { steady: boolean } }).steady.steady).toBe(true);
    const slowing = assembleResult(base(), measured({ summary: summary({ windows: [500, 470, 440, 410, 380, 350] }) }));
    expect(slowing.flags).toEqual(["no_steady_state"]);
    // One window (a 5 s run): said, not silently passed.
    const short = assembleResult(base(), measured({ summary: summary({ windows: [500] }) }));
    expect(short.flags).toEqual([]);
    expect((short.extra.stability as { not_measured: string }).not_measured).toBe("only 1 whole window(s) of 5 s: steady-state detection needs at least 4 (a run of 20 s or more)");
  });

  test("CPU and calls per request divide by successful requests; none successful gives null, not Infinity", () => {
    // Half of 3000 requests failed: 6 s of gateway CPU over 1500 successful requests is 4 ms each.
    const half = assembleResult(base(), measured({ summary: summary({ error_rate: 0.5 }) }));
    expect(half.resources["yoga-gateway"].cpu_ms_per_request).toBe(4);
    expect(half.calls_per_request["robot-service"]).toBe(2);
    // The engine's own count of successful requests wins over the one derived from the error rate.
    const counted = assembleResult(base(), measured({ summary: { ...summary({ error_rate: 0.5 }), ok_requests: 1000 } }));
    expect(counted.resources["yoga-gateway"].cpu_ms_per_request).toBe(6);
    const none = assembleResult(base(), measured({ summary: summary({ error_rate: 1 }) }));
    expect(none.resources["yoga-gateway"].cpu_ms_per_request).toBeNull();
    expect(none.calls_per_request["robot-service"]).toBeNull();
    expect(none.flags).toContain("errors");
  });

  test("the engine failing (not interrupted) leaves the result incomplete and says why", () => {
    const r = assembleResult(base(), measured({ engineExit: 137, engineFailure: "vegeta exited with code 137: no message" }));
    expect(r.status).toBe("incomplete");
    expect(r.extra.engine_failure).toBe("vegeta exited with code 137: no message");
    expect(assembleResult(base(), measured({ engineExit: 1 })).extra.engine_failure).toBe("the load generator exited with code 1");
    const interrupted = assembleResult(base(), measured({ engineExit: 130, interrupted: true }));
    expect(interrupted.status).toBe("incomplete");
    expect(interrupted.extra.engine_failure).toBeUndefined();
    const noSummary = assembleResult(base(), measured({ summary: null }));
    expect(noSummary.status).toBe("incomplete");
    expect(noSummary.extra.engine_failure).toBe("the load generator wrote no summary");
  });
});

describe("a run's numbers over its steady windows", () => {
  test("a warm-up transient the detection trims is left out of CPU per request, throughput and latency; the whole run's are kept beside", async () => {
    const { newHistogram, encodeHistogram } = await import("../src/run/engine/records");
    // Six 5 s windows from t = 0: the first slow (200 successful requests, latency 20 ms), the rest at 500 (5 ms).
    const windows = [200, 500, 500, 500, 500, 500];
    const histograms = windows.map((n, i) => {
      const h = newHistogram();
      for (let k = 0; k < n; k++) h.recordValue(i === 0 ? 20_000 : 5_000);
      return encodeHistogram(h);
    });
    // The gateway burns 4 s of CPU in the first window (JIT, warming) and 1 s in each later one:
    // 100 ticks a second, sampled at every window's edge.
    const cpuTimeline = windows.map((_, i) => ({ t: i * 5000, ticks: { "yoga-gateway": i === 0 ? 0 : 400 + (i - 1) * 100 } })).concat([{ t: 30_000, ticks: { "yoga-gateway": 900 } }]);
    const m = measured({
      summary: summary({ windows, window_histograms: histograms, scenario_start_ms: 0, ok_requests: 2700, requests: 2700, latency_ms: { p50: 5, p90: 20, p95: 20, p99: 20, max: 20 } }),
      usage: { "yoga-gateway": { cpu_seconds: 9, peak_rss_bytes: 200, peak_pss_bytes: 150 } },
      cpuTimeline, ticksPerSecond: 100,
    });
    const r = assembleResult(base(), m);
    const steady = (r.extra.stability as { steady: { trimmed_windows: number[] } }).steady;
    expect(steady.trimmed_windows).toEqual([0]);
    expect(r.extra.steady_windows).toMatchObject({ from_window: 1, windows: 5 });
    // 5 s of CPU over the 2500 successful requests of windows 1–5: 2 ms each (the whole run: 9 s / 2700 = 3.333 ms).
    expect(r.resources["yoga-gateway"].cpu_ms_per_request).toBe(2);
    expect((r.extra.whole_run as any).cpu_ms_per_request["yoga-gateway"]).toBe(3.333);
    expect(r.summary!.ok_rps).toBe(100);
    expect(r.summary!.latency_ms.p99).toBeCloseTo(5, 1);
    expect((r.extra.whole_run as any).latency_ms.p99).toBe(20);
    // Nothing trimmed: nothing recomputed.
    const flat = assembleResult(base(), measured({ summary: summary({ window_histograms: histograms.slice(1).concat(histograms[1]), scenario_start_ms: 0 }), cpuTimeline, ticksPerSecond: 100 }));
    expect(flat.extra.steady_windows).toBeUndefined();
    expect(flat.resources["yoga-gateway"].cpu_ms_per_request).toBe(2);
  });

  test("ticksAt interpolates between samples and says null outside them", async () => {
    const { ticksAt } = await import("../src/run/run-windows");
    const tl = [{ t: 0, ticks: { a: 0 } }, { t: 1000, ticks: { a: 100 } }, { t: 2000, ticks: { a: 100, b: 5 } }];
    expect(ticksAt(tl, "a", 500)).toBe(50);
    expect(ticksAt(tl, "a", 2000)).toBe(100);
    expect(ticksAt(tl, "a", 2500)).toBeNull();
    expect(ticksAt(tl, "b", 1000)).toBeNull();
  });
});

describe("stability", () => {
  test("drift compares the last third with the first; CV of a constant series is 0", () => {
    expect(stability([100, 100, 100, 200, 200, 200], 5)!.drift).toBe(1);
    expect(stability([100, 100, 100], 5)!.cv).toBe(0);
    expect(stability([100, 100], 5)).toBeNull();
    expect(cv([1, 3])).toBe(0.5);
  });
});

describe("a user-brought k6's summary (the k6 adapter, on summaries in the form fleet.js writes)", () => {
  const write = (metrics: Record<string, unknown>) => {
    const path = join(mkdtempSync(join(tmpdir(), "fleet-summary-")), "s.json");
    writeFileSync(path, JSON.stringify({ metrics }));
    return path;
  };

  test("ok_rps counts successful requests only; windows are whole windows of successes", () => {
    const path = write({
      iterations: { count: 1000, rate: 100 },
      fleet_errors: { passes: 10, fails: 990, value: 0.01 },
      "fleet_errors{window:0}": { passes: 0, fails: 490 },
      "fleet_errors{window:1}": { passes: 10, fails: 480 },
      "fleet_errors{window:2}": { passes: 0, fails: 20 }, // requests that ended after the last whole window
    });
    const s = parseSummary(path, 2);
    expect(s.rps).toBe(100);
    expect(s.ok_rps).toBe(99);
    expect(s.error_rate).toBe(0.01);
    expect(s.windows).toEqual([490, 480]);
  });

  test("window counts follow the mode; the warm-up runs at the measured load", () => {
    expect(windowCount({ mode: "duration", vus: 5, duration: "5m" })).toBe(60);
    expect(windowCount({ mode: "rate", vus: 5, rate: 100, duration: "32s" })).toBe(6);
    expect(k6Env({ mode: "duration", vus: 5, duration: "30s" }, "/spec", 6).FLEET_WINDOWS).toBe("7");
    expect(warmupParams({ mode: "duration", vus: 50, duration: "5m" }, "5s")).toEqual({ mode: "duration", vus: 50, duration: "5s" });
    expect(warmupParams({ mode: "rate", vus: 10, rate: 300, duration: "2m" }, "5s")).toEqual({ mode: "rate", vus: 10, rate: 300, duration: "5s" });
    expect(warmupParams({ mode: "iterations", vus: 20, iterations: 1000 }, "5s")).toEqual({ mode: "duration", vus: 20, duration: "5s" });
  });
});

describe("the environment of measured processes", () => {
  const shell = { PATH: "/bin", HOME: "/root", LANG: "C.UTF-8", LC_ALL: "C", TZ: "UTC", FLEET_SIZE: "40", CASE3_GATEWAY: "hive-gateway",
    RUST_BACKTRACE: "1", RUST_LOG: "debug", NODE_OPTIONS: "--inspect", BUN_CONFIG_VERBOSE_FETCH: "curl", DEBUG: "*", K6_NO_CONNECTION_REUSE: "true", SECRET_TOKEN: "x" };

  test("only the allow-list and fleetbench's variables pass; debugging switches never do", () => {
    const env = measuredEnv(loadConfig({}), { FLEET_TIMEOUT_MS: "500" }, shell);
    expect(Object.keys(env).sort()).toEqual(["CASE3_GATEWAY", "FLEET_SIZE", "FLEET_TIMEOUT_MS", "HOME", "LANG", "LC_ALL", "PATH", "TZ"]);
    expect(withheldSwitches(loadConfig({}), shell)).toEqual(["BUN_CONFIG_VERBOSE_FETCH", "DEBUG", "K6_NO_CONNECTION_REUSE", "NODE_OPTIONS", "RUST_BACKTRACE", "RUST_LOG"]);
  });

  test("FLEET_PASS_ENV passes a variable on purpose, and a bad name is refused", () => {
    const config = loadConfig({ FLEET_PASS_ENV: "RUST_BACKTRACE" });
    expect(measuredEnv(config, {}, shell).RUST_BACKTRACE).toBe("1");
    expect(withheldSwitches(config, shell)).not.toContain("RUST_BACKTRACE");
    expect(() => loadConfig({ FLEET_PASS_ENV: "A=B" })).toThrow('FLEET_PASS_ENV must list variable names separated by commas, got "A=B"');
  });
});

describe("/proc accounting", () => {
  test("clock ticks and page size come from the OS; a stat line counts reaped children's CPU", () => {
    expect(getconf("CLK_TCK")).toBeGreaterThan(0);
    expect(getconf("PAGESIZE") % 1024).toBe(0);
    // pid (comm with spaces) state ppid ... utime=14 stime=15 cutime=16 cstime=17 ... rss=24
    const line = "42 (postgres: a b) S 1 42 42 0 -1 4194560 0 0 0 0 100 20 300 40 20 0 1 0 5 1000 7 0 0";
    expect(parseStat(42, line, 4096)).toEqual({ pid: 42, ppid: 1, ticks: 460, rssBytes: 7 * 4096 });
  });

  test("a process that joins the sampler and lives a tenth of a second has its peak memory seen, not its first reading (or none)", async () => {
    // A CI run once recorded 0 bytes for the engine of a 40-request run: it ended between samples.
    // This one grows by 64 MiB after it starts, holds it about 0.1 s and ends, all before the
    // sampler's next regular sample (500 ms).
    // Spawned as the engine is (src/runtime.ts); its CPU is the OS's count for the ended child.
    const sampler = startSampler({});
    const child = spawn([process.execPath, "-e", "const b = new Uint8Array(64 * 2 ** 20).fill(1); await Bun.sleep(100); if (b[7] !== 1) process.exit(1)"], { stderr: "inherit" });
    sampler.add("short", child.pid);
    expect(await child.exited).toBe(0);
    const { usage } = sampler.stop();
    expect(usage.short.peak_pss_bytes).toBeGreaterThan(64 * 2 ** 20);
    expect(usage.short.peak_pss_bytes).toBeLessThanOrEqual(usage.short.peak_rss_bytes);
    expect(child.resourceUsage()!.cpuMicros).toBeGreaterThan(10_000);
  });
});

describe("report", () => {
  const old = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "result-before-parity.json"), "utf8")) as RunResult;

  test("a result written before ok_rps, stability, PSS and parity still renders", () => {
    const md = markdownReport(toColumns([old]));
    expect(md).toContain("| throughput, successful (req/s) | 634.4 |");
    expect(md).toContain("| peak memory, PSS (MiB): yoga-gateway | 185 |");
    expect(md).toContain("| drift within the run (%) | – |");
    expect(md).toContain("No parity recorded");
  });

  test("an old result flagged `unstable` (the drift rule) renders as before; a new one with steal and the detection renders too", () => {
    const unstable = { ...structuredClone(old), flags: ["unstable"], extra: { ...old.extra, stability: { window_seconds: 5, ok_rps: [600, 640, 700], cv: 0.06, drift: 0.1667 } } };
    const md = markdownReport(toColumns([unstable as RunResult]));
    expect(md).toContain("| drift within the run (%) | 16.7 |");
    expect(md).toContain("- unstable (case2 · yoga-gateway): throughput drifted by more than 5 % between the first and the last third of the run");
    const fresh = assembleResult(base(), measured({
      summary: summary({ windows: [500, 470, 440, 410, 380, 350] }),
      cpuTimes: [{ t: 0, total: 0, steal: 0, busy: 0 }, { t: 30_000, total: 6000, steal: 60, busy: 3000 }],
      engineStartMs: 0,
    }));
    expect(fresh.flags).toEqual(["no_steady_state"]);
    expect(fresh.extra.stability).toMatchObject({ steal_pct: 1, steal_pct_windows: [1, 1, 1, 1, 1, 1], steal_clock: "load generator start" });
    expect(markdownReport(toColumns([fresh]))).toContain("| flags | no_steady_state |");
  });

  test("runs that differ in parameters, fleet size or git SHA are said to differ before any number", () => {
    const other = { ...structuredClone(old), case: "case1", params: { ...old.params, vus: 20, fleet_size: 40 }, fingerprint: { ...old.fingerprint, git_sha: "abc" } };
    const said = differences(toColumns([old, other as RunResult]));
    expect(said.map((s) => s.split(":")[0])).toEqual(["the runs differ in parameters", "the runs differ in fleet size", "the runs differ in git SHA"]);
    expect(differences(toColumns([old, { ...structuredClone(old), case: "case1" }]))).toEqual([]);
    expect(markdownReport(toColumns([old, other as RunResult]))).toMatch(/^# fleetbench report\n\n> ⚠ the runs differ in parameters/);
  });
});
