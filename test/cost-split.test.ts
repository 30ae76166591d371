/** How much of CPU per request at the equal offered load is fixed cost (src/plans/cost-split.ts), on hand-worked numbers. */
import { expect, test } from "bun:test";
import { costSplitLines, costSplits, splitOfRound } from "../src/plans/cost-split";
import type { RunResult } from "../src/run/results";

test("one round's line through its two points: 400 req/s at 2.5 ms and 100 req/s at 5 ms is 333 ms/s fixed + 1.667 ms per request", () => {
  const s = splitOfRound({ rps: 400, cpuMs: 2.5 }, { rps: 100, cpuMs: 5 })!;
  expect(s.fixed_cores).toBeCloseTo(1 / 3, 9);
  expect(s.marginal_ms).toBeCloseTo(5 / 3, 9);
  expect(s.fixed_share_at_rate).toBeCloseTo(2 / 3, 9);
  // Two points too close to draw a line: none.
  expect(splitOfRound({ rps: 110, cpuMs: 2.5 }, { rps: 100, cpuMs: 5 })).toBeNull();
});

test("per target over rounds, medians; the first screen's lines say the rate and each share", () => {
  const run = (target: string, round: number, mode: "duration" | "rate", rps: number, cpuMs: number) => ({
    round,
    result: { case: target, gateway: null, mode, status: "complete", flags: [], summary: { ok_rps: rps, rps, error_rate: 0 }, resources: { gw: { cpu_ms_per_request: cpuMs } } } as unknown as RunResult,
  });
  const done = [1, 2, 3].flatMap((r) => [run("a", r, "duration", 400, 2.5 + r * 0.1), run("a", r, "rate", 100, 5), run("b", r, "duration", 200, 4), run("b", r, "rate", 100, 4)]);
  const splits = costSplits(done, ["a", "b"], (r) => r.case);
  expect(splits.map((s) => s.target)).toEqual(["a", "b"]);
  expect(splits[0].rounds).toBe(3);
  // Round 2 is the median: 400 req/s at 2.7 ms (1.08 cores), 100 at 5 (0.5 cores).
  expect(splits[0].marginal_ms).toBeCloseTo(1.933, 3);
  expect(splits[0].fixed_cores).toBeCloseTo(0.307, 3);
  // b's CPU per request does not move with the rate: no fixed cost.
  expect(splits[1].fixed_cores).toBeCloseTo(0, 6);
  expect(splits[1].fixed_share_at_rate).toBeCloseTo(0, 6);
  const lines = costSplitLines(splits, 100);
  expect(lines[0]).toStartWith("At 100 requests/s, how much of each target's CPU per request is fixed cost");
  // The intercept is paid while requests arrive (a lone request costs more than one among many), not at rest: the line must not say otherwise.
  expect(lines[0]).toContain("not what the processes use at rest");
  expect(lines[0]).toContain("a request arriving alone costs more than one among many");
  expect(lines[1]).toBe("a: 5.00 ms per request = 61 % fixed (307 ms of CPU per second) + 1.93 ms per request (3 rounds)");
  expect(costSplitLines(splits, undefined)).toEqual([]);
});
