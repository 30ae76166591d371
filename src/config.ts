/**
 * The one place that reads the environment. Every default lives in `DEFAULTS`; each can be
 * overridden by the environment variable named beside it. Values are validated eagerly, so a
 * bad override stops start-up with a message naming the variable and what it received.
 */
import { resolve } from "node:path";
import { RUNTIMES, type RuntimeName } from "./runtime";

/** The load engines fleetbench drives (docs/design.md §22): vegeta is the default everywhere. */
export const ENGINES = ["vegeta", "k6"] as const;
export type EngineName = (typeof ENGINES)[number];

/**
 * Case 3's federation gateways (CASE3_GATEWAY, docs/design.md §25): Apollo Router (the default),
 * Hive Gateway, Hive Router and Apollo Gateway.
 */
export const CASE3_GATEWAYS = ["apollo-router", "hive-gateway", "hive-router", "apollo-gateway"] as const;
export type Case3Gateway = (typeof CASE3_GATEWAYS)[number];
/** The REST cases' gateways (REST_GATEWAY): the Bun proxy (the default) or NGINX. */
export const REST_GATEWAYS = ["rest-gateway", "nginx"] as const;
export type RestGateway = (typeof REST_GATEWAYS)[number];
/** A gateway a case can be run with: what --gateways lists. */
export type GatewayChoice = Case3Gateway | RestGateway;

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
}

type Env = Record<string, string | undefined>;

/** Defaults from docs/design.md §2; the env variable that overrides each is in `ENV_NAMES`. */
export const DEFAULTS = {
  /**
   * Every internal process binds here; only the gateway can be exposed (FLEET_GATEWAY_HOST).
   * FLEET_BIND_HOST moves it, for containers only (compose sets 0.0.0.0: a container's loopback
   * is unreachable from its neighbours).
   */
  host: "127.0.0.1",
  gatewayPort: 10000,
  robotPort: 10001,
  telemetryPort: 10002,
  alertPort: 10003,
  robotSubgraphPort: 10011,
  telemetrySubgraphPort: 10012,
  alertSubgraphPort: 10013,
  pgPort: 15432,
  prometheusPort: 19090,
  grafanaPort: 13000,
  /** Toxiproxy's API, with --hop-latency (its proxies listen on each internal port + 1000). */
  toxiproxyPort: 18474,
  /** The load engine's Prometheus exporter while a measured run lasts (vegeta's -prometheus-addr). */
  loadgenPort: 18880,
  dbName: "robot_fleet",
  dbUser: "fleet",
  dbPassword: "fleet123",
  /** Connections per service pool; the same in every service (fairness, docs/design.md §7). */
  dbPool: 10,
  fleetSize: 15,
  /** Most ids one batch request may carry; more is a 413. */
  batchMax: 10000,
  /** Timeout of every internal HTTP call, in milliseconds. */
  timeoutMs: 10000,
  /** GraphQL limits of every gateway (docs/design.md §5's queries: depth 5, no aliases, ~40 tokens). */
  maxDepth: 12,
  maxAliases: 20,
  maxTokens: 2000,
  /** Largest request body any process accepts; a batch of 10,000 ids is about 150 kB. */
  maxBodyBytes: 1048576,
  /** Milliseconds `up` waits for every process to answer /health. */
  readyTimeoutMs: 60000,
} as const;

const ENV_NAMES = {
  bindHost: "FLEET_BIND_HOST",
  gatewayHost: "FLEET_GATEWAY_HOST",
  gatewayPort: "FLEET_GATEWAY_PORT",
  robotPort: "FLEET_ROBOT_PORT",
  telemetryPort: "FLEET_TELEMETRY_PORT",
  alertPort: "FLEET_ALERT_PORT",
  robotSubgraphPort: "FLEET_ROBOT_SUBGRAPH_PORT",
  telemetrySubgraphPort: "FLEET_TELEMETRY_SUBGRAPH_PORT",
  alertSubgraphPort: "FLEET_ALERT_SUBGRAPH_PORT",
  pgPort: "FLEET_PG_PORT",
  prometheusPort: "FLEET_PROMETHEUS_PORT",
  grafanaPort: "FLEET_GRAFANA_PORT",
  toxiproxyPort: "FLEET_TOXIPROXY_PORT",
  loadgenPort: "FLEET_LOADGEN_PORT",
  dbPool: "FLEET_DB_POOL",
  fleetSize: "FLEET_SIZE",
  batchMax: "FLEET_BATCH_MAX",
  timeoutMs: "FLEET_TIMEOUT_MS",
  readyTimeoutMs: "FLEET_READY_TIMEOUT_MS",
  maxDepth: "FLEET_MAX_DEPTH",
  maxAliases: "FLEET_MAX_ALIASES",
  maxTokens: "FLEET_MAX_TOKENS",
  maxBodyBytes: "FLEET_MAX_BODY_BYTES",
  fanout: "FLEET_FANOUT",
  nginxWorkers: "FLEET_NGINX_WORKERS",
} as const;

function int(env: Env, name: string, fallback: number, min: number, max: number, what: string): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be ${what} (${min}-${max}), got "${raw}"`);
  }
  return value;
}

function url(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
}

export type Config = ReturnType<typeof loadConfig>;

/** The variable of each address in `config.urls`. */
const URL_VARIABLES = {
  gateway: "FLEET_GATEWAY_URL",
  robot: "FLEET_ROBOT_URL",
  telemetry: "FLEET_TELEMETRY_URL",
  alert: "FLEET_ALERT_URL",
  robotSubgraph: "FLEET_ROBOT_SUBGRAPH_URL",
  telemetrySubgraph: "FLEET_TELEMETRY_SUBGRAPH_URL",
  alertSubgraph: "FLEET_ALERT_SUBGRAPH_URL",
} as const;

/**
 * `config` as a process started with `env` sees it: the addresses `env` sets (the hops' proxies,
 * --hop-latency) in place of the configured ones. For the binaries whose configuration the
 * supervisor writes for them (NGINX's file, Hive Router's variables).
 */
export function withUrlsOf(config: Config, env: Env): Config {
  const urls = Object.fromEntries(Object.entries(URL_VARIABLES).map(([key, name]) => [key, url(env, name, config.urls[key as keyof typeof URL_VARIABLES])]));
  return { ...config, urls: urls as Config["urls"] };
}

/** "1ms" → 1; unset → null. Toxiproxy's latency toxic takes whole milliseconds. */
export function hopLatency(raw: string | undefined): number | null {
  if (raw === undefined || raw === "") return null;
  const m = /^(\d+)ms$/.exec(raw.trim());
  if (!m || Number(m[1]) > 60000) throw new ConfigError(`--hop-latency (FLEET_HOP_LATENCY) takes whole milliseconds with the unit, 0ms to 60000ms (e.g. 1ms), got "${raw}"`);
  return Number(m[1]);
}

/**
 * FLEET_INJECT_CPU_MS: CPU milliseconds one role burns per request it receives (--inject-cpu,
 * for calibration; the supervisor sets it for the named process only). Unset: null, nothing burnt.
 */
export function injectCpuMs(raw: string | undefined): number | null {
  if (raw === undefined || raw === "") return null;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(value > 0) || value > 1000) throw new ConfigError(`FLEET_INJECT_CPU_MS must be CPU milliseconds per request, above 0 and at most 1000 (e.g. 1 or 0.5), got "${raw}"`);
  return value;
}

/** Reads and validates the whole configuration. Throws `ConfigError` on the first bad value. */
export function loadConfig(env: Env = process.env) {
  const port = (key: keyof typeof ENV_NAMES & `${string}Port`) =>
    int(env, ENV_NAMES[key], DEFAULTS[key], 1, 65535, "a port number");
  const host = (name: "bindHost" | "gatewayHost") => {
    const value = env[ENV_NAMES[name]] || DEFAULTS.host;
    if (!/^[A-Za-z0-9.:-]+$/.test(value)) throw new ConfigError(`${ENV_NAMES[name]} must be a host name or address, got "${value}"`);
    return value;
  };
  const gatewayHost = host("gatewayHost");
  const ports = {
    gateway: port("gatewayPort"),
    robot: port("robotPort"),
    telemetry: port("telemetryPort"),
    alert: port("alertPort"),
    robotSubgraph: port("robotSubgraphPort"),
    telemetrySubgraph: port("telemetrySubgraphPort"),
    alertSubgraph: port("alertSubgraphPort"),
    pg: port("pgPort"),
    prometheus: port("prometheusPort"),
    grafana: port("grafanaPort"),
    toxiproxy: port("toxiproxyPort"),
    loadgen: port("loadgenPort"),
  };
  const local = (p: number) => `http://127.0.0.1:${p}`;
  const urls = {
    gateway: url(env, URL_VARIABLES.gateway, local(ports.gateway)),
    robot: url(env, URL_VARIABLES.robot, local(ports.robot)),
    telemetry: url(env, URL_VARIABLES.telemetry, local(ports.telemetry)),
    alert: url(env, URL_VARIABLES.alert, local(ports.alert)),
    robotSubgraph: url(env, URL_VARIABLES.robotSubgraph, local(ports.robotSubgraph)),
    telemetrySubgraph: url(env, URL_VARIABLES.telemetrySubgraph, local(ports.telemetrySubgraph)),
    alertSubgraph: url(env, URL_VARIABLES.alertSubgraph, local(ports.alertSubgraph)),
  };
  const externalDb = env.DATABASE_URL || undefined;
  if (externalDb && !/^postgres(ql)?:\/\//.test(externalDb)) {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql://, got a value that does not`);
  }
  const db = {
    /** Set when the user brings their own server: fleetbench then starts no PostgreSQL. */
    external: externalDb !== undefined,
    url:
      externalDb ??
      `postgres://${DEFAULTS.dbUser}:${DEFAULTS.dbPassword}@127.0.0.1:${ports.pg}/${DEFAULTS.dbName}`,
    name: DEFAULTS.dbName,
    user: DEFAULTS.dbUser,
    password: DEFAULTS.dbPassword,
    port: ports.pg,
    pool: int(env, ENV_NAMES.dbPool, DEFAULTS.dbPool, 1, 1000, "a pool size"),
  };
  const stateDir = resolve(env.FLEET_STATE_DIR || resolve(import.meta.dirname, "..", ".fleetbench"));
  const passEnv = (env.FLEET_PASS_ENV ?? "").split(",").map((n) => n.trim()).filter(Boolean);
  for (const name of passEnv) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError(`FLEET_PASS_ENV must list variable names separated by commas, got "${name}"`);
  }
  const timeoutMs = int(env, ENV_NAMES.timeoutMs, DEFAULTS.timeoutMs, 1, 600000, "milliseconds");
  const gateway = env.CASE3_GATEWAY || "apollo-router";
  if (!(CASE3_GATEWAYS as readonly string[]).includes(gateway)) throw new ConfigError(`CASE3_GATEWAY must be one of ${CASE3_GATEWAYS.join(", ")}, got "${gateway}"`);
  const restGateway = env.REST_GATEWAY || "rest-gateway";
  if (!(REST_GATEWAYS as readonly string[]).includes(restGateway)) throw new ConfigError(`REST_GATEWAY must be one of ${REST_GATEWAYS.join(", ")}, got "${restGateway}"`);
  const runtime = env.FLEET_RUNTIME || "bun";
  if (!(RUNTIMES as readonly string[]).includes(runtime)) throw new ConfigError(`FLEET_RUNTIME must be ${RUNTIMES.join(" or ")}, got "${runtime}"`);
  const nginxWorkers = env[ENV_NAMES.nginxWorkers]?.trim() === "auto" ? "auto" : String(int(env, ENV_NAMES.nginxWorkers, 1, 1, 256, 'a number of NGINX worker processes, or "auto"'));
  const engine = env.FLEET_ENGINE || "vegeta";
  if (!(ENGINES as readonly string[]).includes(engine)) throw new ConfigError(`FLEET_ENGINE must be ${ENGINES.join(" or ")}, got "${engine}"`);
  return {
    host: host("bindHost"),
    /** What runs every TypeScript role (docs/design.md §16): FLEET_RUNTIME, bun (default) or deno. */
    runtime: runtime as RuntimeName,
    /**
     * The load engine (docs/design.md §22): FLEET_ENGINE or --engine, vegeta (default; built here
     * from its Go module) or k6 (only a k6 the user brings on PATH; fleetbench never builds it).
     * @default "vegeta"
     */
    engine: engine as EngineName,
    /** The gateway's bind address: loopback unless exposed explicitly. */
    gatewayHost,
    ports,
    urls,
    db,
    fleetSize: int(env, ENV_NAMES.fleetSize, DEFAULTS.fleetSize, 1, 100000, "a fleet size"),
    batchMax: int(env, ENV_NAMES.batchMax, DEFAULTS.batchMax, 1, 1000000, "a batch size"),
    /**
     * Case 1's fan-out: how many robots (or alerts) one client request works on at once, each
     * with its calls. null (FLEET_FANOUT unset or "unbounded", the default): all at once. The
     * calls per request are the same either way; only how many are in flight at a time differs.
     */
    fanout: env[ENV_NAMES.fanout]?.trim() === "unbounded" ? null : int(env, ENV_NAMES.fanout, 0, 1, 100000, 'a number of robots at once, or "unbounded"') || null,
    timeoutMs,
    /**
     * A gateway's timeout for the hop behind it: FLEET_TIMEOUT_MS + 1 s (at most twice it). That
     * hop (Case 1's orchestration, Case 3's subgraphs) calls on with FLEET_TIMEOUT_MS, so when the
     * service at the end hangs, the hop next to it gives up first and the error names the service
     * that hung, not the hop in between.
     */
    gatewayTimeoutMs: timeoutMs + Math.min(1000, timeoutMs),
    readyTimeoutMs: int(env, ENV_NAMES.readyTimeoutMs, DEFAULTS.readyTimeoutMs, 1, 3600000, "milliseconds"),
    limits: {
      maxDepth: int(env, ENV_NAMES.maxDepth, DEFAULTS.maxDepth, 1, 1000, "a query depth"),
      maxAliases: int(env, ENV_NAMES.maxAliases, DEFAULTS.maxAliases, 0, 100000, "an alias count"),
      maxTokens: int(env, ENV_NAMES.maxTokens, DEFAULTS.maxTokens, 10, 10000000, "a token count"),
      maxBodyBytes: int(env, ENV_NAMES.maxBodyBytes, DEFAULTS.maxBodyBytes, 1024, 1073741824, "a size in bytes"),
    },
    /** Local database folder, run folders and the supervisor's state file live here. */
    stateDir,
    resultsDir: resolve(env.FLEET_RESULTS_DIR || resolve(import.meta.dirname, "..", "results")),
    toolsDir: resolve(env.FLEET_TOOLS_DIR || resolve(env.HOME || "/tmp", ".cache", "fleetbench", "tools")),
    /** Case 3's gateway: CASE3_GATEWAY. @default "apollo-router" */
    case3Gateway: gateway as Case3Gateway,
    /** The REST cases' gateway (case1, case1b): REST_GATEWAY. @default "rest-gateway" (the Bun proxy) */
    restGateway: restGateway as RestGateway,
    /**
     * NGINX's worker processes (FLEET_NGINX_WORKERS): a count, or "auto" (one per core). One by
     * default, the single event loop of the Bun proxy it is compared with (src/nginx.ts says why).
     * @default "1"
     */
    nginxWorkers,
    /**
     * Added delay on every internal hop (docs/design.md §14), in whole milliseconds: --hop-latency D, or
     * FLEET_HOP_LATENCY. null (unset): the hops are plain loopback; 0: through Toxiproxy with no
     * delay added, so 0, 1 and 5 ms differ by the delay alone.
     */
    hopLatencyMs: hopLatency(env.FLEET_HOP_LATENCY),
    /**
     * Variables of the user's shell passed on to measured processes on purpose (FLEET_PASS_ENV,
     * e.g. RUST_BACKTRACE for an A/B run); recorded in every result's parity. Default: none.
     */
    passEnv,
    /** CPU ms this process burns per request it receives (FLEET_INJECT_CPU_MS; calibration only, never by default). */
    injectCpuMs: injectCpuMs(env.FLEET_INJECT_CPU_MS),
  };
}
