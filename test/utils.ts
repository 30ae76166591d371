/**
 * Shared helpers for the integration tests: the answers computed straight from the database
 * (independently of the services' own SQL), client calls through a case, and metrics deltas.
 */
import { afterAll, beforeAll } from "bun:test";
import { readFileSync } from "node:fs";
import { type ApiName, type CaseName, caseSpec, clientRequest, configFor, TARGETS as TARGET_ROWS } from "../src/run/cases";
import { type Config, loadConfig } from "../src/config";
import type { RuntimeName } from "../src/runtime";
import { createSql, type Sql } from "../src/db";
import { clusterUp } from "../src/run/pg-cluster";
import { seed } from "../src/seed";
import { down } from "../src/run/supervisor";
import { referenceAnswers } from "../src/run/gate";
import { commandLine, processTable } from "./procs";
import { keep } from "./trace";

/** The tests' log: prints nothing, keeps the last lines for a test that runs long (test/trace.ts). */
export const quiet = (line: string) => keep(line);
export const config = loadConfig();

/** `bun src/main.ts ARGS` as a user runs it, from the repository, with `env` added: exit code, stdout, stderr. */
export function fleetCli(args: string[], env: Record<string, string> = {}) {
  const root = `${import.meta.dirname}/..`;
  const r = Bun.spawnSync([`${root}/node_modules/.bin/bun`, "src/main.ts", ...args], { cwd: root, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** A pool for the test's own SQL; the local cluster is started if needed. */
export async function testSql(cfg: Config = config): Promise<Sql> {
  await clusterUp(cfg, quiet);
  return createSql(cfg, "fleetbench-test");
}

export async function reseed(sql: Sql, n: number) {
  await seed(sql, n);
}

/** The SQL-computed answers (the correctness gate's reference, apart from the services' SQL). */
export const expectedAnswers = referenceAnswers;

/** One client request through a running case; returns the client-level answer and the status. */
export async function call(caseName: CaseName, api: ApiName, robotId = "robot-001", cfg: Config = config) {
  const request = clientRequest(caseSpec(caseName), cfg, api, robotId);
  const response = await fetch(request.url, request.init);
  const body = await response.json();
  return { status: response.status, body, answer: request.pick(body) };
}

/** Plain JSON round trip, so class instances (postgres.js rows) compare as plain objects. */
export const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value));

/**
 * docs/design.md §6: requests each process receives for ONE client request, at N robots and K critical
 * alerts. Written out here as the contract the tests hold the code to.
 */
export function expectedCalls(caseName: CaseName, api: ApiName, n: number, k: number, gateway?: string): Record<string, number> {
  // NGINX exports no http_requests_total of ours (its requests are the robot service's).
  const restGateway = gateway === "nginx" ? {} : { "rest-gateway": 1 };
  if (caseName === "case1") {
    const services =
      api === "dashboard"
        ? { "robot-service": 1, "telemetry-service": n, "alert-service": n }
        : api === "monitor"
          ? { "robot-service": 1, "telemetry-service": 1, "alert-service": 1 }
          : { "robot-service": 1 + k, "telemetry-service": k, "alert-service": 1 };
    return { ...services, ...restGateway };
  }
  // case1b: one batch call per service; critical alerts call the robot service twice (entry + batch).
  if (caseName === "case1b") return { "robot-service": api === "critical" ? 2 : 1, "telemetry-service": 1, "alert-service": 1, ...restGateway };
  const services = { "robot-service": 1, "telemetry-service": 1, "alert-service": 1 };
  if (caseName === "case2") return { ...services, "yoga-gateway": 1 };
  const subgraphs = { "robot-subgraph": 1, "telemetry-subgraph": 1, "alert-subgraph": 1 };
  // The router binaries export no http_requests_total of ours; the TypeScript gateways do.
  return { ...services, ...subgraphs, ...(gateway === "hive-gateway" || gateway === "apollo-gateway" ? { [gateway]: 1 } : {}) };
}

export const times = (calls: Record<string, number>, m: number) =>
  Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v * m]));

/** Every case and gateway a test covers: Case 3 once through each federation gateway. */
export interface Target {
  /** "case2", "case3 hive-gateway", "case1 nginx", "case2 on deno". */
  label: string;
  /** The label without the runtime: the same case answers and calls the same on every runtime. */
  contract: string;
  caseName: CaseName;
  config: Config;
  gateway: string;
  runtime: RuntimeName;
}

const asTarget = (t: (typeof TARGET_ROWS)[number]): Target => {
  const contract = t.choice ? `${t.case} ${t.gateway}` : t.case;
  return { label: t.runtime === "bun" ? contract : `${contract} on ${t.runtime}`, contract, caseName: t.case, config: configFor(t, config), gateway: t.gateway, runtime: t.runtime };
};

/** Every row of the target table (src/run/cases.ts) on FLEET_RUNTIME's runtime (Bun unless set): "case1", "case1b", "case2", "case3 apollo-router", ... */
export const TARGETS: Target[] = TARGET_ROWS.filter((t) => t.runtime === config.runtime).map(asTarget);

/**
 * Every row on every runtime, Bun's first (docs/design.md §16): the suites that hold each role to the same
 * answers, calls, errors and faults on Bun and on Deno (equality, calls, @defer, bad input, abuse, faults).
 */
export const EVERY_RUNTIME: Target[] = TARGET_ROWS.map(asTarget);

/**
 * The test file's own database connection, for its SQL: opened before its tests; afterwards the
 * default fleet is loaded again and every process is stopped. Use `db.sql` inside tests.
 */
export function useFleetDatabase() {
  const db = {} as { sql: Sql };
  beforeAll(async () => {
    db.sql = await testSql();
  });
  afterAll(async () => {
    await reseed(db.sql, config.fleetSize);
    await db.sql.end();
    await down(config, quiet);
  });
  return db;
}

/** Every live process of the machine as pid → parent pid; zombies left out. */
function liveParents(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const [pid, { ppid, state }] of processTable()) if (state !== "Z" && state !== "X") parents.set(pid, ppid);
  return parents;
}

/** All live descendants of `rootPid` (children, their children, ...), found through their ppid links. */
export function descendantPids(rootPid = process.pid): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of liveParents()) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const found: number[] = [];
  for (let queue = [...(children.get(rootPid) ?? [])]; queue.length > 0; ) {
    const pid = queue.shift()!;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/** Whether a process carries this test run's marker (test/setup.ts) in its environment. */
function startedByThisRun(pid: number): boolean {
  const marker = process.env.FLEET_TEST_RUN;
  if (!marker) return false;
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`FLEET_TEST_RUN=${marker}`);
  } catch {
    return false; // another user's process, or it ended
  }
}

/**
 * Command lines of the live processes this test run started that match `pattern`: descendants of
 * the test process, and processes carrying the run's marker in their environment (a grandchild
 * whose parent exited is re-parented to init, so the ppid walk alone would miss exactly the orphan
 * a test looks for). Never another user's or another run's processes, unlike a global `pgrep -f`.
 */
export function strayProcesses(pattern: RegExp): string[] {
  const descendants = new Set(descendantPids());
  const stray: string[] = [];
  for (const pid of liveParents().keys()) {
    if (pid === process.pid || !(descendants.has(pid) || startedByThisRun(pid))) continue;
    const command = commandLine(pid);
    if (command !== null && pattern.test(command)) stray.push(command);
  }
  return stray;
}
