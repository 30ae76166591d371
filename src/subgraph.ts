/**
 * What Case 3's three subgraphs share: a Federation 2 schema (`@apollo/subgraph`) served by
 * graphql-yoga inside the Elysia base app, so every subgraph has the same /health, /metrics and
 * JSON errors as every other fleetbench process. Each subgraph reaches only its own data service,
 * through a DataLoader made per request: one `_entities` call with N representations is one
 * batch request to that service (DESIGN §6).
 */
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";
import { createGraphQLError, createYoga } from "graphql-yoga";
import type { Config } from "./config";
import { maskUpstreamErrors } from "./graphql-errors";
import { createBaseApp } from "./http";
import { type Loaders, createLoaders } from "./loaders";
import { createMetrics, type ServiceMetrics } from "./metrics";

/** The `@link` every subgraph opens with; v2.3 is understood by Apollo Router and Hive Gateway alike. */
export const FEDERATION_LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires"])`;

export type SubgraphContext = { loaders: Loaders };
type SchemaModule = Extract<Parameters<typeof buildSubgraphSchema>[0], readonly unknown[]>[number];
export type SubgraphResolvers = Extract<SchemaModule, { typeDefs: unknown }>["resolvers"];

/** A representation as the gateway sends it to `_entities`; key fields (and @requires fields) only. */
export type Reference<T = { id: string }> = T & { __typename: string };

const ROBOT_ID = /^[A-Za-z0-9_-]{1,20}$/;

/** The same check and message as Case 2's gateway, so bad input answers alike in both cases. */
export function checkRobotIdArg(id: string): string {
  if (!ROBOT_ID.test(id)) {
    throw createGraphQLError(`robot id must be 1-20 letters, digits, "-" or "_"`, { extensions: { code: "BAD_USER_INPUT" } });
  }
  return id;
}

export interface SubgraphOptions {
  /** Process name: `robot-subgraph`, `telemetry-subgraph` or `alert-subgraph` (DESIGN §8). */
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
  const yoga = createYoga<object, SubgraphContext>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: false,
    landingPage: false,
    logging: "warn",
    maskedErrors: maskUpstreamErrors,
    // A fresh set per request: batching within one gateway fetch, never caching across them.
    context: () => ({ loaders: createLoaders(config) }),
  });
  const app = createBaseApp(name, metrics)
    .get("/graphql", ({ request }) => yoga.fetch(request))
    .post("/graphql", ({ request }) => yoga.fetch(request), { parse: "none" });
  return { app, yoga, schema };
}
