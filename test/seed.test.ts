/** Seed determinism (docs/design.md §3) and configuration validation. */
import { expect, setDefaultTimeout, test } from "bun:test";

import { ConfigError, loadConfig } from "../src/config";
import { contentHash } from "../src/db";
import { criticalCount, generateFleet, robotId } from "../src/seed";
import { reseed, useFleetDatabase } from "./utils";

setDefaultTimeout(180_000);

const db = useFleetDatabase();

test("the same fleet size gives the same rows twice (content hash)", async () => {
  await reseed(db.sql, 15);
  const first = await contentHash(db.sql);
  await reseed(db.sql, 40);
  const other = await contentHash(db.sql);
  await reseed(db.sql, 15);
  expect(await contentHash(db.sql)).toBe(first);
  expect(other).not.toBe(first);
});

test("the default fleet (N = 15) has the pinned content hash on every machine", async () => {
  // docs/design.md §3 promises byte-identical data for the same N on every machine; this md5 of every row
  // (src/db.ts, contentHash) was taken once and written here. A change of this value is a change
  // of the benchmark's data: results before and after it are not comparable. Never update it to
  // make the test pass; change it only with a deliberate change of the data, and say so.
  await reseed(db.sql, 15);
  expect(await contentHash(db.sql)).toBe("f582b04ff803af0789416c5ed299d333");
});

test("generation is a pure function of N", () => {
  expect(generateFleet(200)).toEqual(generateFleet(200));
});

test("fleet shape: ids, telemetry per robot, critical alerts on distinct robots, a few in maintenance", () => {
  for (const n of [15, 200, 1000]) {
    const fleet = generateFleet(n);
    expect(fleet.robots.length).toBe(n);
    expect(fleet.telemetry.length).toBe(100 * n);
    const critical = fleet.alerts.map((a) => a.split("\t")).filter((a) => a[1] === "critical");
    expect(critical.length).toBe(criticalCount(n));
    expect(new Set(critical.map((a) => a[0])).size).toBe(criticalCount(n));
    const maintenance = fleet.robots.filter((r) => r.endsWith("\tmaintenance")).length;
    expect(maintenance).toBeGreaterThan(0);
    expect(maintenance).toBeLessThan(n / 2);
    for (const row of fleet.telemetry.slice(0, 300)) {
      for (const value of row.split("\t").slice(1, 4)) expect(value).toMatch(/^\d+\.\d$/);
    }
  }
  expect(criticalCount(15)).toBe(10);
  expect(robotId(0, 15)).toBe("robot-001");
  expect(robotId(9999, 10000)).toBe("robot-10000");
});

test("a fleet of 10,000 loads (bulk COPY) and answers", async () => {
  await reseed(db.sql, 10000);
  const [row] = await db.sql`SELECT count(*)::int AS robots, (SELECT count(*)::int FROM telemetry_data) AS telemetry FROM robots`;
  expect(row).toEqual({ robots: 10000, telemetry: 1_000_000 });
});

test("invalid configuration names the variable and the value", () => {
  expect(() => loadConfig({ FLEET_ROBOT_PORT: "abc" })).toThrow('FLEET_ROBOT_PORT must be a port number (1-65535), got "abc"');
  expect(() => loadConfig({ FLEET_GATEWAY_PORT: "70000" })).toThrow(ConfigError);
  expect(() => loadConfig({ FLEET_SIZE: "0" })).toThrow("FLEET_SIZE");
  expect(() => loadConfig({ FLEET_TELEMETRY_URL: "ftp://x" })).toThrow("FLEET_TELEMETRY_URL must be an http(s) URL");
  expect(() => loadConfig({ CASE3_GATEWAY: "nginx" })).toThrow('CASE3_GATEWAY must be one of apollo-router, hive-gateway, hive-router, apollo-gateway, got "nginx"');
  const ok = loadConfig({ FLEET_ROBOT_PORT: "20001" });
  expect(ok.ports.robot).toBe(20001);
  expect(ok.urls.robot).toBe("http://127.0.0.1:20001");
});
