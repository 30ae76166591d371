/**
 * A measured run under Docker Compose (DESIGN §8, §19), in the native result format with
 * `fingerprint.platform = "compose"`:
 *
 * - the correctness gate against the stack first (a stack that differs from the database is refused);
 * - the load engine on the host, as natively: the same binary, script and warm-up, so the generator is the same
 *   in both platforms and only the system under test moved into containers. Its requests go to
 *   the gateway's port published on 127.0.0.1 (through Docker's userland proxy, measured as
 *   `docker-proxy`); the containers talk to each other over the stack's bridge network;
 * - internal calls from each container's /metrics (its port published on 127.0.0.1), before and after;
 * - CPU and memory per container from its cgroup (compose-resources.ts), and the stack's total
 *   from the parent cgroup where there is one, recorded beside the per-container figures.
 *
 *   bun src/main.ts compose CASE rate RPS DURATION [--api NAME] [--warmup 5s] [--no-grafana]
 *   bun src/main.ts compose CASE load VUS DURATION [...]
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type CaseName, caseSpec } from "../run/cases";
import type { Config } from "../config";
import { createSql } from "../db";
import { RefusedError } from "../errors";
import { fingerprint } from "../run/fingerprint";
import { runGate } from "../run/gate";
import { type EngineContext, ensureEngine, type LoadSummary } from "../run/engine/engine";
import type { GateAnswers } from "../run/gate";
import { type LoadParams, mixOf, RATE_VUS } from "../run/load";
import { describe, summaryLine, warmupParams } from "../run/run-steps";
import { runCanary } from "../run/canary";
import { metronomeMark, metronomeSince } from "../run/metronome";
import { pauseBuildsWhileMeasuring } from "../run/builds";
import { type MemorySample, type ProcessUsage, startSampler } from "../run/resources";
import { fileStamp, freshResultPath, type RunResult, writeResult } from "../run/results";
import { assembleResult, baseResult } from "../run/run-result";
import { scrapeRequests } from "../run/scrape";
import { k6PrometheusOutput } from "./prometheus";
import { apiFlag, duration, durationFlag, positive, splitFlags } from "../cli/args";
import { spawnSync } from "../runtime";
import { type ComposeOptions, composeConfig, composeDown, composeTarget, composeUp, stackContainers } from "./compose";
import { composeReady } from "./compose-tools";
import { imageRecord, LOCAL_IMAGE } from "./compose-images";
import { containerCgroups, startCgroupSampler } from "./compose-resources";
import pins from "../versions.json" with { type: "json" };
import { startStealSampler } from "../run/steal";
import { parityOf } from "../run/parity";

/** The processes of a measured run that are not containers: Docker's proxy for the gateway's published port. */
export function dockerProxyPids(port: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (args[0].endsWith("docker-proxy") && args[args.indexOf("-host-port") + 1] === String(port)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

const execOut = (container: string, cmd: string[]) => {
  const r = spawnSync(["docker", "exec", container, ...cmd], { timeout: 30_000 });
  return r.exitCode === 0 ? r.stdout.toString().trim() : null;
};

/** What the engine and the stack are: recorded in the fingerprint beside the images. */
function platformFacts(ready: { engine: string; compose: string }) {
  const info = spawnSync(["docker", "info", "--format", "{{json .}}"], { timeout: 30_000 });
  const i = info.exitCode === 0 ? JSON.parse(info.stdout.toString()) : {};
  return {
    engine: ready.engine,
    compose: ready.compose,
    storage_driver: i.Driver ?? null,
    cgroup_driver: i.CgroupDriver ?? null,
    cgroup_version: i.CgroupVersion ?? null,
    runtime: i.DefaultRuntime ?? null,
    // Loopback traffic to a published port goes through docker-proxy when this is on (the default).
    userland_proxy: dockerProxyPids(10000).length > 0,
  };
}

interface ComposeRunOptions extends ComposeOptions {
  /** Leave the stack running when this run started it (tests measure several runs on one stack). */
  keepStack?: boolean;
  /** The report's column for this run (a comparison's, src/plans/compare.ts). */
  column?: string;
}

/** Runs one measured run against the case's compose stack (started here when it is not up) and writes its result. */
export async function composeLoad(config0: Config, params: LoadParams, log: (line: string) => void = console.log, options: ComposeRunOptions = { grafana: true }) {
  const caseName: CaseName = params.case;
  const config = composeConfig(caseName, config0);
  const spec = caseSpec(caseName);
  const target = composeTarget(caseName, config);
  const ready = composeReady(config);
  if ("why" in ready) throw new RefusedError(`cannot run the compose stack here: ${ready.why}; nothing was started`);
  // The load engine runs on the host, as natively; no engine, no start.
  const engine = await ensureEngine(config, log);
  // A tool build would share the cores with the stack: paused while this measures.
  pauseBuildsWhileMeasuring(config, log);
  const canary = runCanary();
  const running = new Set(stackContainers().filter((c) => c.state === "running").map((c) => c.service));
  const upHere = !target.processes.every((p) => running.has(p.name));
  if (upHere) await composeUp(config, caseName, options, log);
  const mix = mixOf(params.api);
  const { runId, path } = freshResultPath(config, `${fileStamp()}-${caseName}-${target.gateway}-compose-${params.mode}`);
  const sql = createSql(config, "fleetbench-load");
  const stackDir = join(config.stateDir, "compose-runs", runId);
  let result: RunResult | null = null;
  try {
    const [facts] = await sql`SELECT (SELECT count(*)::int FROM robots) AS robots, (SELECT count(*)::int FROM alerts WHERE severity = 'critical') AS critical, current_setting('server_version') AS version,
      current_setting('fsync') AS fsync, current_setting('max_connections')::int AS max_connections, current_setting('shared_buffers') AS shared_buffers`;
    const containers = stackContainers().filter((c) => c.state === "running");
    const byService = new Map(containers.map((c) => [c.service, c]));
    const measuredNames = [...target.processes.map((p) => p.name), "postgres"];
    const images = Object.fromEntries(containers.map((c) => [c.service, imageRecord(c.image)]));
    const print = await fingerprint(config, facts.version, null, engine);
    // The versions that ran are the containers' own: the Bun of the image, the router of its image.
    const versions = { ...(print.versions as Record<string, unknown>) };
    versions.bun = execOut(byService.get("robot-service")!.id, ["bun", "--version"]);
    versions.apollo_router = target.gateway === "apollo-router" ? (execOut(byService.get("apollo-router")!.id, ["/dist/router", "--version"])?.split(" ").pop() ?? null) : null;
    // Hive Router prints no version (its image's tag is the pin); NGINX prints its own on stderr.
    if (target.gateway === "hive-router") versions.hive_router = pins.hiveRouter;
    if (target.gateway === "nginx") versions.nginx = execOut(byService.get("nginx")!.id, ["sh", "-c", "nginx -v 2>&1"])?.match(/nginx\/(\S+)/)?.[1] ?? null;
    result = baseResult({
      runId, case: caseName, gateway: target.gateway, runtime: "bun",
      params: { ...params, mix, fleetSize: facts.robots },
      fingerprint: {
        ...print, versions, platform: "compose",
        compose: platformFacts(ready),
        images,
        stand_in: Object.values(images).some((r) => r.stand_in),
      },
      extra: { title: spec.title, warmup: params.warmup, result_path: path, platform: "compose", canary, ...(options.column ? { column: options.column } : {}) },
    });
    // The same parity record as a native run (the containers run the same code with the same
    // defaults and no variable passed from this shell); PostgreSQL's settings as its container reports them.
    const parity = parityOf(config, spec, { startedCase: upHere, postgresVersion: facts.version });
    parity.processes.postgres = {
      runtime: "container", image: images.postgres?.image ?? null, version: facts.version,
      settings: { fsync: facts.fsync, max_connections: facts.max_connections, shared_buffers: facts.shared_buffers, listen: "the stack's bridge network" },
    };
    result.extra.parity = parity;
    log(`correctness gate: every API of ${caseName} under compose against the database (fleet of ${facts.robots})`);
    const answers: GateAnswers = new Map();
    const gate = await runGate(spec, config, sql, 8, answers);
    result.extra.gate = gate;
    if (!gate.passed) {
      result.status = "refused";
      result.finished_at = new Date().toISOString();
      writeResult(path, result);
      throw new RefusedError(`${caseName} under compose failed the correctness gate, not measured (${path}):\n  ${gate.failures.join("\n  ")}`);
    }
    log(`gate passed: ${gate.checked} answers equal the database`);
    const engineCtx: EngineContext = { config, spec, runId, dir: stackDir, mix, fleetSize: facts.robots, criticalCount: facts.critical, expected: answers };
    engine.prepare(engineCtx, params);
    if (params.warmup !== "0s") {
      const warm = warmupParams(params, params.warmup);
      log(`warm-up: ${describe({ ...warm, api: params.api })} (not counted)`);
      await (await engine.warmUp(engineCtx, warm)).done;
    }

    // The window: counters before, the cgroups and docker-proxy sampled, the engine, counters after.
    // The compose stack's Prometheus scrapes the containers; the engine runs on the host, out of its
    // network, so its exporter is not scraped here (a user-brought k6 still pushes by remote write).
    const obs = engine.name === "vegeta" ? {} : { push: await k6PrometheusOutput(config, log) };
    const procs = target.processes.map((p) => ({ name: p.name, port: p.port(config), requestMetrics: p.requestMetrics }));
    const before = await scrapeRequests(procs);
    const cgroups = containerCgroups(containers);
    const sampler = startCgroupSampler(cgroups);
    const steal = startStealSampler();
    const proxies = dockerProxyPids(config.ports.gateway);
    const hostSampler = startSampler(Object.fromEntries(proxies.map((pid, i) => [i ? `docker-proxy-${i}` : "docker-proxy", pid])));
    const t0 = performance.now();
    const beat = metronomeMark();
    log(`measuring: ${describe(params)} against ${target.label} under compose with ${engine.name} ${engine.version}, run ${runId}`);
    const engineStartMs = Date.now();
    const run = engine.measure(engineCtx, params, { ...obs, recordsPath: path.replace(/\.json$/, ".records.csv.gz") });
    const gen = run.child;
    hostSampler.add(engine.name, gen.pid);
    const engineExit = await gen.exited;
    const wallSeconds = (performance.now() - t0) / 1000;
    const metronome = metronomeSince(beat);
    const cg = sampler.stop();
    const host = hostSampler.stop();
    const cpuTimes = steal.stop();
    const after = await scrapeRequests(procs);
    log(`reading ${engine.name}'s records and checking every answer`);
    const { summary, failure: engineFailure } = await run.finish(engineExit).catch((error) => ({ summary: null as LoadSummary | null, failure: `${engine.name}'s output could not be read: ${(error as Error).message}` }));
    if (engineFailure) log(`${engineFailure}; the result is not complete`);
    if (summary) log(summaryLine(engine.name, summary));

    const usage: Record<string, ProcessUsage> = {};
    for (const name of measuredNames) {
      const u = cg.usage[name];
      if (u) usage[name] = { cpu_seconds: u.cpu_seconds, peak_rss_bytes: u.peak_memory_bytes, peak_pss_bytes: u.peak_memory_bytes };
    }
    // Docker's proxies of the gateway's port: one component of the platform's cost, apart.
    const proxyUsage = Object.entries(host.usage).filter(([n]) => n.startsWith("docker-proxy"));
    if (proxyUsage.length) {
      usage["docker-proxy"] = {
        cpu_seconds: proxyUsage.reduce((s, [, u]) => s + u.cpu_seconds, 0),
        peak_rss_bytes: proxyUsage.reduce((s, [, u]) => s + u.peak_rss_bytes, 0),
        peak_pss_bytes: proxyUsage.reduce((s, [, u]) => s + u.peak_pss_bytes, 0),
      };
    }
    const ru = gen.resourceUsage();
    const sampled = host.usage[engine.name];
    usage[engine.name] = ru
      ? { cpu_seconds: ru.cpuMicros / 1e6, peak_rss_bytes: sampled?.peak_rss_bytes ?? 0, peak_pss_bytes: sampled?.peak_pss_bytes ?? 0 }
      : sampled;
    const memory: MemorySample[] = cg.timeline.map((s) => ({ t: s.t, pss: Object.fromEntries(Object.entries(s.bytes).filter(([n]) => measuredNames.includes(n))) }));
    const received = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
    // The run's own CPU per window: the containers' cgroups plus docker-proxy and the engine (host
    // processes), in clock ticks as /proc/stat counts the machine's, so steal and foreign CPU are
    // judged as natively.
    const measuredTicks = cg.cpuTimeline.map((c) => {
      const hostTicks = host.ticksTimeline.filter((h) => h.t <= c.t).at(-1)?.ticks ?? 0;
      return { t: c.t, ticks: c.seconds * host.ticksPerSecond + hostTicks };
    });
    result = assembleResult(result, { summary, engineExit, engineFailure, interrupted: false, wallSeconds, received, gatewayName: target.gateway, usage, memory, canary, metronome, cpuTimes, measuredTicks, engineStartMs });
    const round = (x: number) => Math.round(x * 1000) / 1000;
    const containersSum = Object.values(cg.usage).reduce((s, u) => s + (Number.isFinite(u.cpu_seconds) ? u.cpu_seconds : 0), 0);
    result.extra.memory = { ...(result.extra.memory as object), measure: "cgroup memory usage minus inactive file pages per container (what docker stats shows)" };
    result.extra.cpu_measure = "per container: its cgroup's CPU counter (cgroup v" + cg.version + `); docker-proxy and ${engine.name}: /proc, as natively`;
    result.extra.containers = Object.fromEntries(Object.entries(cg.usage).map(([n, u]) => [n, { cpu_seconds: round(u.cpu_seconds), peak_memory_bytes: u.peak_memory_bytes, image: images[n]?.image ?? null }]));
    result.extra.stack_cgroup = { parent: cg.parent, cpu_seconds: cg.stackTotal === null ? null : round(cg.stackTotal), containers_cpu_seconds: round(containersSum) };
    result.extra.image_built = LOCAL_IMAGE;
    result.finished_at = new Date().toISOString();
    writeResult(path, result);
    if (result.flags.length) log(`flags: ${result.flags.join(", ")}`);
    log(`result (${result.status}, platform compose${result.fingerprint.stand_in ? ", stand-in images" : ""}): ${path}`);
    return { path, result };
  } catch (error) {
    if (result && !(error instanceof RefusedError)) {
      result.finished_at = new Date().toISOString();
      result.extra.error = (error as Error).message;
      writeResult(path, result);
    }
    throw error;
  } finally {
    await sql.end({ timeout: 2 });
    rmSync(stackDir, { recursive: true, force: true });
    if (upHere && !options.keepStack) await composeDown(config, caseName, log);
  }
}

/** `compose CASE rate RPS DURATION` / `compose CASE load VUS DURATION`, with --api, --warmup, --no-grafana. */
export async function composeLoadCli(config: Config, caseName: CaseName, action: string, args: string[], log: (line: string) => void) {
  const { flags, positional } = splitFlags(args, ["api", "warmup"], ["no-grafana"]);
  const [a, b] = positional;
  const base = { case: caseName, api: apiFlag(flags), warmup: durationFlag(flags, "warmup", "5s") };
  const params: LoadParams = action === "rate"
    ? { ...base, mode: "rate", vus: RATE_VUS, rate: positive(a, "RPS"), duration: duration(b, "DURATION") }
    : { ...base, mode: "duration", vus: positive(a, "VUS"), duration: duration(b, "DURATION") };
  await composeLoad(config, params, log, { grafana: !flags.has("no-grafana") });
}

