/**
 * `report --baseline OTHER` (DESIGN §13): a comparison against another one, made on another
 * machine or at another commit. What differs between the two (parameters, fingerprint, parity,
 * targets) is listed first, since it can explain any change below it; then, per headline metric,
 * each target's median now against before and each pair's ratio now against before, every change
 * with a bootstrap interval. Pure apart from reading the files.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { RunResult } from "./results";
import { HEADLINE } from "./report-verdicts";
import { compare as comparePair, type Interval, ratioChangeCI } from "./stats";
import { type Comparison, commonFingerprint, flatten, METRICS } from "./verdicts";
import { paritySignature } from "./parity";

export interface CaseChange {
  metric: string;
  label: string;
  unit: string;
  target: string;
  now: number;
  before: number;
  /** now / before, with the interval of that ratio. */
  change: number;
  ci: Interval;
  p_value: number;
  verdict: "lower" | "higher" | "no clear difference";
}

export interface RatioChange {
  metric: string;
  label: string;
  a: string;
  b: string;
  now: { ratio: number; ci: Interval };
  before: { ratio: number; ci: Interval };
  /** (a/b now) / (a/b before), with its interval. */
  change: number;
  ci: Interval;
  verdict: "larger" | "smaller" | "no clear change";
}

export interface BaselineComparison {
  now: string;
  before: string;
  differences: string[];
  cases: CaseChange[];
  ratios: RatioChange[];
}

type Values = Record<string, Record<string, number[]>>;

/**
 * A comparison with what a baseline needs: every usable run's value per metric and target, the
 * common fingerprint and the parity per target. Comparisons written before these were kept get
 * them from their run files, which must then lie beside them.
 */
export function loadComparison(path: string): { comparison: Comparison; values: Values } {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const comparison = JSON.parse(readFileSync(path, "utf8")) as Comparison;
  if (comparison.schema_version !== 1 || !comparison.metrics || !Array.isArray(comparison.runs)) throw new Error(`${path} is not a fleetbench comparison (compare-*.json)`);
  const kept = Object.values(comparison.metrics).every((m) => Object.values(m.cases).every((c) => !c || Array.isArray(c.values)));
  let runs: { target: string; excluded: string | null; result: RunResult }[] | null = null;
  const readRuns = () => {
    runs ??= comparison.runs.map((r) => {
      const file = join(dirname(path), r.file);
      if (!existsSync(file)) throw new Error(`${basename(path)} keeps no per-run values and its run ${r.file} is not beside it: copy its runs along, or use a newer comparison`);
      return { target: r.target, excluded: r.excluded, result: JSON.parse(readFileSync(file, "utf8")) as RunResult };
    });
    return runs;
  };
  const values: Values = {};
  for (const [key, m] of Object.entries(comparison.metrics)) {
    values[key] = {};
    for (const target of Object.keys(m.cases)) {
      values[key][target] = kept
        ? (m.cases[target]?.values ?? [])
        : readRuns().filter((r) => r.target === target && !r.excluded).map((r) => METRICS[key]?.pick(r.result)).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    }
  }
  comparison.fingerprint ??= commonFingerprint(readRuns().map((r) => r.result.fingerprint));
  comparison.parity ??= Object.fromEntries(comparison.targets.flatMap((t) => {
    const first = readRuns().find((r) => r.target === t);
    return first ? [[t, paritySignature(first.result.extra.parity)]] : [];
  }));
  return { comparison, values };
}

const show = (v: unknown) => (v !== null && typeof v === "object" && "varies" in (v as object) ? `varies (${(v as { varies: unknown[] }).varies.map((x) => JSON.stringify(x)).join(", ")})` : JSON.stringify(v ?? null));

/** Everything that differs between the two besides the numbers, each as a line "what: now (baseline before)". */
export function baselineDifferences(now: Comparison, before: Comparison): string[] {
  const lines: string[] = [];
  const fields = (label: string, a: Record<string, unknown>, b: Record<string, unknown>) => {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (JSON.stringify(a[key] ?? null) !== JSON.stringify(b[key] ?? null)) lines.push(`${label} ${key}: ${show(a[key])} (baseline ${show(b[key])})`);
    }
  };
  fields("parameter", flatten(now.params ?? {}), flatten(before.params ?? {}));
  fields("fingerprint", now.fingerprint ?? {}, before.fingerprint ?? {});
  for (const t of now.targets.filter((t) => before.targets.includes(t))) {
    const [a, b] = [now.parity?.[t], before.parity?.[t]];
    if (a !== b) lines.push(`parity of ${t}: ${a ?? "none recorded"} (baseline ${b ?? "none recorded"})`);
  }
  for (const t of now.targets.filter((t) => !before.targets.includes(t))) lines.push(`${t} is only in this comparison: not compared`);
  for (const t of before.targets.filter((t) => !now.targets.includes(t))) lines.push(`${t} is only in the baseline: not compared`);
  return lines;
}

/** This comparison against a baseline: differences first, then every change with its interval. */
export function againstBaseline(nowPath: string, beforePath: string): BaselineComparison {
  const now = loadComparison(nowPath);
  const before = loadComparison(beforePath);
  const seed = now.comparison.seed;
  const cases: CaseChange[] = [];
  const ratios: RatioChange[] = [];
  const shared = now.comparison.targets.filter((t) => before.comparison.targets.includes(t));
  for (const key of HEADLINE) {
    const [m, mb] = [now.comparison.metrics[key], before.comparison.metrics[key]];
    if (!m || !mb) continue;
    const usable = (v: Values, t: string) => v[key]?.[t]?.length >= 2;
    const present = shared.filter((t) => usable(now.values, t) && usable(before.values, t));
    for (const t of present) {
      const [a, b] = [now.values[key][t], before.values[key][t]];
      const c = comparePair(a, b, { seed });
      cases.push({ metric: key, label: m.label, unit: m.unit, target: t, now: m.cases[t]!.median, before: mb.cases[t]!.median, change: c.ratio, ci: c.ci, p_value: c.p_value, verdict: c.verdict });
    }
    for (let i = 0; i < present.length; i++) {
      for (let j = i + 1; j < present.length; j++) {
        const [a, b] = [present[i], present[j]];
        const nowPair = m.pairs.find((p) => p.a === a && p.b === b);
        const beforePair = mb.pairs.find((p) => p.a === a && p.b === b);
        if (!nowPair || !beforePair) continue;
        const positive = [now.values[key][a], now.values[key][b], before.values[key][a], before.values[key][b]].every((xs) => xs.every((x) => x > 0));
        if (!positive) continue;
        const { change, ci } = ratioChangeCI({ a: now.values[key][a], b: now.values[key][b] }, { a: before.values[key][a], b: before.values[key][b] }, { seed });
        ratios.push({
          metric: key, label: m.label, a, b,
          now: { ratio: nowPair.ratio, ci: nowPair.ci },
          before: { ratio: beforePair.ratio, ci: beforePair.ci },
          change, ci,
          verdict: ci[0] > 1 ? "larger" : ci[1] < 1 ? "smaller" : "no clear change",
        });
      }
    }
  }
  return { now: basename(nowPath), before: basename(beforePath), differences: baselineDifferences(now.comparison, before.comparison), cases, ratios };
}

const fixed = (x: number, small = 3) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(small));
const range = (ci: Interval) => `${fixed(ci[0], 2)}–${fixed(ci[1], 2)}`;

/** One sentence per ratio: how the pair's ratio moved, with the interval of the move. */
export function ratioSentence(r: RatioChange): string {
  const move = r.verdict === "no clear change" ? "no clear change" : `the ratio is ${r.verdict} now`;
  return `${r.label}: ${r.a} / ${r.b} = ${fixed(r.now.ratio, 2)} [${range(r.now.ci)}] now, ${fixed(r.before.ratio, 2)} [${range(r.before.ci)}] in the baseline: ×${fixed(r.change, 2)} (95 % CI ${range(r.ci)}), ${move}.`;
}

export function baselineMarkdown(b: BaselineComparison): string {
  const caseRows = b.cases.map((c) => `| ${c.label} (${c.unit}) | ${c.target} | ${fixed(c.now)} | ${fixed(c.before)} | ×${fixed(c.change, 2)} [${range(c.ci)}] | ${c.p_value < 0.001 ? "< 0.001" : c.p_value.toFixed(3)} | ${c.verdict === "no clear difference" ? "no clear change" : `${c.verdict} now`} |`);
  return [
    `# fleetbench: ${b.now} against the baseline ${b.before}\n`,
    "## What differs besides the numbers\n",
    b.differences.length ? `${b.differences.map((d) => `- ${d}`).join("\n")}\n` : "Nothing: the same parameters, fingerprint and parity.\n",
    "## How the ratios between the targets changed\n",
    b.ratios.length ? `${b.ratios.map((r) => `- ${ratioSentence(r)}`).join("\n")}\n` : "No pair of targets has 2 or more usable runs in both comparisons.\n",
    "Each change is (a/b now) / (a/b before), with a 95 % percentile bootstrap interval resampling the four sets of runs independently; it is clear when the interval excludes 1.\n",
    "## Each target now against the baseline\n",
    "| metric | target | median now | median baseline | now / baseline [95 % CI] | Mann–Whitney p | verdict |\n|---|---|---:|---:|---:|---:|---|",
    `${caseRows.join("\n")}\n`,
    "On two machines the medians differ with the machines; the ratios above are what carries over.\n",
  ].join("\n");
}

const escape = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);

/** The same as a page: no script, no request. */
export function baselineHtml(b: BaselineComparison): string {
  const md = baselineMarkdown(b);
  const table = md.split("\n").filter((l) => l.startsWith("|") && !l.startsWith("|---"));
  const cells = (l: string) => l.split("|").slice(1, -1).map((c) => escape(c.trim()));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>fleetbench: against a baseline</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child,td:nth-child(2){text-align:left}.warn{background:#fff4d6;border-left:4px solid #e0a000;padding:6px 10px}.change{font-size:15px;margin:4px 0}@media (max-width:700px){body{margin:1em}table{display:block;overflow-x:auto}}</style></head>
<body>
<h1>${escape(b.now)} against the baseline ${escape(b.before)}</h1>
<section id="differences"><h2>What differs besides the numbers</h2>
${b.differences.length ? b.differences.map((d) => `<p class="warn">${escape(d)}</p>`).join("\n") : "<p>Nothing: the same parameters, fingerprint and parity.</p>"}</section>
<section id="ratios"><h2>How the ratios between the targets changed</h2>
${b.ratios.map((r) => `<p class="change">${escape(ratioSentence(r))}</p>`).join("\n") || "<p>No pair of targets has 2 or more usable runs in both comparisons.</p>"}</section>
<h2>Each target now against the baseline</h2>
<table><thead><tr>${cells(table[0]).map((c) => `<th>${c}</th>`).join("")}</tr></thead>
<tbody>${table.slice(1).map((l) => `<tr>${cells(l).map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n")}</tbody></table>
</body></html>
`;
}
