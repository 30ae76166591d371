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
import type { ChaosPlan } from "./chaos";
import { createSql, type Sql } from "../db";
import { RefusedError, UsageError } from "../errors";
import { fingerprint } from "./fingerprint";
import { type K6Params, durationSeconds } from "./engine/k6";
import { type EngineContext, ensureEngine } from "./engine/engine";
import type { GateAnswers } from "./gate";
import { type Canary, type MachineWait, runCanary } from "./canary";
import { parityOf } from "./parity";
import { affinityOf, pinPlan, pinTrees } from "./pin";
import { clusterDown, clusterPid } from "./pg-cluster";
import { fileStamp, freshResultPath, writeResult } from "./results";
import { assembleResult, baseResult } from "./run-result";
import { readState, sameInjection, stopCase, type SupervisorState, up } from "./supervisor";
import { pauseBuildsWhileMeasuring } from "./builds";
import { measure, passGate, type RunContext, warmUp } from "./run-steps";

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
