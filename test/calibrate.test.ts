/**
 * `just calibrate` (src/plans/calibrate.ts). The pure parts first: the headline check by hand; the
 * whole calibration on one real calibration recorded here (test/fixtures/calibrate-rounds.json),
 * and on runs built from A/A rounds recorded here (test/fixtures/aa-rounds.json: Case 2's total
 * CPU per request, twice per round) — passing as measured, failing when the injection costs more
 * than asked, when only the case's total moved, and when two rounds leave the interval too wide. Then for real, in five short rounds: Case 1
 * three times per round at one rate, once with 1 ms of CPU injected into telemetry-service per
 * request it receives. The total CPU per request, injected ÷ plain, must contain (plain + calls ×
 * 1 ms) ÷ plain and lie within ±10 % of it; telemetry-service's own increase is reported beside it;
 * the A/A pair is never lower or higher twice in a row (once comes by chance in at most 1.7 %).
 *
 * Five rounds (`just calibrate`'s default) before the first look, then one more at a time up to
 * ten while the headline's interval holds the expected ratio but reaches past ±10 %: on CI a
 * 6 s, five-round calibration measured ×1.653 [1.547–1.767] against ×1.572 — its interval held
 * the expected ratio but reached 12 % above it, so the fixed five rounds failed a sound
 * instrument. 8 s runs here, as the per-round spread falls with the run's length.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CALIBRATE_DEFAULTS, calibrate } from "../src/plans/calibrate";
import { CALIBRATION_PROCESS, calibrationLines, calibrationOf, headlineCheck, headlineLook } from "../src/plans/calibration";
import { mulberry32 } from "../src/determinism.js";
import { tQuantile } from "../src/stats/distributions";
import { analyse } from "../src/plans/verdicts";
import type { RunResult } from "../src/run/results";
import { down } from "../src/run/supervisor";
import { config, fleetCli, quiet, reseed, testSql } from "./utils";

// A real calibration took 200-450 s here (rounds are added while it is undecided, and its runs may
// wait up to 30 s for a slow machine); the test may need two.
setDefaultTimeout(1_200_000);
afterAll(async () => {
  await down(config, quiet);
});

describe("pure: the headline check", () => {
  test("by hand: plain 10 and 10 ms, injected 20 and 20.2 ms, 10 calls × 1 ms — expected ×2, measured ×2.010 [1.887–2.141] (t at 1 df, 12.706): contains it, within 1.8–2.2", () => {
    const h = headlineCheck([{ plain: 10, injected: 20, calls: 10 }, { plain: 10, injected: 20.2, calls: 10 }], 1);
    expect(h.expected_ratio).toBeCloseTo(2, 12);
    expect(h.ratio).toBeCloseTo(Math.sqrt(2 * 2.02), 12);
    const [l1, l2] = [Math.log(2), Math.log(2.02)];
    const half = (12.7062047 * (Math.abs(l2 - l1) / Math.SQRT2)) / Math.SQRT2;
    expect(h.ci[0]).toBeCloseTo(Math.exp((l1 + l2) / 2 - half), 5);
    expect(h.ci[1]).toBeCloseTo(Math.exp((l1 + l2) / 2 + half), 5);
    expect(h.ci[0]).toBeCloseTo(1.8868, 3);
    expect(h.ci[1]).toBeCloseTo(2.1413, 3);
    expect(h).toMatchObject({ contains: true, within: true, rounds: 2 });
    expect(h.plain_ms).toBeCloseTo(10, 12);
    expect(h.bounds[0]).toBeCloseTo(1.8, 12);
    expect(h.bounds[1]).toBeCloseTo(2.2, 12);
    // The expected ratio is per round, each with its own calls: (8 + 8)/8 and (10 + 12)/10.
    expect(headlineCheck([{ plain: 8, injected: 16, calls: 8 }, { plain: 10, injected: 22, calls: 12 }], 1).expected_ratio).toBeCloseTo(Math.sqrt(2 * 2.2), 12);
    // A round whose plain run came out low has a higher expected ratio: each round set against its own.
    const own = headlineCheck([{ plain: 8, injected: 16, calls: 8 }, { plain: 10, injected: 18, calls: 8 }], 1);
    expect(own.ci[0]).toBeCloseTo(own.expected_ratio, 12);
    expect(own.ci[1]).toBeCloseTo(own.expected_ratio, 12);
    expect(own.ratio).toBeCloseTo(Math.sqrt(2 * 1.8), 12);
    expect(own.pair_ci[1] - own.pair_ci[0]).toBeGreaterThan(1);
    expect(() => headlineCheck([{ plain: 10, injected: 20, calls: 10 }], 1)).toThrow("the headline check needs at least 2 rounds with a plain and an injected run: got 1");
    expect(() => headlineCheck([{ plain: 0, injected: 20, calls: 10 }, { plain: 10, injected: 20, calls: 10 }], 1)).toThrow("the headline check needs positive totals");
  });
});

describe("pure: rounds added while the headline is undecided", () => {
  const noisy = (n: number, sd: number, random: () => number, bias = 0) =>
    Array.from({ length: n }, () => {
      // Box–Muller: a normal log ratio of the measured against the expected total.
      const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      return { plain: 10, injected: 20 * Math.exp(bias + sd * z), calls: 10 };
    });

  test("a fixed design is the t interval; a sequential one (looks 5–10) is wider at every look, by less than a quarter at its last", () => {
    const rounds = noisy(10, 0.05, mulberry32(7));
    for (let k = 5; k <= 10; k++) {
      const fixed = headlineCheck(rounds.slice(0, k), 1);
      const same = headlineCheck(rounds.slice(0, k), 1, { minRounds: k, maxRounds: k });
      const look = headlineCheck(rounds.slice(0, k), 1, { minRounds: 5, maxRounds: 10 });
      expect(same.ci).toEqual(fixed.ci);
      expect(fixed.interval_kind).toBe(`95 % t interval over ${k} rounds`);
      expect(look.interval_kind).toStartWith(`95 % repeated interval at look ${k} of rounds 5–10 (t boundary `);
      const width = (h: typeof fixed) => Math.log(h.ci[1] / h.ci[0]);
      expect(width(look)).toBeGreaterThan(width(fixed));
      if (k === 10) expect(width(look) / width(fixed)).toBeLessThan(1.25);
    }
    // The t boundary at the first look against t's 97.5 % quantile at 4 df (2.776): wider, as α is split over six looks.
    const c5 = Number(/t boundary (\d\.\d\d)/.exec(headlineCheck(rounds.slice(0, 5), 1, { minRounds: 5, maxRounds: 10 }).interval_kind!)![1]);
    expect(c5).toBeGreaterThan(tQuantile(0.975, 4));
  });

  test("the look on runs: recorded rounds are open at 5 (the first look's boundary is wide) and decide at 6, within ±10 %; an injection that costs twice as much is wholly beyond ±10 % at 5; injected runs swinging ±30 % keep it open", () => {
    const runsOf = (rounds: { a: number; b: number }[], injectedMs = 1) => rounds.flatMap((r, i) => [
      { round: i + 1, result: calibrationRun(COLUMNS.plain, r.a) },
      { round: i + 1, result: calibrationRun(COLUMNS.twin, r.b) },
      { round: i + 1, result: calibrationRun(COLUMNS.injected, r.b, 9.8 * injectedMs, 9.8) },
    ]);
    const options = { ...CALIBRATE_DEFAULTS, repeat: 5, maxRepeat: 10 };
    expect(headlineLook(runsOf(recorded.slice(0, 4)), options)).toBeNull();
    expect(headlineLook(runsOf(recorded.slice(0, 5)), options)).toBeNull();
    expect(headlineLook(runsOf(recorded.slice(0, 6)), options)).toMatch(/^the headline is decided after 6 usable rounds: ×\d\.\d{3}–\d\.\d{3} lies within ±10 % of the expected ×\d\.\d{3}$/);
    expect(headlineLook(runsOf(recorded.slice(0, 5), 2), options)).toMatch(/^the headline is decided after 5 usable rounds: ×\d\.\d{3}–\d\.\d{3} lies wholly beyond ±10 % of the expected ×\d\.\d{3}$/);
    // The injected run 30 % high and 30 % low by turns: the interval holds the expected ratio but is far wider than ±10 %.
    const swinging = runsOf(recorded.slice(0, 5)).map((r, i) => (r.result.extra.column === COLUMNS.injected ? { ...r, result: calibrationRun(COLUMNS.injected, recorded[r.round - 1].b * (r.round % 2 ? 1.3 : 0.7), 9.8, 9.8) } : r));
    expect(headlineLook(swinging, options)).toBeNull();
    // A fixed design never adds rounds.
    expect(headlineLook(runsOf(recorded.slice(0, 6)), { ...options, repeat: 6, maxRepeat: 6 })).toBeNull();
  });

  test("simulation (looks 5–10, sd 0.054 per round as on CI): a total 10 % off the expected passes in at most 2.5 % of calibrations however the rounds stop, against more with t intervals at every look; on target 95 % pass, 5 % off more than half", () => {
    const trial = (bias: number, seed: number, sd = 0.054) => {
      const random = mulberry32(seed);
      const trials = 4000;
      let [passed, failed, naivePassed, roundsUsed] = [0, 0, 0, 0];
      for (let i = 0; i < trials; i++) {
        const rounds = noisy(10, sd, random, bias);
        let [seqDone, naiveDone] = [false, false];
        for (let k = 5; k <= 10; k++) {
          const look = headlineCheck(rounds.slice(0, k), 1, { minRounds: 5, maxRounds: 10 });
          if (!seqDone && (look.decided || k === 10)) {
            seqDone = true;
            roundsUsed += k;
            if (look.within) passed++;
            if (look.outside) failed++;
          }
          const fixed = headlineCheck(rounds.slice(0, k), 1);
          if (!naiveDone && (fixed.within || fixed.outside || k === 10)) {
            naiveDone = true;
            if (fixed.within) naivePassed++;
          }
        }
      }
      return { passed: passed / trials, failed: failed / trials, naive: naivePassed / trials, rounds: roundsUsed / trials };
    };
    const [edge, onTarget, off5, off25] = [trial(Math.log(1.1), 11), trial(0, 12), trial(Math.log(1.05), 13), trial(Math.log(1.25), 14)];
    console.log(`passed: ${(edge.passed * 100).toFixed(1)} % at 10 % off (t at every look: ${(edge.naive * 100).toFixed(1)} %), ${(onTarget.passed * 100).toFixed(1)} % on target (${onTarget.rounds.toFixed(2)} rounds on average), ${(off5.passed * 100).toFixed(1)} % at 5 % off (${off5.rounds.toFixed(2)} rounds)`);
    console.log(`failed: ${(onTarget.failed * 100).toFixed(1)} % on target, ${(off5.failed * 100).toFixed(1)} % at 5 % off, ${(edge.failed * 100).toFixed(1)} % at 10 % off, ${(off25.failed * 100).toFixed(1)} % at 25 % off; the rest undecided`);
    // Nominal 2.5 % (one side of the repeated 95 % interval), a little over it by sampling.
    expect(edge.passed).toBeLessThanOrEqual(0.03);
    expect(edge.naive).toBeGreaterThan(edge.passed);
    expect(onTarget.passed).toBeGreaterThan(0.95);
    expect(off5.passed).toBeGreaterThan(0.5);
    // Failed needs the interval wholly beyond the band: a sound instrument (on target, or 5 % off
    // from its callers' cost) is never failed, one 10 % off in about 2.5 % (the other side), one 25 % off nearly always.
    expect(onTarget.failed).toBe(0);
    expect(off5.failed).toBeLessThanOrEqual(0.001);
    expect(edge.failed).toBeLessThanOrEqual(0.03);
    expect(off25.failed).toBeGreaterThan(0.95);
    // At the last CI run's spread (A/A 0.101 per round, so about 0.08 for the headline, whose plain
    // side counts at ~0.6 of its weight) with the callers' 5 %: fewer pass, nearly none fail.
    const noisy5 = trial(Math.log(1.05), 15, 0.08);
    console.log(`at spread 0.08 and 5 % off: ${(noisy5.passed * 100).toFixed(1)} % passed, ${(noisy5.failed * 100).toFixed(2)} % failed, the rest undecided (${noisy5.rounds.toFixed(2)} rounds on average)`);
    expect(noisy5.failed).toBeLessThanOrEqual(0.002);
    expect(noisy5.passed + noisy5.failed).toBeLessThan(0.6);
  });
});

/** Case 2's total CPU per request, recorded twice per round on this machine (10 s runs at 60 requests/s, 8 rounds). */
const recorded = (JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "aa-rounds.json"), "utf8")) as { sets: { rounds: { a: number; b: number }[] }[] }).sets[0].rounds;
const COLUMNS = { plain: "case1 · rest-gateway #1", twin: "case1 · rest-gateway #2", injected: "case1 · rest-gateway +1 ms CPU in telemetry-service" };

/** A run whose case's total CPU per request is `total` ms: a fifth of it in telemetry-service, plus `extra` ms there; the load generator apart. */
function calibrationRun(column: string, total: number, telemetryExtra = 0, calls = 9.8): RunResult {
  const parts: Record<string, number> = { "rest-gateway": 0.5 * total, "robot-service": 0.2 * total, [CALIBRATION_PROCESS]: 0.2 * total + telemetryExtra, "alert-service": 0.1 * total, vegeta: 2 };
  return {
    schema_version: 1, run_id: column, case: "case1", gateway: "rest-gateway", mode: "rate",
    params: { vus: 10, duration: "10s", iterations: null, rate: 30, fleet_size: 15, mix: {} },
    started_at: "", finished_at: "", status: "complete",
    summary: { requests: 300, rps: 30, ok_rps: 30, error_rate: 0, dropped_iterations: 0, latency_ms: { p50: 5, p90: 8, p95: 9, p99: 12, max: 20 } },
    calls_per_request: { [CALIBRATION_PROCESS]: calls },
    resources: Object.fromEntries(Object.entries(parts).map(([p, ms]) => [p, { cpu_seconds: (ms * 300) / 1000, peak_rss_bytes: 1, peak_pss_bytes: 1, cpu_ms_per_request: ms }])),
    flags: [], fingerprint: {}, extra: { column },
  };
}

/**
 * The calibration of runs built from the recorded rounds: plain = a, twin = b, injected = b with
 * calls × `injectedMs` ms added in telemetry-service and `sideMs` ms elsewhere in the case.
 */
function calibrationOfRecorded(rounds: { a: number; b: number }[], { injectedMs = 1, sideMs = 0 } = {}) {
  const runs = rounds.flatMap((r, i) => {
    const calls = 9.8 + 0.05 * (i % 3);
    return [
      { file: `p${i}`, round: i + 1, result: calibrationRun(COLUMNS.plain, r.a) },
      { file: `t${i}`, round: i + 1, result: calibrationRun(COLUMNS.twin, r.b) },
      { file: `i${i}`, round: i + 1, result: calibrationRun(COLUMNS.injected, r.b + sideMs / 0.8, calls * injectedMs, calls) },
    ];
  });
  const targets = [COLUMNS.plain, COLUMNS.twin, COLUMNS.injected];
  const comparison = analyse(runs, { seed: 1, params: {}, rounds: rounds.map((_, i) => ({ round: i + 1, order: targets })), targets });
  return calibrationOf(runs, COLUMNS, comparison, { ...CALIBRATE_DEFAULTS, repeat: rounds.length, maxRepeat: rounds.length });
}

describe("pure: the calibration on recorded rounds", () => {
  test("as measured: the total's interval holds the expected ratio within ±10 %, telemetry-service's own cost within ±10 %, the A/A pair undecided and its chance said", () => {
    const c = calibrationOfRecorded(recorded);
    const lines = calibrationLines(c);
    for (const l of lines) console.log(l);
    expect(c.headline!.rounds).toBe(8);
    expect(c.headline!.contains).toBe(true);
    expect(c.headline!.within).toBe(true);
    expect(c.passed).toBe(true);
    expect(c.why_failed).toBeNull();
    expect(c.process_passed).toBe(true);
    expect(c.total_verdict).toBe("higher");
    expect(["equivalent", "inconclusive"]).toContain(c.aa.verdict);
    expect(c.aa.false_verdict_chance).toBeCloseTo(0.05 / 3, 12);
    expect(lines[0]).toMatch(/^injected 1 ms of CPU per request into telemetry-service, which received 9\.85 calls per client request; the case's total CPU per client request was \d+\.\d\d ms without it: expected ×1\.\d{3} with it/);
    expect(lines[1]).toMatch(/^measured ×1\.\d{3} \(95 % CI 1\.\d{3}–\d\.\d{3}, each of 8 rounds at 30 requests\/s set against its own expected ratio; the pair alone 1\.\d{3}–\d\.\d{3}, verdict higher\): within ±10 % of it \(1\.\d{3}–2\.\d{3}\): passed; it holds the expected ratio$/);
    expect(lines[3]).toStartWith("telemetry-service alone: expected +9.85 ms of its CPU per client request (9.85 calls × 1 ms); measured +");
    expect(lines[4]).toContain("no false verdict (one comes by chance in at most 1.7 % of calibrations, about 1 in 60: 5 % over the comparison's 3 pairs)");
  });

  test("a real calibration recorded here (test/fixtures/calibrate-rounds.json, a busy machine): ×1.616 against ×1.611 expected, 95 % CI 1.497–1.744 with each round against its own expected ratio — passed; the pair alone, 1.451–1.799, would reach beyond ±10 %", () => {
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "calibrate-rounds.json"), "utf8")) as {
      columns: typeof COLUMNS;
      rounds: ({ round: number } & Record<"plain" | "twin" | "injected", { resources_ms: Record<string, number>; calls: Record<string, number>; flags: string[] }>)[];
    };
    const runs = fixture.rounds.flatMap((r) => (["plain", "twin", "injected"] as const).map((column) => {
      const run = calibrationRun(fixture.columns[column], 0);
      run.resources = Object.fromEntries(Object.entries(r[column].resources_ms).map(([p, ms]) => [p, { cpu_seconds: (ms * 180) / 1000, peak_rss_bytes: 1, peak_pss_bytes: 1, cpu_ms_per_request: ms }]));
      run.calls_per_request = r[column].calls;
      run.flags = r[column].flags;
      return { file: `${column}-${r.round}`, round: r.round, result: run };
    }));
    const targets = Object.values(fixture.columns);
    const comparison = analyse(runs, { seed: 3, params: {}, rounds: fixture.rounds.map((r) => ({ round: r.round, order: targets })), targets });
    const c = calibrationOf(runs, fixture.columns, comparison, { ...CALIBRATE_DEFAULTS, maxRepeat: 5, duration: "6s", warmup: "2s", seed: 3 });
    for (const l of calibrationLines(c)) console.log(l);
    const h = c.headline!;
    expect(h.rounds).toBe(5);
    expect(c.calls_per_request).toBeCloseTo(9.806, 3);
    expect(h.ratio).toBeCloseTo(1.616, 3);
    expect(h.expected_ratio).toBeCloseTo(1.611, 3);
    expect(h.ci[0]).toBeCloseTo(1.4966, 3);
    expect(h.ci[1]).toBeCloseTo(1.744, 3);
    expect(h.pair_ci[0]).toBeCloseTo(1.451, 3);
    expect(h.pair_ci[1]).toBeCloseTo(1.799, 3);
    expect(h.pair_ci[1]).toBeGreaterThan(h.bounds[1]);
    expect(c.passed).toBe(true);
    // telemetry-service alone: +9.57 ms against 9.81 expected, 2.4 % under.
    expect(c.measured_ms).toBeCloseTo(9.567, 2);
    expect(c.process_passed).toBe(true);
    // That day the A/A pair said higher (×1.068): what at most 1.7 % of calibrations show by chance, or a busy machine.
    expect(c.aa.verdict).toBe("higher");
  });

  test("the burn costs 25 % more than asked: the total does not hold the expected ratio (11 % over it, undecided alone), and the process alone lies wholly beyond ±10 %: failed", () => {
    const c = calibrationOfRecorded(recorded, { injectedMs: 1.25 });
    expect(c.headline!.contains).toBe(false);
    expect(c.passed).toBe(false);
    expect(c.outcome).toBe("failed");
    expect(c.why_undecided).toBeNull();
    expect(c.process_passed).toBe(false);
    expect(c.why_failed).toContain("beyond ±10 % of the expected");
    expect(c.headline!.outside).toBe(false);
    expect(c.why_failed).toStartWith("telemetry-service alone was measured +");
    expect(calibrationLines(c)[1]).toContain("): reaching past ±10 % of it (");
    expect(calibrationLines(c)[1]).toContain(": FAILED; ");
  });

  test("the injected process right but the case's total off (3 ms more elsewhere per request): the headline fails, the process line alone would have passed", () => {
    const c = calibrationOfRecorded(recorded, { sideMs: 3 });
    expect(c.process_passed).toBe(true);
    expect(c.passed).toBe(false);
    expect(c.outcome).toBe("failed");
    expect(c.why_failed).toContain("wholly beyond ±10 % of the expected");
    expect(calibrationLines(c)[1]).toContain("): OUTSIDE ±10 % of it (");
    expect(c.headline!.contains).toBe(false);
  });

  test("a cost the injection causes elsewhere (1 ms more per client request across the case): the interval leaves the expected ratio out, still within ±10 %: passed, and the line says by how much and where", () => {
    const c = calibrationOfRecorded(recorded, { sideMs: 0.8 });
    for (const l of calibrationLines(c)) console.log(l);
    expect(c.headline!.contains).toBe(false);
    expect(c.headline!.within).toBe(true);
    expect(c.passed).toBe(true);
    const lines = calibrationLines(c);
    expect(lines[1]).toMatch(/: passed; it leaves the expected ratio out: the total rose more than the injection, by 0\.\d\d ms per client request$/);
    expect(lines[2]).toMatch(/^the rest of the case with the injection, CPU per client request: rest-gateway \+0\.\d\d ms, /);
    expect(c.elsewhere_ms!["rest-gateway"]).toBeGreaterThan(0.3);
    expect(Object.keys(c.elsewhere_ms!)).not.toContain("vegeta");
  });

  test("two rounds: an interval that holds the expected ratio but reaches past ±10 % is undecided, neither passed nor failed, and says more rounds would narrow it", () => {
    const c = calibrationOfRecorded([recorded[0], recorded[4]]);
    expect(c.headline!.contains).toBe(true);
    expect(c.headline!.within).toBe(false);
    expect(c.headline!.outside).toBe(false);
    expect(c.passed).toBe(false);
    expect(c.outcome).toBe("undecided");
    expect(c.why_failed).toBeNull();
    expect(c.why_undecided).toStartWith("after 2 rounds the interval of the total CPU per request with the injection, ×");
    expect(c.why_undecided).toContain("without lying beyond it: neither passed nor failed; more rounds (--max-repeat) or longer runs would narrow it");
    expect(calibrationLines(c)[1]).toContain("): reaching past ±10 % of it (");
    expect(calibrationLines(c)[1]).toContain(": UNDECIDED; ");
  });
});

test("bad input is one line and exit 2, before anything starts", () => {
  for (const [args, line] of [
    [["calibrate", "--repeat", "1"], "fleetbench: calibrate needs --repeat of at least 2 rounds (5 by default), got 1"],
    [["calibrate", "--inject", "fast"], 'fleetbench: --inject must be a duration like 30s, 5m or 1m30s, got "fast"'],
    [["calibrate", "--inject", "200ms"], 'fleetbench: --inject must be a CPU time per request between 0 and 100 ms (e.g. 1ms), got "200ms"'],
    [["calibrate", "10s", "20s"], 'fleetbench: calibrate takes one DURATION (e.g. `just calibrate 10s`), got "10s 20s"'],
  ] as const) {
    const r = fleetCli([...args]);
    expect({ code: r.code, err: r.err.trim() }).toEqual({ code: 2, err: line });
  }
});

test("a real calibration: the total CPU per request, injected ÷ plain, is not shown beyond ±10 % of (plain + calls × 1 ms) ÷ plain (passed, or undecided on a noisy machine); the injected cost beside it; no false A/A verdict twice in a row", async () => {
  const sql = await testSql();
  await reseed(sql, 15);
  await sql.end();
  // The A/A pair gives a verdict by chance in at most 1.7 % of sound calibrations (its line says so;
  // a CI run met one: ×1.080 [1.008–1.158]). A calibration that shows one is followed by a second
  // with other orders, and that one must show none: two in a row come by chance in at most 0.03 %,
  // while a method that favours a column shows them often. Everything else is required of both.
  const aaVerdicts: string[] = [];
  for (let attempt = 0; attempt < 2 && !["equivalent", "inconclusive"].includes(aaVerdicts.at(-1) ?? ""); attempt++) {
    const lines: string[] = [];
    const { path, calibration } = await calibrate(config, { duration: "8s", repeat: 5, maxRepeat: 10, rate: 30, injectMs: 1, warmup: "2s", seed: 3 + attempt }, (l) => lines.push(l));
    for (const l of calibrationLines(calibration)) console.log(l);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(JSON.parse(JSON.stringify(calibration)));
    // Mix 50/30/20 at 15 robots: 0.5·15 + 0.3·1 + 0.2·10 = 9.8 calls to telemetry-service per client request.
    expect(calibration.calls_per_request).toBeCloseTo(9.8, 0);
    expect(calibration.expected_ms).toBeCloseTo(calibration.calls_per_request, 10);
    // Five rounds, and more (up to ten) while the interval holds the expected ratio but is wider than ±10 %.
    expect(calibration.rounds).toBeGreaterThanOrEqual(5);
    expect(calibration.rounds).toBeLessThanOrEqual(10);
    expect(calibration.headline!.rounds).toBe(calibration.rounds);
    expect(calibration.headline!.interval_kind).toStartWith(`95 % repeated interval at look ${calibration.rounds} of rounds 5–10`);
    // Whether it also holds the expected ratio is said, not required (src/plans/calibrate.ts, its header): the caller pays for a slower callee.
    expect(Object.keys(calibration.elsewhere_ms!)).toEqual(expect.arrayContaining(["alert-service", "postgres", "rest-gateway", "robot-service"]));
    // Passed when the interval lies within ±10 % of it. On this 2-core machine the callers' ~5 % and a
    // per-round spread near 0.1 leave the interval straddling the band's upper edge in a good share of
    // calibrations after ten rounds (undecided: said, exit 4); failed, wholly beyond, is what a
    // miscounting total gives, and the test refuses it.
    expect(calibration.headline!.outside).toBe(false);
    expect(calibration.outcome).not.toBe("failed");
    expect(calibration.why_failed).toBeNull();
    expect(calibration.passed).toBe(calibration.headline!.within);
    if (calibration.outcome === "undecided") expect(calibration.rounds).toBe(10);
    expect(Math.abs(calibration.error)).toBeLessThanOrEqual(0.1);
    expect(calibration.process_passed).toBe(true);
    expect(calibration.measured_ci[0]).toBeLessThanOrEqual(calibration.measured_ms);
    expect(calibration.total_verdict).toBe("higher");
    expect(calibration.resolvable_at_r).toBeGreaterThan(0);
    expect(lines.some((l) => /^measured ×\d\.\d{3} \(95 % CI/.test(l))).toBe(true);
    expect(lines.some((l) => /^telemetry-service alone: expected \+\d+\.\d\d ms/.test(l))).toBe(true);
    expect(calibration.aa.false_verdict_chance).toBeCloseTo(0.05 / 3, 12);
    // A verdict between identical targets is said as such, with its chance.
    const aaLine = lines.find((l) => l.startsWith("A/A (Case 1 against itself): "))!;
    expect(aaLine).toContain(["equivalent", "inconclusive"].includes(calibration.aa.verdict) ? ": no false verdict (one comes by chance in at most 1.7 % of calibrations" : ": a verdict between identical targets (one comes by chance in at most 1.7 %");
    // The comparison behind it names the injected column by what was injected.
    const comparison = JSON.parse(readFileSync(calibration.comparison, "utf8"));
    expect(comparison.targets).toEqual(["case1 · rest-gateway #1", "case1 · rest-gateway #2", "case1 · rest-gateway +1 ms CPU in telemetry-service"]);
    aaVerdicts.push(calibration.aa.verdict);
  }
  if (aaVerdicts.length > 1) console.log(`the first calibration's A/A pair said ${aaVerdicts[0]}; the second's: ${aaVerdicts[1]}`);
  expect(["equivalent", "inconclusive"]).toContain(aaVerdicts.at(-1)!);
});
