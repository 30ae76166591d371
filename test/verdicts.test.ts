/**
 * Comparisons without processes: shuffled rounds reproducible from their seed, the canary's
 * machine_slow rule, which runs are left out of verdicts, the verdicts themselves and the report
 * that opens with them (src/bench/compare.ts, src/bench/canary.ts, src/bench/verdicts.ts, src/report/report-verdicts.ts).
 */
import { describe, expect, test } from "bun:test";
import { slowRuns } from "../src/bench/canary";
import { roundOrders } from "../src/bench/compare";
import { markdownReport, toColumns } from "../src/report/report";
import type { RunResult } from "../src/bench/results";
import { everyRunLines, verdictMarkdown, verdictSentences } from "../src/report/report-verdicts";
import { analyse } from "../src/bench/verdicts";

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
    fingerprint: {}, extra: { canary: { index: canary } },
  };
}

describe("analyse", () => {
  const runs = [
    ...[6.9, 7.1, 7.0, 6.8, 7.2].map((cpu, i) => ({ file: `c1-${i}.json`, round: i + 1, result: run("case1", cpu, 100 + i) })),
    ...[2.3, 2.2, 2.4, 2.35, 2.25].map((cpu, i) => ({ file: `c2-${i}.json`, round: i + 1, result: run("case2", cpu, 100 - i) })),
    { file: "c2-err.json", round: 6, result: run("case2", 9.9, 100, ["errors"]) },
    { file: "c2-slow.json", round: 6, result: run("case2", 9.9, 70) },
  ];
  const c = analyse(runs, { seed: 1, params: {}, rounds: [], targets: ["case1 · rest-gateway", "case2 · yoga-gateway"] });

  test("runs flagged errors or machine_slow are left out and listed with the reason", () => {
    expect(c.runs.filter((r) => r.excluded).map((r) => [r.file, r.excluded])).toEqual([["c2-err.json", "errors"], ["c2-slow.json", "machine_slow"]]);
    expect(c.metrics.cpu_ms_total.cases["case2 · yoga-gateway"]!.n).toBe(5);
  });

  test("with runs left out, the same analysis with every run counted is kept beside it and said as a check, not as the verdict", () => {
    expect(c.with_every_run!.cpu_ms_total.cases["case2 · yoga-gateway"]!.n).toBe(7);
    expect(c.with_every_run!.cpu_ms_total.cases["case2 · yoga-gateway"]!.values).toContain(9.9);
    const md = verdictMarkdown(c);
    expect(md.indexOf("As a check, with every run counted")).toBeGreaterThan(md.indexOf("Left out of the verdicts"));
    expect(everyRunLines(c)[0]).toStartWith("CPU ms per request (total, without k6): ");
    // Nothing left out: no check to show.
    const clean = analyse(runs.slice(0, 10), { seed: 1, params: {}, rounds: [], targets: ["case1 · rest-gateway", "case2 · yoga-gateway"] });
    expect(clean.with_every_run).toBeUndefined();
    expect(verdictMarkdown(clean)).not.toContain("As a check");
  });

  test("a 3× difference in CPU per request at R = 5 (no ties: the exact test) is a clear verdict, said in words", () => {
    const pair = c.metrics.cpu_ms_total.pairs[0];
    expect(pair.verdict).toBe("higher");
    expect(pair.ratio).toBeCloseTo(7.0 / 2.3, 5);
    expect(pair.ci[0]).toBeGreaterThan(1);
    expect(pair.p_value).toBeLessThan(0.05);
    expect(verdictSentences(c, "cpu_ms_total")[0]).toMatch(/^CPU ms per request \(total, without k6\): case1 · rest-gateway is higher than case2 · yoga-gateway \(ratio 3\.04, 95 % CI [\d.]+–[\d.]+, p = 0\.008\)\.$/);
    // Identical values everywhere: no clear difference.
    expect(c.metrics.ok_rps.pairs[0].verdict).toBe("no clear difference");
  });

  test("the same runs and seed give the same verdicts", () => {
    const again = analyse(runs, { seed: 1, params: {}, rounds: [], targets: ["case1 · rest-gateway", "case2 · yoga-gateway"] });
    expect(again.metrics).toEqual(c.metrics);
  });

  test("the report opens with what it found, before the table", () => {
    const md = markdownReport(toColumns(runs.map((r) => r.result)), c);
    const found = md.indexOf("## What it found");
    expect(found).toBeGreaterThan(0);
    expect(found).toBeLessThan(md.indexOf("| metric |"));
    expect(md).toContain("- CPU ms per request (total, without k6): case1 · rest-gateway is higher than case2 · yoga-gateway");
    expect(md).toContain("c2-slow.json (case2 · yoga-gateway, round 6): left out, machine_slow");
  });

  test("with 3 runs per side the report says no verdict can be significant", () => {
    const three = analyse(runs.filter((r) => r.round <= 3), { seed: 1, params: {}, rounds: [], targets: ["case1 · rest-gateway", "case2 · yoga-gateway"] });
    expect(three.metrics.cpu_ms_total.pairs[0].verdict).toBe("no clear difference");
    expect(markdownReport(toColumns(runs.map((r) => r.result)), three)).toContain("no difference can reach p < 0.05");
  });
});
