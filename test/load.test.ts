/**
 * The load runner end to end with the real load engine (vegeta): result files whose counts match
 * what it sent, every request recorded and every answer checked, each kind of failure counted, the
 * call contract measured during a run, the correctness gate refusing altered data, and Ctrl-C.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { readRecords } from "../src/run/engine/records";
import postgres from "postgres";
import { type CaseName, caseSpec } from "../src/run/cases";
import { RefusedError } from "../src/errors";
import { runLoad } from "../src/run/load";
import { listeners } from "../src/run/ports";
import type { RunResult } from "../src/run/results";
import { criticalCount, seed } from "../src/seed";
import { down, readState } from "../src/run/supervisor";
import { TARGETS, config, expectedCalls, quiet, reseed, testSql } from "./utils";
import type { Config } from "../src/config";
import { loadConfig } from "../src/config";
import type { Sql } from "../src/db";

setDefaultTimeout(180_000);

let sql: Sql;
beforeAll(async () => {
  sql = await testSql();
  await reseed(sql, 15);
});
afterAll(async () => {
  await sql.end();
  await down(config, quiet);
});

const N = 15;
const K = criticalCount(N);
const hive = loadConfig({ ...process.env, CASE3_GATEWAY: "hive-gateway" });
/** Every row of the target table. */
const targets: [string, CaseName, Config][] = TARGETS.map((t) => [t.label, t.caseName, t.config]);

describe("a short run per case (40 dashboard requests, 4 workers)", () => {
  for (const [label, caseName, cfg] of targets) {
    test(label, async () => {
      const { path, result } = await runLoad(cfg, { case: caseName, mode: "iterations", vus: 4, iterations: 40, api: "dashboard", warmup: "1s" }, quiet);
      const onDisk = JSON.parse(readFileSync(path, "utf8")) as RunResult;
      expect(onDisk).toEqual(JSON.parse(JSON.stringify(result)));
      expect(Object.keys(onDisk)).toEqual(["schema_version", "run_id", "case", "gateway", "runtime", "mode", "params", "started_at", "finished_at",
        "status", "summary", "calls_per_request", "resources", "flags", "fingerprint", "extra"]);
      expect(onDisk.status).toBe("complete");
      expect(onDisk.runtime).toBe(cfg.runtime);
      const gatewayName = caseSpec(caseName).gateway(cfg);
      expect(onDisk.gateway).toBe(gatewayName);
      expect(onDisk.summary!.requests).toBe(40);
      expect(onDisk.summary!.error_rate).toBe(0);
      // What the gateway received equals what the engine sent (metrics exist for every TypeScript gateway).
      const gatewaySpec = caseSpec(caseName).processes(cfg).find((p) => p.name === gatewayName)!;
      if (gatewaySpec.requestMetrics !== false) expect((onDisk.extra.requests_received as Record<string, number>)[gatewayName]).toBe(40);
      // docs/design.md §6 for a single-API run: the calls per request are exactly the contract.
      const contract = Object.fromEntries(Object.entries(expectedCalls(caseName, "dashboard", N, K, gatewayName)).filter(([name]) => name !== gatewayName));
      expect(onDisk.calls_per_request).toEqual(contract);
      // Every process of the case, PostgreSQL and the engine are measured for these 40 dashboards, and their
      // memory is PSS (never above RSS) and RSS. CPU comes in clock ticks (10 ms): a data service
      // answering 40 small batches can stay under one tick (it happened in CI for Case 2), so each
      // process's CPU is at least 0 and the case's total is above 0.
      for (const name of ["postgres", "vegeta", gatewayName, "robot-service", "telemetry-service", "alert-service"]) {
        const u = onDisk.resources[name]!;
        expect(u.peak_pss_bytes!).toBeGreaterThan(1_000_000);
        expect(u.peak_pss_bytes!).toBeLessThanOrEqual(u.peak_rss_bytes);
        expect(u.cpu_seconds).toBeGreaterThanOrEqual(0);
      }
      expect(Object.entries(onDisk.resources).filter(([p]) => p !== "vegeta").reduce((s, [, u]) => s + u.cpu_seconds, 0)).toBeGreaterThan(0);
      // The engine's memory is its own: vegeta sending 40 requests holds about 14 MiB, while the OS's
      // count for the ended child (getrusage) is the peak of the process that spawned it (over 100 MiB here).
      expect(onDisk.resources.vegeta.peak_rss_bytes).toBeLessThan(64 * 2 ** 20);
      const memory = onDisk.extra.memory as { peak_total_bytes: number; peak_by_component_bytes: Record<string, number> };
      expect(memory.peak_total_bytes).toBeGreaterThan(onDisk.resources.postgres.peak_pss_bytes!);
      expect(memory.peak_total_bytes).toBeLessThanOrEqual(Object.entries(onDisk.resources).filter(([p]) => p !== "vegeta").reduce((s, [, u]) => s + u.peak_pss_bytes!, 0));
      // Every request recorded beside the result, each answer checked against the gate's.
      const records = readRecords(path.replace(/\.json$/, ".records.csv.gz"));
      expect(records).toHaveLength(40);
      expect(new Set(records.map((r) => r.seq)).size).toBe(40);
      expect(records.every((r) => r.api === "dashboard" && r.outcome === "ok" && r.code === 200 && r.bytes_in > 0)).toBe(true);
      expect((onDisk.extra.latency_histogram as { all: string }).all.length).toBeGreaterThan(10);
      // Successful throughput, and the flags a clean short run can carry (never `errors` or `sut_overloaded`).
      expect(onDisk.summary!.ok_rps).toBe(onDisk.summary!.rps);
      expect(onDisk.flags.filter((f) => f === "errors" || f === "sut_overloaded")).toEqual([]);
      // Parity: every process of the case with its runtime; nothing passed from the shell.
      const parity = onDisk.extra.parity as { processes: Record<string, { runtime: string }>; environment: { passed_on_purpose: string[] }; started_case: boolean };
      expect(Object.keys(parity.processes).sort()).toEqual([...Object.keys(contract), gatewayName, "postgres"].sort());
      // A binary of its own (a router, NGINX) is native; a TypeScript gateway runs on its row's runtime.
      expect(parity.processes[gatewayName].runtime).toBe(gatewaySpec.runtime ?? "native");
      expect(parity.environment.passed_on_purpose).toEqual([]);
      expect(parity.started_case).toBe(true);
      expect((onDisk.fingerprint.versions as Record<string, string>).vegeta).toBe("12.13.0");
      expect(onDisk.fingerprint.engine).toMatchObject({ name: "vegeta", version: "12.13.0" });
      expect((onDisk.extra.parity as { load_engine: unknown }).load_engine).toEqual({ name: "vegeta", version: "12.13.0" });
      expect(onDisk.fingerprint.cores).toBeGreaterThan(0);
      // The run started the case itself, so it stopped it afterwards.
      expect(readState(cfg)).toBeNull();
    });
  }
});

test("steal time per window and per run, per-window latency and the steady-state detection are in a real run's result", async () => {
  const { result } = await runLoad(config, { case: "case2", mode: "rate", vus: 10, rate: 40, duration: "20s", warmup: "0s" }, quiet);
  const s = result.extra.stability as { ok_rps: number[]; steal_pct: number; steal_pct_windows: number[]; steal_clock: string; latency_ms_windows: { p50: number[]; p95: number[] }; steady: { series: string; windows: number } };
  expect(s.ok_rps).toHaveLength(4);
  expect(typeof s.steal_pct).toBe("number");
  expect(s.steal_pct).toBeGreaterThanOrEqual(0);
  expect(s.steal_pct).toBeLessThan(100);
  // One per window, on the windows' own clock (the first request sent).
  expect(s.steal_pct_windows).toHaveLength(4);
  for (const w of s.steal_pct_windows) expect(typeof w).toBe("number");
  expect(s.steal_clock).toBe("first request");
  for (const w of [...s.latency_ms_windows.p50, ...s.latency_ms_windows.p95]) expect(w).toBeGreaterThan(0);
  // The open model detects on latency; 4 windows are enough for the detection.
  expect(s.steady).toMatchObject({ series: "latency_p50_ms", windows: 4 });
  expect(result.summary!.ok_requests).toBe(result.summary!.requests);
});

test("the correctness gate refuses a case serving altered data, and nothing is measured", async () => {
  // A second database with one robot renamed; the services read it, the gate reads the real one.
  const admin = postgres(config.db.url.replace(/\/robot_fleet$/, "/postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe("DROP DATABASE IF EXISTS robot_fleet_altered");
  await admin.unsafe("CREATE DATABASE robot_fleet_altered");
  await admin.end();
  const alteredUrl = config.db.url.replace(/\/robot_fleet$/, "/robot_fleet_altered");
  const altered = postgres(alteredUrl, { max: 1, onnotice: () => {} });
  await seed(altered, N);
  await altered`UPDATE robots SET name = 'AGV-Altered' WHERE id = 'robot-004'`;
  await altered.end();

  const { up } = await import("../src/run/supervisor");
  await up(config, "case2", { log: quiet, env: { DATABASE_URL: alteredUrl } });
  const run = runLoad(config, { case: "case2", mode: "iterations", vus: 1, iterations: 5, warmup: "1s" }, quiet);
  await expect(run).rejects.toThrow(RefusedError);
  await expect(run).rejects.toThrow(/robot-004/);
  const refused = JSON.parse(readFileSync(readdirNewest(), "utf8")) as RunResult;
  expect(refused.status).toBe("refused");
  expect(refused.summary).toBeNull();
  expect((refused.extra.gate as { passed: boolean }).passed).toBe(false);
  // Wrong answers are HTTP answers: none was sent again.
  expect((refused.extra.gate as { retried: string[] }).retried).toEqual([]);
  await down(config, quiet);
});

test("the gate sends a request with no HTTP answer once more, and refuses when the second gets none either; a wrong answer is never asked again", async () => {
  const { up, faultProcess } = await import("../src/run/supervisor");
  const { runGate } = await import("../src/run/gate");
  await up(config, "case1", { log: quiet });
  try {
    const passed = await runGate(caseSpec("case1"), config, sql);
    expect({ passed: passed.passed, retried: passed.retried }).toEqual({ passed: true, retried: [] });
    // Nothing listens on the gateway's port: every request fails in transport, twice.
    await faultProcess(config, "rest-gateway", "kill");
    const refused = await runGate(caseSpec("case1"), config, sql);
    expect(refused.passed).toBe(false);
    expect(refused.retried).toHaveLength(refused.checked);
    expect(refused.failures[0]).toStartWith("dashboard: answer differs from the database (got \"request failed twice: ");
  } finally {
    await down(config, quiet);
  }
});

test("every kind of failure is counted, never a success: a changed answer (body), a data service gone (its gateway's error) and a gateway gone (transport)", async () => {
  const { up } = await import("../src/run/supervisor");
  const state = await up(config, "case1", { log: quiet });
  const pid = (name: string) => state.processes.find((p) => p.name === name)!.pid;
  const lines: string[] = [];
  // Once measuring: a robot renamed (every dashboard answer differs from the gate's from then on),
  // then alert-service killed (the robot service answers 5xx), then the gateway killed (refused).
  const steps: Promise<void>[] = [];
  const log = (line: string) => {
    lines.push(line);
    if (!line.startsWith("measuring:")) return;
    steps.push((async () => {
      await Bun.sleep(1000);
      await sql`UPDATE robots SET name = name || ' (renamed)' WHERE id = 'robot-001'`;
      await Bun.sleep(1500);
      process.kill(pid("alert-service"), "SIGKILL");
      await Bun.sleep(1500);
      process.kill(pid("rest-gateway"), "SIGKILL");
    })());
  };
  try {
    const { result, path } = await runLoad(config, { case: "case1", mode: "rate", vus: 10, rate: 20, duration: "6s", warmup: "0s" }, log);
    await Promise.all(steps);
    const s = result.summary as NonNullable<RunResult["summary"]> & { errors: { status: number; body: number; transport: number }; ok_requests: number };
    expect(s.errors.body).toBeGreaterThan(0);
    expect(s.errors.status).toBeGreaterThan(0);
    expect(s.errors.transport).toBeGreaterThan(0);
    // Only what came before the first change succeeded; the rest are failures, counted by kind.
    expect(s.ok_requests + s.errors.body + s.errors.status + s.errors.transport).toBe(s.requests);
    expect(s.ok_requests).toBeGreaterThan(0);
    expect(s.ok_requests).toBeLessThan(s.requests / 2);
    expect(s.error_rate).toBeCloseTo(1 - s.ok_requests / s.requests, 6);
    expect(result.flags).toContain("errors");
    const records = readRecords(path.replace(/\.json$/, ".records.csv.gz"));
    expect(records.filter((r) => r.outcome === "body").every((r) => r.code === 200)).toBe(true);
    expect(records.filter((r) => r.outcome === "status").every((r) => r.code >= 500)).toBe(true);
    expect(records.filter((r) => r.outcome === "transport").every((r) => r.code === 0 && r.error.length > 0)).toBe(true);
    // Failures come after the changes, in send order: the first failure follows every success before it.
    const firstFailure = records.findIndex((r) => r.outcome !== "ok");
    expect(records.slice(firstFailure).filter((r) => r.outcome === "ok").length).toBeLessThan(records.length / 4);
    expect(lines.some((l) => /^vegeta: \d+ requests .*failed \(.*body.*\)/.test(l))).toBe(true);
  } finally {
    await reseed(sql, 15);
    await down(config, quiet);
  }
});

test("a run whose engine dies is not complete, and the result and the console say why", async () => {
  const { up } = await import("../src/run/supervisor");
  await up(config, "case2", { log: quiet });
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    if (line.startsWith("measuring:")) setTimeout(() => ourEngine().forEach((pid) => process.kill(pid, "SIGKILL")), 1500);
  };
  try {
    const { result, path } = await runLoad(config, { case: "case2", mode: "duration", vus: 2, duration: "6s", warmup: "0s" }, log);
    expect(result.status).toBe("incomplete");
    expect(String(result.extra.engine_failure)).toStartWith("vegeta exited with code 137");
    expect(lines.some((l) => l.startsWith("vegeta exited with code 137") && l.endsWith("the result is not complete"))).toBe(true);
    expect(lines.at(-1)).toContain("result (incomplete: vegeta exited with code 137");
    expect(existsSync(path)).toBe(true);
  } finally {
    await down(config, quiet);
  }
});

test("Ctrl-C during a run stops the engine and every process the run started, and leaves an incomplete result", async () => {
  const child = Bun.spawn([`${import.meta.dirname}/../node_modules/.bin/bun`, "src/main.ts", "load", "case2", "4", "60s", "--warmup", "1s"], {
    cwd: `${import.meta.dirname}/..`, env: process.env, stdout: "pipe", stderr: "pipe",
  });
  // Both streams are drained as they come (a full pipe would stall the child), and the test
  // waits for the child's exit, not for the end of its output: a process it started could
  // keep the pipe open.
  let seen = "";
  let errors = "";
  const decoder = new TextDecoder();
  void (async () => { for await (const chunk of child.stdout) seen += decoder.decode(chunk); })();
  void (async () => { for await (const chunk of child.stderr) errors += decoder.decode(chunk); })();
  const until = async (done: () => boolean, seconds: number, what: string) => {
    const deadline = Date.now() + seconds * 1000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${what} within ${seconds} s; output so far:\n${seen}\n${errors}`);
      await Bun.sleep(50);
    }
  };
  // Ctrl-C once the engine measures: the runner said so and our engine's process exists.
  await until(() => seen.includes("measuring:") && ourEngine().length > 0, 120, "the run did not start measuring");
  await Bun.sleep(2000);
  child.kill("SIGINT");
  const exited = await Promise.race([child.exited, Bun.sleep(90_000).then(() => null)]);
  if (exited === null) {
    child.kill("SIGKILL");
    throw new Error(`the run did not exit within 90 s of Ctrl-C; output:\n${seen}\n${errors}`);
  }
  await until(() => seen.includes("result (incomplete"), 5, "the run did not report its incomplete result");
  expect(exited).toBe(130); // as `up` interrupted by Ctrl-C
  const result = JSON.parse(readFileSync(readdirNewest(), "utf8")) as RunResult;
  expect(result.status).toBe("incomplete");
  expect(result.case).toBe("case2");
  expect(readState(config)).toBeNull();
  expect(listeners().filter((l) => [10000, 10001, 10002, 10003].includes(l.port))).toEqual([]);
  expect(ourEngine()).toEqual([]);
});

/** vegeta attacks this checkout started (their targets are under this state folder), not anyone else's. */
function ourEngine(): number[] {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  return readdirSync("/proc").filter((e: string) => /^\d+$/.test(e)).map(Number).filter((pid: number) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return argv[0].endsWith("/vegeta") && argv[1] === "attack" && argv.some((a) => a.startsWith("-targets=") && a.includes(config.stateDir));
    } catch {
      return false;
    }
  });
}

test("a measured run's engine and every process of a case get fleetbench's variables and the allow-list, never the shell's switches", async () => {
  const shell = { RUST_BACKTRACE: "1", RUST_LOG: "trace", DEBUG: "*", K6_NO_CONNECTION_REUSE: "true", GOGC: "off", GODEBUG: "http2debug=2", BUN_FLEET_PROBE: "1", SECRET_SHELL_THING: "x" };
  Object.assign(process.env, shell);
  let run: Promise<unknown> | undefined;
  try {
    const { up } = await import("../src/run/supervisor");
    const { clusterPid } = await import("../src/run/pg-cluster");
    const state = await up(hive, "case3", { log: quiet });
    // The engine of a measured run against it: caught while it runs.
    // Awaited whatever happens (finally, below): a run left behind would outlive this test.
    let settled = false;
    run = runLoad(hive, { case: "case3", mode: "duration", vus: 2, duration: "8s", warmup: "0s" }, quiet).finally(() => {
      settled = true;
    });
    let engine: number[] = [];
    for (let i = 0; i < 2400 && !engine.length && !settled; i++) {
      await Bun.sleep(25);
      engine = ourEngine();
    }
    expect(engine.length).toBe(1);
    const engineEnv = readFileSync(`/proc/${engine[0]}/environ`, "utf8").split("\0").map((v) => v.split("=")[0]);
    await run;
    const pids = [...state.processes.map((p) => p.pid), clusterPid(hive)!];
    for (const name of Object.keys(shell)) expect(engineEnv).not.toContain(name);
    expect(engineEnv).toContain("PATH");
    for (const pid of pids) {
      const names = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean).map((v) => v.split("=")[0]);
      for (const name of Object.keys(shell)) expect(names).not.toContain(name);
      expect(names).toContain("PATH");
    }
    // The router is the process RUST_BACKTRACE would slow down: when it is built, check it too.
    if ((await import("node:fs")).existsSync((await import("../src/router")).routerBinary(config))) {
      const router = await up(config, "case3", { log: quiet });
      const pid = router.processes.find((p) => p.name === "apollo-router")!.pid;
      const names = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").map((v) => v.split("=")[0]);
      expect(names).not.toContain("RUST_BACKTRACE");
      expect(names).toContain("FLEET_ROBOT_SUBGRAPH_URL");
    }
  } finally {
    await run?.catch(() => {});
    for (const name of Object.keys(shell)) delete process.env[name];
    await down(config, quiet);
  }
});

function readdirNewest(): string {
  const { readdirSync, statSync } = require("node:fs") as typeof import("node:fs");
  const files = readdirSync(config.resultsDir).filter((f: string) => f.endsWith(".json")).map((f: string) => `${config.resultsDir}/${f}`);
  return files.sort((a: string, b: string) => statSync(a).mtimeMs - statSync(b).mtimeMs).at(-1)!;
}

/** The CPUs a task may use, from /proc (null once it is gone). */
function cpusOf(path: string): string | null {
  try {
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(`${path}/status`, "utf8"))?.[1].trim() ?? null;
  } catch {
    return null;
  }
}

/** Every thread of every process in the trees under `roots`, with its CPU list. */
function treeThreads(roots: number[]): { task: string; cpus: string | null }[] {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  const parent = new Map<number, number>();
  for (const e of readdirSync("/proc").filter((x: string) => /^\d+$/.test(x))) {
    try {
      parent.set(Number(e), Number(readFileSync(`/proc/${e}/stat`, "utf8").split(") ")[1].split(" ")[1]));
    } catch {}
  }
  const inTree = (pid: number): boolean => roots.includes(pid) || (parent.has(pid) && parent.get(pid) !== pid && pid > 1 && inTree(parent.get(pid)!));
  const out: { task: string; cpus: string | null }[] = [];
  for (const pid of [...parent.keys()].filter(inTree)) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) out.push({ task: `${pid}/${tid}`, cpus: cpusOf(`/proc/${pid}/task/${tid}`) });
    } catch {}
  }
  return out.filter((t) => t.cpus !== null);
}

test("--pin: the engine runs on the last CPU, every thread of the case and of PostgreSQL on the others, recorded in the result, and the case gets every CPU back", async () => {
  const all = cpusOf("/proc/self")!;
  const cpus = (await import("../src/run/pin")).parseCpuList(all);
  expect(cpus.length).toBeGreaterThanOrEqual(2);
  const engineCpu = String(cpus.at(-1));
  const caseCpus = cpus.slice(0, -1).join(",");
  let run: Promise<{ result: RunResult }> | undefined;
  try {
    const { up } = await import("../src/run/supervisor");
    const { clusterPid } = await import("../src/run/pg-cluster");
    const state = await up(config, "case2", { log: quiet });
    const roots = [...state.processes.map((p) => p.pid), clusterPid(config)!];
    let settled = false;
    run = runLoad(config, { case: "case2", mode: "duration", vus: 4, duration: "4s", warmup: "1s", pin: true }, quiet).finally(() => {
      settled = true;
    });
    // Every engine process of the run (the warm-up's, then the measured one), caught while it
    // runs (once taskset has exec'd it); the case's threads once the engine runs.
    const engineCpus = new Map<number, string | null>();
    let during: { task: string; cpus: string | null }[] = [];
    while (!settled) {
      await Bun.sleep(25);
      for (const pid of ourEngine()) if (!engineCpus.has(pid)) engineCpus.set(pid, cpusOf(`/proc/${pid}`));
      if (engineCpus.size && !during.length) during = treeThreads(roots);
    }
    expect(engineCpus.size).toBeGreaterThanOrEqual(1);
    expect([...engineCpus.values()].filter((c) => c !== engineCpu)).toEqual([]);
    // Many threads each: Bun's, PostgreSQL's backends (forked after the pinning too).
    expect(during.length).toBeGreaterThan(roots.length);
    expect(during.filter((t) => t.cpus !== caseCpus)).toEqual([]);
    const { result } = await run;
    expect(result.status).toBe("complete");
    expect(result.fingerprint.pin).toEqual({ generator: engineCpu, case: caseCpus, available: cpus.join(",") });
    expect((result.extra.affinity as Record<string, string>).vegeta).toBe(engineCpu);
    for (const p of [...state.processes.map((p) => p.name), "postgres"]) expect((result.extra.affinity as Record<string, string>)[p]).toBe(caseCpus);
    // The case was running before, so it stays, on every CPU again.
    expect(treeThreads(roots).filter((t) => t.cpus !== all)).toEqual([]);
  } finally {
    await run?.catch(() => {});
    await down(config, quiet);
  }
});

test("--pin on fewer than 2 CPUs is refused with one line (exit 2) before anything starts; without --pin the result records no pin", async () => {
  const { splitCpus } = await import("../src/run/pin");
  expect(() => splitCpus([3])).toThrow(/--pin needs at least 2 CPUs .*this process may use 1: 3/);
  const first = String((await import("../src/run/pin")).parseCpuList(cpusOf("/proc/self")!)[0]);
  const cli = Bun.spawn(["taskset", "--cpu-list", first, process.execPath, "src/main.ts", "load", "case2", "2", "2s", "--pin"], { env: process.env, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([cli.exited, new Response(cli.stdout).text(), new Response(cli.stderr).text()]);
  expect({ code, err: err.trim() }).toEqual({ code: 2, err: `fleetbench: --pin needs at least 2 CPUs to give the load generator and the case their own (this process may use 1: ${first}); run without --pin` });
  expect(out).not.toContain("measuring");
  expect(readState(config)).toBeNull();
  const { result } = await runLoad(config, { case: "case1", mode: "iterations", vus: 2, iterations: 10, warmup: "0s" }, quiet);
  expect(result.fingerprint.pin).toBeNull();
  expect(Object.keys(result.extra.affinity as object).sort()).toEqual([...readStateNames("case1"), "vegeta", "postgres"].sort());
});

function readStateNames(caseName: CaseName): string[] {
  const { caseSpec } = require("../src/run/cases") as typeof import("../src/run/cases");
  return caseSpec(caseName).processes(config).map((p) => p.name);
}
