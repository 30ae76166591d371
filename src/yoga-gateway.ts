/**
 * Case 2's GraphQL gateway (:10000 /graphql): graphql-yoga with DataLoader batching into the
 * data services' batch endpoints and @defer/@stream. Its /metrics are the same as every Bun
 * process's (docs/design.md §12: no GraphQL-level instrumentation in one gateway only).
 */
import { useDeferStream } from "@graphql-yoga/plugin-defer-stream";
import { createSchema } from "graphql-yoga";
import { useBadRequestStatus } from "./graphql-errors";
import { limitPlugins } from "./hardening";
import { checkRobotIdArg, createGraphQLServer, type GraphQLContext } from "./graphql-server";
import type { Alert } from "./alert-service";
import type { Config } from "./config";
import { callJson } from "./http";
import { createMetrics, type ServiceMetrics } from "./metrics";
import type { Robot } from "./robot-service";
import { toAlert, toTelemetry } from "./shapes";

/** The client schema of docs/design.md §5; Case 3's composed API schema must print the same. */
export const CLIENT_SCHEMA = /* GraphQL */ `
  type Query {
    fleetDashboard: FleetDashboard!
    robotMonitor(id: ID!): RobotMonitor
    criticalAlerts: [Alert!]!
  }
  type FleetDashboard { robots: [Robot!]! }
  type Robot {
    id: ID!
    name: String!
    model: String!
    location: String!
    status: String!
    latestTelemetry: Telemetry
    activeAlerts: [Alert!]!
  }
  type Telemetry {
    robotId: ID!
    batteryLevel: Float!
    cpuUsage: Float!
    temperature: Float!
    timestamp: String!
  }
  type Alert {
    id: Int!
    robotId: ID!
    severity: String!
    message: String!
    createdAt: String!
    robot: Robot
    telemetrySnapshot: Telemetry
  }
  type RobotMonitor {
    id: ID!
    robot: Robot!
    telemetry: Telemetry
    recentAlerts: [Alert!]!
  }
`;

type Ctx = GraphQLContext;
type ClientAlert = ReturnType<typeof toAlert>;

export function createYogaGateway(deps: { config: Config; metrics?: ServiceMetrics }) {
  const { config } = deps;
  const metrics = deps.metrics ?? createMetrics("yoga-gateway");
  const alertsOf = async (robotId: string, ctx: Ctx) => ((await ctx.loaders.alerts.load(robotId)) ?? []).map(toAlert);
  const schema = createSchema<Ctx>({
    typeDefs: CLIENT_SCHEMA,
    resolvers: {
      Query: {
        fleetDashboard: async () => ({
          robots: (await callJson<Robot[]>("robot-service", `${config.urls.robot}/robots`, config.timeoutMs)) ?? [],
        }),
        robotMonitor: async (_: unknown, { id }: { id: string }, ctx: Ctx) => {
          const robot = await ctx.loaders.robot.load(checkRobotIdArg(id));
          return robot && { id, robot };
        },
        criticalAlerts: async () =>
          ((await callJson<Alert[]>("alert-service", `${config.urls.alert}/alerts/critical`, config.timeoutMs)) ?? []).map(toAlert),
      },
      Robot: {
        latestTelemetry: async (robot: Robot, _: unknown, ctx: Ctx) => toTelemetry(await ctx.loaders.telemetry.load(robot.id)),
        activeAlerts: (robot: Robot, _: unknown, ctx: Ctx) => alertsOf(robot.id, ctx),
      },
      RobotMonitor: {
        telemetry: async ({ id }: { id: string }, _: unknown, ctx: Ctx) => toTelemetry(await ctx.loaders.telemetry.load(id)),
        recentAlerts: ({ id }: { id: string }, _: unknown, ctx: Ctx) => alertsOf(id, ctx),
      },
      Alert: {
        robot: (alert: ClientAlert, _: unknown, ctx: Ctx) => ctx.loaders.robot.load(alert.robotId),
        telemetrySnapshot: async (alert: ClientAlert, _: unknown, ctx: Ctx) =>
          toTelemetry(await ctx.loaders.telemetry.load(alert.robotId)),
      },
    },
  });
  return createGraphQLServer({
    name: "yoga-gateway",
    config,
    metrics,
    schema,
    plugins: [...limitPlugins(config), useDeferStream(), useBadRequestStatus()],
  });
}
