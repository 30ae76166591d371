/**
 * The report of a cost model (src/plans/model.ts): Markdown and a self-contained HTML page. First
 * what it found (each target's fixed and marginal CPU, where lines cross, the ranking at a rate),
 * then CPU per second against the rate served per target — the measured points, the fitted line
 * and its 95 % band, the crossings marked — per component and per process, peak PSS per rate, the
 * cost per million requests, the runs a target did not sustain, and every residual.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config";
import { COMPONENTS, componentOf, inCaseTotal } from "../run/run-result";
import { type Fit, type ModelPoint } from "../plans/model";
import { lineOf, valueAt } from "../plans/crossing";
import { type ModelDoc, type Price, rankAt } from "../plans/cost";
import { escape } from "./report-verdicts";
import { writeAtomic } from "../run/results";

const ROOT = resolve(import.meta.dirname, "..", "..");
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

const num = (v: number, digits = 2) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(digits));
const ci = (c: [number, number] | null, scale = 1, digits = 2) => (c ? ` [${num(c[0] * scale, digits)}–${num(c[1] * scale, digits)}]` : " [no interval]");
/** Fixed part in ms of CPU per second, marginal in ms of CPU per request. */
const fixedText = (f: Fit) => `${num(f.fixed * 1000, 1)}${ci(f.fixed_ci, 1000, 1)} ms/s`;
const marginalText = (f: Fit) => `${num(f.marginal * 1000, 3)}${ci(f.marginal_ci, 1000, 3)} ms/req`;
const r2Text = (f: Fit) => (f.r2 === null ? "–" : f.r2.toFixed(3));

/** What the model found, in plain sentences: each target's line, then the crossings and the ranking. */
export function modelSentences(doc: ModelDoc): string[] {
  const out = doc.models.map((m) => (m.total
    ? `${m.target}: ${fixedText(m.total)} of CPU fixed + ${marginalText(m.total)} (the case's total without the load generator; R² ${r2Text(m.total)}, ${m.total.n} runs)${m.not_sustained.length ? `; not sustained at ${[...new Set(m.not_sustained.map((n) => n.rate))].join(", ")} requests/s (left out)` : ""}.`
    : `${m.target}: no line — ${m.no_fit}.`));
  for (const c of doc.crossovers) {
    if (c.rate !== null) out.push(`${c.a} and ${c.b} cost the same CPU at ${num(c.rate, 1)} requests/s${c.ci ? ` (95 % interval ${num(c.ci[0], 1)}–${num(c.ci[1], 1)}, Fieller${c.paired_blocks ? `, paired over the ${c.paired_blocks} blocks both ran` : ""})` : ` (${c.why})`}; below it ${c.below} is cheaper.`);
  }
  if (doc.ranking && doc.ranking.costs.length >= 2) {
    const [a, b] = doc.ranking.costs;
    const r = doc.ranking;
    out.push(r.verdict === "decided"
      ? `At ${r.rate} requests/s ${a.target} is the cheapest: ${num(r.ratio!, 2)}× ${b.target}${ci(r.ratio_ci)} (${r.by === "money" ? "money" : "CPU-hours"} per million requests).`
      : `At ${r.rate} requests/s ${a.target} and ${b.target} tie: ratio ${num(r.ratio!, 2)}${ci(r.ratio_ci)} includes 1.`);
  }
  return out;
}

/** The cost table at `rate`: cores, CPU-hours and GB-hours per million requests, money with a price. */
export function costTable(doc: ModelDoc, rate: number, price?: Price): string[] {
  const ranking = rankAt(doc.models, rate, price);
  const lines = [`Ranked by ${ranking.basis}.`, "", `| target | cores at ${rate}/s | CPU-hours per 1M req | memory GB (PSS) | GB-hours per 1M req |${price ? " money per 1M req |" : ""} |`, `|---|---:|---:|---:|---:|${price ? "---:|" : ""}---|`];
  for (const c of ranking.costs) {
    lines.push(`| ${c.target} | ${num(c.cores, 3)}${ci(c.cores_ci, 1, 3)} | ${num(c.cpu_hours_per_million, 3)}${ci(c.cpu_hours_ci, 1, 3)} | ${c.memory_gb === null ? "–" : num(c.memory_gb, 3)} | ${c.gb_hours_per_million === null ? "–" : num(c.gb_hours_per_million, 3)} |${price ? ` ${c.money_per_million === null ? "–" : num(c.money_per_million, 4)}${c.money_ci ? ci(c.money_ci, 1, 4) : ""} |` : ""} ${c.extrapolated ? "extrapolated: outside the measured rates" : ""} |`);
  }
  return lines;
}

export function modelMarkdown(doc: ModelDoc): string {
  const p = doc.params;
  const lines = [`# fleetbench: cost model — CPU per second against the offered rate`, "", ...doc.notes.map((n) => `> ⚠ ${n}\n`)];
  lines.push(`Targets: ${doc.targets.join(", ")}; rates ${p.rates.join(", ")} requests/s, ${p.repeat} round(s) of ${p.duration} after a ${p.warmup} warm-up, each round every rate in a shuffled order (seed ${doc.seed}); fleet of ${p.fleet_size ?? "?"} robots; ${p.hop_latency_ms === null ? "internal hops direct" : `${p.hop_latency_ms} ms per internal hop`}${p.api ? `; API ${p.api}` : "; the 50/30/20 mix"}.`, "");
  lines.push("CPU-seconds per second (cores) = fixed + marginal × rate, fitted by least squares over every sustained run (each round at each rate is a point; x is the rate served over the window). Intervals are 95 % t-intervals from the fit's standard errors; a crossing's interval (Fieller's) comes from the two targets' differences in the blocks — a round at a rate — both ran, so what the machine's moment added to both cancels. Fixed parts in ms of CPU per second, marginal parts in ms of CPU per request.", "");
  lines.push("## What it found", "", ...modelSentences(doc).map((s) => `- ${s}`), "");
  lines.push("## Total CPU (the case, without the load generator and the network proxy)", "", "| target | fixed | marginal | R² | runs | rates sustained |", "|---|---:|---:|---:|---:|---|");
  for (const m of doc.models) lines.push(m.total ? `| ${m.target} | ${fixedText(m.total)} | ${marginalText(m.total)} | ${r2Text(m.total)} | ${m.total.n} | ${m.sustained_rates.join(", ")} |` : `| ${m.target} | – | – | – | – | ${m.no_fit} |`);
  lines.push("", "## Per component", "", "| target | component | fixed | marginal | R² |", "|---|---|---:|---:|---:|");
  for (const m of doc.models) for (const c of COMPONENTS.filter((c) => m.components[c])) lines.push(`| ${m.target} | ${c}${c === "load generator" ? " (not counted)" : c === "network proxy" ? " (not counted)" : ""} | ${fixedText(m.components[c])} | ${marginalText(m.components[c])} | ${r2Text(m.components[c])} |`);
  lines.push("", "## Per process", "", "| target | process | fixed | marginal | R² |", "|---|---|---:|---:|---:|");
  for (const m of doc.models) for (const [name, f] of Object.entries(m.processes_fit)) lines.push(`| ${m.target} | ${name}${inCaseTotal(name) ? "" : " (not counted)"} | ${fixedText(f)} | ${marginalText(f)} | ${r2Text(f)} |`);
  lines.push("", "## Memory: peak PSS per rate (median over rounds)", "", "| target | rate (req/s) | runs | the case's total (MiB) |", "|---|---:|---:|---:|");
  for (const m of doc.models) for (const x of m.pss) lines.push(`| ${m.target} | ${x.rate} | ${x.n} | ${x.total_bytes === null ? "–" : num(x.total_bytes / 2 ** 20, 1)} |`);
  const at = p.at ?? Math.max(...p.rates);
  lines.push("", `## Cost per million requests at ${at} requests/s`, "", ...costTable(doc, at, p.price ?? undefined), "");
  if (doc.crossovers.length) {
    lines.push("## Where the lines cross", "", "| a | b | crossing (req/s) | 95 % interval | paired blocks | cheaper below | note |", "|---|---|---:|---|---:|---|---|");
    for (const c of doc.crossovers) lines.push(`| ${c.a} | ${c.b} | ${c.rate === null ? (c.at === null ? "–" : `(${num(c.at, 1)}, out of range)`) : num(c.rate, 1)} | ${c.ci ? `${num(c.ci[0], 1)}–${num(c.ci[1], 1)}` : "–"} | ${c.paired_blocks ?? "– (independent fits)"} | ${c.below ?? "–"} | ${c.why ?? ""} |`);
    lines.push("");
  }
  if (doc.changes.length) lines.push("## Where the cheapest target changes", "", ...doc.changes.map((c) => `- at ${num(c.rate, 1)} requests/s${c.ci ? ` (${num(c.ci[0], 1)}–${num(c.ci[1], 1)})` : ""}: ${c.from} → ${c.to}`), "");
  const left = doc.models.flatMap((m) => m.not_sustained.map((n) => ({ ...n, target: m.target })));
  if (left.length) lines.push("## Not sustained (left out of the fit)", "", ...left.map((n) => `- ${n.target} at ${n.rate} requests/s, round ${n.round} (${n.file}): ${n.why}`), "");
  lines.push("## Residuals of the total (ms of CPU per second)", "", "| target | round | rate served (req/s) | measured | fitted | residual |", "|---|---:|---:|---:|---:|---:|");
  for (const m of doc.models) for (const r of m.total?.residuals ?? []) lines.push(`| ${m.target} | ${r.round ?? "–"} | ${num(r.x, 1)} | ${num(r.y * 1000, 1)} | ${num(r.fitted * 1000, 1)} | ${num(r.residual * 1000, 1)} |`);
  lines.push("", "## Runs", "", ...doc.blocks.map((b) => `- round ${b.round}, ${b.rate} requests/s: ${b.compare}`), "");
  return `${lines.join("\n")}\n`;
}

/** One chart: a component (or the total) of every target, y in ms of CPU per second. */
export function modelCharts(doc: ModelDoc) {
  const picks: { id: string; title: string; fit: (m: ModelDoc["models"][number]) => Fit | null; y: (p: ModelPoint) => number | null }[] = [
    { id: "total", title: "Total CPU per second (the case, without the load generator)", fit: (m) => m.total, y: (p) => sumCores(p, inCaseTotal) },
    ...COMPONENTS.map((c) => ({ id: `c_${c.replace(" ", "_")}`, title: `CPU per second: ${c}`, fit: (m: ModelDoc["models"][number]) => m.components[c] ?? null, y: (p: ModelPoint) => sumCores(p, (name) => componentOf(name) === c) })),
  ];
  return picks.map((pick) => {
    const series = doc.models.map((m, i) => {
      const fit = pick.fit(m);
      const color = COLORS[i % COLORS.length];
      const points = doc.points.filter((p) => p.target === m.target && p.served_rate !== null).flatMap((p) => {
        const y = pick.y(p);
        return y === null ? [] : [{ x: p.served_rate!, y: y * 1000, sustained: p.sustained }];
      });
      const band = fit ? bandOf(fit) : null;
      return { label: m.target, color, points, band };
    }).filter((s) => s.points.length);
    const crossings = pick.id === "total" ? doc.crossovers.filter((c) => c.rate !== null).map((c) => ({ x: c.rate!, label: `${c.a.split(" · ")[0]} = ${c.b.split(" · ")[0]} at ${num(c.rate!, 0)}/s` })) : [];
    return { id: pick.id, title: pick.title, series, crossings };
  }).filter((c) => c.series.some((s) => s.band));
}

const sumCores = (p: ModelPoint, include: (name: string) => boolean) => {
  const names = Object.keys(p.cores).filter(include);
  return names.length ? names.reduce((s, n) => s + p.cores[n], 0) : null;
};

/** The fitted line and its 95 % band over the fitted range, 24 steps, in ms of CPU per second. */
function bandOf(fit: Fit) {
  const line = lineOf(fit);
  const [lo, hi] = fit.range;
  return Array.from({ length: 25 }, (_, i) => {
    const x = lo + ((hi - lo) * i) / 24;
    const v = valueAt(line, x);
    return { x, y: v.value * 1000, lo: (v.ci?.[0] ?? v.value) * 1000, hi: (v.ci?.[1] ?? v.value) * 1000 };
  });
}

export function modelHtml(doc: ModelDoc, markdown: string): string {
  const chartJs = readFileSync(join(ROOT, "node_modules", "chart.js", "dist", "chart.umd.min.js"), "utf8");
  const charts = modelCharts(doc);
  const data = JSON.stringify(charts).replace(/</g, "\\u003c");
  const found = modelSentences(doc);
  const tables = markdown.split("\n## ").slice(1).filter((s) => s.includes("\n|")).map((section) => {
    const [heading, ...rest] = section.split("\n");
    const before = rest.filter((l) => l && !l.startsWith("|")).map((l) => `<p>${escape(l)}</p>`).join("");
    const rows = rest.filter((l) => l.startsWith("|") && !l.startsWith("|---")).map((l) => l.split("|").slice(1, -1).map((c) => escape(c.trim())));
    const [head, ...body] = rows;
    return `<h2>${escape(heading)}</h2>\n${before}<table><thead><tr>${head.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n")}</tbody></table>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>fleetbench cost model</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.charts{display:grid;grid-template-columns:1fr 1fr;gap:24px}figure{margin:0}#found{border:1px solid #9bc;background:#f3f8fc;padding:8px 14px}.warn{background:#fff4d6;border-left:4px solid #e0a000;padding:6px 10px}@media (max-width:700px){body{margin:1em}.charts{grid-template-columns:1fr}canvas{max-width:100%;height:auto!important}table{display:block;overflow-x:auto}}</style>
<script>${chartJs}</script></head>
<body>
<h1>fleetbench: cost model</h1>
${doc.notes.map((n) => `<p class="warn">⚠ ${escape(n)}</p>`).join("\n")}
<section id="found"><h2>What it found</h2>\n${found.map((s) => `<p class="found">${escape(s)}</p>`).join("\n")}</section>
<p>${escape(markdown.split("\n").find((l) => l.startsWith("CPU-seconds per second")) ?? "")} Filled dots: sustained runs (fitted); open dots: runs not sustained (left out). The band is the line's 95 % interval.</p>
<div class="charts">${charts.map((c) => `<figure><figcaption>${escape(c.title)}</figcaption><canvas id="${c.id}" width="520" height="340"></canvas></figure>`).join("")}</div>
${tables.join("\n")}
<script>
const charts = ${data};
let bands = 0, crossMarks = 0;
const marks = {
  id: "marks",
  afterDatasetsDraw(chart, _args, spec) {
    const { ctx, scales: { x }, chartArea: area } = chart;
    ctx.save(); ctx.setLineDash([5, 4]); ctx.strokeStyle = "#444"; ctx.fillStyle = "#222";
    (spec.crossings || []).forEach((c, i) => {
      const px = x.getPixelForValue(c.x);
      if (px < area.left || px > area.right) return;
      ctx.beginPath(); ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom); ctx.stroke();
      ctx.fillText(c.label, Math.min(px + 4, area.right - 150), area.top + 12 + 12 * i);
      crossMarks++;
    });
    ctx.restore();
  },
};
for (const c of charts) {
  const datasets = [];
  for (const s of c.series) {
    if (s.band) {
      datasets.push({ label: s.label + " 95 % band (low)", data: s.band.map((b) => ({ x: b.x, y: b.lo })), showLine: true, pointRadius: 0, borderWidth: 0, borderColor: s.color, fill: false });
      datasets.push({ label: s.label + " 95 % band", data: s.band.map((b) => ({ x: b.x, y: b.hi })), showLine: true, pointRadius: 0, borderWidth: 0, borderColor: s.color, backgroundColor: s.color + "33", fill: "-1" });
      datasets.push({ label: s.label + " fit", data: s.band.map((b) => ({ x: b.x, y: b.y })), showLine: true, pointRadius: 0, borderWidth: 2, borderColor: s.color });
      bands++;
    }
    datasets.push({ label: s.label, data: s.points.map((p) => ({ x: p.x, y: p.y })), showLine: false, pointRadius: 4, borderColor: s.color,
      backgroundColor: s.points.map((p) => (p.sustained ? s.color : "#ffffff")) });
  }
  new Chart(document.getElementById(c.id), {
    type: "scatter",
    data: { datasets },
    options: {
      animation: false, responsive: false,
      plugins: { marks: { crossings: c.crossings }, legend: { labels: { filter: (item) => !item.text.includes("band (low)") } } },
      scales: { x: { title: { display: true, text: "rate served (requests/s)" } }, y: { beginAtZero: true, title: { display: true, text: "CPU ms per second" } } },
    },
    plugins: [marks],
  });
}
document.body.dataset.charts = String(Object.keys(Chart.instances).length);
document.body.dataset.bands = String(bands);
document.body.dataset.crossmarks = String(crossMarks);
</script>
</body></html>
`;
}

/** Writes results/model-<time>.md and .html next to the model document; returns their paths. */
export function writeModelReport(_config: Config, docPath: string, log: (line: string) => void = console.log) {
  const doc = JSON.parse(readFileSync(docPath, "utf8")) as ModelDoc;
  if (doc.schema_version !== 1 || doc.kind !== "model") throw new Error(`${docPath} is not a fleetbench model document`);
  const markdown = modelMarkdown(doc);
  const base = docPath.replace(/\.json$/, "");
  writeAtomic(`${base}.md`, markdown);
  writeAtomic(`${base}.html`, modelHtml(doc, markdown));
  log(`\n${markdown}`);
  log(`report: ${base}.md and ${base}.html`);
  return { markdown: `${base}.md`, html: `${base}.html`, doc };
}
