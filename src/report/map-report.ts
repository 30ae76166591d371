/**
 * The decision map of a grid (src/plans/decision.ts): for one rate, per cell of fleet size × hop
 * latency, the cheapest target that meets the SLO there, its ratio to the runner-up with the
 * interval, `tie` where that includes 1, and where in the cell's measured rates the cheapest
 * changes. Markdown (a table) and a self-contained HTML page whose heatmap labels every cell in
 * words, so it reads without colour; colour only repeats what the words say.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sloText } from "../plans/capacity";
import { type Decision, decisionMap } from "../plans/decision";
import { type CellDoc, type GridDoc, gridDir, readCells } from "../plans/grid";
import { type Price } from "../plans/cost";
import { escape } from "./report-verdicts";
import { writeAtomic } from "../run/results";

const num = (v: number, digits = 1) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits));
const capacityText = (c: CellDoc["capacities"][number]) => (c.capacity === null ? "none" : `${c.capacity}${c.note?.includes("at least") ? "+" : ""}`);

/** Where the cheapest target changes in a cell, in words. */
const changesText = (d: Decision) => d.changes.map((c) => `${c.from.split(" · ")[0]} → ${c.to.split(" · ")[0]} at ${num(c.rate)}/s${c.ci ? ` (${num(c.ci[0])}–${num(c.ci[1])})` : ""}`).join("; ");

export function mapMarkdown(grid: GridDoc, cells: CellDoc[], at: number = grid.params.at, price?: Price): string {
  const p = grid.params;
  const decisions = decisionMap(grid, cells, at, price ?? p.price ?? undefined);
  const fleets = [...new Set(grid.cells.map((c) => c.fleet))];
  const hops = [...new Set(grid.cells.map((c) => c.hop_ms))];
  const cellOf = (n: number, d: number) => decisions.find((x) => x.fleet === n && x.hop_ms === d)!;
  const basis = decisions.find((d) => d.basis)?.basis ?? (price || p.price ? "money per million requests" : "CPU-hours per million requests (no price given: ranked by CPU-hours alone)");
  const lines = [`# fleetbench: decision map at ${at} requests/s`, ""];
  lines.push(`Per cell of fleet size × hop latency: the cheapest target that meets ${sloText(p.slo)} (no drops, under 0.1 % errors) at ${at} requests/s, and its cost ÷ the runner-up's with the 95 % interval; \`tie\` where the interval includes 1. Ranked by ${basis}.`, "");
  lines.push(`Grid: fleet ${p.fleet.join(", ")} × hop latency ${p.hops.map((d) => `${d} ms`).join(", ")}${p.quick ? " (quick)" : ""}; targets ${grid.targets.join(", ")}; ${p.repeat} round(s) of ${p.duration} per rate; capacity searched from ${p.at} requests/s up to ${p.at * p.capacity.max_factor} (steps of ${p.capacity.step}, to within ${Math.round(p.capacity.precision * 100)} %); ${cells.length} of ${grid.cells.length} cells measured.`, "");
  lines.push("## The map", "", `| fleet \\ hop latency | ${hops.map((d) => `${d} ms`).join(" | ")} |`, `|---|${hops.map(() => "---").join("|")}|`);
  for (const n of fleets) lines.push(`| N = ${n} | ${hops.map((d) => cellOf(n, d).words).join(" | ")} |`);
  lines.push("");
  const changes = decisions.filter((d) => d.changes.length);
  lines.push("## Where the cheapest target changes", "", ...(changes.length ? changes.map((d) => `- N = ${d.fleet}, ${d.hop_ms} ms: ${changesText(d)}`) : ["- in no cell within its measured rates"]), "");
  lines.push("## Capacity per cell (requests/s at the SLO)", "", `| cell | ${grid.targets.join(" | ")} |`, `|---|${grid.targets.map(() => "---:").join("|")}|`);
  for (const c of grid.cells) {
    const cell = cells.find((x) => x.fleet === c.fleet && x.hop_ms === c.hop_ms);
    lines.push(`| N = ${c.fleet}, ${c.hop_ms} ms | ${grid.targets.map((t) => { const k = cell?.capacities.find((x) => x.target === t); return k ? capacityText(k) : "–"; }).join(" | ")} |`);
  }
  lines.push("", "“+”: met the SLO at the search's maximum, so at least that.", "");
  lines.push("## CPU per request at the map's rate (the model of each cell)", "", `| cell | ${grid.targets.join(" | ")} |`, `|---|${grid.targets.map(() => "---:").join("|")}|`);
  for (const c of grid.cells) {
    const cell = cells.find((x) => x.fleet === c.fleet && x.hop_ms === c.hop_ms);
    lines.push(`| N = ${c.fleet}, ${c.hop_ms} ms | ${grid.targets.map((t) => {
      const m = cell?.model?.models.find((x) => x.target === t);
      if (!m?.total) return cell && !cell.eligible.includes(t) ? "misses the SLO" : "–";
      const cores = m.total.fixed + m.total.marginal * at;
      return `${num((cores / at) * 1000, 2)} ms (${num(m.total.fixed * 1000)} ms/s + ${num(m.total.marginal * 1000, 3)} ms/req)`;
    }).join(" | ")} |`);
  }
  lines.push("", "## Cells", "", ...grid.cells.map((c) => `- N = ${c.fleet}, ${c.hop_ms} ms: ${cells.some((x) => x.fleet === c.fleet && x.hop_ms === c.hop_ms) ? c.file : "not measured (resume the grid)"}`), "");
  return `${lines.join("\n")}\n`;
}

/** The verdict's class on the page: the words say the same. */
const klass = (d: Decision) => (d.verdict === "decided" ? "decided" : d.verdict === "tie" ? "tie" : d.verdict === "alone" ? "alone" : d.verdict === "not measured" ? "pending" : "none");
const PALETTE = ["#cfe3f7", "#f7d4d4", "#d4f0d4", "#e6dcf5", "#fde3c8", "#e8dbd6"];

export function mapHtml(grid: GridDoc, cells: CellDoc[], markdown: string, at: number = grid.params.at, price?: Price): string {
  const decisions = decisionMap(grid, cells, at, price ?? grid.params.price ?? undefined);
  const fleets = [...new Set(grid.cells.map((c) => c.fleet))];
  const hops = [...new Set(grid.cells.map((c) => c.hop_ms))];
  const colour = (d: Decision) => (d.verdict === "decided" || d.verdict === "alone") && d.cheapest ? PALETTE[Math.max(0, grid.targets.indexOf(d.cheapest)) % PALETTE.length] : d.verdict === "tie" ? "#eeeeee" : "#ffffff";
  const heat = `<table id="map" class="heatmap"><caption>Cheapest target meeting the SLO at ${at} requests/s (rows: fleet size; columns: latency per internal hop)</caption>
<thead><tr><th scope="col">fleet \\ hop latency</th>${hops.map((d) => `<th scope="col">${d} ms</th>`).join("")}</tr></thead><tbody>
${fleets.map((n) => `<tr><th scope="row">N = ${n}</th>${hops.map((d) => {
    const x = decisions.find((y) => y.fleet === n && y.hop_ms === d)!;
    const change = x.changes.length ? `<span class="change">cheapest changes: ${escape(changesText(x))}</span>` : "";
    return `<td class="cell ${klass(x)}" data-verdict="${x.verdict}" style="background:${colour(x)}"><strong>${escape(x.verdict === "decided" ? "decided" : x.verdict === "tie" ? "tie" : x.verdict === "alone" ? "only one meets the SLO" : x.verdict === "not measured" ? "not measured" : "none meets the SLO")}</strong><span class="words">${escape(x.words)}</span>${change}</td>`;
  }).join("")}</tr>`).join("\n")}
</tbody></table>`;
  const tables = markdown.split("\n## ").slice(2).map((section) => {
    const [heading, ...rest] = section.split("\n");
    const rows = rest.filter((l) => l.startsWith("|") && !l.startsWith("|---")).map((l) => l.split("|").slice(1, -1).map((c) => escape(c.trim())));
    const text = rest.filter((l) => l && !l.startsWith("|")).map((l) => `<p>${escape(l.replace(/^- /, "• "))}</p>`).join("");
    if (!rows.length) return `<h2>${escape(heading)}</h2>${text}`;
    const [head, ...body] = rows;
    return `<h2>${escape(heading)}</h2><table><thead><tr>${head.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n")}</tbody></table>${text}`;
  });
  const intro = markdown.split("\n").filter((l) => l.startsWith("Per cell") || l.startsWith("Grid:")).map((l) => `<p>${escape(l.replace(/`/g, ""))}</p>`).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>fleetbench decision map at ${at} requests/s</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:4px 8px}
.heatmap td{width:16em;vertical-align:top;text-align:left}.heatmap strong{display:block;text-transform:uppercase;font-size:12px;letter-spacing:.04em}.heatmap .words{display:block;margin-top:2px}.heatmap .change{display:block;margin-top:4px;font-size:12px}
.heatmap td.tie{background-image:repeating-linear-gradient(45deg,transparent 0 6px,#d8d8d8 6px 8px)!important}.heatmap td.none,.heatmap td.pending{border-style:dashed}
caption{caption-side:top;text-align:left;font-weight:600;margin-bottom:6px}@media (max-width:700px){body{margin:1em}table{display:block;overflow-x:auto}}</style></head>
<body>
<h1>fleetbench: decision map at ${at} requests/s</h1>
${intro}
${heat}
${tables.join("\n")}
<script>
document.body.dataset.cells = String(document.querySelectorAll("#map td.cell").length);
document.body.dataset.decided = String(document.querySelectorAll("#map td.decided").length);
document.body.dataset.ties = String(document.querySelectorAll("#map td.tie").length);
</script>
</body></html>
`;
}

/** Writes map-at-<R>.md and .html into the grid's folder; returns their paths. */
export function writeMapReport(dirOrFile: string, options: { at?: number; price?: Price } = {}, log: (line: string) => void = console.log) {
  const dir = gridDir(dirOrFile);
  const grid = JSON.parse(readFileSync(join(dir, "grid.json"), "utf8")) as GridDoc;
  const cells = readCells(dir);
  const at = options.at ?? grid.params.at;
  const markdown = mapMarkdown(grid, cells, at, options.price);
  const base = join(dir, `map-at-${at}`);
  writeAtomic(`${base}.md`, markdown);
  writeAtomic(`${base}.html`, mapHtml(grid, cells, markdown, at, options.price));
  log(`\n${markdown}`);
  log(`map: ${base}.md and ${base}.html`);
  return { markdown: `${base}.md`, html: `${base}.html` };
}
