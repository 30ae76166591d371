/**
 * The Grafana dashboards' queries, read from grafana/dashboards/*.json and run against the live
 * Prometheus with their template variables filled in, the way Grafana would run them. The test
 * suite uses this to prove every panel has data; `obs check` prints what each panel shows.
 *
 *   bun src/main.ts obs check [RUN_ID]   every panel's query over the run (default: the newest pushed)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { prometheusUrl } from "./prometheus";
import { readResults } from "../run/results";

export const DASHBOARDS_DIR = resolve(import.meta.dirname, "..", "..", "grafana", "dashboards");

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
  legend: string;
}

/** Every target of every panel of every dashboard file. */
export function panelQueries(dir = DASHBOARDS_DIR): PanelQuery[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .flatMap((file) => {
      const dashboard = JSON.parse(readFileSync(join(dir, file), "utf8"));
      return (dashboard.panels ?? []).flatMap((panel: any) =>
        (panel.targets ?? []).map((t: any) => ({ dashboard: dashboard.title, panel: panel.title, refId: t.refId, expr: t.expr, legend: t.legendFormat ?? "" })),
      );
    });
}

/** The template variables' own queries (`label_values(selector, label)`), per dashboard. */
export function variableQueries(dir = DASHBOARDS_DIR): { dashboard: string; name: string; query: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .flatMap((file) => {
      const dashboard = JSON.parse(readFileSync(join(dir, file), "utf8"));
      return (dashboard.templating?.list ?? []).map((v: any) => ({ dashboard: dashboard.title, name: v.name, query: v.definition }));
    });
}

export interface Variables {
  case: string;
  run: string;
  /** What Grafana makes of $__rate_interval: four scrape intervals at the default zoom. */
  rateInterval: string;
}

/** Fills in template variables as Grafana does for a single selected value. */
export function substitute(expr: string, vars: Variables): string {
  const escape = (v: string) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&");
  return expr
    .replaceAll("$__rate_interval", vars.rateInterval)
    .replaceAll("$case", escape(vars.case))
    .replaceAll("$run", escape(vars.run));
}

export interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

/** /api/v1/query_range: every series the query returns between `start` and `end` (unix seconds). */
export async function queryRange(config: Config, query: string, start: number, end: number, step = 5): Promise<Series[]> {
  const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
  const response = await fetch(`${prometheusUrl(config)}/api/v1/query_range?${params}`, { signal: AbortSignal.timeout(10_000) });
  const body = await response.json();
  if (body.status !== "success") throw new Error(`Prometheus refused ${query}: ${body.error ?? response.status}`);
  return body.data.result;
}

/** The series' mean over the span, as the dashboards' legends show it ("mean"), for a one-line summary. */
export const mean = (s: Series) => {
  const numbers = s.values.map(([, v]) => Number(v)).filter(Number.isFinite);
  return numbers.reduce((a, b) => a + b, 0) / Math.max(1, numbers.length);
};

/** Runs every panel query over a run's time span and says what each returned. */
export async function checkDashboards(config: Config, vars: Variables, start: number, end: number, log: (line: string) => void = console.log) {
  const report: { query: PanelQuery; series: Series[] }[] = [];
  for (const query of panelQueries()) {
    const series = await queryRange(config, substitute(query.expr, vars), start, end);
    report.push({ query, series });
    const label = (s: Series) => query.legend.replace(/\{\{(\w+)\}\}/g, (_, k) => s.metric[k] ?? "");
    const values = series.slice(0, 8).map((s) => `${label(s).trim()}=${Number(mean(s).toPrecision(4))}`);
    log(`${query.dashboard} / ${query.panel} [${query.refId}]: ${series.length} series${values.length ? `; mean: ${values.join(", ")}${series.length > 8 ? ", …" : ""}` : ""}`);
  }
  return report;
}

/** A run's case and time span, from its result file (default: the newest result). */
export function runSpan(config: Config, runId?: string) {
  const results = readResults(config, () => {}).filter((r) => r.result.status !== "refused");
  const found = runId ? results.find((r) => r.result.run_id === runId) : results.at(-1);
  if (!found) throw new UsageError(runId ? `no result with run id "${runId}" in ${config.resultsDir}` : `no result in ${config.resultsDir}: run a load first (e.g. \`just case2 load 20 30s\`)`);
  const { result } = found;
  const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
  // The measured part: the engine starts after the gate and warm-up, so take the run's length back from the end.
  const end = seconds(result.finished_at ?? result.started_at);
  const wall = Number(result.extra?.wall_seconds ?? end - seconds(result.started_at));
  // Plus one scrape interval after the end: the last scrape lands there.
  return { runId: result.run_id, case: result.case, start: Math.max(seconds(result.started_at), Math.floor(end - wall)), end: end + 5 };
}
