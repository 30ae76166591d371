/**
 * The client APIs answer the same data in every case (Case 3 through each federation gateway),
 * and that data is what the database says (docs/design.md §5): for every robot id, at the default fleet
 * size and a larger one. At N = 15 every answer, and the correctness gate's own reference, must
 * also equal the committed golden answers (test/fixtures/golden-15.json), which depend on neither
 * the services' SQL nor src/run/gate.ts's.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

import { referenceAnswers } from "../src/run/gate";
import { up } from "../src/run/supervisor";
import GOLDEN_15 from "./fixtures/golden-15.json";
import { EVERY_RUNTIME, call, expectedAnswers, plain, quiet, reseed, useFleetDatabase } from "./utils";

setDefaultTimeout(180_000);

const db = useFleetDatabase();

/** The committed answers at N = 15: never regenerated to make a test pass (see its `_about`). */
const GOLDEN: Record<number, typeof GOLDEN_15> = { 15: GOLDEN_15 };

describe.each([15, 200])("fleet of %d robots", (n) => {
  let expected: Awaited<ReturnType<typeof expectedAnswers>>;
  const answers: Record<string, unknown> = {};

  const golden = GOLDEN[n];

  beforeAll(async () => {
    await reseed(db.sql, n);
    expected = await expectedAnswers(db.sql);
    expect(expected.ids.length).toBe(n);
  });

  if (golden) {
    test("src/run/gate.ts's referenceAnswers equal the golden answers", async () => {
      const reference = await referenceAnswers(db.sql);
      expect(golden.fleetSize).toBe(n);
      expect(plain(reference.dashboard)).toEqual(golden.dashboard);
      expect(plain(reference.critical)).toEqual(golden.critical);
      expect(reference.ids).toEqual(Object.keys(golden.monitor));
      for (const id of reference.ids) expect(plain(reference.monitor(id))).toEqual(golden.monitor[id as keyof typeof golden.monitor]);
    });
  }

  for (const { label, caseName, config: cfg } of EVERY_RUNTIME) {
    test(`${label}: every API equals the SQL-computed answer${golden ? " and the golden one" : ""}`, async () => {
      await up(cfg, caseName, { log: quiet });
      const dashboard = await call(caseName, "dashboard", undefined, cfg);
      expect(dashboard.status).toBe(200);
      expect(dashboard.answer).toEqual(plain(expected.dashboard));
      if (golden) expect(dashboard.answer).toEqual(golden.dashboard);

      const critical = await call(caseName, "critical", undefined, cfg);
      expect(critical.status).toBe(200);
      expect(critical.answer).toEqual(plain(expected.critical));
      if (golden) expect(critical.answer).toEqual(golden.critical);

      const monitors: unknown[] = [];
      if (golden) expect(expected.ids).toEqual(Object.keys(golden.monitor));
      for (const id of expected.ids) {
        const monitor = await call(caseName, "monitor", id, cfg);
        expect(monitor.status).toBe(200);
        expect(monitor.answer).toEqual(plain(expected.monitor(id)));
        if (golden) expect(monitor.answer).toEqual(golden.monitor[id as keyof typeof golden.monitor]);
        monitors.push(monitor.answer);
      }
      answers[label] = { dashboard: dashboard.answer, critical: critical.answer, monitors };
    });
  }

  test("every case answers deep-equal to every other", () => {
    const [first, ...rest] = EVERY_RUNTIME.map((t) => t.label);
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
