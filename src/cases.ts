/**
 * The one table of cases (STYLE: "One table of cases drives everything"): which processes each
 * case runs, on which ports, and how a client calls its three APIs. The supervisor, the load
 * runner, the report and the tests all read it.
 */
import type { Config } from "./config";
import { UsageError } from "./errors";
import { routerCommand, routerEnv } from "./router";

export type CaseName = "case1" | "case2" | "case3";
export type ApiName = "dashboard" | "monitor" | "critical";
export const API_NAMES: ApiName[] = ["dashboard", "monitor", "critical"];

export interface ProcessSpec {
  /** The process name used everywhere: metrics `service` label, results, log files. */
  name: string;
  port: (config: Config) => number;
  /** Arguments after `bun src/main.ts` (a role), unless `command` builds the whole command. */
  args?: string[];
  command?: (config: Config) => string[];
  /** Extra environment for a process that cannot read src/config.ts itself (the router binary). */
  env?: (config: Config) => Record<string, string>;
  /** Where readiness is polled; defaults to http://127.0.0.1:<port>/health. */
  health?: (config: Config) => string;
}

export interface CaseSpec {
  name: CaseName;
  title: string;
  /** How the client talks to the gateway. */
  protocol: "rest" | "graphql";
  processes: (config: Config) => ProcessSpec[];
  /** Name of the process that receives client requests. */
  gateway: (config: Config) => string;
}

const service = (name: string, port: ProcessSpec["port"], args: string[] = []): ProcessSpec => ({
  name,
  port,
  args: [name, ...args],
});

const dataServices = (orchestration: boolean): ProcessSpec[] => [
  service("robot-service", (c) => c.ports.robot, orchestration ? ["--orchestration"] : []),
  service("telemetry-service", (c) => c.ports.telemetry),
  service("alert-service", (c) => c.ports.alert),
];

export const CASES: Record<CaseName, CaseSpec> = {
  case1: {
    name: "case1",
    title: "REST gateway + service fan-out (N+1)",
    protocol: "rest",
    processes: () => [...dataServices(true), service("rest-gateway", (c) => c.ports.gateway)],
    gateway: () => "rest-gateway",
  },
  case2: {
    name: "case2",
    title: "GraphQL gateway (Yoga + DataLoader)",
    protocol: "graphql",
    processes: () => [...dataServices(false), service("yoga-gateway", (c) => c.ports.gateway)],
    gateway: () => "yoga-gateway",
  },
  case3: {
    name: "case3",
    title: "Apollo Federation (gateway + 3 subgraphs)",
    protocol: "graphql",
    processes: (config) => [
      ...dataServices(false),
      service("robot-subgraph", (c) => c.ports.robotSubgraph),
      service("telemetry-subgraph", (c) => c.ports.telemetrySubgraph),
      service("alert-subgraph", (c) => c.ports.alertSubgraph),
      federationGateway(config),
    ],
    gateway: (config) => config.case3Gateway,
  },
};

/** Case 3's gateway: the Apollo Router binary, or Hive Gateway as a Bun role. */
function federationGateway(config: Config): ProcessSpec {
  if (config.case3Gateway === "hive-gateway") return service("hive-gateway", (c) => c.ports.gateway);
  return { name: "apollo-router", port: (c) => c.ports.gateway, command: routerCommand, env: routerEnv };
}

export function caseSpec(name: string): CaseSpec {
  const spec = CASES[name as CaseName];
  if (!spec) throw new UsageError(`unknown case "${name}": expected one of ${Object.keys(CASES).join(", ")}`);
  return spec;
}

/** GraphQL text of each client API (DESIGN §5): the same text for Cases 2 and 3. */
export const GRAPHQL_QUERIES: Record<ApiName, string> = {
  dashboard:
    "{ fleetDashboard { robots { id name latestTelemetry { batteryLevel cpuUsage temperature } activeAlerts { severity message } } } }",
  monitor:
    "query Monitor($id: ID!) { robotMonitor(id: $id) { robot { id name model location status } telemetry { batteryLevel cpuUsage temperature timestamp } recentAlerts { id severity message createdAt } } }",
  critical:
    "{ criticalAlerts { id message robot { id name } telemetrySnapshot { batteryLevel cpuUsage temperature } } }",
};

/** Where each API's answer is in a GraphQL response: `data.<field>`. */
export const GRAPHQL_FIELDS: Record<ApiName, string> = {
  dashboard: "fleetDashboard",
  monitor: "robotMonitor",
  critical: "criticalAlerts",
};

/** REST path of each client API (Case 1). */
export const REST_PATHS: Record<ApiName, (robotId: string) => string> = {
  dashboard: () => "/api/fleet/dashboard",
  monitor: (id) => `/api/robots/${encodeURIComponent(id)}/monitor`,
  critical: () => "/api/alerts/critical",
};

/** Builds the one HTTP request a client makes for `api` against a case, and where its answer is. */
export function clientRequest(spec: CaseSpec, config: Config, api: ApiName, robotId = "robot-001") {
  if (spec.protocol === "rest") {
    return {
      url: `${config.urls.gateway}${REST_PATHS[api](robotId)}`,
      init: { method: "GET" } as RequestInit,
      /** Picks the client answer out of the parsed body. */
      pick: (body: any) => (api === "critical" ? body?.alerts : body),
    };
  }
  return {
    url: `${config.urls.gateway}/graphql`,
    init: {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query: GRAPHQL_QUERIES[api], variables: api === "monitor" ? { id: robotId } : {} }),
    } as RequestInit,
    pick: (body: any) => (body?.errors ? undefined : body?.data?.[GRAPHQL_FIELDS[api]]),
  };
}
