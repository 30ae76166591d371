/**
 * fleetbench on Kubernetes, checked without a cluster (docs/design.md §17): every target renders; every
 * object is valid against the Kubernetes API schemas (kubernetes-models) and the TestRun against
 * the k6-operator fields fleetbench writes; names, ports, environment, images and versions are the
 * table's, the configuration's and src/versions.json's; the load splits as documented; the
 * security defaults hold for every pod; the CLI prints parseable YAML, and says in one line when
 * no cluster answers; what a run reads from Prometheus is parsed into the native result format.
 */
import { gunzipSync } from "node:zlib";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import Ajv2019 from "ajv/dist/2019";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Job } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { EnvVar } from "kubernetes-models/v1/EnvVar";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PodSecurityContext } from "kubernetes-models/v1/PodSecurityContext";
import { ResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import { SecurityContext } from "kubernetes-models/v1/SecurityContext";
import { Service } from "kubernetes-models/v1/Service";
import { Volume } from "kubernetes-models/v1/Volume";
import { VolumeMount } from "kubernetes-models/v1/VolumeMount";
import { CASES, configFor, type TargetSpec, TARGETS } from "../src/run/cases";
import { DEFAULTS, loadConfig } from "../src/config";
import { requestSpec } from "../src/run/engine/k6";
import { k8sArgs } from "../src/deploy/k8s-args";
import { k8sFingerprint } from "../src/deploy/k8s";
import { runnerShares, scriptFiles, splitLoad } from "../src/deploy/k8s-load";
import { K8S_DEFAULTS, renderTarget, renderYaml } from "../src/deploy/k8s-manifests";
import type { K8sObject } from "../src/deploy/k8s-pods";
import { counterIncrease, k8sResult, measuredFromPrometheus, type PromAnswer, runQueries } from "../src/deploy/k8s-result";
import type { Kubectl } from "../src/deploy/kubectl";
import { jobOutcome, nodeFacts, placement, rolledOut } from "../src/deploy/kubectl";
import { DEFAULT_MIX } from "../src/run/load";
import { routerEnv } from "../src/router";
import { baseResult } from "../src/run/run-result";
import { criticalCount } from "../src/seed";
import versions from "../src/versions.json" with { type: "json" };
import { fleetCli } from "./utils";
import testRunSchema from "./fixtures/k6-testrun.schema.json";

const ROOT = join(import.meta.dirname, "..");
/** The rows k8s renders: Bun's (its image is compose's Bun image; Deno's rows are native only). */
const BUN_ROWS = TARGETS.filter((t) => t.runtime === "bun");
const defaults = loadConfig({});
/** The options of `k8s render` as the CLI parses them, with a fixed run id (the default engine, vegeta). */
const render = (t: TargetSpec, ...args: string[]) => {
  const { options } = k8sArgs(configFor(t, defaults), [t.case, ...args], "20260101T000000Z-test");
  return { options, objects: renderTarget(t, options) };
};
/** The same with a user-brought k6 (`--engine k6`): k6-operator's TestRun. */
const withK6 = loadConfig({ FLEET_ENGINE: "k6" });
const renderK6 = (t: TargetSpec, ...args: string[]) => {
  const { options } = k8sArgs(configFor(t, withK6), [t.case, ...args], "20260101T000000Z-test");
  return { options, objects: renderTarget(t, options) };
};
const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as any;

/** Every pod template of an object, with where it is (the TestRun's runner and starter are pods too). */
function pods(o: K8sObject): { where: string; spec: any }[] {
  const spec = o.spec as any;
  if (o.kind === "Deployment" || o.kind === "StatefulSet" || o.kind === "Job") return [{ where: `${o.kind}/${o.metadata.name}`, spec: spec.template.spec }];
  if (o.kind === "TestRun") {
    return ["runner", "starter"].map((part) => ({
      where: `TestRun ${part}`,
      // The operator builds the pod from these fields; its one container is k6 (or the starter's curl).
      spec: { securityContext: spec[part].securityContext, automountServiceAccountToken: spec[part].automountServiceAccountToken === "false" ? false : true, volumes: spec[part].volumes ?? [], containers: [{ name: part, securityContext: spec[part].containerSecurityContext, resources: spec[part].resources }] },
    }));
  }
  return [];
}

/** Every way an object breaks fleetbench's security defaults; empty when it keeps them all. */
function securityViolations(o: K8sObject): string[] {
  const bad: string[] = [];
  const json = JSON.stringify(o);
  for (const key of ["hostPath", "hostNetwork", "hostPID", "hostIPC", "hostPort"]) if (json.includes(`"${key}"`)) bad.push(`${o.kind}/${o.metadata.name}: ${key}`);
  if (o.kind === "Service" && (o.spec as any).type !== "ClusterIP") bad.push(`Service/${o.metadata.name} is ${(o.spec as any).type}`);
  for (const { where, spec } of pods(o)) {
    const pod = spec.securityContext ?? {};
    if (pod.runAsNonRoot !== true || !(pod.runAsUser > 0)) bad.push(`${where}: may run as root`);
    if (pod.seccompProfile?.type !== "RuntimeDefault") bad.push(`${where}: no RuntimeDefault seccomp profile`);
    if (spec.automountServiceAccountToken !== false) bad.push(`${where}: mounts a service-account token`);
    for (const c of spec.containers) {
      const s = c.securityContext ?? {};
      if (s.privileged !== false) bad.push(`${where} ${c.name}: not unprivileged`);
      if (s.allowPrivilegeEscalation !== false) bad.push(`${where} ${c.name}: may escalate`);
      if (s.readOnlyRootFilesystem !== true) bad.push(`${where} ${c.name}: writable root filesystem`);
      if (!s.capabilities?.drop?.includes("ALL") || s.capabilities?.add?.length) bad.push(`${where} ${c.name}: keeps capabilities`);
      const r = c.resources ?? {};
      if (!r.requests?.cpu || !r.requests?.memory || JSON.stringify(r.requests) !== JSON.stringify(r.limits)) bad.push(`${where} ${c.name}: requests and limits not both set and equal`);
    }
    for (const v of spec.volumes ?? []) if (!v.emptyDir && !v.configMap) bad.push(`${where}: volume ${v.name} is neither emptyDir nor ConfigMap`);
  }
  return bad;
}

const MODELS: Record<string, { new (data: any): { validate(): void } }> = {
  "v1/Namespace": Namespace,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "batch/v1/Job": Job,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
};

const ajv = new Ajv2019({ allErrors: true, strict: true });
const validateTestRun = ajv.compile(testRunSchema);

/** Validates one object: a Kubernetes kind against its API schema, the TestRun against k6-operator's fields and its core types against theirs. */
function validate(o: K8sObject) {
  if (o.kind === "TestRun") {
    if (!validateTestRun(o)) throw new Error(`TestRun: ${ajv.errorsText(validateTestRun.errors)}`);
    for (const part of ["runner", "starter"]) {
      const p = (o.spec as any)[part];
      for (const e of p.env ?? []) new EnvVar(e).validate();
      for (const v of p.volumes ?? []) new Volume(v).validate();
      for (const m of p.volumeMounts ?? []) new VolumeMount(m).validate();
      new ResourceRequirements(p.resources).validate();
      new PodSecurityContext(p.securityContext).validate();
      new SecurityContext(p.containerSecurityContext).validate();
    }
    return;
  }
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

/** Kubernetes' rules for names and label values, which the schemas do not check. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

describe("every target renders, and every object is valid", () => {
  test("every row of the table renders valid objects, with valid names and labels", () => {
    expect(BUN_ROWS.length).toBeGreaterThanOrEqual(5);
    for (const [t, engine] of BUN_ROWS.flatMap((t) => [[t, render], [t, renderK6]] as const)) {
      const { objects } = engine(t, "--parallelism", "3");
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(new Set(names).size).toBe(names.length);
      for (const o of objects) {
        expect(() => validate(o)).not.toThrow();
        expect({ name: o.metadata.name, ok: DNS_LABEL.test(o.metadata.name) }).toEqual({ name: o.metadata.name, ok: true });
        for (const [key, value] of Object.entries(o.metadata.labels ?? {})) expect({ key, value, ok: LABEL_VALUE.test(value) }).toEqual({ key, value, ok: true });
      }
    }
  });

  test("the validators do reject a broken object", () => {
    const { objects } = render(BUN_ROWS[2]);
    const deployment = structuredClone(find(objects, "Deployment", "yoga-gateway"));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = "http";
    expect(() => validate(deployment)).toThrow(/containerPort/);
    const job = structuredClone(find(objects, "Job", "gate"));
    job.spec.template.spec.restartPolicy = "Sometimes";
    expect(() => validate(job)).toThrow();
    const load = structuredClone(find(objects, "Job", "load"));
    load.spec.completionMode = 7;
    expect(() => validate(load)).toThrow();
    const k6Objects = renderK6(BUN_ROWS[2]).objects;
    const run = structuredClone(find(k6Objects, "TestRun", "fleetbench-load"));
    run.spec.paralelism = run.spec.parallelism;
    expect(() => validate(run)).toThrow(/additional properties/);
    const runner = structuredClone(find(k6Objects, "TestRun", "fleetbench-load"));
    runner.spec.runner.env[0].value = 5;
    expect(() => validate(runner)).toThrow();
  });
});

describe("names, ports, environment, images and versions are the table's", () => {
  test("each process: a Deployment and a Service of its name, on its port, scraped there, started as the table says", () => {
    for (const t of BUN_ROWS) {
      const { options, objects } = render(t);
      const config = configFor(t, loadConfig({}));
      expect(objects.filter((o) => o.kind === "Deployment").map((o) => o.metadata.name).sort()).toEqual(t.processes.map((p) => p.name).sort());
      for (const p of t.processes) {
        const port = p.port(config);
        const service = find(objects, "Service", p.name);
        expect(service.spec.ports).toEqual([{ name: "http", port, targetPort: "http", protocol: "TCP" }]);
        const template = find(objects, "Deployment", p.name).spec.template;
        expect(service.spec.selector).toEqual(find(objects, "Deployment", p.name).spec.selector.matchLabels);
        expect(template.metadata.annotations["prometheus.io/port"]).toBe(String(port));
        const [c] = template.spec.containers;
        expect(c.ports).toEqual([{ name: "http", containerPort: port }]);
        if (p.args) {
          expect(c.image).toBe(options.image);
          expect(c.args).toEqual(p.args);
        } else {
          // A binary of its own runs its official image at its pin (src/versions.json).
          const official: Record<string, string> = { "apollo-router": `ghcr.io/apollographql/router:v${versions.apolloRouter}`, "hive-router": `ghcr.io/graphql-hive/router:${versions.hiveRouter}`, nginx: `nginx:${versions.nginx}` };
          expect(c.image).toBe(official[p.name]);
        }
      }
      expect(find(objects, "Deployment", t.gateway)).toBeDefined();
    }
    expect(K8S_DEFAULTS.image).toBe(`fleetbench:bun-${versions.bun}`);
    const { objects } = render(BUN_ROWS[0]);
    expect(find(objects, "StatefulSet", "postgres").spec.template.spec.containers[0].image).toBe(`postgres:${versions.postgres}`);
    expect(find(objects, "Service", "postgres").spec.ports[0].port).toBe(DEFAULTS.pgPort);
    expect(find(objects, "Job", "load").spec.template.spec.containers[0].image).toBe(`fleetbench-vegeta:${versions.vegeta}`);
    expect(objects.some((o) => o.kind === "TestRun")).toBe(false);
    expect(find(renderK6(BUN_ROWS[0]).objects, "TestRun", "fleetbench-load").spec.runner.image).toBe(`grafana/k6:${versions.k6}`);
  });

  test("the Bun roles' environment gives src/config.ts every address by Service name and docs/design.md §2's ports", () => {
    for (const t of BUN_ROWS) {
      const { objects } = render(t);
      for (const p of t.processes.filter((p) => p.args)) {
        const vars = find(objects, "Deployment", p.name).spec.template.spec.containers[0].env as { name: string; value?: string; valueFrom?: any }[];
        const plain = Object.fromEntries(vars.filter((v) => v.value !== undefined).map((v) => [v.name, v.value!]));
        const config = loadConfig(plain);
        expect(config.host).toBe("0.0.0.0");
        expect(config.gatewayHost).toBe("0.0.0.0");
        expect(config.ports).toEqual(defaults.ports);
        // Case 3's gateway by CASE3_GATEWAY; a REST row's gateway is nothing its Bun roles read.
        if (t.choice && t.protocol === "graphql") expect(config.case3Gateway as string).toBe(t.choice);
        // Every process of the target is reached by its Service name on its port.
        const urls = Object.values(config.urls);
        for (const q of t.processes) expect(urls).toContain(`http://${q.name}:${q.port(defaults)}`);
        // Only the data services read the database, and only from the Secret.
        const db = vars.find((v) => v.name === "DATABASE_URL");
        expect(Boolean(db)).toBe(p.name.endsWith("-service"));
        if (db) expect(db.valueFrom).toEqual({ secretKeyRef: { name: K8S_DEFAULTS.databaseSecret, key: "DATABASE_URL" } });
      }
    }
  });

  test("Apollo Router: the native configuration files unchanged, and routerEnv's variables for the cluster's addresses", () => {
    const t = BUN_ROWS.find((x) => x.gateway === "apollo-router")!;
    const { objects } = render(t);
    const files = find(objects, "ConfigMap", "apollo-router-config").data;
    for (const f of ["router.yaml", "router.rhai", "supergraph.graphql"]) expect(files[f]).toBe(readFileSync(join(ROOT, "compose", f), "utf8"));
    const c = find(objects, "Deployment", "apollo-router").spec.template.spec.containers[0];
    const vars = Object.fromEntries(c.env.map((v: any) => [v.name, v.value]));
    const config = configFor(t, loadConfig({ FLEET_GATEWAY_HOST: "0.0.0.0", ...Object.fromEntries(t.processes.filter((p) => p.name.endsWith("-subgraph")).map((p) => [`FLEET_${p.name.replace("-", "_").toUpperCase()}_URL`, `http://${p.name}:${p.port(defaults)}`])) }));
    expect(vars).toEqual({ ...routerEnv(config), FLEET_ROUTER_SCRIPTS: "/dist/config" });
    expect(vars.FLEET_ROBOT_SUBGRAPH_URL).toBe(`http://robot-subgraph:${DEFAULTS.robotSubgraphPort}`);
    expect(c.args).toEqual(["--config", "/dist/config/router.yaml", "--supergraph", "/dist/config/supergraph.graphql", "--anonymous-telemetry-disabled"]);
  });

  test("k6 (user-brought): the script, everything it imports and the request spec, laid out as in the repository", () => {
    for (const t of BUN_ROWS) {
      const { options, objects } = renderK6(t, "--api", "monitor");
      const map = find(objects, "ConfigMap", "k6-script").data;
      const run = find(objects, "TestRun", "fleetbench-load");
      const items: { key: string; path: string }[] = run.spec.runner.volumes.find((v: any) => v.name === "fleetbench").configMap.items;
      const files = new Map(items.map((i) => [i.path, map[i.key]]));
      expect(run.spec.script.localFile).toBe("/fleetbench/k6/fleet.js");
      // Each file as in the repository, and every relative import resolves inside the ConfigMap.
      for (const [path, text] of files) {
        if (path === "spec.json") continue;
        expect(text).toBe(readFileSync(join(ROOT, path), "utf8"));
        for (const [, spec] of text!.matchAll(/^\s*import\s[^"']*["'](\.{1,2}\/[^"']+)["']/gm)) expect(files.has(normalize(join(dirname(path), spec)))).toBe(true);
      }
      expect([...files.keys()].filter((f) => f !== "spec.json").sort()).toEqual(scriptFiles().sort());
      expect(scriptFiles()).toContain("src/determinism.js");
      const config = configFor(t, loadConfig({ FLEET_GATEWAY_URL: `http://${t.gateway}:${DEFAULTS.gatewayPort}` }));
      expect(JSON.parse(files.get("spec.json")!)).toEqual(requestSpec(CASES[t.case], config, options.runId, { monitor: 100 }, defaults.fleetSize, criticalCount(defaults.fleetSize)));
    }
    const { objects } = renderK6(BUN_ROWS[0]);
    expect(JSON.parse(find(objects, "ConfigMap", "k6-script").data["spec.json"]).mix).toEqual(DEFAULT_MIX);
  });

  test("the seed loads the configured fleet, the gate checks the target's case, both with the database from the Secret", () => {
    const t = BUN_ROWS[2];
    const { objects } = render(t);
    const seed = find(objects, "Job", "seed").spec.template.spec.containers[0];
    expect(seed.args).toEqual(["seed", String(defaults.fleetSize)]);
    const gate = find(objects, "Job", "gate");
    expect(gate.spec.backoffLimit).toBe(0);
    const c = gate.spec.template.spec.containers[0];
    // Its log ends with each answer's sha256: what every response of the load is checked against.
    expect(c.args).toEqual(["gate", t.case, "--answers"]);
    expect(c.env.find((v: any) => v.name === "FLEET_GATEWAY_URL").value).toBe(`http://${t.gateway}:${DEFAULTS.gatewayPort}`);
  });

  test("an external database: no PostgreSQL rendered, every DATABASE_URL from the user's Secret", () => {
    const { objects } = render(BUN_ROWS[2], "--database-url-secret", "my-db");
    expect(objects.some((o) => o.metadata.name === "postgres")).toBe(false);
    const refs = JSON.stringify(objects).match(/"secretKeyRef":\{[^}]*\}/g)!;
    expect(refs.length).toBe(5); // three data services, the seed, the gate
    for (const r of refs) expect(r).toBe('"secretKeyRef":{"name":"my-db","key":"DATABASE_URL"}');
  });
});

describe("parallelism splits the load as documented", () => {
  test("runners share VUs and iterations as whole numbers (⌊n/P⌋ or ⌈n/P⌉, n in all) and a rate exactly", () => {
    for (const [n, p] of [[10, 3], [50, 4], [7, 7], [100, 1], [5, 2]]) {
      const shares = runnerShares(n, p);
      expect(shares.length).toBe(p);
      expect(shares.reduce((s, x) => s + x, 0)).toBe(n);
      for (const s of shares) expect([Math.floor(n / p), Math.ceil(n / p)]).toContain(s);
    }
    expect(runnerShares(10, 3).sort()).toEqual([3, 3, 4]);
    expect(splitLoad({ mode: "rate", vus: 10, rate: 300, duration: "1m" }, 4)).toEqual({ parallelism: 4, vus_per_runner: [2, 3, 2, 3], rate_per_runner: 75 });
  });

  test("vegeta: an Indexed Job of P pods, each with its own targets and its share of workers, rate or iterations", () => {
    const t = BUN_ROWS[2];
    /** Each pod's vegeta arguments, from the script's `case "$JOB_COMPLETION_INDEX"` lines. */
    const commands = (objects: K8sObject[]) => {
      const script: string = find(objects, "Job", "load").spec.template.spec.containers[0].command[2];
      return [...script.matchAll(/^ {2}(\d+)\) set -- (.*) ;;$/gm)].map((m) => m[2].split(" ").map((a) => a.replace(/^'|'$/g, "")));
    };
    const targets = (objects: K8sObject[], i: number) => gunzipSync(Buffer.from(find(objects, "ConfigMap", "load-targets").binaryData[`targets-${i}.jsonl.gz`], "base64")).toString().trim().split("\n").map((l: string) => JSON.parse(l));
    const closed = render(t, "--parallelism", "4", "--vus", "50", "--duration", "2m").objects;
    const job = find(closed, "Job", "load");
    expect(job.spec).toMatchObject({ completionMode: "Indexed", completions: 4, parallelism: 4, backoffLimit: 0 });
    const workers = commands(closed).map((c) => c.find((a) => a.startsWith("-workers="))!.slice(9)).map(Number);
    expect(workers).toEqual(runnerShares(50, 4));
    expect(commands(closed).every((c) => c.includes("-duration=2m") && c.includes("-rate=0") && c.includes("-max-body=-1"))).toBe(true);
    // Pod i's targets: a cycle of its own, so the pods do not send the same sequence in lockstep.
    expect(targets(closed, 0)[0]).not.toEqual(targets(closed, 1)[0]);
    expect(targets(closed, 3).length).toBe(4000);
    expect(targets(closed, 0).every((x: any) => x.url.startsWith(`http://${t.gateway}:${DEFAULTS.gatewayPort}/graphql#`))).toBe(true);
    const open = render(t, "--parallelism", "16", "--rate", "800").objects;
    expect(commands(open).every((c) => c.includes("-rate=800/16s") && c.includes("-duration=30s"))).toBe(true);
    const its = render(t, "--parallelism", "3", "--iterations", "1000", "--vus", "20").objects;
    expect([0, 1, 2].map((i) => targets(its, i).length)).toEqual(runnerShares(1000, 3));
    expect(commands(its).every((c) => c.includes("-lazy"))).toBe(true);
    // Their stretches are the run's one sequence, in order: the first pod's first target is the sequence's first.
    const one = render(t, "--parallelism", "1", "--iterations", "1000", "--vus", "20").objects;
    expect([0, 1, 2].flatMap((i) => targets(its, i))).toEqual(targets(one, 0));
    expect(() => render(t, "--parallelism", "11")).toThrow("more runners than VUs (10)");
  });

  test("k6 (user-brought): the TestRun runs P runners, each given the run's totals (k6's execution segments take each runner's share)", () => {
    const t = BUN_ROWS[2];
    const render = renderK6;
    const env = (objects: K8sObject[]) => Object.fromEntries(find(objects, "TestRun", "fleetbench-load").spec.runner.env.map((v: any) => [v.name, v.value]));
    const closed = render(t, "--parallelism", "4", "--vus", "50", "--duration", "2m").objects;
    expect(find(closed, "TestRun", "fleetbench-load").spec.parallelism).toBe(4);
    expect(env(closed)).toMatchObject({ FLEET_MODE: "duration", FLEET_VUS: "50", FLEET_DURATION: "2m" });
    const open = render(t, "--parallelism", "16", "--rate", "800").objects;
    // The open model pre-allocates at least one VU per runner.
    expect(env(open)).toMatchObject({ FLEET_MODE: "rate", FLEET_RATE: "800", FLEET_VUS: "16", FLEET_DURATION: "30s" });
    expect(env(render(t, "--iterations", "1000", "--vus", "20").objects)).toMatchObject({ FLEET_MODE: "iterations", FLEET_ITERATIONS: "1000", FLEET_VUS: "20" });
    expect(() => render(t, "--parallelism", "11")).toThrow("more runners than VUs (10)");
    expect(() => render(t, "--rate", "5", "--iterations", "9")).toThrow("two load modes");
    expect(() => render(t, "--parallelism", "0")).toThrow("--parallelism must be a positive integer");
  });

  test("k6 (user-brought): remote write with native histograms, tagged with the case and the run", () => {
    const { options, objects } = renderK6(BUN_ROWS[4], "--prometheus", "obs/prom:9090");
    const run = find(objects, "TestRun", "fleetbench-load");
    expect(run.spec.arguments).toContain("--out experimental-prometheus-rw");
    const env = Object.fromEntries(run.spec.runner.env.map((v: any) => [v.name, v.value]));
    expect(env.K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM).toBe("true");
    expect(env.K6_PROMETHEUS_RW_SERVER_URL).toBe("http://prom.obs.svc:9090/api/v1/write");
    // fleet.js tags every sample with the spec's case and run id.
    const spec = JSON.parse(find(objects, "ConfigMap", "k6-script").data["spec.json"]);
    expect({ case: spec.case, run: spec.runId }).toEqual({ case: BUN_ROWS[4].case, run: options.runId });
    expect(run.metadata.labels["fleetbench/run"]).toBe(options.runId);
  });
});

describe("safe defaults on every object", () => {
  test("no privilege, no root, read-only root filesystems, no host paths, Guaranteed resources: every pod of every target", () => {
    for (const t of BUN_ROWS) {
      for (const o of [...render(t, "--parallelism", "2").objects, ...renderK6(t, "--parallelism", "2").objects]) expect({ object: `${o.kind}/${o.metadata.name}`, violations: securityViolations(o) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, violations: [] });
    }
    // The check does find a weakened pod.
    const weak = structuredClone(find(render(BUN_ROWS[0]).objects, "Deployment", "rest-gateway"));
    weak.spec.template.spec.containers[0].securityContext.privileged = true;
    weak.spec.template.spec.volumes.push({ name: "host", hostPath: { path: "/" } });
    expect(securityViolations(weak)).toEqual([
      "Deployment/rest-gateway: hostPath",
      "Deployment/rest-gateway rest-gateway: not unprivileged",
      "Deployment/rest-gateway: volume host is neither emptyDir nor ConfigMap",
    ]);
  });

  test("the namespace enforces the restricted Pod Security level; only the gateway's port is open beyond the namespace", () => {
    for (const t of BUN_ROWS) {
      const { objects } = render(t);
      expect(objects[0].kind).toBe("Namespace");
      expect(objects[0].metadata.labels!["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      const policies = objects.filter((o) => o.kind === "NetworkPolicy") as any[];
      // Every pod is selected by a policy that admits only the namespace, Prometheus' namespace and k6-operator's.
      const internal = policies.find((p) => JSON.stringify(p.spec.podSelector) === "{}");
      expect(internal.spec.policyTypes).toEqual(["Ingress"]);
      for (const rule of internal.spec.ingress) expect(rule.from.length).toBeGreaterThan(0);
      expect(internal.spec.ingress[0].from).toEqual([{ podSelector: {} }]);
      // The one rule open to any source: the gateway pods, on the gateway port.
      const open = policies.flatMap((p) => p.spec.ingress.filter((r: any) => !r.from).map((r: any) => ({ pods: p.spec.podSelector, ports: r.ports })));
      expect(open).toEqual([{ pods: { matchLabels: { "app.kubernetes.io/name": t.gateway } }, ports: [{ port: DEFAULTS.gatewayPort, protocol: "TCP" }] }]);
    }
  });

  test("credentials only by reference: no Secret and no password in what render prints", () => {
    for (const t of BUN_ROWS) {
      const { options, objects } = render(t);
      const yaml = renderYaml(t, options, objects);
      expect(objects.some((o) => o.kind === "Secret")).toBe(false);
      expect(yaml).not.toContain(DEFAULTS.dbPassword);
      expect(yaml).not.toMatch(/postgres(ql)?:\/\/[^\s"]*@/);
    }
  });
});

const fleet = fleetCli;

describe("the command line", () => {
  test("`k8s render case2` prints YAML that parses into the rendered objects", () => {
    const r = fleet(["k8s", "case2", "render", "--parallelism", "2"]);
    expect(r.code).toBe(0);
    const docs = Bun.YAML.parse(r.out) as K8sObject[];
    const expected = render(BUN_ROWS.find((t) => t.case === "case2")!, "--parallelism", "2").objects;
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(expected.map((o) => `${o.kind}/${o.metadata.name}`));
    expect(find(docs, "Job", "load").spec.parallelism).toBe(2);
    const k6 = fleet(["k8s", "case2", "render", "--parallelism", "2", "--engine", "k6"]);
    expect(find(Bun.YAML.parse(k6.out) as K8sObject[], "TestRun", "fleetbench-load").spec.parallelism).toBe(2);
    expect(find(docs, "Deployment", "yoga-gateway")).toEqual(find(expected, "Deployment", "yoga-gateway"));
  });

  test("no cluster, or no kubectl: one line says so, exit 2, nothing printed or started", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleetbench-k8s-"));
    const kubeconfig = join(dir, "config");
    writeFileSync(kubeconfig, "");
    for (const [env, why] of [
      // Not on PATH, and none built into the tools cache (`k8s cluster tools kubectl`).
      [{ PATH: dir, FLEET_TOOLS_DIR: dir }, "kubectl is not installed"],
      // An empty kubeconfig: kubectl falls back to a server on localhost that is not there.
      [{ KUBECONFIG: kubeconfig }, "no cluster answers in kubectl's current context"],
    ] as const) {
      if (!env.KUBECONFIG || Bun.which("kubectl")) {
        for (const action of ["up", "gate", "load"]) {
          const r = fleet(["k8s", "case2", action], env);
          expect({ action, code: r.code, out: r.out }).toEqual({ action, code: 2, out: "" });
          expect(r.err.trim().split("\n")).toHaveLength(1);
          expect(r.err).toStartWith(`fleetbench: cannot run on Kubernetes here: ${why}`);
        }
      }
    }
    const deno = fleet(["k8s", "case2", "render"], { FLEET_RUNTIME: "deno" });
    expect({ code: deno.code, out: deno.out, err: deno.err.trim() }).toEqual({ code: 2, out: "", err: "fleetbench: k8s runs the Bun image (compose/Dockerfile) only: FLEET_RUNTIME=deno is for native runs; unset it for k8s" });
    const bad = fleet(["k8s", "case2", "render", "--namespace", "kube-system"]);
    expect(bad.code).toBe(2);
    expect(bad.err.trim()).toBe('fleetbench: --namespace must be a namespace of fleetbench\'s own, not "kube-system"');
    // kubectl asks for a server for up to 5 s per call; six CLI runs.
  }, 60_000);
});

describe("a run's result from Prometheus", () => {
  const q = runQueries("fleetbench", "r1", 89.2);
  test("the queries: k6's series by run, merged native histograms, the namespace's raw counters", () => {
    expect(q.requests).toBe('sum(last_over_time(k6_iterations_total{run="r1"}[90s]))');
    expect(q.latency_p99).toBe('histogram_quantile(0.99, sum(last_over_time(k6_http_req_duration_seconds{run="r1",measured="yes"}[90s])))');
    expect(q.latency_p95_by_api).toBe('histogram_quantile(0.95, sum by (api) (last_over_time(k6_http_req_duration_seconds{run="r1",measured="yes"}[90s])))');
    expect(q.calls).toBe('http_requests_total{namespace="fleetbench",route!~"/metrics|/health"}[89200ms]');
    // Calls from the scrape before the run (vegeta's path gives that moment), to the millisecond.
    expect(runQueries("fleetbench", "r1", 89.2, 95.25).calls).toEndWith("[95250ms]");
    expect(runQueries("fleetbench", "r1", 89.2, 95.25).cpu).toEndWith("[95250ms]");
    expect(q.cpu).toBe('container_cpu_usage_seconds_total{namespace="fleetbench",container!="",container!="POD"}[89200ms]');
    expect(q.rss_total).toBe('max_over_time(sum(container_memory_rss{namespace="fleetbench",container!="",container!="POD",container!~"k6|vegeta"})[90s:15s])');
  });

  test("what kubectl's JSON says of a Job's end and a workload's rollout", () => {
    expect(jobOutcome({ status: { conditions: [{ type: "Complete", status: "True" }] } })).toBe("succeeded");
    expect(jobOutcome({ status: { conditions: [{ type: "Failed", status: "True" }] } })).toBe("failed");
    expect(jobOutcome({ status: { active: 1 } })).toBeNull();
    const deployment = { metadata: { generation: 2 }, spec: { replicas: 2 }, status: { observedGeneration: 2, updatedReplicas: 2, readyReplicas: 2 } };
    expect(rolledOut(deployment)).toBe(true);
    expect(rolledOut({ ...deployment, status: { ...deployment.status, readyReplicas: 1 } })).toBeNull();
    expect(rolledOut({ ...deployment, status: { ...deployment.status, observedGeneration: 1 } })).toBeNull();
    expect(rolledOut(null)).toBeNull();
  });

  test("counters: increases over resets, no extrapolation", () => {
    expect(counterIncrease([[0, "100"], [5, "130"], [10, "150"]])).toBe(50);
    expect(counterIncrease([[0, "100"], [5, "130"], [10, "20"], [15, "25"]])).toBe(55);
    expect(counterIncrease([[0, "7"]])).toBe(0);
  });

  /** Answers as Prometheus' HTTP API gives them: two runners, two replicas of the telemetry service (one restarted). */
  function answers(): Record<keyof typeof q, PromAnswer> {
    const vector = (...rows: [Record<string, string>, number][]): PromAnswer => ({ status: "success", data: { resultType: "vector", result: rows.map(([metric, v]) => ({ metric, value: [1767225690, String(v)] })) } });
    const matrix = (...rows: [Record<string, string>, number[]][]): PromAnswer => ({ status: "success", data: { resultType: "matrix", result: rows.map(([metric, vs]) => ({ metric, values: vs.map((v, i) => [1767225600 + 5 * i, String(v)]) })) } });
    const latency = (s: number) => vector([{}, s]);
    return {
      requests: vector([{}, 1000]), failed: vector([{}, 2]), dropped: vector(), runners: vector([{}, 2]),
      failed_by_api: vector([{ api: "dashboard" }, 2], [{ api: "monitor" }, 0]),
      requests_by_api: vector([{ api: "dashboard" }, 600], [{ api: "monitor" }, 400]),
      latency_p50: latency(0.0041), latency_p90: latency(0.009), latency_p95: latency(0.0112), latency_p99: latency(0.0205), latency_max: latency(0.064),
      latency_p50_by_api: vector([{ api: "dashboard" }, 0.005], [{ api: "monitor" }, 0.003]),
      latency_p90_by_api: vector(), latency_p95_by_api: vector([{ api: "dashboard" }, 0.012]), latency_p99_by_api: vector([{ api: "dashboard" }, 0.021], [{ api: "monitor" }, "NaN" as any]), latency_max_by_api: vector(),
      calls: matrix(
        [{ service: "yoga-gateway", route: "/graphql", pod: "g" }, [50, 1050]],
        [{ service: "robot-service", route: "/robots/batch", pod: "r" }, [10, 610]],
        [{ service: "robot-service", route: "/robots/:id", pod: "r" }, [0, 400]],
        [{ service: "telemetry-service", route: "/telemetry/batch", pod: "t1" }, [0, 400, 600]],
        [{ service: "telemetry-service", route: "/telemetry/batch", pod: "t2" }, [30, 200, 100, 400]],
      ),
      cpu: matrix(
        [{ container: "yoga-gateway", pod: "g" }, [100, 130]],
        [{ container: "k6", pod: "load-1" }, [0, 45]],
        [{ container: "k6", pod: "load-2" }, [0, 46]],
      ),
      rss: vector([{ container: "yoga-gateway" }, 120e6], [{ container: "k6" }, 300e6], [{}, 1]),
      rss_total: vector([{}, 400e6]),
    };
  }

  test("a result in the native format: merged percentiles, calls summed over replicas, CPU per container, flags", () => {
    const a = answers();
    const measured = measuredFromPrometheus(a, { seconds: 50, wallSeconds: 55, gateway: "yoga-gateway", engineExit: 0 });
    const base = baseResult({ runId: "r1", case: "case2", gateway: "yoga-gateway", runtime: "bun", params: { mode: "duration", vus: 10, duration: "50s", mix: DEFAULT_MIX, fleetSize: 15 }, fingerprint: {}, extra: {} });
    const r = k8sResult(base, measured, a, 2);
    expect(r.status).toBe("complete");
    expect(r.summary).toMatchObject({ requests: 1000, rps: 20, ok_rps: 19.96, error_rate: 0.002, dropped_iterations: 0, latency_ms: { p50: 4.1, p90: 9, p95: 11.2, p99: 20.5, max: 64 } });
    // robot: 600 + 400 = 1000; telemetry: 600 on one replica, 170 + 400 after a restart on the other;
    // per successful request (998 of the 1000: error rate 0.2 %).
    expect(r.calls_per_request).toEqual({ "robot-service": 1.002, "telemetry-service": 1.172 });
    expect(r.resources["yoga-gateway"]).toEqual({ cpu_seconds: 30, peak_rss_bytes: 120e6, peak_pss_bytes: 120e6, cpu_ms_per_request: 30.06 });
    expect(r.resources.k6.cpu_seconds).toBe(91);
    expect(Object.keys(r.resources).sort()).toEqual(["k6", "yoga-gateway"]);
    // 91 CPU-s over 55 s is 1.65 cores, but on 2 runners of one CPU each: 0.83 of each, saturated.
    expect(r.extra.generator_cpu_share).toBe(0.83);
    expect(r.flags.sort()).toEqual(["errors", "generator_saturated"]);
    expect((r.extra.per_api as any).dashboard).toEqual({ p50: 5, p95: 12, p99: 21, error_rate: 2 / 600 });
    expect((r.extra.per_api as any).monitor.p99).toBeNull();
    expect((r.extra.memory as any).peak_total_bytes).toBe(400e6);
    expect(Object.keys(r).sort()).toEqual(Object.keys(base).sort());
  });

  test("no requests counted: incomplete; Prometheus' error is said, not read as zero", () => {
    const a = answers();
    a.requests = { status: "success", data: { resultType: "vector", result: [] } };
    const base = baseResult({ runId: "r1", case: "case2", gateway: "yoga-gateway", runtime: "bun", params: { mode: "duration", vus: 10, duration: "50s", mix: DEFAULT_MIX, fleetSize: 15 }, fingerprint: {}, extra: {} });
    expect(k8sResult(base, measuredFromPrometheus(a, { seconds: 50, wallSeconds: 55, gateway: "yoga-gateway", engineExit: 0 }), a, 1).status).toBe("incomplete");
    a.calls = { status: "error", error: 'parse error: unexpected "}"' };
    expect(() => measuredFromPrometheus(a, { seconds: 50, wallSeconds: 55, gateway: "yoga-gateway", engineExit: 0 })).toThrow('Prometheus answered error: parse error: unexpected "}"');
  });

  test("vegeta's pods: their records merged on one clock, every answer checked against the gate Job's hashes, CPU from Prometheus", async () => {
    const { ensureTools, vegetaBinary } = await import("../src/run/tools");
    const { readVegeta, sameHash } = await import("../src/run/engine/vegeta");
    const { summarizeMerged } = await import("../src/run/engine/records");
    const { gateAnswers } = await import("../src/deploy/k8s");
    await ensureTools(defaults, ["vegeta"], () => {});
    // The gate Job's log, as `gate --answers` prints it (hashes of the bodies the recorded server sent).
    const sha = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
    const log = [`answer dashboard:- sha256 ${sha('{"robots":[]}')}`, `answer monitor:robot-001 sha256 ${sha('{"robot":{"id":"robot-001"}}')}`, `answer monitor:robot-002 sha256 ${sha('{"robot":{"id":"robot-002"}}')}`, "gate passed: 3 answers"].join("\n");
    const fake: Kubectl = (args) => ({ code: 0, out: args[0] === "logs" ? log : "", err: "" });
    const hashes = gateAnswers(fake, render(BUN_ROWS[2]).options);
    expect(hashes.size).toBe(3);
    // Two pods' records (the recorded 12 requests twice, the second pod started 250 ms later).
    const file = join(import.meta.dirname, "fixtures", "vegeta-12-requests.bin");
    const pod = await readVegeta(vegetaBinary(defaults), file, sameHash(hashes));
    const { records, summary } = summarizeMerged([pod, { ...pod, startMs: pod.startMs + 250 }], { mode: "iterations", windowSeconds: 1, windows: 0 });
    expect(records.length).toBe(24);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(records.at(-1)!.sent_ms).toBeCloseTo(250 + 24.138, 3);
    expect({ requests: summary.requests, ok: summary.ok_requests, errors: summary.errors }).toEqual({ requests: 24, ok: 18, errors: { status: 2, body: 4, transport: 0 } });
    const a = answers();
    a.cpu = { status: "success", data: { resultType: "matrix", result: [
      { metric: { container: "yoga-gateway", pod: "g" }, values: [[0, "100"], [5, "130"]] },
      { metric: { container: "vegeta", pod: "load-0" }, values: [[0, "0"], [5, "2"]] },
      { metric: { container: "vegeta", pod: "load-1" }, values: [[0, "0"], [5, "3"]] },
    ] } };
    const measured = measuredFromPrometheus(a, { seconds: 10, wallSeconds: 10, gateway: "yoga-gateway", engineExit: 0, summary });
    const base = baseResult({ runId: "r2", case: "case2", gateway: "yoga-gateway", runtime: "bun", params: { mode: "iterations", vus: 4, iterations: 24, mix: DEFAULT_MIX, fleetSize: 15 }, fingerprint: {}, extra: {} });
    const r = k8sResult(base, measured, a, 2, "vegeta");
    expect(r.summary).toMatchObject({ requests: 24, ok_requests: 18, error_rate: 0.25 });
    expect(r.resources.vegeta.cpu_seconds).toBe(5);
    // 5 CPU-s over 10 s on 2 pods of one CPU each: 0.25 of each.
    expect(r.extra.generator_cpu_share).toBe(0.25);
    expect(r.extra.latency_source).toBe("the records of 2 vegeta pod(s), merged (HdrHistogram, 3 significant digits)");
    expect(r.flags).toContain("errors");
  });

  test("the fingerprint: platform kubernetes, the nodes' types and where each process ran", () => {
    const nodes = { items: [
      { metadata: { name: "n1", labels: { "node.kubernetes.io/instance-type": "c7i.xlarge" } }, status: { capacity: { cpu: "4", memory: "8Gi" }, nodeInfo: { architecture: "amd64", osImage: "Bottlerocket", kernelVersion: "6.1", kubeletVersion: "v1.33.1", containerRuntimeVersion: "containerd://2.0" } } },
      { metadata: { name: "kind-control-plane", labels: {} }, status: { capacity: { cpu: "2" }, nodeInfo: {} } },
    ] };
    const podList = { items: [
      { spec: { nodeName: "n1", containers: [{ name: "yoga-gateway" }] } },
      { spec: { nodeName: "n2", containers: [{ name: "k6" }] } },
      { spec: { nodeName: "n1", containers: [{ name: "k6" }] } },
      { spec: { containers: [{ name: "pending" }] } },
    ] };
    expect(nodeFacts(nodes)[0]).toEqual({ name: "n1", instance_type: "c7i.xlarge", cpu: "4", memory: "8Gi", architecture: "amd64", os_image: "Bottlerocket", kernel: "6.1", kubelet: "v1.33.1", container_runtime: "containerd://2.0" });
    expect(nodeFacts(nodes)[1].instance_type).toBeNull();
    expect(placement(podList)).toEqual({ "yoga-gateway": ["n1"], k6: ["n1", "n2"] });
    // kubectl here answers the four questions the fingerprint asks, as a cluster would.
    const answersOf: Record<string, object | string> = { version: { serverVersion: { gitVersion: "v1.33.1" } }, nodes, pods: podList, "current-context": "kind-fleet" };
    const fake: Kubectl = (args) => {
      const key = args[0] === "version" ? "version" : args[0] === "config" ? "current-context" : args[1];
      const a = answersOf[key];
      return { code: 0, out: typeof a === "string" ? a : JSON.stringify(a), err: "" };
    };
    const print = k8sFingerprint(fake, render(BUN_ROWS[2]).options);
    expect(print).toMatchObject({ platform: "kubernetes", pinned: versions, kubernetes: { context: "kind-fleet", server: "v1.33.1" }, placement: { "yoga-gateway": ["n1"] } });
    expect((print.nodes as any[]).map((n) => n.instance_type)).toEqual(["c7i.xlarge", null]);
  });
});
