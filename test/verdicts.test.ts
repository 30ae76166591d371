/**
 * Comparisons without processes: shuffled rounds reproducible from their seed, the canary's
 * machine_slow rule, which runs are left out of verdicts, the verdicts themselves and the report
 * that opens with them (src/plans/compare.ts, src/run/canary.ts, src/plans/verdicts.ts, src/report/report-verdicts.ts).
 */
import { describe, expect, test } from "bun:test";
import { CALM, slowRuns, WAIT_BUDGET_MS } from "../src/run/canary";
import { equalRate, roundOrders } from "../src/plans/rounds";
import { runsEstimate } from "../src/plans/estimate";
import { chartData, markdownReport, toColumns } from "../src/report/report";
import type { RunResult } from "../src/run/results";
import { everyRunLines, headlineSentences, parametersLine, roundsTable, verdictLines, verdictMarkdown, verdictMatrix, verdictSentences } from "../src/report/report-verdicts";
import { analyse, type Comparison } from "../src/plans/verdicts";
import { pairedFamily, pairedMeasure } from "../src/stats/paired";

describe("rounds", () => {
  test("every round is a permutation; the same seed gives the same orders, another seed others", () => {
    const labels = ["case1", "case2", "case3 (apollo-router)"];
    const a = roundOrders(labels, 5, 42);
    for (const order of a) expect([...order].sort()).toEqual(labels);
    expect(roundOrders(labels, 5, 42)).toEqual(a);
    expect(roundOrders(labels, 5, 43)).not.toEqual(a);
    // Not always the plan's order: over 5 rounds at least one differs from 1, 2, 3.
    expect(a.some((order) => order.join() !== labels.join())).toBe(true);
  });
});

describe("canary", () => {
  test("a run more than 10 % slower than the median index is slow; 10 % exactly, or faster, is not", () => {
    const { median, slow } = slowRuns([{ id: "a", index: 100 }, { id: "b", index: 125 }, { id: "c", index: 100 }, { id: "d", index: 85 }, { id: "e", index: 90 }]);
    expect(median).toBe(100);
    expect(slow).toEqual(["d"]);
  });
});

/** A complete run of `c` with a given total CPU per request and canary index. */
function run(c: string, cpuMs: number, canary: number, flags: string[] = []): RunResult {
  return {
    schema_version: 1, run_id: `${c}-${cpuMs}-${canary}`, case: c, gateway: null, mode: "duration",
    params: { vus: 10, duration: "30s", iterations: null, rate: null, fleet_size: 15, mix: { dashboard: 100 } },
    started_at: "2026-11-21T00:00:00.000Z", finished_at: "2026-11-21T00:00:30.000Z", status: "complete",
    summary: { requests: 3000, rps: 100, ok_rps: 100, error_rate: 0, dropped_iterations: 0, latency_ms: { p50: 10, p90: 20, p95: 25, p99: 40, max: 90 } },
    calls_per_request: {}, flags,
    resources: { [c === "case1" ? "rest-gateway" : "yoga-gateway"]: { cpu_seconds: 1, peak_rss_bytes: 1, cpu_ms_per_request: cpuMs }, k6: { cpu_seconds: 1, peak_rss_bytes: 1, cpu_ms_per_request: 9 } },
    fingerprint: {}, extra: { canary: { index: canary }, result_path: `/results/${c}-${cpuMs}-${canary}-${flags.join("-")}.json` },
  };
}

describe("analyse", () => {
  const runs = [
    ...[6.9, 7.1, 7.0, 6.8, 7.2].map((cpu, i) => ({ file: `c1-${i}.json`, round: i + 1, result: run("case1", cpu, 100 + i) })),
    ...[2.3, 2.2, 2.4, 2.35, 2.25].map((cpu, i) => ({ file: `c2-${i}.json`, round: i + 1, result: run("case2", cpu, 100 - i) })),
    { file: "c1-6.json", round: 6, result: run("case1", 7.0, 70) },
    { file: "c2-err.json", round: 6, result: run("case2", 9.9, 100, ["errors"]) },
    { file: "c1-7.json", round: 7, result: run("case1", 7.05, 70) },
    { file: "c2-slow.json", round: 7, result: run("case2", 2.3, 70) },
  ];
  // Each result knows its own file, as a real one does (the report matches runs to the comparison by it).
  for (const r of runs) r.result.extra.result_path = `/results/${r.file}`;
  const targets = ["case1 · rest-gateway", "case2 · yoga-gateway"];
  const c = analyse(runs, { seed: 1, params: {}, rounds: [], targets });

  test("a run flagged errors is left out and listed; machine_slow runs are recorded and still count (their round shares the slow moment)", () => {
    expect(c.runs.filter((r) => r.excluded).map((r) => [r.file, r.excluded])).toEqual([["c2-err.json", "errors"]]);
    expect(c.runs.find((r) => r.file === "c2-slow.json")!.flags).toContain("machine_slow");
    expect(c.metrics.cpu_ms_total.cases["case2 · yoga-gateway"]!.n).toBe(6);
  });

  test("a run that waited for the machine before it started says so in its row and in the Rounds table; the others say –", () => {
    const waited = runs.map((r) => (r.file === "c1-3.json" ? { ...r, result: { ...r.result, extra: { ...r.result.extra, canary: { index: 103, wait: { waited_ms: 5_512, first_index: 70.2, calm: true } } } } } : r));
    const w = analyse(waited, { seed: 1, params: {}, rounds: [{ round: 4, order: ["case1", "case2"] }], targets });
    expect(w.runs.find((r) => r.file === "c1-3.json")!.machine_wait).toEqual({ waited_ms: 5_512, first_index: 70.2, calm: true });
    expect(w.runs.filter((r) => r.machine_wait).length).toBe(1);
    const table = roundsTable(w);
    expect(table.split("\n")[0]).toBe("| round | order | run | target | canary index | waited for the machine | steal | flags |");
    expect(table).toContain("| 4 | case1 → case2 | c1-3.json | case1 · rest-gateway | 103 | 5.5 s (canary 70.2 first) | – | – |");
    expect(table).toContain("| 4 | case1 → case2 | c2-3.json | case2 · yoga-gateway | 97 | – | – | – |");
    // The rule above the table is the code's own: its limits come from src/run/canary.ts, not from a copy in the text.
    expect(verdictMarkdown(w)).toContain(`more than ${CALM.limit * 100} % slower than the comparison's median so far made the run wait for the machine's usual speed, at most ${CALM.maxWaitMs / 1000} s (${WAIT_BUDGET_MS / 1000} s for all the comparison's runs)`);
  });

  test("a round loses only the pairs of its left-out run, listed with the reason", () => {
    const paired = c.metrics.cpu_ms_total.pairs[0].paired!;
    expect(paired.rounds).toBe(6);
    expect(paired.lost).toEqual([{ round: 6, why: "case2 · yoga-gateway's run c2-err.json is left out (errors)" }]);
    expect(paired.per_round.map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 7]);
  });

  test("with runs left out, the same analysis with every run counted is kept beside it and said as a check, not as the verdict", () => {
    expect(c.with_every_run!.cpu_ms_total.cases["case2 · yoga-gateway"]!.n).toBe(7);
    expect(c.with_every_run!.cpu_ms_total.cases["case2 · yoga-gateway"]!.values).toContain(9.9);
    const md = verdictMarkdown(c);
    expect(md.indexOf("As a check, with every run counted")).toBeGreaterThan(md.indexOf("Left out of the verdicts"));
    expect(everyRunLines(c)[0]).toStartWith("CPU per request (total, without the load generator) at 10 VUs (closed model): ");
    const clean = analyse(runs.slice(0, 10), { seed: 1, params: {}, rounds: [], targets });
    expect(clean.with_every_run).toBeUndefined();
    expect(verdictMarkdown(clean)).not.toContain("As a check");
  });

  test("a 3× difference in CPU per request, paired over 6 rounds, is a clear verdict, said in words; identical values are equivalent", () => {
    const pair = c.metrics.cpu_ms_total.pairs[0];
    expect(pair.paired!.verdict).toBe("higher");
    expect(pair.paired!.ci[0]).toBeGreaterThan(2.8);
    expect(pair.paired!.p_sign_flip).toBe(2 / 64);
    expect(verdictSentences(c, "cpu_ms_total")[0]).toMatch(/^CPU per request \(total, without the load generator\) at 10 VUs \(closed model\): case1 · rest-gateway is higher than case2 · yoga-gateway \(ratio 3\.\d\d, 95 % CI [\d.]+–[\d.]+, paired over 6 rounds, p < 0\.001, sign-flip p = 0\.031; 1 round\(s\) lost\)\.$/);
    expect(c.metrics.ok_rps.pairs[0].paired!.verdict).toBe("equivalent");
    // The unpaired analysis is kept beside it.
    expect(pair.ratio).toBeCloseTo(7.0 / 2.3, 5);
  });

  test("the same runs and seed give the same verdicts", () => {
    const again = analyse(runs, { seed: 1, params: {}, rounds: [], targets });
    expect(again.metrics).toEqual(c.metrics);
  });

  test("the report's first screen is the answer: parameters, the verdict matrix, then at most five sentences", () => {
    const md = markdownReport(toColumns(runs.map((r) => r.result)), c);
    const firstTable = md.indexOf("| target |");
    expect(firstTable).toBeGreaterThan(0);
    // Before the first table: the title and the parameters line only.
    const before = md.slice(0, firstTable).split("\n").filter((l) => l.trim() && !l.startsWith("#"));
    expect(before).toHaveLength(1);
    expect(before[0]).toStartWith("2 targets × 7 round(s), each round in its own shuffled order (seed 1); measured at 10 VUs (closed model)");
    // The medians' exact intervals (7 and 6 runs: [min, max], at least 95 %), the ratio with the interval its verdict rests on.
    expect(md).toContain("| case1 · rest-gateway | 7.00 [6.80–7.20]; ×3.05 (95 % CI 2.90–3.20) higher |");
    expect(md).toMatch(/\| case2 · yoga-gateway \| 2\.\d+ \[[\d.]+–[\d.]+\]; reference \|/);
    expect(md).toMatch(/- case1 · rest-gateway costs 3\.\d\d× case2 · yoga-gateway's CPU per request at 10 VUs \(closed model\) \(95 % CI/);
    // Equivalent throughput and latency are said too, after the difference, with the margin and the 90 % interval of two one-sided tests.
    expect(md).toContain("- case1 · rest-gateway and case2 · yoga-gateway are equivalent in successful throughput at 10 VUs (closed model), within ±5 % (ratio 1.000, 90 % CI 1.00–1.00×, 6 rounds).");
    expect(md).not.toContain("by construction");
    expect(md).toContain("c2-err.json (case2 · yoga-gateway, round 6): left out, errors");
  });

  test("a target whose requests all fail loses its pairs, and the comparison still analyses and renders", () => {
    const failing = (r: RunResult) => ({ ...r, summary: { ...r.summary!, ok_rps: 0, error_rate: 1 }, flags: ["errors"], resources: Object.fromEntries(Object.entries(r.resources).map(([k, u]) => [k, { ...u, cpu_ms_per_request: null }])) });
    const broken = runs.slice(0, 10).map((r) => (r.result.case === "case2" ? { ...r, result: failing(r.result) } : r));
    const x = analyse(broken, { seed: 1, params: {}, rounds: [], targets });
    expect(x.metrics.cpu_ms_total.pairs).toHaveLength(0);
    const every = x.with_every_run!.ok_rps.pairs[0].paired!;
    expect(every.verdict).toBe("inconclusive");
    expect(every.lost).toHaveLength(5);
    expect(() => markdownReport(toColumns(broken.map((r) => r.result)), x)).not.toThrow();
  });

  test("two rounds are the least for a verdict; one round is inconclusive and says why", () => {
    const one = analyse(runs.filter((r) => r.round === 1), { seed: 1, params: {}, rounds: [], targets });
    expect(one.metrics.cpu_ms_total.pairs[0].paired!.verdict).toBe("inconclusive");
    expect(verdictLines(one)[0]).toContain("a verdict needs at least 2 rounds");
  });

  test("an older comparison without paired analysis still renders with its own verdicts", () => {
    const old = JSON.parse(JSON.stringify(c)) as Comparison;
    delete old.analysis;
    for (const m of Object.values(old.metrics)) for (const pair of m.pairs) delete pair.paired;
    const md = markdownReport(toColumns(runs.map((r) => r.result)), old);
    expect(md).toContain("verdicts unpaired");
    expect(md).toContain("case1 · rest-gateway is higher than case2 · yoga-gateway (ratio 3.04");
  });
});

/** A comparison of these targets, one run per round each with this total CPU per request; throughput and latency equal throughout. */
function comparisonOf(values: Record<string, number[]>, equivalence?: number): Comparison {
  const targets = Object.keys(values);
  const runs = targets.flatMap((t, k) => values[t].map((cpu, i) => ({ file: `${t}-${i}.json`, round: i + 1, result: run(k === 0 ? "case1" : "case2", cpu, 100) })));
  return analyse(runs, { seed: 1, params: {}, rounds: [], targets, label: (r) => r.file.split("-")[0], ...(equivalence !== undefined ? { equivalence } : {}) });
}
/** Five log ratios with exactly this mean and sample standard deviation, in this order of z. */
const fiveWith = (mean: number, sd: number, order = [-2, -1, 0, 1, 2]) => order.map((z) => mean + (z * sd) / Math.sqrt(10 / 4));
const machine = [1, 1.3, 0.8, 1.1, 0.9];

describe("the first screen says what the cells say (issue 26)", () => {
  test("two targets equivalent on every headline metric: the first screen says so, metric by metric, and never 'no pair is decided or equivalent'", () => {
    const c = comparisonOf({ A: machine.map((m, i) => 7 * m * [1.01, 0.99, 1.0, 1.005, 0.995][i]), B: machine.map((m) => 7 * m) });
    for (const key of ["cpu_ms_total", "ok_rps", "latency_p99"]) expect(c.metrics[key].pairs[0].paired!.verdict).toBe("equivalent");
    const lines = headlineSentences(c);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/^[AB] and [AB] are equivalent in .*, within ±5 % \(ratio [\d.]+, 90 % CI [\d.]+–[\d.]+×, 5 rounds\)\.$/);
    expect(lines.join(" ")).not.toContain("No pair");
    expect(verdictMatrix(c)).toContain(") equivalent |");
  });

  test("the parameters line says where a run at the rate started: on its target's start from the run at the VUs", () => {
    const c = comparisonOf({ A: machine, B: machine.map((m) => 2 * m) });
    const withParams = (params: Record<string, unknown>) => parametersLine({ ...c, params: { duration: "4s", warmup: "1s", ...params } });
    expect(withParams({})).toContain("4s runs after a 1s warm-up;");
    expect(withParams({ same_start: true })).toContain("4s runs after a 1s warm-up (each run at the rate on the start of its target's run at the VUs, just after it);");
    expect(withParams({ same_start: "native" })).toContain("4s runs after a 1s warm-up (a native target's run at the rate on the start of its run at the VUs, just after it);");
  });

  test("the margin given with --equivalence is the one every sentence names", () => {
    // A 7 % difference: equivalent within ±10 %, not within ±5 %.
    const values = { A: machine.map((m, i) => 7.49 * m * [1.01, 0.99, 1.0, 1.005, 0.995][i]), B: machine.map((m) => 7 * m) };
    const wide = comparisonOf(values, 0.1);
    expect(wide.metrics.cpu_ms_total.pairs[0].paired!.verdict).toBe("equivalent");
    expect(verdictSentences(wide, "cpu_ms_total")[0]).toContain("are equivalent, within ±10 % (ratio 1.07, 90 % CI");
    expect(parametersLine(wide)).toContain("equivalent within ±10 % on the log ratio (two one-sided tests)");
    expect(headlineSentences(wide)[0]).toContain("within ±10 %");
    expect(verdictMarkdown(wide)).toContain("within ±10 % on the log scale (×0.909 to ×1.100");
    const narrow = comparisonOf(values);
    expect(narrow.metrics.cpu_ms_total.pairs[0].paired!.verdict).toBe("higher");
    expect(parametersLine(narrow)).toContain("±5 %");
  });

  // Three targets, three pairs: A/B alone has p ≈ 0.04, so its own 95 % interval excludes 1, but
  // corrected for the metric's three pairs it is not decided.
  const three = {
    A: machine.map((m, i) => m * Math.exp(fiveWith(0.04, 0.03)[i])),
    B: machine,
    C: machine.map((m, i) => m * Math.exp(fiveWith(0.02, 0.03, [1, -2, 0, 2, -1])[i])),
  };

  test("a cell shows the interval its verdict rests on: beside 'inconclusive' never one that excludes 1", () => {
    const c = comparisonOf(three);
    const ab = c.metrics.cpu_ms_total.pairs.find((p) => p.a === "A" && p.b === "B")!.paired!;
    expect(ab.p_value).toBeLessThan(0.05);
    expect(ab.ci[0]).toBeGreaterThan(1);
    expect(ab.verdict).toBe("inconclusive");
    expect(ab.verdict_ci![0]).toBeLessThan(1);
    expect(ab.verdict_level!).toBeGreaterThan(0.95);
    const row = verdictMatrix(c).split("\n").find((l) => l.startsWith("| A |"))!;
    const cell = row.split(" | ")[1];
    expect(cell).toContain(`(${Number((ab.verdict_level! * 100).toFixed(1))} % CI ${ab.verdict_ci![0].toFixed(2)}–${ab.verdict_ci![1].toFixed(2)}) inconclusive`);
    expect(cell).toMatch(/inconclusive \(~\d+ rounds for 80 % power\)$/);
    // The first screen does not call it decided either.
    expect(headlineSentences(c).some((l) => l.includes(" costs "))).toBe(false);
    expect(headlineSentences(c).at(-1)).toMatch(/^\d pair\(s\) of these metrics are inconclusive at 5 rounds: these rounds detect differences in total CPU per request of ±[\d.]+ %( to ±[\d.]+ %)? with 80 % power \(a new comparison would need up to about \d+ rounds/);
    // …and names the way to add rounds that keeps the error rates, unless this comparison already took it.
    expect(headlineSentences(c).at(-1)).toContain("; `just compare VUS DURATION --until-decided --budget 20m` adds rounds only until every total-CPU and throughput pair is decided");
    const sequential = { ...c, sequential: { method: "m", rounds: 5, stopped: "budget", metrics: {} } };
    expect(headlineSentences(sequential).at(-1)).not.toContain("--until-decided");
  });

  test("analyse decides a metric's pairs as one family: the same verdicts as pairedFamily on the same values", () => {
    const c = comparisonOf(three);
    const names = Object.keys(three) as (keyof typeof three)[];
    const pairs: [string, string][] = [["A", "B"], ["A", "C"], ["B", "C"]];
    const family = pairedFamily(pairs.map(([a, b]) => pairedMeasure({ rounds: machine.map((_, i) => ({ round: i + 1, a: three[a as keyof typeof three][i], b: three[b as keyof typeof three][i] })) })));
    expect(names).toEqual(["A", "B", "C"]);
    expect(c.metrics.cpu_ms_total.pairs.map((p) => [p.a, p.b])).toEqual(pairs);
    c.metrics.cpu_ms_total.pairs.forEach((p, i) => {
      const x = p.paired!;
      expect({ verdict: x.verdict, p: x.p_adjusted, q: x.p_equivalence_adjusted, ci: x.verdict_ci, needs: x.rounds_to_equivalence ?? x.rounds_to_difference })
        .toEqual({ verdict: family[i].verdict, p: family[i].p_adjusted, q: family[i].p_equivalence_adjusted, ci: family[i].verdict_ci, needs: family[i].rounds_to_equivalence ?? family[i].rounds_to_difference });
    });
  });

  test("a comparison written before the symmetric band still renders: its own verdicts and 95 % intervals, and what the undecided would take at 80 % power", () => {
    const old = JSON.parse(JSON.stringify(comparisonOf(three))) as Comparison;
    old.analysis = { method: "paired by round", equivalence: 0.05, multiplicity: "Holm within each metric's pairs", level: 0.95 };
    for (const m of Object.values(old.metrics)) {
      for (const s of Object.values(m.cases)) if (s) delete (s as { ci_level?: number }).ci_level;
      for (const p of m.pairs) {
        const x = p.paired! as unknown as Record<string, unknown>;
        for (const k of ["verdict_ci", "verdict_level", "detectable", "rounds_to_difference", "rounds_to_equivalence", "p_equivalence", "p_equivalence_adjusted"]) delete x[k];
        Object.assign(x, { resolvable: 0.05, rounds_needed: 387 });
      }
    }
    expect(parametersLine(old)).toContain("equivalent when the 95 % interval lies within 0.95–1.05 (a comparison from before the symmetric band)");
    const row = verdictMatrix(old).split("\n").find((l) => l.startsWith("| A |"))!;
    const ab = old.metrics.cpu_ms_total.pairs[0].paired!;
    expect(row).toContain(`(95 % CI ${ab.ci[0].toFixed(2)}–${ab.ci[1].toFixed(2)}) inconclusive (~`);
    const md = verdictMarkdown(old);
    expect(md).toContain("(a comparison from before the symmetric band)");
    expect(md).toContain("Medians per target with 95 % bootstrap intervals");
    expect(md).not.toContain("387");
    expect(verdictSentences(old, "cpu_ms_total")[0]).toMatch(/5 rounds detect ±[\d.]+ % with 80 % power; a new comparison of about \d+ rounds would (decide this ratio|show equivalence at this ratio) with 80 % power/);
  });
});

describe("charts and tables count the runs the verdicts counted", () => {
  test("a left-out run moves neither a bar nor a table cell; its whisker and its bar describe the same runs", () => {
    const counted = [7, 7.1, 6.9].flatMap((cpu, i) => [run("case1", cpu, 100), run("case2", [2, 2.1, 2.2][i], 100)]);
    const left = [4, 5, 6].flatMap((round) => [run("case1", 7 + round / 100, 100), run("case2", 9.9 + round / 100, 100, ["errors"])]);
    const all = [...counted, ...left];
    const entries = all.map((result, i) => ({ file: String(result.extra.result_path).slice("/results/".length), round: i < 6 ? Math.floor(i / 2) + 1 : Math.floor((i - 6) / 2) + 4, result }));
    const c = analyse(entries, { seed: 1, params: {}, rounds: [], targets: ["case1 · rest-gateway", "case2 · yoga-gateway"] });
    const data = chartData(toColumns(all), c);
    const case2 = data.labels.findIndex((l) => l.startsWith("case2"));
    expect(data.cpuTotal[0].data[case2]).toBeCloseTo(2.1, 10);
    expect(c.metrics.cpu_ms_total.cases["case2 · yoga-gateway"]!.median).toBeCloseTo(2.1, 10);
    const [lo, hi] = data.cpuTotal[0].errorBars[case2]!;
    expect(lo).toBeLessThanOrEqual(2.1);
    expect(hi).toBeGreaterThanOrEqual(2.1);
    // The "all numbers" table: the median of the counted runs, not of every complete run.
    const md = markdownReport(toColumns(all), c);
    const row = md.split("\n").find((l) => l.startsWith("| CPU ms / request: total (without the load generator) |"))!;
    expect(row).toContain("| 2.100 ±0.100 |");
    expect(row).not.toContain("6.05");
  });
});

describe("rates and plans", () => {
  test("the equal offered load is 0.4 × the slowest target's warm closed-model throughput, rounded down; a target with none is named", () => {
    expect(equalRate([{ target: "a", okRps: 350 }, { target: "b", okRps: 46.9 }, { target: "c", okRps: 0 }], undefined, "a warm probe before round 1, not counted")).toEqual({
      rate: 18, from: "0.4 × the slowest target's closed-model throughput in a warm probe before round 1, not counted (b, 46.9 req/s); c served none and are left out of it",
    });
    expect(equalRate([{ target: "a", okRps: 1.2 }]).rate).toBe(1);
    expect(() => equalRate([{ target: "a", okRps: null }])).toThrow("no target served a successful request");
  });

  test("the plan says how many runs and about how long", () => {
    expect(runsEstimate(32, "4 targets × 4 rounds × 2 operating points", "2s", "5s")).toStartWith("planned: 32 run(s) (4 targets × 4 rounds × 2 operating points) of 2s warm-up + 5s: about 6 min, until about ");
  });
});
