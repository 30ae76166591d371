/**
 * The Docker Compose way to run a case (DESIGN §1, §10, §19): compose/base.yml (PostgreSQL 16,
 * the seed, the three data services, Prometheus, Grafana in the `grafana` profile) plus
 * compose/<case>.yml and, for a case with several gateways, compose/gateway.<gateway>.yml (the one
 * CASE3_GATEWAY or REST_GATEWAY chooses), as one project (`fleetbench`). It needs a Docker engine and Docker Compose
 * (src/deploy/compose-tools.ts); where either is missing it says so in one line and starts nothing.
 * Images nobody can pull here are replaced by stand-ins under the same names (compose-images.ts),
 * and `up` says which.
 *
 *   bun src/main.ts compose CASE up [--no-grafana]|down|ps|logs|gate
 *   bun src/main.ts compose CASE rate RPS DURATION | load VUS DURATION   a measured run (compose-run.ts)
 *   bun src/main.ts compose images | tools | down
 */
import { join, resolve } from "node:path";
import { type CaseName, caseSpec, CASE_NAMES, configFor, gatewayChoices, type TargetSpec, targetFor } from "../run/cases";
import { type Config, DEFAULTS, loadConfig } from "../config";
import { portOwner, waitForHealth } from "../run/ports";
import { UsageError } from "../errors";
import { spawn, spawnSync, which } from "../runtime";
import { composeProgram, composeReady } from "./compose-tools";
import { nginxConf } from "../nginx";
import { buildStandIns, IMAGES, imageRecord, inspectImage, LOCAL_IMAGE, pullFailure, stackImages } from "./compose-images";

const ROOT = resolve(import.meta.dirname, "..", "..");
export const COMPOSE_DIR = join(ROOT, "compose");
/** One project name for every case, so `down` of one case removes whatever stack runs. */
export const PROJECT = "fleetbench";
/** Grafana's compose profile: started unless --no-grafana (it has no stand-in where nothing can be pulled). */
export const GRAFANA_PROFILE = "grafana";
const PROJECT_FILTER = `label=com.docker.compose.project=${PROJECT}`;

export interface ComposeOptions {
  grafana: boolean;
}

const ACTIONS: Record<string, (o: ComposeOptions) => string[]> = {
  // Not --wait: it treats the seed's normal exit as a failure. Readiness is polled below instead.
  up: () => ["up", "--detach", "--build", "--quiet-pull"],
  // --volumes: the images' anonymous volumes (PostgreSQL's data, Prometheus's) go too; nothing stays behind.
  down: () => ["down", "--remove-orphans", "--volumes", "--timeout", "10"],
  ps: () => ["ps", "--all"],
  logs: () => ["logs", "--tail", "50"],
};

/** The NGINX configuration the NGINX stack mounts (compose/gateway.nginx.yml), generated: `just compose config`. */
export const NGINX_CONF = join(COMPOSE_DIR, "nginx.conf");

/** compose/nginx.conf as src/nginx.ts makes it for the stack: DESIGN §2's port on every address, the robot service by name, /tmp for its files. */
export function nginxComposeConf(): string {
  const c = loadConfig({});
  return nginxConf(c, { listen: `0.0.0.0:${c.ports.gateway}`, robot: `robot-service:${c.ports.robot}`, prefix: "/tmp" });
}

/** A row's stack: base.yml, its case's file, and its gateway's file when the case has several. */
export const composeFiles = (target: TargetSpec) => [
  join(COMPOSE_DIR, "base.yml"),
  join(COMPOSE_DIR, `${target.case}.yml`),
  ...(gatewayChoices(target.case).length ? [join(COMPOSE_DIR, `gateway.${target.gateway}.yml`)] : []),
];

/** The docker command for `action` on a row's stack. `down` names every profile so that it stops Grafana too. */
export function composeCommand(target: TargetSpec, action: string, options: ComposeOptions = { grafana: true }): string[] {
  const verb = ACTIONS[action];
  if (!verb) throw new UsageError(`compose takes ${[...Object.keys(ACTIONS), "gate", "rate", "load", "config"].join(", ")}, got "${action}"`);
  const profiles = options.grafana || action !== "up" ? ["--profile", GRAFANA_PROFILE] : [];
  // The docker CLI's plugin, or the standalone docker-compose a Nix shell provides.
  const program = composeProgram()?.command ?? ["docker", "compose"];
  return [...program, "--project-name", PROJECT, ...composeFiles(target).flatMap((f) => ["-f", f]), ...profiles, ...verb(options)];
}

/**
 * The environment compose runs with: without the buildx plugin (Debian's docker.io has none),
 * the engine's classic builder builds fleetbench:local, said once by `up`.
 */
export function composeEnv(): Record<string, string | undefined> {
  const buildx = which("docker") ? spawnSync(["docker", "buildx", "version"], { timeout: 10_000 }).exitCode === 0 : false;
  return { ...process.env, ...(buildx ? {} : { DOCKER_BUILDKIT: "0", COMPOSE_BAKE: "false" }) };
}

/** Why compose cannot run here, or null when a Docker engine and Docker Compose answer. */
export function composeUnavailable(config: Config = loadConfig()): string | null {
  const ready = composeReady(config);
  return "why" in ready ? ready.why : null;
}

/** Refuses, in one line and before anything starts, when there is no engine or no Compose. */
export function requireCompose(config: Config, caseName: CaseName | null, log: (line: string) => void) {
  const ready = composeReady(config);
  if ("why" in ready) {
    throw new UsageError(`cannot run the compose stack here: ${ready.why}; nothing was started${caseName ? ` (without Docker: \`just ${caseName} up\` runs the same case natively)` : ""}`);
  }
  if (ready.note) log(ready.note);
  return ready;
}

/** The compose stack's containers now: service name -> id and state (stopped ones too). */
export function stackContainers(): { service: string; id: string; state: string; image: string }[] {
  const r = spawnSync(["docker", "ps", "--all", "--no-trunc", "--filter", PROJECT_FILTER, "--format", '{{.ID}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Image}}'], { timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`docker ps failed: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().trim().split("\n").filter(Boolean).map((line) => {
    const [id, service, state, image] = line.split("\t");
    return { id, service, state, image };
  });
}

/** What the project left behind: containers, networks and volumes carrying its label. */
export function leftovers(): { containers: string[]; networks: string[]; volumes: string[] } {
  const list = (cmd: string[]) => spawnSync(cmd, { timeout: 30_000 }).stdout.toString().trim().split("\n").filter(Boolean);
  return {
    containers: list(["docker", "ps", "--all", "--filter", PROJECT_FILTER, "--format", "{{.Names}}"]),
    networks: list(["docker", "network", "ls", "--filter", PROJECT_FILTER, "--format", "{{.Name}}"]),
    volumes: list(["docker", "volume", "ls", "--filter", PROJECT_FILTER, "--format", "{{.Name}}"]),
  };
}

/** The row of the case table compose runs for a case: Bun's, through the gateway `config` chooses (Hive Gateway's is native only). */
export function composeTarget(caseName: CaseName, config: Config): TargetSpec {
  const target = targetFor(caseName, { ...config, runtime: "bun" });
  if (!target.compose) throw new UsageError(`${target.label} does not run under compose (compose runs Bun's rows; Hive Gateway is native only)`);
  return target;
}

/** The configuration a compose run uses: the row's, with DESIGN §2's ports (the ones compose publishes). */
export const composeConfig = (caseName: CaseName, config: Config): Config => {
  const base = loadConfig({
    HOME: process.env.HOME, FLEET_TOOLS_DIR: config.toolsDir, FLEET_RESULTS_DIR: config.resultsDir, FLEET_STATE_DIR: config.stateDir,
    CASE3_GATEWAY: config.case3Gateway, REST_GATEWAY: config.restGateway,
  });
  return configFor(composeTarget(caseName, base), base);
};

/**
 * Makes sure every image the stack needs is here: present (official or a stand-in built
 * before), else pulled, else a stand-in is built (said). Grafana is pulled or refused.
 */
async function ensureStackImages(config: Config, target: TargetSpec, options: ComposeOptions, log: (line: string) => void) {
  for (const image of stackImages(target, options.grafana)) {
    if (inspectImage(image)) continue;
    const why = pullFailure(image);
    if (why === null) {
      log(`pulled ${image}`);
      continue;
    }
    if (image.startsWith("grafana/")) {
      throw new UsageError(`${image} is not here and cannot be pulled (${why}), and Grafana has no stand-in: \`--no-grafana\` starts the stack without it; nothing was started`);
    }
    log(`${image} is not here and cannot be pulled (${why}): building a stand-in under its name (\`just compose images\`)`);
    const [state] = await buildStandIns(config, log, [image]);
    if (state.state === "missing") throw new UsageError(`no stand-in for ${image}: ${state.note}; nothing was started`);
  }
}

/** One line naming the stand-ins a stack runs on, or that it runs on the official images. */
export function standInLine(target: TargetSpec, options: ComposeOptions): string {
  const records = stackImages(target, options.grafana).map(imageRecord);
  const standIns = records.filter((r) => r.stand_in).map((r) => `${r.image} (${r.id?.slice(7, 19)})`);
  if (!standIns.length) return "images: the official ones (no stand-ins)";
  return `stand-in images (built here from Debian and the native path's binaries, not the official images; docs/compose.md): ${standIns.join(", ")}; ${LOCAL_IMAGE} is built FROM the ${IMAGES.bun} stand-in`;
}

export async function runCompose(command: string[], log: (line: string) => void, quiet = false) {
  log(`$ ${command.join(" ").replaceAll(`${ROOT}/`, "")}`);
  const child = spawn(command, { cwd: ROOT, env: composeEnv(), stdout: quiet ? "pipe" : "inherit", stderr: quiet ? "pipe" : "inherit", stdin: "ignore" });
  const out = quiet ? Promise.all([new Response(child.stdout as ReadableStream).text(), new Response(child.stderr as ReadableStream).text()]) : Promise.resolve(["", ""]);
  const code = await child.exited;
  const [stdout, stderr] = await out;
  if (code !== 0) throw new Error(`docker compose ${command.at(-1)} exited with ${code}${quiet ? `:\n${(stdout + stderr).trim().split("\n").slice(-20).join("\n")}` : "; its output above says why"}`);
  return stdout;
}

/** Starts a case's stack and waits for its gateway; returns the image records. */
export async function composeUp(config: Config, caseName: CaseName, options: ComposeOptions, log: (line: string) => void = console.log, quiet = false) {
  requireCompose(config, caseName, log);
  const target = composeTarget(caseName, config);
  await ensureStackImages(config, target, options, log);
  if (!options.grafana) log(`Grafana not started (--no-grafana: its profile "${GRAFANA_PROFILE}" is off; it has no stand-in where nothing can be pulled)`);
  const running = stackContainers().filter((c) => c.state === "running").map((c) => c.service);
  const others = running.filter((s) => !target.processes.some((p) => p.name === s) && !["postgres", "prometheus", "grafana"].includes(s));
  if (others.length) throw new UsageError(`another case's compose stack runs (${others.join(", ")}): \`just compose down\` first`);
  if (!running.length) {
    // The stack publishes the native processes' ports: a native case or PostgreSQL holding one is named, not fought over.
    const ports = [...target.processes.map((p) => p.port(config)), DEFAULTS.pgPort, DEFAULTS.prometheusPort, ...(options.grafana ? [DEFAULTS.grafanaPort] : [])];
    for (const port of ports) {
      const owner = await portOwner(port);
      if (owner) throw new UsageError(`port ${port}, which the compose stack publishes, is in use by ${owner}: \`just down\` stops a native case and its PostgreSQL; nothing was started`);
    }
  }
  await runCompose(composeCommand(target, "up", options), log, quiet);
  // The compose files publish DESIGN §2's ports (test/environments.test.ts holds them equal).
  const at = (port: number) => `http://127.0.0.1:${port}`;
  // depends_on orders the start by health; the gateway answering means the whole case is up.
  // A container of the case that exits (a crash at start) ends the wait at once, with its last lines.
  let checked = 0;
  let exited: { service: string; id: string } | undefined;
  const alive = () => {
    if (Date.now() - checked < 2000) return true;
    checked = Date.now();
    exited = stackContainers().find((c) => c.state === "exited" && c.service !== "seed");
    return !exited;
  };
  try {
    await waitForHealth(`${at(DEFAULTS.gatewayPort)}/health`, 600_000, alive);
  } catch (error) {
    if (!exited) throw error;
    const tail = spawnSync(["docker", "logs", "--tail", "5", exited.id]);
    throw new Error(`${exited.service} exited during start-up; its last lines:\n${(tail.stdout.toString() + tail.stderr.toString()).trim()}`);
  }
  log(standInLine(target, options));
  log(`${target.label} runs in compose: client ${at(DEFAULTS.gatewayPort)}, Prometheus ${at(DEFAULTS.prometheusPort)}${options.grafana ? `, Grafana ${at(DEFAULTS.grafanaPort)}` : ""}`);
}

/** Stops the project's stack, whatever case runs, and checks that nothing of it is left. */
export async function composeDown(config: Config, caseName: CaseName = "case1", log: (line: string) => void = console.log, quiet = false) {
  requireCompose(config, null, log);
  // The project's containers, whichever gateway's file started them (--remove-orphans takes the others).
  await runCompose(composeCommand(targetFor(caseName, { ...loadConfig({}), runtime: "bun" }), "down"), log, quiet);
  const left = leftovers();
  const named = [...left.containers.map((n) => `container ${n}`), ...left.networks.map((n) => `network ${n}`), ...left.volumes.map((n) => `volume ${n}`)];
  if (named.length) throw new Error(`compose down left ${named.join(", ")}`);
  log("compose stack down: no container, network or volume of it is left");
}

/** The correctness gate against the running stack (the same gate as before every measured run). */
export async function composeGate(config: Config, caseName: CaseName, log: (line: string) => void = console.log) {
  const { runGate } = await import("../run/gate");
  const { createSql } = await import("../db");
  const c = composeConfig(caseName, config);
  const sql = createSql(c, "fleetbench-gate");
  try {
    const gate = await runGate(caseSpec(caseName), c, sql);
    log(gate.passed ? `gate passed under compose: ${gate.checked} answers of ${caseName} equal the database` : `gate FAILED:\n  ${gate.failures.join("\n  ")}`);
    return gate;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export { CASE_NAMES };
