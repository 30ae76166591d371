/**
 * The parts every fleetbench pod on Kubernetes shares (docs/design.md §17): the options of a rendering,
 * the configuration the pods run with, the security defaults, the resources of each component,
 * labels and scrape annotations. Every workload of
 * src/deploy/k8s-manifests.ts and the load pods of src/deploy/k8s-load.ts are built from these, so a default
 * holds for all of them or for none (test/k8s.test.ts checks every rendered pod).
 *
 * Types only from kubernetes-models (erased at run time): the field names are checked by the
 * compiler, the values by the models' schemas in the tests.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IPodSecurityContext } from "kubernetes-models/v1/PodSecurityContext";
import type { ISecurityContext } from "kubernetes-models/v1/SecurityContext";
import type { IResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import { type ApiName, type ProcessSpec, type TargetSpec, configFor, gatewayEnv } from "../run/cases";
import { type Config, type EngineName, loadConfig } from "../config";
import type { K6Params } from "../run/engine/k6";
import { componentOf } from "../run/run-result";

/** What the load engine is asked to do on the cluster: the native runner's parameters, and one API or the mix. */
export type LoadShape = K6Params & { api?: ApiName };

export interface K8sOptions {
  namespace: string;
  /** Load pods (vegeta: an Indexed Job's; k6: the TestRun's runners); the load is split between them (src/deploy/k8s-load.ts). */
  parallelism: number;
  /** The load engine (FLEET_ENGINE / --engine): vegeta by default, k6 through k6-operator when the user brings it. */
  engine: EngineName;
  /** The image of the vegeta pods (compose/vegeta.Dockerfile builds it). */
  engineImage: string;
  /** The compose image (compose/Dockerfile), which runs every Bun role. */
  image: string;
  /** A Secret of the user's with key DATABASE_URL: no PostgreSQL is rendered, that server is used. null: PostgreSQL in the namespace. */
  databaseUrlSecret: string | null;
  /** The Prometheus the results are read from (and k6 runners push to): its Service. */
  prometheus: { namespace: string; name: string; port: number };
  /** Where k6-operator's controller runs: it calls each runner's REST API on port 6565. */
  operatorNamespace: string;
  runId: string;
  load: LoadShape;
  fleetSize: number;
  /**
   * "guaranteed" (the default): each container requests what it is limited to (RESOURCES).
   * "none": no requests and no limits, every process sharing the node as natively — for a node
   * smaller than the requests add up to (a target asks for 4–6 CPUs; the cluster built here has 2).
   */
  resources?: "guaranteed" | "none";
}

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: unknown };

/** The target's name on labels and objects: case and gateway ("case3-apollo-router"). */
export const targetSlug = (t: TargetSpec) => `${t.case}-${t.gateway}`;

/** The variable that moves a process's URL in src/config.ts: FLEET_ROBOT_URL, FLEET_ROBOT_SUBGRAPH_URL, FLEET_GATEWAY_URL. */
export const urlVariable = (t: TargetSpec, p: ProcessSpec) =>
  p.name === t.gateway ? "FLEET_GATEWAY_URL" : `FLEET_${p.name.replace(/-service$/, "").replaceAll("-", "_").toUpperCase()}_URL`;

/**
 * What every Bun role of the target gets, beside DATABASE_URL: bind every address (a pod's
 * loopback is its own) and each process's URL by its Service name on the table's port.
 */
export function clusterEnv(t: TargetSpec): Record<string, string> {
  const defaults = loadConfig({});
  return {
    FLEET_BIND_HOST: "0.0.0.0",
    FLEET_GATEWAY_HOST: "0.0.0.0",
    ...gatewayEnv(t),
    ...Object.fromEntries(t.processes.map((p) => [urlVariable(t, p), `http://${p.name}:${p.port(defaults)}`])),
  };
}

/** The configuration every pod of the target runs with: docs/design.md §2's defaults, addresses by Service name. */
export const clusterConfig = (t: TargetSpec): Config => configFor(t, loadConfig(clusterEnv(t)));

/**
 * A user id of no one, for every image that does not need its own: runAsNonRoot cannot check an
 * image whose USER is a name (Apollo Router's `router`), only a number. PostgreSQL keeps the
 * Debian image's `postgres` (999), which owns its data folder.
 */
export const NOBODY = 65534;
export const POSTGRES_UID = 999;

/**
 * Requests equal limits: every pod in the Guaranteed QoS class, so a neighbour cannot take CPU a
 * process was counted on, and on nodes with the static CPU manager the whole-CPU ones get cores
 * of their own. The same for every gateway and every service of a kind, in every case (docs/design.md §7).
 * @default by component (src/run/run-result.ts componentOf), plus `jobs` for the seed and the gate
 */
export const RESOURCES: Record<string, { cpu: string; memory: string }> = {
  gateway: { cpu: "1", memory: "512Mi" },
  subgraphs: { cpu: "500m", memory: "256Mi" },
  "data services": { cpu: "1", memory: "512Mi" },
  postgres: { cpu: "1", memory: "1Gi" },
  "load generator": { cpu: "1", memory: "1Gi" },
  k6: { cpu: "1", memory: "1Gi" },
  /** k6-operator's starter: one curl per runner to start the test. */
  starter: { cpu: "100m", memory: "64Mi" },
  // The seed holds a whole fleet in memory before it writes (10,000 robots: a million rows).
  jobs: { cpu: "500m", memory: "1Gi" },
};

export function resourcesOf(kind: string, resources: K8sOptions["resources"] = "guaranteed"): IResourceRequirements {
  const r = RESOURCES[RESOURCES[kind] ? kind : componentOf(kind)];
  if (!r) throw new Error(`no resources for ${kind}: add its component to RESOURCES (src/deploy/k8s-pods.ts)`);
  return resources === "none" ? {} : { requests: { ...r }, limits: { ...r } };
}

/** What the pod runs as: never root, the runtime's default seccomp profile (the `restricted` Pod Security level). */
export const podSecurity = (uid = NOBODY): IPodSecurityContext => ({
  runAsNonRoot: true,
  runAsUser: uid,
  runAsGroup: uid,
  fsGroup: uid,
  seccompProfile: { type: "RuntimeDefault" },
});

/** No privilege, no capability, no way to gain one, and a root filesystem nothing can write. */
export const containerSecurity = (): ISecurityContext => ({
  privileged: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
});

/** A writable /tmp (and whatever else a role must write), as emptyDir volumes. */
export function scratch(paths: Record<string, string> = {}): { volumes: IVolume[]; mounts: IVolumeMount[] } {
  const all = { tmp: "/tmp", ...paths };
  return {
    volumes: Object.keys(all).map((name) => ({ name, emptyDir: {} })),
    mounts: Object.entries(all).map(([name, mountPath]) => ({ name, mountPath })),
  };
}

export const PART_OF = { "app.kubernetes.io/part-of": "fleetbench" };

/** Labels of a process's objects: its name (the selector), fleetbench, and the target when it belongs to one. */
export function labels(name: string, target?: string): Record<string, string> {
  return { "app.kubernetes.io/name": name, ...PART_OF, ...(target ? { "fleetbench/target": target } : {}) };
}

/** The annotations Prometheus' usual Kubernetes pod discovery reads: every process serves /metrics on its own port. */
export const scrapeAnnotations = (port: number) => ({
  "prometheus.io/scrape": "true",
  "prometheus.io/port": String(port),
  "prometheus.io/path": "/metrics",
});

/**
 * A pod spec with the defaults: hardened containers, scratch volumes, no service-account token
 * (nothing here talks to the API server) and no service-link variables (the curated environment
 * of docs/design.md §12: a process gets fleetbench's variables, not one per Service of the namespace).
 */
export function podSpec(containers: IContainer[], extra: { uid?: number; volumes?: IVolume[]; restartPolicy?: "Never" } = {}): IPodSpec {
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: podSecurity(extra.uid),
    containers: containers.map((c) => ({ ...c, securityContext: containerSecurity() })),
    volumes: extra.volumes ?? [],
    ...(extra.restartPolicy ? { restartPolicy: extra.restartPolicy } : {}),
  };
}
