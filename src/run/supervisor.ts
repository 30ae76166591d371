/**
 * The native supervisor: starts a case's processes detached (so `up` can return), polls their
 * /health until ready, records them in a state file, and stops them all on `down`, on a failed
 * start, or on Ctrl-C during `up`. Logs go to one file per process under a run folder.
 */
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, renameSync, closeSync } from "node:fs";
import { join, resolve } from "node:path";
import { type CaseName, type ProcessSpec, caseSpec } from "./cases";
import { type Config, withUrlsOf } from "../config";
import { createSql, loadedFleetSize } from "../db";
import { clusterDown, clusterPid, clusterUp } from "./pg-cluster";
import { isAlive, portOwner, waitForHealth } from "./ports";
import { measuredEnv } from "./environment";
import { addLatency, hopEnv, hops, proxiesFile, toxiproxySpec } from "./hops";
import { ensureTools, TOXIPROXY_VERSION } from "./tools";

export { isAlive };
import { seed } from "../seed";
import { mainCommand, type RuntimeName, runtimeVersion, sleep, spawn } from "../runtime";

const ROOT = resolve(import.meta.dirname, "..", "..");

export interface RunningProcess {
  name: string;
  pid: number;
  port: number;
  log: string;
  /** false: it exports no http_requests_total of ours (its ProcessSpec says so), so nothing scrapes it for calls. */
  requestMetrics?: false;
}

export interface SupervisorState {
  case: CaseName;
  gateway: string;
  /** What runs its TypeScript roles (absent in state files from before Deno: Bun). */
  runtime?: RuntimeName;
  runDir: string;
  startedAt: string;
  processes: RunningProcess[];
  /** Extra environment the processes were started with, so a restarted one gets the same. */
  env?: Record<string, string>;
  /** The delay Toxiproxy adds on every internal hop (--hop-latency); null or absent: no proxy. */
  hopLatencyMs?: number | null;
  /** CPU ms burnt per request, by process (--inject-cpu); absent or empty: none. */
  injectCpu?: Record<string, number>;
}

/** The environment variable a role reads its injected CPU from (src/config.ts). */
export const INJECT_ENV = "FLEET_INJECT_CPU_MS";

/** Whether two injections are the same (absent and empty are the same: none). */
export function sameInjection(a: Record<string, number> | undefined, b: Record<string, number> | undefined): boolean {
  const norm = (x: Record<string, number> | undefined) => JSON.stringify(Object.entries(x ?? {}).sort(([p], [q]) => p.localeCompare(q)));
  return norm(a) === norm(b);
}

const statePath = (config: Config) => join(config.stateDir, "state.json");

export function readState(config: Config): SupervisorState | null {
  try {
    return JSON.parse(readFileSync(statePath(config), "utf8"));
  } catch {
    return null;
  }
}

function writeState(config: Config, state: SupervisorState | null) {
  const path = statePath(config);
  if (!state) return rmSync(path, { force: true });
  mkdirSync(config.stateDir, { recursive: true });
  // 0600: the extra environment may hold a DATABASE_URL with its password.
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}


function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Stops processes: SIGTERM to each process group, then SIGKILL to whatever outlives `graceMs`. */
async function stopProcesses(processes: RunningProcess[], log: (line: string) => void, graceMs = 5000) {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig); // the whole group: a role never leaves children behind
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  for (const p of processes) signal(p.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (processes.some((p) => isAlive(p.pid)) && Date.now() < deadline) await sleep(25);
  for (const p of processes.filter((p) => isAlive(p.pid))) {
    log(`${p.name} (pid ${p.pid}) ignored SIGTERM for ${graceMs} ms: killing it`);
    signal(p.pid, "SIGKILL");
  }
  while (processes.some((p) => isAlive(p.pid))) await sleep(10);
}

/** Stops the running case's processes (not the database). Returns the case that was running. */
export async function stopCase(config: Config, log: (line: string) => void = console.log): Promise<string | null> {
  const state = readState(config);
  if (!state) return null;
  await stopProcesses(state.processes, log);
  writeState(config, null);
  log(`stopped ${state.case} (${state.processes.map((p) => p.name).join(", ")})`);
  return state.case;
}

/** Starts the database if needed and makes sure a fleet is loaded. */
export async function ensureData(config: Config, log: (line: string) => void) {
  await clusterUp(config, log);
  const sql = createSql(config, "fleetbench-supervisor");
  try {
    const size = await loadedFleetSize(sql);
    if (size === null) {
      log(`no fleet loaded yet: seeding ${config.fleetSize} robots`);
      await seed(sql, config.fleetSize, log);
    }
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/**
 * Starts one process of a case, detached, its output appended to its log in `runDir`. With
 * `injectCpu` naming it, it burns that many CPU ms per request; never otherwise, whatever the
 * user's shell holds.
 */
function launch(config: Config, p: ProcessSpec, runDir: string, env: Record<string, string> = {}, injectCpu: Record<string, number> = {}): RunningProcess {
  // A binary whose configuration is written for it reaches its neighbours where `env` says (the hops' proxies).
  const seen = withUrlsOf(config, env);
  const command = p.command?.(seen) ?? mainCommand(p.runtime ?? "bun", p.args ?? [], p.name);
  const logPath = join(runDir, `${p.name}.log`);
  const fd = openSync(logPath, "a");
  // Never the user's whole shell: a debugging switch there would change this process only (docs/design.md §12).
  const processEnv = measuredEnv(config, { ...p.env?.(seen), ...env });
  delete processEnv[INJECT_ENV];
  if (injectCpu[p.name]) processEnv[INJECT_ENV] = String(injectCpu[p.name]);
  const child = spawn(command, {
    cwd: ROOT,
    env: processEnv,
    stdin: "ignore",
    stdout: fd,
    stderr: fd,
    detached: true,
  });
  closeSync(fd);
  child.unref();
  return { name: p.name, pid: child.pid, port: p.port(config), log: logPath, ...(p.requestMetrics === false ? { requestMetrics: false as const } : {}) };
}

/** Polls a process's /health; a failure carries the last lines of its log. */
async function awaitReady(config: Config, p: ProcessSpec, running: RunningProcess) {
  const url = p.health?.(config) ?? `http://127.0.0.1:${p.port(config)}/health`;
  try {
    await waitForHealth(url, config.readyTimeoutMs, () => isAlive(running.pid));
  } catch (error) {
    const on = p.runtime ? ` (on ${p.runtime})` : "";
    throw new Error(`${p.name}${on} did not become ready: ${(error as Error).message}\n--- last lines of ${running.log} ---\n${tail(running.log)}`);
  }
}

/**
 * Fault injection: takes one process of the running case away. `kill` is a crash (SIGKILL, the
 * port closes at once); `pause` is a hang (SIGSTOP: connections are accepted, nothing answers).
 */
export async function faultProcess(config: Config, name: string, mode: "kill" | "pause") {
  const state = readState(config);
  const target = state?.processes.find((p) => p.name === name);
  if (!state || !target) {
    throw new Error(`${name} is not a process of the running case (${state ? state.processes.map((p) => p.name).join(", ") : "none runs"})`);
  }
  process.kill(-target.pid, mode === "kill" ? "SIGKILL" : "SIGSTOP");
  if (mode === "kill") while (isAlive(target.pid)) await sleep(5);
  return target;
}

/** Ends a fault: resumes a paused process, or starts a killed one again and waits for /health. */
export async function recoverProcess(config: Config, name: string, mode: "kill" | "pause") {
  const state = readState(config)!;
  const index = state.processes.findIndex((p) => p.name === name);
  if (mode === "pause") {
    process.kill(-state.processes[index].pid, "SIGCONT");
    return;
  }
  // On the runtime the case was started on, whatever this shell's FLEET_RUNTIME says.
  const started = { ...config, runtime: state.runtime ?? "bun" };
  const spec = name === "toxiproxy" ? toxiproxySpec(config, join(state.runDir, "toxiproxy.json")) : caseSpec(state.case).processes(started).find((p) => p.name === name)!;
  const running = launch(config, spec, state.runDir, state.env, state.injectCpu);
  state.processes[index] = running;
  writeState(config, state);
  await awaitReady(config, spec, running);
  if (name === "toxiproxy") await addLatency(config);
}

export interface UpOptions {
  log?: (line: string) => void;
  /** Extra environment for every process (tests use it to change timeouts, for example). */
  env?: Record<string, string>;
  /** CPU ms to burn per request, by process (--inject-cpu); a case running without the same is restarted. */
  injectCpu?: Record<string, number>;
}

/**
 * Starts `caseName`: database, data, then every process of the case, and waits until each one
 * answers /health. A different running case is stopped first; the same case is reused.
 */
export async function up(config: Config, caseName: string, options: UpOptions = {}): Promise<SupervisorState> {
  const log = options.log ?? console.log;
  const spec = caseSpec(caseName);
  const current = readState(config);
  if (current) {
    const live = current.processes.every((p) => isAlive(p.pid));
    if (current.case === spec.name && current.gateway === spec.gateway(config) && (current.runtime ?? "bun") === config.runtime && (current.hopLatencyMs ?? null) === config.hopLatencyMs && sameInjection(current.injectCpu, options.injectCpu) && live) {
      log(`${spec.name} is already running (logs in ${current.runDir})`);
      return current;
    }
    log(`${current.case} is running${live ? "" : " (partly)"}: stopping it before starting ${spec.name}`);
    await stopCase(config, log);
  }
  const processes = spec.processes(config);
  // With --hop-latency, Toxiproxy (built now if needed) and its proxies' ports come first.
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const runDir = join(config.stateDir, "runs", `${stamp}-${spec.name}`);
  const proxy = config.hopLatencyMs === null ? null : toxiproxySpec(config, join(runDir, "toxiproxy.json"));
  if (proxy) await ensureTools(config, ["toxiproxy"], log);
  // Resolve every command first, so a missing binary (or runtime) fails before anything starts.
  for (const p of processes) p.command ? p.command(config) : mainCommand(p.runtime ?? "bun", p.args ?? [], p.name);
  for (const p of proxy ? [proxy, ...processes] : processes) {
    const owner = await portOwner(p.port(config));
    if (owner) throw new Error(`port ${p.port(config)} (${p.name}) is already in use by ${owner}: stop it, or move ${p.name} with its FLEET_*_PORT variable`);
  }
  if (proxy) {
    for (const h of hops(config)) {
      const owner = await portOwner(Number(h.listen.split(":")[1]));
      if (owner) throw new Error(`port ${h.listen} (Toxiproxy's proxy to ${h.name}) is already in use by ${owner}: stop it, or move ${h.name} with its FLEET_*_PORT variable`);
    }
  }
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  // Every process reaches the others through the proxies when there are any.
  const env = proxy ? { ...options.env, ...hopEnv(config) } : options.env;
  const state: SupervisorState = { case: spec.name, gateway: spec.gateway(config), runtime: config.runtime, runDir, startedAt: new Date().toISOString(), processes: [], env, hopLatencyMs: config.hopLatencyMs,
    ...(Object.keys(options.injectCpu ?? {}).length ? { injectCpu: options.injectCpu } : {}) };
  // Whatever happens from here, a failure or Ctrl-C stops everything this call started.
  const abort = async () => {
    await stopProcesses(state.processes, log);
    writeState(config, null);
    if (!dbWasUp) await clusterDown(config, log);
  };
  const onSignal = () => {
    log("interrupted: stopping what was started");
    void abort().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await ensureData(config, log);
    mkdirSync(runDir, { recursive: true });
    const t0 = performance.now();
    if (proxy) {
      writeFileSync(join(runDir, "toxiproxy.json"), JSON.stringify(proxiesFile(config), null, 2));
      state.processes.push(launch(config, proxy, runDir));
      writeState(config, state);
      await awaitReady(config, proxy, state.processes[0]);
      await addLatency(config);
      log(`toxiproxy ${TOXIPROXY_VERSION}: every internal hop +${config.hopLatencyMs} ms (${hops(config).length} proxies; the client → gateway hop is direct)`);
    }
    const first = state.processes.length;
    for (const p of processes) {
      state.processes.push(launch(config, p, runDir, env, options.injectCpu));
      writeState(config, state);
    }
    await Promise.all(processes.map((p, i) => awaitReady(config, p, state.processes[first + i])));
    log(`${spec.name} ready in ${((performance.now() - t0) / 1000).toFixed(2)} s: ${spec.title}`);
    log(`  endpoint: ${config.urls.gateway}${spec.protocol === "graphql" ? "/graphql" : "/api/fleet/dashboard"}`);
    log(`  gateway:  ${state.gateway}`);
    log(`  runtime:  ${config.runtime} ${runtimeVersion(config.runtime) ?? ""} (every TypeScript role; FLEET_RUNTIME)`);
    for (const [name, ms] of Object.entries(options.injectCpu ?? {})) log(`  injected: ${name} burns ${ms} ms of CPU per request (--inject-cpu)`);
    log(`  logs:     ${runDir}`);
    return state;
  } catch (error) {
    await abort();
    throw error;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

/** Stops the running case and the local PostgreSQL: nothing fleetbench started stays behind. */
export async function down(config: Config, log: (line: string) => void = console.log) {
  const stopped = await stopCase(config, log);
  const db = await clusterDown(config, log);
  if (!stopped && !db) log("nothing was running");
}

/** Removes the local database folder and run folders (and results when asked), saying what went. */
export async function clean(config: Config, options: { results?: boolean }, log: (line: string) => void = console.log) {
  await down(config, log);
  const targets = [join(config.stateDir, "pg"), join(config.stateDir, "runs"), ...(options.results ? [config.resultsDir] : [])];
  for (const target of targets) {
    if (existsSync(target)) {
      rmSync(target, { recursive: true, force: true });
      log(`removed ${target}`);
    }
  }
  if (!options.results && existsSync(config.resultsDir)) log(`kept ${config.resultsDir} (add --results to remove it)`);
}

