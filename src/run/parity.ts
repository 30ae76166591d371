/**
 * What every process of a run was set to do per request (DESIGN §12), recorded in each result as
 * `extra.parity` and shown by the report: runtime and version, and the settings that change the
 * work of a request (deduplication, introspection, limits, scripts, plugins, executor, pool,
 * timeouts, body limit), the environment allow-list in force and the effective configuration.
 * Two runs whose parity differs are not put side by side without the report saying so.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { CaseSpec, ProcessSpec } from "./cases";
import type { Config } from "../config";
import { ALLOWED, withheldSwitches } from "./environment";
import { hopParity } from "./hops";
import { ROUTER_CONFIG, ROUTER_VERSION, routerEnv } from "../router";
import { HIVE_ROUTER_CONFIG, HIVE_ROUTER_VERSION, hiveRouterEnv } from "../hive-router";
import { NGINX_VERSION, nginxVersion } from "../nginx";
import { parseYaml } from "./yaml";
import { runtimeVersion } from "../runtime";
import pins from "../versions.json" with { type: "json" };

const ROOT = resolve(import.meta.dirname, "..", "..");

const packageVersion = (name: string) => {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version as string;
  } catch {
    return null;
  }
};

/** postgres.js as installed: with fleetbench's queue fix (patches/postgres-queue.js), or not. */
export function postgresDriver(): string {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return null;
    }
  };
  const installed = read(join(ROOT, "node_modules", "postgres", "src", "queue.js"));
  const patched = installed !== null && installed === read(join(ROOT, "patches", "postgres-queue.js"));
  return `postgres.js ${packageVersion("postgres")} (${patched ? "queue patched" : "queue NOT patched: run npm install"})`;
}

/** The per-request instrumentation of every Bun process: these two metrics and nothing else. */
export const INSTRUMENTATION = ["http_requests_total", "http_request_duration_seconds"];

/** router.yaml with its `${env.NAME:-default}` values resolved as the router resolves them. */
export function routerSettings(config: Config): Record<string, unknown> {
  const env = routerEnv(config);
  const text = readFileSync(ROUTER_CONFIG, "utf8").replace(/\$\{env\.(\w+)(?::-([^}]*))?\}/g, (_, name: string, fallback = "") => env[name] ?? fallback);
  const yaml = parseYaml(text) as Record<string, any>;
  return {
    executor: `Apollo Router ${ROUTER_VERSION} (Rust, query planner)`,
    introspection: yaml.supergraph?.introspection ?? false,
    deduplication: yaml.traffic_shaping?.all?.deduplicate_query ?? false,
    scripts: yaml.rhai ? `rhai: ${yaml.rhai.main}` : "none",
    limits: {
      parser_max_recursion: Number(yaml.limits?.router?.parser_max_recursion ?? null),
      parser_max_tokens: Number(yaml.limits?.router?.parser_max_tokens ?? null),
      aliases: "not enforced (a licensed feature); tokens bound them",
    },
    upstream_timeout: yaml.traffic_shaping?.all?.timeout ?? null,
    body_limit_bytes: Number(yaml.limits?.router?.http_max_request_bytes ?? null),
    instrumentation: "the router's own Prometheus metrics",
  };
}

/** A `{ from_env: NAME, default: … }` value of hive-router.yaml, resolved as the router resolves it. */
function fromEnv(value: unknown, env: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => fromEnv(v, env));
  if (!value || typeof value !== "object") return value;
  const v = value as Record<string, unknown>;
  if (typeof v.from_env === "string") return env[v.from_env] ?? v.default ?? null;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromEnv(x, env)]));
}

/** compose/hive-router.yaml with every variable resolved: the settings in parity, and what the router lacks. */
export function hiveRouterSettings(config: Config): Record<string, unknown> {
  const yaml = fromEnv(parseYaml(readFileSync(HIVE_ROUTER_CONFIG, "utf8")), hiveRouterEnv(config)) as Record<string, any>;
  const limits = yaml.limits ?? {};
  return {
    version: HIVE_ROUTER_VERSION,
    executor: `Hive Router ${HIVE_ROUTER_VERSION} (Rust, query planner)`,
    build: "its crate with the `graphiql` feature (the browser IDE page, off here, is a static GraphiQL page instead of the Laboratory)",
    introspection: yaml.introspection ?? true,
    deduplication: { subgraph_requests: yaml.traffic_shaping?.all?.dedupe_enabled ?? true, client_requests: yaml.traffic_shaping?.router?.dedupe?.enabled ?? true },
    scripts: "none (Hive Router runs no script: an implausible robot id reaches the robot subgraph, which answers BAD_USER_INPUT with HTTP 200)",
    limits: {
      depth: Number(limits.max_depth?.n ?? null),
      aliases: Number(limits.max_aliases?.n ?? null),
      tokens: Number(limits.max_tokens?.n ?? null),
    },
    upstream_timeout: yaml.traffic_shaping?.all?.request_timeout ?? null,
    body_limit: limits.max_request_body_size ?? null,
    error_masking: yaml.error_masking?.enabled ?? true,
    request_errors: "400 to clients accepting application/graphql-response+json; 200 with errors to application/json ones (GraphQL over HTTP, no switch)",
    defer_stream: "not supported (@defer is an unknown directive there)",
    http_workers: "its default, one per physical core",
    instrumentation: "the router's own Prometheus metrics",
    effective_configuration: yaml,
  };
}

function graphqlLimits(config: Config) {
  return { depth: config.limits.maxDepth, aliases: config.limits.maxAliases, tokens: config.limits.maxTokens };
}

/** The settings of one process of a case, by its name. */
function processSettings(process: ProcessSpec, config: Config): Record<string, unknown> {
  const name = process.name;
  const orchestration = process.args?.find((a) => a.startsWith("--orchestration"));
  // The runtime of this process (its row's); settings below are the same on both runtimes.
  const runtime = process.runtime ?? "bun";
  const bun = { runtime, version: runtimeVersion(runtime), instrumentation: INSTRUMENTATION, body_limit_bytes: config.limits.maxBodyBytes };
  const yoga = `graphql-yoga ${packageVersion("graphql-yoga")} (graphql-js ${packageVersion("graphql")})`;
  const upstream = { upstream_timeout_ms: config.timeoutMs, keep_alive: true };
  switch (name) {
    case "robot-service":
    case "telemetry-service":
    case "alert-service":
      return {
        ...bun,
        pool: config.db.pool,
        prepared_statements: true,
        driver: postgresDriver(),
        batch_max: config.batchMax,
        ...(orchestration === "--orchestration"
          ? { orchestration: "N+1 fan-out", fan_out: config.fanout === null ? "unbounded (every robot at once)" : `at most ${config.fanout} robots at once`, ...upstream }
          : orchestration === "--orchestration=batch"
            ? { orchestration: "batch endpoints (one call per service)", ...upstream }
            : {}),
      };
    case "rest-gateway":
      return { ...bun, upstream_timeout_ms: config.gatewayTimeoutMs, keep_alive: true, proxy: "streaming, no parsing" };
    case "yoga-gateway":
      return {
        ...bun, ...upstream, executor: yoga, batching: `dataloader ${packageVersion("dataloader")}, per request`,
        introspection: true, deduplication: "none (each resolver's DataLoader batches within a request)",
        limits: graphqlLimits(config), plugins: ["max-tokens", "max-depth", "max-aliases", "robot-id guard", "defer-stream", "bad-request status"],
      };
    case "robot-subgraph":
    case "telemetry-subgraph":
    case "alert-subgraph":
      return { ...bun, ...upstream, executor: yoga, batching: `dataloader ${packageVersion("dataloader")}, per request`, introspection: true, plugins: [] };
    case "hive-gateway":
      return {
        ...bun, upstream_timeout_ms: config.gatewayTimeoutMs, executor: `@graphql-hive/gateway ${packageVersion("@graphql-hive/gateway")}`,
        introspection: true, deduplication: false, limits: graphqlLimits(config),
        plugins: ["max-tokens", "max-depth", "max-aliases", "robot-id guard", "bad-request status"], defer_stream: true,
      };
    case "apollo-gateway":
      return {
        ...bun, upstream_timeout_ms: config.gatewayTimeoutMs, keep_alive: true,
        executor: `@apollo/gateway ${packageVersion("@apollo/gateway")} (JavaScript query planner) served by @apollo/server ${packageVersion("@apollo/server")} (graphql-js ${packageVersion("graphql")})`,
        introspection: true, deduplication: "none (the JavaScript gateway has no in-flight deduplication)", limits: graphqlLimits(config),
        plugins: ["max-tokens (graphql-js parser)", "max-depth", "max-aliases", "robot-id guard"], batched_operations: false,
        defer_stream: "not supported by Apollo Gateway (@defer is an unknown directive there: a 400)",
        subgraph_client: "the runtime's fetch, keep-alive (not the gateway's default make-fetch-happen over node:http)",
        telemetry_to_apollo: "off (APOLLO_TELEMETRY_DISABLED)",
      };
    case "apollo-router":
      return { runtime: "native", version: ROUTER_VERSION, ...routerSettings(config) };
    case "hive-router":
      return { runtime: "native", ...hiveRouterSettings(config) };
    case "nginx":
      return {
        runtime: "native", version: nginxVersion(), pinned: NGINX_VERSION, workers: config.nginxWorkers,
        upstream_timeout_ms: config.gatewayTimeoutMs, keep_alive: "64 idle connections to the robot service (HTTP/1.1)",
        proxy: "streaming (proxy_buffering off), no parsing", body_limit_bytes: config.limits.maxBodyBytes,
        access_log: "off", instrumentation: "none (NGINX exports no Prometheus metrics; its calls are counted by the robot service)",
      };
    default:
      return { runtime: "unknown" };
  }
}

/** The configuration in force, without secrets (the database password, a DATABASE_URL). */
export function effectiveConfig(config: Config) {
  // injectCpuMs is a role's own (the supervisor sets it per process): parity says it as inject_cpu.
  const { db, passEnv, injectCpuMs: _, ...rest } = config;
  return { ...rest, db: { external: db.external, pool: db.pool, port: db.port, name: db.name, user: db.user }, pass_env: passEnv };
}

export function parityOf(config: Config, spec: CaseSpec, options: { startedCase: boolean; postgresVersion: string | null; injectCpu?: Record<string, number> }) {
  const injectCpu = options.injectCpu ?? {};
  const processes: Record<string, Record<string, unknown>> = Object.fromEntries(spec.processes(config).map((p) => [p.name, {
    ...processSettings(p, config),
    ...(injectCpu[p.name] ? { inject_cpu_ms: injectCpu[p.name] } : {}),
  }]));
  if (config.hopLatencyMs !== null) processes.toxiproxy = hopParity(config);
  if (!config.db.external) {
    processes.postgres = { runtime: "native", version: options.postgresVersion, settings: { fsync: "off", max_connections: 200, listen: "127.0.0.1" } };
  }
  return {
    processes,
    environment: {
      allowed: [...ALLOWED, "LC_*", "FLEET_*", "CASE3_GATEWAY", "REST_GATEWAY", "DATABASE_URL"],
      passed_on_purpose: config.passEnv,
      withheld: withheldSwitches(config),
    },
    config: effectiveConfig(config),
    started_case: options.startedCase,
    /** CPU ms burnt per request, by process (--inject-cpu, calibration); {} when none, the default. */
    inject_cpu: injectCpu,
    /** The load engine that drove the run: runs of two engines are never put side by side unsaid. */
    load_engine: { name: config.engine, version: config.engine === "vegeta" ? pins.vegeta : pins.k6 },
  };
}

function runtimeOfParity(p: { processes?: Record<string, unknown> }) {
  const service = p.processes?.["telemetry-service"] as { runtime?: string; version?: string } | undefined;
  const runtime = service?.runtime ?? "bun";
  return runtime === "bun" ? { bun: service?.version ?? null } : { bun: null, [runtime]: service?.version ?? null };
}

/**
 * What two runs of different cases must share to be put side by side: runtime versions, the
 * variables passed on purpose, and the configuration that sets the work per request (pool,
 * timeouts, limits, body limit, batch size, fleet). The gateways differ between cases by design.
 */
export function paritySignature(parity: unknown, { runtime = true }: { runtime?: boolean } = {}): string {
  if (!parity || typeof parity !== "object") return "none recorded";
  const p = parity as ReturnType<typeof parityOf>;
  const c = p.config ?? ({} as ReturnType<typeof effectiveConfig>);
  return JSON.stringify({
    // The data services' runtime: Bun's version under `bun` as results have always had it; Deno's under `deno`.
    ...(runtime ? runtimeOfParity(p) : {}),
    driver: (p.processes?.["telemetry-service"] as { driver?: string } | undefined)?.driver ?? null,
    postgres: (p.processes?.postgres as { version?: string } | undefined)?.version ?? null,
    passed: p.environment?.passed_on_purpose ?? [],
    pool: c.db?.pool, timeout_ms: c.timeoutMs, limits: c.limits, batch_max: c.batchMax, fan_out: c.fanout ?? null, hop_latency_ms: c.hopLatencyMs ?? null,
    // Only when some CPU was injected, so the signatures of every other run stay as they were.
    ...(p.inject_cpu && Object.keys(p.inject_cpu).length ? { inject_cpu: p.inject_cpu } : {}),
    // Results from before the engine was recorded were all driven by k6.
    engine: p.load_engine ? `${p.load_engine.name} ${p.load_engine.version}` : "k6 (not recorded)",
  });
}
