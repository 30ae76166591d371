/**
 * Observability against a live Prometheus, started natively by the same code as `just obs up`:
 * its generated configuration is valid, every target of a running case is up, the load engine's
 * exporter is scraped with each run's labels while it lasts, and every panel query of every
 * Grafana dashboard returns data for every case.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CASES, type CaseName } from "../src/run/cases";
import { checkDashboards, panelQueries, queryRange, variableQueries } from "../src/deploy/dashboards";
import { runLoad } from "../src/run/load";
import { obsDown, obsUp, prometheusPid, targets } from "../src/deploy/obs";
import { loadgenTargetsFile, prometheusUrl, prometheusYaml, RATE_INTERVAL, scrapeTargets } from "../src/deploy/prometheus";
import { rmSync } from "node:fs";
import { down, stopCase, up } from "../src/run/supervisor";
import type { Sql } from "../src/db";
import { config, quiet, reseed, testSql } from "./utils";

setDefaultTimeout(180_000);

const now = () => Math.floor(Date.now() / 1000);
const startedAt = now();
let obsWasRunning = false;
let sql: Sql;
/** The run of each case: what the dashboards are then queried with. */
const runs: { caseName: CaseName; runId: string }[] = [];

beforeAll(async () => {
  sql = await testSql();
  await reseed(sql, 15);
  obsWasRunning = prometheusPid(config) !== null;
  // No load generator target left from an earlier run: the engine's target appears with a run.
  rmSync(loadgenTargetsFile(config), { force: true });
  await obsUp(config, quiet);
});
afterAll(async () => {
  await sql.end();
  await down(config, quiet);
  // Leave Prometheus as it was found: a user's `just obs up` keeps running.
  if (!obsWasRunning) await obsDown(config, quiet);
});

/** The targets of the case processes' job (the load generator's comes and goes with a run). */
const caseTargets = async () => (await targets(config)).filter((t) => !t.scrapeUrl.includes(`:${config.ports.loadgen}/`));

/** Prometheus' instant answer to `query`. */
async function instant(query: string) {
  const response = await fetch(`${prometheusUrl(config)}/api/v1/query?${new URLSearchParams({ query })}`);
  return (await response.json()).data.result as { metric: Record<string, string>; value: [number, string] }[];
}

/** The metric names in a PromQL expression: identifiers left once label matchers, ranges, grouping clauses and function calls are taken out. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  return [...bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]);
}

/** Polls until `done()` holds, failing with `what` after `ms`: readiness is polled, never slept for. */
async function until(what: string, done: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(250);
  }
}

test("the generated configuration passes promtool and scrapes every process of every case", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "fleetbench-prom-")), "prometheus.yml");
  writeFileSync(file, prometheusYaml(config, "native"));
  const check = Bun.spawnSync(["promtool", "check", "config", file], { stdout: "pipe", stderr: "pipe" });
  expect({ code: check.exitCode, out: `${check.stdout}${check.stderr}` }).toMatchObject({ code: 0 });
  const addresses = scrapeTargets(config, "native").map((t) => t.address);
  for (const spec of Object.values(CASES)) {
    for (const gateway of ["apollo-router", "hive-gateway"] as const) {
      for (const p of spec.processes({ ...config, case3Gateway: gateway })) expect(addresses).toContain(`127.0.0.1:${p.port(config)}`);
    }
  }
  // The running Prometheus scrapes exactly those targets.
  expect((await caseTargets()).map((t) => new URL(t.scrapeUrl).host).sort()).toEqual([...addresses].sort());
});

describe("a short run of each case, the engine's exporter scraped while Prometheus scrapes the case", () => {
  for (const caseName of Object.keys(CASES) as CaseName[]) {
    test(caseName, async () => {
      const state = await up(config, caseName, { log: quiet });
      const ports = new Set(state.processes.map((p) => `127.0.0.1:${p.port}`));
      // Every target of the running case becomes up; the other cases' targets stay down. A target
      // Prometheus has not scraped yet is "unknown" (the first scrape of each target comes at its
      // own offset within the scrape interval), so wait until each has been scraped once.
      await until(`every ${caseName} target up and every target scraped`, async () =>
        (await caseTargets()).every((t) => (ports.has(new URL(t.scrapeUrl).host) ? t.health === "up" : t.health !== "unknown")),
      );
      for (const t of await caseTargets()) {
        expect({ target: t.scrapeUrl, health: t.health }).toEqual({ target: t.scrapeUrl, health: ports.has(new URL(t.scrapeUrl).host) ? "up" : "down" });
      }
      const lines: string[] = [];
      // Long enough for a rate: Prometheus applies a changed targets file within about 10 s (its
      // discovery and its scrape manager each pass changes on at most every 5 s), scrapes at its
      // own offset within 5 s, and a rate needs two scrapes, 5 s apart, while the exporter lives.
      const { result } = await runLoad(config, { case: caseName, mode: "duration", vus: 2, duration: "25s", warmup: "1s" }, (l) => lines.push(l));
      expect(result.status).toBe("complete");
      // Every answer right: a run of errors (a storm of transport failures, status 0) also fills the exporter, and would pass unseen.
      expect({ case: caseName, error_rate: result.summary!.error_rate, errors: result.summary!.errors }).toEqual({ case: caseName, error_rate: 0, errors: { status: 0, body: 0, transport: 0 } });
      expect(lines).toContain(`the load generator's metrics at http://127.0.0.1:${config.ports.loadgen}/metrics while the run lasts, scraped by Prometheus (job load-generator, case ${caseName}, run ${result.run_id})`);
      runs.push({ caseName, runId: result.run_id });
      // One scrape after the run ended, so the processes' counters include the whole run.
      const ended = Date.parse(result.finished_at!) / 1000;
      await until("a scrape after the run", async () => Number((await instant(`min(timestamp(up{instance=~"${[...ports].join("|")}"}))`))[0]?.value[1]) > ended);
      // The exporter ends with the engine: it is found when the targets file is read (within 5 s)
      // and scraped every 5 s until the engine ends, so it counted part of the run's requests, never more.
      const scraped = Number((await instant(`sum(max_over_time(request_seconds_count{job="load-generator", run="${result.run_id}"}[5m]))`))[0]?.value[1]);
      expect(scraped).toBeLessThanOrEqual(result.summary!.requests);
      expect(scraped).toBeGreaterThan(0);
      // Two scrapes at least, so the dashboards' rates have a value for the run.
      const scrapes = Number((await instant(`max(count_over_time(request_seconds_count{job="load-generator", run="${result.run_id}"}[5m]))`))[0]?.value[1]);
      const first = Number((await instant(`min(min_over_time(timestamp(request_seconds_count{job="load-generator", run="${result.run_id}"})[5m:1s]))`))[0]?.value[1]);
      console.log(`${caseName}: the exporter was scraped ${scrapes} times, the first ${(first - Date.parse(result.started_at) / 1000).toFixed(1)} s after the run's start`);
      expect(scrapes).toBeGreaterThanOrEqual(2);
      const apis = (await instant(`sum by (api, case) (max_over_time(request_seconds_count{job="load-generator", run="${result.run_id}"}[5m]))`)).map((s) => `${s.metric.case}:${s.metric.api}`).sort();
      expect(apis).toEqual([`${caseName}:critical`, `${caseName}:dashboard`, `${caseName}:monitor`]);
      await stopCase(config, quiet);
    });
  }
});

describe("every Grafana panel returns data", () => {
  test("every panel query, with case and run set to each case's run, returns at least one series with values", async () => {
    expect(runs.map((r) => r.caseName)).toEqual(Object.keys(CASES) as CaseName[]);
    const empty: string[] = [];
    for (const run of runs) {
      const report = await checkDashboards(config, { case: run.caseName, run: run.runId, rateInterval: RATE_INTERVAL }, startedAt, now(), () => {});
      for (const { query, series } of report) {
        if (!series.some((s) => s.values.some(([, v]) => Number.isFinite(Number(v))))) empty.push(`${run.caseName}: ${query.dashboard} / ${query.panel} [${query.refId}]: ${query.expr}`);
      }
    }
    expect(empty).toEqual([]);
    expect(panelQueries().length).toBeGreaterThanOrEqual(15);
  });

  test("every metric a panel names is one Prometheus holds, and a metric nobody exports returns nothing", async () => {
    const names = new Set<string>((await (await fetch(`${prometheusUrl(config)}/api/v1/label/__name__/values`)).json()).data);
    for (const { expr } of panelQueries()) {
      const metrics = metricNames(expr);
      expect(metrics.length).toBeGreaterThan(0);
      for (const metric of metrics) expect({ metric, held: names.has(metric) }).toEqual({ metric, held: true });
    }
    // The check above would catch a panel querying a metric nobody exports: it has no series.
    expect(await queryRange(config, `rate(fleetbench_nobody_exports_this_total[${RATE_INTERVAL}])`, startedAt, now())).toEqual([]);
  });

  test("the case and run variables offer every case and run", async () => {
    for (const v of variableQueries()) {
      const [, selector, label] = /^label_values\((.+),\s*(\w+)\)$/.exec(v.query)!;
      const match = selector.replace(/\$case/g, ".*");
      const response = await fetch(`${prometheusUrl(config)}/api/v1/label/${label}/values?${new URLSearchParams({ "match[]": match, start: String(startedAt) })}`);
      const values: string[] = (await response.json()).data;
      for (const run of runs) expect(values).toContain(label === "case" ? run.caseName : run.runId);
    }
  });
});
