/**
 * Case 3's own contract, through each federation gateway: the composed client schema is Case 2's,
 * the committed supergraph is current, @defer streams as in Case 2, bad queries are 400s, and a
 * subgraph that is down costs its fields, not the answer. (Equality and call counts for every
 * case and gateway are in equality.test.ts and calls.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { buildSchema, lexicographicSortSchema, printSchema } from "graphql";

import { gatewayChoices, GRAPHQL_QUERIES } from "../src/run/cases";
import { type Config, loadConfig } from "../src/config";
import type { Sql } from "../src/db";
import { isAlive } from "../src/run/ports";
import { RUNTIMES } from "../src/runtime";
import { SUPERGRAPH } from "../src/router";
import { composeSupergraph, composedApiSchema } from "../src/supergraph";
import { down, up, type SupervisorState } from "../src/run/supervisor";
import { CLIENT_SCHEMA } from "../src/yoga-gateway";
import { call, config as base, expectedAnswers, plain, quiet, reseed, testSql } from "./utils";

setDefaultTimeout(180_000);

describe("composition", () => {
  test("the composed client schema prints exactly as Case 2's CLIENT_SCHEMA", () => {
    expect(composedApiSchema()).toBe(printSchema(lexicographicSortSchema(buildSchema(CLIENT_SCHEMA))));
  });

  test("compose/supergraph.graphql is what the subgraphs compose to now (rerun `just supergraph`)", () => {
    expect(readFileSync(SUPERGRAPH, "utf8")).toBe(composeSupergraph());
  });
});

/** Every federation gateway of the table, and whether it streams @defer (Apollo Gateway has no incremental delivery). */
const GATEWAYS = gatewayChoices("case3");
const STREAMS_DEFER: Record<string, boolean> = { "apollo-router": true, "hive-gateway": true, "hive-router": false, "apollo-gateway": false };
/**
 * Hive Router follows GraphQL over HTTP to the letter, with no switch: a request error is a 400 to
 * a client that accepts application/graphql-response+json, a 200 with errors to one that accepts
 * only application/json (every other gateway answers 400 either way). Its parity record says so.
 */
const REQUEST_ERROR_ACCEPT: Record<string, string> = { "hive-router": "application/graphql-response+json" };
const post = (cfg: Config, body: unknown, accept = "application/json") =>
  fetch(`${cfg.urls.gateway}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });

/** The parts of a multipart/mixed response body, parsed as JSON, in arrival order. */
function multipartParts(contentType: string, body: string): any[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1] ?? "-";
  return body
    .split(`--${boundary}`)
    .map((chunk) => chunk.slice(chunk.indexOf("\r\n\r\n") + 4).trim())
    .filter((chunk) => chunk.startsWith("{"))
    .map((chunk) => JSON.parse(chunk));
}

const DEFERRED_DASHBOARD = "{ fleetDashboard { robots { id name ... @defer { activeAlerts { severity message } } } } }";

async function expectDeferred(cfg: Config, expected: Awaited<ReturnType<typeof expectedAnswers>>) {
  const response = await post(cfg, { query: DEFERRED_DASHBOARD }, "multipart/mixed;deferSpec=20220824, application/json");
  expect(response.status).toBe(200);
  const type = response.headers.get("content-type") ?? "";
  expect(type).toContain("multipart/mixed");
  const parts = multipartParts(type, await response.text());
  expect(parts.length).toBeGreaterThanOrEqual(2);
  // First part: the robots without their alerts, more to come.
  expect(parts[0].hasNext).toBe(true);
  expect(parts[0].data.fleetDashboard.robots.map((r: any) => r.id)).toEqual(expected.ids);
  expect(parts[0].data.fleetDashboard.robots.every((r: any) => r.activeAlerts === undefined)).toBe(true);
  // Later parts: each robot's alerts, as the database has them.
  const deferred = parts.slice(1).flatMap((p) => p.incremental ?? []);
  expect(parts.at(-1).hasNext).toBe(false);
  const byIndex = new Map(deferred.map((d: any) => [d.path[2], d.data.activeAlerts]));
  expect(expected.dashboard.robots.map((_: unknown, i: number) => byIndex.get(i))).toEqual(
    plain(expected.dashboard.robots.map((r: any) => r.activeAlerts)),
  );
}

const BAD_REQUESTS: [string, unknown][] = [
  ["a field that does not exist", { query: "{ fleetDashboard { robots { id serialNumber } } }" }],
  ["a syntax error", { query: "{ fleetDashboard { robots { id " }],
  ["a missing variable", { query: "query M($id: ID!) { robotMonitor(id: $id) { robot { id } } }" }],
];

beforeAll(async () => {
  const sql = await testSql(base);
  await reseed(sql, 15);
  await sql.end();
});

// @defer and bad queries on every runtime of the TypeScript roles (docs/design.md §16).
describe.each(RUNTIMES)("Case 2 on %s (the reference for Case 3)", (runtime) => {
  const cfg: Config = { ...base, runtime };
  let sql: Sql;
  let expected: Awaited<ReturnType<typeof expectedAnswers>>;
  beforeAll(async () => {
    await up(cfg, "case2", { log: quiet });
    sql = await testSql(cfg);
    expected = await expectedAnswers(sql);
  });
  afterAll(async () => {
    await sql.end();
  });
  test("@defer: the dashboard arrives first, each robot's alerts after", async () => {
    await expectDeferred(cfg, expected);
  });
  for (const [what, body] of BAD_REQUESTS) {
    test(`${what} → GraphQL errors with HTTP 400`, async () => {
      const response = await post(cfg, body);
      expect(response.status).toBe(400);
      expect((await response.json()).errors.length).toBeGreaterThan(0);
    });
  }
});

describe.each(RUNTIMES.flatMap((runtime) => GATEWAYS.map((gateway) => [gateway, runtime] as const)))("Case 3 through %s, subgraphs on %s", (gateway, runtime) => {
  const config = loadConfig({ ...process.env, CASE3_GATEWAY: gateway, FLEET_RUNTIME: runtime });
  let state: SupervisorState;
  let sql: Sql;
  let expected: Awaited<ReturnType<typeof expectedAnswers>>;

  beforeAll(async () => {
    state = await up(config, "case3", { log: quiet });
    sql = await testSql(config);
    expected = await expectedAnswers(sql);
  });

  afterAll(async () => {
    await sql?.end();
    await down(config, quiet);
  });

  test("an unknown robot is null; an implausible id is BAD_USER_INPUT from the robot subgraph", async () => {
    expect(state.gateway).toBe(gateway);
    const unknown = await call("case3", "monitor", "robot-none", config);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual({ data: { robotMonitor: null } });

    const bad = await call("case3", "monitor", "no such robot!", config);
    expect(bad.body.data?.robotMonitor ?? null).toBeNull();
    expect(bad.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  test("the narrower dashboard query of the original design works", async () => {
    const response = await post(config, { query: "{ fleetDashboard { robots { id name latestTelemetry { batteryLevel } } } }" });
    const body = await response.json();
    expect(body.errors).toBeUndefined();
    expect(body.data.fleetDashboard.robots.map((r: any) => r.latestTelemetry.batteryLevel)).toEqual(
      expected.dashboard.robots.map((r: any) => r.latestTelemetry.batteryLevel),
    );
  });

  if (STREAMS_DEFER[gateway]) {
    test("@defer: the dashboard arrives first, each robot's alerts after", async () => {
      await expectDeferred(config, expected);
    });
  } else {
    test("@defer, which it does not support, is a 400 naming the directive (recorded in parity)", async () => {
      const response = await post(config, { query: DEFERRED_DASHBOARD }, REQUEST_ERROR_ACCEPT[gateway] ?? "multipart/mixed;deferSpec=20220824, application/json");
      expect(response.status).toBe(400);
      expect(JSON.stringify((await response.json()).errors)).toContain("@defer");
    });
  }

  for (const [what, body] of BAD_REQUESTS) {
    test(`${what} → GraphQL errors with HTTP 400`, async () => {
      const response = await post(config, body, REQUEST_ERROR_ACCEPT[gateway]);
      expect(response.status).toBe(400);
      expect((await response.json()).errors.length).toBeGreaterThan(0);
    });
  }

  if (REQUEST_ERROR_ACCEPT[gateway]) {
    test("to a client that accepts only application/json, a request error is a 200 carrying the errors and no data", async () => {
      const response = await post(config, BAD_REQUESTS[0][1]);
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body.data ?? null).toBeNull();
      expect(body.errors.length).toBeGreaterThan(0);
    });
  }

  test("a subgraph that is down: partial data and an error naming it, within a bounded time", async () => {
    const telemetry = state.processes.find((p) => p.name === "telemetry-subgraph")!;
    process.kill(-telemetry.pid, "SIGKILL");
    while (isAlive(telemetry.pid)) await Bun.sleep(10);
    const t0 = performance.now();
    const response = await post(config, { query: GRAPHQL_QUERIES.dashboard });
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(config.timeoutMs);
    const body = await response.json();
    // The robots and their alerts still arrive; their telemetry is null, with an error that names the subgraph.
    expect(body.data.fleetDashboard.robots.map((r: any) => r.id)).toEqual(expected.ids);
    expect(plain(body.data.fleetDashboard.robots.map((r: any) => r.activeAlerts))).toEqual(
      plain(expected.dashboard.robots.map((r: any) => r.activeAlerts)),
    );
    expect(body.data.fleetDashboard.robots.every((r: any) => r.latestTelemetry === null)).toBe(true);
    expect(JSON.stringify(body.errors)).toContain("telemetry-subgraph");
    // The gateway itself is still up.
    const gatewayProcess = state.processes.find((p) => p.name === gateway)!;
    expect(isAlive(gatewayProcess.pid)).toBe(true);
  });
});
