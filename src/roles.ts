/**
 * Starts one role as a long-running process: builds its app with the role's factory, listens,
 * and shuts down cleanly on SIGTERM/SIGINT (closing the listener and the database pool).
 */
import type { Config } from "./config";
import { createSql, type Sql } from "./db";
import { createAlertService } from "./alert-service";
import { createAlertSubgraph } from "./alert-subgraph";
import { createHiveGateway } from "./hive-gateway";
import { createOrchestration } from "./orchestration";
import { createRestGateway } from "./rest-gateway";
import { createRobotService } from "./robot-service";
import { createRobotSubgraph } from "./robot-subgraph";
import { createTelemetryService } from "./telemetry-service";
import { createTelemetrySubgraph } from "./telemetry-subgraph";
import { createYogaGateway } from "./yoga-gateway";
import { createMetrics, instrument } from "./metrics";

type Listening = { port: number; hostname?: string; fetch: (request: Request) => Response | Promise<Response>; close?: () => Promise<void> };

function build(role: string, args: string[], config: Config, sql: () => Sql): Listening | null {
  const metrics = createMetrics(role);
  const handle = (app: { handle: (r: Request) => Promise<Response> }) => instrument(metrics, (request) => app.handle(request));
  switch (role) {
    case "robot-service": {
      const app = createRobotService({ config, sql: sql(), metrics });
      if (args.includes("--orchestration")) app.use(createOrchestration({ config, sql: sql() }));
      return { port: config.ports.robot, fetch: handle(app) };
    }
    case "telemetry-service":
      return { port: config.ports.telemetry, fetch: handle(createTelemetryService({ config, sql: sql(), metrics })) };
    case "alert-service":
      return { port: config.ports.alert, fetch: handle(createAlertService({ config, sql: sql(), metrics })) };
    case "rest-gateway":
      return { port: config.ports.gateway, hostname: config.gatewayHost, fetch: handle(createRestGateway({ config, metrics })) };
    case "yoga-gateway":
      return { port: config.ports.gateway, hostname: config.gatewayHost, fetch: handle(createYogaGateway({ config, metrics }).app) };
    case "robot-subgraph":
      return { port: config.ports.robotSubgraph, fetch: handle(createRobotSubgraph({ config, metrics }).app) };
    case "telemetry-subgraph":
      return { port: config.ports.telemetrySubgraph, fetch: handle(createTelemetrySubgraph({ config, metrics }).app) };
    case "alert-subgraph":
      return { port: config.ports.alertSubgraph, fetch: handle(createAlertSubgraph({ config, metrics }).app) };
    case "hive-gateway": {
      const hive = createHiveGateway({ config, metrics });
      // Build the supergraph now: a bad one ends the process (and `up` says so), not the first request.
      hive.ready().catch((error) => {
        console.error(`hive-gateway cannot load the supergraph: ${(error as Error)?.stack ?? error}`);
        process.exit(1);
      });
      return { port: config.ports.gateway, hostname: config.gatewayHost, fetch: handle(hive.app), close: hive.close };
    }
    default:
      return null;
  }
}

export const ROLES = [
  "robot-service", "telemetry-service", "alert-service", "rest-gateway", "yoga-gateway",
  "robot-subgraph", "telemetry-subgraph", "alert-subgraph", "hive-gateway",
];

/** Runs `role` until told to stop. Returns false when `role` is not a role name. */
export async function serveRole(role: string, args: string[], config: Config): Promise<boolean> {
  let pool: Sql | undefined;
  const target = build(role, args, config, () => (pool ??= createSql(config, role)));
  if (!target) return false;
  const server = Bun.serve({
    port: target.port,
    hostname: target.hostname ?? config.host,
    fetch: target.fetch,
    // Large fleets make large answers and long fan-outs; the client's timeout governs, not Bun's.
    idleTimeout: 0,
    maxRequestBodySize: 16 * 1024 * 1024,
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
