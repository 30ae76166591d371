/**
 * fleetbench on Kubernetes (DESIGN §17): the manifests of a target (src/deploy/k8s-manifests.ts), and a
 * run against the cluster of kubectl's current context, written as a native run's result.
 *
 *   bun src/main.ts k8s render TARGET [options]   print the manifests (no cluster needed)
 *   bun src/main.ts k8s up TARGET [options]       the database, the seed, the target's processes
 *   bun src/main.ts k8s gate TARGET [options]     the correctness gate, as a Job
 *   bun src/main.ts k8s load TARGET [options]     the gate if not passed, then vegeta's Indexed Job (or, with --engine k6,
 *                                                 a k6-operator TestRun); the result under results/
 *   bun src/main.ts k8s down [TARGET] [options]   delete what fleetbench created (the namespace is kept)
 *   bun src/main.ts k8s cluster tools [NAME]...   build the components of a cluster run here (src/deploy/k8s-cluster-tools.ts)
 *
 * TARGET is a case (case1, case1b, case2, case3; Case 3's gateway by CASE3_GATEWAY, as everywhere).
 */
import { randomBytes } from "node:crypto";
import type { TargetSpec } from "../run/cases";
import type { Config } from "../config";
import { RefusedError, UsageError } from "../errors";
import { codeVersion } from "../run/fingerprint";
import { durationSeconds } from "../run/engine/k6";
import { clusterSpec, LOAD_JOB, RECORDS_DIR, splitLoad, TEST_RUN } from "./k8s-load";
import { CLUSTER_QUERIES } from "./k8s-result";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureEngine } from "../run/engine/engine";
import { sameHash, readVegeta } from "../run/engine/vegeta";
import { summarizeMerged, writeRecords } from "../run/engine/records";
import { vegetaBinary } from "../run/tools";
import { windowCount, windowSecondsFor } from "../run/engine/k6";
import { inClusterDatabaseUrl, K8S_DEFAULTS, renderTarget, renderYaml } from "./k8s-manifests";
import { k8sArgs, k8sNamespace } from "./k8s-args";
import { clusterConfig, type K8sObject, type K8sOptions, targetSlug } from "./k8s-pods";
import { k8sResult, measuredFromPrometheus, type RunQueries, runQueries } from "./k8s-result";
import { clusterUnavailable, getJson, jobOutcome, kubectl, type Kubectl, kubectlOk, nodeFacts, placement, poll, promQuery, rolledOut } from "./kubectl";
import { freshResultPath, writeResult } from "../run/results";
import { baseResult } from "../run/run-result";
import versions from "../versions.json" with { type: "json" };

const only = (objects: K8sObject[], keep: (o: K8sObject) => boolean) => objects.filter(keep);
const isLoad = (o: K8sObject) => o.kind === "TestRun" || o.metadata.name === "k6-script" || o.metadata.name === "load-targets" || (o.kind === "Job" && o.metadata.name === LOAD_JOB);
const isGate = (o: K8sObject) => o.kind === "Job" && o.metadata.name === "gate";
const apply = (run: Kubectl, t: TargetSpec, o: K8sOptions, objects: K8sObject[]) => kubectlOk(run, ["apply", "-f", "-"], renderYaml(t, o, objects));

/** The Secret of the PostgreSQL in the namespace: created once with a random password, never printed. */
function ensureDatabaseSecret(run: Kubectl, o: K8sOptions, log: (line: string) => void) {
  if (o.databaseUrlSecret) {
    if (!getJson(run, o.namespace, "secret", o.databaseUrlSecret)) throw new UsageError(`Secret ${o.databaseUrlSecret} is not in namespace ${o.namespace}: create it with a DATABASE_URL key (kubectl -n ${o.namespace} create secret generic ${o.databaseUrlSecret} --from-file=DATABASE_URL=FILE)`);
    return;
  }
  if (run(["get", "secret", K8S_DEFAULTS.databaseSecret, "-n", o.namespace, "-o", "name"]).code === 0) return;
  const password = randomBytes(24).toString("hex");
  const secret = {
    apiVersion: "v1", kind: "Secret", type: "Opaque",
    metadata: { name: K8S_DEFAULTS.databaseSecret, namespace: o.namespace, labels: { "app.kubernetes.io/part-of": "fleetbench" } },
    stringData: { POSTGRES_PASSWORD: password, DATABASE_URL: inClusterDatabaseUrl(password) },
  };
  kubectlOk(run, ["create", "-f", "-", "-o", "name"], JSON.stringify(secret));
  log(`created Secret ${K8S_DEFAULTS.databaseSecret} (a random PostgreSQL password; not printed)`);
}

async function waitForJob(run: Kubectl, o: K8sOptions, job: string, timeoutMs: number) {
  return poll(`Job ${job} in ${o.namespace}`, timeoutMs, () => jobOutcome(getJson(run, o.namespace, "job", job)));
}

/** CPUs of a Kubernetes quantity ("500m", "1", "2.5"). */
export const cpus = (q: string) => (q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q));

/** CPUs the target's long-running pods request (its Deployments and StatefulSets, one replica each, as rendered). */
export function requestedCpus(objects: K8sObject[]): number {
  return objects
    .filter((x) => x.kind === "Deployment" || x.kind === "StatefulSet")
    .flatMap((x: any) => x.spec.template.spec.containers)
    .reduce((sum: number, c: any) => sum + (c.resources?.requests?.cpu ? cpus(c.resources.requests.cpu) : 0), 0);
}

/** Pods that cannot fit stay Pending for the whole wait: refuses at once, with the way out. */
export function checkFits(run: Kubectl, t: TargetSpec, o: K8sOptions) {
  const want = requestedCpus(renderTarget(t, o));
  const nodes = JSON.parse(kubectlOk(run, ["get", "nodes", "-o", "json"])).items ?? [];
  const have = nodes.reduce((sum: number, n: any) => sum + cpus(n.status?.allocatable?.cpu ?? "0"), 0);
  if (want > have) throw new UsageError(`${t.label} requests ${want} CPUs (requests = limits per container) and the cluster's nodes have ${have} allocatable: pass --resources none (no requests or limits; every process shares the nodes, as natively) or use a larger cluster`);
}

export async function k8sUp(run: Kubectl, t: TargetSpec, o: K8sOptions, log: (line: string) => void) {
  const objects = renderTarget(t, o);
  apply(run, t, o, only(objects, (x) => x.kind === "Namespace"));
  ensureDatabaseSecret(run, o, log);
  // One target at a time: another target's processes and policies go first.
  kubectlOk(run, ["delete", "deployment,service,configmap,networkpolicy,job", "-n", o.namespace, "--ignore-not-found", "-l", `app.kubernetes.io/part-of=fleetbench,fleetbench/target,fleetbench/target!=${targetSlug(t)}`]);
  // A Job's pod template cannot change: the seed runs anew each time.
  kubectlOk(run, ["delete", "job", "seed", "-n", o.namespace, "--ignore-not-found"]);
  apply(run, t, o, only(objects, (x) => x.kind !== "Namespace" && !isLoad(x) && !isGate(x)));
  log(`applied ${t.label} to namespace ${o.namespace}; waiting for the database, the seed (fleet of ${o.fleetSize}) and ${t.processes.length} processes`);
  const ready = (kind: string, name: string) => poll(`${kind} ${name} in ${o.namespace} to be ready`, 600_000, () => rolledOut(getJson(run, o.namespace, kind, name)));
  if (!o.databaseUrlSecret) await ready("statefulset", "postgres");
  if ((await waitForJob(run, o, "seed", 1_200_000)) === "failed") throw new Error(`the seed Job failed: kubectl -n ${o.namespace} logs job/seed says why`);
  for (const p of t.processes) await ready("deployment", p.name);
  const port = clusterConfig(t).ports.gateway;
  log(`${t.label} runs in ${o.namespace}; from this machine: kubectl -n ${o.namespace} port-forward service/${t.gateway} ${port}:${port}`);
}

/** The gate Job of this target: run (anew) and waited for; refused with its last log lines when the answers differ. */
export async function k8sGate(run: Kubectl, t: TargetSpec, o: K8sOptions, log: (line: string) => void) {
  kubectlOk(run, ["delete", "job", "gate", "-n", o.namespace, "--ignore-not-found"]);
  apply(run, t, o, only(renderTarget(t, o), isGate));
  log(`correctness gate: every API of ${t.label} against the database (Job gate)`);
  if ((await waitForJob(run, o, "gate", 600_000)) === "failed") {
    const logs = run(["logs", "job/gate", "-n", o.namespace, "--tail=12"]).out.trim();
    throw new RefusedError(`${t.label} failed the correctness gate, not measured:\n${logs}`);
  }
  log("gate passed");
}

/** The gate Job's answers (`answer KEY sha256 HEX` lines of its log): what every response of the load is checked against. */
export function gateAnswers(run: Kubectl, o: K8sOptions): Map<string, string> {
  const logs = kubectlOk(run, ["logs", "job/gate", "-n", o.namespace]);
  return new Map([...logs.matchAll(/^answer (\S+) sha256 ([0-9a-f]{64})$/gm)].map((m) => [m[1], m[2]]));
}

function gatePassed(run: Kubectl, t: TargetSpec, o: K8sOptions): boolean {
  const job = getJson(run, o.namespace, "job", "gate");
  return job?.metadata?.labels?.["fleetbench/target"] === targetSlug(t) && jobOutcome(job) === "succeeded";
}

export async function k8sLoad(run: Kubectl, t: TargetSpec, o: K8sOptions, config: Config, log: (line: string) => void) {
  if (o.engine === "vegeta") return k8sVegetaLoad(run, t, o, config, log);
  if (run(["get", "crd", "testruns.k6.io", "-o", "name"]).code !== 0) throw new UsageError("k6-operator is not installed in this cluster (no CRD testruns.k6.io): docs/platforms.md, \"Running on Kubernetes\", says how");
  if (!gatePassed(run, t, o)) await k8sGate(run, t, o, log);
  const { runId, path } = freshResultPath(config, o.runId);
  const options = { ...o, runId };
  // Foreground: the last run's runner Jobs (same names) are gone before the new ones are made.
  kubectlOk(run, ["delete", "testrun", TEST_RUN, "-n", o.namespace, "--ignore-not-found", "--cascade=foreground"]);
  const start = Date.now() / 1000;
  apply(run, t, options, only(renderTarget(t, options), isLoad));
  log(`measuring: ${t.label}, ${o.parallelism} k6 runner(s), run ${runId}`);
  const limit = (o.load.duration ? durationSeconds(o.load.duration) : 1800) * 1000 + 900_000;
  const stage = await poll(`TestRun ${TEST_RUN}`, limit, () => {
    const s = getJson(run, o.namespace, "testrun", TEST_RUN)?.status?.stage;
    return s === "finished" || s === "error" ? s : null;
  });
  const finished = Date.now() / 1000;
  const runners = JSON.parse(kubectlOk(run, ["get", "pods", "-n", o.namespace, "-l", `k6_cr=${TEST_RUN},runner=true`, "-o", "json"]));
  const exits: number[] = runners.items.flatMap((p: any) => (p.status?.containerStatuses ?? []).map((c: any) => c.state?.terminated?.exitCode ?? 1));
  const engineExit = stage === "error" ? 1 : Math.max(0, ...exits);
  // The last samples must be after the end: the runners' final push and one scrape of every service.
  const latest = `min(timestamp(http_requests_total{namespace="${o.namespace}"}))`;
  await poll("Prometheus to scrape the services after the run", 300_000, () => ((promQuery(run, o.prometheus, latest, Date.now() / 1000).data?.result[0]?.value?.[1] ?? 0) >= finished ? true : null));
  const end = Date.now() / 1000;
  const queries = runQueries(o.namespace, runId, end - start + 5);
  const answers = Object.fromEntries(Object.entries(queries).map(([k, q]) => [k, promQuery(run, o.prometheus, q, end)])) as Record<keyof RunQueries, ReturnType<typeof promQuery>>;
  // The run's length for its rates: as configured; iterations mode has none, so the TestRun's (its start-up included).
  const seconds = o.load.duration ? durationSeconds(o.load.duration) : finished - start;
  const measured = measuredFromPrometheus(answers, { seconds, wallSeconds: finished - start, gateway: t.gateway, engineExit });
  const base = baseResult({
    runId, case: t.case, gateway: t.gateway, runtime: t.runtime, params: { ...o.load, mix: clusterSpec(t, options).mix, fleetSize: o.fleetSize },
    fingerprint: k8sFingerprint(run, options),
    extra: { title: t.title, platform: "kubernetes", namespace: o.namespace, result_path: path, warmup: "none (the TestRun measures from its first request)", k8s_split: splitLoad(o.load, o.parallelism) },
  });
  const result = k8sResult(base, measured, answers, o.parallelism);
  result.started_at = new Date(start * 1000).toISOString();
  result.finished_at = new Date(finished * 1000).toISOString();
  writeResult(path, result);
  log(`result (${result.status}): ${path}`);
}

/**
 * The load with vegeta: the Indexed Job's pods attack, each keeps its records; once every pod says
 * it is done, its records are copied out (`kubectl cp`), the Job deleted, the records merged and
 * every answer checked against the gate Job's hashes; CPU and memory per container from Prometheus.
 */
async function k8sVegetaLoad(run: Kubectl, t: TargetSpec, o: K8sOptions, config: Config, log: (line: string) => void) {
  // The records are read here with vegeta's own encoder: the engine must be on this machine too.
  await ensureEngine(config, log);
  if (!gatePassed(run, t, o)) await k8sGate(run, t, o, log);
  const answers = gateAnswers(run, o);
  if (!answers.size) throw new RefusedError(`the gate Job's log holds no answers to check the load against (kubectl -n ${o.namespace} logs job/gate): run \`just k8s ${t.case} gate\` again`);
  const { runId, path } = freshResultPath(config, o.runId);
  const options = { ...o, runId };
  kubectlOk(run, ["delete", "job", LOAD_JOB, "-n", o.namespace, "--ignore-not-found", "--cascade=foreground"]);
  // Calls and CPU are counted from samples of every service and container taken after the gate and
  // before the first request (the gate's calls are not the run's; cAdvisor may sample a container
  // only every 10-15 s, and a container with one sample in the window would count nothing).
  const latest = [`min(timestamp(http_requests_total{namespace="${o.namespace}"}))`, 
    // cAdvisor's samples carry their own timestamps, so a gone container's series lingers for
    // Prometheus' 5-minute lookback: only series sampled in the last 30 s (cAdvisor samples a live
    // container at least every 15 s) are the running containers'.
    `min(timestamp(container_cpu_usage_seconds_total{namespace="${o.namespace}",container!="",container!="POD",container!~"vegeta|k6"}) > (time() - 30))`];
  const scrapedSince = (t0: number) => (latest.every((q) => (promQuery(run, o.prometheus, q, Date.now() / 1000).data?.result[0]?.value?.[1] ?? 0) >= t0) ? true : null);
  const quiet = Date.now() / 1000;
  await poll("Prometheus to scrape the services and containers before the run", 300_000, () => scrapedSince(quiet));
  const start = Date.now() / 1000;
  apply(run, t, options, only(renderTarget(t, options), isLoad));
  log(`measuring: ${t.label}, ${o.parallelism} vegeta pod(s) (Job ${LOAD_JOB}), run ${runId}`);
  const limit = (o.load.duration ? durationSeconds(o.load.duration) : 1800) * 1000 + 900_000;
  const selector = `job-name=${LOAD_JOB}`;
  const pods = () => JSON.parse(kubectlOk(run, ["get", "pods", "-n", o.namespace, "-l", selector, "-o", "json"])).items as any[];
  const doneOf = (pod: string) => run(["exec", pod, "-n", o.namespace, "-c", "vegeta", "--", "cat", `${RECORDS_DIR}/done`]);
  const finishedPods = await poll(`the ${o.parallelism} load pod(s) to finish`, limit, () => {
    const list = pods();
    if (list.some((p) => p.status?.phase === "Failed")) throw new Error(`a load pod failed: kubectl -n ${o.namespace} logs -l ${selector} says why`);
    const done = list.filter((p) => p.status?.phase === "Running" && doneOf(p.metadata.name).code === 0);
    return done.length === o.parallelism ? done : null;
  });
  const finished = Date.now() / 1000;
  const dir = mkdtempSync(join(tmpdir(), "fleetbench-k8s-records-"));
  try {
    const parts: { records: Awaited<ReturnType<typeof readVegeta>>["records"]; startMs: number }[] = [];
    const exits: number[] = [];
    for (const pod of finishedPods) {
      const name = pod.metadata.name as string;
      exits.push(Number(doneOf(name).out.trim()) || 0);
      const local = join(dir, `${name}.bin`);
      kubectlOk(run, ["cp", "-n", o.namespace, "-c", "vegeta", `${name}:${RECORDS_DIR}/out.bin`, local]);
      parts.push(await readVegeta(vegetaBinary(config), local, sameHash(answers)));
    }
    kubectlOk(run, ["delete", "job", LOAD_JOB, "-n", o.namespace, "--ignore-not-found"]);
    const engineExit = Math.max(0, ...exits);
    const shape = { ...o.load };
    const { records, summary } = summarizeMerged(parts, {
      mode: shape.mode, windowSeconds: windowSecondsFor(shape), windows: shape.mode === "iterations" ? 0 : windowCount(shape),
      rate: shape.mode === "rate" ? shape.rate : undefined, durationS: shape.duration ? durationSeconds(shape.duration) : undefined,
    });
    await writeRecords(path.replace(/\.json$/, ".records.csv.gz"), records);
    // The last samples must be after the end: one scrape of every service.
    await poll("Prometheus to scrape the services and containers after the run", 300_000, () => scrapedSince(finished));
    const end = Date.now() / 1000;
    const queries = runQueries(o.namespace, runId, end - start + 5, end - quiet);
    const cluster = Object.fromEntries(CLUSTER_QUERIES.map((k) => [k, promQuery(run, o.prometheus, queries[k], end)])) as Record<keyof RunQueries, ReturnType<typeof promQuery>>;
    const seconds = o.load.duration ? durationSeconds(o.load.duration) : finished - start;
    const measured = measuredFromPrometheus(cluster, { seconds, wallSeconds: finished - start, gateway: t.gateway, engineExit, summary, engineFailure: engineExit ? `a vegeta pod exited with code ${engineExit}` : undefined });
    const base = baseResult({
      runId, case: t.case, gateway: t.gateway, runtime: t.runtime, params: { ...o.load, mix: clusterSpec(t, options).mix, fleetSize: o.fleetSize },
      fingerprint: k8sFingerprint(run, options),
      extra: { title: t.title, platform: "kubernetes", namespace: o.namespace, result_path: path, warmup: "none (the Job measures from its first request)", k8s_split: splitLoad(o.load, o.parallelism) },
    });
    const result = k8sResult(base, measured, cluster, o.parallelism, "vegeta");
    result.started_at = new Date(start * 1000).toISOString();
    result.finished_at = new Date(finished * 1000).toISOString();
    writeResult(path, result);
    log(`result (${result.status}): ${path}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The environment of a Kubernetes run: the code, the pinned images, the cluster, its nodes and where each process ran. */
export function k8sFingerprint(run: Kubectl, o: K8sOptions) {
  const version = JSON.parse(kubectlOk(run, ["version", "--output=json", "--request-timeout=5s"]));
  return {
    platform: "kubernetes",
    ...codeVersion(),
    versions: { bun: versions.bun, [o.engine]: o.engine === "k6" ? versions.k6 : versions.vegeta, apollo_router: versions.apolloRouter, postgres: versions.postgres },
    pinned: versions,
    engine: { name: o.engine, version: o.engine === "k6" ? versions.k6 : versions.vegeta, source: o.engine === "k6" ? `image grafana/k6:${versions.k6}` : `image ${o.engineImage}` },
    images: { bun: o.image, ...(o.engine === "k6" ? { k6: `grafana/k6:${versions.k6}` } : { vegeta: o.engineImage }) },
    kubernetes: { context: run(["config", "current-context"]).out.trim() || null, server: version.serverVersion?.gitVersion ?? null },
    nodes: nodeFacts(JSON.parse(kubectlOk(run, ["get", "nodes", "-o", "json"]))),
    placement: placement(JSON.parse(kubectlOk(run, ["get", "pods", "-n", o.namespace, "-o", "json"]))),
  };
}

/** Everything labelled fleetbench's in the namespace, the generated Secret and PostgreSQL's volume too; the namespace stays. */
export function k8sDown(run: Kubectl, namespace: string, log: (line: string) => void) {
  const crd = run(["get", "crd", "testruns.k6.io", "-o", "name"]).code === 0;
  const kinds = `${crd ? "testrun," : ""}deployment,statefulset,service,configmap,networkpolicy,job,secret,persistentvolumeclaim`;
  kubectlOk(run, ["delete", kinds, "-n", namespace, "--ignore-not-found", "-l", "app.kubernetes.io/part-of=fleetbench"]);
  log(`deleted fleetbench's objects in ${namespace}; the namespace is kept (kubectl delete namespace ${namespace} removes it)`);
}

export async function k8sCommand(config: Config, [action, ...args]: string[], log: (line: string) => void = console.log, run: Kubectl = kubectl) {
  // The cluster built here (§26).
  if (action === "cluster") {
    const [what, ...rest] = args;
    if (what === "tools") return (await import("./k8s-cluster-tools")).clusterTools(config, rest, log);
    if (!["up", "down", "status"].includes(what ?? "")) throw new UsageError(`k8s cluster takes up, down, status or tools [COMPONENT]..., got "${what ?? ""}"`);
    if (rest.length) throw new UsageError(`k8s cluster ${what} takes no arguments, got "${rest.join(" ")}"`);
    if (what === "up") return void (await (await import("./k8s-cluster")).clusterUp(config, log));
    if (what === "down") return (await import("./k8s-cluster-down")).clusterDown(config, log);
    return void (await (await import("./k8s-cluster-down")).clusterStatus(config, log));
  }
  const actions = ["render", "up", "gate", "load", "down"];
  if (!actions.includes(action ?? "")) throw new UsageError(`k8s takes ${actions.join(", ")}, got "${action ?? ""}"`);
  // down needs no target: it removes whatever fleetbench left in the namespace, whichever target that was.
  const parsed = action === "down" ? null : k8sArgs(config, args);
  if (action === "render") return void process.stdout.write(renderYaml(parsed!.target, parsed!.options));
  const why = clusterUnavailable(run);
  if (why) throw new UsageError(`cannot run on Kubernetes here: ${why}. \`just k8s ${parsed?.target.case ?? "case2"} render\` prints the manifests without a cluster`);
  if (!parsed) return k8sDown(run, k8sNamespace(args), log);
  const { target, options } = parsed;
  if (action === "up") checkFits(run, target, options);
  // The cluster built here pulls nothing: the target's images go into its containerd first.
  const local = await import("./k8s-cluster");
  if (local.isLocalCluster(config, run)) {
    if (action === "up") local.recycleVolumes(config, run);
    const { ensureClusterImages, imagesOf } = await import("./k8s-cluster-images");
    await ensureClusterImages(config, imagesOf(renderTarget(target, options)), log);
  }
  if (action === "up") return k8sUp(run, target, options, log);
  if (action === "gate") return k8sGate(run, target, options, log);
  return k8sLoad(run, target, options, config, log);
}
