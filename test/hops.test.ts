/**
 * Network between hops (--hop-latency, docs/design.md §14): Toxiproxy on every internal hop of every
 * case, the delay visible where hops are sequential, the call contract unchanged, the proxy
 * measured as its own component, and bad values or a missing Toxiproxy refused in one line.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_NAMES, caseSpec } from "../src/run/cases";
import { type Config, loadConfig } from "../src/config";
import { runGate } from "../src/run/gate";
import { hops } from "../src/run/hops";
import { runLoad } from "../src/run/load";
import { delta, scrapeRequests } from "../src/run/scrape";
import { readState, stopCase, up } from "../src/run/supervisor";
import { TARGETS, call, config, expectedCalls, quiet, reseed, useFleetDatabase } from "./utils";

setDefaultTimeout(180_000);

const ROOT = `${import.meta.dirname}/..`;
const withHops = (cfg: Config, latency: string) => ({ ...cfg, hopLatencyMs: loadConfig({ FLEET_HOP_LATENCY: latency }).hopLatencyMs });
const db = useFleetDatabase();
beforeAll(async () => {
  await reseed(db.sql, 15);
});

/**
 * The fastest of `n` monitors one after another, in ms, through the running case. A delay added on
 * the path raises this floor by itself, while this machine's noise only ever adds to a sample: the
 * medians of two samples differed by 9.97 ms once with 10 ms added.
 */
async function monitorFloor(cfg: Config, n = 25) {
  let fastest = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    expect((await call("case1", "monitor", "robot-002", cfg)).status).toBe(200);
    fastest = Math.min(fastest, performance.now() - t0);
  }
  return fastest;
}

test("with --hop-latency 5ms Case 1's monitor is at least two sequential hops (10 ms) slower, and every API's calls are exactly the contract", async () => {
  await up(config, "case1", { log: quiet });
  await monitorFloor(config, 5);
  const direct = await monitorFloor(config);
  await stopCase(config, quiet);

  const slow = withHops(config, "5ms");
  const lines: string[] = [];
  const state = await up(slow, "case1", { log: (l) => lines.push(l) });
  expect(lines).toContain("toxiproxy 2.12.0: every internal hop +5 ms (6 proxies; the client → gateway hop is direct)");
  // Every process of the case reaches the others through the proxies, Toxiproxy runs with the case.
  expect(state.processes[0].name).toBe("toxiproxy");
  for (const p of state.processes.filter((p) => p.name !== "toxiproxy")) {
    const env = readFileSync(`/proc/${p.pid}/environ`, "utf8").split("\0");
    for (const h of hops(slow)) expect(env).toContain(`${h.variable}=http://${h.listen}`);
  }
  await monitorFloor(slow, 5);
  const delayed = await monitorFloor(slow);
  // gateway → robot service, then robot service → telemetry and alerts at once: two hops in a row.
  expect(delayed - direct).toBeGreaterThanOrEqual(10);
  for (const api of API_NAMES) {
    const before = await scrapeRequests(state.processes);
    expect((await call("case1", api, "robot-002", slow)).status).toBe(200);
    expect(delta(before, await scrapeRequests(state.processes))).toEqual(expectedCalls("case1", api, 15, 10));
  }
  await stopCase(slow, quiet);
  expect(readState(slow)).toBeNull();
});

describe("--hop-latency 1ms works on every target: the case answers as the database through the proxies", () => {
  for (const target of TARGETS) {
    test(target.label, async () => {
      const cfg = withHops(target.config, "1ms");
      const state = await up(cfg, target.caseName, { log: quiet });
      expect(state.processes.map((p) => p.name)).toContain("toxiproxy");
      const gate = await runGate(caseSpec(target.caseName), cfg, db.sql);
      expect({ passed: gate.passed, failures: gate.failures }).toEqual({ passed: true, failures: [] });
      await stopCase(cfg, quiet);
    });
  }
});

test("a measured run through the proxies: Toxiproxy's CPU is its own component, outside the case's total; the parity and fingerprint say so", async () => {
  const cfg = withHops(config, "1ms");
  const { result } = await runLoad(cfg, { case: "case2", mode: "iterations", vus: 2, iterations: 40, api: "dashboard", warmup: "1s" }, quiet);
  expect(result.status).toBe("complete");
  expect(result.resources.toxiproxy).toBeDefined();
  expect(result.calls_per_request).toEqual({ "robot-service": 1, "telemetry-service": 1, "alert-service": 1 });
  const parity = result.extra.parity as { processes: Record<string, any>; config: Record<string, unknown> };
  expect(parity.processes.toxiproxy).toMatchObject({ version: "2.12.0", hop_latency_ms: 1, client_to_gateway: "direct (not proxied)" });
  expect(parity.config.hopLatencyMs).toBe(1);
  expect((result.fingerprint.versions as Record<string, string>).toxiproxy).toBe("2.12.0");
  const { cpuMsPerRequest, inCaseTotal } = await import("../src/run/run-result");
  const total = cpuMsPerRequest(result, inCaseTotal)!;
  const everything = cpuMsPerRequest(result, (p) => p !== "vegeta")!;
  expect(everything - total).toBeCloseTo(result.resources.toxiproxy.cpu_ms_per_request ?? 0, 6);
});

test("bad input: a latency without its unit is one line (exit 2); without Toxiproxy and a way to build it, one line and nothing starts", () => {
  const run = (args: string[], env: Record<string, string | undefined> = process.env) => {
    const r = Bun.spawnSync([`${ROOT}/node_modules/.bin/bun`, "src/main.ts", ...args], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, err: r.stderr.toString().trim() };
  };
  for (const bad of ["5", "1.5ms", "5s"]) {
    expect(run(["load", "case2", "10", "10s", "--hop-latency", bad])).toEqual({ code: 2, err: `fleetbench: --hop-latency (FLEET_HOP_LATENCY) takes whole milliseconds with the unit, 0ms to 60000ms (e.g. 1ms), got "${bad}"` });
  }
  const tools = mkdtempSync(join(tmpdir(), "fleetbench-no-tools-"));
  const state = mkdtempSync(join(tmpdir(), "fleetbench-state-"));
  const r = run(["up", "case2", "--hop-latency", "1ms"], { ...process.env, PATH: "/usr/bin:/bin", FLEET_TOOLS_DIR: tools, FLEET_STATE_DIR: state });
  expect(r.code).toBe(1);
  expect(r.err.split("\n")).toHaveLength(1);
  expect(r.err).toStartWith("fleetbench: cannot build toxiproxy 2.12.0: missing Go 1.24 or newer");
  expect(readState(loadConfig({ ...process.env, FLEET_STATE_DIR: state }))).toBeNull();
});
