/**
 * A Kubernetes run's result (docs/design.md §17, §22). What the client saw: with vegeta, from the
 * pods' records merged (src/deploy/k8s.ts); with a user-brought k6, from what its runners pushed
 * to Prometheus (remote write, trends as native histograms: k6-operator does not merge the
 * runners' summaries). What the cluster spent: from what Prometheus scraped (the services'
 * `http_requests_total`, the cluster's cAdvisor container metrics). The queries are strings and
 * the answers are parsed by pure functions, so both are tested without a cluster; the same result
 * format as a native run comes out (src/run/run-result.ts assembleResult).
 */
import { API_NAMES } from "../run/cases";
import type { LoadSummary } from "../run/engine/engine";
import type { ProcessUsage } from "../run/resources";
import { assembleResult, type Measured, SATURATION } from "../run/run-result";
import type { RunResult } from "../run/results";

/** One answer of Prometheus' /api/v1/query: a vector (instant) or a matrix (range selector). */
export interface PromAnswer {
  status: "success" | "error";
  error?: string;
  data?: { resultType: "vector" | "matrix" | "scalar" | "string"; result: any[] };
}

export const QUANTILES = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99, max: 1 } as const;
type Quantile = keyof typeof QUANTILES;

/** One query per quantile, named `latency_<q><suffix>`. */
const perQuantile = <S extends string>(suffix: S, query: (q: number) => string) =>
  Object.fromEntries(Object.entries(QUANTILES).map(([name, q]) => [`latency_${name}${suffix}`, query(q)])) as Record<`latency_${Quantile}${S}`, string>;

/**
 * Every query of a run, evaluated at the end of the window with a range of `seconds` (the window
 * from the TestRun's creation to the last sample). k6 series exist only in their run (tag `run`)
 * and start at zero, so their last value is the run's total; the services' and containers'
 * counters run across runs, so they are read as raw samples and their increase is summed here
 * without Prometheus' extrapolation (a call count must come out whole).
 */
export function runQueries(namespace: string, runId: string, seconds: number, sinceScrape = seconds) {
  const r = `[${Math.ceil(seconds)}s]`;
  // From the samples taken just before the run (vegeta's path waits for them), to the millisecond.
  const fromScrape = `[${Math.floor(sinceScrape * 1000)}ms]`;
  const run = `run="${runId}"`;
  const ns = `namespace="${namespace}"`;
  const last = (selector: string) => `last_over_time(${selector}${r})`;
  const latency = `${last(`k6_http_req_duration_seconds{${run},measured="yes"}`)}`;
  return {
    requests: `sum(${last(`k6_iterations_total{${run}}`)})`,
    failed: `sum(${last(`k6_fleet_failed_total{${run}}`)})`,
    failed_by_api: `sum by (api) (${last(`k6_fleet_failed_total{${run}}`)})`,
    requests_by_api: `sum by (api) (${last(`k6_http_reqs_total{${run},measured="yes"}`)})`,
    dropped: `sum(${last(`k6_dropped_iterations_total{${run}}`)})`,
    runners: `count(count by (instance_id) (${last(`k6_iterations_total{${run}}`)}))`,
    // Native histograms: summing them merges the runners' (and the APIs') buckets, then the quantile.
    ...perQuantile("", (q) => `histogram_quantile(${q}, sum(${latency}))`),
    ...perQuantile("_by_api", (q) => `histogram_quantile(${q}, sum by (api) (${latency}))`),
    calls: `http_requests_total{${ns},route!~"/metrics|/health"}${fromScrape}`,
    cpu: `container_cpu_usage_seconds_total{${ns},container!="",container!="POD"}${fromScrape}`,
    rss: `sum by (container) (max_over_time(container_memory_rss{${ns},container!="",container!="POD"}${r}))`,
    // Memory held at one moment by the case (not the load generator): the peak of the sum, as natively.
    rss_total: `max_over_time(sum(container_memory_rss{${ns},container!="",container!="POD",container!~"k6|vegeta"})${r.slice(0, -1)}:15s])`,
  };
}

export type RunQueries = ReturnType<typeof runQueries>;

function result(answer: PromAnswer, type: "vector" | "matrix"): any[] {
  if (answer.status !== "success") throw new Error(`Prometheus answered ${answer.status}: ${answer.error ?? "no reason given"}`);
  if (answer.data?.resultType !== type) throw new Error(`Prometheus answered a ${answer.data?.resultType}, expected a ${type}`);
  return answer.data.result;
}

/** A vector's values by one label (or the single value under ""); NaN, and series without the label, left out. */
export function vectorBy(answer: PromAnswer, label?: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of result(answer, "vector")) {
    const value = Number(s.value[1]);
    const key = label ? s.metric[label] : "";
    if (Number.isFinite(value) && key !== undefined) out[key] = value;
  }
  return out;
}

const scalar = (answer: PromAnswer): number | null => vectorBy(answer)[""] ?? null;

/** A counter's increase over its samples: resets (a restarted pod) start again from zero, nothing extrapolated. */
export function counterIncrease(values: [number, string][]): number {
  let total = 0;
  for (let i = 1; i < values.length; i++) {
    const [prev, cur] = [Number(values[i - 1][1]), Number(values[i][1])];
    total += cur >= prev ? cur - prev : cur;
  }
  return total;
}

/** The increase of every series of a matrix, summed by one label: over replicas, routes and statuses. */
export function increaseBy(answer: PromAnswer, label: string, fromZero: (key: string) => boolean = () => false): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of result(answer, "matrix")) {
    const key = s.metric[label];
    // A series that starts inside the window from zero (a container the run made) counts its first sample too.
    if (key) out[key] = (out[key] ?? 0) + counterIncrease(fromZero(key) && s.values.length ? [[s.values[0][0], "0"], ...s.values] : s.values);
  }
  return out;
}

const ms = (seconds: number | null | undefined) => (typeof seconds === "number" && Number.isFinite(seconds) ? Math.round(seconds * 1e6) / 1000 : null);

/** The queries of what the cluster spent (calls, CPU, memory): every engine's run needs them. */
export const CLUSTER_QUERIES = ["calls", "cpu", "rss", "rss_total"] as const;

/**
 * What the run measured, from the answers to runQueries (one per key); with `summary` (vegeta's
 * merged records), what the client saw comes from there, and only CLUSTER_QUERIES need answers.
 */
export function measuredFromPrometheus(
  answers: Record<keyof RunQueries, PromAnswer>,
  run: { seconds: number; wallSeconds: number; gateway: string; engineExit: number | null; summary?: LoadSummary | null; engineFailure?: string },
): Measured {
  const usage = usageFromPrometheus(answers);
  const cluster = { interrupted: false, wallSeconds: run.wallSeconds, received: increaseBy(answers.calls, "service"), gatewayName: run.gateway, usage, memory: [], engineExit: run.engineExit, engineFailure: run.engineFailure };
  if (run.summary !== undefined) return { summary: run.summary, ...cluster };
  const requests = scalar(answers.requests) ?? 0;
  const failed = scalar(answers.failed) ?? 0;
  const rate = run.seconds > 0 ? requests / run.seconds : 0;
  const byApi = (name: Quantile) => vectorBy(answers[`latency_${name}_by_api`], "api");
  const failedByApi = vectorBy(answers.failed_by_api, "api");
  const requestsByApi = vectorBy(answers.requests_by_api, "api");
  const summary: LoadSummary = {
    requests,
    rps: Math.round(rate * 100) / 100,
    ok_rps: run.seconds > 0 ? Math.round(((requests - failed) / run.seconds) * 100) / 100 : 0,
    error_rate: requests ? failed / requests : 0,
    dropped_iterations: scalar(answers.dropped) ?? 0,
    latency_ms: Object.fromEntries((Object.keys(QUANTILES) as Quantile[]).map((q) => [q, ms(scalar(answers[`latency_${q}`]))])) as LoadSummary["latency_ms"],
    per_api: Object.fromEntries(
      API_NAMES.filter((api) => requestsByApi[api]).map((api) => [api, {
        p50: ms(byApi("p50")[api]), p95: ms(byApi("p95")[api]), p99: ms(byApi("p99")[api]),
        error_rate: (failedByApi[api] ?? 0) / requestsByApi[api],
      }]),
    ),
    window_seconds: 0,
    windows: null,
  };
  return { summary: requests ? summary : null, ...cluster };
}

/** CPU and memory per container (cAdvisor, summed over replicas and pods of one container name). */
function usageFromPrometheus(answers: Pick<Record<keyof RunQueries, PromAnswer>, "cpu" | "rss">): Record<string, ProcessUsage> {
  // The load's containers start with the run: everything they used counts, their first sample included
  // (cAdvisor may see a new container only seconds after it starts).
  const cpu = increaseBy(answers.cpu, "container", (name) => name === "vegeta" || name === "k6");
  const rss = vectorBy(answers.rss, "container");
  // cAdvisor has no PSS: the PSS field holds the RSS too, and extra.memory says so.
  return Object.fromEntries(
    Object.keys({ ...cpu, ...rss }).map((name) => [name, { cpu_seconds: cpu[name] ?? 0, peak_rss_bytes: rss[name] ?? 0, peak_pss_bytes: rss[name] ?? 0 }]),
  );
}

/**
 * The result: assembleResult's, with what differs on Kubernetes put right. The load generator's
 * CPU is the sum over P pods of one CPU each, so saturation is judged per pod; memory is container
 * RSS (cAdvisor) and its total the peak of the sum over the case's containers.
 */
export function k8sResult(base: RunResult, m: Measured, answers: Pick<Record<keyof RunQueries, PromAnswer>, "rss_total"> & Partial<Record<keyof RunQueries, PromAnswer>>, parallelism: number, engine: "vegeta" | "k6" = "k6"): RunResult {
  const result = assembleResult(base, m);
  const share = (m.usage[engine]?.cpu_seconds ?? 0) / Math.max(m.wallSeconds * parallelism, 1e-9);
  result.extra.generator_cpu_share = Math.round(share * 100) / 100;
  result.flags = result.flags.filter((f) => f !== "generator_saturated");
  if (share > SATURATION) result.flags.push("generator_saturated");
  result.extra.memory = { measure: "RSS (cAdvisor container_memory_rss; peak_pss_bytes holds it too)", peak_total_bytes: scalar(answers.rss_total) };
  result.extra.memory_timeline = [];
  // The pods start apart (scheduling, image pulls): their windows are not one clock's.
  result.extra.stability = { not_measured: "on Kubernetes the load pods start at different moments, so their windows are not merged" };
  result.flags = result.flags.filter((f) => f !== "no_steady_state");
  result.extra.latency_source = engine === "k6"
    ? `Prometheus native histograms pushed by ${answers.runners ? scalar(answers.runners) ?? 0 : 0} k6 runner(s), merged; each percentile within one bucket, max the top of the highest bucket`
    : `the records of ${parallelism} vegeta pod(s), merged (HdrHistogram, 3 significant digits)`;
  return result;
}
