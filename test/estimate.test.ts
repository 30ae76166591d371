/**
 * Before long work, how long: `compare` prints its planned runs and their time before the first
 * run starts, and the comparison then runs that many. Starts real cases: run under the machine lock.
 */
import { expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(180_000);
const ROOT = `${import.meta.dirname}/..`;

test("compare says how many runs and how long, before the first one", () => {
  const r = Bun.spawnSync([`${ROOT}/node_modules/.bin/just`, "compare", "--vus", "2", "--duration", "2s", "--cases", "case1,case2", "--repeat", "1", "--warmup", "0s"], { cwd: ROOT, env: process.env, stdout: "pipe", stderr: "pipe" });
  const lines = r.stdout.toString().split("\n");
  expect(r.exitCode).toBe(0);
  // Each round measures every target at two operating points on one start (the closed model, then
  // one rate all sustain), after a warm probe of each target for that rate (measured, not counted).
  const planned = lines.findIndex((l) => /^planned: 6 run\(s\) \(2 targets × 1 rounds × 2 operating points on one start, and a probe of each target\) of 0s warm-up \+ 2s: about \d+ s, until about /.test(l));
  const first = lines.findIndex((l) => l.startsWith("=== probe: "));
  expect(lines.findIndex((l) => l.startsWith("=== [1/4]"))).toBeGreaterThan(first);
  expect(planned).toBeGreaterThanOrEqual(0);
  expect(planned).toBeLessThan(first);
  expect(lines.some((l) => l.startsWith("=== [4/4]"))).toBe(true);
  expect(lines.some((l) => l.startsWith("=== [5/"))).toBe(false);
});
