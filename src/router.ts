/**
 * Apollo Router, Case 3's default gateway: the pinned binary, `router` on PATH when it is the
 * pinned version (the Nix shell), else built by `just tools` into the tools cache; run with
 * compose/router.yaml over the composed supergraph. Never substituted: when the binary is
 * missing, starting Case 3 fails with the command that builds it.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "./config";
import versions from "./versions.json" with { type: "json" };
import { spawnSync, which } from "./runtime";

export const ROUTER_VERSION = versions.apolloRouter;
export const ROOT = resolve(import.meta.dirname, "..");
export const ROUTER_CONFIG = join(ROOT, "compose", "router.yaml");
export const SUPERGRAPH = join(ROOT, "compose", "supergraph.graphql");

/** `router --version` prints the bare version; asked once per binary, as the fingerprint and `up` both ask. */
const pathVersions = new Map<string, string>();
function versionOnPath(bin: string): string {
  if (!pathVersions.has(bin)) {
    const result = spawnSync([bin, "--version"]);
    pathVersions.set(bin, result.exitCode === 0 ? result.stdout.toString().trim() : "");
  }
  return pathVersions.get(bin)!;
}

/** The router binary: `router` on PATH when it is the pinned version, else the tools cache's. */
export function routerBinary(config: Config): string {
  const onPath = which("router");
  if (onPath && versionOnPath(onPath).split(/\s+/).pop()?.replace(/^v/, "") === ROUTER_VERSION) return onPath;
  return join(config.toolsDir, `apollo-router-${ROUTER_VERSION}`, "bin", "router");
}

/** The command that starts the router, or an error saying how to build it. */
export function routerCommand(config: Config): string[] {
  const bin = routerBinary(config);
  if (!existsSync(bin)) {
    throw new Error(`Apollo Router ${ROUTER_VERSION} is not built (${bin} is missing, and no \`router\` ${ROUTER_VERSION} on PATH): run \`just tools\` to build it (about 20-45 min on 2 cores, once), use \`nix develop\`, or set CASE3_GATEWAY=hive-gateway`);
  }
  // Router 2.x has no --no-banner; this flag (env APOLLO_TELEMETRY_DISABLED) stops anonymous usage reports.
  return [bin, "--config", ROUTER_CONFIG, "--supergraph", SUPERGRAPH, "--anonymous-telemetry-disabled"];
}

/**
 * The resolved addresses router.yaml reads with `${env.…}`: the router cannot compute a URL from
 * a port variable, so it gets every value already worked out by src/config.ts.
 */
export function routerEnv(config: Config): Record<string, string> {
  return {
    FLEET_GATEWAY_HOST: config.gatewayHost,
    FLEET_GATEWAY_PORT: String(config.ports.gateway),
    FLEET_ROBOT_SUBGRAPH_URL: config.urls.robotSubgraph,
    FLEET_TELEMETRY_SUBGRAPH_URL: config.urls.telemetrySubgraph,
    FLEET_ALERT_SUBGRAPH_URL: config.urls.alertSubgraph,
    FLEET_GATEWAY_TIMEOUT_MS: String(config.gatewayTimeoutMs),
    FLEET_MAX_BODY_BYTES: String(config.limits.maxBodyBytes),
    FLEET_MAX_TOKENS: String(config.limits.maxTokens),
    FLEET_ROUTER_MAX_RECURSION: String(config.limits.maxDepth),
    FLEET_ROUTER_SCRIPTS: join(ROOT, "compose"),
    APOLLO_TELEMETRY_DISABLED: "true",
  };
}
