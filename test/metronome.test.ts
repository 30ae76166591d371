/**
 * The metronome (src/run/metronome.ts) and the CPU pairs read against it (src/plans/verdicts.ts,
 * src/plans/until-decided.ts): a real metronome process is read and stopped, and stops itself when
 * its comparison is killed; on runs with known values, a factor shared by a run's CPU and its
 * metronome leaves the paired ratio exact, and a run without a reading leaves the metric as measured.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { metronomeMark, metronomeSince, METRONOME_HZ, startMetronome, stopMetronome } from "../src/run/metronome";
import { ADJUSTED, analyse, machineFactor, METRICS, pairValue } from "../src/plans/verdicts";
import { sequentialLook } from "../src/plans/until-decided";
import { verdictMarkdown, parametersLine } from "../src/report/report-verdicts";
import type { RunResult } from "../src/run/results";
import { spawn } from "../src/runtime";
import { metronomesOf } from "./procs";

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("the metronome process", () => {
  test("it beats while a comparison runs, its CPU is read per window, and it is gone once stopped", async () => {
    expect(await startMetronome()).toBeNull();
    const [pid] = metronomesOf(process.pid);
    expect(pid).toBeGreaterThan(0);
    const mark = metronomeMark();
    await sleep(1500);
    const reading = metronomeSince(mark)!;
    expect(reading.hz).toBe(METRONOME_HZ);
    // 60 beats of real work a second: more than nothing, far less than a core.
    expect(reading.cpu_ms_per_s).toBeGreaterThan(0.5);
    expect(reading.cpu_ms_per_s).toBeLessThan(500);
    await stopMetronome();
    expect(metronomesOf(process.pid)).toEqual([]);
    expect(metronomeMark()).toBeNull();
    expect(metronomeSince(mark)).toBeNull();
  });

  test("a comparison killed outright (SIGKILL) leaves no metronome behind: it stops itself", async () => {
    const script = `import { startMetronome } from ${JSON.stringify(join(import.meta.dirname, "..", "src", "run", "metronome.ts"))};\nconsole.log(await startMetronome() ?? "started");\nsetInterval(() => {}, 1000);\n`;
    const child = spawn([process.execPath, "-e", script], { stdout: "pipe" });
    const reader = child.stdout!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value).trim()).toBe("started");
    expect(metronomesOf(child.pid)).toHaveLength(1);
    child.kill("SIGKILL");
    await child.exited;
    const until = Date.now() + 5000;
    while (metronomesOf(child.pid).length && Date.now() < until) await sleep(100);
    expect(metronomesOf(child.pid)).toEqual([]);
  });
});

/** A complete open-model run of `target`'s case with a given CPU per request and metronome reading (null: none). */
function run(c: "case1" | "case2", cpuMs: number, metronome: number | null, round: number): { file: string; round: number; result: RunResult } {
  const file = `${c}-${round}.json`;
  return {
    file, round,
    result: {
      schema_version: 1, run_id: file, case: c, gateway: null, mode: "rate",
      params: { vus: 10, duration: "4s", iterations: null, rate: 60, fleet_size: 15, mix: { dashboard: 100 } },
      started_at: "2026-12-07T00:00:00.000Z", finished_at: "2026-12-07T00:00:04.000Z", status: "complete",
      summary: { requests: 240, rps: 60, ok_rps: 60, error_rate: 0, dropped_iterations: 0, latency_ms: { p50: 5, p90: 8, p95: 9, p99: 12, max: 20 } },
      calls_per_request: {}, flags: [],
      resources: { [c === "case1" ? "rest-gateway" : "yoga-gateway"]: { cpu_seconds: 1, peak_rss_bytes: 1, cpu_ms_per_request: cpuMs }, vegeta: { cpu_seconds: 1, peak_rss_bytes: 1, cpu_ms_per_request: 1 } },
      fingerprint: {}, extra: { canary: { index: 100 }, result_path: `/results/${file}`, ...(metronome === null ? {} : { metronome: { hz: 60, cpu_ms_per_s: metronome } }) },
    },
  };
}

describe("CPU pairs read against the metronome (known values)", () => {
  // Case 1 costs 1.5 × Case 2 in every round, but each run's machine is faster or slower by its own
  // factor, which its CPU and its metronome share.
  const factorA = [1.0, 1.3, 0.8, 1.25, 0.9];
  const factorB = [1.2, 0.85, 1.1, 0.95, 1.3];
  const runs = (withReading: (side: "a" | "b", i: number) => boolean = () => true) => [
    ...factorA.map((f, i) => run("case1", 6 * f, withReading("a", i) ? 16 * f : null, i + 1)),
    ...factorB.map((f, i) => run("case2", 4 * f, withReading("b", i) ? 16 * f : null, i + 1)),
  ];
  const targets = ["case1 · rest-gateway", "case2 · yoga-gateway"];
  const options = { seed: 1, params: {}, rounds: [1, 2, 3, 4, 5].map((round) => ({ round, order: ["case1", "case2"] })), targets };

  test("the factor cancels: the paired ratio is exactly 1.5 with no spread, decided; the medians stay as measured", () => {
    const c = analyse(runs(), options);
    const cpu = c.metrics.cpu_ms_total;
    expect(cpu.adjusted).toBe(ADJUSTED);
    const pair = cpu.pairs[0].paired!;
    expect(pair.ratio).toBeCloseTo(1.5, 10);
    expect(pair.sd_log).toBeCloseTo(0, 10);
    expect(pair.verdict).toBe("higher");
    expect(cpu.cases[targets[0]]!.values!.slice().sort((x, y) => x - y)).toEqual(factorA.map((f) => 6 * f).sort((x, y) => x - y));
    // Throughput is not CPU: never read against the metronome.
    expect(c.metrics.ok_rps.adjusted).toBeUndefined();
    // As measured, the same rounds are far noisier: the factor is what the adjustment removed.
    const raw = factorA.map((f, i) => Math.log((6 * f) / (4 * factorB[i])));
    const mean = raw.reduce((s, x) => s + x, 0) / raw.length;
    expect(Math.sqrt(raw.reduce((s, x) => s + (x - mean) ** 2, 0) / (raw.length - 1))).toBeGreaterThan(0.2);
    expect(parametersLine(c)).toContain("CPU pairs read against the metronome");
    expect(verdictMarkdown(c)).toContain("divided by the metronome's CPU per second in that run");
  });

  test("the unit stays ms per request: values are divided by the run's reading and multiplied by the readings' median", () => {
    const rs = runs().map((r) => r.result);
    const { adjusted, value } = pairValue(METRICS.cpu_ms_total, rs);
    expect(adjusted).toBe(true);
    const readings = rs.map((r) => machineFactor(r)!).sort((x, y) => x - y);
    const median = (readings[4] + readings[5]) / 2;
    expect(value(rs[0])).toBeCloseTo((6 / 16) * median, 12);
  });

  test("one run without a reading: the metric's pairs are compared as measured, and the report does not claim otherwise", () => {
    const c = analyse(runs((side, i) => !(side === "b" && i === 2)), options);
    const cpu = c.metrics.cpu_ms_total;
    expect(cpu.adjusted).toBeUndefined();
    const pair = cpu.pairs[0].paired!;
    const raw = factorA.map((f, i) => Math.log((6 * f) / (4 * factorB[i])));
    expect(Math.log(pair.ratio)).toBeCloseTo(raw.reduce((s, x) => s + x, 0) / raw.length, 10);
    expect(parametersLine(c)).not.toContain("metronome");
    expect(verdictMarkdown(c)).not.toContain("metronome");
  });

  test("--until-decided's looks read the same values: every round's log ratio is log 1.5", () => {
    const done = runs();
    const look = sequentialLook(done, targets, 5, { minRounds: 3, maxRounds: 10, final: false });
    const cpu = look.families.find((f) => f.key === "cpu_ms_total")!;
    expect(cpu.family.pairs[0].verdict).toBe("higher");
    expect(cpu.family.pairs[0].ratio).toBeCloseTo(1.5, 10);
  });
});

describe("on a recorded A/A comparison (test/fixtures/aa-metronome.json)", () => {
  test("reading each run against the metronome narrows the per-round spread of Case 2 against itself", () => {
    const recorded = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "aa-metronome.json"), "utf8")) as { rounds: { a: number; b: number; metronome_a: number; metronome_b: number }[] };
    const sd = (xs: number[]) => {
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
    };
    const raw = sd(recorded.rounds.map((r) => Math.log(r.a / r.b)));
    const read = sd(recorded.rounds.map((r) => Math.log(r.a / r.metronome_a / (r.b / r.metronome_b))));
    console.log(`A/A, 16 rounds of 4 s at 60 requests/s: per-round spread of the log ratio ${raw.toFixed(3)} as measured, ${read.toFixed(3)} against the metronome`);
    expect(recorded.rounds).toHaveLength(16);
    expect(read).toBeLessThan(raw * 0.75);
  });
});
