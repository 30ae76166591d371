/**
 * The client APIs answer the same data in every case (Case 3 through each federation gateway),
 * and that data is what the database says (DESIGN §5): for every robot id, at the default fleet
 * size and a larger one.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

import { up } from "../src/supervisor";
import { TARGETS, call, config, expectedAnswers, plain, quiet, reseed, useFleetDatabase } from "./utils";

setDefaultTimeout(180_000);

const db = useFleetDatabase();

describe.each([15, 200])("fleet of %d robots", (n) => {
  let expected: Awaited<ReturnType<typeof expectedAnswers>>;
  const answers: Record<string, unknown> = {};

  beforeAll(async () => {
    await reseed(db.sql, n);
    expected = await expectedAnswers(db.sql);
    expect(expected.ids.length).toBe(n);
  });

  for (const { label, caseName, config: cfg } of TARGETS) {
    test(`${label}: every API equals the SQL-computed answer`, async () => {
      await up(cfg, caseName, { log: quiet });
      const dashboard = await call(caseName, "dashboard", undefined, cfg);
      expect(dashboard.status).toBe(200);
      expect(dashboard.answer).toEqual(plain(expected.dashboard));

      const critical = await call(caseName, "critical", undefined, cfg);
      expect(critical.status).toBe(200);
      expect(critical.answer).toEqual(plain(expected.critical));

      const monitors: unknown[] = [];
      for (const id of expected.ids) {
        const monitor = await call(caseName, "monitor", id, cfg);
        expect(monitor.status).toBe(200);
        expect(monitor.answer).toEqual(plain(expected.monitor(id)));
        monitors.push(monitor.answer);
      }
      answers[label] = { dashboard: dashboard.answer, critical: critical.answer, monitors };
    });
  }

  test("every case answers deep-equal to every other", () => {
    const [first, ...rest] = TARGETS.map((t) => t.label);
    expect(answers[first]).toBeDefined();
    for (const other of rest) expect(answers[other]).toEqual(answers[first]);
  });
});

test("critical alerts at N = 15: exactly 10, on 10 distinct robots", async () => {
  await reseed(db.sql, 15);
  const expected = await expectedAnswers(db.sql);
  expect(expected.critical.length).toBe(10);
  expect(new Set(expected.critical.map((a: any) => a.robot.id)).size).toBe(10);
});
