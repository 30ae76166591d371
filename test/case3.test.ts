/**
 * Case 3's own contract: the composed client schema is Case 2's, the committed supergraph is what
 * the subgraphs compose to, and the three APIs answer through real subgraphs and each gateway
 * (Hive Gateway always; Apollo Router wherever its binary is built) with the DESIGN §6 call
 * counts even when identical requests are in flight together (gateway deduplication off, §7).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { buildSchema, lexicographicSortSchema, printSchema } from "graphql";

import { API_NAMES } from "../src/cases";
import { loadConfig } from "../src/config";
import type { Sql } from "../src/db";
import { SUPERGRAPH, routerBinary } from "../src/router";
import { delta, scrapeRequests } from "../src/scrape";
import { composeSupergraph, composedApiSchema } from "../src/supergraph";
import { down, up, type SupervisorState } from "../src/supervisor";
import { CLIENT_SCHEMA } from "../src/yoga-gateway";
import { call, expectedAnswers, expectedCalls, plain, quiet, testSql, times } from "./utils";

setDefaultTimeout(180_000);

describe("composition", () => {
  test("the composed client schema prints exactly as Case 2's CLIENT_SCHEMA", () => {
    expect(composedApiSchema()).toBe(printSchema(lexicographicSortSchema(buildSchema(CLIENT_SCHEMA))));
  });

  test("compose/supergraph.graphql is what the subgraphs compose to now (rerun `bun src/supergraph.ts`)", () => {
    expect(readFileSync(SUPERGRAPH, "utf8")).toBe(composeSupergraph());
  });
});

const GATEWAYS = ["hive-gateway", "apollo-router"] as const;

describe.each(GATEWAYS)("Case 3 through %s", (gateway) => {
  const config = loadConfig({ ...process.env, CASE3_GATEWAY: gateway });
  // The router is built once by `just tools`; without it only its part of the suite is skipped.
  const skip = gateway === "apollo-router" && !existsSync(routerBinary(config));
  let state: SupervisorState;
  let sql: Sql;
  let expected: Awaited<ReturnType<typeof expectedAnswers>>;

  beforeAll(async () => {
    if (skip) return;
    state = await up(config, "case3", { log: quiet });
    sql = await testSql(config);
    expected = await expectedAnswers(sql);
  });

  afterAll(async () => {
    if (skip) return;
    await sql?.end();
    await down(config, quiet);
  });

  test.skipIf(skip)("the three APIs answer what the database says", async () => {
    expect(state.gateway).toBe(gateway);
    const dashboard = await call("case3", "dashboard", "robot-001", config);
    const monitor = await call("case3", "monitor", expected.ids[1], config);
    const critical = await call("case3", "critical", "robot-001", config);
    for (const r of [dashboard, monitor, critical]) expect(r.body.errors).toBeUndefined();
    expect(plain(dashboard.answer)).toEqual(plain(expected.dashboard));
    expect(plain(monitor.answer)).toEqual(plain(expected.monitor(expected.ids[1])));
    expect(plain(critical.answer)).toEqual(plain(expected.critical));
  });

  test.skipIf(skip)("an unknown robot is null; an implausible id is BAD_USER_INPUT from the robot subgraph", async () => {
    const unknown = await call("case3", "monitor", "robot-none", config);
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual({ data: { robotMonitor: null } });

    const bad = await call("case3", "monitor", "no such robot!", config);
    expect(bad.body.data?.robotMonitor ?? null).toBeNull();
    expect(bad.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  test.skipIf(skip)("one request per subgraph and per data service, also for 20 identical requests at once", async () => {
    const n = expected.ids.length;
    for (const api of API_NAMES) {
      const per = expectedCalls("case3", api, n, expected.critical.length, gateway);
      const before = await scrapeRequests(state.processes);
      const single = await call("case3", api, "robot-002", config);
      expect(single.answer).toBeTruthy();
      expect(delta(before, await scrapeRequests(state.processes))).toEqual(per);

      const start = await scrapeRequests(state.processes);
      const many = await Promise.all(Array.from({ length: 20 }, () => call("case3", api, "robot-003", config)));
      for (const r of many) expect(r.body.errors).toBeUndefined();
      expect(delta(start, await scrapeRequests(state.processes))).toEqual(times(per, 20));
    }
  });
});
