/**
 * The parts of the report that come from a comparison's verdicts (results/compare-<time>.json,
 * src/bench/verdicts.ts): what it found, in words, first; each target's medians with their intervals
 * and CV; the runs left out and why; the rounds' orders and every run's canary index.
 */
import { NOISY_CV } from "../bench/stats";
import type { Comparison } from "../bench/verdicts";

/** The metrics the report opens with, in this order (DESIGN §13's headline metrics). */
export const HEADLINE = ["cpu_ms_total", "cpu_ms_gateway", "cpu_ms_subgraphs", "cpu_ms_data_services", "cpu_ms_postgres", "ok_rps", "latency_p50", "latency_p99"];

/** A number at a readable precision: whole above 100, one decimal above 10, else `small` decimals. */
export const fixed = (x: number, small = 3) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(small));
const p = (x: number) => (x < 0.001 ? "p < 0.001" : `p = ${x.toFixed(3)}`);

/** Text for an HTML page. */
export const escape = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);

/** One sentence per pair: which target is lower, by what ratio and interval, or no clear difference. */
export function verdictSentences(c: Comparison, key: string): string[] {
  const m = c.metrics[key];
  if (!m) return [];
  return m.pairs.map((pair) => {
    const interval = `ratio ${fixed(pair.ratio, 2)}, 95 % CI ${fixed(pair.ci[0], 2)}–${fixed(pair.ci[1], 2)}, ${p(pair.p_value)}`;
    if (pair.verdict === "lower") return `${m.label}: ${pair.a} is lower than ${pair.b} (${interval}).`;
    if (pair.verdict === "higher") return `${m.label}: ${pair.a} is higher than ${pair.b} (${interval}).`;
    return `${m.label}: no clear difference between ${pair.a} and ${pair.b} (${interval}).`;
  });
}

/** "What it found": one sentence per pair of targets and headline metric, or why there are none. */
export function verdictLines(c: Comparison): string[] {
  const rounds = Math.max(0, ...Object.values(c.metrics).flatMap((m) => Object.values(m.cases).map((s) => s?.n ?? 0)));
  if (rounds < 2) {
    return [`Each target has fewer than 2 usable runs: no intervals and no verdicts. Run \`just compare VUS DURATION --repeat 5\` for them.`];
  }
  const fewest = Math.min(...Object.values(c.metrics).flatMap((m) => Object.values(m.cases).filter(Boolean).map((s) => s!.n)));
  // With n runs per side, a two-sided Mann–Whitney test cannot go below p = 2 / C(2n, n):
  // 0.33 at n = 2, 0.1 at n = 3, 0.029 at n = 4.
  const tooFew = fewest < 4 ? [`With ${fewest} usable run(s) per target no difference can reach p < 0.05 (a two-sided Mann–Whitney test needs at least 4 per side): every verdict below is "no clear difference" by construction; use --repeat 5.`] : [];
  return [...tooFew, ...HEADLINE.flatMap((key) => verdictSentences(c, key))];
}

/** Each target's median [95 % CI] and CV per headline metric; a CV above 3 % is marked noisy. */
export function summaryTable(c: Comparison): string {
  const head = `| metric | ${c.targets.join(" | ")} |\n|---|${c.targets.map(() => "---:").join("|")}|`;
  const rows = HEADLINE.filter((k) => c.metrics[k]).map((key) => {
    const m = c.metrics[key];
    const cells = c.targets.map((t) => {
      const s = m.cases[t];
      if (!s) return "–";
      const cv = s.cv === null ? "" : `, CV ${(s.cv * 100).toFixed(1)} %${s.cv > NOISY_CV ? " (noisy)" : ""}`;
      return `${fixed(s.median)} [${fixed(s.ci[0])}–${fixed(s.ci[1])}]${cv}, n ${s.n}`;
    });
    return `| ${m.label} (${m.unit}) | ${cells.join(" | ")} |`;
  });
  return `${head}\n${rows.join("\n")}\n`;
}

/**
 * When runs were left out: the same sentences with every run counted, so a reader sees how much
 * the exclusions decide (on a noisy machine they can leave too few runs for any verdict).
 */
export function everyRunLines(c: Comparison): string[] {
  if (!c.with_every_run) return [];
  const all = { ...c, metrics: c.with_every_run };
  return HEADLINE.flatMap((key) => verdictSentences(all, key));
}

export const EVERY_RUN_INTRO = "As a check, with every run counted (the left-out ones too; not the verdict, which stands above):";

/** Runs left out of the verdicts, with the reason. */
export function excludedLines(c: Comparison): string[] {
  return c.runs.filter((r) => r.excluded).map((r) => `${r.file} (${r.target}, round ${r.round}): left out, ${r.excluded}`);
}

/** Per round: the order the targets ran in; per run: its canary index and flags. */
export function roundsTable(c: Comparison): string {
  const head = "| round | order | run | target | canary index | flags |\n|---:|---|---|---|---:|---|";
  const rows = c.runs.map((r) => {
    const order = c.rounds.find((x) => x.round === r.round)?.order.join(" → ") ?? "";
    return `| ${r.round} | ${order} | ${r.file} | ${r.target} | ${r.canary_index ?? "–"} | ${r.flags.join(", ") || "–"} |`;
  });
  return `${head}\n${rows.join("\n")}\n`;
}

/** The whole verdict part of the Markdown report. */
export function verdictMarkdown(c: Comparison): string {
  const excluded = excludedLines(c);
  return [
    "## What it found\n",
    `${verdictLines(c).map((l) => `- ${l}`).join("\n")}\n`,
    `Medians over rounds with 95 % bootstrap intervals (10,000 resamples, seed ${c.seed}); verdicts need the interval of the ratio to exclude 1 and a two-sided Mann–Whitney p < 0.05. Runs flagged errors, unstable or machine_slow are left out.\n`,
    summaryTable(c),
    excluded.length ? `Left out of the verdicts:\n\n${excluded.map((l) => `- ${l}`).join("\n")}\n` : "",
    everyRunLines(c).length ? `${EVERY_RUN_INTRO}\n\n${everyRunLines(c).map((l) => `- ${l}`).join("\n")}\n` : "",
    `## Rounds\n\nThe order of every round is shuffled from seed ${c.seed} (\`--seed ${c.seed}\` repeats it); canary median ${c.canary_median ?? "–"} (a run more than 10 % slower is flagged machine_slow).\n`,
    roundsTable(c),
  ].filter(Boolean).join("\n");
}

/** The interval of a metric's median per column label, for the charts' error bars. */
export function intervals(c: Comparison | undefined, key: string, targets: string[]): ([number, number] | null)[] {
  return targets.map((t) => c?.metrics[key]?.cases[t]?.ci ?? null);
}
