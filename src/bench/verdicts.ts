/**
 * From a comparison's runs to its verdicts (DESIGN §13): per target and headline metric the
 * median, its bootstrap interval and CV; per pair of targets the ratio of medians with its
 * interval, a Mann–Whitney p-value and the verdict. Runs flagged `errors` or `unstable`, and
 * runs whose machine-speed canary is more than 10 % slower than the comparison's median
 * (`machine_slow`), are left out and listed. Pure: the same runs and seed give the same JSON.
 */
import { slowRuns } from "./canary";
import { labelOfRun } from "./cases";
import type { RunResult } from "./results";
import { componentOf, cpuMsPerRequest, inCaseTotal, okRps } from "./run-result";
import { paritySignature } from "./parity";
import { compare as comparePair, summarize } from "./stats";

/** `{a: {b: 1}}` → `{"a.b": 1}`: fingerprints compared field by field. */
export function flatten(value: unknown, prefix = ""): Record<string, unknown> {
  if (!value || typeof value !== "object" || Array.isArray(value)) return { [prefix]: value };
  return Object.assign({}, ...Object.entries(value).map(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k)));
}

/** The runs' fingerprints as one: a field's value when every run has it, else `{ varies: [the values] }`. */
export function commonFingerprint(fingerprints: Record<string, unknown>[]): Record<string, unknown> {
  const flat = fingerprints.map((f) => flatten(f ?? {}));
  const keys = [...new Set(flat.flatMap(Object.keys))].sort();
  return Object.fromEntries(keys.map((k) => {
    const seen = [...new Set(flat.map((f) => JSON.stringify(f[k] ?? null)))].map((v) => JSON.parse(v));
    return [k, seen.length === 1 ? seen[0] : { varies: seen }];
  }));
}

/** Flags that keep a run out of verdicts: its numbers do not describe the case at steady state. */
export const EXCLUDING_FLAGS = ["errors", "unstable", "machine_slow"];

export interface Metric {
  label: string;
  unit: string;
  pick: (r: RunResult) => number | null;
}

const cpu = cpuMsPerRequest;

/** The headline metrics, in the order the report states them. */
export const METRICS: Record<string, Metric> = {
  cpu_ms_total: { label: "CPU ms per request (total, without k6)", unit: "ms", pick: (r) => cpu(r, inCaseTotal) },
  cpu_ms_gateway: { label: "CPU ms per request: gateway", unit: "ms", pick: (r) => cpu(r, (p) => componentOf(p) === "gateway") },
  cpu_ms_subgraphs: { label: "CPU ms per request: subgraphs", unit: "ms", pick: (r) => cpu(r, (p) => componentOf(p) === "subgraphs") },
  cpu_ms_data_services: { label: "CPU ms per request: data services", unit: "ms", pick: (r) => cpu(r, (p) => componentOf(p) === "data services") },
  cpu_ms_postgres: { label: "CPU ms per request: PostgreSQL", unit: "ms", pick: (r) => cpu(r, (p) => p === "postgres") },
  cpu_ms_network_proxy: { label: "CPU ms per request: network proxy (Toxiproxy, --hop-latency; not in the total)", unit: "ms", pick: (r) => cpu(r, (p) => p === "toxiproxy") },
  ok_rps: { label: "throughput (successful requests/s)", unit: "req/s", pick: okRps },
  latency_p50: { label: "latency p50", unit: "ms", pick: (r) => r.summary?.latency_ms.p50 ?? null },
  latency_p99: { label: "latency p99", unit: "ms", pick: (r) => r.summary?.latency_ms.p99 ?? null },
};

/** A target of a comparison: a case through one gateway (the column of the report). */
export const targetOf = (r: RunResult) => (r.extra?.column as string | undefined) ?? labelOfRun(r);

export interface RunEntry {
  file: string;
  target: string;
  round: number;
  canary_index: number | null;
  flags: string[];
  excluded: string | null;
}

export interface Comparison {
  schema_version: 1;
  created_at: string;
  seed: number;
  params: Record<string, unknown>;
  rounds: { round: number; order: string[] }[];
  targets: string[];
  canary_median: number | null;
  /** What every run was measured on: one value per field, or `{ varies: [...] }` when the runs differ. */
  fingerprint?: Record<string, unknown>;
  /** Per target, what its processes paid for (src/bench/parity.ts's signature). */
  parity?: Record<string, string>;
  /** The metrics with no run left out, when some were: a check of the exclusions, never the verdict. */
  with_every_run?: Comparison["metrics"];
  /** What a reader must know first (the demo's Case 3 through Hive Gateway while the Router builds). */
  notes?: string[];
  runs: RunEntry[];
  metrics: Record<string, {
    label: string;
    unit: string;
    /** `values`: the usable runs' numbers the median and interval come from (a --baseline resamples them). */
    cases: Record<string, { median: number; ci: [number, number]; cv: number | null; n: number; values?: number[] } | null>;
    pairs: { a: string; b: string; ratio: number; ci: [number, number]; p_value: number; verdict: string }[];
  }>;
}

/**
 * Analyses the runs of a comparison. `runs` carry their file name and round; `targets` fixes the
 * order of the columns (the plan's order, not the shuffled one).
 */
export function analyse(
  runs: { file: string; round: number; result: RunResult }[],
  options: {
    seed: number;
    params: Record<string, unknown>;
    rounds: { round: number; order: string[] }[];
    targets: string[];
    /** Which column a run belongs to; by default its case and gateway (two identical configurations can be told apart). */
    label?: (run: { file: string; round: number; result: RunResult }) => string;
  },
): Comparison {
  const label = options.label ?? ((r: { result: RunResult }) => targetOf(r.result));
  const canaries = runs.filter((r) => typeof (r.result.extra.canary as { index?: number })?.index === "number")
    .map((r) => ({ id: r.file, index: (r.result.extra.canary as { index: number }).index }));
  const { median: canaryMedian, slow } = slowRuns(canaries);
  const entries: RunEntry[] = runs.map((r) => {
    const flags = [...r.result.flags, ...(slow.includes(r.file) ? ["machine_slow"] : [])];
    const excluding = flags.filter((f) => EXCLUDING_FLAGS.includes(f));
    return {
      file: r.file,
      target: label(r),
      round: r.round,
      canary_index: canaries.find((c) => c.id === r.file)?.index ?? null,
      flags,
      excluded: excluding.length ? excluding.join(", ") : null,
    };
  });
  const metricsOf = (counted: (i: number) => boolean) => {
    const included = (target: string) => runs.filter((r, i) => entries[i].target === target && counted(i)).map((r) => r.result);
    const metrics: Comparison["metrics"] = {};
    for (const [key, metric] of Object.entries(METRICS)) {
      const values = Object.fromEntries(options.targets.map((t) => [t, included(t).map(metric.pick).filter((v): v is number => typeof v === "number" && Number.isFinite(v))]));
      // A component absent from a target (Case 1 and 2 have no subgraphs) has no value there.
      const present = options.targets.filter((t) => values[t].length > 0);
      if (present.length === 0) continue;
      const cases = Object.fromEntries(options.targets.map((t) => [t, values[t].length ? { ...summarize(values[t], options.seed), values: values[t] } : null]));
      const pairs: Comparison["metrics"][string]["pairs"] = [];
      for (let i = 0; i < present.length; i++) {
        for (let j = i + 1; j < present.length; j++) {
          const [a, b] = [present[i], present[j]];
          if (values[a].length < 2 || values[b].length < 2) continue;
          const c = comparePair(values[a], values[b], { seed: options.seed });
          pairs.push({ a, b, ratio: c.ratio, ci: c.ci, p_value: c.p_value, verdict: c.verdict });
        }
      }
      metrics[key] = { label: metric.label, unit: metric.unit, cases, pairs };
    }
    return metrics;
  };
  const metrics = metricsOf((i) => !entries[i].excluded);

  return {
    schema_version: 1,
    created_at: new Date().toISOString(),
    seed: options.seed,
    params: options.params,
    rounds: options.rounds,
    targets: options.targets,
    canary_median: canaryMedian,
    fingerprint: commonFingerprint(runs.map((r) => r.result.fingerprint)),
    parity: Object.fromEntries(options.targets.flatMap((t) => {
      const first = runs.find((r, i) => entries[i].target === t);
      return first ? [[t, paritySignature(first.result.extra.parity)]] : [];
    })),
    runs: entries,
    metrics,
    // How much the exclusions matter: the same analysis with every run counted (only when some run was left out).
    ...(entries.some((e) => e.excluded) ? { with_every_run: metricsOf(() => true) } : {}),
  };
}
