/**
 * Starts one role as a long-running process: builds its app with the role's factory, listens,
 * and shuts down cleanly on SIGTERM/SIGINT (closing the listener and the database pool).
 */
import type { Config } from "./config";
import { createSql, type Sql } from "./db";
import { createMetrics, instrument, type ServiceMetrics } from "./metrics";
import { serve } from "./runtime";

type Listening = { port: number; hostname?: string; fetch: (request: Request) => Response | Promise<Response>; close?: () => Promise<void> };
type App = { handle: (r: Request) => Promise<Response> };
interface RoleContext {
  config: Config;
  args: string[];
  metrics: ServiceMetrics;
  sql: () => Sql;
}

/**
 * Each role imports only its own modules, so a data service does not carry the gateways'
 * libraries in memory (peak RSS is one of the numbers the benchmark reports).
 */
const ROLE_TABLE: Record<string, (ctx: RoleContext) => Promise<{ port: number; app: App; gateway?: boolean; close?: () => Promise<void> }>> = {
  "robot-service": async ({ config, args, metrics, sql }) => {
    const app = (await import("./robot-service")).createRobotService({ config, sql: sql(), metrics });
    // Case 1: --orchestration (the N+1 fan-out); case1b: --orchestration=batch (the batch endpoints).
    if (args.includes("--orchestration")) app.use((await import("./orchestration")).createOrchestration({ config, sql: sql() }));
    if (args.includes("--orchestration=batch")) app.use((await import("./orchestration")).createBatchOrchestration({ config, sql: sql() }));
    return { port: config.ports.robot, app };
  },
  "telemetry-service": async ({ config, metrics, sql }) =>
    ({ port: config.ports.telemetry, app: (await import("./telemetry-service")).createTelemetryService({ config, sql: sql(), metrics }) }),
  "alert-service": async ({ config, metrics, sql }) =>
    ({ port: config.ports.alert, app: (await import("./alert-service")).createAlertService({ config, sql: sql(), metrics }) }),
  "rest-gateway": async ({ config, metrics }) =>
    ({ port: config.ports.gateway, gateway: true, app: (await import("./rest-gateway")).createRestGateway({ config, metrics }) }),
  "yoga-gateway": async ({ config, metrics }) =>
    ({ port: config.ports.gateway, gateway: true, app: (await import("./yoga-gateway")).createYogaGateway({ config, metrics }).app }),
  "robot-subgraph": async ({ config, metrics }) =>
    ({ port: config.ports.robotSubgraph, app: (await import("./robot-subgraph")).createRobotSubgraph({ config, metrics }).app }),
  "telemetry-subgraph": async ({ config, metrics }) =>
    ({ port: config.ports.telemetrySubgraph, app: (await import("./telemetry-subgraph")).createTelemetrySubgraph({ config, metrics }).app }),
  "alert-subgraph": async ({ config, metrics }) =>
    ({ port: config.ports.alertSubgraph, app: (await import("./alert-subgraph")).createAlertSubgraph({ config, metrics }).app }),
  "hive-gateway": async ({ config, metrics }) => {
    const hive = (await import("./hive-gateway")).createHiveGateway({ config, metrics });
    // Build the supergraph now: a bad one ends the process (and `up` says so), not the first request.
    await hive.ready().catch((error) => {
      console.error(`hive-gateway cannot load the supergraph: ${(error as Error)?.stack ?? error}`);
      process.exit(1);
    });
    return { port: config.ports.gateway, gateway: true, app: hive.app, close: hive.close };
  },
  "apollo-gateway": async ({ config, metrics }) => {
    const apollo = (await import("./apollo-gateway")).createApolloGateway({ config, metrics });
    // Load the supergraph now: a bad one ends the process (and `up` says so), not the first request.
    await apollo.ready().catch((error) => {
      console.error(`apollo-gateway cannot load the supergraph: ${(error as Error)?.stack ?? error}`);
      process.exit(1);
    });
    return { port: config.ports.gateway, gateway: true, app: apollo.app, close: apollo.close };
  },
};

export const ROLES = Object.keys(ROLE_TABLE);

/**
 * Burns `ms` of this process's CPU time (user + system, not wall time): a loop until
 * process.cpuUsage() has grown by that much. On a machine that takes the CPU away for a moment
 * it runs longer in wall time, never shorter in CPU time. Returns the CPU microseconds it saw.
 */
export function burnCpu(ms: number): number {
  const start = process.cpuUsage();
  const target = ms * 1000;
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= target) return used.user + used.system;
  }
}

/** Requests the metrics count (scrape.ts leaves /metrics and /health out): the ones --inject-cpu burns for. */
const counted = (request: Request) => {
  const path = new URL(request.url).pathname;
  return path !== "/metrics" && path !== "/health";
};

async function build(role: string, args: string[], config: Config, sql: () => Sql): Promise<Listening | null> {
  const make = ROLE_TABLE[role];
  if (!make) return null;
  const metrics = createMetrics(role);
  const built = await make({ config, args, metrics, sql });
  // --inject-cpu (calibration): a known CPU cost per request, before the role's own work. Every
  // role kind passes here (Elysia services, Yoga gateways and subgraphs, Hive Gateway, Apollo Gateway).
  const inject = config.injectCpuMs;
  if (inject) console.log(`${role}: burning ${inject} ms of CPU per request (FLEET_INJECT_CPU_MS, --inject-cpu)`);
  const handle = inject ? (request: Request) => { if (counted(request)) burnCpu(inject); return built.app.handle(request); } : (request: Request) => built.app.handle(request);
  return {
    port: built.port,
    hostname: built.gateway ? config.gatewayHost : undefined,
    fetch: instrument(metrics, handle),
    close: built.close,
  };
}

/** Runs `role` until told to stop. Returns false when `role` is not a role name. */
export async function serveRole(role: string, args: string[], config: Config): Promise<boolean> {
  let pool: Sql | undefined;
  const target = await build(role, args, config, () => (pool ??= createSql(config, role)));
  if (!target) return false;
  const server = await serve({
    port: target.port,
    hostname: target.hostname ?? config.host,
    fetch: target.fetch,
    maxRequestBodySize: config.limits.maxBodyBytes,
  });
  console.log(`${role} listening on http://${server.hostname}:${server.port}`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${role} stopping (${signal})`);
    await server.stop();
    await target.close?.();
    await pool?.end({ timeout: 2 });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  return true;
}
