/**
 * The load engine of a run (docs/design.md §22), one interface for both: vegeta, the default
 * everywhere (built here from its Go module, or PATH's at the pinned version), and k6 when the
 * user brings one (`--engine k6` or FLEET_ENGINE=k6: PATH's k6 at the pinned version, never built
 * or fetched by fleetbench). A run prepares its requests, warms up (not counted), then measures:
 * the engine's process is sampled like every other, and what it recorded becomes the summary.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CaseSpec } from "../cases";
import type { Config, EngineName } from "../../config";
import { UsageError } from "../../errors";
import { type Child, which } from "../../runtime";
import { ensureTools, K6_VERSION, k6Binary, k6OnPath, toolSource, VEGETA_VERSION, vegetaBinary } from "../tools";
import { durationSeconds, type K6Params, type K6Summary, k6Args, k6Env, k6Timeline, parseSummary, requestSpec, spawnK6, windowCount, windowSecondsFor } from "./k6";
import { type RecordSummary, summarize, writeRecords } from "./records";
import { attackArgs, readVegeta, spawnVegeta, writeTargets } from "./vegeta";

export type LoadSummary = K6Summary & Partial<Pick<RecordSummary, "unsent" | "late" | "errors" | "histogram" | "timeline" | "window_histograms">>;

/** The processes' name of the load generator, by engine: a result's resources list it under it. */
export const GENERATORS: readonly string[] = ["vegeta", "k6"];

export interface EngineContext {
  config: Config;
  spec: CaseSpec;
  runId: string;
  /** The run's folder (its request files, the engine's raw output until it is read). */
  dir: string;
  mix: Record<string, number>;
  fleetSize: number;
  criticalCount: number;
  /** The gate's answers (answer key → body in base64): what every response is checked against. */
  expected: ReadonlyMap<string, string>;
  /** CPUs the engine may use (--pin). */
  cpus?: string;
}

export interface MeasureOptions {
  /** Where the kept records go (beside the result); none for k6, which keeps no records. */
  recordsPath: string;
  /** Errors per second counted from this clock (fault-injection runs). */
  timelineT0Ms?: number;
  /** The engine's Prometheus exporter address, when a Prometheus answers (vegeta). */
  prometheusAddr?: string;
  /** k6's remote-write arguments and environment, when a Prometheus answers (k6). */
  push?: { args: string[]; env: Record<string, string> };
}

export interface MeasuredRun {
  child: Child;
  /** After the engine exited: its summary, or why there is none. */
  finish(exitCode: number): Promise<{ summary: LoadSummary | null; recordsPath?: string; failure?: string }>;
}

export interface Engine {
  name: EngineName;
  version: string;
  /** The binary that runs, or null when there is none yet. */
  binary(config: Config): string | null;
  /** Where the binary comes from (PATH or the tools cache). */
  source(config: Config): string;
  /** Writes what the engine reads (targets, request spec) once per run. */
  prepare(ctx: EngineContext, shape: K6Params): void;
  /**
   * The warm-up: the same load, not counted; rejects when the engine failed. With `settle`, its
   * answers are read back afterwards (vegeta) and `done` gives the chunk's level: completed
   * requests per second (closed model) or median latency in ms (open model).
   */
  warmUp(ctx: EngineContext, shape: K6Params, settle?: boolean): Promise<{ child: Child; done: Promise<number | null> }>;
  measure(ctx: EngineContext, shape: K6Params, o: MeasureOptions): MeasuredRun;
}

const stderrOf = async (child: Child) => (child.stderr ? (await new Response(child.stderr).text()).trim() : "");

const vegeta: Engine = {
  name: "vegeta",
  version: VEGETA_VERSION,
  binary: (config) => (existsSync(vegetaBinary(config)) ? vegetaBinary(config) : null),
  source: (config) => toolSource(config, vegetaBinary(config)),
  prepare(ctx, shape) {
    mkdirSync(ctx.dir, { recursive: true });
    writeTargets(join(ctx.dir, "targets.jsonl"), ctx.spec, ctx.config, shape, ctx.mix, ctx.fleetSize);
  },
  async warmUp(ctx, shape, settle) {
    const bin = vegetaBinary(ctx.config);
    const raw = join(ctx.dir, "warmup.bin");
    const args = attackArgs(bin, shape, join(ctx.dir, "targets.jsonl"), settle ? raw : "/dev/null", { timeoutMs: ctx.config.timeoutMs * 3, keepBodies: false });
    const child = spawnVegeta(ctx.config, args, ctx.cpus);
    const done = child.exited.then(async (code) => {
      if (code !== 0 && code !== 130 && code !== 143) throw new Error(`the warm-up's vegeta failed (exit ${code}): ${await stderrOf(child)}`);
      if (!settle || code !== 0 || !existsSync(raw)) return null;
      // The chunk's level, every answer counted (bodies are not kept in a warm-up: nothing is checked).
      const { records } = await readVegeta(bin, raw, () => "ok");
      rmSync(raw, { force: true });
      return warmLevel(records, shape);
    });
    return { child, done };
  },
  measure(ctx, shape, o) {
    const raw = join(ctx.dir, "vegeta.bin");
    const bin = vegetaBinary(ctx.config);
    // Bodies are kept in the raw output and checked after the window, so the generator only
    // stores them while the case is measured; the raw file goes once its records are read.
    const args = attackArgs(bin, shape, join(ctx.dir, "targets.jsonl"), raw, { timeoutMs: ctx.config.timeoutMs * 3, keepBodies: true, prometheusAddr: o.prometheusAddr });
    const child = spawnVegeta(ctx.config, args, ctx.cpus);
    return {
      child,
      async finish(code) {
        const failure = code !== 0 ? `vegeta exited with code ${code}: ${(await stderrOf(child)).split("\n").slice(-3).join(" ") || "no message"}` : undefined;
        if (!existsSync(raw)) return { summary: null, failure: failure ?? "vegeta wrote no records" };
        const { records, startMs } = await readVegeta(bin, raw, ctx.expected);
        const windows = windowCount(shape);
        const summary = summarize(records, {
          mode: shape.mode,
          windowSeconds: windowSecondsFor(shape),
          windows: shape.mode === "iterations" ? 0 : windows,
          rate: shape.mode === "rate" ? shape.rate : undefined,
          durationS: shape.duration ? durationSeconds(shape.duration) : undefined,
          startMs,
          timelineT0Ms: o.timelineT0Ms,
        });
        mkdirSync(dirname(o.recordsPath), { recursive: true });
        await writeRecords(o.recordsPath, records);
        rmSync(raw, { force: true });
        return { summary, recordsPath: o.recordsPath, failure };
      },
    };
  },
};

/**
 * A warm-up chunk's level: answered requests per second from the first send to the last answer
 * (closed model), or the median latency in ms (open model, where the rate is pinned).
 */
export function warmLevel(records: { sent_ms: number; latency_ms: number; code: number }[], shape: Pick<K6Params, "mode">): number | null {
  const answered = records.filter((r) => r.code > 0);
  if (!answered.length) return null;
  if (shape.mode === "rate") {
    const sorted = answered.map((r) => r.latency_ms).sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  }
  const span = Math.max(...answered.map((r) => r.sent_ms + r.latency_ms)) / 1000;
  return span > 0 ? answered.length / span : null;
}


const k6: Engine = {
  name: "k6",
  version: K6_VERSION,
  binary: () => k6Binary(),
  source: () => "PATH",
  prepare(ctx) {
    mkdirSync(ctx.dir, { recursive: true });
    writeFileSync(join(ctx.dir, "k6-spec.json"), JSON.stringify(requestSpec(ctx.spec, ctx.config, ctx.runId, ctx.mix, ctx.fleetSize, ctx.criticalCount), null, 2));
  },
  async warmUp(ctx, shape) {
    const child = spawnK6(ctx.config, k6Args(k6Binary()!), k6Env(shape, join(ctx.dir, "k6-spec.json")), "quiet", ctx.cpus);
    // k6's warm-up is one chunk: its answers are not read back.
    const done = child.exited.then(async (code) => {
      if (code !== 0 && code !== 130 && code !== 143) throw new Error(`the warm-up's k6 failed (exit ${code}): ${await stderrOf(child)}`);
      return null;
    });
    return { child, done };
  },
  measure(ctx, shape, o) {
    const summaryPath = join(ctx.dir, "k6-summary.json");
    const windows = windowCount(shape);
    const timeline: Record<string, string> = o.timelineT0Ms !== undefined ? { FLEET_TIMELINE_SECONDS: String(Math.ceil(durationSeconds(shape.duration ?? "0s")) + 35), FLEET_T0: String(o.timelineT0Ms) } : {};
    const child = spawnK6(ctx.config, k6Args(k6Binary()!, true, o.push?.args ?? []), { ...k6Env(shape, join(ctx.dir, "k6-spec.json"), windows, summaryPath), ...timeline, ...(o.push?.env ?? {}) }, "inherit", ctx.cpus);
    return {
      child,
      async finish(code) {
        const failure = code !== 0 ? `k6 exited with code ${code}` : undefined;
        try {
          const summary: LoadSummary = parseSummary(summaryPath, windows, windowSecondsFor(shape));
          if (o.timelineT0Ms !== undefined) summary.timeline = k6Timeline(summaryPath);
          return { summary, failure };
        } catch {
          return { summary: null, failure: failure ?? "k6 wrote no summary" };
        }
      },
    };
  },
};

export const ENGINE_TABLE: Record<EngineName, Engine> = { vegeta, k6 };

export const engineOf = (config: Config): Engine => ENGINE_TABLE[config.engine];

/**
 * Makes sure the engine can run before anything starts (no PostgreSQL, no case, no result file
 * when it cannot): vegeta is built into the tools cache when missing (Go needed, under a minute);
 * k6 must be on PATH at the pinned version. Throws a one-line UsageError otherwise.
 */
export async function ensureEngine(config: Config, log: (line: string) => void = console.log): Promise<Engine> {
  const engine = engineOf(config);
  if (engine.binary(config)) return engine;
  if (engine.name === "k6") {
    const found = k6OnPath();
    throw new UsageError(found
      ? `--engine k6: the k6 on PATH (${found.path}) is ${found.version || "of an unknown version"}, not v${K6_VERSION}; fleetbench runs only the pinned k6 and never builds or downloads one (the Nix shell has it), or use the default engine, vegeta`
      : `--engine k6: no k6 on PATH; fleetbench never builds or downloads k6 (the Nix shell has v${K6_VERSION}); bring one, or use the default engine, vegeta`);
  }
  if (!which("go")) {
    throw new UsageError(`the load engine vegeta ${VEGETA_VERSION} is not built and cannot be: Go is not on PATH (Go 1.22 or newer builds it in under a minute; or put vegeta ${VEGETA_VERSION} on PATH); nothing was started`);
  }
  await ensureTools(config, ["vegeta"], log);
  return engine;
}
