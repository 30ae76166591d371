/**
 * Limits every GraphQL gateway enforces, so an abusive query is a fast 400 instead of work:
 * depth, aliases and tokens (graphql-armor rules for the Yoga-based gateways; Apollo Router gets
 * the same numbers through router.yaml). Request bodies are capped by every process's server.
 * The defaults leave docs/design.md §5's queries far inside the limits.
 */
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import { type DocumentNode, Kind, visit } from "graphql";
import { createGraphQLError, type Plugin } from "graphql-yoga";
import type { Config } from "./config";
import { ROBOT_ID } from "./http";

/**
 * The `robotMonitor(id:)` ids in a document that cannot be robot ids (SQL metacharacters,
 * unicode, 40 kB strings), literal or given as variables: every GraphQL gateway of ours rejects
 * them with a 400 before anything executes (Apollo Gateway's server through src/apollo-gateway.ts).
 */
export function implausibleRobotIds(document: DocumentNode, variables: Record<string, unknown> | undefined | null): string[] {
  const bad: string[] = [];
  visit(document, {
    Field(node) {
      if (node.name.value !== "robotMonitor") return;
      for (const arg of node.arguments ?? []) {
        if (arg.name.value !== "id") continue;
        const value =
          arg.value.kind === Kind.STRING ? arg.value.value
          : arg.value.kind === Kind.VARIABLE ? variables?.[arg.value.name.value]
          : undefined;
        if (typeof value === "string" && !ROBOT_ID.test(value)) bad.push(value);
      }
    },
  });
  return bad;
}

/** The client-facing message of an implausible robot id. */
export const implausibleIdMessage = (id: string) => `robot id must be 1-20 letters, digits, "-" or "_", got ${JSON.stringify(id.slice(0, 40))}`;

/**
 * Rejects, before anything executes, a `robotMonitor(id:)` whose id cannot be a robot id:
 * a 400 from the gateway itself, instead of a 200 carrying a field error from deep inside.
 */
export function useRobotIdGuard(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const bad = implausibleRobotIds(args.document, args.variableValues as Record<string, unknown> | undefined);
      if (bad.length) {
        setResultAndStopExecution({
          errors: [createGraphQLError(implausibleIdMessage(bad[0]), {
            extensions: { code: "BAD_USER_INPUT", http: { status: 400 } },
          })],
        });
      }
    },
  };
}

export function limitPlugins(config: Config): Plugin[] {
  const { maxDepth, maxAliases, maxTokens } = config.limits;
  // exposeLimits: the client is told which limit it hit and its value, so the 400 is actionable.
  return [
    maxTokensPlugin({ n: maxTokens, exposeLimits: true }),
    maxDepthPlugin({ n: maxDepth, exposeLimits: true, flattenFragments: true }),
    maxAliasesPlugin({ n: maxAliases, exposeLimits: true }),
    useRobotIdGuard(),
  ] as Plugin[];
}
