/**
 * One measured load run (DESIGN §8): start the case if needed, pass the correctness gate, warm
 * up (not counted), run k6 while sampling every process, then write one result file.
 *
 *   bun src/main.ts load CASE VUS DURATION        constant VUs for a time
 *   bun src/main.ts iterations CASE VUS COUNT     VUs share COUNT requests
 *   bun src/main.ts rate CASE RPS DURATION        constant arrival rate (open model)
 *   options: --api dashboard|monitor|critical (default: the 50/30/20 mix), --warmup 5s
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { API_NAMES, type ApiName, type CaseName, type CaseSpec, GRAPHQL_FIELDS, caseSpec, clientRequest } from "./cases";
import type { Config } from "./config";
import { type ChaosPlan, chaosReport, startChaos } from "./chaos";
import { createSql, type Sql } from "./db";
import { RefusedError } from "./errors";
import { fingerprint } from "./fingerprint";
import { runGate } from "./gate";
import { clusterDown, clusterPid } from "./pg-cluster";
import { startSampler } from "./resources";
import { k6PrometheusOutput } from "./prometheus";
import { freshResultPath, type RunResult, SCHEMA_VERSION, writeResult } from "./results";
import { delta, scrapeRequests } from "./scrape";
import { readState, stopCase, type SupervisorState, up } from "./supervisor";
import { k6Binary } from "./tools";

const ROOT = resolve(import.meta.dir, "..");
export const DEFAULT_MIX: Record<ApiName, number> = { dashboard: 50, monitor: 30, critical: 20 };
/** k6 using more than this share of one core means the load generator may be the bottleneck. */
const SATURATION = 0.8;

export interface LoadParams {
  case: CaseName;
  mode: "duration" | "iterations" | "rate";
  vus: number;
  duration?: string;
  iterations?: number;
  rate?: number;
  api?: ApiName;
  warmup: string;
  /** Fault injection during the measured run (src/chaos.ts). */
  chaos?: ChaosPlan;
}

/** Seconds in a k6 duration such as 30s, 5m or 1m30s. */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return [...text.matchAll(/(\d+)(ms|s|m|h)/g)].reduce((sum, [, n, unit]) => sum + Number(n) * units[unit], 0);
}

/** The request shapes k6 sends, taken from the case table (k6 never hard-codes them). */
function requestSpec(spec: CaseSpec, config: Config, runId: string, mix: Record<string, number>, fleetSize: number, criticalCount: number) {
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

function k6Env(params: { mode: string; vus: number; duration?: string; iterations?: number; rate?: number }, specPath: string) {
  return {
    FLEET_SPEC: specPath,
    FLEET_MODE: params.mode,
    FLEET_VUS: String(params.vus),
    FLEET_DURATION: params.duration ?? "",
    FLEET_ITERATIONS: String(params.iterations ?? ""),
    FLEET_RATE: String(params.rate ?? ""),
  };
}

const ms = (v: unknown) => (typeof v === "number" ? Math.round(v * 1000) / 1000 : null);

/** Reads k6's --summary-export JSON (structured output, never its text). */
export function parseSummary(path: string) {
  const metrics = JSON.parse(readFileSync(path, "utf8")).metrics as Record<string, Record<string, number>>;
  const latency = metrics["http_req_duration{measured:yes}"] ?? {};
  const requests = metrics.iterations?.count ?? 0;
  const errors = metrics.fleet_errors;
  return {
    requests,
    rps: Math.round((metrics.iterations?.rate ?? 0) * 100) / 100,
    error_rate: errors ? (errors.passes ?? 0) / Math.max(1, (errors.passes ?? 0) + (errors.fails ?? 0)) : 0,
    dropped_iterations: metrics.dropped_iterations?.count ?? 0,
    latency_ms: { p50: ms(latency.med), p90: ms(latency["p(90)"]), p95: ms(latency["p(95)"]), p99: ms(latency["p(99)"]), max: ms(latency.max) },
    per_api: Object.fromEntries(
      API_NAMES.filter((api) => metrics[`http_req_duration{api:${api}}`]).map((api) => {
        const m = metrics[`http_req_duration{api:${api}}`];
        return [api, { p50: ms(m.med), p95: ms(m["p(95)"]), p99: ms(m["p(99)"]), error_rate: metrics[`fleet_errors{api:${api}}`]?.value ?? null }];
      }),
    ),
  };
}

async function fleetFacts(sql: Sql) {
  const [row] = await sql`SELECT (SELECT count(*)::int FROM robots) AS robots, (SELECT count(*)::int FROM alerts WHERE severity = 'critical') AS critical, current_setting('server_version') AS version`;
  return { fleetSize: row.robots as number, criticalCount: row.critical as number, postgresVersion: row.version as string };
}

/** Runs one measured load run and writes its result file. Returns the path and the result. */
export async function runLoad(
  config: Config,
  params: LoadParams,
  log: (line: string) => void = console.log,
  options: { keepDatabase?: boolean } = {},
) {
  const spec = caseSpec(params.case);
  const gateway = spec.name === "case3" ? config.case3Gateway : null;
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const { runId, path } = freshResultPath(config, `${stamp}-${spec.name}${gateway ? `-${gateway}` : ""}-${params.mode}`);
  const mix: Record<string, number> = params.api ? { [params.api]: 100 } : { ...DEFAULT_MIX };

  const dbWasUp = config.db.external || clusterPid(config) !== null;
  const running = readState(config);
  const startedHere = !(running && running.case === spec.name && running.gateway === spec.gateway(config));
  const state: SupervisorState = startedHere ? await up(config, spec.name, { log }) : running!;
  const sql = createSql(config, "fleetbench-load");
  const facts = await fleetFacts(sql);
  const result: RunResult = {
    schema_version: SCHEMA_VERSION,
    run_id: runId,
    case: spec.name,
    gateway,
    mode: params.mode,
    params: { vus: params.vus, duration: params.duration ?? null, iterations: params.iterations ?? null, rate: params.rate ?? null, fleet_size: facts.fleetSize, mix },
    started_at: new Date().toISOString(),
    finished_at: null,
    status: "incomplete",
    summary: null,
    calls_per_request: {},
    resources: {},
    flags: [],
    fingerprint: await fingerprint(config, facts.postgresVersion),
    extra: { title: spec.title, warmup: params.warmup, result_path: path },
  };
  let k6: ReturnType<typeof Bun.spawn> | null = null;
  let chaos: ReturnType<typeof startChaos> | null = null;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log("interrupted: stopping k6, then writing an incomplete result");
    if (k6) k6.kill("SIGINT");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    log(`correctness gate: every API of ${spec.name} against the database (fleet of ${facts.fleetSize})`);
    const gate = await runGate(spec, config, sql);
    result.extra.gate = gate;
    if (!gate.passed) {
      result.status = "refused";
      result.finished_at = new Date().toISOString();
      writeResult(path, result);
      throw new RefusedError(`${spec.name} failed the correctness gate, not measured (${path}):\n  ${gate.failures.join("\n  ")}`);
    }
    log(`gate passed: ${gate.checked} answers equal the database`);

    const work = join(state.runDir, runId);
    mkdirSync(work, { recursive: true });
    const specPath = join(work, "k6-spec.json");
    writeFileSync(specPath, JSON.stringify(requestSpec(spec, config, runId, mix, facts.fleetSize, facts.criticalCount), null, 2));
    const k6Path = k6Binary(config);
    // Only the measured run pushes to Prometheus (when it answers): warm-up samples stay out of the dashboards.
    const push = await k6PrometheusOutput(config, log);
    const k6Args = (summary?: string) => [k6Path, "run", "--no-usage-report", "--address", "127.0.0.1:0", ...(summary ? ["--summary-export", summary, ...push.args] : ["--quiet", "--summary-mode", "disabled"]), join(ROOT, "k6", "fleet.js")];

    if (!interrupted && params.warmup !== "0s") {
      log(`warm-up: ${params.warmup} with ${Math.min(params.vus, 10)} VUs (not counted)`);
      const warm = Bun.spawn(k6Args(), { env: { ...process.env, ...k6Env({ mode: "duration", vus: Math.min(params.vus, 10), duration: params.warmup }, specPath) }, stdout: "ignore", stderr: "pipe" });
      k6 = warm;
      if ((await warm.exited) !== 0 && !interrupted) throw new Error(`warm-up k6 run failed: ${await new Response(warm.stderr as ReadableStream).text()}`);
    }

    const summaryPath = join(work, "k6-summary.json");
    const before = await scrapeRequests(state.processes);
    const pg = config.db.external ? null : clusterPid(config);
    const sampler = startSampler({ ...Object.fromEntries(state.processes.map((p) => [p.name, p.pid])), ...(pg ? { postgres: pg } : {}) });
    const t0 = performance.now();
    if (!interrupted) {
      log(`measuring: ${describe(params)} against ${spec.name}${gateway ? ` (${gateway})` : ""}, run ${runId}`);
      const k6Start = Date.now();
      // A fault-injection run also counts errors per second, for as long as the run can last.
      const timeline = params.chaos ? { FLEET_TIMELINE_SECONDS: String(Math.ceil(durationSeconds(params.duration ?? "0s")) + 35), FLEET_T0: String(k6Start) } : {};
      k6 = Bun.spawn(k6Args(summaryPath), { env: { ...process.env, ...k6Env(params, specPath), ...timeline, ...push.env }, stdout: "inherit", stderr: "inherit" });
      sampler.add("k6", k6.pid);
      chaos = params.chaos ? startChaos(config, params.chaos, k6Start, log) : null;
      const code = await k6.exited;
      if (code !== 0 && !interrupted) log(`k6 exited with ${code}`);
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const { usage, timeline: samples } = sampler.stop();
    // Memory over time, one sample per 10 s: what a soak run is judged by (growth between minutes).
    result.extra.rss_timeline = samples.filter((_, i) => i % 20 === 0 || i === samples.length - 1).map((s) => ({ t_s: Math.round(s.t / 1000), rss_bytes: s.rss }));
    const after = await scrapeRequests(state.processes);
    if (k6?.resourceUsage()) {
      const ru = k6.resourceUsage()!;
      // maxRSS arrives in KiB (getrusage), whatever the type comment says: measured.
      usage.k6 = { cpu_seconds: Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6, peak_rss_bytes: Math.max(usage.k6?.peak_rss_bytes ?? 0, Number(ru.maxRSS) * 1024) };
    }
    chaos?.cancel();
    const chaosEvents = chaos ? await chaos.done : null;
    let summary: ReturnType<typeof parseSummary> | null = null;
    try {
      summary = parseSummary(summaryPath);
    } catch {
      summary = null;
    }
    const { per_api, ...core } = summary ?? { per_api: {} };
    const requests = summary?.requests ?? 0;
    result.summary = summary ? (core as RunResult["summary"]) : null;
    result.extra.per_api = per_api;
    if (params.chaos && chaosEvents) {
      let metrics: Record<string, Record<string, number>> = {};
      try {
        metrics = JSON.parse(readFileSync(summaryPath, "utf8")).metrics;
      } catch {
        // no summary: the timeline stays empty and the run is incomplete anyway
      }
      result.extra.chaos = chaosReport(params.chaos, chaosEvents, metrics);
    }
    result.extra.wall_seconds = Math.round(wallSeconds * 100) / 100;
    const received = delta(before, after);
    result.extra.requests_received = received;
    const gatewayName = spec.gateway(config);
    result.calls_per_request = Object.fromEntries(
      Object.entries(received).filter(([name]) => name !== gatewayName).map(([name, n]) => [name, requests ? Math.round((n / requests) * 1000) / 1000 : 0]),
    );
    result.resources = Object.fromEntries(
      Object.entries(usage).map(([name, u]) => [name, { ...u, cpu_seconds: Math.round(u.cpu_seconds * 100) / 100, cpu_ms_per_request: requests ? Math.round(((u.cpu_seconds * 1000) / requests) * 1000) / 1000 : null }]),
    );
    if (config.db.external) result.extra.postgres_not_measured = "DATABASE_URL points at a server fleetbench does not run";
    const k6Share = (usage.k6?.cpu_seconds ?? 0) / Math.max(wallSeconds, 1e-9);
    result.extra.k6_cpu_share = Math.round(k6Share * 100) / 100;
    if (k6Share > SATURATION || (summary?.dropped_iterations ?? 0) > 0) result.flags.push("generator_saturated");
    result.status = interrupted || !summary ? "incomplete" : "complete";
    result.finished_at = new Date().toISOString();
    writeResult(path, result);
    log(`result (${result.status}): ${path}`);
    return { path, result };
  } catch (error) {
    if (!(error instanceof RefusedError)) {
      result.finished_at = new Date().toISOString();
      result.extra.error = (error as Error).message;
      writeResult(path, result);
    }
    throw error;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await sql.end({ timeout: 2 });
    // Leave things as they were: what this run started, it stops (the database too, unless a
    // comparison keeps it for the next case).
    if (startedHere) await stopCase(config, log);
    if (startedHere && !dbWasUp && !options.keepDatabase) await clusterDown(config, log);
  }
}

export function describe(p: Pick<LoadParams, "mode" | "vus" | "duration" | "iterations" | "rate" | "api">) {
  const what = p.api ? `${p.api} only` : "mix 50/30/20";
  if (p.mode === "iterations") return `${p.iterations} requests shared by ${p.vus} VUs, ${what}`;
  if (p.mode === "rate") return `${p.rate} requests/s for ${p.duration}, ${what}`;
  return `${p.vus} VUs for ${p.duration}, ${what}`;
}
