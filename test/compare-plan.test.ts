/**
 * A comparison's rows (src/plans/compare-plan.ts), pure: what columns a calibration's three Case 1
 * rows, an A/A pair and a compose platform become, as their runs' results will name them.
 */
import { expect, test } from "bun:test";
import { loadConfig } from "../src/config";
import { selectTargets } from "../src/run/cases";
import { comparePlan } from "../src/plans/compare-plan";

const config = loadConfig();

test("a target named more than once becomes numbered columns, and one with CPU injected a column of its own", () => {
  // Calibration: Case 1 three times, the third with 1 ms of CPU in telemetry-service.
  const { plan, columnOf } = comparePlan(config, selectTargets(["case1", "case1", "case1"], []), ["native"], [null, null, { "telemetry-service": 1 }]);
  expect(plan.map((p) => p.label)).toEqual(["case1 #1", "case1 #2", "case1 +1 ms CPU in telemetry-service"]);
  expect([...columnOf.values()]).toEqual(["case1 · rest-gateway #1", "case1 · rest-gateway #2", "case1 · rest-gateway +1 ms CPU in telemetry-service"]);
  expect(plan.map((p) => p.injectCpu ?? null)).toEqual([null, null, { "telemetry-service": 1 }]);
  // An A/A pair of Case 2: two columns of one target.
  const aa = comparePlan(config, selectTargets(["case2", "case2"], []), ["native"]);
  expect([...aa.columnOf.entries()]).toEqual([["case2 #1", "case2 · yoga-gateway #1"], ["case2 #2", "case2 · yoga-gateway #2"]]);
});

test("compose rows are named apart from the native ones, and only targets that run under compose get one", () => {
  const targets = selectTargets(["case2", "case3"], ["hive-gateway"]);
  const { plan, columnOf } = comparePlan(config, targets, ["native", "compose"]);
  const compose = plan.filter((p) => p.platform === "compose");
  // Every compose row is one of the native targets that compose runs, labelled as such.
  expect(compose.length).toBe(targets.filter((t) => t.compose).length);
  for (const row of compose) {
    expect(row.label.endsWith(" under compose")).toBe(true);
    expect(columnOf.get(row.label)).not.toBe(columnOf.get(row.label.replace(/ under compose$/, "")));
  }
  expect(plan.filter((p) => p.platform === "native").map((p) => p.label)).toEqual(["case2", "case3 (hive-gateway)"]);
  // No two rows share a column: each is its own target in the verdicts.
  expect(new Set(columnOf.values()).size).toBe(plan.length);
});
