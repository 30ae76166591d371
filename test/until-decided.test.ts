/**
 * `compare --until-decided` (src/plans/compare.ts with src/stats/sequential.ts): a look after each
 * round on the comparison's runs, the verdicts it gives replacing the fixed-size ones in the
 * report, and the command line's checks. The procedure's error rates are test/sequential.test.ts's.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compare } from "../src/plans/compare";
import { sequentialLook } from "../src/plans/until-decided";
import type { RunResult } from "../src/run/results";
import { down } from "../src/run/supervisor";
import { config, fleetCli, quiet, reseed, testSql } from "./utils";

setDefaultTimeout(300_000);

/** A run of `target` in `round`: its total CPU per request and its throughput. */
const run = (target: string, round: number, mode: "duration" | "rate", cpuMs: number, okRps: number, flags: string[] = []) => ({
  round,
  result: {
    case: target, gateway: null, mode, status: "complete", flags,
    summary: { ok_rps: okRps, rps: okRps, error_rate: 0 }, resources: { gw: { cpu_ms_per_request: cpuMs } }, extra: {},
  } as unknown as RunResult,
});

test("each look pairs the rounds both targets have; a clear difference is decided at the first look, noise is not", () => {
  // a costs twice b's CPU, with 2 % noise per round; their throughput is the same but for noise.
  const noise = [0.01, -0.02, 0.015, -0.005, 0.02, -0.01];
  const done = noise.flatMap((e, i) => [
    run("case1", i + 1, "rate", 10 * Math.exp(e), 0), run("case2", i + 1, "rate", 5, 0),
    run("case1", i + 1, "duration", 1, 300 * Math.exp(e * 3)), run("case2", i + 1, "duration", 1, 300 * Math.exp(-e * 3)),
  ]);
  const look = sequentialLook(done, ["case1 · rest-gateway", "case2 · yoga-gateway"], 3, { minRounds: 3, maxRounds: 10, final: false });
  const cpu = look.families.find((f) => f.key === "cpu_ms_total")!.family.pairs[0];
  expect(cpu).toMatchObject({ a: "case1 · rest-gateway", b: "case2 · yoga-gateway", verdict: "higher", decided_at: 3 });
  expect(cpu.ratio).toBeCloseTo(2 * Math.exp((0.01 - 0.02 + 0.015) / 3), 9);
  const rps = look.families.find((f) => f.key === "ok_rps")!.family.pairs[0];
  expect(rps.verdict).toBe("continue");
  // A round whose run is left out (no_steady_state) gives that pair no log ratio.
  const lost = done.map((d) => (d.round === 2 && d.result.case === "case1" && d.result.mode === "rate" ? { ...d, result: { ...d.result, flags: ["no_steady_state"] } } : d));
  const withLoss = sequentialLook(lost, ["case1 · rest-gateway", "case2 · yoga-gateway"], 3, { minRounds: 3, maxRounds: 10, final: false });
  expect(withLoss.families[0].family.pairs[0]).toMatchObject({ rounds: 2, verdict: "continue" });
  // The last look says inconclusive for what is still open.
  const last = sequentialLook(done, ["case1 · rest-gateway", "case2 · yoga-gateway"], 3, { minRounds: 3, maxRounds: 10, final: true });
  expect(last.families.find((f) => f.key === "ok_rps")!.family.pairs[0].verdict).toBe("inconclusive");
  expect(look.method).toContain("group-sequential t-tests");
});

test("the command line: --budget only with --until-decided, --rate-duration only with both operating points, neither it nor --metronome with --capacity, and a last look of at least 3 rounds", () => {
  const budget = fleetCli(["compare", "--budget", "5m"]);
  expect({ code: budget.code, err: budget.err.trim() }).toEqual({ code: 2, err: "fleetbench: --budget belongs to --until-decided (the time rounds may be added for)" });
  // --rate-duration is the runs at the rate beside the closed model's: alone with neither it says so.
  for (const args of [["compare", "--rate", "50", "--rate-duration", "5s"], ["compare", "--closed-only", "--rate-duration", "5s"]]) {
    const r = fleetCli(args);
    expect({ code: r.code, err: r.err.trim() }).toEqual({ code: 2, err: "fleetbench: --rate-duration is the open-model runs' duration beside the closed model's: with --rate or --closed-only every run has DURATION" });
  }
  for (const flag of [["--rate-duration", "5s"], ["--metronome"]]) {
    const capacity = fleetCli(["compare", "--capacity", ...flag]);
    expect({ code: capacity.code, said: capacity.err.includes("it takes no VUS, DURATION, --rate, --rate-duration, --pin or --metronome") }).toEqual({ code: 2, said: true });
  }
  const short = fleetCli(["compare", "--until-decided", "--repeat", "2"]);
  expect({ code: short.code, err: short.err.trim() }).toEqual({ code: 2, err: "fleetbench: --until-decided looks from round 3 on: --repeat (its last look) must be at least 3" });
});

test("a real `compare --until-decided` of case1 and case2: a look after every round from 3 on, a stop it names, and the sequential verdicts in the comparison", async () => {
  const sql = await testSql();
  await reseed(sql, 15);
  await sql.end();
  const lines: string[] = [];
  try {
    const { comparison } = await compare(config, { vus: 4, duration: "2s", repeat: 4, gateways: [], warmup: "0s", seed: 5, cases: ["case1", "case2"], untilDecided: { minRounds: 3 } }, (l) => {
      lines.push(l);
      quiet(l);
    });
    expect(lines[0]).toContain("rounds added until every pair of cpu_ms_total and ok_rps is decided (a look after every round from 3 on, at most 4 rounds)");
    const seq = comparison.sequential!;
    expect(seq.method).toContain("group-sequential t-tests");
    expect(seq.rounds === 3 || seq.rounds === 4).toBe(true);
    expect(lines.some((l) => l.trimStart().startsWith("after round 3: "))).toBe(true);
    expect(seq.stopped).toMatch(seq.rounds === 3 ? /^every pair of cpu_ms_total and ok_rps decided or equivalent after 3 rounds$/ : /^(every pair of cpu_ms_total and ok_rps decided or equivalent after 4 rounds|the last look \(4 rounds\))$/);
    expect(comparison.runs.length).toBe(seq.rounds * 4);
    // The fixed-size verdicts of those metrics are replaced by the sequential ones, interval and all.
    for (const key of ["cpu_ms_total", "ok_rps"]) {
      const [pair] = comparison.metrics[key].pairs;
      const [s] = seq.metrics[key];
      expect({ a: s.a, b: s.b }).toEqual({ a: pair.a, b: pair.b });
      expect(pair.paired!.verdict).toBe(s.verdict === "continue" ? "inconclusive" : s.verdict);
      expect(pair.paired!.verdict_ci).toEqual(s.interval);
      expect(pair.paired!.verdict_level).toBe(s.level);
    }
    // With no warm-up a run at the rate still names the run whose start it ran on (no chunk warmed it).
    for (const [i, r] of comparison.runs.entries()) {
      if (r.phase !== "rate") continue;
      const result = JSON.parse(readFileSync(join(config.resultsDir, r.file), "utf8")) as RunResult;
      expect({ started: (result.extra.parity as { started_case: boolean }).started_case, warm: result.extra.warmup_chunks })
        .toEqual({ started: false, warm: { chunks: 0, levels: [], settled: false, follows: comparison.runs[i - 1].file } });
    }
  } finally {
    await down(config, quiet);
  }
});
