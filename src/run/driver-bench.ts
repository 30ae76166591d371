/**
 * A data service against the raw driver, in the same run: `GET /robots/:id` on the robot service
 * against postgres.js running the service's own query with the same pool size and concurrency.
 * Windows interleave (raw 1, service 1, raw 2, service 2, …) so both meet the same machine state;
 * each phase keeps one pool (the bench's, the service's) for the whole run, so a driver that slows
 * down over time (porsager/postgres#747, see patches/postgres-queue.js) shows up as drift.
 *
 *   bun src/main.ts bench-driver [--concurrency 50] [--windows 5] [--window 10s] [--warmup 1s]
 *   just bench-driver --windows 2 --window 3s
 *
 * Starts PostgreSQL and the data if needed (and stops the database again if it started it),
 * starts robot-service as a child and stops it at the end, on failure and on Ctrl-C. Prints a
 * table and PASS/FAIL per check (service ≥ 0.5 × raw, |drift| ≤ 5 % for both, no errors), writes
 * results/driver-bench-<time>.json, and exits 0 whatever the verdicts.
 */
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { chooser, robotId } from "../../k6/lib/pick.js";
import type { Config } from "../config";
import { createSql, loadedFleetSize, type Sql } from "../db";
import { measuredEnv } from "./environment";
import { fingerprint } from "./fingerprint";
import { clusterDown, clusterPid } from "./pg-cluster";
import { isAlive, portOwner, waitForHealth } from "./ports";
import { fileStamp, freshResultPath, writeAtomic } from "./results";
import { robotQueries } from "../robot-service";
import { ensureData } from "./supervisor";
import { type Child, mainCommand, RUNTIME, spawn } from "../runtime";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** Thresholds of the issue's acceptance: the service keeps half the raw driver's pace, neither drifts. */
export const MIN_RATIO = 0.5;
export const MAX_DRIFT = 0.05;

export interface DriverBenchOptions {
  /** Loops in flight in each phase. @default 50 */
  concurrency: number;
  /** Windows per phase. @default 5 */
  windows: number;
  /** Length of one window. @default 10 */
  windowSeconds: number;
  /** Not counted, once per phase before the first window. @default 1 */
  warmupSeconds: number;
}

export interface Stats {
  mean: number;
  /** Sample standard deviation ÷ mean (0 for a single window). */
  cv: number;
  /** Mean of the last third of the windows ÷ mean of the first third − 1 (at least one window each). */
  drift: number;
}

export function stats(values: number[]): Stats {
  if (values.length === 0) throw new Error("stats need at least one window");
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  const third = Math.max(1, Math.floor(values.length / 3));
  const avg = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const first = avg(values.slice(0, third));
  return { mean, cv: mean > 0 ? Math.sqrt(variance) / mean : 0, drift: first > 0 ? avg(values.slice(-third)) / first - 1 : 0 };
}

export interface Check {
  name: string;
  pass: boolean;
  value: string;
}

export function verdicts(raw: Stats, service: Stats, errors: { raw: number; service: number }): Check[] {
  const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
  const ratio = raw.mean > 0 ? service.mean / raw.mean : 0;
  return [
    { name: `service ≥ ${MIN_RATIO} × raw`, pass: ratio >= MIN_RATIO, value: ratio.toFixed(3) },
    { name: `raw drift within ±${MAX_DRIFT * 100} %`, pass: Math.abs(raw.drift) <= MAX_DRIFT, value: pct(raw.drift) },
    { name: `service drift within ±${MAX_DRIFT * 100} %`, pass: Math.abs(service.drift) <= MAX_DRIFT, value: pct(service.drift) },
    { name: "no errors", pass: errors.raw === 0 && errors.service === 0, value: `${errors.raw} raw, ${errors.service} service` },
  ];
}

interface Window {
  ops: number;
  errors: number;
  seconds: number;
  throughput: number;
  /** CPU the bench process itself used, in cores (it is the client of both phases). */
  bench_cpu_cores: number;
}

/**
 * `concurrency` loops, each starting its next operation as soon as the last one ends, until the
 * window closes; operations in flight then finish and count. Robot ids come from k6's seeded
 * chooser (loop = VU, per-loop counter = iteration; the API draw is skipped), so both phases send
 * the same ids in the same order.
 */
async function runWindow(seconds: number, concurrency: number, counters: number[], fleetSize: number, op: (id: string) => Promise<boolean>): Promise<Window> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let ops = 0;
  let errors = 0;
  await Promise.all(
    counters.map(async (_, loop) => {
      while (performance.now() < deadline) {
        const random = chooser(loop + 1, counters[loop]++);
        random(); // k6's API pick: drawn so the id matches the load's
        const id = robotId(Math.floor(random() * fleetSize), fleetSize);
        const ok = await op(id).catch(() => false);
        ops++;
        if (!ok) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { ops, errors, seconds: round(elapsed, 3), throughput: round(ops / elapsed, 1), bench_cpu_cores: round((cpu.user + cpu.system) / 1e6 / elapsed, 3) };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Whether the postgres.js Bun loads runs fleetbench's queue (src/patch-postgres.mjs installs it). */
function queuePatched(): boolean {
  const installed = join(dirname(Bun.resolveSync("postgres", ROOT)), "queue.js");
  return readFileSync(installed, "utf8") === readFileSync(join(ROOT, "patches", "postgres-queue.js"), "utf8");
}

export async function driverBench(config: Config, options: DriverBenchOptions, log: (line: string) => void = console.log) {
  const { concurrency, windows, windowSeconds, warmupSeconds } = options;
  const port = config.ports.robot;
  const owner = await portOwner(port);
  if (owner) throw new Error(`port ${port} (robot-service) is already in use by ${owner}: stop it (\`just down\`), or move robot-service with FLEET_ROBOT_PORT`);
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  const startedAt = new Date().toISOString();
  const stamp = fileStamp(new Date(startedAt));
  const runDir = join(config.stateDir, "runs", `${stamp}-bench-driver`);
  let child: Child | null = null;
  let sql: Sql | null = null;
  // Everything this run started, it stops: on success, on failure and on Ctrl-C (once, whichever comes first).
  let stopped: Promise<void> | null = null;
  const cleanup = () => (stopped ??= stopAll());
  const stopAll = async () => {
    if (child && isAlive(child.pid)) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child?.kill("SIGKILL"), 5000);
      await child.exited;
      clearTimeout(killer);
    }
    await sql?.end({ timeout: 2 });
    if (!dbWasUp) await clusterDown(config, log);
  };
  const onSignal = () => {
    log("interrupted: stopping robot-service (and the database if this run started it)");
    void cleanup().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await ensureData(config, log);
    sql = createSql(config, "fleetbench-bench-driver");
    const fleetSize = (await loadedFleetSize(sql)) ?? 0;
    if (fleetSize < 1) throw new Error("no robots loaded: run `just seed` first");
    const [{ version }] = await sql`SELECT current_setting('server_version') AS version`;

    mkdirSync(runDir, { recursive: true });
    const logPath = join(runDir, "robot-service.log");
    const fd = openSync(logPath, "a");
    // The environment the supervisor gives every measured process, not this shell's (docs/design.md §12).
    // On this process's own runtime: the raw driver it is compared with runs here.
    child = spawn(mainCommand(RUNTIME, ["robot-service"]), { cwd: ROOT, env: measuredEnv(config), stdin: "ignore", stdout: fd, stderr: fd });
    closeSync(fd);
    const pid = child.pid;
    await waitForHealth(`http://127.0.0.1:${port}/health`, config.readyTimeoutMs, () => isAlive(pid)).catch((error) => {
      throw new Error(`robot-service did not become ready: ${(error as Error).message} (log: ${logPath})`);
    });

    const robots = robotQueries(sql);
    const base = `http://127.0.0.1:${port}/robots/`;
    const phases = {
      raw: async (id: string) => (await robots.one(id)) !== null,
      // Bun's fetch keeps connections alive and reuses them: the body is read so each one returns to the pool.
      service: async (id: string) => {
        const response = await fetch(base + encodeURIComponent(id));
        await response.arrayBuffer();
        return response.status === 200;
      },
    };
    const counters = { raw: Array<number>(concurrency).fill(0), service: Array<number>(concurrency).fill(0) };
    const alive = () => {
      if (!isAlive(pid)) throw new Error(`robot-service exited during the run (log: ${logPath})`);
    };

    log(`bench-driver: GET /robots/:id on robot-service (:${port}) vs postgres.js with the same query; pool ${config.db.pool} in each, concurrency ${concurrency}, fleet of ${fleetSize}`);
    log(`  ${windows} windows × ${windowSeconds} s per phase, interleaved (raw 1, service 1, raw 2, …); postgres.js queue patch ${queuePatched() ? "installed" : "NOT installed"}`);
    if (warmupSeconds > 0) {
      log(`  warm-up: ${warmupSeconds} s per phase (not counted)`);
      // Separate counters: the measured windows start the id sequence from its beginning.
      for (const phase of ["raw", "service"] as const) await runWindow(warmupSeconds, concurrency, Array<number>(concurrency).fill(0), fleetSize, phases[phase]);
      alive();
    }
    const results: Record<"raw" | "service", Window[]> = { raw: [], service: [] };
    for (let w = 1; w <= windows; w++) {
      for (const phase of ["raw", "service"] as const) {
        const window = await runWindow(windowSeconds, concurrency, counters[phase], fleetSize, phases[phase]);
        results[phase].push(window);
        log(`  window ${w}/${windows} ${phase.padEnd(7)} ${window.throughput.toFixed(0).padStart(7)} /s  (${window.ops} ops, ${window.errors} errors, bench process ${window.bench_cpu_cores.toFixed(2)} cores)`);
      }
      alive();
    }

    const raw = stats(results.raw.map((w) => w.throughput));
    const service = stats(results.service.map((w) => w.throughput));
    const errors = { raw: results.raw.reduce((s, w) => s + w.errors, 0), service: results.service.reduce((s, w) => s + w.errors, 0) };
    const checks = verdicts(raw, service, errors);
    const cores = (ws: Window[]) => ws.reduce((s, w) => s + w.bench_cpu_cores, 0) / ws.length;
    log("");
    log(`${"".padEnd(10)}${"raw q/s".padStart(12)}${"service req/s".padStart(16)}`);
    for (let i = 0; i < windows; i++) log(`${`window ${i + 1}`.padEnd(10)}${results.raw[i].throughput.toFixed(0).padStart(12)}${results.service[i].throughput.toFixed(0).padStart(16)}`);
    log(`${"mean".padEnd(10)}${raw.mean.toFixed(0).padStart(12)}${service.mean.toFixed(0).padStart(16)}`);
    log(`${"CV".padEnd(10)}${`${(raw.cv * 100).toFixed(1)} %`.padStart(12)}${`${(service.cv * 100).toFixed(1)} %`.padStart(16)}`);
    log(`${"drift".padEnd(10)}${`${(raw.drift * 100).toFixed(1)} %`.padStart(12)}${`${(service.drift * 100).toFixed(1)} %`.padStart(16)}`);
    log(`ratio service/raw: ${(raw.mean > 0 ? service.mean / raw.mean : 0).toFixed(3)}`);
    for (const c of checks) log(`${c.pass ? "PASS" : "FAIL"}  ${c.name}: ${c.value}`);
    const note =
      `the bench process is the client of both phases and shares the machine's cores with PostgreSQL (and, in the service phase, robot-service): ` +
      `it used ${cores(results.raw).toFixed(2)} cores on average in the raw windows and ${cores(results.service).toFixed(2)} in the service windows`;
    log(`note: ${note}`);

    const { path } = freshResultPath(config, `driver-bench-${stamp}`);
    writeAtomic(path, `${JSON.stringify({
      kind: "driver-bench",
      started_at: startedAt,
      finished_at: new Date().toISOString(),
      params: { concurrency, windows, window_seconds: windowSeconds, warmup_seconds: warmupSeconds, pool: config.db.pool, fleet_size: fleetSize, order: "interleaved: raw then service in each window" },
      postgres_queue_patched: queuePatched(),
      windows: results,
      stats: { raw, service, ratio: raw.mean > 0 ? service.mean / raw.mean : 0 },
      checks,
      note,
      fingerprint: await fingerprint(config, version as string),
    }, null, 2)}\n`);
    log(`wrote ${path}`);
    return { path, raw, service, checks };
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await cleanup();
  }
}
