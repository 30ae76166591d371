/**
 * Bun and Deno (docs/design.md §16): FLEET_RUNTIME=deno really runs every TypeScript role on Deno (read
 * from /proc, not from what the supervisor says), bodies above the limit are 413 on both, the CLI
 * itself runs under Deno for up, status, query, load and down and leaves nothing behind, and a
 * comparison across runtimes puts the same case side by side. (Equality, calls, @defer, bad input,
 * abuse and faults run on both runtimes in their own files.)
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { compare } from "../src/plans/compare";
import { clusterUp } from "../src/run/pg-cluster";
import type { Config } from "../src/config";
import { runtimeBinary } from "../src/runtime";
import { down, readState, up } from "../src/run/supervisor";
import type { Comparison } from "../src/plans/verdicts";
import { config, quiet, strayProcesses, useFleetDatabase } from "./utils";

setDefaultTimeout(300_000);

const ROOT = resolve(import.meta.dirname, "..");
const deno: Config = { ...config, runtime: "deno" };
const db = useFleetDatabase();

beforeAll(async () => {
  await db.sql`SELECT 1`;
});
afterAll(async () => {
  await down(config, quiet);
});

/** The file a process executes, as the kernel has it. */
const exe = (pid: number) => realpathSync(readlinkSync(`/proc/${pid}/exe`));

test("FLEET_RUNTIME=deno: every TypeScript role of Case 3 (hive-gateway) executes Deno's binary, per /proc; on Bun, Bun's", async () => {
  const denoExe = realpathSync(runtimeBinary("deno")!);
  const bunExe = realpathSync(runtimeBinary("bun")!);
  expect(denoExe).not.toBe(bunExe);
  for (const [cfg, expected] of [[{ ...deno, case3Gateway: "hive-gateway" as const }, denoExe], [{ ...config, case3Gateway: "hive-gateway" as const }, bunExe]] as const) {
    const state = await up(cfg, "case3", { log: quiet });
    expect(state.runtime).toBe(cfg.runtime);
    expect(state.processes.map((p) => p.name).sort()).toEqual(["alert-service", "alert-subgraph", "hive-gateway", "robot-service", "robot-subgraph", "telemetry-service", "telemetry-subgraph"]);
    for (const p of state.processes) expect({ process: p.name, exe: exe(p.pid) }).toEqual({ process: p.name, exe: expected });
  }
  // The router is its own binary on either runtime; its subgraphs follow FLEET_RUNTIME.
  const routed = await up({ ...deno, case3Gateway: "apollo-router" }, "case3", { log: quiet });
  for (const p of routed.processes) {
    if (p.name === "apollo-router") expect(exe(p.pid)).not.toBe(denoExe);
    else expect({ process: p.name, exe: exe(p.pid) }).toEqual({ process: p.name, exe: denoExe });
  }
});

test("on Deno a body above the limit is 413, with or without a declared length; one at the limit is served", async () => {
  await up(deno, "case2", { log: quiet });
  const url = `${deno.urls.gateway}/graphql`;
  const limit = deno.limits.maxBodyBytes;
  const query = (pad: number) => { const q = JSON.stringify({ query: "{ criticalAlerts { id } }" }); return `${q}${" ".repeat(pad - q.length)}`; };
  const send = async (body: BodyInit, chunked: boolean) => {
    const init: RequestInit = { method: "POST", headers: { "content-type": "application/json", connection: "close" }, keepalive: false };
    // A stream has no length: fetch sends it chunked.
    const stream = chunked ? new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(String(body))); c.close(); } }) : body;
    const response = await fetch(url, { ...init, body: stream, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return response.status;
  };
  expect(await send(query(limit + 1), false)).toBe(413);
  expect(await send(query(limit + 1), true)).toBe(413);
  expect(await send(query(limit), false)).toBe(200);
  expect(await send(query(limit), true)).toBe(200);
});

/** The CLI on Deno: `deno run -A src/main.ts ARGS`, with the test run's environment. */
function denoCli(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync([runtimeBinary("deno")!, "run", "-A", "src/main.ts", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

test("the CLI under Deno: up, status, query, a short load and down, and no process left behind", async () => {
  await down(config, quiet);
  const started = denoCli(["up", "case2"], { FLEET_RUNTIME: "deno" });
  expect({ code: started.code, err: started.err }).toEqual({ code: 0, err: "" });
  expect(started.out).toContain("runtime:  deno");
  const state = readState(config)!;
  expect(state.runtime).toBe("deno");
  const denoExe = realpathSync(runtimeBinary("deno")!);
  for (const p of state.processes) expect(exe(p.pid)).toBe(denoExe);

  const status = denoCli(["status"]);
  expect(status.code).toBe(0);
  expect(status.out).toContain("case2 (gateway yoga-gateway, on deno)");
  // Each process with its memory now (idle: its footprint on this runtime).
  for (const p of state.processes) expect(status.out).toMatch(new RegExp(`${p.name} +pid ${p.pid} +:${p.port} +up +PSS +\\d+\\.\\d MiB, RSS +\\d+\\.\\d MiB`));

  const query = denoCli(["query", "case2", "monitor", "robot-002"]);
  expect(query.code).toBe(0);
  expect(JSON.parse(query.out).data.robotMonitor.robot.id).toBe("robot-002");

  const load = denoCli(["iterations", "case2", "2", "30", "--warmup", "0s"], { FLEET_RUNTIME: "deno" });
  expect({ code: load.code, err: load.err.split("\n").filter((l) => l.startsWith("fleetbench:")) }).toEqual({ code: 0, err: [] });
  const path = /result \(complete\): (\S+)/.exec(load.out)?.[1];
  expect(path).toBeTruthy();
  const result = JSON.parse(readFileSync(path!, "utf8"));
  expect({ runtime: result.runtime, status: result.status, requests: result.summary.requests }).toEqual({ runtime: "deno", status: "complete", requests: 30 });
  expect(result.extra.parity.processes["yoga-gateway"].runtime).toBe("deno");
  // The same processes served the load: `load` on the same runtime reuses the running case.
  expect(readState(config)!.processes.map((p) => p.pid)).toEqual(state.processes.map((p) => p.pid));

  const stopped = denoCli(["down"]);
  expect(stopped.code).toBe(0);
  expect(readState(config)).toBeNull();
  expect(strayProcesses(/src\/main\.ts|postgres|vegeta|k6/)).toEqual([]);
  // `down` stopped PostgreSQL too; the tests after this one (and this file's own pool) need it.
  await clusterUp(config, quiet);
});

test("FLEET_RUNTIME takes bun or deno: anything else is one line and exit 2, before anything starts", () => {
  const r = denoCli(["up", "case2"], { FLEET_RUNTIME: "node" });
  expect({ code: r.code, err: r.err.trim() }).toEqual({ code: 2, err: 'fleetbench: FLEET_RUNTIME must be bun or deno, got "node"' });
  expect(readState(config)).toBeNull();
});

test("compare --runtimes bun,deno puts Case 2 on each runtime side by side, with verdicts and the runtime said", async () => {
  const { compare: path, markdown } = await compare(config, { vus: 4, duration: "3s", repeat: 2, gateways: [], warmup: "1s", seed: 5, cases: ["case2"], runtimes: ["bun", "deno"], phases: ["closed"] }, quiet);
  const doc = JSON.parse(readFileSync(path, "utf8")) as Comparison;
  expect(doc.targets).toEqual(["case2 · yoga-gateway", "case2 · yoga-gateway · deno"]);
  expect(doc.runs).toHaveLength(4);
  const runtimes = doc.runs.map((r) => JSON.parse(readFileSync(join(config.resultsDir, r.file), "utf8")).runtime).sort();
  expect(runtimes).toEqual(["bun", "bun", "deno", "deno"]);
  // Paired by round: both rounds give a ratio unless a run was left out (errors, no_steady_state),
  // and then the pair is the one with every run counted, as the report also shows it.
  const pair = doc.metrics.cpu_ms_total.pairs[0] ?? doc.with_every_run?.cpu_ms_total.pairs[0];
  expect({ a: pair.a, b: pair.b }).toEqual({ a: "case2 · yoga-gateway", b: "case2 · yoga-gateway · deno" });
  expect(pair.paired!.per_round.length + pair.paired!.lost.length).toBe(2);
  for (const r of pair.paired!.per_round) expect(r.ratio).toBeGreaterThan(0);
  const text = readFileSync(markdown, "utf8");
  expect(text).toMatch(/the runs differ in runtime \(what runs the TypeScript roles\): bun \d+\.\d+\.\d+ \| deno \d+\.\d+\.\d+/);
  expect(text).toContain("| case2 · yoga-gateway · deno |");
  expect(readdirSync(config.resultsDir).some((f) => f.includes("-yoga-gateway-deno-"))).toBe(true);
});
