/**
 * The native supervisor as a user drives it, through `just` (the same recipes the README shows):
 * up, a second up, down leaving nothing behind, a taken port, a crash at start.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";

import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { listeners } from "../src/run/ports";
import { isAlive, readState, up } from "../src/run/supervisor";
import { config } from "./utils";

setDefaultTimeout(180_000);

const ROOT = `${import.meta.dirname}/..`;
const just = (...args: string[]) => {
  const result = Bun.spawnSync([`${ROOT}/node_modules/.bin/just`, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, out: result.stdout.toString() + result.stderr.toString() };
};
const FLEET_PORTS = [10000, 10001, 10002, 10003, 10011, 10012, 10013, 15432];

afterAll(() => {
  just("down");
});

test("`just case1 up` then `just down` leaves no listening port and no process behind", () => {
  const upped = just("case1", "up");
  expect(upped.code).toBe(0);
  expect(upped.out).toContain("case1 ready");
  expect(upped.out).toContain("logs:");
  const state = readState(config)!;
  expect(state.processes.map((p) => p.name).sort()).toEqual(["alert-service", "rest-gateway", "robot-service", "telemetry-service"]);
  for (const p of state.processes) expect(readFileSync(p.log, "utf8")).toContain("listening");
  const pgPid = Number(readFileSync(`${config.stateDir}/pg/data/postmaster.pid`, "utf8").split("\n")[0]);

  const again = just("case1", "up");
  expect(again.code).toBe(0);
  expect(again.out).toContain("already running");

  const downed = just("down");
  expect(downed.code).toBe(0);
  expect(listeners().filter((l) => FLEET_PORTS.includes(l.port))).toEqual([]);
  for (const p of state.processes) expect(isAlive(p.pid)).toBe(false);
  expect(isAlive(pgPid)).toBe(false);
  expect(readState(config)).toBeNull();
});

test("`just case1b up`: Case 1's processes, the robot service with the batch orchestration; `just case1b query` answers; with --hop-latency Toxiproxy joins them and `just down` stops it too", () => {
  const upped = just("case1b", "up");
  expect(upped.code).toBe(0);
  expect(upped.out).toContain("case1b ready");
  const state = readState(config)!;
  expect(state.processes.map((p) => p.name).sort()).toEqual(["alert-service", "rest-gateway", "robot-service", "telemetry-service"]);
  const robot = state.processes.find((p) => p.name === "robot-service")!;
  expect(readFileSync(`/proc/${robot.pid}/cmdline`, "utf8").split("\0")).toContain("--orchestration=batch");
  const query = just("case1b", "query", "dashboard");
  expect(query.code).toBe(0);
  expect(JSON.parse(query.out.slice(query.out.indexOf("{"))).robots.length).toBeGreaterThan(0);
  // Another hop latency is another system: the case is started again, with the proxy first.
  const proxied = just("case1b", "up", "--hop-latency", "2ms");
  expect(proxied.code).toBe(0);
  expect(proxied.out).toContain("stopping it before starting case1b");
  expect(proxied.out).toContain("toxiproxy 2.12.0: every internal hop +2 ms");
  const withProxy = readState(config)!;
  expect(withProxy.processes[0].name).toBe("toxiproxy");
  expect(just("down").code).toBe(0);
  for (const p of withProxy.processes) expect(isAlive(p.pid)).toBe(false);
  expect(listeners().filter((l) => FLEET_PORTS.includes(l.port) || l.port === config.ports.toxiproxy)).toEqual([]);
});

test("starting another case stops the running one first", () => {
  expect(just("case1", "up").code).toBe(0);
  const second = just("case2", "up");
  expect(second.code).toBe(0);
  expect(second.out).toContain("stopping it before starting case2");
  expect(readState(config)!.case).toBe("case2");
  expect(just("down").code).toBe(0);
});

test("a port taken by a foreign process is a clear error naming the port", async () => {
  const server = createServer().listen(config.ports.telemetry, "127.0.0.1");
  await new Promise((done) => server.once("listening", done));
  try {
    const result = just("case2", "up");
    expect(result.code).not.toBe(0);
    expect(result.out).toContain(`port ${config.ports.telemetry} (telemetry-service) is already in use by pid ${process.pid}`);
    expect(readState(config)).toBeNull();
  } finally {
    server.close();
  }
});

test("a process that dies at start makes `up` fail with its last log lines, and nothing stays up", async () => {
  // The children get a bad variable (the supervisor itself does not), so each exits at start-up.
  const failed = up(config, "case1", { log: () => {}, env: { FLEET_TIMEOUT_MS: "soon" } });
  await expect(failed).rejects.toThrow(/[a-z-]+ \(on bun\) did not become ready: process exited[\s\S]*FLEET_TIMEOUT_MS must be milliseconds/);
  expect(readState(config)).toBeNull();
  // The same on Deno: the error names the role and the runtime it was asked to start on.
  const onDeno = up({ ...config, runtime: "deno" }, "case1", { log: () => {}, env: { FLEET_TIMEOUT_MS: "soon" } });
  await expect(onDeno).rejects.toThrow(/[a-z-]+ \(on deno\) did not become ready: process exited[\s\S]*FLEET_TIMEOUT_MS must be milliseconds/);
  expect(readState(config)).toBeNull();
  expect(listeners().filter((l) => FLEET_PORTS.slice(0, 4).includes(l.port))).toEqual([]);
});

test("Ctrl-C during `up` stops everything it had started, PostgreSQL included", async () => {
  expect(just("down").code).toBe(0);
  const child = Bun.spawn([`${ROOT}/node_modules/.bin/bun`, "src/main.ts", "up", "case3"], {
    cwd: ROOT, env: { ...process.env, CASE3_GATEWAY: "hive-gateway" }, stdout: "pipe", stderr: "pipe",
  });
  // Wait until some processes are started but the case is not ready yet.
  const deadline = Date.now() + 60_000;
  while ((readState(config)?.processes.length ?? 0) < 3 && Date.now() < deadline) await Bun.sleep(5);
  const started = readState(config)!.processes;
  expect(started.length).toBeGreaterThanOrEqual(3);
  child.kill("SIGINT");
  expect(await child.exited).toBe(130);
  expect(await new Response(child.stdout).text()).toContain("interrupted: stopping what was started");
  for (const p of started) expect(isAlive(p.pid)).toBe(false);
  expect(readState(config)).toBeNull();
  expect(listeners().filter((l) => FLEET_PORTS.includes(l.port))).toEqual([]);
});
