/**
 * The environment a result was measured in (DESIGN §8): code version, tool versions, machine.
 * Two results are comparable when their fingerprints say so.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cpus, totalmem, release } from "node:os";
import { join, resolve } from "node:path";
import type { Config } from "../config";
import type { PinPlan } from "./pin";
import { routerBinary } from "../router";
import { HIVE_ROUTER_VERSION, hiveRouterBinary, installedVersion } from "../hive-router";
import { nginxVersion } from "../nginx";
import { TOXIPROXY_VERSION, toxiproxyBinary } from "./tools";
import { findBinaries } from "./pg-cluster";
import type { Engine } from "./engine/engine";
import pinned from "../versions.json" with { type: "json" };
import { runtimeVersion, spawnSync, toolSources } from "../runtime";

const ROOT = resolve(import.meta.dirname, "..", "..");

function output(cmd: string[]): string | null {
  try {
    const result = spawnSync(cmd, { cwd: ROOT });
    return result.exitCode === 0 ? result.stdout.toString().trim() : null;
  } catch {
    return null;
  }
}

/** The code a result ran: its commit and whether the work tree differed from it. */
export const codeVersion = () => ({
  git_sha: output(["git", "rev-parse", "HEAD"]),
  git_dirty: (output(["git", "status", "--porcelain", "--untracked-files=no"]) ?? "") !== "",
});

export async function fingerprint(config: Config, postgresVersion: string | null, pin: PinPlan | null = null, engine: Engine | null = null) {
  const router = routerBinary(config);
  const hiveRouter = hiveRouterBinary(config);
  const lock = join(ROOT, "flake.lock");
  return {
    ...codeVersion(),
    versions: {
      bun: runtimeVersion("bun"),
      // The other runtime of the TypeScript roles (FLEET_RUNTIME=deno); which one ran is the result's `runtime`.
      deno: runtimeVersion("deno"),
      // The load engine that ran (a go-install build of vegeta embeds no version string: the
      // cache's and PATH's are checked to be the pinned module version before they run).
      ...(engine ? { [engine.name]: engine.version } : {}),
      apollo_router: existsSync(router) ? (output([router, "--version"])?.split(" ").pop() ?? null) : null,
      // Hive Router prints no version: the tools cache's build is the pinned one, PATH's says its own.
      hive_router: existsSync(hiveRouter) ? (hiveRouter.startsWith(config.toolsDir) ? HIVE_ROUTER_VERSION : installedVersion(hiveRouter)) : null,
      nginx: nginxVersion(),
      postgres: postgresVersion,
      // With --hop-latency only: the Toxiproxy that carried every internal hop.
      // (`go install` of a module version embeds no version string: the cache's build is the pinned one.)
      ...(config.hopLatencyMs !== null ? { toxiproxy: toxiproxyBinary(config).startsWith(config.toolsDir) ? TOXIPROXY_VERSION : (output([toxiproxyBinary(config), "-version"])?.match(/\d+\.\d+\.\d+/)?.[0] ?? null) } : {}),
    },
    /**
     * Where each tool that ran came from: `PATH` (a Nix shell's, when it is the pinned version),
     * `npm` (node_modules), the `tools cache`; the router, PostgreSQL as configured.
     */
    sources: {
      ...Object.fromEntries(Object.entries(toolSources()).map(([name, s]) => [name, s?.source ?? null])),
      ...(engine ? { [engine.name]: engine.source(config) } : {}),
      apollo_router: existsSync(router) ? (router.startsWith(config.toolsDir) ? "tools cache" : "PATH") : null,
      hive_router: existsSync(hiveRouter) ? (hiveRouter.startsWith(config.toolsDir) ? "tools cache" : "PATH") : null,
      postgres: config.db.external ? "external (DATABASE_URL)" : await findBinaries().then((b) => (b.source.startsWith("PATH") ? "PATH" : "npm"), () => null),
    },
    /** The load engine: its name, version and where its binary came from (PATH or the tools cache). */
    engine: engine ? { name: engine.name, version: engine.version, source: engine.source(config) } : null,
    /** What src/versions.json pinned when this ran: a result whose `versions` differ says so itself. */
    pinned,
    flake_lock_sha256: existsSync(lock) ? createHash("sha256").update(readFileSync(lock)).digest("hex") : null,
    cpu_model: cpus()[0]?.model ?? null,
    cores: cpus().length,
    kernel: release(),
    memory_bytes: totalmem(),
    /** --pin: the CPUs of the load generator (`k6` in results from before vegeta) and of the case (null: nothing pinned, every process may use every CPU). */
    pin: pin ? { generator: pin.generator, case: pin.case, available: pin.available } : null,
  };
}
