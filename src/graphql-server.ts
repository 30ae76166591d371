/**
 * How every GraphQL process of fleetbench serves: Case 2's gateway and Case 3's subgraphs run
 * graphql-yoga with the same options, a fresh set of DataLoaders per request, mounted at /graphql
 * in the Elysia base app (metrics, /health) with `yoga.fetch(request)`.
 */
import { type GraphQLSchema } from "graphql";
import { createGraphQLError, createYoga, type Plugin } from "graphql-yoga";
import type { Config } from "./config";
import { maskUpstreamErrors } from "./graphql-errors";
import { ROBOT_ID, createBaseApp } from "./http";
import { createLoaders, type Loaders } from "./loaders";
import type { ServiceMetrics } from "./metrics";

export type GraphQLContext = { loaders: Loaders };

/** A robot id argument that cannot be one is a BAD_USER_INPUT error, the same in every GraphQL process. */
export function checkRobotIdArg(id: string): string {
  if (!ROBOT_ID.test(id)) {
    throw createGraphQLError(`robot id must be 1-20 letters, digits, "-" or "_"`, { extensions: { code: "BAD_USER_INPUT" } });
  }
  return id;
}

/** Serves `fetch` at GET and POST /graphql; the body is left for GraphQL to read. */
export function mountGraphQL(app: ReturnType<typeof createBaseApp>, fetch: (request: Request) => Response | Promise<Response>) {
  return app
    .get("/graphql", ({ request }) => fetch(request))
    .post("/graphql", ({ request }) => fetch(request), { parse: "none" });
}

export function createGraphQLServer(options: {
  name: string;
  config: Config;
  metrics: ServiceMetrics;
  schema: GraphQLSchema;
  plugins?: Plugin[];
}) {
  const yoga = createYoga<object, GraphQLContext>({
    schema: options.schema,
    graphqlEndpoint: "/graphql",
    graphiql: false,
    landingPage: false,
    logging: "warn",
    maskedErrors: maskUpstreamErrors,
    // A fresh set per request: batching within one request, never caching across them (docs/design.md §7).
    context: () => ({ loaders: createLoaders(options.config) }),
    plugins: options.plugins ?? [],
  });
  return { yoga, app: mountGraphQL(createBaseApp(options.name, options.metrics), (request) => yoga.fetch(request)) };
}
