/**
 * From what a run measured to its result (docs/design.md §8, §12, §13): a pure function, so every rule
 * that turns numbers into a verdict (status, flags, stability, per-request costs, memory totals)
 * is tested without starting a process.
 */
import { TARGETS } from "./cases";
import type { MemorySample, ProcessTicksSample, ProcessUsage } from "./resources";
import type { MetronomeReading } from "./metronome";
import { type RunResult, SCHEMA_VERSION } from "./results";
import { GENERATORS, type LoadSummary } from "./engine/engine";
import { detectSteady } from "../stats/steady";
import type { CpuTimes } from "./steal";
import { steadyMetrics, stealOf } from "./run-windows";

/** The load generator using more than this share of one core means it may be the bottleneck. */
export const SATURATION = 0.8;
/**
 * Other processes of this machine taking more than this share of all CPU time during a run flag
 * it `machine_busy` (docs/measuring.md): 1–4 % is this machine idle between runs; a tool build
 * beside a run took 31–67 %. The run still counts (its round shares the busy moment); the flag
 * says the machine was not the run's alone.
 */
export const FOREIGN_LIMIT_PCT = 20;
/** More failed requests than this share flags the run `errors` (docs/design.md §13). */
export const ERROR_LIMIT = 0.001;
/**
 * |drift| above this flagged a run `unstable` (docs/design.md §13) until steady state was detected
 * instead (src/stats/steady.ts, docs/design.md §18): results written before still carry `unstable`, and
 * it still means this. New results carry `no_steady_state` when the case does not settle.
 */
export const DRIFT_LIMIT = 0.05;

const GATEWAYS = new Set(TARGETS.map((t) => t.gateway));

/** The components, in the order the report lists them. */
export const COMPONENTS = ["gateway", "subgraphs", "data services", "postgres", "network proxy", "load generator"];

/** Whether a process is the load generator (any engine's, k6 in results written before vegeta). */
export const isGenerator = (process: string) => GENERATORS.includes(process);

/**
 * What a case's totals count: not the load generator and not Toxiproxy (--hop-latency's
 * stand-in for the network, measured and shown as its own component).
 */
export const inCaseTotal = (process: string) => !isGenerator(process) && process !== "toxiproxy";

/** The component a process belongs to, for totals and charts. */
export function componentOf(process: string): string {
  if (GATEWAYS.has(process)) return "gateway";
  if (process === "toxiproxy") return "network proxy";
  if (isGenerator(process)) return "load generator";
  if (process.endsWith("-subgraph")) return "subgraphs";
  if (process.endsWith("-service")) return "data services";
  return process; // postgres
}

/** Successful requests per second; a file written before `ok_rps` existed gives it from its error rate. */
export const okRps = (r: RunResult) => (r.summary ? (r.summary.ok_rps ?? r.summary.rps * (1 - r.summary.error_rate)) : null);

/** CPU ms per request summed over the processes `include` picks; null when the run has none of them. */
export function cpuMsPerRequest(r: RunResult, include: (process: string) => boolean): number | null {
  const entries = Object.entries(r.resources).filter(([p]) => include(p));
  return entries.length ? entries.reduce((s, [, u]) => s + (u.cpu_ms_per_request ?? 0), 0) : null;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Coefficient of variation (population standard deviation ÷ mean); 0 for a constant series. */
export function cv(xs: number[]): number | null {
  if (!xs.length) return null;
  const m = mean(xs);
  if (m === 0) return null;
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2))) / m;
}

/**
 * Stability of a run from its successful requests per window (docs/design.md §13): the windows' rates,
 * their CV and the drift = mean of the last third ÷ mean of the first third − 1. Fewer than three
 * windows say nothing about drift: null.
 */
export function stability(okPerWindow: number[], windowSeconds: number) {
  const n = okPerWindow.length;
  if (n < 3) return null;
  const rates = okPerWindow.map((ok) => ok / windowSeconds);
  const third = Math.floor(n / 3);
  const first = mean(rates.slice(0, third));
  const last = mean(rates.slice(n - third));
  return {
    window_seconds: windowSeconds,
    ok_rps: rates.map((r) => round(r, 2)),
    cv: round(cv(rates) ?? 0, 4),
    drift: first > 0 ? round(last / first - 1, 4) : null,
  };
}

/** The largest per-sample sum of PSS over the processes `include` picks: memory held at one moment. */
export function peakSum(timeline: MemorySample[], include: (process: string) => boolean): number {
  let peak = 0;
  for (const sample of timeline) {
    const sum = Object.entries(sample.pss).filter(([p]) => include(p)).reduce((s, [, bytes]) => s + bytes, 0);
    peak = Math.max(peak, sum);
  }
  return peak;
}

/** A run's result before anything is measured: parameters, fingerprint, status `incomplete`. */
export function baseResult(r: {
  runId: string;
  case: string;
  gateway: string | null;
  runtime: string;
  params: { mode: RunResult["mode"]; vus: number; duration?: string; iterations?: number; rate?: number; mix: Record<string, number>; fleetSize: number };
  fingerprint: Record<string, unknown>;
  extra: Record<string, unknown>;
}): RunResult {
  const p = r.params;
  return {
    schema_version: SCHEMA_VERSION,
    run_id: r.runId,
    case: r.case,
    gateway: r.gateway,
    runtime: r.runtime,
    mode: p.mode,
    params: { vus: p.vus, duration: p.duration ?? null, iterations: p.iterations ?? null, rate: p.rate ?? null, fleet_size: p.fleetSize, mix: p.mix },
    started_at: new Date().toISOString(),
    finished_at: null,
    status: "incomplete",
    summary: null,
    calls_per_request: {},
    resources: {},
    flags: [],
    fingerprint: r.fingerprint,
    extra: r.extra,
  };
}

export interface Measured {
  summary: LoadSummary | null;
  /** The engine's exit code; null when it never ran (interrupted before it started). */
  engineExit: number | null;
  /** Why the engine's run gave no full summary (its exit, its output unreadable), said in the result. */
  engineFailure?: string;
  interrupted: boolean;
  wallSeconds: number;
  /** Requests each process received during the window (metrics deltas). */
  received: Record<string, number>;
  /** Processes whose requests could not be counted (killed or restarted during the run). */
  uncounted?: Record<string, string>;
  /** The process that receives client requests: not an internal call. */
  gatewayName: string;
  usage: Record<string, ProcessUsage>;
  memory: MemorySample[];
  /** The machine-speed canary timed just before the window (src/run/canary.ts). */
  canary?: unknown;
  /** The comparison's metronome over the window (src/run/metronome.ts): the machine's factor for this run. */
  metronome?: MetronomeReading | null;
  /** /proc/stat's `cpu` line over the window (src/run/steal.ts); absent: steal not measured. */
  cpuTimes?: CpuTimes[];
  /** CPU ticks of the run's own processes together over time (resources.ts): what is not foreign. */
  measuredTicks?: { t: number; ticks: number }[];
  /** When the engine was started (ms since the epoch): the windows' clock when it did not report its first request. */
  engineStartMs?: number;
  /** Each process's CPU ticks since first seen, at each sample: CPU over the steady windows alone. */
  cpuTimeline?: ProcessTicksSample[];
  ticksPerSecond?: number;
}

/** Fills `base` (parameters, fingerprint, extra so far) with what was measured. Pure. */
export function assembleResult(base: RunResult, m: Measured): RunResult {
  const result: RunResult = { ...base, flags: [...base.flags], extra: { ...base.extra } };
  // Per-request costs are per successful request: a failed one did not do the work of an answer
  // (and a run with many failures is flagged `errors` anyway). The engine's own count when it gave one.
  const requests = m.summary?.requests ?? 0;
  const ok = m.summary ? (m.summary.ok_requests ?? Math.round(requests * (1 - m.summary.error_rate))) : 0;
  /** `x` per successful request; null when none succeeded (never Infinity or a division by all iterations). */
  const perOk = (x: number, digits: number) => (ok > 0 ? round(x / ok, digits) : null);
  let windows: number[] | null = null;
  if (m.summary) {
    const { per_api, windows: counted, window_latency_ms, scenario_start_ms, histogram, timeline, window_histograms, ...core } = m.summary;
    // ok_requests stays in the summary: what the per-request costs were divided by.
    result.summary = core;
    // Histograms apart from the percentiles: mergeable across runs, runners and rounds.
    result.extra.per_api = Object.fromEntries(Object.entries(per_api).map(([api, p]) => {
      const { histogram: _h, ...rest } = p as typeof p & { histogram?: string };
      return [api, rest];
    }));
    if (histogram) {
      result.extra.latency_histogram = {
        unit: "microseconds",
        encoding: "HdrHistogram, compressed base64",
        all: histogram,
        per_api: Object.fromEntries(Object.entries(per_api).map(([api, p]) => [api, (p as { histogram?: string }).histogram ?? null])),
      };
    }
    windows = counted;
  } else {
    result.summary = null;
  }
  result.extra.wall_seconds = round(m.wallSeconds, 2);
  result.extra.requests_received = m.received;
  if (m.canary) result.extra.canary = m.canary;
  if (m.metronome) result.extra.metronome = m.metronome;
  if (m.uncounted && Object.keys(m.uncounted).length) result.extra.calls_not_counted = m.uncounted;
  result.calls_per_request = Object.fromEntries(
    Object.entries(m.received).filter(([name]) => name !== m.gatewayName).map(([name, n]) => [name, perOk(n, 3)]),
  ) as Record<string, number>; // null where no request succeeded
  result.resources = Object.fromEntries(
    Object.entries(m.usage).map(([name, u]) => [name, {
      cpu_seconds: round(u.cpu_seconds, 2),
      peak_rss_bytes: u.peak_rss_bytes,
      peak_pss_bytes: u.peak_pss_bytes,
      cpu_ms_per_request: perOk(u.cpu_seconds * 1000, 3),
    }]),
  );
  // Memory held at one moment: the peak of the per-sample sum, never a sum of peaks taken at
  // different moments. The load generator: apart.
  const components = [...new Set(Object.keys(m.usage).map(componentOf))].filter((c) => c !== "load generator");
  result.extra.memory = {
    measure: "PSS",
    peak_total_bytes: peakSum(m.memory, inCaseTotal),
    peak_by_component_bytes: Object.fromEntries(components.map((c) => [c, peakSum(m.memory, (p) => componentOf(p) === c)])),
  };
  // Memory over time, one sample per 10 s: what a soak run is judged by (growth between minutes).
  result.extra.memory_timeline = m.memory
    .filter((_, i) => i % 20 === 0 || i === m.memory.length - 1)
    .map((s) => ({ t_s: Math.round(s.t / 1000), pss_bytes: s.pss }));

  const generatorSeconds = Object.entries(m.usage).filter(([p]) => isGenerator(p)).reduce((s, [, u]) => s + u.cpu_seconds, 0);
  const generatorShare = generatorSeconds / Math.max(m.wallSeconds, 1e-9);
  result.extra.generator_cpu_share = round(generatorShare, 2);
  const flags = new Set(result.flags);
  if (generatorShare > SATURATION) flags.add("generator_saturated");
  if ((m.summary?.dropped_iterations ?? 0) > 0) flags.add("sut_overloaded");
  if (m.summary && m.summary.error_rate > ERROR_LIMIT) flags.add("errors");
  // Stability within the run (docs/design.md §18): the windows, their CV and drift (said, no longer a
  // flag), steal beside them, and the steady-state detection that flags `no_steady_state`.
  const windowSeconds = m.summary?.window_seconds ?? 5;
  const stable = windows ? stability(windows, windowSeconds) : null;
  const latencyWindows = m.summary?.window_latency_ms ?? null;
  const steal = stealOf(m, m.summary, windows?.length ?? 0);
  const detected = windows
    ? detectSteady({
      mode: result.mode, windowSeconds, okPerWindow: windows, latencyP50: latencyWindows?.p50,
      stealPct: "steal_pct_windows" in steal ? steal.steal_pct_windows : null,
      foreignPct: "foreign_cpu_pct_windows" in steal ? steal.foreign_cpu_pct_windows : null,
    })
    : { not_measured: "the load generator reported no windows" };
  result.extra.stability = {
    ...(stable ?? (windows ? { window_seconds: windowSeconds, ok_rps: windows.map((ok) => round(ok / windowSeconds, 2)) } : {})),
    ...(latencyWindows ? { latency_ms_windows: latencyWindows } : {}),
    ...steal,
    ...("not_measured" in detected ? { not_measured: detected.not_measured } : { steady: detected }),
  };
  if (!("not_measured" in detected) && !detected.steady) flags.add("no_steady_state");
  if ("foreign_cpu_pct" in steal && typeof steal.foreign_cpu_pct === "number" && steal.foreign_cpu_pct > FOREIGN_LIMIT_PCT) flags.add("machine_busy");
  result.flags = [...flags];
  // The run's numbers over the windows the detection kept: a warm-up transient measured in the
  // first windows is not the case's cost (a JIT-compiled gateway and a native one warm differently).
  const steadyPart = windows && !("not_measured" in detected) && m.summary ? steadyMetrics(m, m.summary, windows, detected.trimmed_windows) : null;
  if (steadyPart && result.summary) {
    result.extra.whole_run = {
      ok_rps: result.summary.ok_rps,
      latency_ms: result.summary.latency_ms,
      cpu_ms_per_request: Object.fromEntries(Object.entries(result.resources).map(([p, u]) => [p, u.cpu_ms_per_request])),
    };
    result.summary = { ...result.summary, ok_rps: steadyPart.ok_rps, latency_ms: steadyPart.latency_ms };
    for (const [p, u] of Object.entries(result.resources)) {
      const trimmedCpu = steadyPart.cpu_ms_per_request[p];
      if (typeof trimmedCpu === "number") u.cpu_ms_per_request = trimmedCpu;
    }
    result.extra.steady_windows = { from_window: steadyPart.from_window, windows: steadyPart.windows, what: "ok_rps, latency_ms and cpu_ms_per_request are over these windows; extra.whole_run has them over the whole window" };
  }

  const engineFailed = m.engineExit !== null && m.engineExit !== 0 && !m.interrupted;
  if (engineFailed) result.extra.engine_failure = m.engineFailure ?? `the load generator exited with code ${m.engineExit}`;
  else if (!m.summary && !m.interrupted) result.extra.engine_failure = m.engineFailure ?? "the load generator wrote no summary";
  if (m.interrupted) result.extra.interrupted = true;
  result.status = m.interrupted || !m.summary || engineFailed ? "incomplete" : "complete";
  return result;
}
