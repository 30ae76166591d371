/**
 * The commands behind the justfile's recipes. Each is small; the work lives in the modules.
 *
 *   db up|down|status        local PostgreSQL 16 (nothing to do when DATABASE_URL is set)
 *   seed [N]                 (re)create the schema and load a fleet of N robots (default FLEET_SIZE)
 *   up CASE | down | status  start a case (case1, case1b, case2, case3), stop everything, show what runs
 *   query CASE API [ID]      one client request (dashboard, monitor, critical), answer printed
 *   load CASE VUS DURATION | iterations CASE VUS COUNT | rate CASE RPS DURATION
 *                            one measured run (src/bench/load.ts), result under results/
 *   chaos CASE SERVICE SECONDS [VUS] [DURATION] [--mode kill|pause] [--at S]
 *                            a load run during which SERVICE is killed (or paused) for SECONDS
 *   compare [VUS] [DURATION] [--repeat R] [--gateways apollo-router,hive-gateway]
 *                            every case back to back under the same load, then the report
 *   report [RESULT.json...]  Markdown table and HTML page from result files
 *   clean [--results]        remove the local database and run folders (and results)
 *   supergraph [--check|--api]  compose Case 3's supergraph (compose/supergraph.graphql)
 *   tools [NAME...]          build k6 and Apollo Router into the tools cache (once, pinned)
 *   obs up|down|status       Prometheus (and Grafana when on PATH) natively (src/deploy/obs.ts)
 *   obs config [--compose]   print the generated Prometheus config (--compose: write compose/prometheus.yml)
 *   obs check [RUN_ID]       every dashboard panel's query over a run (default: the newest), series and last values
 *   compose CASE up|down|ps|logs  the case under Docker Compose, where a Docker engine runs
 *   gate CASE                the correctness gate alone, against the running case (the Kubernetes gate Job runs it)
 *   k8s render|up|gate|load|down TARGET [options]  the target on Kubernetes (src/deploy/k8s.ts)
 *   bench-driver [--concurrency 50] [--windows 5] [--window 10s] [--warmup 1s]
 *                            robot-service's GET /robots/:id against the raw driver, same run (src/bench/driver-bench.ts)
 */
import { writeFileSync } from "node:fs";
import { apiFlag, casesFlag, runtimesFlag, duration, durationFlag, fleetSizeArg, gatewaysFlag, positive, positiveFlag, splitFlags } from "./args";
import { API_NAMES, type ApiName, caseSpec, clientRequest } from "../bench/cases";
import { compareCapacity, CURVE_COMMANDS } from "./cli-curves";
import { type Config, loadConfig } from "../config";
import { createSql, loadedFleetSize } from "../db";
import { clusterDown, clusterPaths, clusterPid, clusterUp } from "../bench/pg-cluster";
import { seed } from "../seed";
import { RefusedError, UsageError } from "../errors";
import { clean, down, isAlive, readState, up } from "../bench/supervisor";
import { memoryNow } from "../bench/resources";
import { ensureTools } from "../bench/tools";
import { type LoadParams, durationSeconds, RATE_VUS, runLoad } from "../bench/load";

/**
 * A measured run from the command line: exit 0 only for a complete result; 130 after Ctrl-C (as
 * `up` does); an error saying why when k6 failed.
 */
async function measuredRun(config: Config, params: LoadParams) {
  const { path, result } = await runLoad(config, params);
  if (result.status === "complete") return;
  if (result.extra.interrupted) process.exit(130);
  throw new Error(`the run is not complete (${path}): ${result.extra.k6_failure ?? result.extra.error ?? "see the result file"}`);
}
import { compare } from "../bench/compare";
import { reportSources, writeReport } from "../report/report";
import { obsDown, obsStatus, obsUp } from "../deploy/obs";
import { prometheusYaml, RATE_INTERVAL } from "../deploy/prometheus";
import { checkDashboards, runSpan } from "../deploy/dashboards";
import { composeCli, COMPOSE_DIR } from "../deploy/compose";


/** `CASE A B [--api NAME] [--warmup 5s]` for the three load modes. */
export function loadParams(mode: LoadParams["mode"], args: string[]): LoadParams {
  const { flags, positional } = splitFlags(args, ["api", "warmup"], ["pin"]);
  const [name, a, b] = positional;
  const base = { case: caseSpec(name ?? "").name, mode, api: apiFlag(flags), warmup: durationFlag(flags, "warmup", "5s"), pin: flags.has("pin") };
  if (mode === "iterations") return { ...base, vus: positive(a, "VUS"), iterations: positive(b, "COUNT") };
  if (mode === "rate") return { ...base, vus: RATE_VUS, rate: positive(a, "RPS"), duration: duration(b, "DURATION") };
  return { ...base, vus: positive(a, "VUS"), duration: duration(b, "DURATION") };
}

export const COMMANDS: Record<string, (config: Config, args: string[]) => Promise<void>> = {
  ...CURVE_COMMANDS,
  async db(config, [action]) {
    if (action === "up") return clusterUp(config);
    if (action === "down") {
      if (!(await clusterDown(config))) console.log("PostgreSQL was not running");
      return;
    }
    if (action === "status") {
      const pid = clusterPid(config);
      console.log(config.db.external ? "external database (DATABASE_URL)" : pid ? `PostgreSQL running, pid ${pid}, data ${clusterPaths(config).data}` : "PostgreSQL not running");
      return;
    }
    throw new UsageError(`db takes up, down or status, got "${action ?? ""}"`);
  },
  async seed(config, [n]) {
    const size = fleetSizeArg(n, config.fleetSize);
    await clusterUp(config);
    const sql = createSql(config, "fleetbench-seed");
    try {
      await seed(sql, size, console.log);
    } finally {
      await sql.end({ timeout: 2 });
    }
  },
  async up(config, [name]) {
    await up(config, name ?? "");
  },
  async down(config) {
    await down(config);
  },
  async status(config) {
    const state = readState(config);
    if (!state) console.log("no case running");
    else {
      console.log(`${state.case} (gateway ${state.gateway}, on ${state.runtime ?? "bun"}), started ${state.startedAt}, logs in ${state.runDir}`);
      // Memory now, PSS (shared pages split between the processes sharing them) and RSS: idle, it is each role's footprint.
      const memory = memoryNow(Object.fromEntries(state.processes.map((p) => [p.name, p.pid])));
      const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
      for (const p of state.processes) {
        const m = memory[p.name];
        const size = isAlive(p.pid) && m ? `  PSS ${mib(m.pssBytes).padStart(10)}, RSS ${mib(m.rssBytes).padStart(10)}` : "";
        console.log(`  ${p.name.padEnd(20)} pid ${String(p.pid).padEnd(8)} :${String(p.port).padEnd(6)} ${isAlive(p.pid) ? "up  " : "DEAD"}${size}`);
      }
    }
    await COMMANDS.db(config, ["status"]);
    if (clusterPid(config) || config.db.external) {
      const sql = createSql(config, "fleetbench-status");
      try {
        console.log(`fleet size loaded: ${(await loadedFleetSize(sql)) ?? "none"}`);
      } finally {
        await sql.end({ timeout: 2 });
      }
    }
  },
  async query(config, [name, api = "dashboard", robotId = "robot-001"]) {
    const spec = caseSpec(name ?? "");
    if (!API_NAMES.includes(api as ApiName)) throw new UsageError(`API must be one of ${API_NAMES.join(", ")}, got "${api}"`);
    const request = clientRequest(spec, config, api as ApiName, robotId);
    const response = await fetch(request.url, request.init);
    const body = await response.json();
    console.log(JSON.stringify(body, null, 2));
    if (!response.ok) throw new Error(`${request.url} answered ${response.status}`);
  },
  async clean(config, args) {
    await clean(config, { results: args.includes("--results") });
  },
  async load(config, args) {
    await measuredRun(config, loadParams("duration", args));
  },
  async iterations(config, args) {
    await measuredRun(config, loadParams("iterations", args));
  },
  async rate(config, args) {
    await measuredRun(config, loadParams("rate", args));
  },
  async compare(config, args) {
    const { flags, positional } = splitFlags(args, ["repeat", "gateways", "runtimes", "api", "warmup", "seed", "cases", "rate", "slo", "start", "max", "step"], ["pin", "capacity"]);
    if (flags.has("capacity")) return compareCapacity(config, flags, positional);
    const searchOnly = ["slo", "start", "max", "step"].filter((f) => flags.has(f));
    if (searchOnly.length) throw new UsageError(`--${searchOnly[0]} belongs to a capacity search: add --capacity`);
    if (flags.has("rate") && positional.length > 1) throw new UsageError(`compare --rate R takes one DURATION after it (e.g. \`just compare --rate 100 30s\`), got "${positional.join(" ")}"`);
    const rate = positiveFlag(flags, "rate", undefined);
    // In the open model the one positional argument is the duration.
    if (rate !== undefined) positional.unshift("10");
    const cases = casesFlag(flags);
    const runtimes = runtimesFlag(flags, config);
    if (cases && cases.length < 2 && runtimes.length < 2) throw new UsageError(`--cases takes at least two cases to compare (e.g. case1,case2, or case2,case2 for an A/A check), or one case with --runtimes bun,deno; got "${flags.get("cases")}"`);
    const { interrupted } = await compare(config, {
      vus: positional[0] ? positive(positional[0], "VUS") : 50,
      duration: positional[1] ? duration(positional[1], "DURATION") : "60s",
      repeat: positiveFlag(flags, "repeat", 5),
      seed: positiveFlag(flags, "seed", undefined),
      gateways: gatewaysFlag(flags),
      runtimes,
      api: apiFlag(flags),
      warmup: durationFlag(flags, "warmup", "5s"),
      pin: flags.has("pin"),
      cases,
      rate,
    });
    if (interrupted) process.exit(130); // as every command after Ctrl-C
  },
  async demo(config, args) {
    if (args.length) throw new UsageError(`demo takes no arguments, got "${args.join(" ")}": for other parameters use \`just compare VUS DURATION\``);
    const { demo } = await import("./demo");
    const { interrupted } = await demo(config);
    if (interrupted) process.exit(130);
  },
  async report(config, args) {
    const { flags, positional: files } = splitFlags(args, ["baseline"]);
    if (flags.has("baseline")) {
      const other = flags.get("baseline")!;
      if (!other) throw new UsageError("--baseline takes a comparison: report [compare-NOW.json] --baseline compare-BEFORE.json");
      const { writeBaselineReport } = await import("../report/baseline-report");
      writeBaselineReport(config, files, other);
      return;
    }
    const { sources, comparison } = reportSources(config, files);
    writeReport(config, sources, console.log, comparison);
  },
  async supergraph(_config, args) {
    const { CompositionError, supergraphCommand } = await import("../supergraph");
    try {
      const code = supergraphCommand(args);
      if (code !== 0) process.exit(code);
    } catch (error) {
      if (!(error instanceof CompositionError)) throw error;
      console.error(error.message);
      process.exit(1);
    }
  },
  async chaos(config, args) {
    const { flags, positional } = splitFlags(args, ["mode", "at", "api", "warmup"]);
    const [name, service, seconds, vus, length] = positional;
    if (!service) throw new UsageError("chaos takes CASE SERVICE SECONDS [VUS] [DURATION]: e.g. `just case2 chaos telemetry-service 5`");
    const down = positive(seconds, "SECONDS");
    const mode = flags.get("mode") ?? "kill";
    if (mode !== "kill" && mode !== "pause") throw new UsageError(`--mode must be kill or pause, got "${mode}"`);
    const total = length ? duration(length, "DURATION") : `${Math.max(30, down * 4)}s`;
    const at = flags.has("at") ? positive(flags.get("at"), "--at") : Math.max(3, Math.round(durationSeconds(total) / 4));
    if (at + down >= durationSeconds(total)) throw new UsageError(`the fault (at ${at} s, for ${down} s) must end before the run does (${total})`);
    const base = loadParams("duration", [name ?? "", vus ?? "10", total, ...(flags.has("api") ? ["--api", flags.get("api")!] : []), "--warmup", flags.get("warmup") ?? "5s"]);
    const names = caseSpec(base.case).processes(config).map((p) => p.name);
    if (!names.includes(service)) throw new UsageError(`${service} is not a process of ${base.case}: choose one of ${names.join(", ")}`);
    await measuredRun(config, { ...base, chaos: { service, seconds: down, mode, atSeconds: at } });
  },
  async tools(config, names) {
    await ensureTools(config, names);
  },
  async obs(config, [action, ...rest]) {
    if (action === "up") return obsUp(config);
    if (action === "down") return obsDown(config);
    if (action === "status") return obsStatus(config);
    if (action === "config" && rest.includes("--compose")) {
      // Compose publishes DESIGN §2's defaults, so its file never depends on this shell's overrides.
      const path = `${COMPOSE_DIR}/prometheus.yml`;
      writeFileSync(path, prometheusYaml(loadConfig({}), "compose"));
      return console.log(`wrote ${path}`);
    }
    if (action === "config") return void process.stdout.write(prometheusYaml(config, "native"));
    if (action === "check") {
      const span = runSpan(config, rest[0]);
      console.log(`dashboard queries over run ${span.runId} (${span.case}), variables case=${span.case} run=${span.runId}:`);
      await checkDashboards(config, { case: span.case, run: span.runId, rateInterval: RATE_INTERVAL }, span.start, span.end);
      return;
    }
    throw new UsageError(`obs takes up, down, status, config [--compose] or check [RUN_ID], got "${action ?? ""}"`);
  },
  async compose(config, args) {
    await composeCli(config, args);
  },
  async gate(config, [name]) {
    const spec = caseSpec(name ?? "");
    const { runGate } = await import("../bench/gate");
    const sql = createSql(config, "fleetbench-gate");
    try {
      const gate = await runGate(spec, config, sql);
      if (!gate.passed) throw new RefusedError(`${spec.name} at ${config.urls.gateway} differs from the database:\n  ${gate.failures.join("\n  ")}`);
      console.log(`gate passed: ${gate.checked} answers of ${spec.name} at ${config.urls.gateway} equal the database`);
    } finally {
      await sql.end({ timeout: 2 });
    }
  },
  async k8s(config, args) {
    // Loaded on demand: the manifests' modules are of no use to any other command.
    const { k8sCommand } = await import("../deploy/k8s");
    await k8sCommand(config, args);
  },
  async "bench-driver"(config, args) {
    const { flags, positional } = splitFlags(args, ["concurrency", "windows", "window", "warmup"]);
    if (positional.length) throw new UsageError(`bench-driver takes only options (--concurrency, --windows, --window, --warmup), got "${positional.join(" ")}"`);
    const windowSeconds = durationSeconds(flags.has("window") ? duration(flags.get("window"), "--window") : "10s");
    if (windowSeconds <= 0) throw new UsageError(`--window must be longer than 0 s, got "${flags.get("window")}"`);
    // Loaded on demand: it brings the robot service's modules, which no other command needs.
    const { driverBench } = await import("../bench/driver-bench");
    await driverBench(config, {
      concurrency: flags.has("concurrency") ? positive(flags.get("concurrency"), "--concurrency") : 50,
      windows: flags.has("windows") ? positive(flags.get("windows"), "--windows") : 5,
      windowSeconds,
      warmupSeconds: durationSeconds(flags.has("warmup") ? duration(flags.get("warmup"), "--warmup") : "1s"),
    });
  },
};
