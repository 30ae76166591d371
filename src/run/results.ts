/**
 * Result files (docs/design.md §8): one JSON file per run under results/, never overwritten, written
 * atomically (temporary file, then rename) so a reader never sees half a file.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config";

export const SCHEMA_VERSION = 1;

export interface Latency {
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface RunResult {
  schema_version: number;
  run_id: string;
  case: string;
  gateway: string | null;
  /** What ran the TypeScript roles: "bun" or "deno" (absent from files written before Deno: Bun). */
  runtime?: string;
  mode: "duration" | "iterations" | "rate";
  params: { vus: number | null; duration: string | null; iterations: number | null; rate: number | null; fleet_size: number; mix: Record<string, number> };
  started_at: string;
  finished_at: string | null;
  status: "complete" | "incomplete" | "refused";
  /**
   * `ok_rps` (successful requests only) and `window_seconds` are absent from files written before them;
   * `ok_requests` (what per-request costs are divided by), `unsent`, `late` and `errors` by kind come from
   * vegeta's records and are absent from a user-brought k6's results.
   */
  summary: {
    requests: number; rps: number; ok_rps?: number; error_rate: number; dropped_iterations: number; latency_ms: Latency; window_seconds?: number;
    ok_requests?: number; unsent?: number; late?: number; errors?: { status: number; body: number; transport: number };
  } | null;
  calls_per_request: Record<string, number>;
  /** `peak_pss_bytes` is absent from files written before it (their PostgreSQL `peak_rss_bytes` was PSS). */
  resources: Record<string, { cpu_seconds: number; peak_rss_bytes: number; peak_pss_bytes?: number; cpu_ms_per_request: number | null }>;
  flags: string[];
  fingerprint: Record<string, unknown>;
  extra: Record<string, unknown>;
}

/** "20261122T053524Z": a moment in UTC as results' file names carry it (sortable, no separators). */
export const fileStamp = (at: Date = new Date()) => at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

/** Writes `data` to `path` atomically. */
export function writeAtomic(path: string, data: string) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** A results path for `runId` that no earlier run used. */
export function freshResultPath(config: Config, runId: string): { runId: string; path: string } {
  mkdirSync(config.resultsDir, { recursive: true });
  for (let n = 1; ; n++) {
    const id = n === 1 ? runId : `${runId}-${n}`;
    const path = join(config.resultsDir, `${id}.json`);
    if (!existsSync(path)) return { runId: id, path };
  }
}

export function writeResult(path: string, result: RunResult) {
  writeAtomic(path, `${JSON.stringify(result, null, 2)}\n`);
}

/** Every result file in the results folder, oldest first; files that do not parse are skipped with a warning. */
export function readResults(config: Config, warn: (line: string) => void = console.warn): { path: string; result: RunResult }[] {
  if (!existsSync(config.resultsDir)) return [];
  const found: { path: string; result: RunResult }[] = [];
  // Other files live beside the runs (compare lists, driver benchmarks): only run results are read.
  for (const file of readdirSync(config.resultsDir).filter((f) => f.endsWith(".json") && !/^(compare|driver-bench|report)-/.test(f)).sort()) {
    const path = join(config.resultsDir, file);
    try {
      const result = JSON.parse(readFileSync(path, "utf8")) as RunResult;
      if (result.schema_version !== SCHEMA_VERSION) throw new Error(`schema_version ${result.schema_version}`);
      found.push({ path, result });
    } catch (error) {
      warn(`skipping ${path}: not a fleetbench result (${(error as Error).message})`);
    }
  }
  return found.sort((a, b) => a.result.started_at.localeCompare(b.result.started_at));
}
