/**
 * What Case 3's three subgraphs share: a Federation 2 schema (`@apollo/subgraph`) served by
 * graphql-yoga inside the Elysia base app, so every subgraph has the same /health, /metrics and
 * JSON errors as every other fleetbench process. Each subgraph reaches only its own data service,
 * through a DataLoader made per request: one `_entities` call with N representations is one
 * batch request to that service (docs/design.md §6).
 */
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";
import type { Config } from "./config";
import { createGraphQLServer, type GraphQLContext } from "./graphql-server";
import { createMetrics, type ServiceMetrics } from "./metrics";

/** The `@link` every subgraph opens with; v2.3 is understood by Apollo Router and Hive Gateway alike. */
export const FEDERATION_LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires"])`;

export type SubgraphContext = GraphQLContext;
type SchemaModule = Extract<Parameters<typeof buildSubgraphSchema>[0], readonly unknown[]>[number];
export type SubgraphResolvers = Extract<SchemaModule, { typeDefs: unknown }>["resolvers"];

/** A representation as the gateway sends it to `_entities`; key fields (and @requires fields) only. */
export type Reference<T = { id: string }> = T & { __typename: string };

export interface SubgraphOptions {
  /** Process name: `robot-subgraph`, `telemetry-subgraph` or `alert-subgraph` (docs/design.md §8). */
  name: string;
  /** Subgraph SDL, opening with `FEDERATION_LINK`. */
  typeDefs: string;
  resolvers: SubgraphResolvers;
  config: Config;
  metrics?: ServiceMetrics;
}

export function createSubgraph(options: SubgraphOptions) {
  const { name, config } = options;
  const metrics = options.metrics ?? createMetrics(name);
  const schema = buildSubgraphSchema([{ typeDefs: parse(options.typeDefs), resolvers: options.resolvers }]);
  const { app, yoga } = createGraphQLServer({ name, config, metrics, schema });
  return { app, yoga, schema };
}
