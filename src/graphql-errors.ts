/**
 * GraphQL error handling shared by the Yoga gateway and the subgraphs: HTTP 400 for request
 * errors whatever the client accepts, and masking that keeps upstream failures attributable.
 */
import { GraphQLError } from "graphql";
import { createGraphQLError, type Plugin, type YogaServerOptions } from "graphql-yoga";
import { HttpError } from "./http";

/**
 * A request that never reached execution (syntax error, unknown field, missing variable) has
 * errors and no `data`. Yoga answers those with 200 to `Accept: application/json` clients;
 * every fleetbench gateway answers 400, so a bad query is never counted as a success.
 */
export function useBadRequestStatus(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || Symbol.asyncIterator in result) return;
      const single = result as { data?: unknown; errors?: readonly GraphQLError[] };
      if (single.data !== undefined || !single.errors?.length) return;
      setResult({
        ...single,
        // Yoga marks spec-defined errors `http.spec`, which it answers with 200 to JSON clients.
        errors: single.errors.map((e) =>
          createGraphQLError(e.message, {
            nodes: e.nodes,
            source: e.source,
            positions: e.positions,
            path: e.path,
            extensions: { ...e.extensions, http: { status: (e.extensions?.http as { status?: number })?.status ?? 400 } },
          }),
        ),
      } as never);
    },
  };
}

/**
 * Upstream failures keep their message (it names the service) and GraphQL errors raised on
 * purpose pass through; anything else is masked, so internals never reach the client.
 */
export const maskUpstreamErrors: YogaServerOptions<object, object>["maskedErrors"] = {
  maskError(error, message) {
    const located = error as GraphQLError;
    const original = located?.originalError;
    if (original instanceof HttpError) {
      return createGraphQLError(original.message, { nodes: located.nodes, path: located.path, extensions: { code: original.code } });
    }
    if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) return error;
    return createGraphQLError(message, { nodes: located?.nodes, path: located?.path });
  },
};

/**
 * For a federation gateway: a failed subgraph fetch keeps its message, prefixed with the subgraph
 * it concerns, and only the code and subgraph name as extensions (never the internal request);
 * everything else is masked as above.
 */
export const maskSubgraphErrors: YogaServerOptions<object, object>["maskedErrors"] = {
  maskError(error, message, isDev) {
    const located = error as GraphQLError;
    const serviceName = located?.extensions?.serviceName;
    if (error instanceof GraphQLError && typeof serviceName === "string") {
      return createGraphQLError(`${serviceName}: ${located.message}`, {
        nodes: located.nodes,
        path: located.path,
        extensions: { code: located.extensions.code ?? "SUBGRAPH_ERROR", serviceName },
      });
    }
    const mask = maskUpstreamErrors as { maskError: (e: unknown, m: string, d?: boolean) => Error };
    return mask.maskError(error, message, isDev);
  },
};
