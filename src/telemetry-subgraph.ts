/**
 * Case 3's telemetry subgraph (:10012): owns `Telemetry` and adds the latest reading to robots,
 * monitors and alerts. It has no root field; the gateway reaches it only through `_entities`, and
 * every representation of one such call is answered by one `POST /telemetry/batch`.
 */
import type { Config } from "./config";
import type { ServiceMetrics } from "./metrics";
import { toTelemetry } from "./shapes";
import { FEDERATION_LINK, type Reference, type SubgraphContext, createSubgraph } from "./subgraph";

export const TELEMETRY_SUBGRAPH_SDL = /* GraphQL */ `
  ${FEDERATION_LINK}

  type Telemetry {
    robotId: ID!
    batteryLevel: Float!
    cpuUsage: Float!
    temperature: Float!
    timestamp: String!
  }

  type Robot @key(fields: "id") {
    id: ID!
    latestTelemetry: Telemetry
  }

  type RobotMonitor @key(fields: "id") {
    id: ID!
    telemetry: Telemetry
  }

  # An alert only knows its robot in the alert subgraph: @requires makes the gateway send
  # robotId along with each representation, so no alert lookup happens here.
  type Alert @key(fields: "id") {
    id: Int!
    robotId: ID! @external
    telemetrySnapshot: Telemetry @requires(fields: "robotId")
  }
`;

export function createTelemetrySubgraph(deps: { config: Config; metrics?: ServiceMetrics }) {
  const latest = async (robotId: string, ctx: SubgraphContext) => toTelemetry(await ctx.loaders.telemetry.load(robotId));
  // The default __resolveReference hands the representation itself to the field resolvers.
  return createSubgraph({
    name: "telemetry-subgraph",
    typeDefs: TELEMETRY_SUBGRAPH_SDL,
    config: deps.config,
    metrics: deps.metrics,
    resolvers: {
      Robot: {
        latestTelemetry: (robot: Reference, _: unknown, ctx: SubgraphContext) => latest(robot.id, ctx),
      },
      RobotMonitor: {
        telemetry: (monitor: Reference, _: unknown, ctx: SubgraphContext) => latest(monitor.id, ctx),
      },
      Alert: {
        telemetrySnapshot: (alert: Reference<{ id: number; robotId: string }>, _: unknown, ctx: SubgraphContext) =>
          latest(alert.robotId, ctx),
      },
    },
  });
}
