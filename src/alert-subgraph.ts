/**
 * Case 3's alert subgraph (:10013): owns `Alert`, the `criticalAlerts` root field, and adds alert
 * lists to robots and monitors. Calls only the alert service: `GET /alerts/critical` once, and
 * `POST /alerts/batch` (through the per-request loader) for every robot of one `_entities` call.
 */
import { createGraphQLError } from "graphql-yoga";
import type { Alert } from "./alert-service";
import type { Config } from "./config";
import { callJson } from "./http";
import type { ServiceMetrics } from "./metrics";
import { toAlert } from "./shapes";
import { FEDERATION_LINK, type Reference, type SubgraphContext, createSubgraph } from "./subgraph";

export const ALERT_SUBGRAPH_SDL = /* GraphQL */ `
  ${FEDERATION_LINK}

  type Query {
    criticalAlerts: [Alert!]!
  }

  type Alert @key(fields: "id") {
    id: Int!
    robotId: ID!
    severity: String!
    message: String!
    createdAt: String!
    robot: Robot
  }

  type Robot @key(fields: "id") {
    id: ID!
    activeAlerts: [Alert!]!
  }

  type RobotMonitor @key(fields: "id") {
    id: ID!
    recentAlerts: [Alert!]!
  }
`;

export function createAlertSubgraph(deps: { config: Config; metrics?: ServiceMetrics }) {
  const { config } = deps;
  const alertsOf = async (robotId: string, ctx: SubgraphContext) => ((await ctx.loaders.alerts.load(robotId)) ?? []).map(toAlert);
  return createSubgraph({
    name: "alert-subgraph",
    typeDefs: ALERT_SUBGRAPH_SDL,
    config,
    metrics: deps.metrics,
    resolvers: {
      Query: {
        criticalAlerts: async () =>
          ((await callJson<Alert[]>("alert-service", `${config.urls.alert}/alerts/critical`, config.timeoutMs)) ?? []).map(toAlert),
      },
      Alert: {
        // No query plan of the client schema enters Alert from another subgraph; the alert
        // service has no lookup by alert id, so say so instead of answering with half an alert.
        __resolveReference: () => {
          throw createGraphQLError("alert-subgraph cannot resolve an Alert from its id alone", { extensions: { code: "UNSUPPORTED_REFERENCE" } });
        },
        // A stub: the gateway fetches the robot's own fields from the robot subgraph.
        robot: (alert: ReturnType<typeof toAlert>) => ({ id: alert.robotId }),
      },
      Robot: {
        activeAlerts: (robot: Reference, _: unknown, ctx: SubgraphContext) => alertsOf(robot.id, ctx),
      },
      RobotMonitor: {
        recentAlerts: (monitor: Reference, _: unknown, ctx: SubgraphContext) => alertsOf(monitor.id, ctx),
      },
    },
  });
}
