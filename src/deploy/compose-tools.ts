/**
 * The Docker engine and Docker Compose that `just compose …` drives (docs/design.md §10, §19).
 *
 * - Compose v2 is the pinned one (src/versions.json `dockerCompose`): a `docker compose` plugin
 *   already at that version is used as it is (a Nix shell, Docker Desktop); otherwise it is built
 *   once from its Go module into the tools cache, like k6, and installed as the docker CLI's
 *   plugin ($DOCKER_CONFIG/cli-plugins/docker-compose, a symbolic link into the cache).
 * - The engine is whatever `docker info` reaches (DOCKER_HOST or the default socket). fleetbench
 *   never starts one itself: `.ci/run` does on a CI machine, and says so.
 *
 *   bun src/main.ts compose tools      build and install the pinned Compose (once)
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config";
import { spawn, spawnSync, type SpawnSyncResult, which } from "../runtime";
import versions from "../versions.json" with { type: "json" };

export const COMPOSE_VERSION = versions.dockerCompose;
/** The Go module Compose v2 is built from (its main package is ./cmd). */
export const COMPOSE_MODULE = "github.com/docker/compose/v2";

/** Where the built Compose lives in the tools cache. */
export const composeCacheBinary = (config: Config) => join(config.toolsDir, `docker-compose-${COMPOSE_VERSION}`, "bin", "docker-compose");

/** The docker CLI's plugin folder: $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins. */
export const pluginDir = () => join(process.env.DOCKER_CONFIG || join(process.env.HOME || "/root", ".docker"), "cli-plugins");

const firstLine = (r: SpawnSyncResult) =>
  (r.exitCode === 0 ? r.stdout : r.stderr).trim().split("\n").filter(Boolean).pop() ?? `exit ${r.exitCode}`;

/** `docker compose version --short` ("2.40.3"), or null when no plugin answers. */
export function pluginVersion(): string | null {
  if (!which("docker")) return null;
  const r = spawnSync(["docker", "compose", "version", "--short"], { timeout: 10_000 });
  return r.exitCode === 0 ? r.stdout.toString().trim().replace(/^v/, "") : null;
}

/** `docker-compose version --short` of a standalone Compose on PATH (v1, or v2's own binary, as a Nix shell has it), or null. */
export function standaloneVersion(): string | null {
  if (!which("docker-compose")) return null;
  const r = spawnSync(["docker-compose", "version", "--short"], { timeout: 10_000 });
  return r.exitCode === 0 ? r.stdout.toString().trim().replace(/^v/, "") : null;
}

/**
 * The Compose program and its version: the docker CLI's plugin (`docker compose`) when it answers,
 * else a standalone `docker-compose` on PATH; null when neither does.
 */
export function composeProgram(): { command: string[]; version: string; kind: "plugin" | "standalone" } | null {
  if (found) return found;
  const plugin = pluginVersion();
  const standalone = plugin ? null : standaloneVersion();
  // Kept once one answers (a command asks for each compose action); a miss is asked again later.
  found = plugin ? { command: ["docker", "compose"], version: plugin, kind: "plugin" } : standalone ? { command: ["docker-compose"], version: standalone, kind: "standalone" } : null;
  return found;
}
let found: ReturnType<typeof composeProgram> = null;

/** The engine's version ("20.10.24+dfsg1"), or why none answers. */
export function engine(): { version: string } | { why: string } {
  if (!which("docker")) return { why: "the docker command is not installed (Debian/Ubuntu: apt-get install docker.io)" };
  // A missing engine makes `docker info` fail at once; the timeout covers a hung socket.
  const info = spawnSync(["docker", "info", "--format", "{{.ServerVersion}}"], { timeout: 10_000 });
  if (info.exitCode !== 0 || !info.stdout.toString().trim()) return { why: `no Docker engine answers (docker info: ${firstLine(info)})` };
  return { version: info.stdout.toString().trim() };
}

/**
 * Makes the pinned Compose the docker CLI's plugin when it is built but not installed (or another
 * version is installed by fleetbench's own link). A plugin someone else installed is left alone.
 * Returns what was done, or null when nothing needed doing.
 */
export function installPlugin(config: Config): string | null {
  const built = composeCacheBinary(config);
  if (!existsSync(built)) return null;
  const link = join(pluginDir(), "docker-compose");
  let current: string | null = null;
  try {
    current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : "(a file)";
  } catch {}
  if (current === built) return null;
  const ours = current === null || current.startsWith(config.toolsDir);
  if (!ours) return null;
  mkdirSync(pluginDir(), { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(built, link);
  return `installed Docker Compose ${COMPOSE_VERSION} as the docker CLI plugin: ${link} -> ${built}`;
}

/**
 * Why compose cannot run here, or null when an engine and the pinned Compose (or, failing that,
 * any Compose v2 plugin, said in `note`) answer.
 */
export function composeReady(config: Config): { why: string } | { engine: string; compose: string; note: string | null } {
  const e = engine();
  if ("why" in e) return e;
  installPlugin(config);
  const program = composeProgram();
  if (!program) {
    return { why: `Docker Compose is missing (neither docker compose nor a docker-compose on PATH answered); build the pinned ${COMPOSE_VERSION} with \`just compose tools\` (Go 1.24 or newer, about 3 minutes once)` };
  }
  const { version } = program;
  const standalone = program.kind === "standalone" ? "the standalone docker-compose on PATH (no docker compose plugin answered)" : null;
  const other = version === COMPOSE_VERSION ? null : `Docker Compose here is ${version}, src/versions.json pins ${COMPOSE_VERSION} (results record the version that ran)`;
  const note = [standalone, other].filter(Boolean).join("; ") || null;
  return { engine: e.version, compose: version, note };
}

/**
 * Builds the pinned Compose from its Go module into the tools cache, then installs it as the
 * plugin. `go install module@version` refuses Compose's module (its go.mod has exclude
 * directives), so the module is downloaded and built in a copy, as its own Makefile builds it.
 */
export async function buildCompose(config: Config, log: (line: string) => void = console.log) {
  const bin = composeCacheBinary(config);
  if (existsSync(bin)) {
    log(`Docker Compose ${COMPOSE_VERSION}: ${bin}`);
    const done = installPlugin(config);
    if (done) log(done);
    return bin;
  }
  if (!which("go")) throw new Error(`cannot build Docker Compose ${COMPOSE_VERSION}: missing Go 1.24 or newer (https://go.dev/dl, or your package manager)`);
  const t0 = Date.now();
  log(`building Docker Compose ${COMPOSE_VERSION} from ${COMPOSE_MODULE} into the tools cache (about 3 minutes on 2 cores, once)`);
  const download = spawnSync(["go", "mod", "download", "-json", `${COMPOSE_MODULE}@v${COMPOSE_VERSION}`], { timeout: 600_000 });
  const dir = download.exitCode === 0 ? (JSON.parse(download.stdout.toString()).Dir as string | undefined) : undefined;
  if (!dir) throw new Error(`go mod download ${COMPOSE_MODULE}@v${COMPOSE_VERSION} failed: ${firstLine(download)}`);
  const src = join(tmpdir(), `fleetbench-compose-${COMPOSE_VERSION}-${process.pid}`);
  rmSync(src, { recursive: true, force: true });
  cpSync(dir, src, { recursive: true });
  spawnSync(["chmod", "-R", "u+w", src]);
  const finalDir = join(config.toolsDir, `docker-compose-${COMPOSE_VERSION}`);
  const staging = `${finalDir}.partial`;
  mkdirSync(join(staging, "bin"), { recursive: true });
  const child = spawn(["go", "build", "-trimpath", "-ldflags", `-s -w -X ${COMPOSE_MODULE}/internal.Version=v${COMPOSE_VERSION}`, "-o", join(staging, "bin", "docker-compose"), "./cmd"], {
    cwd: src, stdout: "inherit", stderr: "inherit",
  });
  const code = await child.exited;
  rmSync(src, { recursive: true, force: true });
  if (code !== 0) throw new Error(`building Docker Compose ${COMPOSE_VERSION} failed (exit ${code}); the output above says why`);
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(staging, finalDir);
  log(`built Docker Compose ${COMPOSE_VERSION} in ${((Date.now() - t0) / 60000).toFixed(1)} min: ${bin}`);
  const done = installPlugin(config);
  if (done) log(done);
  return bin;
}
