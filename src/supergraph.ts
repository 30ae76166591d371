/**
 * Composes Case 3's supergraph from the three subgraph schemas with `@apollo/composition`, in
 * process: no rover, no network, the same composer the Apollo toolchain runs. Both federation
 * gateways (Apollo Router and Hive Gateway) read the result, compose/supergraph.graphql, which is
 * committed so `up case3` needs no build step; a test checks it is never stale.
 *
 *   bun src/main.ts supergraph            compose and write compose/supergraph.graphql (just supergraph)
 *   bun src/main.ts supergraph --check    exit 1 if the committed file differs from a fresh composition
 *   bun src/main.ts supergraph --api      print the composed client (API) schema
 */
import { composeServices } from "@apollo/composition";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { lexicographicSortSchema, parse, printSchema } from "graphql";
import { ALERT_SUBGRAPH_SDL } from "./alert-subgraph";
import { DEFAULTS } from "./config";
import { ROBOT_SUBGRAPH_SDL } from "./robot-subgraph";
import { ROOT, SUPERGRAPH } from "./router";
import { TELEMETRY_SUBGRAPH_SDL } from "./telemetry-subgraph";

/**
 * The subgraphs, named as their processes. The URLs written into the supergraph are the default
 * local ones, so the file is the same on every machine; each gateway overrides them from its own
 * configuration (router.yaml `override_subgraph_url`, Hive Gateway `transportEntries`).
 */
export const SUBGRAPHS = [
  { name: "robot-subgraph", typeDefs: ROBOT_SUBGRAPH_SDL, port: DEFAULTS.robotSubgraphPort },
  { name: "telemetry-subgraph", typeDefs: TELEMETRY_SUBGRAPH_SDL, port: DEFAULTS.telemetrySubgraphPort },
  { name: "alert-subgraph", typeDefs: ALERT_SUBGRAPH_SDL, port: DEFAULTS.alertSubgraphPort },
] as const;

export class CompositionError extends Error {
  readonly code = "COMPOSITION_FAILED";
}

function compose() {
  const result = composeServices(
    SUBGRAPHS.map((s) => ({ name: s.name, typeDefs: parse(s.typeDefs), url: `http://127.0.0.1:${s.port}/graphql` })),
  );
  if (result.errors) {
    // The composer's own messages and codes: they name the subgraph, type and field at fault.
    const lines = result.errors.map((e) => `  [${e.extensions?.code ?? "ERROR"}] ${e.message}`);
    throw new CompositionError(`supergraph composition failed with ${result.errors.length} error(s):\n${lines.join("\n")}`);
  }
  return result;
}

/** The supergraph SDL, exactly as written to compose/supergraph.graphql. */
export function composeSupergraph(): string {
  return `${compose().supergraphSdl.trimEnd()}\n`;
}

/** The client (API) schema of the composition, printed sorted: comparable with Case 2's. */
export function composedApiSchema(): string {
  return printSchema(lexicographicSortSchema(compose().schema.toAPISchema().toGraphQLJSSchema()));
}

/** Runs the usage block above; returns the exit code. */
export function supergraphCommand(args: string[], log: (line: string) => void = console.log): number {
  const shown = relative(ROOT, SUPERGRAPH);
  if (args.includes("--api")) {
    log(composedApiSchema());
    return 0;
  }
  const fresh = composeSupergraph();
  if (args.includes("--check")) {
    const committed = existsSync(SUPERGRAPH) ? readFileSync(SUPERGRAPH, "utf8") : null;
    if (committed === fresh) {
      log(`${shown} is up to date`);
      return 0;
    }
    log(`${shown} is ${committed === null ? "missing" : "stale"}: run \`just supergraph\` and commit the result`);
    return 1;
  }
  writeFileSync(SUPERGRAPH, fresh);
  log(`wrote ${shown} (${SUBGRAPHS.map((s) => s.name).join(", ")})`);
  return 0;
}
