/**
 * The one table of targets (DESIGN §15, STYLE: "One table of cases drives everything"): every
 * runnable target, a case × its gateway × its runtime, is a row with its processes, ports and
 * client protocol. The supervisor, the load runner, comparisons, the report, the Prometheus
 * configuration, the compose checks and the tests iterate it; adding a case or a gateway is a
 * row here and the new role's own module.
 */
import type { Config, GatewayChoice } from "../config";
import { UsageError } from "../errors";
import { hiveRouterCommand, hiveRouterEnv } from "../hive-router";
import { nginxCommand, nginxHealth } from "../nginx";
import { routerCommand, routerEnv } from "../router";
import { RUNTIMES, type RuntimeName } from "../runtime";

export type CaseName = "case1" | "case1b" | "case2" | "case3";
export type ApiName = "dashboard" | "monitor" | "critical";
export const API_NAMES: ApiName[] = ["dashboard", "monitor", "critical"];

export interface ProcessSpec {
  /** The process name used everywhere: metrics `service` label, results, log files. */
  name: string;
  port: (config: Config) => number;
  /** Arguments after `src/main.ts` (a role), unless `command` builds the whole command. */
  args?: string[];
  /** What runs a TypeScript role (its row's runtime); absent for a binary of its own (the router). */
  runtime?: RuntimeName;
  command?: (config: Config) => string[];
  /** Extra environment for a process that cannot read src/config.ts itself (the router binary). */
  env?: (config: Config) => Record<string, string>;
  /** Where readiness is polled; defaults to http://127.0.0.1:<port>/health. */
  health?: (config: Config) => string;
  /** false for a process that exports no `http_requests_total` of fleetbench's (the router binaries, NGINX). */
  requestMetrics?: boolean;
  /** false for a process that serves no /metrics at all (NGINX), so Prometheus does not scrape it. */
  metrics?: boolean;
}

/** One runnable target: a row of the table. */
export interface TargetSpec {
  case: CaseName;
  /** The process that receives client requests. */
  gateway: string;
  /** What runs the TypeScript roles (FLEET_RUNTIME). */
  runtime: RuntimeName;
  /** "case1 · rest-gateway" (on Bun), "case1 · rest-gateway · deno": the target's name in results, comparisons, reports and tests. */
  label: string;
  title: string;
  /** How the client talks to the gateway. */
  protocol: "rest" | "graphql";
  processes: ProcessSpec[];
  /**
   * When a case has several gateways: the one this row is, as CASE3_GATEWAY names it (every Case 3
   * row), or REST_GATEWAY (the REST cases' NGINX rows; their Bun proxy rows, the default, carry none,
   * as before NGINX). `gatewayOf` gives every row's name either way.
   */
  choice?: GatewayChoice;
  /** Docker Compose runs it (compose/<case>.yml and its gateway's file, the Bun image); Hive Gateway and Deno are native only. */
  compose: boolean;
  /** A binary from the tools cache it needs, with its key in the fingerprint's versions. */
  tool?: { name: string; versionKey: string };
}

const service = (name: string, port: ProcessSpec["port"], args: string[] = []): ProcessSpec => ({
  name,
  port,
  args: [name, ...args],
});

const dataServices = (orchestration: string[] = []): ProcessSpec[] => [
  service("robot-service", (c) => c.ports.robot, orchestration),
  service("telemetry-service", (c) => c.ports.telemetry),
  service("alert-service", (c) => c.ports.alert),
];

const subgraphs = [
  service("robot-subgraph", (c) => c.ports.robotSubgraph),
  service("telemetry-subgraph", (c) => c.ports.telemetrySubgraph),
  service("alert-subgraph", (c) => c.ports.alertSubgraph),
];

type Row = Omit<TargetSpec, "label" | "runtime" | "compose"> & { compose?: boolean };

/** A row on one runtime: its TypeScript roles run there; Bun's rows keep the short label results have always used. */
const onRuntime = (r: Row, runtime: RuntimeName): TargetSpec => ({
  ...r,
  runtime,
  compose: (r.compose ?? true) && runtime === "bun",
  processes: r.processes.map((p) => (p.args ? { ...p, runtime } : p)),
  label: runtime === "bun" ? `${r.case} · ${r.gateway}` : `${r.case} · ${r.gateway} · ${runtime}`,
});

/** NGINX in front of the robot service's orchestration routes (src/nginx.ts): its master and workers are one process tree. */
const nginx: ProcessSpec = { name: "nginx", port: (c) => c.ports.gateway, command: nginxCommand, health: nginxHealth, requestMetrics: false, metrics: false };

const case3 = { case: "case3", title: "Apollo Federation (gateway + 3 subgraphs)", protocol: "graphql" } as const;

const ROWS: Row[] = [
  // The first row of a case is its default gateway; rows added later go last, so indexes stay.
  {
    case: "case1", gateway: "rest-gateway", title: "REST gateway + service fan-out (N+1)", protocol: "rest",
    processes: [...dataServices(["--orchestration"]), service("rest-gateway", (c) => c.ports.gateway)],
  },
  {
    case: "case1b", gateway: "rest-gateway", title: "REST gateway + batch endpoints (REST without N+1)", protocol: "rest",
    processes: [...dataServices(["--orchestration=batch"]), service("rest-gateway", (c) => c.ports.gateway)],
  },
  {
    case: "case2", gateway: "yoga-gateway", title: "GraphQL gateway (Yoga + DataLoader)", protocol: "graphql",
    processes: [...dataServices(), service("yoga-gateway", (c) => c.ports.gateway)],
  },
  {
    ...case3, gateway: "apollo-router", choice: "apollo-router",
    processes: [...dataServices(), ...subgraphs, { name: "apollo-router", port: (c) => c.ports.gateway, command: routerCommand, env: routerEnv, requestMetrics: false }],
    tool: { name: "apollo-router", versionKey: "apollo_router" },
  },
  {
    ...case3, gateway: "hive-gateway", choice: "hive-gateway",
    processes: [...dataServices(), ...subgraphs, service("hive-gateway", (c) => c.ports.gateway)],
    compose: false,
  },
  {
    case: "case1", gateway: "nginx", choice: "nginx", title: "REST gateway + service fan-out (N+1)", protocol: "rest",
    processes: [...dataServices(["--orchestration"]), nginx],
  },
  {
    case: "case1b", gateway: "nginx", choice: "nginx", title: "REST gateway + batch endpoints (REST without N+1)", protocol: "rest",
    processes: [...dataServices(["--orchestration=batch"]), nginx],
  },
  {
    ...case3, gateway: "hive-router", choice: "hive-router",
    processes: [...dataServices(), ...subgraphs, { name: "hive-router", port: (c) => c.ports.gateway, command: hiveRouterCommand, env: hiveRouterEnv, requestMetrics: false }],
    tool: { name: "hive-router", versionKey: "hive_router" },
  },
  {
    ...case3, gateway: "apollo-gateway", choice: "apollo-gateway",
    processes: [...dataServices(), ...subgraphs, service("apollo-gateway", (c) => c.ports.gateway)],
  },
];

/** Every row on every runtime, Bun's first. */
export const TARGETS: TargetSpec[] = RUNTIMES.flatMap((runtime) => ROWS.map((r) => onRuntime(r, runtime)));

/** The cases, in the table's order. */
export const CASE_NAMES = [...new Set(TARGETS.map((t) => t.case))];

/** A row's gateway as CASE3_GATEWAY, REST_GATEWAY and --gateways name it. */
export const gatewayOf = (t: Pick<TargetSpec, "choice" | "gateway">) => (t.choice ?? t.gateway) as GatewayChoice;

/** The rows of a case on one runtime. */
const rowsOf = (caseName: CaseName, runtime: RuntimeName) => TARGETS.filter((t) => t.case === caseName && t.runtime === runtime);

/** The gateways a case can run with (CASE3_GATEWAY's values for Case 3, REST_GATEWAY's for case1 and case1b); none for a case with one. */
export const gatewayChoices = (caseName: CaseName): GatewayChoice[] => {
  const rows = rowsOf(caseName, "bun");
  return rows.length > 1 ? [...new Set(rows.map(gatewayOf))] : [];
};

/** The gateway `config` chooses for a row's case: REST_GATEWAY for the REST cases, CASE3_GATEWAY for Case 3. */
const chosenGateway = (t: Pick<TargetSpec, "protocol">, config: Config): GatewayChoice => (t.protocol === "rest" ? config.restGateway : config.case3Gateway);

/** The row `config` selects for a case on its runtime (FLEET_RUNTIME): its only one, or the gateway REST_GATEWAY or CASE3_GATEWAY names. */
export function targetFor(caseName: CaseName, config: Config): TargetSpec {
  const rows = rowsOf(caseName, config.runtime);
  return rows.length === 1 ? rows[0] : rows.find((t) => gatewayOf(t) === chosenGateway(t, config))!;
}

/**
 * The rows to measure: every case (or those named, in that order), each on every runtime asked
 * for (default: Bun); a case with several gateways once per gateway of `gateways` that is one of
 * its own, or through its default gateway (its first row) when `gateways` names none of them
 * (`--gateways apollo-router,hive-router` leaves the REST cases on the Bun proxy).
 */
export const selectTargets = (cases: CaseName[] | undefined, gateways: readonly GatewayChoice[], runtimes: readonly RuntimeName[] = ["bun"]) =>
  (cases ?? CASE_NAMES).flatMap((name) => runtimes.flatMap((runtime) => {
    const rows = rowsOf(name, runtime);
    const asked = rows.length > 1 ? rows.filter((t) => gateways.includes(gatewayOf(t))) : rows;
    return asked.length ? asked : rows.slice(0, 1);
  }));

/** Where a target runs: processes on this machine, or the case's Docker Compose stack (src/deploy/compose.ts). */
export const PLATFORMS = ["native", "compose"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The configuration that selects `target` (its gateway and runtime; the same one otherwise). */
export const configFor = (target: TargetSpec, config: Config): Config => ({
  ...config,
  runtime: target.runtime,
  ...(target.protocol === "rest" ? { restGateway: gatewayOf(target) as Config["restGateway"] } : target.choice ? { case3Gateway: target.choice as Config["case3Gateway"] } : {}),
});

/** The variable that chooses a row's gateway, and its value: what a process started elsewhere (a pod) is given. */
export const gatewayEnv = (target: TargetSpec): Record<string, string> =>
  target.choice ? { [target.protocol === "rest" ? "REST_GATEWAY" : "CASE3_GATEWAY"]: target.choice } : {};

/**
 * The row a result was measured on: results before the table recorded no gateway for Cases 1 and
 * 2, and none before the runtimes recorded one (they ran on Bun).
 */
export const targetOfRun = (r: { case: string; gateway?: string | null; runtime?: string | null }) => {
  const rows = TARGETS.filter((t) => t.case === r.case && t.runtime === (r.runtime ?? "bun"));
  // A result that recorded no gateway is from before a case had several: it ran the case's first row.
  return r.gateway ? rows.find((t) => t.gateway === r.gateway) : rows[0];
};

/** "case1 · rest-gateway" for a result (its row's label; older results of Cases 1 and 2 recorded no gateway). */
export const labelOfRun = (r: { case: string; gateway?: string | null; runtime?: string | null }) =>
  targetOfRun(r)?.label ?? [r.case, r.gateway ?? "?", ...(r.runtime && r.runtime !== "bun" ? [r.runtime] : [])].join(" · ");

/** A target's short name in progress lines and round orders: "case2", "case3 (hive-gateway)", "case1 (nginx)", "case2 on deno". */
export const shortLabel = (t: TargetSpec) => `${t.case}${t.choice ? ` (${t.gateway})` : ""}${t.runtime === "bun" ? "" : ` on ${t.runtime}`}`;

/** A case as the commands see it: the row `config` selects. */
export interface CaseSpec {
  name: CaseName;
  title: string;
  protocol: "rest" | "graphql";
  processes: (config: Config) => ProcessSpec[];
  gateway: (config: Config) => string;
  target: (config: Config) => TargetSpec;
}

export const CASES = Object.fromEntries(CASE_NAMES.map((name) => {
  const first = TARGETS.find((t) => t.case === name)!;
  const spec: CaseSpec = {
    name,
    title: first.title,
    protocol: first.protocol,
    processes: (config) => targetFor(name, config).processes,
    gateway: (config) => targetFor(name, config).gateway,
    target: (config) => targetFor(name, config),
  };
  return [name, spec];
})) as Record<CaseName, CaseSpec>;

export function caseSpec(name: string): CaseSpec {
  const spec = CASES[name as CaseName];
  if (!spec) throw new UsageError(`unknown case "${name}": expected one of ${CASE_NAMES.join(", ")}`);
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
