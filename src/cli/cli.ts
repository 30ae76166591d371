/**
 * The commands behind the justfile's recipes. Each is small; the work lives in the modules. Their
 * usage, as people type them (`just case2 load VUS DURATION`), is in src/cli/help.ts.
 *
 *   bun src/main.ts COMMAND [args]      (`just RECIPE [args]` runs these)
 *   bun src/main.ts --help | --version
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { apiFlag, duration, durationFlag, either, fleetSizeArg, injectCpuFlag, leadingWords, nameOf, positive, readableFile, splitFlags } from "./args";
import { CASE_ACTIONS } from "./help";
import { codeVersion } from "../run/fingerprint";
import { spawn } from "../runtime";
import pkg from "../../package.json" with { type: "json" };
import { API_NAMES, type ApiName, CASE_NAMES, caseSpec, clientRequest } from "../run/cases";
import { CURVE_COMMANDS } from "./cli-curves";
import { MODEL_COMMANDS } from "./cli-model";
import { COMPARE_COMMANDS } from "./cli-compare";
import { OPTIONS } from "./options";
import { type Config, loadConfig } from "../config";
import { createSql, loadedFleetSize } from "../db";
import { clusterDown, clusterPaths, clusterPid, clusterUp } from "../run/pg-cluster";
import { seed } from "../seed";
import { RefusedError, UsageError } from "../errors";
import { clean, down, isAlive, readState, up } from "../run/supervisor";
import { memoryNow } from "../run/resources";
import { ensureTools } from "../run/tools";
import { ensureEngine } from "../run/engine/engine";
import { type LoadParams, durationSeconds, RATE_VUS, runLoad } from "../run/load";
import { reportSources, writeReport } from "../report/report";
import { obsDown, obsStatus, obsUp } from "../deploy/obs";
import { prometheusYaml, RATE_INTERVAL } from "../deploy/prometheus";
import { checkDashboards, runSpan } from "../deploy/dashboards";
import { COMPOSE_DIR } from "../deploy/compose";
import { composeCli } from "../deploy/compose-cli";

/** The commands (and case or compose actions) that drive load: each needs the engine before it starts anything. */
const MEASURING = ["load", "iterations", "rate", "compare", "calibrate", "demo", "chaos", "capacity", "sweep", "model", "grid"];

/**
 * Makes sure the load engine can run before a measuring command starts PostgreSQL or a case
 * (vegeta is built when Go is there; k6 must be on PATH); one line and exit 2 otherwise.
 */
export async function engineFirst(config: Config, name: string, args: string[]) {
  const action = name === "case" ? leadingWords(args.slice(1), 1, CASE_SWITCHES).words[0] : name === "compose" ? args.slice(1).find((a) => a === "rate" || a === "load") : name;
  if (!action || !MEASURING.includes(action)) return;
  await ensureEngine(config);
  // (A tool build of fleetbench's is paused by each measured run itself, when it starts.)
}

/**
 * A measured run from the command line: exit 0 only for a complete result; 130 after Ctrl-C (as
 * `up` does); an error saying why when the load engine failed.
 */
async function measuredRun(config: Config, params: LoadParams) {
  const { path, result } = await runLoad(config, params);
  if (result.status === "complete") return;
  if (result.extra.interrupted) process.exit(130);
  throw new Error(`the run is not complete (${path}): ${result.extra.engine_failure ?? result.extra.k6_failure ?? result.extra.error ?? "see the result file"}`);
}
const ROOT = resolve(import.meta.dirname, "..", "..");

/** Each load mode's two values: positionally (`load case2 50 5m`) or as options (`--vus 50 --duration 5m`). */
const MODE_VALUES = {
  duration: [["vus", "VUS"], ["duration", "DURATION"]],
  iterations: [["vus", "VUS"], ["iterations", "COUNT"]],
  rate: [["rate", "RPS"], ["duration", "DURATION"]],
} as const;

/** The switches (options without a value) of the case actions, so an option before the action does not take it as its value. */
const CASE_SWITCHES = CASE_ACTIONS.flatMap((a) => (a in OPTIONS ? OPTIONS[a as keyof typeof OPTIONS].switches : []));

/** `CASE A B [--api NAME] [--warmup 5s]` for the three load modes. */
export function loadParams(mode: LoadParams["mode"], args: string[]): LoadParams {
  const command = mode === "duration" ? "load" : mode;
  const { flags, positional } = splitFlags(args, OPTIONS[command].options, OPTIONS[command].switches);
  const [name, ...values] = positional;
  if (values.length > 2) throw new UsageError(`${command} takes two values after the case (${MODE_VALUES[mode].map(([, w]) => w).join(" ")}), got "${values.join(" ")}"`);
  const [[fa, wa], [fb, wb]] = MODE_VALUES[mode];
  const a = either(values[0], flags, fa, wa);
  const b = either(values[1], flags, fb, wb);
  const base = { case: caseSpec(name ?? "").name, mode, api: apiFlag(flags), warmup: durationFlag(flags, "warmup", "5s"), pin: flags.has("pin"), ...(flags.has("inject-cpu") ? { injectCpu: injectCpuFlag(flags) } : {}) };
  if (mode === "iterations") return { ...base, vus: positive(a, nameOf(flags, fa, wa)), iterations: positive(b, nameOf(flags, fb, wb)) };
  if (mode === "rate") return { ...base, vus: RATE_VUS, rate: positive(a, nameOf(flags, fa, wa)), duration: duration(b, nameOf(flags, fb, wb)) };
  return { ...base, vus: positive(a, nameOf(flags, fa, wa)), duration: duration(b, nameOf(flags, fb, wb)) };
}

/** `fleetbench 0.1.0 (commit 1b0ddea99812)`: the version in package.json and the code that runs. */
export function versionText(): string {
  const { git_sha, git_dirty } = codeVersion();
  return `fleetbench ${pkg.version} (${git_sha ? `commit ${git_sha.slice(0, 12)}${git_dirty ? ", with changes not committed" : ""}` : "not a git checkout"})`;
}

const K8S_ACTIONS = ["render", "up", "gate", "load", "down"];

export const COMMANDS: Record<string, (config: Config, args: string[]) => Promise<void>> = {
  ...CURVE_COMMANDS,
  ...MODEL_COMMANDS,
  ...COMPARE_COMMANDS,
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
  async report(config, args) {
    const { flags, positional: files } = splitFlags(args, OPTIONS.report.options);
    for (const file of [...files, ...(flags.get("baseline") ? [flags.get("baseline")!] : [])]) readableFile(file);
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
    const { flags, positional } = splitFlags(args, OPTIONS.chaos.options);
    const [name, service, seconds, ...values] = positional;
    if (values.length > 2) throw new UsageError(`chaos takes at most VUS and DURATION after SECONDS, got "${values.join(" ")}"`);
    const vus = either(values[0], flags, "vus", "VUS");
    const length = either(values[1], flags, "duration", "DURATION");
    if (!service) throw new UsageError("chaos takes CASE SERVICE SECONDS [VUS] [DURATION]: e.g. `just case2 chaos telemetry-service 5`");
    const down = positive(seconds, "SECONDS");
    const mode = flags.get("mode") ?? "kill";
    if (mode !== "kill" && mode !== "pause") throw new UsageError(`--mode must be kill or pause, got "${mode}"`);
    const total = length ? duration(length, nameOf(flags, "duration", "DURATION")) : `${Math.max(30, down * 4)}s`;
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
      // Compose publishes docs/design.md §2's defaults, so its file never depends on this shell's overrides.
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
  async gate(config, [name, ...rest]) {
    const spec = caseSpec(name ?? "");
    const unknown = rest.filter((a) => a !== "--answers");
    if (unknown.length) throw new UsageError(`gate takes a case and --answers (each answer's sha256, for a load run elsewhere to check against), got "${unknown.join(" ")}"`);
    const { runGate } = await import("../run/gate");
    const sql = createSql(config, "fleetbench-gate");
    try {
      const answers = new Map<string, string>();
      const gate = await runGate(spec, config, sql, 8, answers);
      if (!gate.passed) throw new RefusedError(`${spec.name} at ${config.urls.gateway} differs from the database:\n  ${gate.failures.join("\n  ")}`);
      // A Kubernetes load run checks every response against these (its bodies stay in the cluster).
      if (rest.includes("--answers")) {
        const { createHash } = await import("node:crypto");
        for (const [key, body] of answers) console.log(`answer ${key} sha256 ${createHash("sha256").update(Buffer.from(body, "base64")).digest("hex")}`);
      }
      console.log(`gate passed: ${gate.checked} answers of ${spec.name} at ${config.urls.gateway} equal the database`);
    } finally {
      await sql.end({ timeout: 2 });
    }
  },
  async k8s(config, args) {
    // One order everywhere: `just k8s case2 up`, as `just compose case2 up` and `just case2 up`.
    // The earlier `just k8s up case2` still works and says so.
    const { words, rest } = leadingWords(args, 2);
    const [first, second] = words;
    const isCase = (word: string | undefined) => (CASE_NAMES as string[]).includes(word ?? "");
    let ordered = [...words, ...rest];
    if (isCase(first) && K8S_ACTIONS.includes(second ?? "")) ordered = [second, first, ...rest];
    else if (K8S_ACTIONS.includes(first ?? "") && isCase(second)) {
      console.error(`fleetbench: notice: \`just k8s ${first} ${second}\` is now \`just k8s ${second} ${first}\` (the order of \`just compose ${second} up\`); the old order still works`);
    } else if (first !== "down" && first !== "cluster") {
      throw new UsageError(`k8s takes CASE then ${K8S_ACTIONS.join(", ")} (e.g. \`just k8s case2 up\`; \`just k8s down\` needs no case), got "${args.filter((a) => !a.startsWith("--")).join(" ")}"`);
    }
    // Loaded on demand: the manifests' modules are of no use to any other command.
    const { k8sCommand } = await import("../deploy/k8s");
    await k8sCommand(config, ordered);
  },
  async case(config, [name, ...args]) {
    caseSpec(name ?? "");
    // The action is the first word that is not an option: options may come before it.
    const { words: [action], rest } = leadingWords(args, 1, CASE_SWITCHES);
    if (!CASE_ACTIONS.includes(action ?? "")) throw new UsageError(`just ${name} takes ${CASE_ACTIONS.join(", ")}${action ? `, got "${action}"` : ""} (\`just ${name} --help\`)`);
    await COMMANDS[action!](config, [name!, ...rest]);
  },
  async version() {
    console.log(versionText());
  },
  async test(config, args) {
    await ensureTools(config);
    // Ctrl-C reaches the suite too (one process group); it stops what it started, and this waits for it.
    process.on("SIGINT", () => {});
    const child = spawn([join(ROOT, "node_modules", ".bin", "bun"), "test", "--timeout", "180000", ...args], { cwd: ROOT, env: process.env, stdin: "inherit", stdout: "inherit", stderr: "inherit" });
    process.exit(await child.exited);
  },
  async "bench-driver"(config, args) {
    const { flags, positional } = splitFlags(args, OPTIONS["bench-driver"].options);
    if (positional.length) throw new UsageError(`bench-driver takes only options (--concurrency, --windows, --window, --warmup), got "${positional.join(" ")}"`);
    const windowSeconds = durationSeconds(flags.has("window") ? duration(flags.get("window"), "--window") : "10s");
    if (windowSeconds <= 0) throw new UsageError(`--window must be longer than 0 s, got "${flags.get("window")}"`);
    // Loaded on demand: it brings the robot service's modules, which no other command needs.
    const { driverBench } = await import("../run/driver-bench");
    await driverBench(config, {
      concurrency: flags.has("concurrency") ? positive(flags.get("concurrency"), "--concurrency") : 50,
      windows: flags.has("windows") ? positive(flags.get("windows"), "--windows") : 5,
      windowSeconds,
      warmupSeconds: durationSeconds(flags.has("warmup") ? duration(flags.get("warmup"), "--warmup") : "1s"),
    });
  },
};
