/**
 * Case 2's GraphQL gateway (:10000 /graphql): graphql-yoga with DataLoader batching into the
 * data services' batch endpoints, @defer/@stream, and Yoga's Prometheus metrics on /metrics.
 */
import { useDeferStream } from "@graphql-yoga/plugin-defer-stream";
import { usePrometheus } from "@graphql-yoga/plugin-prometheus";
import { createGraphQLError, createSchema, createYoga } from "graphql-yoga";
import { maskUpstreamErrors, useBadRequestStatus } from "./graphql-errors";
import type { Alert } from "./alert-service";
import type { Config } from "./config";
import { callJson, createBaseApp } from "./http";
import { type Loaders, createLoaders } from "./loaders";
import { createMetrics, type ServiceMetrics } from "./metrics";
import type { Robot } from "./robot-service";
import { toAlert, toTelemetry } from "./shapes";

/** The client schema of DESIGN §5; Case 3's composed API schema must print the same. */
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

type Ctx = { loaders: Loaders };
type ClientAlert = ReturnType<typeof toAlert>;
const ROBOT_ID = /^[A-Za-z0-9_-]{1,20}$/;

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
          if (!ROBOT_ID.test(id)) {
            throw createGraphQLError(`robot id must be 1-20 letters, digits, "-" or "_"`, { extensions: { code: "BAD_USER_INPUT" } });
          }
          const robot = await ctx.loaders.robot.load(id);
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
  const yoga = createYoga<object, Ctx>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: false,
    landingPage: false,
    logging: "warn",
    maskedErrors: maskUpstreamErrors,
    context: () => ({ loaders: createLoaders(config) }),
    plugins: [useDeferStream(), useBadRequestStatus(), usePrometheus({ registry: metrics.registry, endpoint: false })],
  });
  const app = createBaseApp("yoga-gateway", metrics)
    .get("/graphql", ({ request }) => yoga.fetch(request))
    .post("/graphql", ({ request }) => yoga.fetch(request), { parse: "none" });
  return { app, yoga };
}

