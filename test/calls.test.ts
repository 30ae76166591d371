/**
 * The internal-call contract (DESIGN §6), read from every process's /metrics: Case 1 fans out
 * (1 + 2N, 2 + 2K), Case 2 batches (1/1/1), Case 3 adds one request per subgraph (through each
 * federation gateway): one request at a time and 20 identical ones at once.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

import { API_NAMES } from "../src/cases";
import { delta, scrapeRequests } from "../src/scrape";
import { criticalCount } from "../src/seed";
import { up } from "../src/supervisor";
import { TARGETS, call, config, expectedCalls, quiet, reseed, times, useFleetDatabase } from "./utils";

setDefaultTimeout(180_000);

const CONCURRENT = 20;
const db = useFleetDatabase();

describe.each([15, 40])("fleet of %d robots", (n) => {
  const k = criticalCount(n);
  beforeAll(async () => {
    await reseed(db.sql, n);
  });

  for (const { label, caseName, config: cfg, gateway } of TARGETS) {
    for (const api of API_NAMES) {
      test(`${label} ${api}: one request, then ${CONCURRENT} at once`, async () => {
        const state = await up(cfg, caseName, { log: quiet });
        const per = expectedCalls(caseName, api, n, k, gateway);

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

test("Case 1 at N = 15: dashboard costs 31 internal requests, critical alerts 22", () => {
  const sum = (calls: Record<string, number>) =>
    Object.entries(calls).filter(([name]) => name.endsWith("-service")).reduce((s, [, v]) => s + v, 0);
  expect(sum(expectedCalls("case1", "dashboard", 15, criticalCount(15)))).toBe(31);
  expect(sum(expectedCalls("case1", "critical", 15, criticalCount(15)))).toBe(22);
});
