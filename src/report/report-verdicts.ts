/**
 * The parts of the report that come from a comparison's verdicts (results/compare-<time>.json,
 * src/plans/verdicts.ts). The first screen is the answer (docs/design.md §18): the parameters and
 * operating points in one line, one verdict matrix (targets × headline metrics: median [interval],
 * ratio to a reference target [interval], verdict), then at most five plain sentences, largest
 * effects first. Below it: every pair in words, each target's medians, the rounds lost and the runs
 * left out, the unpaired check, the rounds' orders with every run's canary and steal time.
 * Comparisons written before the paired analysis render with their own (unpaired) verdicts. How
 * one pair is read and worded (either side, older files, what an undecided pair would take) is
 * src/report/paired-text.ts.
 */
import { costSplitLines } from "../plans/cost-split";
import { UNTIL_DECIDED_METRICS } from "../plans/until-decided";
import type { PairedComparison } from "../stats/paired";
import type { Comparison, PairEntry } from "../plans/verdicts";
import { CALM, type MachineWait, WAIT_BUDGET_MS } from "../run/canary";
import { bandText, fixed, inverted, needs, p, pairedOf, pct, read, verdictInterval, withInterval } from "./paired-text";

// Read by src/plans/baseline.ts and kept for other readers of this module.
export { fixed, inverted, pairedOf, withInterval };

/** The metrics the report lists, in this order (docs/design.md §13's headline metrics). */
export const HEADLINE = ["cpu_ms_total", "cpu_ms_marginal", "cpu_ms_gateway", "cpu_ms_subgraphs", "cpu_ms_data_services", "cpu_ms_postgres", "ok_rps", "latency_p50", "latency_p99", "latency_p50_at_rate", "latency_p99_at_rate"];
/** The verdict matrix's columns: cost, capacity and tail latency. */
export const MATRIX = ["cpu_ms_total", "cpu_ms_marginal", "ok_rps", "latency_p99", "latency_p99_at_rate"];
/** Sentences on the first screen. */
export const MAX_SENTENCES = 5;

/** Text for an HTML page. */
export const escape = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);

const isPaired = (c: Comparison) => Object.values(c.metrics).some((m) => m.pairs.some((x) => x.paired));

/** One sentence for a pair of a metric, paired when the comparison has it. */
function pairSentence(c: Comparison, key: string, label: string, pair: PairEntry): string {
  if (!pair.paired) {
    const interval = `ratio ${fixed(pair.ratio, 2)}, 95 % CI ${fixed(pair.ci[0], 2)}–${fixed(pair.ci[1], 2)}, ${p(pair.p_value)}`;
    if (pair.verdict === "lower") return `${label}: ${pair.a} is lower than ${pair.b} (${interval}).`;
    if (pair.verdict === "higher") return `${label}: ${pair.a} is higher than ${pair.b} (${interval}).`;
    return `${label}: no clear difference between ${pair.a} and ${pair.b} (${interval}).`;
  }
  const x = read(c, key, pair.paired);
  if (x.rounds < 2) return `${label}: ${pair.a} against ${pair.b} is inconclusive (${needs(x)}).`;
  const adjusted = x.p_adjusted !== x.p_value ? ` (adjusted ${p(x.p_adjusted).replace("p ", "")})` : "";
  const tests = `${p(x.p_value)}${adjusted}${x.p_sign_flip !== null ? `, sign-flip ${p(x.p_sign_flip)}` : ""}`;
  const interval = `ratio ${fixed(x.ratio, 2)}, ${verdictInterval(x)}, paired over ${x.rounds} rounds`;
  const lost = x.lost.length ? `; ${x.lost.length} round(s) lost` : "";
  if (x.verdict === "lower") return `${label}: ${pair.a} is lower than ${pair.b} (${interval}, ${tests}${lost}).`;
  if (x.verdict === "higher") return `${label}: ${pair.a} is higher than ${pair.b} (${interval}, ${tests}${lost}).`;
  if (x.verdict === "equivalent") {
    const tost = x.p_equivalence !== undefined ? `, two one-sided tests ${p(x.p_equivalence_adjusted ?? x.p_equivalence)}` : "";
    return `${label}: ${pair.a} and ${pair.b} are equivalent, within ${bandText(c)} (${interval}${tost}${lost}).`;
  }
  return `${label}: ${pair.a} against ${pair.b} is inconclusive (${interval}, ${tests}; ${needs(x)}${lost}).`;
}

/** One sentence per pair: the verdict with its ratio, interval and p-value. */
export function verdictSentences(c: Comparison, key: string): string[] {
  const m = c.metrics[key];
  if (!m) return [];
  const label = m.operating_point ? `${m.label} ${m.operating_point}` : m.label;
  return m.pairs.map((pair) => pairSentence(c, key, label, pair));
}

/** The reference target of the matrix: the cheapest by total CPU per request, else the first target. */
export function referenceTarget(c: Comparison): string {
  const cases = c.metrics.cpu_ms_total?.cases ?? {};
  const ranked = c.targets.filter((t) => cases[t]).sort((x, y) => cases[x]!.median - cases[y]!.median);
  return ranked[0] ?? c.targets[0];
}

/** The parameters and operating points in one line: what every number below was measured at. */
export function parametersLine(c: Comparison): string {
  const pr = c.params as Record<string, unknown>;
  const rounds = c.rounds.length || Math.max(0, ...c.runs.map((r) => r.round));
  // Each operating point once; the equal rate with where it came from.
  const points = [...new Set(MATRIX.flatMap((k) => (c.metrics[k]?.operating_point ? [c.metrics[k].operating_point!] : [])))]
    .sort((a, b) => Number(a.includes("open model")) - Number(b.includes("open model")))
    .map((point) => (point.includes("open model") && pr.rate_from ? point.replace("(open model)", `(open model; ${pr.rate_from})`) : point));
  const parts = [
    `${c.targets.length} targets × ${rounds} round(s), each round in its own shuffled order (seed ${c.seed})`,
    points.length ? `measured ${points.join(" and ")}` : "",
    pr.duration ? `${pr.rate_duration ? `${pr.duration} runs at the VUs, ${pr.rate_duration} at the rate,` : `${pr.duration} runs`} after a ${pr.warmup ?? "0s"} warm-up${pr.same_start === true ? " (each run at the rate on the start of its target's run at the VUs, just after it)" : pr.same_start ? " (a native target's run at the rate on the start of its run at the VUs, just after it)" : ""}` : "",
    pr.api ? `API ${pr.api} only` : "mix 50/30/20",
    !c.analysis ? "verdicts unpaired (a comparison from before the paired analysis)"
      : c.analysis.equivalence_test ? `verdicts paired by round, equivalent within ${bandText(c)} on the log ratio (two one-sided tests), corrected over each metric's pairs; a cell's interval is the one its verdict rests on`
      : `verdicts paired by round, equivalent when the 95 % interval lies within ${1 - c.analysis.equivalence}–${1 + c.analysis.equivalence} (a comparison from before the symmetric band), ${c.analysis.multiplicity}`,
  ].filter(Boolean);
  return `${parts.join("; ")}.`;
}

/** The cell of target `t` in metric `key`: median [interval]; ratio to the reference [interval] and verdict. */
function matrixCell(c: Comparison, key: string, t: string, ref: string): string {
  const s = c.metrics[key]?.cases[t];
  if (!s) return "–";
  const median = withInterval(s.median, s.ci, s.ci_level);
  if (t === ref) return `${median}; reference`;
  const x = pairedOf(c, key, t, ref);
  if (!x) {
    const old = c.metrics[key].pairs.find((q) => (q.a === t && q.b === ref) || (q.a === ref && q.b === t));
    if (!old) return median;
    const mine = old.a === t;
    const ratio = mine ? old.ratio : 1 / old.ratio;
    const verdict = old.verdict === "no clear difference" ? old.verdict : (old.verdict === "lower") === mine ? "lower" : "higher";
    return `${median}; ×${fixed(ratio, 2)} ${verdict}`;
  }
  if (x.rounds < 2) return `${median}; inconclusive (${x.rounds} round(s))`;
  // The interval the verdict rests on, so one that excludes 1 never stands beside "inconclusive".
  const ratio = `×${fixed(x.ratio, 2)} (${verdictInterval(x)})`;
  const needed = x.rounds_to_equivalence ?? x.rounds_to_difference;
  const word = x.verdict === "inconclusive" && needed != null ? `inconclusive (~${needed} rounds for 80 % power)` : x.verdict;
  return `${median}; ${ratio} ${word}`;
}

/** The verdict matrix: one row per target, one column per headline metric, against the reference target. */
export function verdictMatrix(c: Comparison): string {
  const keys = MATRIX.filter((k) => c.metrics[k]);
  const ref = referenceTarget(c);
  const head = `| target | ${keys.map((k) => `${c.metrics[k].label} (${c.metrics[k].unit})${c.metrics[k].operating_point ? ` ${c.metrics[k].operating_point}` : ""}`).join(" | ")} |\n|---|${keys.map(() => "---").join("|")}|`;
  const rows = c.targets.map((t) => `| ${t} | ${keys.map((k) => matrixCell(c, k, t, ref)).join(" | ")} |`);
  return `${head}\n${rows.join("\n")}\n`;
}

/** How a metric's ratio reads in a sentence: "costs 10× X's CPU per request", "serves 0.2× X's throughput". */
function effectSentence(c: Comparison, key: string, a: string, b: string, x: PairedComparison): string {
  const m = c.metrics[key];
  const at = m.operating_point ? ` ${m.operating_point}` : "";
  const times = `${fixed(x.ratio, 2)}×`;
  const ci = `${verdictInterval(x)}×, ${x.rounds} rounds`;
  if (x.verdict === "equivalent") return `${a} and ${b} are equivalent in ${m.label}${at}, within ${bandText(c)} (ratio ${fixed(x.ratio, 3)}, ${ci}).`;
  if (key.startsWith("cpu_ms_total")) return `${a} costs ${times} ${b}'s CPU per request${at} (${ci}).`;
  if (key === "cpu_ms_marginal") return `${a} costs ${times} ${b}'s marginal CPU per request (beyond the fixed cost per second) (${ci}).`;
  if (key === "ok_rps") return `${a} serves ${times} ${b}'s throughput${at} (${ci}).`;
  return `${a}'s ${m.label} is ${times} ${b}'s${at} (${ci}).`;
}

/**
 * The first screen's sentences: the decided pairs of the matrix's metrics — lower, higher and
 * equivalent alike, each said as a ratio of at least 1 with the interval its cell shows — largest
 * effects first and equivalences after them, the first of each metric before a second of any; then,
 * when some pair is undecided, one line on what they would take. At most MAX_SENTENCES.
 */
export function headlineSentences(c: Comparison): string[] {
  if (!isPaired(c)) return verdictLinesUnpaired(c).slice(0, MAX_SENTENCES);
  const found: { key: string; a: string; b: string; x: PairedComparison; size: number }[] = [];
  const open: { key: string; a: string; b: string; x: PairedComparison }[] = [];
  for (const key of MATRIX) {
    for (const pair of c.metrics[key]?.pairs ?? []) {
      if (!pair.paired) continue;
      const stored = read(c, key, pair.paired);
      // Every effect as a ratio of at least 1: "a costs 10× b", never "0.1×".
      const x = stored.ratio < 1 ? inverted(stored) : stored;
      const [a, b] = stored.ratio < 1 ? [pair.b, pair.a] : [pair.a, pair.b];
      // Equivalences rank after every difference: size −1 keeps them behind.
      if (x.verdict === "higher" || x.verdict === "lower") found.push({ key, a, b, x, size: Math.abs(Math.log(x.ratio)) });
      else if (x.verdict === "equivalent") found.push({ key, a, b, x, size: -1 });
      else if (x.rounds >= 2) open.push({ key, a, b, x });
    }
  }
  // The first of each metric, then the largest of the rest: five sentences of one metric would hide
  // the others. The last line is kept for the undecided pairs, when there are some.
  const room = open.length ? MAX_SENTENCES - 1 : MAX_SENTENCES;
  found.sort((u, v) => v.size - u.size);
  const chosen = MATRIX.flatMap((key) => found.filter((f) => f.key === key).slice(0, 1)).slice(0, room);
  for (const f of found) if (chosen.length < room && !chosen.includes(f)) chosen.push(f);
  const lines = chosen.sort((u, v) => v.size - u.size).map((f) => effectSentence(c, f.key, f.a, f.b, f.x));
  if (open.length) {
    // What the undecided pairs would take: the differences these rounds detect, and the rounds a new comparison would need.
    const cpu = open.filter((o) => o.key === "cpu_ms_total" && o.x.detectable != null);
    const [least, widest] = cpu.length ? [Math.min(...cpu.map((o) => o.x.detectable!)), Math.max(...cpu.map((o) => o.x.detectable!))] : [0, 0];
    const range = pct(least) === pct(widest) ? `±${pct(least)}` : `±${pct(least)} to ±${pct(widest)}`;
    const detects = cpu.length ? ` these rounds detect differences in total CPU per request of ${range} with 80 % power` : "";
    const needed = open.map((o) => o.x.rounds_to_difference ?? o.x.rounds_to_equivalence).filter((r): r is number => r != null);
    const most = needed.length ? ` (a new comparison would need up to about ${Math.max(...needed)} rounds, \`--repeat N\`, to decide them or show them equivalent with 80 % power)` : "";
    // Rerunning until a verdict appears would not keep the error rates; the sequential procedure does.
    const sequential = c.sequential || !open.some((o) => UNTIL_DECIDED_METRICS.includes(o.key)) ? ""
      : "; `just compare VUS DURATION --until-decided --budget 20m` adds rounds only until every total-CPU and throughput pair is decided, with error rates that hold under that stopping";
    lines.push(`${open.length} pair(s) of these metrics are inconclusive at ${open[0].x.rounds} rounds:${detects || " see every pair below"}${most}${sequential}.`);
  }
  if (!lines.length) lines.push("No pair of the headline metrics has two usable rounds; every pair is listed below.");
  return lines;
}

/** The old verdict lines (a comparison from before the paired analysis). */
function verdictLinesUnpaired(c: Comparison): string[] {
  const rounds = Math.max(0, ...Object.values(c.metrics).flatMap((m) => Object.values(m.cases).map((s) => s?.n ?? 0)));
  if (rounds < 2) return ["Each target has fewer than 2 usable runs: no intervals and no verdicts. Run `just compare VUS DURATION --repeat 5` for them."];
  return HEADLINE.flatMap((key) => verdictSentences(c, key));
}

/** Every pair of every headline metric, in words (below the first screen). */
export function verdictLines(c: Comparison): string[] {
  const rounds = Math.max(0, ...c.runs.map((r) => r.round));
  if (rounds < 2 && isPaired(c)) return [`${rounds} round(s): a verdict needs at least 2 rounds. Run \`just compare --repeat 5\` for them.`];
  return HEADLINE.flatMap((key) => verdictSentences(c, key));
}

/** Each target's median [interval] and CV per headline metric (a machine's noise is judged by the pairs' spread, not by a fixed CV). */
export function summaryTable(c: Comparison): string {
  const head = `| metric | ${c.targets.join(" | ")} |\n|---|${c.targets.map(() => "---:").join("|")}|`;
  const rows = HEADLINE.filter((k) => c.metrics[k]).map((key) => {
    const m = c.metrics[key];
    const cells = c.targets.map((t) => {
      const s = m.cases[t];
      if (!s) return "–";
      const cv = s.cv === null ? "" : `, CV ${(s.cv * 100).toFixed(1)} %`;
      return `${withInterval(s.median, s.ci, s.ci_level)}${cv}, n ${s.n}`;
    });
    return `| ${m.label} (${m.unit})${m.operating_point ? ` ${m.operating_point}` : ""} | ${cells.join(" | ")} |`;
  });
  return `${head}\n${rows.join("\n")}\n`;
}

/** The unpaired analysis of the same runs, as a check of what pairing by round changes. */
export function unpairedLines(c: Comparison): string[] {
  if (!isPaired(c)) return [];
  return MATRIX.flatMap((key) => {
    const m = c.metrics[key];
    if (!m) return [];
    return m.pairs.filter((x) => Number.isFinite(x.ratio)).map((x) => `${m.label}: ${x.a} / ${x.b} ratio of medians ${fixed(x.ratio, 2)} [${fixed(x.ci[0], 2)}–${fixed(x.ci[1], 2)}], Mann–Whitney ${p(x.p_value)} (${x.verdict}); paired: ${fixed(x.paired!.ratio, 2)} [${fixed(x.paired!.ci[0], 2)}–${fixed(x.paired!.ci[1], 2)}]`);
  });
}
export const UNPAIRED_INTRO = "The same runs without pairing (ratio of medians, bootstrap interval, Mann–Whitney), as a check of what the rounds' pairing changes:";

/**
 * When runs were left out: the same sentences with every run counted, so a reader sees how much
 * the exclusions decide.
 */
export function everyRunLines(c: Comparison): string[] {
  if (!c.with_every_run) return [];
  const all = { ...c, metrics: c.with_every_run };
  return MATRIX.flatMap((key) => verdictSentences(all, key));
}

export const EVERY_RUN_INTRO = "As a check, with every run counted (the left-out ones too; not the verdict, which stands above):";

/** Runs left out of the verdicts, with the reason; and the rounds each pair lost through them. */
export function excludedLines(c: Comparison): string[] {
  return c.runs.filter((r) => r.excluded).map((r) => `${r.file} (${r.target}, round ${r.round}): left out, ${r.excluded}; its round's pairs with ${r.target} are lost, the rest of the round counts`);
}

/** "5.5 s (canary 101.8 first)": a run that waited for the machine before it started; "–" for one that did not. */
const waitText = (w: MachineWait | undefined) => (w ? `${(w.waited_ms / 1000).toFixed(1)} s (canary ${w.first_index} first${w.calm ? "" : "; still slow"})` : "–");

/** Per round: the order the targets ran in; per run: its canary index, the wait for the machine, steal time and flags. */
export function roundsTable(c: Comparison): string {
  const head = "| round | order | run | target | canary index | waited for the machine | steal | flags |\n|---:|---|---|---|---:|---|---:|---|";
  const rows = c.runs.map((r) => {
    const order = c.rounds.find((x) => x.round === r.round)?.order.join(" → ") ?? "";
    const steal = typeof r.steal_pct === "number" ? `${r.steal_pct.toFixed(1)} %` : "–";
    return `| ${r.round} | ${order} | ${r.file} | ${r.target} | ${r.canary_index ?? "–"} | ${waitText(r.machine_wait)} | ${steal} | ${r.flags.join(", ") || "–"} |`;
  });
  return `${head}\n${rows.join("\n")}\n`;
}

/** The first screen in Markdown: parameters, the matrix, the sentences. */
export function firstScreenMarkdown(c: Comparison): string {
  const split = costSplitLines(c.cost_split ?? [], c.params.rate as number | undefined);
  const sequential = c.sequential
    ? `Rounds were added until decided (${c.sequential.stopped}): the verdicts and intervals of ${Object.keys(c.sequential.metrics).map((k) => c.metrics[k]?.label ?? k).join(" and ")} are the sequential procedure's — ${c.sequential.method}.\n`
    : "";
  return [
    `${parametersLine(c)}\n`,
    sequential,
    verdictMatrix(c),
    `${headlineSentences(c).map((l) => `- ${l}`).join("\n")}\n`,
    split.length ? `${split[0]}\n\n${split.slice(1).map((l) => `- ${l}`).join("\n")}\n` : "",
  ].filter(Boolean).join("\n");
}

/** The rest of the verdict part of the Markdown report. */
export function verdictMarkdown(c: Comparison): string {
  const excluded = excludedLines(c);
  const unpaired = unpairedLines(c);
  const exact = Object.values(c.metrics).some((m) => Object.values(m.cases).some((x) => x && x.ci_level !== undefined));
  const medians = exact
    ? "Medians per target with their exact order-statistic intervals: at least 95 % from 6 rounds on; below that [min, max], marked with what it covers (94 % at 5 rounds, 88 % at 4, 75 % at 3)."
    : `Medians per target with 95 % bootstrap intervals (seed ${c.seed}).`;
  const method = !c.analysis
    ? `Medians over rounds with 95 % bootstrap intervals (10,000 resamples, seed ${c.seed}); verdicts need the interval of the ratio to exclude 1 and a two-sided Mann–Whitney p < 0.05. Runs flagged errors, unstable or machine_slow are left out.`
    : c.analysis.equivalence_test
      ? `Paired by round: per pair the geometric mean of the per-round ratios and Student's t on their logs. \`lower\`/\`higher\`: the paired t-test (two-sided, 5 %); \`equivalent\`: two one-sided tests (5 % each) that the ratio lies within ${bandText(c)} on the log scale (×${fixed(1 / (1 + c.analysis.equivalence), 3)} to ×${fixed(1 + c.analysis.equivalence, 3)}, the same band whichever target comes first), which wins when both hold; otherwise \`inconclusive\`, with the difference these rounds detect and the rounds a new comparison would need, both at 80 % power. Each metric's pairs are one family: Holm's step-down over both hypotheses of every pair, dividing by at most the number of pairs. Every interval beside a verdict is the one that verdict rests on: 1 − 0.05/h for a difference, 1 − 0.1/h for equivalence (95 % and 90 % for two targets), h the step's divisor. ${medians} Runs flagged errors or no_steady_state are left out; machine_slow runs count (their round shares the slow moment).`
      : `Paired by round (a comparison from before the symmetric band): per pair the geometric mean of the per-round ratios with Student's t interval on their logs (95 %); verdicts \`lower\`/\`higher\` need the interval to exclude 1 and the Holm-adjusted p (within each metric's pairs) below 0.05, \`equivalent\` the interval within ${1 - c.analysis.equivalence}–${1 + c.analysis.equivalence}; otherwise \`inconclusive\`. What an undecided pair would take is recomputed at 80 % power. ${medians} Runs flagged errors or no_steady_state are left out; machine_slow runs count (their round shares the slow moment).`;
  return [
    "## Every pair\n",
    `${verdictLines(c).map((l) => `- ${l}`).join("\n")}\n`,
    `${method}\n`,
    summaryTable(c),
    excluded.length ? `Left out of the verdicts:\n\n${excluded.map((l) => `- ${l}`).join("\n")}\n` : "",
    everyRunLines(c).length ? `${EVERY_RUN_INTRO}\n\n${everyRunLines(c).map((l) => `- ${l}`).join("\n")}\n` : "",
    unpaired.length ? `${UNPAIRED_INTRO}\n\n${unpaired.map((l) => `- ${l}`).join("\n")}\n` : "",
    `## Rounds\n\nThe order of every round is shuffled from seed ${c.seed} (\`--seed ${c.seed}\` repeats it); canary median ${c.canary_median ?? "–"} (a run more than ${CALM.limit * 100} % slower is flagged machine_slow and still counted). Before each native run a canary more than ${CALM.limit * 100} % slower than the comparison's median so far made the run wait for the machine's usual speed, at most ${CALM.maxWaitMs / 1000} s (${WAIT_BUDGET_MS / 1000} s for all the comparison's runs).\n`,
    roundsTable(c),
  ].filter(Boolean).join("\n");
}

/** The interval of a metric's median per column label, for the charts' error bars. */
export function intervals(c: Comparison | undefined, key: string, targets: string[]): ([number, number] | null)[] {
  return targets.map((t) => c?.metrics[key]?.cases[t]?.ci ?? null);
}
