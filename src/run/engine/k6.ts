/**
 * Invoking k6 for a run: the request spec it reads, its environment (curated like every measured
 * process, docs/design.md §12), the warm-up and the measured run, and reading its summary JSON (never its
 * text output).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { API_NAMES, type CaseSpec, GRAPHQL_FIELDS, clientRequest } from "../cases";
import type { Config } from "../../config";
import { measuredEnv } from "../environment";
import { pinnedCommand } from "../pin";
import { spawn } from "../../runtime";

const ROOT = resolve(import.meta.dirname, "..", "..", "..");
/** Throughput is counted per window of this many seconds (docs/design.md §13). */
export const WINDOW_SECONDS = 5;
/** Iterations mode has no fixed duration: windows are counted for up to this long. */
const ITERATIONS_WINDOWS = 720;

export interface K6Params {
  mode: "duration" | "iterations" | "rate";
  vus: number;
  duration?: string;
  iterations?: number;
  rate?: number;
}

/** Seconds in a k6 duration such as 30s, 5m or 1m30s. */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return [...text.matchAll(/(\d+)(ms|s|m|h)/g)].reduce((sum, [, n, unit]) => sum + Number(n) * units[unit], 0);
}

/** The request shapes k6 sends, taken from the case table (k6 never hard-codes them). */
export function requestSpec(spec: CaseSpec, config: Config, runId: string, mix: Record<string, number>, fleetSize: number, criticalCount: number) {
  const requests = Object.fromEntries(
    API_NAMES.map((api) => {
      const r = clientRequest(spec, config, api, "__ROBOT_ID__");
      return [api, {
        method: r.init.method,
        path: r.url.slice(config.urls.gateway.length),
        headers: r.init.headers ?? {},
        body: r.init.body ?? null,
        field: spec.protocol === "graphql" ? GRAPHQL_FIELDS[api] : null,
      }];
    }),
  );
  return { case: spec.name, runId, protocol: spec.protocol, baseUrl: config.urls.gateway, requests, mix, fleetSize, criticalCount, timeout: `${config.timeoutMs * 3}ms` };
}

/**
 * How many whole windows a run of these parameters has: a duration or rate run is cut into
 * `WINDOW_SECONDS` windows and a partial last one is left out; iterations mode counts as many
 * as it fills (its last one is partial and left out when read).
 */
export function windowCount(params: K6Params): number {
  if (params.mode === "iterations") return ITERATIONS_WINDOWS;
  return Math.floor(durationSeconds(params.duration ?? "0s") / windowSecondsFor(params));
}

/** Runs shorter than this have windows shorter than WINDOW_SECONDS. */
const SHORT_RUN_S = 20;

/**
 * The length of a run's windows: WINDOW_SECONDS (5 s) from 20 s on, where the steady-state
 * detection was calibrated; a shorter run is cut into 5 windows of at least 1 s, so that even the
 * demo's 5 s runs are judged (with 5 s windows they had one, and no drift could ever be seen).
 */
export function windowSecondsFor(params: K6Params): number {
  if (params.mode === "iterations") return WINDOW_SECONDS;
  const seconds = durationSeconds(params.duration ?? "0s");
  return seconds >= SHORT_RUN_S ? WINDOW_SECONDS : Math.max(1, Math.floor(seconds / 5));
}

/** The variables fleet.js reads for one run (with `windows`, the stability counts; with `summaryPath`, where its summary goes). */
export function k6Env(params: K6Params, specPath: string, windows = 0, summaryPath = ""): Record<string, string> {
  return {
    FLEET_SUMMARY: summaryPath,
    FLEET_SPEC: specPath,
    FLEET_MODE: params.mode,
    FLEET_VUS: String(params.vus),
    FLEET_DURATION: params.duration ?? "",
    FLEET_ITERATIONS: String(params.iterations ?? ""),
    FLEET_RATE: String(params.rate ?? ""),
    // One more window than whole ones: requests that end after the last whole window land there.
    FLEET_WINDOWS: windows ? String(windows + 1) : "0",
    FLEET_WINDOW_SECONDS: String(windowSecondsFor(params)),
    // Latency per window too, except in iterations mode (its 720 windows would be 720 trends).
    FLEET_WINDOW_LATENCY: windows && params.mode !== "iterations" ? "1" : "0",
  };
}

/**
 * `k6 run` arguments: the measured run pushes when `push` is given (its summary goes where
 * FLEET_SUMMARY says, written by the script's handleSummary); the warm-up is quiet.
 */
export function k6Args(k6Path: string, measured = false, push: string[] = []) {
  return [k6Path, "run", "--no-usage-report", "--address", "127.0.0.1:0",
    ...(measured ? push : ["--quiet", "--summary-mode", "disabled"]),
    join(ROOT, "k6", "fleet.js")];
}

/**
 * Starts k6 with a curated environment: the user's K6_* settings never reach it (docs/design.md §12).
 * With `cpus` (--pin) it runs on those CPUs only.
 */
export function spawnK6(config: Config, args: string[], env: Record<string, string>, output: "inherit" | "quiet", cpus?: string) {
  return spawn(cpus ? pinnedCommand(cpus, args) : args, {
    env: measuredEnv(config, env),
    stdout: output === "inherit" ? "inherit" : "ignore",
    stderr: output === "inherit" ? "inherit" : "pipe",
  });
}

const ms = (v: unknown) => (typeof v === "number" ? Math.round(v * 1000) / 1000 : null);

type Parsed = ReturnType<typeof parseSummary>;
/** What fleet.js's summary gives; the per-window latency, the windows' clock and k6's own ok count only where k6 ran here. */
export type K6Summary = Omit<Parsed, "window_latency_ms" | "scenario_start_ms" | "ok_requests"> & Partial<Pick<Parsed, "window_latency_ms" | "scenario_start_ms" | "ok_requests">>;

/**
 * Reads the summary JSON fleet.js's handleSummary wrote (metric name → values, as k6's
 * --summary-export has them). `fleet_errors` is a Rate with one sample per client request
 * (true = some check failed): its `fails` are the successful requests. `windows` are successful
 * requests per whole window (null when the run counted none).
 */
export function parseSummary(path: string, windowsExpected = 0, windowSeconds = WINDOW_SECONDS) {
  const metrics = JSON.parse(readFileSync(path, "utf8")).metrics as Record<string, Record<string, number>>;
  const latency = metrics["http_req_duration{measured:yes}"] ?? {};
  const requests = metrics.iterations?.count ?? 0;
  const rate = metrics.iterations?.rate ?? 0;
  const errors = metrics.fleet_errors;
  const failed = errors?.passes ?? 0;
  const ok = errors ? (errors.fails ?? 0) : requests;
  // k6's rate is count ÷ the test's duration: the same duration gives the successful requests' rate.
  const seconds = rate > 0 ? requests / rate : 0;
  return {
    requests,
    rps: Math.round(rate * 100) / 100,
    ok_rps: seconds > 0 ? Math.round((ok / seconds) * 100) / 100 : 0,
    error_rate: errors ? failed / Math.max(1, failed + (errors.fails ?? 0)) : 0,
    dropped_iterations: metrics.dropped_iterations?.count ?? 0,
    latency_ms: { p50: ms(latency.med), p90: ms(latency["p(90)"]), p95: ms(latency["p(95)"]), p99: ms(latency["p(99)"]), max: ms(latency.max) },
    per_api: Object.fromEntries(
      API_NAMES.filter((api) => metrics[`http_req_duration{api:${api}}`]).map((api) => {
        const m = metrics[`http_req_duration{api:${api}}`];
        return [api, { p50: ms(m.med), p95: ms(m["p(95)"]), p99: ms(m["p(99)"]), error_rate: metrics[`fleet_errors{api:${api}}`]?.value ?? null }];
      }),
    ),
    window_seconds: windowSeconds,
    windows: readWindows(metrics, windowsExpected),
    window_latency_ms: readWindowLatency(metrics, windowsExpected),
    // When k6's scenario started (ms since the epoch): the windows' clock. The earliest any VU saw.
    scenario_start_ms: metrics.fleet_scenario_start?.min ?? null,
    /** Successful requests, as k6 counted them. */
    ok_requests: ok,
  };
}

/** Errors per second from a k6 summary's per-second sub-metrics (`fleet_errors{second:N}`), for the chaos timeline. */
export function k6Timeline(path: string): { second: number; requests: number; errors: number }[] {
  const metrics = JSON.parse(readFileSync(path, "utf8")).metrics as Record<string, Record<string, number>>;
  const timeline: { second: number; requests: number; errors: number }[] = [];
  for (const [name, m] of Object.entries(metrics)) {
    const match = /^fleet_errors\{second:(\d+)\}$/.exec(name);
    if (match) timeline.push({ second: Number(match[1]), requests: (m.passes ?? 0) + (m.fails ?? 0), errors: m.passes ?? 0 });
  }
  return timeline.sort((a, b) => a.second - b.second);
}

/** Median and p95 latency (ms) of the requests that ended in each whole window; null when not counted. */
function readWindowLatency(metrics: Record<string, Record<string, number>>, expected: number): { p50: (number | null)[]; p95: (number | null)[] } | null {
  if (!expected || expected === ITERATIONS_WINDOWS || !metrics["fleet_latency{window:0}"]) return null;
  const of = (w: number) => metrics[`fleet_latency{window:${w}}`];
  const windows = Array.from({ length: expected }, (_, w) => w);
  return { p50: windows.map((w) => ms(of(w)?.med)), p95: windows.map((w) => ms(of(w)?.["p(95)"])) };
}

/** Successful requests per window from `fleet_errors{window:N}`; only whole windows. */
function readWindows(metrics: Record<string, Record<string, number>>, expected: number): number[] | null {
  if (!expected) return null;
  const counts: number[] = [];
  for (let w = 0; w <= expected; w++) {
    const m = metrics[`fleet_errors{window:${w}}`];
    counts.push(m ? (m.fails ?? 0) : 0);
  }
  if (expected === ITERATIONS_WINDOWS) {
    // Iterations mode: the windows it filled, the last of them partial.
    while (counts.length && counts.at(-1) === 0) counts.pop();
    counts.pop();
    return counts;
  }
  return counts.slice(0, expected);
}
