/**
 * The gateways teams choose between, as rows of the target table (docs/design.md §25): how each
 * is chosen (CASE3_GATEWAY, REST_GATEWAY, --gateways), what each is configured to do and what its
 * parity record says, NGINX's generated configuration, and their Kubernetes objects. The same
 * answers, call counts, abuse, faults and loads as every other row are in equality, calls, abuse,
 * case3, faults and load.test.ts, which iterate the table; here, running NGINX itself: its process
 * tree (master and workers) and its limits.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { caseSpec, configFor, gatewayChoices, selectTargets, TARGETS, targetFor } from "../src/run/cases";
import { CASE3_GATEWAYS, loadConfig, REST_GATEWAYS, withUrlsOf } from "../src/config";
import { gatewaysFlag } from "../src/cli/args";
import { parityOf } from "../src/run/parity";
import { measuredEnv, withheldSwitches } from "../src/run/environment";
import { nginxConf, nginxVersion } from "../src/nginx";
import { HIVE_ROUTER_CONFIG, hiveRouterBinary, installedVersion } from "../src/hive-router";
import { k8sArgs } from "../src/deploy/k8s-args";
import { renderTarget } from "../src/deploy/k8s-manifests";
import { down, up } from "../src/run/supervisor";
import { processTable } from "./procs";
import { config, quiet } from "./utils";
import versions from "../src/versions.json" with { type: "json" };

setDefaultTimeout(180_000);

const defaults = loadConfig({});

describe("choosing a gateway", () => {
  test("CASE3_GATEWAY takes Case 3's four gateways, REST_GATEWAY the REST cases' two, each a row of the table", () => {
    expect(gatewayChoices("case3")).toEqual([...CASE3_GATEWAYS]);
    expect(gatewayChoices("case1")).toEqual([...REST_GATEWAYS]);
    expect(gatewayChoices("case1b")).toEqual([...REST_GATEWAYS]);
    expect(gatewayChoices("case2")).toEqual([]);
    for (const gateway of CASE3_GATEWAYS) expect(targetFor("case3", loadConfig({ CASE3_GATEWAY: gateway })).gateway).toBe(gateway);
    for (const gateway of REST_GATEWAYS) {
      for (const c of ["case1", "case1b"] as const) expect(targetFor(c, loadConfig({ REST_GATEWAY: gateway })).gateway).toBe(gateway);
    }
    // Bun's proxy stays the default, and the REST rows' labels are what results have always said.
    expect(targetFor("case1", defaults).label).toBe("case1 · rest-gateway");
    expect(targetFor("case1", loadConfig({ REST_GATEWAY: "nginx", FLEET_RUNTIME: "deno" })).label).toBe("case1 · nginx · deno");
    expect(() => loadConfig({ REST_GATEWAY: "envoy" })).toThrow('REST_GATEWAY must be one of rest-gateway, nginx, got "envoy"');
    expect(() => loadConfig({ FLEET_NGINX_WORKERS: "0" })).toThrow('FLEET_NGINX_WORKERS must be a number of NGINX worker processes, or "auto" (1-256), got "0"');
    expect(loadConfig({ FLEET_NGINX_WORKERS: "auto" }).nginxWorkers).toBe("auto");
    expect(defaults.nginxWorkers).toBe("1");
  });

  test("--gateways takes any gateway of any case; a case none of them belongs to runs through its default", () => {
    const flag = (value: string) => gatewaysFlag(new Map([["gateways", value]]));
    const labels = (value: string, cases?: ("case1" | "case1b" | "case2" | "case3")[]) => selectTargets(cases, flag(value)).map((t) => t.label);
    expect(labels("apollo-router,hive-router,hive-gateway,apollo-gateway", ["case3"])).toEqual([
      "case3 · apollo-router", "case3 · hive-gateway", "case3 · hive-router", "case3 · apollo-gateway",
    ]);
    expect(labels("rest-gateway,nginx", ["case1", "case3"])).toEqual(["case1 · rest-gateway", "case1 · nginx", "case3 · apollo-router"]);
    expect(labels("hive-router")).toEqual(["case1 · rest-gateway", "case1b · rest-gateway", "case2 · yoga-gateway", "case3 · hive-router"]);
    expect(labels("nginx")).toEqual(["case1 · nginx", "case1b · nginx", "case2 · yoga-gateway", "case3 · apollo-router"]);
    expect(() => flag("envoy")).toThrow('--gateways takes rest-gateway, nginx, apollo-router, hive-gateway, hive-router, apollo-gateway (any of them), got "envoy"');
    // A row's configuration selects that row again, whatever the shell chose.
    for (const t of TARGETS) expect(targetFor(t.case, configFor(t, loadConfig({ REST_GATEWAY: "nginx", CASE3_GATEWAY: "hive-gateway" })))).toBe(t);
  });
});

describe("parity: each gateway's effective configuration and limits", () => {
  const parity = (env: Record<string, string>, caseName: "case1" | "case3") => {
    const cfg = loadConfig(env);
    return parityOf(cfg, caseSpec(caseName), { startedCase: true, postgresVersion: null }).processes as Record<string, any>;
  };

  test("Apollo Gateway: its executor, the same limits as every gateway, no deduplication, what it lacks", () => {
    const p = parity({ CASE3_GATEWAY: "apollo-gateway" }, "case3")["apollo-gateway"];
    expect(p.executor).toContain("@apollo/gateway 2.14.4");
    expect(p.executor).toContain("@apollo/server 5.5.1");
    expect(p.limits).toEqual({ depth: defaults.limits.maxDepth, aliases: defaults.limits.maxAliases, tokens: defaults.limits.maxTokens });
    expect(p.body_limit_bytes).toBe(defaults.limits.maxBodyBytes);
    expect(p.upstream_timeout_ms).toBe(defaults.gatewayTimeoutMs);
    expect(p.deduplication).toContain("none");
    expect(p.defer_stream).toContain("not supported");
    expect(p.introspection).toBe(true);
    expect(p.telemetry_to_apollo).toContain("off");
  });

  test("Hive Router: compose/hive-router.yaml resolved as the router resolves it, both deduplications off, what it lacks", () => {
    const p = parity({ CASE3_GATEWAY: "hive-router", FLEET_MAX_DEPTH: "9", FLEET_TIMEOUT_MS: "4000" }, "case3")["hive-router"];
    expect(p).toMatchObject({ runtime: "native", version: versions.hiveRouter, introspection: true, error_masking: false });
    expect(p.deduplication).toEqual({ subgraph_requests: false, client_requests: false });
    expect(p.limits).toEqual({ depth: 9, aliases: defaults.limits.maxAliases, tokens: defaults.limits.maxTokens });
    expect(p.upstream_timeout).toBe("5000ms");
    expect(p.body_limit).toBe(`${defaults.limits.maxBodyBytes}B`);
    expect(p.scripts).toContain("no script");
    expect(p.effective_configuration.override_subgraph_urls.subgraphs["telemetry-subgraph"].url).toBe(`${defaults.urls.telemetrySubgraph}/graphql`);
    expect(p.effective_configuration.supergraph).toEqual({ source: "file", path: "supergraph.graphql" });
    expect(p.effective_configuration.laboratory).toEqual({ enabled: false });
  });

  test("NGINX: its version, workers, upstream keep-alive, body limit and timeout; no instrumentation of its own", () => {
    const p = parity({ REST_GATEWAY: "nginx", FLEET_NGINX_WORKERS: "auto" }, "case1").nginx;
    expect(p).toMatchObject({ runtime: "native", version: nginxVersion(), pinned: versions.nginx, workers: "auto", access_log: "off", body_limit_bytes: defaults.limits.maxBodyBytes, upstream_timeout_ms: defaults.gatewayTimeoutMs });
    expect(p.keep_alive).toContain("64");
    expect(p.instrumentation).toContain("none");
  });

  test("the switches Hive Router and Apollo's gateways read from a shell never reach them, and are named as withheld", () => {
    const shell = { PATH: "/usr/bin", LOG_LEVEL: "trace", DISABLE_SUBGRAPH_ERROR_MASKING: "true", HIVE_USAGE_REPORTING_ENABLED: "true", APOLLO_KEY: "k", ROUTER_HTTP_WORKERS: "8", REST_GATEWAY: "nginx" };
    const env = measuredEnv(defaults, {}, shell);
    expect(Object.keys(env).sort()).toEqual(["PATH", "REST_GATEWAY"]);
    expect(withheldSwitches(defaults, shell)).toEqual(["APOLLO_KEY", "DISABLE_SUBGRAPH_ERROR_MASKING", "HIVE_USAGE_REPORTING_ENABLED", "LOG_LEVEL", "ROUTER_HTTP_WORKERS"]);
  });
});

describe("NGINX's configuration", () => {
  const conf = nginxConf(defaults, { listen: "127.0.0.1:10000", robot: "127.0.0.1:10001", prefix: "/tmp/x" });

  test("the Bun proxy's three routes to the robot service, kept alive, streamed, limits and timeouts from src/config.ts", () => {
    expect(conf).toContain("worker_processes 1;");
    expect(conf).toContain("access_log off;");
    expect(conf).toContain(`client_max_body_size ${defaults.limits.maxBodyBytes};`);
    expect(conf).toMatch(/upstream robot_service \{\s+server 127\.0\.0\.1:10001;[^}]*keepalive 64;/);
    expect(conf).toContain("proxy_http_version 1.1;");
    expect(conf).toContain('proxy_set_header Connection "";');
    expect(conf).toContain("proxy_buffering off;");
    for (const d of ["connect", "send", "read"]) expect(conf).toContain(`proxy_${d}_timeout ${defaults.gatewayTimeoutMs}ms;`);
    expect(conf).toContain("location = /api/fleet/dashboard { if ($request_method !~ ^(GET|HEAD)$)");
    expect(conf).toContain("proxy_pass http://robot_service/robots/dashboard;");
    expect(conf).toContain("proxy_pass http://robot_service/robots/alerts/critical;");
    expect(conf).toContain("rewrite ^/api/robots/([^/]+)/monitor$ /robots/$1/monitor break;");
    // NGINX is validated by NGINX itself.
    expect(nginxVersion()).not.toBeNull();
  });

  test("addresses follow the configuration, and --hop-latency's proxies when the process is given them", () => {
    const moved = loadConfig({ FLEET_ROBOT_URL: "http://127.0.0.1:20001" });
    const seen = withUrlsOf(moved, { FLEET_ROBOT_URL: "http://127.0.0.1:11001", FLEET_TELEMETRY_SUBGRAPH_URL: "http://127.0.0.1:11012" });
    expect(seen.urls.robot).toBe("http://127.0.0.1:11001");
    expect(seen.urls.telemetrySubgraph).toBe("http://127.0.0.1:11012");
    expect(seen.urls.alert).toBe(moved.urls.alert);
    expect(withUrlsOf(moved, {}).urls).toEqual(moved.urls);
  });

  describe("running: one tree of processes, NGINX's own limits", () => {
    const cfg = loadConfig({ ...process.env, REST_GATEWAY: "nginx", FLEET_NGINX_WORKERS: "2" });
    afterAll(async () => {
      await down(cfg, quiet);
    });

    test("master and workers are one tree under the process the supervisor started; the configured workers; 413, 404, 502 as JSON", async () => {
      const state = await up(cfg, "case1", { log: quiet, env: { FLEET_NGINX_WORKERS: "2" } });
      const master = state.processes.find((p) => p.name === "nginx")!;
      const table = processTable();
      const workers = [...table].filter(([, p]) => p.ppid === master.pid);
      expect(workers.length).toBe(2);
      const big = await fetch(`${cfg.urls.gateway}/api/fleet/dashboard`, { method: "POST", body: "x".repeat(cfg.limits.maxBodyBytes + 1), headers: { "content-type": "application/json" } });
      expect(big.status).toBe(413);
      expect(await big.json()).toEqual({ error: `the body is larger than ${cfg.limits.maxBodyBytes} bytes`, code: "BODY_TOO_LARGE" });
      const unknown = await fetch(`${cfg.urls.gateway}/api/nothing`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ error: "no such route", code: "NOT_FOUND" });
      // The robot service gone: NGINX's own 502, naming it.
      process.kill(-state.processes.find((p) => p.name === "robot-service")!.pid, "SIGKILL");
      await Bun.sleep(200);
      const gone = await fetch(`${cfg.urls.gateway}/api/fleet/dashboard`);
      expect(gone.status).toBe(502);
      expect(await gone.json()).toEqual({ error: "robot-service is unreachable", code: "UPSTREAM_UNAVAILABLE" });
    });
  });
});

describe("Hive Router's binary", () => {
  test("taken from PATH only at the pinned version, which its store path or cargo's install record names", () => {
    expect(installedVersion("/nix/store/0000-hive-router-0.3.10/bin/hive_router")).toBe("0.3.10");
    expect(installedVersion("/nowhere/bin/hive_router")).toBeNull();
    expect(hiveRouterBinary(config)).toBe(`${config.toolsDir}/hive-router-${versions.hiveRouter}/bin/hive_router`);
    expect(existsSync(HIVE_ROUTER_CONFIG)).toBe(true);
  });
});

describe("Kubernetes: the new gateways' objects", () => {
  const render = (env: Record<string, string>, caseName: string) => {
    const { target, options } = k8sArgs(loadConfig(env), [caseName], "20260101T000000Z-test");
    return renderTarget(target, options);
  };
  const find = (objects: any[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

  test("NGINX: its official image, run as itself (not the image's entrypoint), its configuration for the cluster's addresses", () => {
    const objects = render({ REST_GATEWAY: "nginx" }, "case1b");
    const [c] = find(objects, "Deployment", "nginx").spec.template.spec.containers;
    expect(c.image).toBe(`nginx:${versions.nginx}`);
    expect(c.command).toEqual(["nginx"]);
    const conf = find(objects, "ConfigMap", "nginx-config").data["nginx.conf"];
    expect(conf).toContain("listen 0.0.0.0:10000;");
    expect(conf).toContain("server robot-service:10001;");
    expect(conf).toContain("pid /tmp/nginx.pid;");
    // No pod of a REST row is told a Case 3 gateway.
    for (const d of objects.filter((o) => o.kind === "Deployment") as any[]) {
      expect((d.spec.template.spec.containers[0].env ?? []).map((v: any) => v.name)).not.toContain("CASE3_GATEWAY");
    }
  });

  test("Hive Router: its official image, the native configuration file and supergraph unchanged, the cluster's addresses by variable", () => {
    const objects = render({ CASE3_GATEWAY: "hive-router" }, "case3");
    const [c] = find(objects, "Deployment", "hive-router").spec.template.spec.containers;
    expect(c.image).toBe(`ghcr.io/graphql-hive/router:${versions.hiveRouter}`);
    const vars = Object.fromEntries(c.env.map((v: any) => [v.name, v.value]));
    expect(vars.ROUTER_CONFIG_FILE_PATH).toBe("/dist/config/hive-router.yaml");
    expect(vars.FLEET_GATEWAY_HOST).toBe("0.0.0.0");
    expect(vars.FLEET_ROBOT_SUBGRAPH_GRAPHQL_URL).toBe("http://robot-subgraph:10011/graphql");
    const data = find(objects, "ConfigMap", "hive-router-config").data;
    expect(data["hive-router.yaml"]).toBe(readFileSync(HIVE_ROUTER_CONFIG, "utf8"));
    expect(Object.keys(data).sort()).toEqual(["hive-router.yaml", "supergraph.graphql"]);
  });
});
