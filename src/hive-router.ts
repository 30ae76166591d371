/**
 * Hive Router, The Guild's Rust federation gateway (CASE3_GATEWAY=hive-router): the pinned
 * `hive_router` binary, PATH's when it is the pinned version (a Nix store path or cargo's install
 * record says which), else built by `just tools hive-router` from its crate into the tools cache;
 * run with compose/hive-router.yaml over the same composed supergraph as every Case 3 gateway.
 * Never substituted: when the binary is missing, starting it fails with the command that builds it.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Config } from "./config";
import { ROOT } from "./router";
import versions from "./versions.json" with { type: "json" };
import { which } from "./runtime";

export const HIVE_ROUTER_VERSION = versions.hiveRouter;
export const HIVE_ROUTER_CONFIG = join(ROOT, "compose", "hive-router.yaml");

/**
 * The version an installed `hive_router` says it is without running it (the binary takes no
 * arguments: it starts serving): a Nix store path names it (`…-hive-router-0.3.10/bin`), and
 * `cargo install` records it beside the bin folder (.crates2.json). null when neither says.
 */
export function installedVersion(bin: string): string | null {
  let real = bin;
  try {
    real = realpathSync(bin);
  } catch {}
  const store = /hive-router-(\d+\.\d+\.\d+)\//.exec(real);
  if (store) return store[1];
  try {
    const record = JSON.parse(readFileSync(join(dirname(dirname(real)), ".crates2.json"), "utf8")) as { installs?: Record<string, unknown> };
    for (const key of Object.keys(record.installs ?? {})) {
      const m = /^hive-router (\S+) /.exec(key);
      if (m) return m[1];
    }
  } catch {}
  return null;
}

/** The router binary: PATH's `hive_router` when it is the pinned version, else the tools cache's. */
export function hiveRouterBinary(config: Config): string {
  const onPath = which("hive_router");
  if (onPath && installedVersion(onPath) === HIVE_ROUTER_VERSION) return onPath;
  return join(config.toolsDir, `hive-router-${HIVE_ROUTER_VERSION}`, "bin", "hive_router");
}

/** The command that starts Hive Router, or an error saying how to build it. */
export function hiveRouterCommand(config: Config): string[] {
  const bin = hiveRouterBinary(config);
  if (!existsSync(bin)) {
    throw new Error(`Hive Router ${HIVE_ROUTER_VERSION} is not built (${bin} is missing, and no \`hive_router\` ${HIVE_ROUTER_VERSION} on PATH): run \`just tools hive-router\` to build it (about 30-40 min on 2 cores, once), or choose another CASE3_GATEWAY`);
  }
  // The router reads no arguments: its configuration file comes from ROUTER_CONFIG_FILE_PATH (hiveRouterEnv).
  return [bin];
}

/**
 * What compose/hive-router.yaml reads with `from_env` (resolved by the router itself when it loads
 * the file), every value already worked out by src/config.ts, as for Apollo Router.
 */
export function hiveRouterEnv(config: Config): Record<string, string> {
  return {
    ROUTER_CONFIG_FILE_PATH: HIVE_ROUTER_CONFIG,
    FLEET_GATEWAY_HOST: config.gatewayHost,
    FLEET_GATEWAY_PORT: String(config.ports.gateway),
    // `from_env` takes a variable whole: the URLs with their path, the timeout and size with their unit.
    FLEET_ROBOT_SUBGRAPH_GRAPHQL_URL: `${config.urls.robotSubgraph}/graphql`,
    FLEET_TELEMETRY_SUBGRAPH_GRAPHQL_URL: `${config.urls.telemetrySubgraph}/graphql`,
    FLEET_ALERT_SUBGRAPH_GRAPHQL_URL: `${config.urls.alertSubgraph}/graphql`,
    FLEET_GATEWAY_TIMEOUT: `${config.gatewayTimeoutMs}ms`,
    FLEET_MAX_BODY_SIZE: `${config.limits.maxBodyBytes}B`,
    FLEET_MAX_DEPTH: String(config.limits.maxDepth),
    FLEET_MAX_ALIASES: String(config.limits.maxAliases),
    FLEET_MAX_TOKENS: String(config.limits.maxTokens),
  };
}
