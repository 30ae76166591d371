/**
 * The report of a curve document (src/plans/curves.ts): Markdown and a self-contained HTML page.
 * Capacity: what each target sustains at the SLO (median and interval over rounds), then its
 * latency (p50, p99) against the offered rate, with the SLO line and the capacity marked. Sweep:
 * latency percentiles, CPU ms per request (total and by component), internal calls per request,
 * throughput and error rate against fleet size or offered rate, one line per target, each point
 * the median over rounds with its 95 % interval.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config";
import { sloText } from "../plans/capacity";
import { CURVE_COMPONENTS, type CurveDoc, type Point } from "../plans/curve-doc";
import { escape } from "./report-verdicts";
import { writeAtomic } from "../run/results";
import { summarize } from "../stats/stats";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** The y metrics of a sweep, in the order the report draws them. */
export const CURVE_METRICS: { id: string; label: string; unit: string; pick: (p: Point) => number | null }[] = [
  { id: "p50", label: "latency p50", unit: "ms", pick: (p) => p.latency_ms?.p50 ?? null },
  { id: "p99", label: "latency p99", unit: "ms", pick: (p) => p.latency_ms?.p99 ?? null },
  { id: "cpu_total", label: "CPU per request (total, without the load generator)", unit: "ms", pick: (p) => p.cpu_ms.total ?? null },
  ...CURVE_COMPONENTS.map((c) => ({ id: `cpu_${c.replace(" ", "_")}`, label: `CPU per request: ${c}`, unit: "ms", pick: (p: Point) => p.cpu_ms[c] ?? null })),
  { id: "calls", label: "internal calls per request (data services and subgraphs)", unit: "", pick: (p) => p.calls },
  { id: "ok_rps", label: "successful throughput", unit: "req/s", pick: (p) => p.ok_rps },
  { id: "errors", label: "error rate (%)", unit: "%", pick: (p) => (p.error_rate === null ? null : p.error_rate * 100) },
];

export interface Cell {
  median: number;
  ci: [number, number] | null;
  n: number;
}

/** Per target and x: the median over rounds of a metric, with its interval when 2 or more rounds have it. */
export function cells(doc: CurveDoc, pick: (p: Point) => number | null): Map<string, Map<number, Cell>> {
  const out = new Map<string, Map<number, Cell>>();
  for (const target of doc.targets) {
    const byX = new Map<number, Cell>();
    for (const x of xs(doc)) {
      const values = doc.points.filter((p) => p.target === target && p.x === x && p.status === "complete").map(pick).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
      if (!values.length) continue;
      const s = summarize(values, doc.seed);
      byX.set(x, { median: s.median, ci: values.length > 1 ? s.ci : null, n: values.length });
    }
    out.set(target, byX);
  }
  return out;
}

const spansDecades = (values: number[]) => values.length > 1 && Math.min(...values) > 0 && Math.max(...values) / Math.min(...values) > 30;
const xs = (doc: CurveDoc) => [...new Set(doc.points.map((p) => p.x))].sort((a, b) => a - b);
const num = (v: number, digits = 1) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits));
const cellText = (c: Cell | undefined, digits = 2) => (c ? `${num(c.median, digits)}${c.ci ? ` [${num(c.ci[0], digits)}–${num(c.ci[1], digits)}]` : ""}${c.n > 1 ? ` (n ${c.n})` : ""}` : "–");
const xName = (doc: CurveDoc) => (doc.axis === "fleet" ? "fleet size (robots)" : "offered rate (requests/s)");

/** How to read CPU per request on a curve. */
export const CPU_NOTE = "CPU ms per request is each process's CPU over the measured window divided by the requests, the part that does not grow with the rate included (a request arriving alone costs more than one among many; timers, metrics, collections): at a low offered rate that part is large. Compare targets at the same x, and read the change along x.";

/** What a capacity search found, in words: one sentence per target. */
export function capacitySentences(doc: CurveDoc): string[] {
  if (!doc.capacities || !doc.slo) return [];
  const order = (c: { target: string; x?: number }) => doc.targets.indexOf(c.target) * 1e9 + (c.x ?? 0);
  return [...doc.capacities].sort((a, b) => order(a) - order(b)).map((c) => {
    const where = c.x !== undefined ? ` at N = ${c.x}` : "";
    const notes = [...new Set((doc.searches ?? []).filter((s) => s.target === c.target && s.x === c.x && s.note).map((s) => s.note!))];
    if (c.median === null) return `${c.target}${where} did not meet ${sloText(doc.slo!)} at any rate tried${notes.length ? `: ${notes.join("; ")}` : ""}.`;
    const interval = c.ci ? ` (95 % CI ${num(c.ci[0], 0)}–${num(c.ci[1], 0)}, ${c.n} searches)` : ` (${c.n === 1 ? "one search: no interval" : `${c.n} searches`})`;
    const missed = c.values.filter((v) => v === null).length;
    return `${c.target}${where} sustains ${num(c.median, 0)} requests/s at ${sloText(doc.slo!)}${interval}${missed ? `; ${missed} search(es) met it at no rate` : ""}${notes.length ? `; ${notes.join("; ")}` : ""}.`;
  });
}

/** The sweep's main finding per target: how its calls and CPU per request change from the first x to the last. */
export function sweepSentences(doc: CurveDoc): string[] {
  const [first, last] = [xs(doc)[0], xs(doc).at(-1)!];
  if (first === undefined || first === last) return [];
  const calls = cells(doc, (p) => p.calls);
  const cpu = cells(doc, (p) => p.cpu_ms.total ?? null);
  const errors = cells(doc, (p) => (p.error_rate === null ? null : p.error_rate * 100));
  return doc.targets.map((t) => {
    const [c0, c1, u0, u1] = [calls.get(t)?.get(first), calls.get(t)?.get(last), cpu.get(t)?.get(first), cpu.get(t)?.get(last)];
    const failing = [...(errors.get(t)?.entries() ?? [])].filter(([, c]) => c.median > 0).map(([x, c]) => `${num(c.median, 2)} % errors at ${x}`);
    const parts = [
      c0 && c1 ? `internal calls per request ${num(c0.median, 1)} → ${num(c1.median, 1)}` : null,
      u0 && u1 ? `CPU ms per request ${num(u0.median, 2)} → ${num(u1.median, 2)} (×${(u1.median / u0.median).toFixed(2)})` : null,
    ].filter(Boolean);
    return `${t}, ${doc.axis === "fleet" ? "fleet" : "rate"} ${first} → ${last}: ${parts.join(", ") || "no complete run at both ends"}${failing.length ? `; ${failing.join(", ")}` : ""}.`;
  });
}

export function curveMarkdown(doc: CurveDoc): string {
  const title = doc.kind === "capacity" ? `Capacity at ${sloText(doc.slo!)}` : `Sweep over ${xName(doc)}`;
  const lines = [`# fleetbench: ${title}`, "", ...(doc.notes ?? []).map((n) => `> ⚠ ${n}\n`)];
  const rounds = doc.kind === "sweep" ? `${doc.params.repeat} round(s) at each of ${xs(doc).length} values of the ${xName(doc)}` : `${doc.rounds.length} round(s)`;
  lines.push(`Targets: ${doc.targets.join(", ")}; ${rounds}, orders shuffled from seed ${doc.seed}; parameters ${JSON.stringify(doc.params)}.`, "");
  const found = [...capacitySentences(doc), ...(doc.kind === "sweep" ? sweepSentences(doc) : [])];
  if (found.length) lines.push("## What it found", "", ...found.map((s) => `- ${s}`), "");
  if (doc.kind === "sweep") lines.push(`${CPU_NOTE}`, "");
  if (doc.kind === "capacity") {
    for (const target of doc.targets) {
      lines.push(`## ${target}: every step`, "", "| round | offered (req/s) | meets | p50 ms | p99 ms | ok req/s | dropped | errors | CPU ms/req | why not |", "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|");
      for (const s of (doc.searches ?? []).filter((s) => s.target === target)) {
        for (const step of s.steps) {
          const ms = (v: number | null | undefined) => (typeof v === "number" ? num(v) : "–");
          lines.push(`| ${s.round}${s.x !== undefined ? ` (N ${s.x})` : ""} | ${step.rate} | ${step.meets ? "yes" : "no"} | ${ms(step.latency_ms?.p50)} | ${ms(step.latency_ms?.p99)} | ${step.ok_rps === null ? "–" : num(step.ok_rps)} | ${step.dropped ?? "–"} | ${step.error_rate === null ? "–" : `${(step.error_rate * 100).toFixed(2)} %`} | ${step.cpu_ms_total === null ? "–" : num(step.cpu_ms_total, 2)} | ${step.misses.join(", ") || "–"} |`);
        }
      }
      lines.push("");
    }
  }
  if (doc.kind === "sweep") {
    for (const metric of CURVE_METRICS) {
      const table = cells(doc, metric.pick);
      if (![...table.values()].some((m) => m.size)) continue;
      lines.push(`## ${metric.label}`, "", `| ${xName(doc)} | ${doc.targets.join(" | ")} |`, `|---:|${doc.targets.map(() => "---:").join("|")}|`);
      for (const x of xs(doc)) lines.push(`| ${x} | ${doc.targets.map((t) => cellText(table.get(t)?.get(x))).join(" | ")} |`);
      lines.push("");
    }
    const hashes = [...new Map(doc.points.filter((p) => p.content_hash).map((p) => [p.x, p.content_hash])).entries()];
    if (hashes.length) lines.push("## Data of each fleet size (content hash)", "", ...hashes.map(([x, h]) => `- N = ${x}: ${h}`), "");
  }
  const flagged = doc.points.filter((p) => p.flags.length);
  if (flagged.length) lines.push("## Flagged points", "", ...flagged.map((p) => `- ${p.target} at ${p.x} (round ${p.round}, ${p.file}): ${p.flags.join(", ")}`), "");
  lines.push("## Runs", "", ...doc.points.map((p) => `- ${p.target} at ${p.x}, round ${p.round}: ${p.file} (${p.status})`), "");
  return `${lines.join("\n")}\n`;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

/** The charts' data: capacity charts per target; sweep charts per metric. */
export function curveCharts(doc: CurveDoc) {
  if (doc.kind === "capacity") {
    return doc.targets.map((target, i) => {
      const steps = doc.points.filter((p) => p.target === target && p.latency_ms).sort((a, b) => a.x - b.x);
      const capacity = doc.capacities?.find((c) => c.target === target && c.x === undefined)?.median ?? null;
      return {
        id: `capacity${i}`,
        title: `${target}: latency against offered rate (SLO ${sloText(doc.slo!)}${capacity !== null ? `, capacity ${num(capacity, 0)} req/s` : ", SLO never met"})`,
        x: "offered rate (requests/s)",
        y: "ms",
        datasets: [
          { label: "p50", data: steps.filter((p) => p.latency_ms!.p50 !== null).map((p) => ({ x: p.x, y: p.latency_ms!.p50!, ci: null })), color: COLORS[0] },
          { label: "p99", data: steps.filter((p) => p.latency_ms!.p99 !== null).map((p) => ({ x: p.x, y: p.latency_ms!.p99!, ci: null })), color: COLORS[1] },
        ],
        slo: doc.slo!.ms,
        capacity,
        // The steps of several searches interleave along x: points, no line through them.
        line: false,
        logY: false,
      };
    });
  }
  return CURVE_METRICS.map((metric) => {
    const table = cells(doc, metric.pick);
    return {
      id: `sweep_${metric.id}`,
      title: `${metric.label} against ${xName(doc)}${doc.rounds.length > doc.targets.length ? " (whiskers: 95 % interval)" : ""}`,
      x: xName(doc),
      y: metric.unit,
      datasets: doc.targets.map((t, i) => ({
        label: t,
        data: [...(table.get(t)?.entries() ?? [])].map(([x, c]) => ({ x, y: c.median, ci: c.ci })),
        color: COLORS[i % COLORS.length],
      })),
      slo: null,
      capacity: null,
      line: true,
      // Latency spanning orders of magnitude (Case 1 at a large fleet) on a log axis, so the others stay readable.
      logY: (metric.id === "p50" || metric.id === "p99") && spansDecades([...table.values()].flatMap((m) => [...m.values()].map((c) => c.median))),
    };
  }).filter((c) => c.datasets.some((d) => d.data.length));
}

export function curveHtml(doc: CurveDoc, markdown: string): string {
  const chartJs = readFileSync(join(ROOT, "node_modules", "chart.js", "dist", "chart.umd.min.js"), "utf8");
  const charts = curveCharts(doc);
  const data = JSON.stringify(charts).replace(/</g, "\\u003c");
  const found = [...capacitySentences(doc), ...(doc.kind === "sweep" ? sweepSentences(doc) : [])];
  const title = markdown.split("\n")[0].replace(/^# /, "");
  // The tables of the Markdown, as HTML tables (every number of the page is in them).
  const tables = markdown.split("\n## ").slice(1).filter((s) => s.includes("\n|")).map((section) => {
    const [heading, ...rest] = section.split("\n");
    const rows = rest.filter((l) => l.startsWith("|") && !l.startsWith("|---")).map((l) => l.split("|").slice(1, -1).map((c) => escape(c.trim())));
    const [head, ...body] = rows;
    return `<h2>${escape(heading)}</h2>\n<table><thead><tr>${head.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n")}</tbody></table>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.charts{display:grid;grid-template-columns:1fr 1fr;gap:24px}figure{margin:0}#found{border:1px solid #9bc;background:#f3f8fc;padding:8px 14px}.warn{background:#fff4d6;border-left:4px solid #e0a000;padding:6px 10px}@media (max-width:700px){body{margin:1em}.charts{grid-template-columns:1fr}canvas{max-width:100%;height:auto!important}table{display:block;overflow-x:auto}}</style>
<script>${chartJs}</script></head>
<body>
<h1>${escape(title)}</h1>
${(doc.notes ?? []).map((n) => `<p class="warn">⚠ ${escape(n)}</p>`).join("\n")}
${found.length ? `<section id="found"><h2>What it found</h2>\n${found.map((s) => `<p class="found">${escape(s)}</p>`).join("\n")}</section>` : ""}
${doc.kind === "sweep" ? `<p>${escape(CPU_NOTE)}</p>` : ""}
<div class="charts">${charts.map((c) => `<figure><figcaption>${escape(c.title)}</figcaption><canvas id="${c.id}" width="520" height="320"></canvas></figure>`).join("")}</div>
${tables.join("\n")}
<p>Seed ${doc.seed}; ${doc.points.length} measured runs.</p>
<script>
const charts = ${data};
let whiskers = 0, sloLines = 0, capacityMarks = 0;
// Whiskers (95 % intervals), the SLO line and the capacity mark, drawn over the chart.
const overlay = {
  id: "overlay",
  afterDatasetsDraw(chart, _args, spec) {
    const { ctx, scales: { x, y }, chartArea: area } = chart;
    ctx.save();
    ctx.lineWidth = 1.5;
    chart.data.datasets.forEach((ds, d) => ds.data.forEach((p, i) => {
      if (!p.ci) return;
      const px = x.getPixelForValue(p.x), [top, bottom] = [y.getPixelForValue(p.ci[1]), y.getPixelForValue(p.ci[0])];
      ctx.strokeStyle = ds.borderColor;
      ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, bottom); ctx.moveTo(px - 5, top); ctx.lineTo(px + 5, top); ctx.moveTo(px - 5, bottom); ctx.lineTo(px + 5, bottom); ctx.stroke();
      whiskers++;
    }));
    ctx.setLineDash([6, 4]);
    if (spec.slo !== null) {
      const py = y.getPixelForValue(spec.slo);
      ctx.strokeStyle = "#e0a000"; ctx.beginPath(); ctx.moveTo(area.left, py); ctx.lineTo(area.right, py); ctx.stroke();
      ctx.fillStyle = "#a07000"; ctx.fillText("SLO " + spec.slo + " ms", area.left + 4, py - 4);
      sloLines++;
    }
    if (spec.capacity !== null) {
      const px = x.getPixelForValue(spec.capacity);
      ctx.strokeStyle = "#2ca02c"; ctx.beginPath(); ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom); ctx.stroke();
      ctx.fillStyle = "#1a6a1a"; ctx.fillText("capacity " + spec.capacity, Math.min(px + 4, area.right - 70), area.top + 12);
      capacityMarks++;
    }
    ctx.restore();
  },
};
for (const c of charts) {
  const top = Math.max(0, ...c.datasets.flatMap((d) => d.data.map((p) => (p.ci ? p.ci[1] : p.y))), c.slo ?? 0);
  const positive = c.datasets.every((d) => d.data.every((p) => p.x > 0));
  new Chart(document.getElementById(c.id), {
    type: "scatter",
    data: { datasets: c.datasets.map((d) => ({ label: d.label, data: d.data, showLine: c.line, borderColor: d.color, backgroundColor: d.color, pointRadius: 3 })) },
    options: {
      animation: false, responsive: false,
      plugins: { overlay: { slo: c.slo, capacity: c.capacity } },
      scales: {
        x: { type: positive ? "logarithmic" : "linear", title: { display: true, text: c.x } },
        y: c.logY ? { type: "logarithmic", title: { display: true, text: c.y + " (log scale)" } } : { beginAtZero: true, suggestedMax: top * 1.1, title: { display: true, text: c.y } },
      },
    },
    plugins: [overlay],
  });
}
document.body.dataset.charts = String(Object.keys(Chart.instances).length);
document.body.dataset.whiskers = String(whiskers);
document.body.dataset.slolines = String(sloLines);
document.body.dataset.capacitymarks = String(capacityMarks);
</script>
</body></html>
`;
}

/** Writes results/<name>.md and .html next to the curve document; returns their paths. */
export function writeCurveReport(config: Config, docPath: string, log: (line: string) => void = console.log) {
  const doc = JSON.parse(readFileSync(docPath, "utf8")) as CurveDoc;
  if (doc.schema_version !== 1 || !Array.isArray(doc.points)) throw new Error(`${docPath} is not a fleetbench curve document`);
  const markdown = curveMarkdown(doc);
  const base = docPath.replace(/\.json$/, "");
  writeAtomic(`${base}.md`, markdown);
  writeAtomic(`${base}.html`, curveHtml(doc, markdown));
  log(`\n${markdown}`);
  log(`report: ${base}.md and ${base}.html`);
  return { markdown: `${base}.md`, html: `${base}.html`, doc };
}
