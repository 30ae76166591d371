/**
 * The load on Kubernetes (docs/design.md §17, §22), by engine.
 *
 * vegeta (the default): an Indexed Job of `parallelism` pods. Pod i reads its own targets from a
 * ConfigMap (the seeded request sequence, its own stretch of it), attacks the gateway's Service
 * with its share of the load, keeps its records (bodies included) on a scratch volume and waits;
 * `k8s load` copies each pod's records out, merges them into one result and checks every answer
 * against the gate Job's (src/deploy/k8s.ts). How the load is split: workers and iterations as
 * whole numbers (⌊V/P⌋ or ⌈V/P⌉ each, V in all), an arrival rate exactly (R requests per P s each).
 *
 * k6 (a user-brought engine): k6/fleet.js, its imports and the request spec as one ConfigMap, and a
 * k6-operator TestRun that runs them in `parallelism` runner pods, pushing to Prometheus by remote
 * write with trends as native histograms (k6-operator does not merge the runners' summaries).
 * Every runner gets the same totals and runner i of P the execution segment (i-1)/P:i/P, so k6
 * itself scales each number by 1/P.
 */
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { dirname, join, normalize, resolve } from "node:path";
import { CASES, type TargetSpec } from "../run/cases";
import { k6Env, requestSpec } from "../run/engine/k6";
import { attackArgs, TARGET_CYCLE, targetLines } from "../run/engine/vegeta";
import { clusterConfig, containerSecurity, type K8sObject, type K8sOptions, labels, type LoadShape, podSecurity, podSpec, resourcesOf, targetSlug } from "./k8s-pods";
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

/** Each pod's share of a whole number: ⌊n/P⌋ or ⌈n/P⌉, n in all (as k6's execution segments split it too). */
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

/** Where each vegeta pod keeps its records until `k8s load` copies them out; `done` says it finished. */
export const RECORDS_DIR = "/records";
export const LOAD_JOB = "load";

/**
 * The targets of pod `index`: in the closed and open models a cycle of its own (the seeded
 * sequence from index × TARGET_CYCLE on), so pods do not send in lockstep; in iterations mode its
 * stretch of the run's one sequence, exactly its share.
 */
export function podTargets(t: TargetSpec, o: K8sOptions, index: number): string {
  const config = clusterConfig(t);
  const mix = mixOf(o.load.api);
  const shares = o.load.mode === "iterations" ? runnerShares(o.load.iterations ?? 0, o.parallelism) : [];
  const first = o.load.mode === "iterations" ? shares.slice(0, index).reduce((s, n) => s + n, 0) : index * TARGET_CYCLE;
  const count = o.load.mode === "iterations" ? shares[index] : TARGET_CYCLE;
  return targetLines(CASES[t.case], config, mix, o.fleetSize, count, first);
}

/** Pod `index`'s share of the load as vegeta's command: workers, rate (R per P seconds) or iterations. */
export function podAttack(t: TargetSpec, o: K8sOptions, index: number): string[] {
  const vus = runnerShares(o.load.vus, o.parallelism)[index];
  const shape = o.load.mode === "iterations" ? { mode: "iterations" as const, vus, iterations: runnerShares(o.load.iterations ?? 0, o.parallelism)[index] } : { ...o.load, vus };
  const args = attackArgs("vegeta", shape, `${RECORDS_DIR}/targets.jsonl`, `${RECORDS_DIR}/out.bin`, { timeoutMs: clusterConfig(t).timeoutMs * 3, keepBodies: true });
  // R requests per P seconds in each pod: R/P per second exactly, where vegeta takes a whole count per period.
  return o.load.mode === "rate" ? args.map((a) => (a.startsWith("-rate=") ? `-rate=${o.load.rate}/${o.parallelism}s` : a)) : args;
}

/** The ConfigMap of every pod's targets and the Indexed Job of vegeta pods. */
function vegetaObjects(t: TargetSpec, o: K8sOptions): K8sObject[] {
  const l = labels("vegeta", targetSlug(t));
  const indices = Array.from({ length: o.parallelism }, (_, i) => i);
  // Each pod picks its own command by its index (JOB_COMPLETION_INDEX); records stay until copied.
  const script = [
    "case \"$JOB_COMPLETION_INDEX\" in",
    ...indices.map((i) => `  ${i}) set -- ${podAttack(t, o, i).map((a) => `'${a}'`).join(" ")} ;;`),
    "esac",
    `gunzip -c ${SCRIPT_ROOT}/targets-$JOB_COMPLETION_INDEX.jsonl.gz > ${RECORDS_DIR}/targets.jsonl || exit 1`,
    `"$@"; code=$?`,
    `echo "$code" > ${RECORDS_DIR}/done`,
    `echo "vegeta exited with code $code; waiting for k8s load to copy ${RECORDS_DIR}/out.bin"`,
    "exec sleep 3600",
  ].join("\n");
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "load-targets", namespace: o.namespace, labels: l },
      // Compressed: 4,000 targets a pod are ~1.6 MB of JSON, past a ConfigMap's 1 MiB; gzip makes them ~2 %.
      binaryData: Object.fromEntries(indices.map((i) => [`targets-${i}.jsonl.gz`, gzipSync(podTargets(t, o, i), { level: 9 }).toString("base64")])),
    },
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: LOAD_JOB, namespace: o.namespace, labels: { ...l, "fleetbench/run": o.runId } },
      spec: {
        completionMode: "Indexed",
        completions: o.parallelism,
        parallelism: o.parallelism,
        backoffLimit: 0,
        template: {
          metadata: { labels: { ...l, "fleetbench/run": o.runId } },
          spec: podSpec([{
            name: "vegeta",
            image: o.engineImage,
            command: ["sh", "-c", script],
            resources: resourcesOf("vegeta", o.resources),
            volumeMounts: [
              { name: "targets", mountPath: SCRIPT_ROOT, readOnly: true },
              { name: "records", mountPath: RECORDS_DIR },
            ],
          }], {
            restartPolicy: "Never",
            volumes: [
              { name: "targets", configMap: { name: "load-targets" } },
              { name: "records", emptyDir: {} },
            ],
          }),
        },
      },
    },
  ];
}

/** The load's objects: vegeta's Indexed Job by default, k6-operator's TestRun for a user-brought k6. */
export function loadObjects(t: TargetSpec, o: K8sOptions): K8sObject[] {
  return o.engine === "k6" ? k6Objects(t, o) : vegetaObjects(t, o);
}

/** The ConfigMap of the script files and the spec, and the TestRun that runs them (k6). */
function k6Objects(t: TargetSpec, o: K8sOptions): K8sObject[] {
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
          resources: resourcesOf("k6", o.resources),
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
          resources: resourcesOf("starter", o.resources),
          securityContext: podSecurity(),
          containerSecurityContext: containerSecurity(),
        },
      },
    },
  ];
}
