/**
 * Case 3's robot subgraph (:10011): owns `Robot` and the two root fields that start from robots.
 * Calls only the robot service: `GET /robots` for the dashboard, `POST /robots/batch` (through the
 * per-request loader) for everything else.
 */
import type { Config } from "./config";
import { callJson } from "./http";
import type { ServiceMetrics } from "./metrics";
import type { Robot } from "./robot-service";
import { checkRobotIdArg } from "./graphql-server";
import { FEDERATION_LINK, type Reference, type SubgraphContext, createSubgraph } from "./subgraph";

export const ROBOT_SUBGRAPH_SDL = /* GraphQL */ `
  ${FEDERATION_LINK}

  type Query {
    fleetDashboard: FleetDashboard!
    robotMonitor(id: ID!): RobotMonitor
  }

  # A value type: the dashboard has no identity of its own, so it is not an entity.
  # (Comments, not descriptions: descriptions would change the composed client schema.)
  type FleetDashboard {
    robots: [Robot!]!
  }

  type Robot @key(fields: "id") {
    id: ID!
    name: String!
    model: String!
    location: String!
    status: String!
  }

  # Keyed by the robot id, so the telemetry and alert subgraphs can add their fields to it.
  type RobotMonitor @key(fields: "id") {
    id: ID!
    robot: Robot!
  }
`;

export function createRobotSubgraph(deps: { config: Config; metrics?: ServiceMetrics }) {
  const { config } = deps;
  const monitorOf = async (id: string, ctx: SubgraphContext) => {
    const robot = await ctx.loaders.robot.load(id);
    return robot && { id, robot };
  };
  return createSubgraph({
    name: "robot-subgraph",
    typeDefs: ROBOT_SUBGRAPH_SDL,
    config,
    metrics: deps.metrics,
    resolvers: {
      Query: {
        fleetDashboard: async () => ({
          robots: (await callJson<Robot[]>("robot-service", `${config.urls.robot}/robots`, config.timeoutMs)) ?? [],
        }),
        // Unknown robot: null, as in Case 2; the other subgraphs are then never asked.
        robotMonitor: (_: unknown, { id }: { id: string }, ctx: SubgraphContext) => monitorOf(checkRobotIdArg(id), ctx),
      },
      Robot: {
        // Every robot reference in one `_entities` call goes into one POST /robots/batch.
        __resolveReference: (ref: Reference, ctx: SubgraphContext) => ctx.loaders.robot.load(ref.id),
      },
      RobotMonitor: {
        __resolveReference: (ref: Reference, ctx: SubgraphContext) => monitorOf(ref.id, ctx),
      },
    },
  });
}
