/**
 * Curves (docs/design.md §14): the capacity search (its bracketing and bisection, then on a real target
 * with an artificial ceiling), a fleet sweep of two small sizes where Case 1's calls grow with N
 * and Case 2's stay constant, equal offered load in a comparison, the curve reports as a reader
 * sees them, and the bad input of the new options.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { openPage } from "./browser";
import { parseSlo, PRECISION, searchCapacity } from "../src/plans/capacity";
import { compare } from "../src/plans/compare";
import { writeCurveReport } from "../src/report/curve-report";
import { writeCurve } from "../src/plans/curve-doc";
import { capacityCurves, parseList, sweep, targetPlan } from "../src/plans/curves";
import { loadConfig } from "../src/config";
import { loadedFleetSize } from "../src/db";
import type { RunResult } from "../src/run/results";
import { down } from "../src/run/supervisor";
import { config, quiet, reseed, testSql, fleetCli } from "./utils";

setDefaultTimeout(300_000);

const fleet = (...args: string[]) => fleetCli(args);

/** A run at `rate` of a system whose p99 is 20 ms up to `ceiling` requests/s and 500 ms above it. */
function synthetic(rate: number, ceiling: number): RunResult {
  const p99 = rate <= ceiling ? 20 : 500;
  return {
    schema_version: 1, run_id: `r${rate}`, case: "case2", gateway: "yoga-gateway", mode: "rate", params: {}, started_at: "", finished_at: "", status: "complete",
    summary: { requests: rate * 10, rps: rate, ok_rps: rate, error_rate: 0, dropped_iterations: 0, latency_ms: { p50: p99 / 2, p95: p99, p99, max: p99 } },
    calls_per_request: {}, resources: {}, flags: [], fingerprint: {}, extra: {},
  } as unknown as RunResult;
}

describe("the capacity search", () => {
  const options = { slo: parseSlo("p99=200ms"), start: 20, max: 5000, step: "5s", warmup: "1s" };

  test("brackets by doubling, then bisects to within 5 %: the capacity is the highest rate met, next to the lowest missed", async () => {
    for (const ceiling of [137, 20, 1000, 23]) {
      const tried: number[] = [];
      const search = await searchCapacity("t", options, async (rate) => {
        tried.push(rate);
        return { path: `/r/${rate}.json`, result: synthetic(rate, ceiling) };
      }, quiet);
      const [lo, hi] = search.bracket as [number, number];
      expect(search.capacity).toBe(lo);
      expect(lo).toBeLessThanOrEqual(ceiling);
      expect(hi).toBeGreaterThan(ceiling);
      expect(hi - lo).toBeLessThanOrEqual(Math.max(1, PRECISION * lo));
      // Doubling first: 20, 40, 80, ... up to the first rate that misses.
      const doubling = tried.slice(0, tried.findIndex((r) => r > ceiling) + 1);
      doubling.forEach((r, i) => expect(r).toBe(20 * 2 ** i));
      expect(search.steps.map((s) => s.rate)).toEqual(tried);
      expect(search.steps.every((s) => s.meets === s.rate <= ceiling)).toBe(true);
    }
  });

  test("a first rate that misses is halved until one meets it; none meeting says so and keeps every attempt", async () => {
    const low = await searchCapacity("t", options, async (rate) => ({ path: `/r/${rate}`, result: synthetic(rate, 6) }), quiet);
    expect(low.capacity).toBeGreaterThanOrEqual(5);
    expect(low.capacity).toBeLessThanOrEqual(6);
    expect(low.steps.slice(0, 3).map((s) => s.rate)).toEqual([20, 10, 5]);
    const never = await searchCapacity("t", options, async (rate) => ({ path: `/r/${rate}`, result: synthetic(rate, 0) }), quiet);
    expect(never.capacity).toBeNull();
    expect(never.steps.map((s) => s.rate)).toEqual([20, 10, 5, 2, 1]);
    expect(never.note).toBe("missed the SLO at every rate tried, down to 1 requests/s: p99 500.0 ms > 200 ms");
    const capped = await searchCapacity("t", { ...options, max: 50 }, async (rate) => ({ path: `/r/${rate}`, result: synthetic(rate, 1000) }), quiet);
    expect(capped.steps.map((s) => s.rate)).toEqual([20, 40, 50]);
    expect(capped.capacity).toBe(50);
    expect(capped.note).toContain("the capacity is at least that (raise --max)");
  });

  test("dropped iterations and 0.1 % errors miss the SLO as a latency above it does", async () => {
    const { judge } = await import("../src/plans/capacity");
    const run = synthetic(10, 100);
    expect(judge(run, parseSlo("p99=200ms"))).toEqual({ meets: true, misses: [] });
    expect(judge({ ...run, summary: { ...run.summary!, dropped_iterations: 2 } }, parseSlo("p99=200ms")).misses).toEqual(["2 iterations dropped"]);
    expect(judge({ ...run, summary: { ...run.summary!, error_rate: 0.001 } }, parseSlo("p99=200ms")).misses).toEqual(["0.10 % errors"]);
    expect(judge(run, parseSlo("p95=0.01s")).misses).toEqual(["p95 20.0 ms > 10 ms"]);
  });
});

describe("on real targets", () => {
  beforeAll(async () => {
    const sql = await testSql();
    await reseed(sql, 15);
    await sql.end();
  });
  afterAll(async () => {
    await down(config, quiet);
  });

  test("a capacity search on Case 1 with a ceiling (one database connection per service, the dashboard at a tight SLO) ends within its bracket; its report marks the SLO and the capacity", async () => {
    // As a user would run it: `FLEET_DB_POOL=1 just case1 capacity --slo p99=100ms --api dashboard`.
    process.env.FLEET_DB_POOL = "1";
    const tiny = loadConfig();
    const lines: string[] = [];
    const { doc } = await capacityCurves(tiny, targetPlan(tiny, ["case1"], []), {
      slo: parseSlo("p99=100ms"), start: 10, max: 2000, step: "5s", warmup: "1s", api: "dashboard", repeat: 1, seed: 3,
    }, (l) => lines.push(l)).finally(() => delete process.env.FLEET_DB_POOL);
    const [search] = doc.searches!;
    expect(search.target).toBe("case1 · rest-gateway");
    expect(search.capacity).not.toBeNull();
    const [lo, hi] = search.bracket as [number, number];
    expect(search.capacity).toBe(lo);
    expect(hi).not.toBeNull();
    expect(hi - lo).toBeLessThanOrEqual(Math.max(1, PRECISION * lo));
    // The step at the capacity met the SLO and the one at the bracket's top missed it; every step is a point.
    expect(search.steps.find((s) => s.rate === lo)!.meets).toBe(true);
    expect(search.steps.find((s) => s.rate === hi)!.meets).toBe(false);
    expect(doc.points.map((p) => p.x)).toEqual(search.steps.map((s) => s.rate));
    for (const p of doc.points) {
      const run = JSON.parse(readFileSync(`${config.resultsDir}/${p.file}`, "utf8")) as RunResult;
      expect({ mode: run.mode, rate: (run.params as { rate?: number }).rate, pool: (run.extra.parity as any).config.db.pool }).toEqual({ mode: "rate", rate: p.x, pool: 1 });
    }
    expect(lines.some((l) => l.startsWith(`case1 · rest-gateway: capacity ${lo} requests/s at p99 ≤ 100 ms`))).toBe(true);
    const { html, markdown } = writeCurveReport(config, writeCurve(config, doc), quiet);
    expect(readFileSync(markdown, "utf8")).toContain(`- case1 · rest-gateway sustains ${lo} requests/s at p99 ≤ 100 ms (one search: no interval).`);
    const page = await openPage(html, 1280);
    try {
      expect(await page.page.evaluate(() => document.body.dataset.charts)).toBe("1");
      expect(await page.page.evaluate(() => Number(document.body.dataset.slolines))).toBeGreaterThan(0);
      expect(await page.page.evaluate(() => Number(document.body.dataset.capacitymarks))).toBeGreaterThan(0);
      expect(await page.page.$eval("#found", (e) => e.textContent)).toContain(`sustains ${lo} requests/s`);
      expect(page.errors).toEqual([]);
      expect(page.requests).toEqual([]);
    } finally {
      await page.browser.close();
    }
  });

  test("a fleet sweep of 5 and 20 robots: Case 1's telemetry calls per dashboard grow with N, Case 2's stay 1; the data is reseeded per size and put back", async () => {
    const { doc } = await sweep(config, targetPlan(config, ["case1", "case2"], []), {
      axis: "fleet", values: [5, 20], load: { kind: "vus", vus: 2 }, duration: "3s", warmup: "1s", repeat: 1, seed: 5, api: "dashboard",
    }, quiet);
    const telemetry = (target: string, n: number) => doc.points.find((p) => p.target === target && p.x === n)!.calls_by_process["telemetry-service"];
    expect([telemetry("case1 · rest-gateway", 5), telemetry("case1 · rest-gateway", 20)]).toEqual([5, 20]);
    expect([telemetry("case2 · yoga-gateway", 5), telemetry("case2 · yoga-gateway", 20)]).toEqual([1, 1]);
    // Calls per request in all: 1 + 2N for Case 1, 3 for Case 2.
    expect(doc.points.filter((p) => p.target === "case1 · rest-gateway").map((p) => p.calls)).toEqual([11, 41]);
    expect(doc.points.filter((p) => p.target === "case2 · yoga-gateway").map((p) => p.calls)).toEqual([3, 3]);
    const hashes = new Map(doc.points.map((p) => [p.x, p.content_hash]));
    expect(hashes.size).toBe(2);
    expect(hashes.get(5)).not.toBe(hashes.get(20));
    const sql = await testSql();
    expect(await loadedFleetSize(sql)).toBe(config.fleetSize);
    await sql.end();
    const { html, markdown } = writeCurveReport(config, writeCurve(config, doc), quiet);
    const text = readFileSync(markdown, "utf8");
    expect(text).toContain("- case1 · rest-gateway, fleet 5 → 20: internal calls per request 11.0 → 41.0");
    expect(text).toContain("- case2 · yoga-gateway, fleet 5 → 20: internal calls per request 3.0 → 3.0");
    const page = await openPage(html, 390);
    try {
      expect(Number(await page.page.evaluate(() => document.body.dataset.charts))).toBeGreaterThanOrEqual(6);
      expect(page.errors).toEqual([]);
      expect(page.requests).toEqual([]);
      await page.page.screenshot({ path: html.replace(/\.html$/, "-phone.png"), fullPage: true });
    } finally {
      await page.browser.close();
    }
  });

  test("compare --rate: every target gets the same offered load in the open model, recorded as such", async () => {
    const { comparison } = await compare(config, { vus: 10, rate: 15, duration: "4s", repeat: 1, gateways: [], warmup: "1s", seed: 8, cases: ["case1b", "case2"] }, quiet);
    expect(comparison.params).toMatchObject({ mode: "rate", rate: 15 });
    expect(comparison.targets).toEqual(["case1b · rest-gateway", "case2 · yoga-gateway"]);
    for (const run of comparison.runs) {
      const result = JSON.parse(readFileSync(`${config.resultsDir}/${run.file}`, "utf8")) as RunResult;
      expect({ mode: result.mode, rate: (result.params as { rate?: number }).rate }).toEqual({ mode: "rate", rate: 15 });
      // About 15 requests/s offered for 4 s to each: the engine sent them on schedule.
      expect(result.summary!.requests).toBeGreaterThanOrEqual(55);
      expect(result.summary!.requests).toBeLessThanOrEqual(65);
    }
  });
});

test("bad input: a malformed SLO, list, rate or step is one line naming the value and the form (exit 2)", () => {
  const cases: [string[], string][] = [
    [["capacity", "case2", "--slo", "p99=abc"], 'fleetbench: --slo takes PERCENTILE=DURATION with p50, p95 or p99 and ms or s (e.g. p99=200ms), got "p99=abc"'],
    [["capacity", "case2", "--slo", "p42=10ms"], 'fleetbench: --slo takes PERCENTILE=DURATION with p50, p95 or p99 and ms or s (e.g. p99=200ms), got "p42=10ms"'],
    [["capacity", "case2", "--step", "2s"], 'fleetbench: --step must be at least 5s (a shorter step has too few requests for a percentile), got "2s"'],
    [["capacity", "case2", "--start", "100", "--max", "50"], "fleetbench: --start (100) must not be above --max (50)"],
    [["sweep", "fleet", "15,-3"], 'fleetbench: sweep fleet takes a comma-separated list of positive integers (e.g. 15,150,1500), got "15,-3"'],
    [["sweep", "rate", "50,,100"], 'fleetbench: sweep rate takes a comma-separated list of positive integers (e.g. 15,150,1500), got "50,,100"'],
    [["sweep", "size", "15"], 'fleetbench: sweep takes fleet or rate, then a list (e.g. `just sweep fleet 15,150,1500`), got "size"'],
    [["sweep", "fleet", "15,150", "--rate", "10", "--capacity"], "fleetbench: sweep takes one of --vus, --rate and --capacity, got --rate and --capacity"],
    [["sweep", "rate", "10,20", "--vus", "5"], "fleetbench: sweep rate sets the rate of every point itself: --vus is for sweep fleet"],
    [["compare", "--rate", "fast", "10s"], 'fleetbench: --rate must be a positive integer, got "fast"'],
    [["compare", "--slo", "p99=100ms"], "fleetbench: --slo belongs to a capacity search: add --capacity"],
  ];
  for (const [args, message] of cases) {
    const r = fleet(...args);
    expect({ args, code: r.code, err: r.err.trim() }).toEqual({ args, code: 2, err: message });
  }
  expect(parseList("15,150,1500", "x")).toEqual([15, 150, 1500]);
  expect(parseSlo("p95=0.5s")).toEqual({ percentile: "p95", ms: 500 });
});
