/**
 * One measured load run (docs/design.md §8): check the load engine, start the case if needed, pass the
 * correctness gate, warm up (not counted), run the engine while sampling every process, then
 * write one result file, with the run's request records beside it.
 *
 *   bun src/main.ts load CASE VUS DURATION        constant VUs for a time
 *   bun src/main.ts iterations CASE VUS COUNT     VUs share COUNT requests
 *   bun src/main.ts rate CASE RPS DURATION        constant arrival rate (open model)
 *   options: --api dashboard|monitor|critical (default: the 50/30/20 mix), --warmup 5s, --pin,
 *            --inject-cpu PROCESS=1ms (calibration: a known CPU cost per request in one process)
 */
import { join } from "node:path";
import { type ApiName, type CaseName, caseSpec } from "./cases";
import type { Config } from "../config";
import { type ChaosPlan, chaosReport, startChaos } from "./chaos";
import { createSql, type Sql } from "../db";
import { RefusedError, UsageError } from "../errors";
import { fingerprint } from "./fingerprint";
import { runGate } from "./gate";
import { type K6Params, durationSeconds } from "./engine/k6";
import { type Engine, type EngineContext, ensureEngine, type LoadSummary } from "./engine/engine";
import type { GateAnswers } from "./gate";
import { type Canary, type MachineWait, runCanary } from "./canary";
import { openWindow } from "./measure";
import { parityOf } from "./parity";
import { affinityOf, type PinPlan, pinPlan, pinTrees } from "./pin";
import { clusterDown, clusterPid } from "./pg-cluster";
import { k6PrometheusOutput, loadgenExporter } from "../deploy/prometheus";
import { fileStamp, freshResultPath, type RunResult, writeResult } from "./results";
import { type Measured, assembleResult, baseResult } from "./run-result";
import { readState, sameInjection, stopCase, type SupervisorState, up } from "./supervisor";
import { pauseBuildsWhileMeasuring } from "./builds";
import { type Child } from "../runtime";

export { durationSeconds };
/** Workers (VUs) the engine starts with in the open model; it may use up to 2 × the rate. */
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
  /** The load engine on a CPU of its own, the case on the others (src/run/pin.ts). */
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

/** What a signal handler needs to reach: the engine process that runs now, and whether Ctrl-C came. */
interface RunControl {
  generator: Child | null;
  interrupted: boolean;
}

interface RunContext {
  config: Config;
  params: LoadParams;
  spec: ReturnType<typeof caseSpec>;
  state: SupervisorState;
  runId: string;
  engine: Engine;
  engineCtx: EngineContext;
  /** Where the run's request records are kept, beside its result. */
  recordsPath: string;
  log: (line: string) => void;
  control: RunControl;
  canary: Canary;
  pin: PinPlan | null;
  /** The CPUs each process may use, read back from /proc (the engine's once it runs). */
  affinity: Record<string, string | null>;
}

/** The correctness gate (docs/design.md §7): a case that does not answer as the database is refused, not measured. */
async function passGate(ctx: RunContext, sql: Sql, result: RunResult, path: string, fleetSize: number, answers: GateAnswers) {
  ctx.log(`correctness gate: every API of ${ctx.spec.name} against the database (fleet of ${fleetSize})`);
  const gate = await runGate(ctx.spec, ctx.config, sql, 8, answers);
  result.extra.gate = gate;
  if (!gate.passed) {
    result.status = "refused";
    result.finished_at = new Date().toISOString();
    writeResult(path, result);
    throw new RefusedError(`${ctx.spec.name} failed the correctness gate, not measured (${path}):\n  ${gate.failures.join("\n  ")}`);
  }
  ctx.log(`gate passed: ${gate.checked} answers equal the database${gate.retried.length ? ` (${gate.retried.length} request(s) without an HTTP answer sent again: ${gate.retried.join("; ")})` : ""}`);
}

/** A warm-up runs at most this many chunks of --warmup each, until two in a row agree. */
export const WARMUP_CHUNKS = 3;
/** Two chunks agree when their levels (throughput, or median latency) differ by at most this share. */
export const WARMUP_SETTLED = 0.1;

/**
 * Warms until the case settles (docs/design.md §23), measured and bounded: chunks of --warmup at
 * the measured load, at most WARMUP_CHUNKS of them, until a chunk's level (completed requests per
 * second, or median latency in the open model) is within WARMUP_SETTLED of the one before. A
 * JIT-compiled gateway and a native one warm differently; a fixed warm-up would favour one.
 */
async function warmUp(ctx: RunContext, follows?: string): Promise<{ chunks: number; levels: (number | null)[]; settled: boolean; follows?: string } | null> {
  const { params, control } = ctx;
  if (control.interrupted) return null;
  // No warm-up: nothing warmed, but a run on the start of the one before still says whose start it ran on.
  if (params.warmup === "0s") return follows ? { chunks: 0, levels: [], settled: false, follows } : null;
  const warm = warmupParams(params, params.warmup);
  // A case warmed by the run before on the same start takes one chunk at the new load, for the
  // queues and pools of the last load to drain; the steady-state check of the window judges the rest.
  const settle = ctx.engine.name === "vegeta" && !follows;
  const levels: (number | null)[] = [];
  if (follows) ctx.log(`already warm: ${follows} ran on this start just before; one chunk at the new load`);
  for (let chunk = 1; chunk <= (settle ? WARMUP_CHUNKS : 1) && !control.interrupted; chunk++) {
    ctx.log(`warm-up${settle ? ` ${chunk}` : ""}: ${describe({ ...warm, api: params.api })} (not counted)`);
    const { child, done } = await ctx.engine.warmUp(ctx.engineCtx, warm, settle);
    control.generator = child;
    try {
      levels.push(await done);
    } catch (error) {
      if (!control.interrupted) throw error;
    }
    const [before, now] = levels.slice(-2);
    if (levels.length >= 2 && before && now && Math.abs(now / before - 1) <= WARMUP_SETTLED) break;
  }
  const [before, now] = levels.slice(-2);
  const settled = levels.length >= 2 && !!before && !!now && Math.abs(now / before - 1) <= WARMUP_SETTLED;
  if (settle) ctx.log(`warmed in ${levels.length} chunk(s) (${levels.map((l) => (l === null ? "–" : l.toFixed(params.mode === "rate" ? 2 : 0))).join(" → ")}${params.mode === "rate" ? " ms median latency" : " requests/s"})${settled ? "" : ", not settled within the bound: the steady-state check of the measured window decides"}`);
  return { chunks: levels.length, levels, settled, ...(follows ? { follows } : {}) };
}

/** The measured window: the engine runs (and a fault, when asked) while every process is sampled. */
async function measure(ctx: RunContext): Promise<Measured & { chaos?: unknown }> {
  const { config, params, spec, control, engine } = ctx;
  // Only the measured run is watched by Prometheus (when it answers): warm-up samples stay out of the dashboards.
  const obs = engine.name === "vegeta" ? { prometheusAddr: await loadgenExporter(config, ctx.log, { case: spec.name, run: ctx.runId, engine: engine.name }) } : { push: await k6PrometheusOutput(config, ctx.log) };
  const window = await openWindow(config, ctx.state);
  let exit: number | null = null;
  let startMs: number | undefined;
  let chaos: ReturnType<typeof startChaos> | null = null;
  let run: ReturnType<Engine["measure"]> | null = null;
  if (!control.interrupted) {
    ctx.log(`measuring: ${describe(params)} against ${spec.target(config).label} with ${engine.name} ${engine.version}, run ${ctx.runId}`);
    startMs = Date.now();
    run = engine.measure(ctx.engineCtx, params, { ...obs, recordsPath: ctx.recordsPath, timelineT0Ms: params.chaos ? startMs : undefined });
    control.generator = run.child;
    window.add(engine.name, run.child.pid);
    ctx.affinity[engine.name] = affinityOf(run.child.pid);
    chaos = params.chaos ? startChaos(config, params.chaos, startMs, ctx.log) : null;
    exit = await run.child.exited;
  }
  const measured = await window.close(run ? { name: engine.name, child: run.child } : null);
  chaos?.cancel();
  const chaosEvents = chaos ? await chaos.done : null;
  let summary: LoadSummary | null = null;
  let failure: string | undefined;
  if (run && exit !== null) {
    ctx.log(`reading ${engine.name}'s records and checking every answer`);
    try {
      ({ summary, failure } = await run.finish(control.interrupted ? 0 : exit));
    } catch (error) {
      failure = `${engine.name}'s output could not be read: ${(error as Error).message}`;
    }
    if (failure && !control.interrupted) ctx.log(`${failure}; the result is not complete`);
    if (summary) ctx.log(summaryLine(engine.name, summary));
  }
  return {
    ...measured, engineStartMs: startMs, summary, engineExit: exit, engineFailure: failure, interrupted: control.interrupted, gatewayName: spec.gateway(config), canary: ctx.canary,
    chaos: params.chaos && chaosEvents ? chaosReport(params.chaos, chaosEvents, summary?.timeline ?? []) : undefined,
  };
}

/** One line for the console: requests, failures by kind, latency. */
export function summaryLine(engine: string, s: LoadSummary): string {
  const ms = (v: number | null) => (v === null ? "–" : v.toFixed(1));
  const kinds = s.errors ? Object.entries(s.errors).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ") : "";
  const failed = s.requests - (s.ok_requests ?? s.requests);
  return `${engine}: ${s.requests} requests (${s.rps}/s), ${failed} failed${kinds ? ` (${kinds})` : ""}${s.dropped_iterations ? `, ${s.dropped_iterations} not sent on time` : ""}; latency p50 ${ms(s.latency_ms.p50)} / p95 ${ms(s.latency_ms.p95)} / p99 ${ms(s.latency_ms.p99)} / max ${ms(s.latency_ms.max)} ms`;
}

/** Runs one measured load run and writes its result file. Returns the path and the result. */
export async function runLoad(
  config: Config,
  params: LoadParams,
  log: (line: string) => void = console.log,
  options: {
    keepDatabase?: boolean;
    /** The report's column for this run when a comparison runs one case twice (`--cases case2,case2`). */
    column?: string;
    probe?: boolean;
    /**
     * A case this run starts stays running when the run completes: a comparison runs the same
     * target's next operating point on the same start, and stops it after that (`started` says
     * whether this run started it). A run that does not complete stops what it started, as always.
     */
    keepCase?: boolean;
    /** The run before on the same start (its file): when the case is still running, one warm-up chunk, recorded as `warmup_chunks.follows`. */
    follows?: string;
    /** How long the comparison waited for the machine before this run (src/run/canary.ts), recorded as `canary.wait`. */
    machineWait?: MachineWait | null;
    /** That wait's last canary, taken just before this run with nothing started since: the run's own. */
    canary?: Canary | null;
  } = {},
) {
  const spec = caseSpec(params.case);
  const gateway = spec.gateway(config);
  const stamp = fileStamp();
  const { runId, path } = freshResultPath(config, `${stamp}-${spec.name}-${gateway}${config.runtime === "bun" ? "" : `-${config.runtime}`}-${params.mode}`);
  const mix = mixOf(params.api);

  checkInjectCpu(spec, config, params.injectCpu);
  // No engine, no start: before PostgreSQL, the case or a result file.
  const engine = await ensureEngine(config, log);
  // A tool build started since the command began would share the cores with this run.
  pauseBuildsWhileMeasuring(config, log);
  const injectCpu = Object.keys(params.injectCpu ?? {}).length ? params.injectCpu : undefined;
  // The machine's speed (src/run/canary.ts), taken before this run starts anything (by the
  // comparison's wait, when there was one): right after a warm-up it would time the case's own
  // leftovers (a gateway's garbage collection), not the machine.
  const canary: Canary & { wait?: MachineWait } = { ...(options.canary ?? runCanary()), ...(options.machineWait ? { wait: options.machineWait } : {}) };
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
    fingerprint: await fingerprint(config, facts.postgresVersion, pin, engine),
    extra: {
      title: spec.title,
      warmup: params.warmup,
      result_path: path,
      ...(options.column ? { column: options.column } : {}),
      // A comparison's probe for its equal offered load: measured like any run, never counted.
      ...(options.probe ? { probe: true } : {}),
      ...(injectCpu ? { inject_cpu: injectCpu } : {}),
      parity: parityOf(config, spec, { startedCase: startedHere, postgresVersion: facts.postgresVersion, injectCpu }),
    },
  });
  const answers: GateAnswers = new Map();
  const engineCtx: EngineContext = { config, spec, runId, dir: join(state.runDir, runId), mix, fleetSize: facts.fleetSize, criticalCount: facts.criticalCount, expected: answers, cpus: pin?.generator };
  const recordsPath = path.replace(/\.json$/, ".records.csv.gz");
  // Every process of the case, PostgreSQL included: pinned to the case's CPUs with --pin, and
  // their affinity recorded either way (a set left narrowed by someone else shows in the result).
  const roots: Record<string, number> = Object.fromEntries(state.processes.map((p) => [p.name, p.pid]));
  const postmaster = config.db.external ? null : clusterPid(config);
  if (postmaster) roots.postgres = postmaster;
  const affinity = pin ? pinTrees(roots, pin.case) : Object.fromEntries(Object.entries(roots).map(([name, pid]) => [name, affinityOf(pid)]));
  if (pin) log(`pinned: ${engine.name} on CPU ${pin.generator}, the case (${Object.keys(roots).length} processes with their threads and children) on CPU ${pin.case}`);
  const ctx: RunContext = { config, params, spec, state, runId, engine, engineCtx, recordsPath, log, control: { generator: null, interrupted: false }, canary, pin, affinity };
  const onSignal = () => {
    ctx.control.interrupted = true;
    log(`interrupted: stopping ${engine.name}, then writing an incomplete result`);
    ctx.control.generator?.kill("SIGINT");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let kept = false;
  try {
    await passGate(ctx, sql, result, path, facts.fleetSize, answers);
    engine.prepare(engineCtx, params);
    const warmed = await warmUp(ctx, startedHere ? undefined : options.follows);
    if (warmed) result.extra.warmup_chunks = warmed;
    const { chaos, ...measured } = await measure(ctx);
    result = assembleResult(result, measured);
    result.extra.affinity = ctx.affinity;
    if (chaos) result.extra.chaos = chaos;
    if (config.db.external) result.extra.postgres_not_measured = "DATABASE_URL points at a server fleetbench does not run";
    result.finished_at = new Date().toISOString();
    writeResult(path, result);
    if (result.flags.length) log(`flags: ${result.flags.join(", ")}`);
    log(`result (${result.status}${result.extra.engine_failure ? `: ${result.extra.engine_failure}` : ""}): ${path}`);
    kept = !!options.keepCase && startedHere && result.status === "complete";
    return { path, result, started: startedHere };
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
    if (startedHere && !kept) await stopCase(config, log);
    if (startedHere && !kept && !dbWasUp && !options.keepDatabase) await clusterDown(config, log);
  }
}

export function describe(p: Pick<LoadParams, "mode" | "vus" | "duration" | "iterations" | "rate" | "api">) {
  const what = p.api ? `${p.api} only` : "mix 50/30/20";
  if (p.mode === "iterations") return `${p.iterations} requests shared by ${p.vus} VUs, ${what}`;
  if (p.mode === "rate") return `${p.rate} requests/s for ${p.duration}, ${what}`;
  return `${p.vus} VUs for ${p.duration}, ${what}`;
}
