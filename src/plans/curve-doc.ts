/**
 * A curve document (docs/design.md §14): every measured run of a capacity search or a sweep as a point,
 * the searches and the capacities found over the rounds. src/plans/curves.ts measures it, src/curve-
 * report.ts draws it; results/capacity-*.json and results/sweep-*.json hold it.
 */
import { basename, join } from "node:path";
import type { Search, Slo } from "./capacity";
import type { Config } from "../config";
import { fileStamp, type RunResult, writeAtomic } from "../run/results";
import { componentOf, cpuMsPerRequest, inCaseTotal, okRps } from "../run/run-result";
import { summarize } from "../stats/stats";

/** The components a CPU curve is drawn for (the load generator is not the target). */
export const CURVE_COMPONENTS = ["gateway", "subgraphs", "data services", "postgres", "network proxy"];

/** One measured run as a point of a curve. */
export interface Point {
  target: string;
  /** The x of the point: the offered rate (requests/s) or the fleet size. */
  x: number;
  round: number;
  file: string;
  status: string;
  flags: string[];
  /** For a capacity step: whether it met the SLO. */
  meets?: boolean;
  ok_rps: number | null;
  error_rate: number | null;
  dropped: number | null;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null } | null;
  /** CPU ms per request: total (without the load generator) and per component. */
  cpu_ms: Record<string, number | null>;
  /** Requests the data services and subgraphs received per client request, summed, and per process. */
  calls: number | null;
  calls_by_process: Record<string, number>;
  /** md5 of the data the point was measured on (a fleet sweep reseeds for every size). */
  content_hash?: string;
}

export interface CurveDoc {
  schema_version: 1;
  kind: "capacity" | "sweep";
  /** What x is. */
  axis: "rate" | "fleet";
  created_at: string;
  seed: number;
  params: Record<string, unknown>;
  targets: string[];
  /** Each round's shuffled order of the targets (in a sweep, per x). */
  rounds: { round: number; order: string[]; x?: number }[];
  slo?: Slo;
  /** Capacity searches: one per target and round (per fleet size in a fleet sweep with --capacity). */
  searches?: (Search & { round: number; x?: number })[];
  /** Per target (and fleet size), the capacities found over the rounds: median and interval. */
  capacities?: { target: string; x?: number; median: number | null; ci: [number, number] | null; n: number; values: (number | null)[] }[];
  points: Point[];
  fingerprint?: Record<string, unknown>;
  notes?: string[];
}

export function pointOf(target: string, x: number, round: number, path: string, result: RunResult, extra: Partial<Point> = {}): Point {
  const s = result.summary;
  const internal = Object.entries(result.calls_per_request).filter(([p]) => componentOf(p) !== "gateway");
  return {
    target, x, round, file: basename(path), status: result.status, flags: result.flags,
    ok_rps: okRps(result), error_rate: s?.error_rate ?? null, dropped: s?.dropped_iterations ?? null,
    latency_ms: s ? { p50: s.latency_ms.p50, p95: s.latency_ms.p95, p99: s.latency_ms.p99 } : null,
    cpu_ms: {
      total: cpuMsPerRequest(result, inCaseTotal),
      ...Object.fromEntries(CURVE_COMPONENTS.map((c) => [c, cpuMsPerRequest(result, (p) => componentOf(p) === c)])),
    },
    calls: internal.length ? internal.reduce((sum, [, n]) => sum + n, 0) : null,
    calls_by_process: Object.fromEntries(internal),
    ...extra,
  };
}

/** Capacities over rounds per target (and x): median with its bootstrap interval when there are 2 or more. */
export function capacitiesOf(searches: NonNullable<CurveDoc["searches"]>, seed: number): NonNullable<CurveDoc["capacities"]> {
  const keys = [...new Map(searches.map((s) => [`${s.target}|${s.x ?? ""}`, { target: s.target, x: s.x }])).values()];
  return keys.map(({ target, x }) => {
    const values = searches.filter((s) => s.target === target && s.x === x).map((s) => s.capacity);
    const found = values.filter((v): v is number => v !== null);
    const summary = found.length ? summarize(found, seed) : null;
    return { target, ...(x !== undefined ? { x } : {}), median: summary?.median ?? null, ci: found.length > 1 ? summary!.ci : null, n: found.length, values };
  });
}

/** Writes a curve document as results/<kind>-<time>.json. */
export function writeCurve(config: Config, doc: CurveDoc): string {
  const path = join(config.resultsDir, `${doc.kind === "capacity" ? "capacity" : `sweep-${doc.axis}`}-${fileStamp()}.json`);
  writeAtomic(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}
