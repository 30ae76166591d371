/**
 * `just demo` on a machine where Apollo Router is not built yet: it must not wait half an hour,
 * and it must not substitute silently. With a tools cache holding the load engine only, the demo starts the
 * Router's build in the background, pauses it while it measures, runs Case 3 through Hive
 * Gateway, says so above the report, and leaves the build running; `just tools` then shows the
 * build's progress. The build is killed at the end (it would take 20-45 minutes).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadConfig } from "../src/config";
import { demo } from "../src/cli/demo";
import { down } from "../src/run/supervisor";
import { VEGETA_VERSION, vegetaBinary } from "../src/run/tools";
import { runningBuild } from "../src/run/builds";
import { config, quiet, reseed, testSql } from "./utils";

setDefaultTimeout(300_000);

const tools = mkdtempSync(join(tmpdir(), "fleetbench-cold-tools-"));
const cold = loadConfig({ ...process.env, FLEET_TOOLS_DIR: tools });

beforeAll(async () => {
  const sql = await testSql();
  await reseed(sql, 15);
  await sql.end();
  // vegeta as `just tools` leaves it; no Apollo Router.
  const vegeta = join(tools, `vegeta-${VEGETA_VERSION}`, "bin", "vegeta");
  mkdirSync(dirname(vegeta), { recursive: true });
  copyFileSync(vegetaBinary(config), vegeta);
  Bun.spawnSync(["chmod", "+x", vegeta]);
});

afterAll(async () => {
  const build = runningBuild(cold, "apollo-router");
  if (build) Bun.spawnSync(["kill", "-KILL", "--", `-${build.pid}`]);
  await down(config, quiet);
  rmSync(tools, { recursive: true, force: true });
});

/** The state letter (R, S, T, ...) of every process in a process group. */
function groupStates(pgid: number): string[] {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  const states: string[] = [];
  for (const e of readdirSync("/proc").filter((x: string) => /^\d+$/.test(x))) {
    try {
      const fields = readFileSync(`/proc/${e}/stat`, "utf8").split(") ")[1].split(" ");
      if (Number(fields[2]) === pgid) states.push(fields[0]);
    } catch {}
  }
  return states;
}

test("before Apollo Router is built, the demo runs Case 3 through Hive Gateway and says so, its build paused while measuring and running afterwards", async () => {
  const lines: string[] = [];
  const pausedWhileMeasuring: string[][] = [];
  const log = (line: string) => {
    lines.push(line);
    // The moment each measured run starts: the build's whole process group must be stopped (T).
    const build = runningBuild(cold, "apollo-router");
    if (line.startsWith("measuring:") && build) pausedWhileMeasuring.push(groupStates(build.pid));
  };
  const { comparison, markdown } = await demo(cold, log, { vus: 4, duration: "2s", rateDuration: "3s", repeat: 4, warmup: "1s" });
  const build = runningBuild(cold, "apollo-router");
  expect(build).not.toBeNull();
  expect(lines.some((l) => l.startsWith("building apollo-router 2.17.0 in the background (pid "))).toBe(true);
  // Every measured run (the warm probe of 4 targets, then 4 targets × 4 rounds × 2 operating points) saw the build stopped, every process of it.
  expect(pausedWhileMeasuring.length).toBe(4 + 32);
  for (const states of pausedWhileMeasuring) {
    expect(states.length).toBeGreaterThan(0);
    expect(states.filter((s) => s !== "T")).toEqual([]);
  }
  // Nothing substituted silently: the column is Hive Gateway by name, and the report says why first.
  expect(comparison.targets).toEqual(["case1 · rest-gateway", "case1b · rest-gateway", "case2 · yoga-gateway", "case3 · hive-gateway"]);
  expect(comparison.notes?.[0]).toStartWith("Case 3 ran through Hive Gateway only: Apollo Router 2.17.0 is not built yet, and its build runs in the background");
  const report = readFileSync(markdown, "utf8");
  expect(report.indexOf("> ⚠ Case 3 ran through Hive Gateway only")).toBeGreaterThan(0);
  expect(report.indexOf("> ⚠ Case 3 ran through Hive Gateway only")).toBeLessThan(report.indexOf("| target |"));
  // Decided or "inconclusive (needs about R rounds)", never "no clear difference by construction".
  expect(report).not.toContain("by construction");
  expect(comparison.metrics.cpu_ms_total.operating_point).toMatch(/^at \d+ requests\/s \(open model\)$/);
  // The runs at the rate measured their own, longer window, and the report says both.
  expect(comparison.params.rate_duration).toBe("3s");
  const measured = comparison.runs.map((r) => JSON.parse(readFileSync(join(cold.resultsDir, r.file), "utf8")) as { mode: string; params: { duration: string } });
  expect(new Set(measured.filter((r) => r.mode === "rate").map((r) => r.params.duration))).toEqual(new Set(["3s"]));
  expect(new Set(measured.filter((r) => r.mode !== "rate").map((r) => r.params.duration))).toEqual(new Set(["2s"]));
  expect(report).toContain("2s runs at the VUs, 3s at the rate, after a 1s warm-up");
  expect(lines.some((l) => /^planned: 36 run\(s\) .* of 1s warm-up \+ 2s \(3s for the 16 at the rate\): about /.test(l))).toBe(true);
  // Afterwards the build runs again, and the demo said how far it is and what to do next.
  expect(groupStates(build!.pid).some((s) => s !== "T")).toBe(true);
  expect(lines.some((l) => /apollo-router 2\.17\.0: building for \d+\.\d min \(expected about 20-45 minutes/.test(l))).toBe(true);
  expect(lines.some((l) => l.includes("`just demo` then adds the Apollo Router column"))).toBe(true);
  // `just tools` finds the running build and waits for it with its progress; Ctrl-C leaves it running.
  const waiter = Bun.spawn([process.execPath, "src/main.ts", "tools", "apollo-router"], { env: { ...process.env, FLEET_TOOLS_DIR: tools }, stdout: "pipe", stderr: "pipe" });
  let out = "";
  const reader = (async () => {
    for await (const chunk of waiter.stdout as ReadableStream<Uint8Array>) out += new TextDecoder().decode(chunk);
  })();
  for (let i = 0; i < 200 && !/building for/.test(out); i++) await Bun.sleep(100);
  waiter.kill("SIGINT");
  await waiter.exited;
  await reader;
  expect(out).toContain(`apollo-router 2.17.0 is building in the background (pid ${build!.pid}); waiting for it`);
  expect(out).toMatch(/apollo-router 2\.17\.0: building for \d+\.\d min/);
  expect(runningBuild(cold, "apollo-router")?.pid).toBe(build!.pid);
  expect(existsSync(join(tools, "apollo-router-2.17.0.build.log"))).toBe(true);
});
