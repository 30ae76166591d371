/**
 * From a comparison's runs to its verdicts (docs/design.md §13, §18): per target and headline metric the
 * median, its bootstrap interval and CV; per pair of targets the paired analysis by round
 * (src/stats/paired.ts), which decides, and beside it the unpaired ratio of medians with a
 * Mann–Whitney p (kept as a check and for older readers). Runs flagged `errors` or
 * `no_steady_state` are left out and listed; a round loses only the pairs of a left-out run. Runs
 * whose canary is more than 10 % slower than the median are flagged `machine_slow` and kept.
 * Pure: the same runs and seed give the same JSON.
 */
import { type MachineWait, slowRuns } from "../run/canary";
import { labelOfRun } from "../run/cases";
import type { RunResult } from "../run/results";
import { componentOf, cpuMsPerRequest, inCaseTotal, okRps } from "../run/run-result";
import { paritySignature } from "../run/parity";
import { EQUIVALENCE, LEVEL, type PairedComparison, pairedFamily, pairedMeasure } from "../stats/paired";
import { POWER } from "../stats/sizing";
import { compare as comparePair, summarize } from "../stats/stats";

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

/**
 * Flags that keep a run out of verdicts: its numbers do not describe the case at steady state.
 * `machine_slow` is not one of them any more: a slow moment of the machine is shared by the
 * targets of its round, which the paired analysis compares within the round (docs/design.md §18); it is
 * recorded and shown. `unstable` is kept for older result files; new runs say `no_steady_state`.
 */
export const EXCLUDING_FLAGS = ["errors", "unstable", "no_steady_state"];

/** What a run measures at: an arrival rate (open model) or a number of looping VUs (closed model). */
export type Phase = "rate" | "closed";
export const phaseOf = (r: RunResult): Phase => (r.mode === "rate" ? "rate" : "closed");

export interface Metric {
  label: string;
  unit: string;
  pick: (r: RunResult) => number | null;
  /**
   * The operating points the metric is read at, in order of preference: CPU per request at equal
   * offered load when the comparison has it (it depends on the rate, docs/design.md §18), else at the
   * closed model's own throughput; closed-model throughput only in the closed model.
   */
  phases: Phase[];
}

const cpu = cpuMsPerRequest;
const both: Phase[] = ["rate", "closed"];

/** The headline metrics, in the order the report states them. */
export const METRICS: Record<string, Metric> = {
  cpu_ms_total: { label: "CPU per request (total, without the load generator)", unit: "ms", pick: (r) => cpu(r, inCaseTotal), phases: both },
  // The slope of the line through a round's two operating points (src/plans/cost-split.ts), which the
  // open-model run of that round carries: what one more request costs, idle cost left out.
  cpu_ms_marginal: { label: "marginal CPU per request (beyond the fixed cost per second)", unit: "ms", pick: (r) => ((r.extra?.cost_split as { marginal_ms?: number } | undefined)?.marginal_ms ?? null), phases: ["rate"] },
  cpu_ms_gateway: { label: "CPU per request: gateway", unit: "ms", pick: (r) => cpu(r, (p) => componentOf(p) === "gateway"), phases: both },
  cpu_ms_subgraphs: { label: "CPU per request: subgraphs", unit: "ms", pick: (r) => cpu(r, (p) => componentOf(p) === "subgraphs"), phases: both },
  cpu_ms_data_services: { label: "CPU per request: data services", unit: "ms", pick: (r) => cpu(r, (p) => componentOf(p) === "data services"), phases: both },
  cpu_ms_postgres: { label: "CPU per request: PostgreSQL", unit: "ms", pick: (r) => cpu(r, (p) => p === "postgres"), phases: both },
  cpu_ms_network_proxy: { label: "CPU per request: network proxy (Toxiproxy, --hop-latency; not in the total)", unit: "ms", pick: (r) => cpu(r, (p) => p === "toxiproxy"), phases: both },
  ok_rps: { label: "successful throughput", unit: "req/s", pick: okRps, phases: ["closed", "rate"] },
  latency_p50: { label: "latency p50", unit: "ms", pick: (r) => r.summary?.latency_ms.p50 ?? null, phases: ["closed", "rate"] },
  latency_p99: { label: "latency p99", unit: "ms", pick: (r) => r.summary?.latency_ms.p99 ?? null, phases: ["closed", "rate"] },
  latency_p50_at_rate: { label: "latency p50 at equal offered load", unit: "ms", pick: (r) => r.summary?.latency_ms.p50 ?? null, phases: ["rate"] },
  latency_p99_at_rate: { label: "latency p99 at equal offered load", unit: "ms", pick: (r) => r.summary?.latency_ms.p99 ?? null, phases: ["rate"] },
};

/** What a target's name ends with when it ran under Docker Compose: a column apart from the same case run natively. */
export const COMPOSE_SUFFIX = " · compose";

/** A target of a comparison: a case through one gateway, on its platform (the column of the report). */
export const targetOf = (r: RunResult) =>
  (r.extra?.column as string | undefined) ?? `${labelOfRun(r)}${(r.fingerprint as { platform?: string } | undefined)?.platform === "compose" ? COMPOSE_SUFFIX : ""}`;

export interface RunEntry {
  file: string;
  target: string;
  round: number;
  /** Absent in comparisons written before phases: read as the run's mode. */
  phase?: Phase;
  canary_index: number | null;
  /** How long the run waited for the machine's usual speed before it started (src/run/canary.ts), when it did. */
  machine_wait?: MachineWait;
  /** The machine's steal time over the run, when recorded (per cent of all CPU time). */
  steal_pct?: number | null;
  flags: string[];
  excluded: string | null;
}

/** A pair of targets, a / b: the unpaired analysis of docs/design.md §13, and beside it the paired one (§18) that decides. */
export interface PairEntry {
  a: string;
  b: string;
  /** Unpaired: ratio of medians with its bootstrap interval and a Mann–Whitney p (a check, kept for older readers). */
  ratio: number;
  ci: [number, number];
  p_value: number;
  verdict: string;
  /** Paired by round: the verdict. Absent in comparisons written before it. */
  paired?: PairedComparison;
}

export interface Comparison {
  schema_version: 1;
  created_at: string;
  seed: number;
  params: Record<string, unknown>;
  rounds: { round: number; order: string[] }[];
  targets: string[];
  canary_median: number | null;
  /**
   * How the verdicts were reached (absent before the paired analysis). `equivalence_test` and
   * `power` are absent before the symmetric band: those comparisons' `equivalent` meant the 95 %
   * interval within [1 − δ, 1 + δ], and their rounds-needed were sized for about 50 % power.
   */
  analysis?: { method: string; equivalence: number; equivalence_test?: string; multiplicity: string; level: number; power?: number };
  /** What every run was measured on: one value per field, or `{ varies: [...] }` when the runs differ. */
  fingerprint?: Record<string, unknown>;
  /** Per target, what its processes paid for (src/run/parity.ts's signature). */
  parity?: Record<string, string>;
  /** The metrics with no run left out, when some were: a check of the exclusions, never the verdict. */
  with_every_run?: Comparison["metrics"];
  /** What a reader must know first (the demo's Case 3 through Hive Gateway while the Router builds). */
  notes?: string[];
  /** `--until-decided`: the sequential procedure, the rounds it took, why it stopped, and its pairs per metric (their verdicts replace the fixed-size ones). */
  sequential?: { method: string; rounds: number; stopped: string; metrics: Record<string, import("../stats/sequential").SequentialPair[]> };
  /** Each target's CPU per request at the equal offered rate, split into fixed and marginal cost (src/plans/cost-split.ts). */
  cost_split?: import("./cost-split").CostSplit[];
  runs: RunEntry[];
  metrics: Record<string, {
    label: string;
    unit: string;
    /** Where the metric was read: "at 40 requests/s (open model)", "at 10 VUs (closed model)". */
    operating_point?: string;
    phase?: Phase;
    /** `values`: the usable runs' numbers the median and interval come from (a --baseline resamples them). */
    cases: Record<string, { median: number; ci: [number, number]; ci_level?: number; cv: number | null; n: number; values?: number[] } | null>;
    pairs: PairEntry[];
  }>;
}

/** "at 40 requests/s (open model)" or "at 10 VUs (closed model)", from a run of that phase. */
export function operatingPoint(r: RunResult): string {
  if (r.mode === "rate") return `at ${r.params.rate} requests/s (open model)`;
  if (r.mode === "iterations") return `${r.params.iterations} requests over ${r.params.vus} VUs (closed model)`;
  return `at ${r.params.vus} VUs (closed model)`;
}

type Run = { file: string; round: number; result: RunResult };

/**
 * Analyses the runs of a comparison. `runs` carry their file name and round; `targets` fixes the
 * order of the columns (the plan's order, not the shuffled one).
 */
export function analyse(
  runs: Run[],
  options: {
    seed: number;
    params: Record<string, unknown>;
    rounds: { round: number; order: string[] }[];
    targets: string[];
    /** Which column a run belongs to; by default its case and gateway (two identical configurations can be told apart). */
    label?: (run: Run) => string;
    /** @default 0.05 (docs/design.md §18's δ) */
    equivalence?: number;
  },
): Comparison {
  const label = options.label ?? ((r: { result: RunResult }) => targetOf(r.result));
  const equivalence = options.equivalence ?? EQUIVALENCE;
  const canaries = runs.filter((r) => typeof (r.result.extra.canary as { index?: number })?.index === "number")
    .map((r) => ({ id: r.file, index: (r.result.extra.canary as { index: number }).index }));
  const { median: canaryMedian, slow } = slowRuns(canaries);
  const entries: RunEntry[] = runs.map((r) => {
    const flags = [...r.result.flags, ...(slow.includes(r.file) && !r.result.flags.includes("machine_slow") ? ["machine_slow"] : [])];
    const excluding = flags.filter((f) => EXCLUDING_FLAGS.includes(f));
    const steal = (r.result.extra.stability as { steal_pct?: number } | undefined)?.steal_pct;
    const wait = (r.result.extra.canary as { wait?: MachineWait } | undefined)?.wait;
    return {
      file: r.file,
      target: label(r),
      round: r.round,
      phase: phaseOf(r.result),
      canary_index: canaries.find((c) => c.id === r.file)?.index ?? null,
      ...(wait ? { machine_wait: wait } : {}),
      ...(typeof steal === "number" ? { steal_pct: steal } : {}),
      flags,
      excluded: excluding.length ? excluding.join(", ") : null,
    };
  });
  const phases = new Set(entries.map((e) => e.phase));
  const roundNumbers = [...new Set(runs.map((r) => r.round))].sort((x, y) => x - y);
  const metricsOf = (counted: (i: number) => boolean) => {
    const metrics: Comparison["metrics"] = {};
    for (const [key, metric] of Object.entries(METRICS)) {
      const phase = metric.phases.find((p) => phases.has(p));
      if (!phase) continue;
      // Only with both phases measured is "at equal offered load" a metric of its own.
      if (key.endsWith("_at_rate") && !(phases.has("rate") && phases.has("closed"))) continue;
      const inPhase = (i: number) => entries[i].phase === phase;
      const valueOf = (i: number) => {
        const v = metric.pick(runs[i].result);
        return typeof v === "number" && Number.isFinite(v) ? v : null;
      };
      const values = Object.fromEntries(options.targets.map((t) => [t, runs.flatMap((_, i) => (entries[i].target === t && inPhase(i) && counted(i) && valueOf(i) !== null ? [valueOf(i)!] : []))]));
      // A component absent from a target (Case 1 and 2 have no subgraphs) has no value there.
      const present = options.targets.filter((t) => values[t].length > 0);
      if (present.length === 0) continue;
      const cases = Object.fromEntries(options.targets.map((t) => [t, values[t].length ? { ...summarize(values[t], options.seed), values: values[t] } : null]));
      // Per round, per target: its value, or why there is none.
      const inRound = (t: string, round: number): { value: number | null; why?: string } => {
        const i = runs.findIndex((r, j) => entries[j].target === t && r.round === round && inPhase(j));
        if (i < 0) return { value: null, why: `${t} has no run in round ${round}` };
        if (!counted(i)) return { value: null, why: `${t}'s run ${entries[i].file} is left out (${entries[i].excluded})` };
        const v = valueOf(i);
        return v === null ? { value: null, why: `${t}'s run ${entries[i].file} has no value` } : { value: v };
      };
      const raw: { a: string; b: string; paired: PairedComparison; unpaired: ReturnType<typeof comparePair> | null }[] = [];
      for (let i = 0; i < present.length; i++) {
        for (let j = i + 1; j < present.length; j++) {
          const [a, b] = [present[i], present[j]];
          const paired = pairedMeasure({
            rounds: roundNumbers.map((round) => {
              const [x, y] = [inRound(a, round), inRound(b, round)];
              return { round, a: x.value, b: y.value, whyA: x.why, whyB: y.why };
            }),
          }, { equivalence });
          // The unpaired check needs two values a side and a positive denominator; it never throws here.
          const unpaired = values[a].length >= 2 && values[b].length >= 2 && values[b].every((v) => v > 0) ? comparePair(values[a], values[b], { seed: options.seed }) : null;
          raw.push({ a, b, paired, unpaired });
        }
      }
      const family = pairedFamily(raw.map((r) => r.paired), { equivalence });
      const pairs: PairEntry[] = raw.map((r, i) => ({
        a: r.a,
        b: r.b,
        ratio: r.unpaired?.ratio ?? Number.NaN,
        ci: r.unpaired?.ci ?? [Number.NaN, Number.NaN],
        p_value: r.unpaired?.p_value ?? 1,
        verdict: r.unpaired?.verdict ?? "no clear difference",
        paired: family[i],
      }));
      const first = runs.find((_, i) => inPhase(i));
      metrics[key] = { label: metric.label, unit: metric.unit, phase, operating_point: first ? operatingPoint(first.result) : undefined, cases, pairs };
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
    analysis: {
      method: "paired by round: geometric mean of the per-round ratios, Student's t on their logs (sign-flip permutation p beside it from 6 rounds)",
      equivalence,
      equivalence_test: `two one-sided t-tests at ${Math.round((1 - LEVEL) * 100)} % each, band ±log(1 + ${equivalence}) on the log ratio`,
      multiplicity: "Holm's step-down within each metric, over both hypotheses of every pair (divisor at most the number of pairs: Shaffer)",
      level: LEVEL,
      power: POWER,
    },
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
