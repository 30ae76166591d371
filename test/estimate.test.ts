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
  // Each round measures every target at two operating points (the closed model, then one rate all sustain).
  const planned = lines.findIndex((l) => l.startsWith("planned: 4 run(s) (2 targets × 1 rounds × 2 operating points) of 0s warm-up + 2s: about 28 s, until about "));
  const first = lines.findIndex((l) => l.startsWith("=== [1/4]"));
  expect(planned).toBeGreaterThanOrEqual(0);
  expect(planned).toBeLessThan(first);
  expect(lines.some((l) => l.startsWith("=== [4/4]"))).toBe(true);
  expect(lines.some((l) => l.startsWith("=== [5/"))).toBe(false);
});
