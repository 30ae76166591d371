/**
 * The side-by-side report (docs/design.md §8): a Markdown table and one self-contained HTML page with
 * charts (Chart.js inlined, so it opens with no network), built from result files.
 *
 *   bun src/main.ts report [RESULT.json ...]   default: the newest comparison, else the newest run per case
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { labelOfRun } from "../run/cases";
import type { Config } from "../config";
import { type Column, differences, engineOfRun, fingerprintTable, flagNotes, parityTable, runtimeOfRun, toolOf } from "./report-context";
import { fileStamp, type RunResult, readResults, writeAtomic } from "../run/results";
import { COMPONENTS, componentOf, cpuMsPerRequest, inCaseTotal, okRps } from "../run/run-result";
import { median } from "../stats/stats";
import { escape, EVERY_RUN_INTRO, everyRunLines, headlineSentences, intervals, parametersLine, roundsTable, summaryTable, UNPAIRED_INTRO, unpairedLines, verdictLines, verdictMarkdown, verdictMatrix, firstScreenMarkdown } from "./report-verdicts";
import { type Comparison, operatingPoint, targetOf } from "../plans/verdicts";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** One column of the report: a case (with its gateway) and its runs (several when repeated). */

/** Median of a metric over a column's runs, and its spread (max - min) when repeated. */
export function stat(column: Column, pick: (r: RunResult) => number | null | undefined) {
  const values = column.runs.map(pick).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (!values.length) return null;
  return { median: median(values), spread: Math.max(...values) - Math.min(...values), n: values.length };
}

export function columnLabel(r: RunResult): string {
  if (typeof r.extra?.column === "string") return r.extra.column;
  // A gateway built from the tools cache carries its version in the label (Apollo Router's).
  return `${labelOfRun(r)} ${toolOf(r)?.version ?? ""}`.trim();
}

/** Groups results into columns by case and gateway, in case order. */
export function toColumns(results: RunResult[]): Column[] {
  const columns = new Map<string, Column>();
  for (const r of results.filter((r) => r.status === "complete")) {
    const key = typeof r.extra?.column === "string" ? `${labelOfRun(r)}/${r.extra.column}` : labelOfRun(r);
    if (!columns.has(key)) columns.set(key, { label: columnLabel(r), runs: [] });
    columns.get(key)!.runs.push(r);
  }
  return [...columns.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, c]) => c);
}

/** Peak memory of a process as PSS; older files have only `peak_rss_bytes`. */
const pss = (u: RunResult["resources"][string]) => u.peak_pss_bytes ?? u.peak_rss_bytes;
type Stability = { drift: number | null; cv: number } | undefined;
const stabilityOf = (r: RunResult) => (r.extra?.stability as Stability)?.cv === undefined ? undefined : (r.extra.stability as Stability);
type Memory = { peak_total_bytes: number; peak_by_component_bytes: Record<string, number> } | undefined;

const fmt = (s: ReturnType<typeof stat>, digits = 1, unit = "") =>
  s === null ? "–" : `${s.median.toFixed(digits)}${unit}${s.n > 1 ? ` ±${(s.spread / 2).toFixed(digits)}` : ""}`;
const mib = (bytes: number) => bytes / 1048576;

function processNames(columns: Column[]) {
  const names = new Set<string>();
  for (const c of columns) for (const r of c.runs) for (const p of Object.keys(r.resources)) names.add(p);
  const order = (p: string) => COMPONENTS.indexOf(componentOf(p));
  return [...names].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
}

function callNames(columns: Column[]) {
  const names = new Set<string>();
  for (const c of columns) for (const r of c.runs) for (const p of Object.keys(r.calls_per_request)) names.add(p);
  return [...names].sort();
}

/** The Markdown table: one column per case, one row per metric; medians (± half the spread) when repeated. */
export function markdown(columns: Column[]): string {
  const rows: [string, string[]][] = [];
  const row = (name: string, cell: (c: Column) => string) => rows.push([name, columns.map(cell)]);
  row("runs", (c) => String(c.runs.length));
  row("requests", (c) => fmt(stat(c, (r) => r.summary?.requests), 0));
  row("throughput, successful (req/s)", (c) => fmt(stat(c, okRps)));
  row("throughput, all responses (req/s)", (c) => fmt(stat(c, (r) => r.summary?.rps)));
  row("error rate", (c) => fmt(stat(c, (r) => (r.summary ? r.summary.error_rate * 100 : null)), 2, " %"));
  for (const p of ["p50", "p90", "p95", "p99", "max"] as const) row(`latency ${p} (ms)`, (c) => fmt(stat(c, (r) => r.summary?.latency_ms[p])));
  row("drift within the run (%)", (c) => fmt(stat(c, (r) => { const d = stabilityOf(r)?.drift; return typeof d === "number" ? d * 100 : null; }), 1));
  row("CV of 5 s windows (%)", (c) => fmt(stat(c, (r) => { const v = stabilityOf(r)?.cv; return typeof v === "number" ? v * 100 : null; }), 1));
  row("internal calls / request", (c) => fmt(stat(c, (r) => Object.values(r.calls_per_request).reduce((s, v) => s + v, 0)), 1));
  for (const name of callNames(columns)) row(`  calls to ${name}`, (c) => fmt(stat(c, (r) => r.calls_per_request[name]), 2));
  for (const p of processNames(columns)) row(`CPU ms / request: ${p}`, (c) => fmt(stat(c, (r) => r.resources[p]?.cpu_ms_per_request), 3));
  row("CPU ms / request: total (without the load generator)", (c) =>
    fmt(stat(c, (r) => cpuMsPerRequest(r, inCaseTotal) ?? 0), 3));
  for (const p of processNames(columns)) row(`peak memory, PSS (MiB): ${p}`, (c) => fmt(stat(c, (r) => (r.resources[p] ? mib(pss(r.resources[p])) : null)), 0));
  row("peak memory at one moment, PSS, without the load generator (MiB)", (c) => fmt(stat(c, (r) => { const m = r.extra?.memory as Memory; return m ? mib(m.peak_total_bytes) : null; }), 0));
  row("versions", (c) => {
    const v = (c.runs[0]?.fingerprint?.versions ?? {}) as Record<string, string | null>;
    const tool = toolOf(c.runs[0]);
    return [c.runs[0] ? runtimeOfRun(c.runs[0]) : "", c.runs[0] ? engineOfRun(c.runs[0]) : "", tool?.version ? `${tool.name} ${tool.version}` : "", `pg ${v.postgres}`].filter(Boolean).join(", ");
  });
  row("flags", (c) => [...new Set(c.runs.flatMap((r) => r.flags))].join(", ") || "–");
  const head = `| metric | ${columns.map((c) => c.label).join(" | ")} |\n|---|${columns.map(() => "---:").join("|")}|`;
  const first = columns[0]?.runs[0];
  const params = first
    ? `${first.mode}: ${first.params.vus ?? "–"} VUs, ${first.params.duration ?? first.params.iterations ?? ""}${first.params.rate ? ` at ${first.params.rate} req/s` : ""}, fleet of ${first.params.fleet_size}, mix ${Object.entries(first.params.mix).map(([k, v]) => `${k} ${v}`).join(" / ")}`
    : "";
  return `${params ? `${params}\n\n` : ""}${head}\n${rows.map(([name, cells]) => `| ${name} | ${cells.join(" | ")} |`).join("\n")}\n`;
}

/**
 * Data for the page's charts, kept apart from the HTML so tests can check it. With a comparison
 * the bars count the same runs as their whiskers (the counted ones); CPU and memory come from the
 * runs at equal offered load when there are any, throughput and latency from the closed model's.
 */
export function chartData(all: Column[], comparison?: Comparison) {
  const groups = comparisonColumns(all, comparison);
  const rateGroup = groups.find((g) => g.columns[0]?.runs[0]?.mode === "rate")?.columns;
  const closedGroup = groups.find((g) => g.columns[0]?.runs[0] && g.columns[0].runs[0].mode !== "rate")?.columns;
  const costColumns = rateGroup ?? closedGroup ?? [];
  const loadColumns = closedGroup ?? rateGroup ?? [];
  // One bar per target in every chart, whichever runs a chart reads.
  const targets = [...new Set([...costColumns, ...loadColumns].map((c) => targetOf(c.runs[0])))];
  const byTarget = (columns: Column[]) => (t: string) => columns.find((c) => targetOf(c.runs[0]) === t);
  const cost = byTarget(costColumns);
  const load = byTarget(loadColumns);
  const ci = (key: string) => intervals(comparison, key, targets);
  const labels = targets.map((t) => {
    const runs = [...(cost(t)?.runs ?? []), ...(load(t)?.runs ?? [])];
    const flags = [...new Set(runs.flatMap((r) => r.flags))];
    return (cost(t) ?? load(t))!.label + (flags.length ? ` ⚠ ${flags.join(", ")}` : "");
  });
  const value = (c: Column | undefined, pick: (r: RunResult) => number | null | undefined) => (c ? stat(c, pick)?.median ?? 0 : 0);
  const components = COMPONENTS;
  const columnsOfCost = targets.map(cost);
  const columnsOfLoad = targets.map(load);
  return {
    labels,
    // errorBars: each column's 95 % interval of the median (drawn as whiskers), when the comparison has one.
    throughput: [{ label: "successful requests/s", data: columnsOfLoad.map((c) => value(c, okRps)), errorBars: ci("ok_rps") }],
    cpuTotal: [{ label: "CPU ms / request, total without the load generator", data: columnsOfCost.map((c) => value(c, (r) => cpuMsPerRequest(r, inCaseTotal) ?? 0)), errorBars: ci("cpu_ms_total") }],
    latency: (["p50", "p90", "p95", "p99"] as const).map((p) => ({
      label: p,
      data: columnsOfLoad.map((c) => value(c, (r) => r.summary?.latency_ms[p])),
      errorBars: p === "p50" ? ci("latency_p50") : p === "p99" ? ci("latency_p99") : undefined,
    })),
    perApi: ["dashboard", "monitor", "critical"].flatMap((api) => (["p50", "p99"] as const).map((p) => ({
      label: `${api} ${p}`,
      data: columnsOfLoad.map((c) => value(c, (r) => (r.extra?.per_api as Record<string, Record<string, number>> | undefined)?.[api]?.[p])),
    }))).filter((d) => d.data.some((v) => v > 0)),
    calls: callNames(all).map((name) => ({ label: name, data: columnsOfLoad.map((c) => value(c, (r) => r.calls_per_request[name])) })),
    cpu: components.map((component) => ({
      label: component,
      data: columnsOfCost.map((c) => value(c, (r) => cpuMsPerRequest(r, (p) => componentOf(p) === component) ?? 0)),
    })),
    // Memory held at one moment per component (peak of the per-sample sum); older files: sum of peaks.
    rss: components.filter((c) => c !== "load generator").map((component) => ({
      label: component,
      data: columnsOfCost.map((c) => value(c, (r) => {
        const m = r.extra?.memory as Memory;
        if (m) return mib(m.peak_by_component_bytes[component] ?? 0);
        return Object.entries(r.resources).filter(([p]) => componentOf(p) === component).reduce((sum, [, u]) => sum + mib(pss(u)), 0);
      })),
    })),
  };
}

/**
 * The columns a comparison's numbers come from: only the runs its verdicts counted (the bars,
 * whiskers and the table then describe the same runs; the left-out ones are listed), split by
 * operating point when it measured at two (the open model's rate and the closed model's VUs).
 */
export function comparisonColumns(columns: Column[], comparison?: Comparison): { title: string; columns: Column[] }[] {
  if (!comparison) return [{ title: "", columns }];
  const excluded = new Set(comparison.runs.filter((r) => r.excluded).map((r) => r.file));
  const counted = columns.map((c) => ({ ...c, runs: c.runs.filter((r) => !excluded.has(basename(String(r.extra?.result_path ?? "")))) }));
  const groups = [(r: RunResult) => r.mode === "rate", (r: RunResult) => r.mode !== "rate"]
    .map((pick) => ({ columns: counted.map((c) => ({ ...c, runs: c.runs.filter(pick) })).filter((c) => c.runs.length) }))
    .filter((g) => g.columns.length);
  return groups.map((g) => ({ title: groups.length > 1 ? operatingPoint(g.columns[0].runs[0]) : "", columns: g.columns }));
}

/** The whole Markdown report: the answer first (with a comparison), then the numbers, the flags, the parity table. */
export function markdownReport(columns: Column[], comparison?: Comparison): string {
  const warn = [...(comparison?.notes ?? []), ...differences(columns)];
  const flags = flagNotes(columns);
  const groups = comparisonColumns(columns, comparison);
  return [
    "# fleetbench report\n",
    warn.length ? `${warn.map((w) => `> ⚠ ${w}`).join("\n>\n")}\n` : "",
    comparison ? firstScreenMarkdown(comparison) : "",
    comparison ? verdictMarkdown(comparison) : "",
    comparison ? "## All numbers (medians over the counted rounds)\n" : "",
    ...groups.map((g) => `${g.title ? `### ${g.title}\n\n` : ""}${markdown(g.columns)}`),
    flags.length ? `## Flags\n\n${flags.map((f) => `- ${f}`).join("\n")}\n` : "",
    `## Parity\n\n${parityTable(columns)}`,
    `## Fingerprint of every run\n\n${fingerprintTable(columns)}`,
  ].filter(Boolean).join("\n");
}


export function html(columns: Column[], sources: string[], comparison?: Comparison): string {
  const chartJs = readFileSync(join(ROOT, "node_modules", "chart.js", "dist", "chart.umd.min.js"), "utf8");
  const data = JSON.stringify(chartData(columns, comparison)).replace(/</g, "\\u003c");
  const cells = (line: string) => line.split("|").slice(1, -1).map((c) => escape(c.trim()));
  const htmlTable = (md: string) => {
    const [head, ...body] = md.split("\n").filter((l) => l.startsWith("|") && !l.startsWith("|---"));
    return `<table><thead><tr>${cells(head).map((c) => `<th>${c}</th>`).join("")}</tr></thead>\n<tbody>${body.map((l) => `<tr>${cells(l).map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n")}</tbody></table>`;
  };
  const warn = [...(comparison?.notes ?? []), ...differences(columns)];
  const flags = flagNotes(columns);
  const charts = [
    ["throughput", "Throughput, successful requests/s (whiskers: 95 % interval)", false],
    ["cpuTotal", "CPU ms per client request, total without the load generator (whiskers: 95 % interval)", false],
    ["cpu", "CPU ms per client request, by component", true],
    ["latency", "Latency percentiles, ms (whiskers on p50 and p99: 95 % interval)", false],
    ["perApi", "Latency by API, p50 and p99 (ms)", false],
    ["calls", "Internal calls per client request", true],
    ["rss", "Peak memory (PSS, MiB) at one moment, by component", true],
  ] as const;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>fleetbench report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.charts{display:grid;grid-template-columns:1fr 1fr;gap:24px}figure{margin:0}.verdict{font-size:15px;margin:4px 0}#verdict{border:1px solid #9bc;background:#f3f8fc;padding:8px 14px}@media (max-width:700px){body{margin:1em}.charts{grid-template-columns:1fr}canvas{max-width:100%;height:auto!important}table{display:block;overflow-x:auto}}.warn{background:#fff4d6;border-left:4px solid #e0a000;padding:6px 10px}.parity td{text-align:left;font-size:12px}</style>
<script>${chartJs}</script></head>
<body>
<h1>fleetbench report</h1>
${warn.map((w) => `<p class="warn">⚠ ${escape(w)}</p>`).join("\n")}
${comparison ? `<section id="verdict"><p class="params">${escape(parametersLine(comparison))}</p>\n<div class="matrix">${htmlTable(verdictMatrix(comparison))}</div>\n<ul class="headline">${headlineSentences(comparison).map((l) => `<li class="verdict">${escape(l)}</li>`).join("")}</ul></section>` : `<p>${escape(markdown(columns).split("\n")[0] ?? "")}</p>`}
<div class="charts">${charts.map(([id, title]) => `<figure><figcaption>${title}</figcaption><canvas id="${id}" width="520" height="300"></canvas></figure>`).join("")}</div>
${comparison ? `<section id="pairs"><h2>Every pair</h2>\n${verdictLines(comparison).map((l) => `<p class="pair">${escape(l)}</p>`).join("\n")}\n${htmlTable(summaryTable(comparison))}${everyRunLines(comparison).length ? `\n<p>${escape(EVERY_RUN_INTRO)}</p>\n<ul class="every-run">${everyRunLines(comparison).map((l) => `<li>${escape(l)}</li>`).join("")}</ul>` : ""}${unpairedLines(comparison).length ? `\n<p>${escape(UNPAIRED_INTRO)}</p>\n<ul class="unpaired">${unpairedLines(comparison).map((l) => `<li>${escape(l)}</li>`).join("")}</ul>` : ""}</section>` : ""}
<h2>All numbers</h2>
${comparisonColumns(columns, comparison).map((g) => `${g.title ? `<h3>${escape(g.title)}</h3>\n` : ""}${htmlTable(markdown(g.columns))}`).join("\n")}
${flags.length ? `<h2>Flags</h2>\n<ul class="flags">${flags.map((f) => `<li>${escape(f)}</li>`).join("")}</ul>` : ""}
<h2>Parity</h2>
${columns.some((c) => c.runs[0]?.extra?.parity) ? `<div class="parity">${htmlTable(parityTable(columns))}</div>` : `<p>${escape(parityTable(columns))}</p>`}
${comparison ? `<h2>Rounds</h2>\n<p>Orders shuffled from seed ${comparison.seed}; canary median ${comparison.canary_median ?? "–"}.</p>\n${htmlTable(roundsTable(comparison))}` : ""}
<h2>Fingerprint of every run</h2>
${htmlTable(fingerprintTable(columns))}
<p>From: ${sources.map((s) => escape(basename(s))).join(", ")}</p>
<script>
const data = ${data};
const stacked = ${JSON.stringify(Object.fromEntries(charts.map(([id, , s]) => [id, s])))};
let whiskers = 0;
// Error bars: a dataset's errorBars[i] = [lo, hi] is drawn as a whisker over bar i.
const errorBars = {
  id: "errorBars",
  afterDatasetsDraw(chart) {
    const { ctx, scales: { y } } = chart;
    chart.data.datasets.forEach((ds, d) => {
      if (!ds.errorBars) return;
      chart.getDatasetMeta(d).data.forEach((bar, i) => {
        const ci = ds.errorBars[i];
        if (!ci) return;
        const [top, bottom] = [y.getPixelForValue(ci[1]), y.getPixelForValue(ci[0])];
        ctx.save();
        ctx.strokeStyle = "#222";
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
        ctx.moveTo(bar.x - 6, top); ctx.lineTo(bar.x + 6, top);
        ctx.moveTo(bar.x - 6, bottom); ctx.lineTo(bar.x + 6, bottom);
        ctx.stroke();
        ctx.restore();
        whiskers++;
      });
    });
  },
};
for (const id of Object.keys(stacked)) {
  const datasets = data[id];
  // The axis reaches the top of every whisker.
  const top = Math.max(0, ...datasets.flatMap((ds) => (ds.errorBars || []).map((ci) => (ci ? ci[1] : 0))));
  new Chart(document.getElementById(id), {
    type: "bar",
    data: { labels: data.labels, datasets },
    options: { animation: false, responsive: false, scales: { x: { stacked: stacked[id] }, y: { stacked: stacked[id], beginAtZero: true, suggestedMax: top * 1.05 } } },
    plugins: [errorBars],
  });
}
document.body.dataset.charts = String(Chart.instances ? Object.keys(Chart.instances).length : 0);
document.body.dataset.errorbars = String(whiskers);
</script>
</body></html>
`;
}

/**
 * What a report covers: a comparison (compare-*.json: its runs and verdicts), result files, or,
 * when nothing is named, the newest comparison (an older compare-*.list is read too), else the
 * newest complete run per case.
 */
export function reportSources(config: Config, named: string[] = []): { sources: string[]; comparison?: Comparison } {
  const fromComparison = (path: string) => {
    const comparison = JSON.parse(readFileSync(path, "utf8")) as Comparison;
    if (comparison.schema_version !== 1 || !Array.isArray(comparison.runs)) throw new Error(`${path} is not a fleetbench comparison`);
    return { sources: comparison.runs.map((r) => join(dirname(path), r.file)), comparison };
  };
  const comparisons = named.filter((f) => /compare-[^/]*\.json$/.test(f));
  if (comparisons.length > 1) throw new Error(`name one comparison at a time, got ${comparisons.length}`);
  if (comparisons.length) return fromComparison(comparisons[0]);
  if (named.length) return { sources: named };
  const files = existsSync(config.resultsDir) ? readdirSync(config.resultsDir).filter((f) => f.startsWith("compare-")).sort() : [];
  const newest = files.at(-1);
  if (newest?.endsWith(".json")) return fromComparison(join(config.resultsDir, newest));
  if (newest?.endsWith(".list")) {
    return { sources: readFileSync(join(config.resultsDir, newest), "utf8").split("\n").filter(Boolean).map((f) => join(config.resultsDir, f)) };
  }
  const perCase = new Map<string, string>();
  for (const { path, result } of readResults(config)) if (result.status === "complete") perCase.set(`${result.case}/${result.gateway ?? ""}`, path);
  return { sources: [...perCase.values()] };
}

/** Writes report-<stamp>.md and .html next to the results and returns their paths. */
export function writeReport(config: Config, sources: string[], log: (line: string) => void = console.log, comparison?: Comparison) {
  if (!sources.length) throw new Error(`no complete results in ${config.resultsDir}: run \`just compare\` or \`just caseN load VUS DURATION\` first`);
  const results = sources.map((s) => {
    const result = JSON.parse(readFileSync(s, "utf8")) as RunResult;
    if (result.schema_version !== 1) throw new Error(`${s} is not a fleetbench result (schema_version ${result.schema_version})`);
    return result;
  });
  const columns = toColumns(results);
  if (!columns.length) throw new Error(`none of ${sources.length} result(s) is complete: nothing to compare`);
  const stamp = fileStamp();
  const md = join(config.resultsDir, `report-${stamp}.md`);
  const page = join(config.resultsDir, `report-${stamp}.html`);
  const table = markdownReport(columns, comparison);
  writeAtomic(md, table);
  writeAtomic(page, html(columns, sources, comparison));
  log(table);
  log(`report: ${md}\n        ${page}`);
  return { markdown: md, html: page, table };
}
