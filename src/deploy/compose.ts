/**
 * The Docker Compose way to run a case (DESIGN §1, §10): compose/base.yml (PostgreSQL 16, the
 * seed, the three data services, Prometheus, Grafana) plus compose/<case>.yml. It needs a Docker
 * engine with the compose plugin; where none answers, it says so and changes nothing.
 *
 *   bun src/main.ts compose CASE up|down|ps|logs
 */
import { join, resolve } from "node:path";
import { type CaseName, caseSpec } from "../bench/cases";
import { DEFAULTS } from "../config";
import { waitForHealth } from "../bench/ports";
import { UsageError } from "../errors";
import { spawn, spawnSync, which } from "../runtime";

const ROOT = resolve(import.meta.dirname, "..", "..");
export const COMPOSE_DIR = join(ROOT, "compose");
/** One project name for every case, so `down` of one case removes whatever stack runs. */
export const PROJECT = "fleetbench";

const ACTIONS: Record<string, string[]> = {
  // Not --wait: it treats the seed's normal exit as a failure. Readiness is polled below instead.
  up: ["up", "--detach", "--build"],
  down: ["down", "--remove-orphans"],
  ps: ["ps"],
  logs: ["logs", "--tail", "50"],
};

export const composeFiles = (caseName: CaseName) => [join(COMPOSE_DIR, "base.yml"), join(COMPOSE_DIR, `${caseName}.yml`)];

/** The docker command for `action` on a case's stack. */
export function composeCommand(caseName: CaseName, action: string): string[] {
  const verb = ACTIONS[action];
  if (!verb) throw new UsageError(`compose takes ${Object.keys(ACTIONS).join(", ")}, got "${action}"`);
  return ["docker", "compose", "--project-name", PROJECT, ...composeFiles(caseName).flatMap((f) => ["-f", f]), ...verb];
}

/** Why compose cannot run here, or null when a Docker engine and the compose plugin answer. */
export function composeUnavailable(): string | null {
  if (!which("docker")) return "the docker command is not installed";
  // A missing engine makes `docker info` fail at once; the timeout covers a hung socket.
  const info = spawnSync(["docker", "info", "--format", "{{json .ServerVersion}}"], { timeout: 10_000 });
  if (info.exitCode !== 0) {
    const why = info.stderr.toString().trim().split("\n").pop() || `exit ${info.exitCode}`;
    return `no Docker engine answers (docker info: ${why})`;
  }
  const plugin = spawnSync(["docker", "compose", "version"], { timeout: 10_000 });
  if (plugin.exitCode !== 0) return "the Docker Compose plugin is missing (docker compose version failed)";
  return null;
}

export async function composeAction(name: string, action: string, log: (line: string) => void = console.log) {
  const spec = caseSpec(name);
  const command = composeCommand(spec.name, action ?? "");
  const why = composeUnavailable();
  if (why) {
    throw new UsageError(
      `cannot run the compose stack here: ${why}. The files are in compose/ (checked statically by test/environments.test.ts); ` +
        `where Docker runs: ${command.join(" ").replaceAll(`${ROOT}/`, "")}. Without Docker: \`just ${spec.name} up\` runs the same case natively`,
    );
  }
  log(`$ ${command.join(" ")}`);
  const child = spawn(command, { cwd: ROOT, stdout: "inherit", stderr: "inherit", stdin: "inherit" });
  const code = await child.exited;
  if (code !== 0) throw new Error(`docker compose ${action} exited with ${code}; its output above says why`);
  if (action === "up") {
    // The compose files publish DESIGN §2's ports (the defaults; test/environments.test.ts holds them equal).
    const at = (port: number) => `http://127.0.0.1:${port}`;
    // depends_on orders the start by health; the gateway answering means the whole case is up.
    await waitForHealth(`${at(DEFAULTS.gatewayPort)}/health`, 600_000);
    log(`${spec.name} runs in compose: client ${at(DEFAULTS.gatewayPort)}, Prometheus ${at(DEFAULTS.prometheusPort)}, Grafana ${at(DEFAULTS.grafanaPort)}`);
  }
}
