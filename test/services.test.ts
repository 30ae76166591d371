/**
 * Data services, orchestration-free routes and the Yoga gateway's request handling, called
 * without sockets (`app.handle`, `yoga.fetch`) against the real database.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

import { createAlertService } from "../src/alert-service";
import { loadConfig } from "../src/config";
import type { Sql } from "../src/db";
import { createRobotService } from "../src/robot-service";
import { createTelemetryService } from "../src/telemetry-service";
import { createYogaGateway } from "../src/yoga-gateway";
import { down } from "../src/run/supervisor";
import { config, quiet, reseed, testSql } from "./utils";

setDefaultTimeout(180_000);

let sql: Sql;
let robot: ReturnType<typeof createRobotService>;
let telemetry: ReturnType<typeof createTelemetryService>;
let alert: ReturnType<typeof createAlertService>;

beforeAll(async () => {
  sql = await testSql();
  await reseed(sql, 15);
  robot = createRobotService({ config, sql });
  telemetry = createTelemetryService({ config, sql });
  alert = createAlertService({ config, sql });
});

afterAll(async () => {
  await sql.end();
  await down(config, quiet); // the database testSql started
});

const get = (app: { handle: (r: Request) => Promise<Response> }, path: string) => app.handle(new Request(`http://local${path}`));
const post = (app: { handle: (r: Request) => Promise<Response> }, path: string, body: string, type = "application/json") =>
  app.handle(new Request(`http://local${path}`, { method: "POST", body, headers: { "content-type": type } }));

describe("robot service", () => {
  test("lists the fleet ordered by id", async () => {
    const robots = await (await get(robot, "/robots")).json();
    expect(robots.length).toBe(15);
    expect(robots[0]).toEqual({ id: "robot-001", name: "AGV-Alpha", model: expect.any(String), location: expect.any(String), status: "active" });
    expect(robots.map((r: { id: string }) => r.id)).toEqual([...robots.map((r: { id: string }) => r.id)].sort());
  });
  test("one robot, and a 404 with a JSON error for an unknown one", async () => {
    expect((await (await get(robot, "/robots/robot-007")).json()).id).toBe("robot-007");
    const missing = await get(robot, "/robots/robot-999");
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toContain("robot-999");
  });
  test("batch answers every id, null for unknown ones", async () => {
    const response = await post(robot, "/robots/batch", JSON.stringify({ robot_ids: ["robot-002", "robot-999"] }));
    const body = await response.json();
    expect(Object.keys(body)).toEqual(["robot-002", "robot-999"]);
    expect(body["robot-002"].name).toBe("AMR-Beta");
    expect(body["robot-999"]).toBeNull();
  });
  test("/health and /metrics", async () => {
    expect(await (await get(robot, "/health")).json()).toEqual({ status: "ok" });
    const metrics = await (await get(robot, "/metrics")).text();
    expect(metrics).toContain("http_requests_total");
    expect(metrics).toContain("process_cpu_seconds_total");
    expect(metrics).toContain("nodejs_eventloop_lag_seconds");
  });
});

describe("telemetry and alert services", () => {
  test("latest telemetry is the newest reading, ISO time with milliseconds", async () => {
    const latest = await (await get(telemetry, "/telemetry/robot-001/latest")).json();
    expect(latest.robot_id).toBe("robot-001");
    expect(latest.timestamp).toBe("2026-01-01T01:39:00.000Z");
    expect(Object.keys(latest).sort()).toEqual(["battery_level", "cpu_usage", "robot_id", "temperature", "timestamp"]);
    expect((await get(telemetry, "/telemetry/robot-999/latest")).status).toBe(404);
  });
  test("telemetry batch: one entry per id", async () => {
    const body = await (await post(telemetry, "/telemetry/batch", JSON.stringify({ robot_ids: ["robot-003", "robot-999"] }))).json();
    expect(body["robot-003"].robot_id).toBe("robot-003");
    expect(body["robot-999"]).toBeNull();
  });
  test("alerts newest first, critical ones, and batches", async () => {
    const list = await (await get(alert, "/alerts/robot-001")).json();
    expect(list.length).toBeGreaterThan(0);
    const times = list.map((a: { created_at: string }) => a.created_at);
    expect(times).toEqual([...times].sort().reverse());
    const critical = await (await get(alert, "/alerts/critical")).json();
    expect(critical.length).toBe(10);
    expect(critical.every((a: { severity: string }) => a.severity === "critical")).toBe(true);
    const batch = await (await post(alert, "/alerts/batch", JSON.stringify({ robot_ids: ["robot-001", "robot-999"] }))).json();
    expect(batch["robot-001"]).toEqual(list);
    expect(batch["robot-999"]).toEqual([]);
  });
});

describe("bad input: a clear 4xx, never a 500", () => {
  // [what, body, content type, status, error code, what the message must say]
  const cases: [string, string, string, number, string, string][] = [
    ["not JSON", "{robot_ids:", "application/json", 400, "INVALID_JSON", "request body is not valid JSON"],
    ["not an object", "[1,2]", "application/json", 400, "INVALID_BATCH", 'body must be a JSON object {"robot_ids": [string, ...]}'],
    ["robot_ids not an array", '{"robot_ids":"robot-001"}', "application/json", 400, "INVALID_BATCH", 'body must be a JSON object {"robot_ids": [string, ...]}'],
    ["ids that are not strings", '{"robot_ids":[1]}', "application/json", 400, "INVALID_BATCH", "robot_ids must hold strings, got 1"],
    ["an implausible id", '{"robot_ids":["robot-001\' OR 1=1 --"]}', "application/json", 400, "INVALID_ROBOT_ID", `robot id must be 1-20 letters, digits, "-" or "_", got "robot-001' OR 1=1 --"`],
    ["wrong content type", "robot_ids=robot-001", "text/plain", 400, "INVALID_BATCH", 'body must be a JSON object {"robot_ids": [string, ...]}'],
  ];
  for (const [what, body, type, status, code, message] of cases) {
    test(`batch with ${what} → ${status} ${code}`, async () => {
      for (const [app, path] of [[robot, "/robots/batch"], [telemetry, "/telemetry/batch"], [alert, "/alerts/batch"]] as const) {
        const response = await post(app, path, body, type);
        expect(response.status).toBe(status);
        expect(await response.json()).toEqual({ error: message, code });
      }
    });
  }
  test("more ids than the configured maximum → 413 naming the limit", async () => {
    const small = loadConfig({ FLEET_BATCH_MAX: "5" });
    const app = createTelemetryService({ config: small, sql });
    const ids = Array.from({ length: 6 }, (_, i) => `robot-00${i + 1}`);
    const response = await post(app, "/telemetry/batch", JSON.stringify({ robot_ids: ids }));
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: "robot_ids may hold at most 5 ids, got 6", code: "BATCH_TOO_LARGE" });
  });
  test("implausible ids in paths → 400; unknown routes → 404", async () => {
    for (const path of ["/robots/%27%3B%20DROP%20TABLE%20robots", "/telemetry/robot-%E2%9C%93/latest", "/alerts/" + "x".repeat(40)]) {
      const app = path.startsWith("/robots") ? robot : path.startsWith("/telemetry") ? telemetry : alert;
      const response = await get(app, path);
      expect(response.status).toBe(400);
    }
    expect((await get(robot, "/nope")).status).toBe(404);
  });
});

describe("Yoga gateway request handling (no sockets)", () => {
  const { yoga } = createYogaGateway({ config });
  const gql = (body: string, accept = "application/json") =>
    yoga.fetch(new Request("http://local/graphql", { method: "POST", body, headers: { "content-type": "application/json", accept } }));
  test("unknown field, syntax error, missing variable → errors, HTTP 400", async () => {
    for (const body of [
      JSON.stringify({ query: "{ nope }" }),
      JSON.stringify({ query: "{ fleetDashboard { robots { id } " }),
      JSON.stringify({ query: "query M($id: ID!) { robotMonitor(id: $id) { id } }" }),
    ]) {
      const response = await gql(body);
      expect(response.status).toBe(400);
      expect((await response.json()).errors.length).toBeGreaterThan(0);
    }
  });
  test("an implausible robot id is a GraphQL error, not a crash", async () => {
    // Refused before execution since the hardening (README, "Faults, limits and exposure"): a 400, no data.
    const response = await gql(JSON.stringify({ query: '{ robotMonitor(id: "\' OR 1=1") { id } }' }));
    const body = await response.json();
    expect(response.status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe("BAD_USER_INPUT");
  });
});
