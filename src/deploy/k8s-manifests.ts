/**
 * A target on Kubernetes (docs/design.md §17), generated from the one table of targets (src/run/cases.ts) and
 * the configuration defaults, as plain objects printed as YAML by `k8s render`.
 *
 * Generated YAML, not a kustomize base with an overlay per case: an overlay per case would be the
 * list of cases, their processes and ports written out a second time as files (STYLE, "Avoid" 1
 * and 2), kept equal to the table by a test, as compose's hand-written files are. Generated from
 * the table, a new row renders with nothing else to write. What `render` prints is ordinary YAML:
 * it can be applied as it is, or kept as a kustomize resource by whoever wants patches on top.
 *
 * One namespace holds one target at a time (processes of different cases share names and ports):
 * the namespace, its policies, PostgreSQL and its data are shared and stay; the target's objects
 * carry `fleetbench/target`, so `k8s up` of another target removes them first (src/deploy/k8s.ts).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { ProcessSpec, TargetSpec } from "../run/cases";
import { loadConfig } from "../config";
import { clusterConfig, clusterEnv, type K8sObject, type K8sOptions, labels, PART_OF, podSpec, POSTGRES_UID, resourcesOf, scratch, scrapeAnnotations, targetSlug } from "./k8s-pods";
import { K6_API_PORT, loadObjects } from "./k8s-load";
import { SERVER_SETTINGS } from "../run/pg-cluster";
import { componentOf } from "../run/run-result";
import { ROUTER_CONFIG, routerEnv, SUPERGRAPH } from "../router";
import { HIVE_ROUTER_CONFIG, HIVE_ROUTER_VERSION, hiveRouterEnv } from "../hive-router";
import { nginxConf } from "../nginx";
import versions from "../versions.json" with { type: "json" };
import { stringifyYaml } from "../run/yaml";

const ROOT = resolve(import.meta.dirname, "..", "..");

export const K8S_DEFAULTS = {
  namespace: "fleetbench",
  parallelism: 1,
  /** What `docker build -f compose/Dockerfile -t fleetbench:bun-<bun> .` tags: the Bun version is the image's. */
  image: `fleetbench:bun-${versions.bun}`,
  /** The Secret `k8s up` creates (keys DATABASE_URL and POSTGRES_PASSWORD, a random password) when no --database-url-secret is given. */
  databaseSecret: "fleetbench-db",
  /** The prometheus-community chart's Service, release `prometheus` in namespace `monitoring`. */
  prometheus: "monitoring/prometheus-server:80",
  operatorNamespace: "k6-operator-system",
  /** What `docker build -f compose/vegeta.Dockerfile -t fleetbench-vegeta:<version> .` tags. */
  engineImage: `fleetbench-vegeta:${versions.vegeta}`,
  /** PostgreSQL's volume: a fleet of 10,000 robots is about 1.2 GB with its indexes. */
  postgresStorage: "4Gi",
} as const;

const env = (vars: Record<string, string>): IEnvVar[] => Object.entries(vars).map(([name, value]) => ({ name, value }));
const secretEnv = (name: string, secret: string, key = name): IEnvVar => ({ name, valueFrom: { secretKeyRef: { name: secret, key } } });
const meta = (name: string, o: K8sOptions, l: Record<string, string> = labels(name)) => ({ name, namespace: o.namespace, labels: l });
const databaseUrl = (o: K8sOptions) => secretEnv("DATABASE_URL", o.databaseUrlSecret ?? K8S_DEFAULTS.databaseSecret);

/** The DATABASE_URL of the PostgreSQL in the namespace, with the password `k8s up` generated. */
export function inClusterDatabaseUrl(password: string): string {
  const c = loadConfig({});
  return `postgres://${c.db.user}:${encodeURIComponent(password)}@postgres:${c.ports.pg}/${c.db.name}`;
}

/** A one-shot run of the Bun image (`bun src/main.ts ARGS`). */
function bunJob(name: string, args: string[], vars: IEnvVar[], o: K8sOptions, l: Record<string, string>, retries: number): K8sObject {
  const tmp = scratch();
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: meta(name, o, l),
    spec: {
      backoffLimit: retries,
      template: {
        metadata: { labels: l },
        spec: podSpec([{ name, image: o.image, imagePullPolicy: "IfNotPresent", args, env: vars, resources: resourcesOf("jobs", o.resources), volumeMounts: tmp.mounts }], { volumes: tmp.volumes, restartPolicy: "Never" }),
      },
    },
  };
}

function postgres(o: K8sOptions): K8sObject[] {
  const c = loadConfig({});
  const l = labels("postgres");
  // The official image's entrypoint writes only the data folder, its socket folder and /tmp.
  const dirs = scratch({ run: "/var/run/postgresql" });
  const container: IContainer = {
    name: "postgres",
    image: `postgres:${versions.postgres}`,
    imagePullPolicy: "IfNotPresent",
    // The native server's settings (src/run/pg-cluster.ts), so the database is not what differs.
    args: SERVER_SETTINGS.flatMap((s) => ["-c", s]),
    env: [
      ...env({ POSTGRES_DB: c.db.name, POSTGRES_USER: c.db.user, PGDATA: "/var/lib/postgresql/data/pgdata" }),
      secretEnv("POSTGRES_PASSWORD", K8S_DEFAULTS.databaseSecret),
    ],
    ports: [{ name: "postgres", containerPort: 5432 }],
    readinessProbe: { exec: { command: ["pg_isready", "-U", c.db.user, "-d", c.db.name] }, periodSeconds: 2 },
    resources: resourcesOf("postgres", o.resources),
    volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }, ...dirs.mounts],
  };
  return [
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: meta("postgres", o),
      spec: {
        serviceName: "postgres",
        replicas: 1,
        selector: { matchLabels: { "app.kubernetes.io/name": "postgres" } },
        template: { metadata: { labels: l }, spec: podSpec([container], { uid: POSTGRES_UID, volumes: dirs.volumes }) },
        volumeClaimTemplates: [{ metadata: { name: "data", labels: l }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: K8S_DEFAULTS.postgresStorage } } } }],
      },
    },
    service("postgres", c.ports.pg, "postgres", o, l),
  ];
}

function service(name: string, port: number, targetPort: number | string, o: K8sOptions, l: Record<string, string>): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(name, o, l),
    spec: { type: "ClusterIP", selector: { "app.kubernetes.io/name": name }, ports: [{ name: "http", port, targetPort, protocol: "TCP" }] },
  };
}

const ROUTER_DIR = "/dist/config";

/** Processes that do not run on the Bun image: their image and how they start (the table gives only their name and port). */
const FOREIGN: Record<string, (t: TargetSpec) => { container: Omit<IContainer, "name">; configMap?: { name: string; data: Record<string, string> } }> = {
  "apollo-router": (t) => ({
    container: {
      image: `ghcr.io/apollographql/router:v${versions.apolloRouter}`,
      args: ["--config", `${ROUTER_DIR}/router.yaml`, "--supergraph", `${ROUTER_DIR}/supergraph.graphql`, "--anonymous-telemetry-disabled"],
      env: env({ ...routerEnv(clusterConfig(t)), FLEET_ROUTER_SCRIPTS: ROUTER_DIR }),
      volumeMounts: [{ name: "config", mountPath: ROUTER_DIR, readOnly: true }],
    },
    // The files the native router reads, unchanged: router.yaml takes every address from the environment.
    configMap: {
      name: "apollo-router-config",
      data: Object.fromEntries([ROUTER_CONFIG, join(ROOT, "compose", "router.rhai"), SUPERGRAPH].map((f) => [f.split("/").pop()!, readFileSync(f, "utf8")])),
    },
  }),
  "hive-router": (t) => ({
    container: {
      image: HIVE_ROUTER_IMAGE,
      env: env({ ...hiveRouterEnv(clusterConfig(t)), ROUTER_CONFIG_FILE_PATH: `${ROUTER_DIR}/hive-router.yaml` }),
      volumeMounts: [{ name: "config", mountPath: ROUTER_DIR, readOnly: true }],
    },
    // The files the native router reads: hive-router.yaml finds the supergraph beside itself.
    configMap: {
      name: "hive-router-config",
      data: Object.fromEntries([HIVE_ROUTER_CONFIG, SUPERGRAPH].map((f) => [f.split("/").pop()!, readFileSync(f, "utf8")])),
    },
  }),
  nginx: (t) => {
    const c = clusterConfig(t);
    return {
      container: {
        image: NGINX_IMAGE,
        // NGINX itself, not the image's entrypoint (its scripts rewrite /etc/nginx, read-only here),
        // as no root: its pid and temporary folders in the pod's scratch /tmp.
        command: ["nginx"],
        args: ["-p", "/tmp", "-e", "stderr", "-c", `${ROUTER_DIR}/nginx.conf`, "-g", "daemon off;"],
        volumeMounts: [{ name: "config", mountPath: ROUTER_DIR, readOnly: true }],
      },
      configMap: {
        name: "nginx-config",
        data: { "nginx.conf": nginxConf(c, { listen: `0.0.0.0:${c.ports.gateway}`, robot: new URL(c.urls.robot).host, prefix: "/tmp" }) },
      },
    };
  },
};

/** The official images of the binaries that are not Bun roles, at their pins (src/versions.json). */
export const HIVE_ROUTER_IMAGE = `ghcr.io/graphql-hive/router:${HIVE_ROUTER_VERSION}`;
export const NGINX_IMAGE = `nginx:${versions.nginx}`;

/**
 * The row as pods see it. clusterEnv (k8s-pods.ts) gives a row's choice as CASE3_GATEWAY; an NGINX
 * row's choice is REST_GATEWAY's, which no pod reads (a Bun role does not depend on the gateway in
 * front of it), so the pods of a REST row get none.
 */
const podView = (t: TargetSpec): TargetSpec => (t.protocol === "rest" ? { ...t, choice: undefined } : t);

/** One process of the table: a Deployment of one replica and its Service on the table's port. */
function processObjects(t: TargetSpec, p: ProcessSpec, o: K8sOptions): K8sObject[] {
  const port = p.port(clusterConfig(t));
  const l = labels(p.name, targetSlug(t));
  const tmp = scratch();
  const foreign = p.args ? null : FOREIGN[p.name]?.(t);
  if (!p.args && !foreign) throw new Error(`${p.name} runs no Bun role and has no image in src/deploy/k8s-manifests.ts FOREIGN`);
  const base: IContainer = foreign
    ? { name: p.name, ...foreign.container, volumeMounts: [...(foreign.container.volumeMounts ?? []), ...tmp.mounts] }
    : {
        name: p.name,
        image: o.image,
        args: p.args,
        env: [...env(clusterEnv(t)), ...(componentOf(p.name) === "data services" ? [databaseUrl(o)] : [])],
        volumeMounts: tmp.mounts,
      };
  const container: IContainer = {
    ...base,
    imagePullPolicy: "IfNotPresent",
    ports: [{ name: "http", containerPort: port }],
    // Readiness only: a liveness probe would restart a process that is slow under load, in the middle of a measured run.
    readinessProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 2, timeoutSeconds: 2 },
    resources: resourcesOf(p.name, o.resources),
  };
  const volumes = [...tmp.volumes, ...(foreign?.configMap ? [{ name: "config", configMap: { name: foreign.configMap.name } }] : [])];
  return [
    ...(foreign?.configMap ? [{ apiVersion: "v1", kind: "ConfigMap", metadata: meta(foreign.configMap.name, o, l), data: foreign.configMap.data }] : []),
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta(p.name, o, l),
      spec: {
        replicas: 1,
        selector: { matchLabels: { "app.kubernetes.io/name": p.name } },
        template: { metadata: { labels: l, annotations: scrapeAnnotations(port) }, spec: podSpec([container], { volumes }) },
      },
    },
    service(p.name, port, "http", o, l),
  ];
}

/**
 * Ingress only from the namespace itself, except: the gateway's port from anywhere (the one way
 * in), the processes' ports from Prometheus' namespace (it scrapes /metrics on them), and, with
 * a user-brought k6, the runners' REST API from k6-operator's namespace (its controller starts
 * and watches them). vegeta's pods take no connection at all.
 */
function networkPolicies(t: TargetSpec, o: K8sOptions): K8sObject[] {
  const c = clusterConfig(t);
  const from = (ns: string) => [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } }];
  const tcp = (port: number) => ({ port, protocol: "TCP" });
  return [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta("fleetbench-internal", o, labels("fleetbench-internal", targetSlug(t))),
      spec: {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [
          { from: [{ podSelector: {} }] },
          { from: from(o.prometheus.namespace), ports: t.processes.map((p) => tcp(p.port(c))) },
          ...(o.engine === "k6" ? [{ from: from(o.operatorNamespace), ports: [tcp(K6_API_PORT)] }] : []),
        ],
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta("fleetbench-gateway", o, labels("fleetbench-gateway", targetSlug(t))),
      spec: {
        podSelector: { matchLabels: { "app.kubernetes.io/name": t.gateway } },
        policyTypes: ["Ingress"],
        ingress: [{ ports: [tcp(c.ports.gateway)] }],
      },
    },
  ];
}

/**
 * Every object of `t`, in the order `kubectl apply` creates them: the namespace (enforcing the
 * `restricted` Pod Security level, so the cluster itself refuses a pod without the defaults),
 * policies, the database and the seed, the processes, the correctness gate, the load.
 */
export function renderTarget(row: TargetSpec, o: K8sOptions): K8sObject[] {
  const t = podView(row);
  const seedLabels = labels("seed");
  const gateLabels = labels("gate", targetSlug(t));
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: o.namespace, labels: { ...PART_OF, "pod-security.kubernetes.io/enforce": "restricted" } },
    },
    ...networkPolicies(t, o),
    ...(o.databaseUrlSecret ? [] : postgres(o)),
    bunJob("seed", ["seed", String(o.fleetSize)], [databaseUrl(o)], o, seedLabels, 6),
    ...t.processes.flatMap((p) => processObjects(t, p, o)),
    // Once, before the load, against the database (docs/design.md §7); never retried into passing. Its log
    // holds each answer's sha256, which every response of the load is checked against.
    bunJob("gate", ["gate", t.case, "--answers"], [...env(clusterEnv(t)), databaseUrl(o)], o, gateLabels, 0),
    ...loadObjects(t, o),
  ];
}

/** The objects as one YAML stream, with a header saying where they come from. */
export function renderYaml(t: TargetSpec, o: K8sOptions, objects = renderTarget(t, o)): string {
  const header = [
    `# fleetbench on Kubernetes: ${t.label} (${t.title}), run ${o.runId}, generated from src/run/cases.ts by src/deploy/k8s-manifests.ts.`,
    `# Namespace ${o.namespace}; Bun image ${o.image}; database ${o.databaseUrlSecret ? `from Secret ${o.databaseUrlSecret} (key DATABASE_URL)` : `PostgreSQL ${versions.postgres} in the namespace, password in Secret ${K8S_DEFAULTS.databaseSecret} (\`just k8s up\` creates it)`}.`,
    o.engine === "k6"
      ? `# Load: k6-operator TestRun with parallelism ${o.parallelism} (a user-brought k6); metrics to Prometheus ${o.prometheus.namespace}/${o.prometheus.name}:${o.prometheus.port}.`
      : `# Load: vegeta ${versions.vegeta} (image ${o.engineImage}) as an Indexed Job of ${o.parallelism} pod(s), their records merged into one result; containers' CPU and memory from Prometheus ${o.prometheus.namespace}/${o.prometheus.name}:${o.prometheus.port}.`,
  ];
  // Through JSON first: an object met twice would otherwise be written as a YAML anchor and alias.
  const docs = objects.map((obj) => stringifyYaml(JSON.parse(JSON.stringify(obj))).replace(/[ \t]+$/gm, "").trimEnd());
  return `${header.join("\n")}\n${docs.map((d) => `---\n${d}\n`).join("")}`;
}
