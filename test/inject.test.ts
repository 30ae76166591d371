/**
 * --inject-cpu (docs/design.md §18, calibration): a known CPU cost per request in one process. The burn is
 * CPU time on Bun and Deno; the option is refused with one line where it cannot work; and in real
 * runs the named process's CPU, read from /proc, grows by the injected time per request it
 * received, recorded in parity, while a case running without the injection is restarted.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { injectCpuFlag, splitFlags } from "../src/cli/args";
import { caseSpec } from "../src/run/cases";
import { loadConfig } from "../src/config";
import { checkInjectCpu, runLoad } from "../src/run/load";
import type { RunResult } from "../src/run/results";
import { burnCpu } from "../src/roles";
import { down, readState, up } from "../src/run/supervisor";
import { config, quiet } from "./utils";

setDefaultTimeout(180_000);
afterAll(async () => {
  await down(config, quiet);
});

const ROOT = join(import.meta.dirname, "..");

describe("refused with one line, before anything starts", () => {
  const flag = (raw: string) => injectCpuFlag(splitFlags(["--inject-cpu", raw], ["inject-cpu"]).flags);

  test("the option's form: PROCESS=TIME in ms or us, above 0 and at most 1000 ms", () => {
    expect(flag("telemetry-service=1ms")).toEqual({ "telemetry-service": 1 });
    expect(flag("telemetry-service=500us,yoga-gateway=2.5ms")).toEqual({ "telemetry-service": 0.5, "yoga-gateway": 2.5 });
    for (const bad of ["telemetry-service", "telemetry-service=1", "telemetry-service=0ms", "telemetry-service=2s", "telemetry-service=1001ms", "=1ms"]) {
      expect(() => flag(bad)).toThrow(`--inject-cpu takes PROCESS=TIME, the CPU time per request in ms or us above 0 and at most 1000ms (e.g. telemetry-service=1ms), got "${bad}"`);
    }
    expect(() => loadConfig({ FLEET_INJECT_CPU_MS: "-1" })).toThrow('FLEET_INJECT_CPU_MS must be CPU milliseconds per request, above 0 and at most 1000 (e.g. 1 or 0.5), got "-1"');
    expect(loadConfig({}).injectCpuMs).toBeNull();
  });

  test("a process the case does not run, and Apollo Router (a binary), are refused; the CLI exits 2 with one line", async () => {
    expect(() => checkInjectCpu(caseSpec("case2"), config, { postgres: 1 })).toThrow('--inject-cpu: case2 has no process "postgres" (its processes: robot-service, telemetry-service, alert-service, yoga-gateway)');
    const router = loadConfig({ ...process.env, CASE3_GATEWAY: "apollo-router" });
    expect(() => checkInjectCpu(caseSpec("case3"), router, { "apollo-router": 1 })).toThrow("--inject-cpu cannot reach apollo-router: it is a native binary");
    expect(() => checkInjectCpu(caseSpec("case2"), config, { "telemetry-service": 1 })).not.toThrow();
    for (const [args, line] of [
      [["rate", "case2", "60", "5s", "--inject-cpu", "nobody=1ms"], 'fleetbench: --inject-cpu: case2 has no process "nobody" (its processes: robot-service, telemetry-service, alert-service, yoga-gateway)'],
      [["load", "case2", "2", "5s", "--inject-cpu", "telemetry-service=fast"], 'fleetbench: --inject-cpu takes PROCESS=TIME, the CPU time per request in ms or us above 0 and at most 1000ms (e.g. telemetry-service=1ms), got "telemetry-service=fast"'],
    ] as const) {
      const cli = Bun.spawn([process.execPath, "src/main.ts", ...args], { cwd: ROOT, env: process.env, stdout: "pipe", stderr: "pipe" });
      const [code, out, err] = await Promise.all([cli.exited, new Response(cli.stdout).text(), new Response(cli.stderr).text()]);
      expect({ code, err: err.trim(), out }).toEqual({ code: 2, err: line, out: "" });
    }
    expect(readState(config)).toBeNull();
  });
});

describe("the burn is CPU time, on Bun and on Deno", () => {
  test("on Bun: 50 × 1 ms grows this process's CPU time by at least 50 ms and not much more", () => {
    const before = process.cpuUsage();
    let seen = 0;
    for (let i = 0; i < 50; i++) seen += burnCpu(1);
    const grown = process.cpuUsage(before);
    expect(seen).toBeGreaterThanOrEqual(50_000);
    expect(grown.user + grown.system).toBeGreaterThanOrEqual(50_000);
    expect(grown.user + grown.system).toBeLessThan(50_000 * 1.3);
  });

  test("on Deno: the same, in a Deno process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fleet-burn-"));
    const script = join(dir, "burn.ts");
    writeFileSync(script, `import { burnCpu } from ${JSON.stringify(join(ROOT, "src", "roles.ts"))};
const before = process.cpuUsage();
for (let i = 0; i < 50; i++) burnCpu(1);
const grown = process.cpuUsage(before);
console.log(grown.user + grown.system);\n`);
    const deno = Bun.spawn([join(ROOT, "node_modules", ".bin", "deno"), "run", "--allow-all", "--config", join(ROOT, "deno.json"), script], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([deno.exited, new Response(deno.stdout).text(), new Response(deno.stderr).text()]);
    expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
    expect(Number(out.trim())).toBeGreaterThanOrEqual(50_000);
    expect(Number(out.trim())).toBeLessThan(50_000 * 1.3);
  });
});

/** The run folder `up` logged (its processes' logs are there). */
const runDirOf = (lines: string[]) => lines.find((l) => l.startsWith("  logs:     "))!.slice("  logs:     ".length);

describe("real runs (case2, telemetry-service with 5 ms per request)", () => {
  // 5 ms per request, so the burn (1.5 s over 300 requests) stands well above what the plain run
  // spends: 0.2–0.5 s here from one fresh run of the same case to the next on this machine, which
  // no single pair of runs can average away (`just calibrate` pairs its rounds). Five runs of this
  // test added 0.92–1.11 × the burn.
  const N = 300;
  const MS = 5;
  const params = { case: "case2" as const, mode: "iterations" as const, vus: 4, iterations: N, api: "dashboard" as const, warmup: "3s" };

  test("its CPU time, from /proc, grows by the injected 5 ms per request it received; parity says so; a case running without it is restarted", async () => {
    // Both runs on freshly started processes (a process's first seconds cost more CPU per request
    // than later ones): the plain run starts the case itself and stops it.
    const plain = (await runLoad(config, params, quiet)).result;
    expect((plain.extra.parity as { started_case: boolean; inject_cpu: object }).started_case).toBe(true);
    expect((plain.extra.parity as { inject_cpu: object }).inject_cpu).toEqual({});
    // Then the case runs without injection: the injected run must not reuse it.
    await up(config, "case2", { log: quiet });
    expect(plain.extra.inject_cpu).toBeUndefined();
    const lines: string[] = [];
    const injected = (await runLoad(config, { ...params, injectCpu: { "telemetry-service": MS } }, (l) => { lines.push(l); quiet(l); })).result;
    const parity = injected.extra.parity as { started_case: boolean; inject_cpu: Record<string, number>; processes: Record<string, { inject_cpu_ms?: number }> };
    expect(parity.started_case).toBe(true);
    expect(parity.inject_cpu).toEqual({ "telemetry-service": MS });
    expect(parity.processes["telemetry-service"].inject_cpu_ms).toBe(MS);
    expect(parity.processes["yoga-gateway"].inject_cpu_ms).toBeUndefined();
    expect(injected.extra.inject_cpu).toEqual({ "telemetry-service": MS });
    // Only telemetry-service burnt (its log says so; the others' do not).
    const dir = runDirOf(lines);
    expect(readFileSync(join(dir, "telemetry-service.log"), "utf8")).toContain(`telemetry-service: burning ${MS} ms of CPU per request`);
    for (const other of ["robot-service", "alert-service", "yoga-gateway"]) expect(readFileSync(join(dir, `${other}.log`), "utf8")).not.toContain("burning");
    // The run started the case with the injection, so it stopped it: nothing burns afterwards.
    expect(readState(config)).toBeNull();

    const cpuMs = (r: RunResult) => r.resources["telemetry-service"].cpu_seconds * 1000;
    const received = (r: RunResult) => (r.extra.requests_received as Record<string, number>)["telemetry-service"];
    expect(received(plain)).toBe(N);
    expect(received(injected)).toBe(N);
    // What the injection added: the injected run's CPU less the plain run's.
    const added = cpuMs(injected) - cpuMs(plain);
    const expected = received(injected) * MS;
    console.log(`telemetry-service: plain ${cpuMs(plain).toFixed(0)} ms, injected ${cpuMs(injected).toFixed(0)} ms for ${N} requests: added ${added.toFixed(0)} ms, expected ${expected} ms`);
    // At least the burn itself (each request burnt ≥ 5 ms of the process's CPU) less one clock tick at each end of the window.
    expect(cpuMs(injected)).toBeGreaterThanOrEqual(expected - 20);
    // Within ±25 % of the burn: the plain run's own CPU moves by up to 0.3 s between runs, and the
    // injected run lasts longer, so it also pays the process's fixed CPU per second (about 70 ms/s
    // for a Bun data service) for longer. An injection that burnt half or twice as much fails.
    expect(Math.abs(added / expected - 1)).toBeLessThan(0.25);
  });

  test("every role kind burns: Yoga subgraphs and Hive Gateway (case3 through Hive)", async () => {
    const hive = loadConfig({ ...process.env, CASE3_GATEWAY: "hive-gateway" });
    const { result } = await runLoad(hive, { case: "case3", mode: "iterations", vus: 4, iterations: 200, api: "dashboard", warmup: "1s", injectCpu: { "hive-gateway": 2, "robot-subgraph": 2 } }, quiet);
    expect((result.extra.parity as { inject_cpu: object }).inject_cpu).toEqual({ "hive-gateway": 2, "robot-subgraph": 2 });
    // Each received 200 requests, so each spent at least 400 ms of CPU (less a tick at each end).
    for (const name of ["hive-gateway", "robot-subgraph"]) {
      expect((result.extra.requests_received as Record<string, number>)[name]).toBe(200);
      expect(result.resources[name].cpu_seconds * 1000).toBeGreaterThanOrEqual(400 - 20);
    }
  });
});
