/**
 * Case 3 through Apollo Gateway (CASE3_GATEWAY=apollo-gateway): `@apollo/gateway`, Apollo's
 * JavaScript federation gateway, served as teams serve it, by Apollo Server, over the same
 * compose/supergraph.graphql as every Case 3 gateway, on Bun or Deno like every TypeScript role.
 * Apollo Server answers inside the Elysia base app at /graphql, so /health and /metrics
 * (`http_requests_total{service="apollo-gateway"}`) are the same as every other process's.
 */
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer, type ApolloServerPlugin, HeaderMap } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { GraphQLError, type GraphQLFormattedError, type ValidationContext } from "graphql";
import { existsSync, readFileSync } from "node:fs";
import type { Config } from "./config";
import { mountGraphQL } from "./graphql-server";
import { implausibleIdMessage, implausibleRobotIds } from "./hardening";
import { createBaseApp } from "./http";
import { createMetrics, type ServiceMetrics } from "./metrics";
import { SUPERGRAPH } from "./router";

/** The subgraphs by their supergraph names, at the addresses the configuration gives. */
const subgraphUrls = (config: Config): Record<string, string> => ({
  "robot-subgraph": `${config.urls.robotSubgraph}/graphql`,
  "telemetry-subgraph": `${config.urls.telemetrySubgraph}/graphql`,
  "alert-subgraph": `${config.urls.alertSubgraph}/graphql`,
});

/**
 * One subgraph's fetch: the runtime's own fetch (keep-alive, as every fleetbench client) with the
 * gateway's timeout, a failure named after the subgraph like Apollo Router's and Hive Gateway's.
 * The gateway's default fetcher (make-fetch-happen over node:http) would go through Bun's and
 * Deno's Node compatibility layer instead of the HTTP client every other role uses.
 */
function subgraphFetcher(name: string, timeoutMs: number) {
  return (async (url: string, init: RequestInit) => {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const timedOut = (error as Error)?.name === "TimeoutError";
      throw new GraphQLError(timedOut ? `did not answer within ${timeoutMs} ms` : `is unreachable: ${(error as Error)?.message ?? error}`, {
        extensions: { code: timedOut ? "SUBGRAPH_TIMEOUT" : "SUBGRAPH_UNAVAILABLE", serviceName: name },
      });
    }
  }) as unknown as RemoteGraphQLDataSource["fetcher"];
}

/** An implausible robot id is a 400 before planning, as in every other gateway (src/hardening.ts). */
const robotIdGuard: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ document, request }) {
        const bad = implausibleRobotIds(document, request.variables);
        if (bad.length) throw new GraphQLError(implausibleIdMessage(bad[0]), { extensions: { code: "BAD_USER_INPUT", http: { status: 400 } } });
      },
    };
  },
};

/**
 * A subgraph's error keeps its message prefixed with the subgraph (as Hive Gateway's masking
 * does); request errors keep theirs; anything else is masked, so internals never reach a client.
 */
function formatError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const extensions = formatted.extensions ?? {};
  const serviceName = extensions.serviceName;
  if (typeof serviceName === "string") {
    return { ...formatted, message: `${serviceName}: ${formatted.message}`, extensions: { code: extensions.code ?? "SUBGRAPH_ERROR", serviceName } };
  }
  if (extensions.code && extensions.code !== "INTERNAL_SERVER_ERROR") return formatted;
  return { message: "Unexpected error.", locations: formatted.locations, path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
}

/**
 * graphql-armor's rules throw out of validation unless told otherwise (an Apollo Server 500): each
 * rejection is reported as a validation error instead, which Apollo Server answers with a 400.
 */
const asValidationError = {
  exposeLimits: true,
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

export function createApolloGateway(deps: { config: Config; metrics?: ServiceMetrics; supergraphPath?: string }) {
  const { config } = deps;
  const path = deps.supergraphPath ?? SUPERGRAPH;
  if (!existsSync(path)) throw new Error(`supergraph not found at ${path}: run \`just supergraph\` to compose it`);
  // The gateway reports usage metrics to Apollo, and probes cloud metadata addresses for them,
  // unless this is set when it is built: never from a benchmark (Apollo Router's is off too).
  process.env.APOLLO_TELEMETRY_DISABLED = "true";
  const urls = subgraphUrls(config);
  const gateway = new ApolloGateway({
    // Read once at start: the file is static, so nothing polls or watches it.
    supergraphSdl: readFileSync(path, "utf8"),
    // The supergraph holds the default URLs; the configuration (FLEET_*_SUBGRAPH_URL) wins. The
    // JavaScript gateway has no in-flight deduplication to turn off: every fetch is its own call.
    buildService: ({ name, url }) => new RemoteGraphQLDataSource({ url: urls[name] ?? url, fetcher: subgraphFetcher(name, config.gatewayTimeoutMs) }),
  });
  const { maxDepth, maxAliases, maxTokens } = config.limits;
  const server = new ApolloServer({
    gateway,
    // The same limits as every other gateway: tokens by graphql-js's own parser (a syntax error,
    // so a 400), depth and aliases by graphql-armor's validation rules.
    parseOptions: { maxTokens },
    validationRules: [maxDepthRule({ n: maxDepth, flattenFragments: true, ...asValidationError }), maxAliasesRule({ n: maxAliases, ...asValidationError })],
    // On, as in every gateway (docs/design.md §12); Apollo Server turns it off when NODE_ENV=production.
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // Batched operations stay off, as in Apollo Router (a batch of 100 is a 400).
    allowBatchedHttpRequests: false,
    formatError,
    plugins: [ApolloServerPluginLandingPageDisabled(), robotIdGuard],
  });

  /** Apollo Server over a web-standard Request: what its framework integrations do. */
  async function handle(request: Request): Promise<Response> {
    const headers = new HeaderMap();
    request.headers.forEach((value, key) => headers.set(key, value));
    let body: unknown;
    if (request.method === "POST") {
      const text = await request.text();
      if ((headers.get("content-type") ?? "").includes("json")) {
        try {
          body = JSON.parse(text);
        } catch {
          return Response.json({ errors: [{ message: "request body is not valid JSON", extensions: { code: "BAD_REQUEST" } }] }, { status: 400 });
        }
      } else body = text;
    }
    const result = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: request.method, headers, search: new URL(request.url).search, body },
      context: async () => ({}),
    });
    const responseHeaders = new Headers([...result.headers]);
    if (result.body.kind === "complete") return new Response(result.body.string, { status: result.status ?? 200, headers: responseHeaders });
    const chunks = result.body.asyncIterator;
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
    });
    return new Response(stream, { status: result.status ?? 200, headers: responseHeaders });
  }

  const app = mountGraphQL(createBaseApp("apollo-gateway", deps.metrics ?? createMetrics("apollo-gateway")), handle);
  return {
    app,
    server,
    /** Loads the supergraph and plans nothing yet: rejects if the supergraph cannot be loaded. */
    ready: () => server.start(),
    close: () => server.stop(),
  };
}
