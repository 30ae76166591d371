/**
 * One measured load run (DESIGN §8): start the case if needed, pass the correctness gate, warm
 * up (not counted), run k6 while sampling every process, then write one result file.
 *
 *   bun src/main.ts load CASE VUS DURATION        constant VUs for a time
 *   bun src/main.ts iterations CASE VUS COUNT     VUs share COUNT requests
 *   bun src/main.ts rate CASE RPS DURATION        constant arrival rate (open model)
 *   options: --api dashboard|monitor|critical (default: the 50/30/20 mix), --warmup 5s, --pin,
 *            --inject-cpu PROCESS=1ms (calibration: a known CPU cost per request in one process)
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type ApiName, type CaseName, caseSpec } from "./cases";
import type { Config } from "../config";
import { type ChaosPlan, chaosReport, startChaos } from "./chaos";
import { createSql, type Sql } from "../db";
import { RefusedError, UsageError } from "../errors";
import { fingerprint } from "./fingerprint";
import { runGate } from "./gate";
import { type K6Params, type K6Summary, durationSeconds, k6Args, k6Env, parseSummary, requestSpec, spawnK6, windowCount, windowSecondsFor } from "./engine/k6";
import { type Canary, runCanary } from "./canary";
import { openWindow } from "./measure";
import { parityOf } from "./parity";
import { affinityOf, type PinPlan, pinPlan, pinTrees } from "./pin";
import { clusterDown, clusterPid } from "./pg-cluster";
import { k6PrometheusOutput } from "../deploy/prometheus";
import { fileStamp, freshResultPath, type RunResult, writeResult } from "./results";
import { type Measured, assembleResult, baseResult, k6ExitMeaning } from "./run-result";
import { readState, sameInjection, stopCase, type SupervisorState, up } from "./supervisor";
import { k6Binary } from "./tools";
import { type Child } from "../runtime";

export { durationSeconds };
/** VUs k6 pre-allocates in the open model (k6/lib/profiles.js allows up to 2 × the rate). */
export const RATE_VUS = 10;
export const DEFAULT_MIX: Record<ApiName, number> = { dashboard: 50, monitor: 30, critical: 20 };
/** The mix of a run: one API at 100 % (--api), or the default 50/30/20. */
export const mixOf = (api?: ApiName): Record<string, number> => (api ? { [api]: 100 } : { ...DEFAULT_MIX });

export interface LoadParams extends K6Params {
  case: CaseName;
  api?: ApiName;
  warmup: string;
  /** Fault injection during the measured run (src/run/chaos.ts). */
  chaos?: ChaosPlan;
  /** k6 on a CPU of its own, the case on the others (src/run/pin.ts). */
  pin?: boolean;
  /**
   * CPU ms burnt per request, by process name (--inject-cpu, calibration; never by default): each
   * named process of the case burns that much CPU time per request it receives. Recorded in
   * parity (`inject_cpu`) and `extra.inject_cpu`; a case running without the same is restarted.
   */
  injectCpu?: Record<string, number>;
}

/**
 * Refuses an injection the case cannot take, before anything starts: a process the case does not
 * run, Apollo Router (a native binary: nothing of fleetbench's runs inside it), a bad amount.
 */
export function checkInjectCpu(spec: ReturnType<typeof caseSpec>, config: Config, injectCpu: Record<string, number> | undefined) {
  const names = spec.processes(config).map((p) => p.name);
  for (const [name, ms] of Object.entries(injectCpu ?? {})) {
    if (!names.includes(name)) throw new UsageError(`--inject-cpu: ${spec.name} has no process "${name}" (its processes: ${names.join(", ")})`);
    if (name === "apollo-router") throw new UsageError(`--inject-cpu cannot reach apollo-router: it is a native binary, and only fleetbench's TypeScript roles burn injected CPU (here: ${names.filter((n) => n !== "apollo-router").join(", ")})`);
    if (!(typeof ms === "number" && ms > 0 && ms <= 1000)) throw new UsageError(`--inject-cpu ${name}: the CPU time per request must be above 0 and at most 1000 ms, got ${ms}`);
  }
}

async function fleetFacts(sql: Sql) {
  const [row] = await sql`SELECT (SELECT count(*)::int FROM robots) AS robots, (SELECT count(*)::int FROM alerts WHERE severity = 'critical') AS critical, current_setting('server_version') AS version`;
  return { fleetSize: row.robots as number, criticalCount: row.critical as number, postgresVersion: row.version as string };
}

/**
 * The warm-up runs at the measured load (the same VUs, or the same arrival rate) so pools,
 * sockets and JIT reach their steady state before the window opens, not inside it.
 */
export function warmupParams(params: K6Params, warmup: string): K6Params {
  if (params.mode === "rate") return { mode: "rate", vus: params.vus, rate: params.rate, duration: warmup };
  return { mode: "duration", vus: params.vus, duration: warmup };
}

/** What a signal handler needs to reach: the k6 that runs now, and whether Ctrl-C came. */
interface RunControl {
  k6: Child | null;
  interrupted: boolean;
}

interface RunContext {
  config: Config;
  params: LoadParams;
  spec: ReturnType<typeof caseSpec>;
  state: SupervisorState;
  runId: string;
  specPath: string;
  log: (line: string) => void;
  control: RunControl;
  canary: Canary;
  pin: PinPlan | null;
  /** The CPUs each process may use, read back from /proc (k6's once it runs). */
  affinity: Record<string, string | null>;
}

/** The correctness gate (DESIGN §7): a case that does not answer as the database is refused, not measured. */
async function passGate(ctx: RunContext, sql: Sql, result: RunResult, path: string, fleetSize: number) {
  ctx.log(`correctness gate: every API of ${ctx.spec.name} against the database (fleet of ${fleetSize})`);
  const gate = await runGate(ctx.spec, ctx.config, sql);
  result.extra.gate = gate;
  if (!gate.passed) {
    result.status = "refused";
    result.finished_at = new Date().toISOString();
    writeResult(path, result);
    throw new RefusedError(`${ctx.spec.name} failed the correctness gate, not measured (${path}):\n  ${gate.failures.join("\n  ")}`);
  }
  ctx.log(`gate passed: ${gate.checked} answers equal the database${gate.retried.length ? ` (${gate.retried.length} request(s) without an HTTP answer sent again: ${gate.retried.join("; ")})` : ""}`);
}

async function warmUp(ctx: RunContext) {
  const { params, control } = ctx;
  if (control.interrupted || params.warmup === "0s") return;
  const warm = warmupParams(params, params.warmup);
  ctx.log(`warm-up: ${describe({ ...warm, api: params.api })} (not counted)`);
  control.k6 = spawnK6(ctx.config, k6Args(k6Binary(ctx.config)), k6Env(warm, ctx.specPath), "quiet", ctx.pin?.k6);
  const code = await control.k6.exited;
  if (code !== 0 && !control.interrupted) {
    throw new Error(`warm-up k6 run failed (exit ${code}: ${k6ExitMeaning(code)}): ${(await new Response(control.k6.stderr as ReadableStream).text()).trim()}`);
  }
}

/** The measured window: k6 runs (and a fault, when asked) while every process is sampled. */
async function measure(ctx: RunContext): Promise<Measured & { chaos?: unknown }> {
  const { config, params, spec, control } = ctx;
  // Only the measured run pushes to Prometheus (when it answers): warm-up samples stay out of the dashboards.
  const push = await k6PrometheusOutput(config, ctx.log);
  const summaryPath = join(dirname(ctx.specPath), "k6-summary.json");
  const windows = windowCount(params);
  const window = await openWindow(config, ctx.state);
  let k6Exit: number | null = null;
  let k6StartMs: number | undefined;
  let chaos: ReturnType<typeof startChaos> | null = null;
  if (!control.interrupted) {
    ctx.log(`measuring: ${describe(params)} against ${spec.target(config).label}, run ${ctx.runId}`);
    const k6Start = Date.now();
    k6StartMs = k6Start;
    // A fault-injection run also counts errors per second, for as long as the run can last.
    const timeline: Record<string, string> = params.chaos ? { FLEET_TIMELINE_SECONDS: String(Math.ceil(durationSeconds(params.duration ?? "0s")) + 35), FLEET_T0: String(k6Start) } : {};
    control.k6 = spawnK6(config, k6Args(k6Binary(config), true, push.args), { ...k6Env(params, ctx.specPath, windows, summaryPath), ...timeline, ...push.env }, "inherit", ctx.pin?.k6);
    window.add("k6", control.k6.pid);
    ctx.affinity.k6 = affinityOf(control.k6.pid);
    chaos = params.chaos ? startChaos(config, params.chaos, k6Start, ctx.log) : null;
    k6Exit = await control.k6.exited;
    if (k6Exit !== 0 && !control.interrupted) ctx.log(`k6 failed: exit code ${k6Exit} (${k6ExitMeaning(k6Exit)}); the result is not complete`);
  }
  const measured = await window.close(control.k6);
  chaos?.cancel();
  const chaosEvents = chaos ? await chaos.done : null;
  let summary: K6Summary | null = null;
  try {
    summary = parseSummary(summaryPath, windows, windowSecondsFor(params));
  } catch {
    summary = null;
  }
  return {
    ...measured, k6StartMs, summary, k6Exit, interrupted: control.interrupted, gatewayName: spec.gateway(config), canary: ctx.canary,
    chaos: params.chaos && chaosEvents ? chaosReport(params.chaos, chaosEvents, summary ? summaryMetrics(summaryPath) : {}) : undefined,
  };
}

/** Runs one measured load run and writes its result file. Returns the path and the result. */
export async function runLoad(
  config: Config,
  params: LoadParams,
  log: (line: string) => void = console.log,
  /** `column`: the report's column for this run when a comparison runs one case twice (`--cases case2,case2`). */
  options: { keepDatabase?: boolean; column?: string } = {},
) {
  const spec = caseSpec(params.case);
  const gateway = spec.gateway(config);
  const stamp = fileStamp();
  const { runId, path } = freshResultPath(config, `${stamp}-${spec.name}-${gateway}${config.runtime === "bun" ? "" : `-${config.runtime}`}-${params.mode}`);
  const mix = mixOf(params.api);

  checkInjectCpu(spec, config, params.injectCpu);
  const injectCpu = Object.keys(params.injectCpu ?? {}).length ? params.injectCpu : undefined;
  // The machine's speed (src/run/canary.ts), taken before this run starts anything: right after a
  // warm-up it would time the case's own leftovers (a gateway's garbage collection), not the machine.
  const canary = runCanary();
  // Refused before anything starts when the machine cannot be split.
  const pin = params.pin ? pinPlan() : null;
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  const running = readState(config);
  // A case running without this run's injection (or with one this run does not ask for) is restarted.
  const startedHere = !(running && running.case === spec.name && running.gateway === spec.gateway(config) && (running.runtime ?? "bun") === config.runtime && sameInjection(running.injectCpu, injectCpu));
  const state: SupervisorState = startedHere ? await up(config, spec.name, { log, injectCpu }) : running!;
  const sql = createSql(config, "fleetbench-load");
  const facts = await fleetFacts(sql);
  let result = baseResult({
    runId, case: spec.name, gateway, runtime: config.runtime, params: { ...params, mix, fleetSize: facts.fleetSize },
    fingerprint: await fingerprint(config, facts.postgresVersion, pin),
    extra: {
      title: spec.title,
      warmup: params.warmup,
      result_path: path,
      ...(options.column ? { column: options.column } : {}),
      ...(injectCpu ? { inject_cpu: injectCpu } : {}),
      parity: parityOf(config, spec, { startedCase: startedHere, postgresVersion: facts.postgresVersion, injectCpu }),
    },
  });
  const specPath = join(state.runDir, runId, "k6-spec.json");
  // Every process of the case, PostgreSQL included: pinned to the case's CPUs with --pin, and
  // their affinity recorded either way (a set left narrowed by someone else shows in the result).
  const roots: Record<string, number> = Object.fromEntries(state.processes.map((p) => [p.name, p.pid]));
  const postmaster = config.db.external ? null : clusterPid(config);
  if (postmaster) roots.postgres = postmaster;
  const affinity = pin ? pinTrees(roots, pin.case) : Object.fromEntries(Object.entries(roots).map(([name, pid]) => [name, affinityOf(pid)]));
  if (pin) log(`pinned: k6 on CPU ${pin.k6}, the case (${Object.keys(roots).length} processes with their threads and children) on CPU ${pin.case}`);
  const ctx: RunContext = { config, params, spec, state, runId, specPath, log, control: { k6: null, interrupted: false }, canary, pin, affinity };
  const onSignal = () => {
    ctx.control.interrupted = true;
    log("interrupted: stopping k6, then writing an incomplete result");
    ctx.control.k6?.kill("SIGINT");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await passGate(ctx, sql, result, path, facts.fleetSize);
    mkdirSync(dirname(specPath), { recursive: true });
    writeFileSync(specPath, JSON.stringify(requestSpec(spec, config, runId, mix, facts.fleetSize, facts.criticalCount), null, 2));
    await warmUp(ctx);
    const { chaos, ...measured } = await measure(ctx);
    result = assembleResult(result, measured);
    result.extra.affinity = ctx.affinity;
    if (chaos) result.extra.chaos = chaos;
    if (config.db.external) result.extra.postgres_not_measured = "DATABASE_URL points at a server fleetbench does not run";
    result.finished_at = new Date().toISOString();
    writeResult(path, result);
    if (result.flags.length) log(`flags: ${result.flags.join(", ")}`);
    log(`result (${result.status}${result.extra.k6_failure ? `: ${result.extra.k6_failure}` : ""}): ${path}`);
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
    // What stays running (a case started before, the database a comparison keeps) gets every CPU back.
    if (pin) {
      try {
        pinTrees(roots, pin.available);
      } catch (error) {
        log(`could not give the case every CPU back: ${(error as Error).message}`);
      }
    }
    // Leave things as they were: what this run started, it stops (the database too, unless a
    // comparison keeps it for the next case).
    if (startedHere) await stopCase(config, log);
    if (startedHere && !dbWasUp && !options.keepDatabase) await clusterDown(config, log);
  }
}

/** The raw metrics of k6's summary (the chaos timeline reads its per-second sub-metrics). */
function summaryMetrics(path: string): Record<string, Record<string, number>> {
  return JSON.parse(readFileSync(path, "utf8")).metrics;
}

export function describe(p: Pick<LoadParams, "mode" | "vus" | "duration" | "iterations" | "rate" | "api">) {
  const what = p.api ? `${p.api} only` : "mix 50/30/20";
  if (p.mode === "iterations") return `${p.iterations} requests shared by ${p.vus} VUs, ${what}`;
  if (p.mode === "rate") return `${p.rate} requests/s for ${p.duration}, ${what}`;
  return `${p.vus} VUs for ${p.duration}, ${what}`;
}
