/**
 * The internal-call contract (DESIGN §6), read from every process's /metrics: Case 1 fans out
 * (1 + 2N, 2 + 2K), case1b and Case 2 batch (1/1/1; case1b's critical alerts call the robot
 * service twice), Case 3 adds one request per subgraph (through each
 * federation gateway): one request at a time and 20 identical ones at once.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

import { API_NAMES, type ApiName } from "../src/run/cases";
import { delta, scrapeRequests } from "../src/run/scrape";
import { up } from "../src/run/supervisor";
import { EVERY_RUNTIME, TARGETS, call, quiet, reseed, times, useFleetDatabase } from "./utils";

setDefaultTimeout(180_000);

const CONCURRENT = 20;
const db = useFleetDatabase();

type Calls = Record<string, number>;

/**
 * Requests each process receives for ONE client request, written out as numbers (README, "The
 * internal-call contract"), not computed by a formula the code could share. K is the number of
 * critical alerts: 10 at N = 15 and 27 at N = 40. Apollo Router, Hive Router and NGINX export no
 * http_requests_total of ours, so they have no entry; Hive Gateway and Apollo Gateway do.
 */
const CONTRACT: Record<number, Record<string, Record<ApiName, Calls>>> = {
  15: {
    case1: {
      dashboard: { "rest-gateway": 1, "robot-service": 1, "telemetry-service": 15, "alert-service": 15 },
      monitor: { "rest-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "rest-gateway": 1, "robot-service": 11, "telemetry-service": 10, "alert-service": 1 },
    },
    case1b: {
      dashboard: { "rest-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "rest-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "rest-gateway": 1, "robot-service": 2, "telemetry-service": 1, "alert-service": 1 },
    },
    case2: {
      dashboard: { "yoga-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "yoga-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "yoga-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
    "case3 apollo-router": {
      dashboard: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
    "case3 hive-gateway": {
      dashboard: { "hive-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "hive-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "hive-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
    "case1 nginx": {
      dashboard: { "robot-service": 1, "telemetry-service": 15, "alert-service": 15 },
      monitor: { "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "robot-service": 11, "telemetry-service": 10, "alert-service": 1 },
    },
    "case1b nginx": {
      dashboard: { "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "robot-service": 2, "telemetry-service": 1, "alert-service": 1 },
    },
    "case3 hive-router": {
      dashboard: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
    "case3 apollo-gateway": {
      dashboard: { "apollo-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "apollo-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "apollo-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
  },
  40: {
    case1: {
      dashboard: { "rest-gateway": 1, "robot-service": 1, "telemetry-service": 40, "alert-service": 40 },
      monitor: { "rest-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "rest-gateway": 1, "robot-service": 28, "telemetry-service": 27, "alert-service": 1 },
    },
    case1b: {
      dashboard: { "rest-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "rest-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "rest-gateway": 1, "robot-service": 2, "telemetry-service": 1, "alert-service": 1 },
    },
    case2: {
      dashboard: { "yoga-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "yoga-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "yoga-gateway": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
    "case3 apollo-router": {
      dashboard: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
    "case3 hive-gateway": {
      dashboard: { "hive-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "hive-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "hive-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
    "case1 nginx": {
      dashboard: { "robot-service": 1, "telemetry-service": 40, "alert-service": 40 },
      monitor: { "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "robot-service": 28, "telemetry-service": 27, "alert-service": 1 },
    },
    "case1b nginx": {
      dashboard: { "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "robot-service": 2, "telemetry-service": 1, "alert-service": 1 },
    },
    "case3 hive-router": {
      dashboard: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
    "case3 apollo-gateway": {
      dashboard: { "apollo-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      monitor: { "apollo-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
      critical: { "apollo-gateway": 1, "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1, "robot-service": 1, "telemetry-service": 1, "alert-service": 1 },
    },
  },
};

/** The K each row above was written for: critical alerts in the seeded data. */
const CRITICAL_ALERTS: Record<number, number> = { 15: 10, 40: 27 };

test("the table covers every case, gateway and API the tests run", () => {
  for (const n of [15, 40]) {
    expect(Object.keys(CONTRACT[n]).sort()).toEqual(TARGETS.map((t) => t.contract).sort());
    for (const label of Object.keys(CONTRACT[n])) expect(Object.keys(CONTRACT[n][label]).sort()).toEqual([...API_NAMES].sort());
  }
});

describe.each([15, 40])("fleet of %d robots", (n) => {
  beforeAll(async () => {
    await reseed(db.sql, n);
  });

  test(`the data has K = ${CRITICAL_ALERTS[n]} critical alerts, each on a distinct robot`, async () => {
    const [row] = await db.sql`SELECT count(*)::int AS alerts, count(DISTINCT robot_id)::int AS robots FROM alerts WHERE severity = 'critical'`;
    expect(row).toEqual({ alerts: CRITICAL_ALERTS[n], robots: CRITICAL_ALERTS[n] });
  });

  for (const { label, contract, caseName, config: cfg } of EVERY_RUNTIME) {
    for (const api of API_NAMES) {
      test(`${label} ${api}: one request, then ${CONCURRENT} at once`, async () => {
        const state = await up(cfg, caseName, { log: quiet });
        const per = CONTRACT[n][contract][api];

        const before = await scrapeRequests(state.processes);
        const single = await call(caseName, api, "robot-002", cfg);
        expect(single.status).toBe(200);
        expect(single.answer).toBeTruthy();
        expect(delta(before, await scrapeRequests(state.processes))).toEqual(per);

        const start = await scrapeRequests(state.processes);
        // Identical requests in flight together: a gateway that deduplicated them would show fewer calls.
        const many = await Promise.all(Array.from({ length: CONCURRENT }, () => call(caseName, api, "robot-003", cfg)));
        for (const r of many) expect(r.status).toBe(200);
        expect(delta(start, await scrapeRequests(state.processes))).toEqual(times(per, CONCURRENT));
      });
    }
  }
});

test("Case 1 at N = 15 (README): dashboard costs 31 internal requests, critical alerts 22", () => {
  const services = (calls: Calls) => Object.entries(calls).filter(([name]) => name.endsWith("-service")).reduce((s, [, v]) => s + v, 0);
  expect(services(CONTRACT[15].case1.dashboard)).toBe(31);
  expect(services(CONTRACT[15].case1.critical)).toBe(22);
});

describe("Case 1's fan-out policy (FLEET_FANOUT)", () => {
  test("fanOut keeps the items' order and never has more than the limit in flight; unbounded starts them all", async () => {
    const { fanOut } = await import("../src/orchestration");
    for (const limit of [1, 3, null]) {
      let inFlight = 0;
      let most = 0;
      const answers = await fanOut([...Array(10).keys()], limit, async (i) => {
        most = Math.max(most, ++inFlight);
        await Bun.sleep(10 - i);
        inFlight--;
        return i * 2;
      });
      expect({ limit, answers, most }).toEqual({ limit, answers: [...Array(10).keys()].map((i) => i * 2), most: limit ?? 10 });
    }
  });

  test("bounded to 3 robots at once, Case 1 answers as the database with exactly the same calls, and the result's parity says so", async () => {
    const { loadConfig } = await import("../src/config");
    const { caseSpec } = await import("../src/run/cases");
    const { runGate } = await import("../src/run/gate");
    const { parityOf } = await import("../src/run/parity");
    await reseed(db.sql, 15);
    const bounded = loadConfig({ ...process.env, FLEET_FANOUT: "3" });
    const state = await up(bounded, "case1", { log: quiet, env: { FLEET_FANOUT: "3" } });
    // The robot service, which does the fan-out, runs with the setting.
    const robotPid = state.processes.find((p) => p.name === "robot-service")!.pid;
    expect(require("node:fs").readFileSync(`/proc/${robotPid}/environ`, "utf8").split("\0")).toContain("FLEET_FANOUT=3");
    expect(await runGate(caseSpec("case1"), bounded, db.sql)).toMatchObject({ passed: true, failures: [] });
    for (const api of ["dashboard", "critical"] as const) {
      const before = await scrapeRequests(state.processes);
      expect((await call("case1", api, "robot-002", bounded)).status).toBe(200);
      expect(delta(before, await scrapeRequests(state.processes))).toEqual(CONTRACT[15].case1[api]);
    }
    const robot = (p: ReturnType<typeof parityOf>) => p.processes["robot-service"] as { fan_out?: string };
    expect(robot(parityOf(bounded, caseSpec("case1"), { startedCase: true, postgresVersion: null })).fan_out).toBe("at most 3 robots at once");
    expect(robot(parityOf(loadConfig({}), caseSpec("case1"), { startedCase: true, postgresVersion: null })).fan_out).toBe("unbounded (every robot at once)");
    expect(loadConfig({ FLEET_FANOUT: "unbounded" }).fanout).toBeNull();
    for (const bad of ["0", "abc", "-2"]) expect(() => loadConfig({ FLEET_FANOUT: bad })).toThrow(`FLEET_FANOUT must be a number of robots at once, or "unbounded" (1-100000), got "${bad}"`);
  });
});
