/**
 * Case 3's alternative federation gateway (CASE3_GATEWAY=hive-gateway): The Guild's Hive Gateway
 * runtime over the same compose/supergraph.graphql as Apollo Router, served on :10000 /graphql
 * inside the Elysia base app, so /health and /metrics (`http_requests_total{service="hive-gateway"}`)
 * are the same as every other process's.
 */
import { createGatewayRuntime } from "@graphql-hive/gateway";
import { existsSync, readFileSync } from "node:fs";
import type { Config } from "./config";
import { maskSubgraphErrors, useBadRequestStatus } from "./graphql-errors";
import { limitPlugins } from "./hardening";
import { mountGraphQL } from "./graphql-server";
import { createBaseApp } from "./http";
import { createMetrics, type ServiceMetrics } from "./metrics";
import { SUPERGRAPH } from "./router";

export function createHiveGateway(deps: { config: Config; metrics?: ServiceMetrics; supergraphPath?: string }) {
  const { config } = deps;
  const path = deps.supergraphPath ?? SUPERGRAPH;
  if (!existsSync(path)) {
    throw new Error(`supergraph not found at ${path}: run \`just supergraph\` to compose it`);
  }
  const metrics = deps.metrics ?? createMetrics("hive-gateway");
  const gateway = createGatewayRuntime({
    // Read once at start: the file is static, so nothing polls or watches it.
    supergraph: readFileSync(path, "utf8"),
    transportEntries: {
      "*.http": {
        options: {
          // Hive Gateway merges identical in-flight subgraph queries by default (executor-http's
          // `deduplicateInflightRequests`, default true). Under load that would hide calls the
          // benchmark counts, so it is off, like Apollo Router's `deduplicate_query` (docs/design.md §7).
          deduplicateInflightRequests: false,
          // A gateway -> subgraph call waits a little longer than the subgraph's own calls
          // (gatewayTimeoutMs, src/config.ts): a hang behind a subgraph is named by the subgraph.
          timeout: config.gatewayTimeoutMs,
        },
      },
      // The supergraph holds the default URLs; the configuration (FLEET_*_SUBGRAPH_URL) wins.
      "robot-subgraph": { location: `${config.urls.robotSubgraph}/graphql` },
      "telemetry-subgraph": { location: `${config.urls.telemetrySubgraph}/graphql` },
      "alert-subgraph": { location: `${config.urls.alertSubgraph}/graphql` },
    },
    graphqlEndpoint: "/graphql",
    graphiql: false,
    landingPage: false,
    logging: "warn",
    // A subgraph that fails is named in the error, as Apollo Router does; internals stay masked.
    maskedErrors: maskSubgraphErrors,
    // Same client capabilities as Case 2's gateway and Apollo Router (which supports @defer by default).
    deferStream: true,
    // A bad query is a 400 here too, as from Case 2's gateway and Apollo Router.
    plugins: () => [...limitPlugins(config), useBadRequestStatus()],
  });
  const app = mountGraphQL(createBaseApp("hive-gateway", metrics), (request) => gateway.fetch(request));
  return {
    app,
    gateway,
    /** Builds the executable schema now, not on the first client request; rejects if it cannot. */
    ready: async () => {
      await gateway.getSchema();
    },
    /**
     * Hive Gateway registers its own SIGTERM/SIGINT listeners, which dispose it but never exit;
     * the role's shutdown disposes it explicitly and then exits.
     */
    close: async () => {
      await gateway[Symbol.asyncDispose]();
    },
  };
}
