/**
 * The steps of one measured run (load.ts runs them in order): the correctness gate, the warm-up
 * that warms until the case settles, and the measured window with every process sampled; and how
 * a run's load and its summary are said on the console.
 */
import type { caseSpec } from "./cases";
import type { Config } from "../config";
import { chaosReport, startChaos } from "./chaos";
import type { Sql } from "../db";
import { RefusedError } from "../errors";
import { type GateAnswers, runGate } from "./gate";
import type { K6Params } from "./engine/k6";
import type { Engine, EngineContext, LoadSummary } from "./engine/engine";
import type { Canary } from "./canary";
import { openWindow } from "./measure";
import { affinityOnceStarted, type PinPlan } from "./pin";
import { k6PrometheusOutput, loadgenExporter } from "../deploy/prometheus";
import { type RunResult, writeResult } from "./results";
import type { Measured } from "./run-result";
import type { SupervisorState } from "./supervisor";
import type { Child } from "../runtime";
import type { LoadParams } from "./load";

/**
 * The warm-up runs at the measured load (the same VUs, or the same arrival rate) so pools,
 * sockets and JIT reach their steady state before the window opens, not inside it.
 */
export function warmupParams(params: K6Params, warmup: string): K6Params {
  if (params.mode === "rate") return { mode: "rate", vus: params.vus, rate: params.rate, duration: warmup };
  return { mode: "duration", vus: params.vus, duration: warmup };
}

/** What a signal handler needs to reach: the engine process that runs now, and whether Ctrl-C came. */
export interface RunControl {
  generator: Child | null;
  interrupted: boolean;
}

export interface RunContext {
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
export async function passGate(ctx: RunContext, sql: Sql, result: RunResult, path: string, fleetSize: number, answers: GateAnswers) {
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
export async function warmUp(ctx: RunContext, follows?: string): Promise<{ chunks: number; levels: (number | null)[]; settled: boolean; follows?: string } | null> {
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
export async function measure(ctx: RunContext): Promise<Measured & { chaos?: unknown }> {
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
    ctx.affinity[engine.name] = await affinityOnceStarted(run.child.pid);
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

export function describe(p: Pick<LoadParams, "mode" | "vus" | "duration" | "iterations" | "rate" | "api">) {
  const what = p.api ? `${p.api} only` : "mix 50/30/20";
  if (p.mode === "iterations") return `${p.iterations} requests shared by ${p.vus} VUs, ${what}`;
  if (p.mode === "rate") return `${p.rate} requests/s for ${p.duration}, ${what}`;
  return `${p.vus} VUs for ${p.duration}, ${what}`;
}
