/**
 * `report --baseline OTHER` (docs/design.md §13): a comparison against another one, made on another
 * machine or at another commit. What differs between the two (parameters, fingerprint, parity,
 * targets) is listed first, since it can explain any change below it; then, per headline metric,
 * each target's median now against before and each pair's ratio now against before, every change
 * with a bootstrap interval. Pure apart from reading the files.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { RunResult } from "../run/results";
import { escape, EVERY_RUN_INTRO, fixed, HEADLINE } from "../report/report-verdicts";
import { compare as comparePair, type Interval, median, ratioChangeCI, ratioCI } from "../stats/stats";
import { type Comparison, commonFingerprint, flatten, METRICS } from "./verdicts";
import { paritySignature } from "../run/parity";

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
  /** When either comparison left runs out: the same with every run counted, as a check. */
  every_run?: { cases: CaseChange[]; ratios: RatioChange[] };
}

type Values = Record<string, Record<string, number[]>>;

/**
 * A comparison with what a baseline needs: every usable run's value per metric and target, the
 * common fingerprint and the parity per target. Comparisons written before these were kept get
 * them from their run files, which must then lie beside them.
 */
export function loadComparison(path: string): { comparison: Comparison; values: Values; allValues: Values | null } {
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
  const fromRuns = (key: string, target: string, all: boolean) =>
    readRuns().filter((r) => r.target === target && (all || !r.excluded)).map((r) => METRICS[key]?.pick(r.result)).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const values: Values = {};
  for (const [key, m] of Object.entries(comparison.metrics)) {
    values[key] = {};
    for (const target of Object.keys(m.cases)) values[key][target] = kept ? (m.cases[target]?.values ?? []) : fromRuns(key, target, false);
  }
  // With runs left out, the values of every run too: kept in the comparison, else from its run files when they lie beside it.
  let allValues: Values | null = null;
  if (comparison.runs.some((r) => r.excluded)) {
    if (comparison.with_every_run) {
      allValues = Object.fromEntries(Object.entries(comparison.with_every_run).map(([key, m]) => [key, Object.fromEntries(Object.entries(m.cases).map(([t, c]) => [t, c?.values ?? []]))]));
    } else if (comparison.runs.every((r) => existsSync(join(dirname(path), r.file)))) {
      allValues = Object.fromEntries(Object.keys(comparison.metrics).map((key) => [key, Object.fromEntries(comparison.targets.map((t) => [t, fromRuns(key, t, true)]))]));
    }
  }
  comparison.fingerprint ??= commonFingerprint(readRuns().map((r) => r.result.fingerprint));
  comparison.parity ??= Object.fromEntries(comparison.targets.flatMap((t) => {
    const first = readRuns().find((r) => r.target === t);
    return first ? [[t, paritySignature(first.result.extra.parity)]] : [];
  }));
  return { comparison, values, allValues };
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

/** Each target's and each pair's change between two sets of values, for the headline metrics. */
function changesOf(targets: string[], labels: Record<string, { label: string; unit: string }>, now: Values, before: Values, seed: number): { cases: CaseChange[]; ratios: RatioChange[] } {
  const cases: CaseChange[] = [];
  const ratios: RatioChange[] = [];
  for (const key of HEADLINE) {
    if (!labels[key] || !now[key] || !before[key]) continue;
    const { label, unit } = labels[key];
    const present = targets.filter((t) => now[key][t]?.length >= 2 && before[key][t]?.length >= 2);
    for (const t of present) {
      const c = comparePair(now[key][t], before[key][t], { seed });
      cases.push({ metric: key, label, unit, target: t, now: median(now[key][t]), before: median(before[key][t]), change: c.ratio, ci: c.ci, p_value: c.p_value, verdict: c.verdict });
    }
    for (let i = 0; i < present.length; i++) {
      for (let j = i + 1; j < present.length; j++) {
        const [a, b] = [present[i], present[j]];
        const samples = { now: { a: now[key][a], b: now[key][b] }, before: { a: before[key][a], b: before[key][b] } };
        // A ratio needs a positive denominator; a metric at 0 somewhere (no PostgreSQL measured) has none.
        if (![samples.now.b, samples.before.b, samples.now.a, samples.before.a].every((xs) => xs.every((x) => x > 0))) continue;
        const { change, ci } = ratioChangeCI(samples.now, samples.before, { seed });
        ratios.push({
          metric: key, label, a, b,
          // The same seed and function as the comparisons' own verdicts: the same ratios and intervals.
          now: ratioCI(samples.now.a, samples.now.b, { seed }),
          before: ratioCI(samples.before.a, samples.before.b, { seed }),
          change, ci,
          verdict: ci[0] > 1 ? "larger" : ci[1] < 1 ? "smaller" : "no clear change",
        });
      }
    }
  }
  return { cases, ratios };
}

/** This comparison against a baseline: differences first, then every change with its interval. */
export function againstBaseline(nowPath: string, beforePath: string): BaselineComparison {
  const now = loadComparison(nowPath);
  const before = loadComparison(beforePath);
  const seed = now.comparison.seed;
  const targets = now.comparison.targets.filter((t) => before.comparison.targets.includes(t));
  const labels = Object.fromEntries(Object.entries(now.comparison.metrics).map(([k, m]) => [k, { label: m.label, unit: m.unit }]));
  const checked = now.allValues || before.allValues;
  return {
    now: basename(nowPath),
    before: basename(beforePath),
    differences: baselineDifferences(now.comparison, before.comparison),
    ...changesOf(targets, labels, now.values, before.values, seed),
    ...(checked ? { every_run: changesOf(targets, labels, now.allValues ?? now.values, before.allValues ?? before.values, seed) } : {}),
  };
}

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
    b.every_run ? `## ${EVERY_RUN_INTRO.replace(/:$/, "")}\n\n${b.every_run.ratios.map((r) => `- ${ratioSentence(r)}`).join("\n") || "No pair of targets has 2 or more runs in both comparisons."}\n` : "",
  ].join("\n");
}


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
${b.every_run ? `<section id="every-run"><h2>${escape(EVERY_RUN_INTRO.replace(/:$/, ""))}</h2>\n${b.every_run.ratios.map((r) => `<p class="check">${escape(ratioSentence(r))}</p>`).join("\n")}</section>` : ""}
<h2>Each target now against the baseline</h2>
<table><thead><tr>${cells(table[0]).map((c) => `<th>${c}</th>`).join("")}</tr></thead>
<tbody>${table.slice(1).map((l) => `<tr>${cells(l).map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n")}</tbody></table>
</body></html>
`;
}
