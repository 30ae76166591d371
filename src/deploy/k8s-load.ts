/**
 * The load on Kubernetes (DESIGN §17): k6/fleet.js, its imports and the request spec as one
 * ConfigMap, and a k6-operator TestRun that runs them in `parallelism` runner pods, pushing to
 * Prometheus by remote write with trends as native histograms (so the runners' latencies can be
 * merged there: k6-operator does not merge the runners' summaries).
 *
 * How the load is split: every runner gets the same totals (FLEET_VUS, FLEET_RATE,
 * FLEET_ITERATIONS, exactly as a native run) and k6-operator gives runner i of P the execution
 * segment (i-1)/P:i/P, so k6 itself scales each number by 1/P: VUs and iterations as whole
 * numbers (⌊V/P⌋ or ⌈V/P⌉ each, V in all), an arrival rate exactly (R/P requests/s each).
 */
import { readFileSync } from "node:fs";
import { dirname, join, normalize, resolve } from "node:path";
import { type ApiName, CASES, type TargetSpec } from "../run/cases";
import { type K6Params, k6Env, requestSpec } from "../run/engine/k6";
import { clusterConfig, containerSecurity, type K8sObject, type K8sOptions, labels, type LoadShape, podSecurity, resourcesOf, targetSlug } from "./k8s-pods";
export type { LoadShape } from "./k8s-pods";
import { mixOf } from "../run/load";
import { K6_SYSTEM_TAGS } from "./prometheus";
import { criticalCount } from "../seed";
import versions from "../versions.json" with { type: "json" };

const ROOT = resolve(import.meta.dirname, "..", "..");
/** k6-operator reaches every runner's REST API on this port (fixed by the operator). */
export const K6_API_PORT = 6565;
/** Where the runners find the script and the spec: the repository's layout, so fleet.js's relative imports resolve. */
export const SCRIPT_ROOT = "/fleetbench";
export const SCRIPT = "k6/fleet.js";
export const TEST_RUN = "fleetbench-load";


/** k6/fleet.js and every file it imports by a relative path, transitively (k6/lib/*, src/determinism.js). */
export function scriptFiles(entry = SCRIPT): string[] {
  const found: string[] = [];
  const visit = (file: string) => {
    if (found.includes(file)) return;
    found.push(file);
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const [, spec] of text.matchAll(/^\s*import\s[^"']*["'](\.{1,2}\/[^"']+)["']/gm)) visit(normalize(join(dirname(file), spec)));
  };
  visit(entry);
  return found;
}

/** A ConfigMap key for a repository path (keys cannot hold "/"): k6/lib/pick.js → k6_lib_pick.js. */
export const configKey = (path: string) => path.replaceAll("/", "_");

/** Each runner's share of a whole number k6 splits by execution segments: ⌊n/P⌋ or ⌈n/P⌉, n in all. */
export function runnerShares(total: number, parallelism: number): number[] {
  return Array.from({ length: parallelism }, (_, i) => Math.floor(((i + 1) * total) / parallelism) - Math.floor((i * total) / parallelism));
}

/** What each runner runs, as recorded with a result and printed with the manifests. */
export function splitLoad(load: LoadShape, parallelism: number) {
  return {
    parallelism,
    vus_per_runner: runnerShares(load.vus, parallelism),
    ...(load.mode === "rate" ? { rate_per_runner: (load.rate ?? 0) / parallelism } : {}),
    ...(load.mode === "iterations" ? { iterations_per_runner: runnerShares(load.iterations ?? 0, parallelism) } : {}),
  };
}

/** The request spec k6 reads (the same as a native run's, with the gateway by its Service name). */
export const clusterSpec = (t: TargetSpec, o: K8sOptions) =>
  requestSpec(CASES[t.case], clusterConfig(t), o.runId, mixOf(o.load.api), o.fleetSize, criticalCount(o.fleetSize));

/** The ConfigMap of the script files and the spec, and the TestRun that runs them. */
export function loadObjects(t: TargetSpec, o: K8sOptions): K8sObject[] {
  const files = scriptFiles();
  const l = labels("k6", targetSlug(t));
  const prom = o.prometheus;
  const remoteWrite = {
    K6_PROMETHEUS_RW_SERVER_URL: `http://${prom.name}.${prom.namespace}.svc:${prom.port}/api/v1/write`,
    K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM: "true",
    K6_SYSTEM_TAGS,
  };
  const vars = { ...k6Env(o.load, `${SCRIPT_ROOT}/spec.json`), ...remoteWrite };
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "k6-script", namespace: o.namespace, labels: l },
      data: {
        ...Object.fromEntries(files.map((f) => [configKey(f), readFileSync(join(ROOT, f), "utf8")])),
        "spec.json": JSON.stringify(clusterSpec(t, o), null, 2),
      },
    },
    {
      apiVersion: "k6.io/v1alpha1",
      kind: "TestRun",
      metadata: { name: TEST_RUN, namespace: o.namespace, labels: { ...l, "fleetbench/run": o.runId } },
      spec: {
        parallelism: o.parallelism,
        script: { localFile: `${SCRIPT_ROOT}/${SCRIPT}` },
        arguments: "--no-usage-report --out experimental-prometheus-rw",
        runner: {
          image: `grafana/k6:${versions.k6}`,
          metadata: { labels: { ...l, "fleetbench/run": o.runId } },
          automountServiceAccountToken: "false",
          env: Object.entries(vars).map(([name, value]) => ({ name, value })),
          resources: resourcesOf("k6"),
          securityContext: podSecurity(),
          containerSecurityContext: containerSecurity(),
          volumes: [
            { name: "fleetbench", configMap: { name: "k6-script", items: [...files, "spec.json"].map((f) => ({ key: configKey(f), path: f })) } },
            // The initializer (a copy of the runner) writes its archive to /tmp.
            { name: "tmp", emptyDir: {} },
          ],
          volumeMounts: [
            { name: "fleetbench", mountPath: SCRIPT_ROOT, readOnly: true },
            { name: "tmp", mountPath: "/tmp" },
          ],
        },
        starter: {
          automountServiceAccountToken: "false",
          resources: resourcesOf("starter"),
          securityContext: podSecurity(),
          containerSecurityContext: containerSecurity(),
        },
      },
    },
  ];
}
