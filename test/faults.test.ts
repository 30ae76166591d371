/**
 * Faults under load (issue: reliability): the telemetry service is killed for a few seconds
 * during a k6 run against every case and gateway. The gateway stays up, failures come back
 * fast and name telemetry, and once the service is back the errors stop within a bounded time.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { loadConfig } from "../src/config";
import { runLoad } from "../src/load";
import { isAlive, listeners } from "../src/ports";
import { down, faultProcess, readState, recoverProcess, up } from "../src/supervisor";
import { TARGETS, call, config, quiet, reseed, testSql } from "./utils";

setDefaultTimeout(180_000);

const TIMEOUT_MS = 2000;
const FLEET_PORTS = [10000, 10001, 10002, 10003, 10011, 10012, 10013];

beforeAll(async () => {
  const sql = await testSql();
  await reseed(sql, 15);
  await sql.end();
});

afterAll(async () => {
  await down(config, quiet);
  // No orphans: nothing of ours listens, and no fleetbench role process is left.
  expect(listeners().filter((l) => FLEET_PORTS.includes(l.port))).toEqual([]);
  const ours = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`${import.meta.dir.replace(/test$/, "")}src/main.ts`);
    } catch {
      return false;
    }
  });
  expect(ours.filter((pid) => isAlive(Number(pid)))).toEqual([]);
});

describe.each(TARGETS)("$label: telemetry-service killed for 3 s during a run", ({ caseName, config: base, gateway }) => {
  // Every internal call of the case gives up after TIMEOUT_MS.
  const cfg = loadConfig({ ...process.env, CASE3_GATEWAY: base.case3Gateway, FLEET_TIMEOUT_MS: String(TIMEOUT_MS) });

  test("failures name telemetry while it is down", async () => {
    await up(cfg, caseName, { log: quiet, env: { FLEET_TIMEOUT_MS: String(TIMEOUT_MS) } });
    await faultProcess(cfg, "telemetry-service", "kill");
    try {
      const t0 = performance.now();
      const dashboard = await call(caseName, "dashboard", undefined, cfg);
      expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS);
      expect(dashboard.status).toBeLessThan(600);
      expect(JSON.stringify(dashboard.body)).toContain("telemetry-service");
      if (caseName === "case1") expect(dashboard.status).toBe(502);
      else expect(dashboard.body.errors.length).toBeGreaterThan(0);
    } finally {
      await recoverProcess(cfg, "telemetry-service", "kill");
    }
  });

  test("the run: gateway up throughout, fast failures, errors gone within 3 s of the restart", async () => {
    const state = await up(cfg, caseName, { log: quiet, env: { FLEET_TIMEOUT_MS: String(TIMEOUT_MS) } });
    const gatewayPid = state.processes.find((p) => p.name === gateway)!.pid;
    const { result } = await runLoad(cfg, {
      case: caseName, mode: "duration", vus: 5, duration: "12s", warmup: "1s",
      chaos: { service: "telemetry-service", seconds: 3, mode: "kill", atSeconds: 3 },
    }, quiet);
    const chaos = result.extra.chaos as Record<string, any>;
    expect(result.status).toBe("complete");
    expect(chaos.fault_at_s).toBeGreaterThan(2);
    expect(chaos.back_at_s).toBeGreaterThan(chaos.fault_at_s + 2.9);
    expect(chaos.errors_total).toBeGreaterThan(0); // the fault was felt
    expect(chaos.first_error_s).toBeGreaterThanOrEqual(Math.floor(chaos.fault_at_s));
    expect(chaos.time_to_recover_s).toBeLessThanOrEqual(3);
    // Seconds before the fault and after recovery: no errors at all.
    for (const s of chaos.timeline) {
      if (s.second < Math.floor(chaos.fault_at_s) || s.second > chaos.back_at_s + 3) expect(s.errors).toBe(0);
    }
    expect(result.summary!.latency_ms.max).toBeLessThan(TIMEOUT_MS + 1000);
    // The same gateway process answered the whole run.
    expect(isAlive(gatewayPid)).toBe(true);
    expect(readState(cfg)!.processes.find((p) => p.name === gateway)!.pid).toBe(gatewayPid);
    await down(cfg, quiet);
  });
});

test("a paused (hanging) telemetry service: every response still arrives within the timeout", async () => {
  const cfg = loadConfig({ ...process.env, FLEET_TIMEOUT_MS: String(TIMEOUT_MS) });
  await up(cfg, "case2", { log: quiet, env: { FLEET_TIMEOUT_MS: String(TIMEOUT_MS) } });
  const { result } = await runLoad(cfg, {
    case: "case2", mode: "duration", vus: 5, duration: "10s", warmup: "1s",
    chaos: { service: "telemetry-service", seconds: 3, mode: "pause", atSeconds: 2 },
  }, quiet);
  const chaos = result.extra.chaos as Record<string, any>;
  expect(chaos.errors_total).toBeGreaterThan(0);
  expect(result.summary!.latency_ms.max).toBeGreaterThan(TIMEOUT_MS * 0.9); // the hang was felt...
  expect(result.summary!.latency_ms.max).toBeLessThan(TIMEOUT_MS + 1000); // ...and cut at the timeout
  expect(chaos.time_to_recover_s).toBeLessThanOrEqual(3);
  await down(cfg, quiet);
});
