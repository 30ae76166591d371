/**
 * fleetbench's only way to a cluster: the user's `kubectl`, on its current context. Objects go in
 * on standard input (never on the command line), answers come back as JSON (never as tables),
 * and waiting is polling an object's status, never a sleep of a guessed length.
 */
import type { PromAnswer } from "./k8s-result";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../config";
import { sleep, spawnSync, which } from "../runtime";
import versions from "../versions.json" with { type: "json" };

export interface Kubectl {
  (args: string[], input?: string): { code: number; out: string; err: string };
}

/** kubectl: the one on PATH, else the one `k8s cluster tools` built at the pin (the cluster built here needs no other). */
export function kubectlProgram(): string | null {
  const cached = join(loadConfig().toolsDir, `kubectl-${versions.kubernetes.kubernetes}`, "bin", "kubectl");
  return which("kubectl") ?? (existsSync(cached) ? cached : null);
}

/** Runs kubectl; `input` goes to its standard input. A hung API server ends after two minutes. */
export const kubectl: Kubectl = (args, input) => {
  const r = spawnSync([kubectlProgram() ?? "kubectl", ...args], { input, timeout: 120_000 });
  return { code: r.exitCode ?? 1, out: r.stdout, err: r.stderr };
};

/** The last line kubectl wrote to stderr: its reason. */
const reason = (err: string, code: number) => err.trim().split("\n").pop() || `exit ${code}`;

/** Runs kubectl and returns its output, or throws with kubectl's own reason. */
export function kubectlOk(run: Kubectl, args: string[], input?: string): string {
  const r = run(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.slice(0, 3).join(" ")} failed: ${reason(r.err, r.code)}`);
  return r.out;
}

/** Why no cluster can be used from here, or null when kubectl answers with a server version. */
export function clusterUnavailable(run: Kubectl = kubectl): string | null {
  if (!kubectlProgram()) return "kubectl is not installed (not on PATH, and `just k8s cluster tools kubectl` has not built one)";
  const r = run(["version", "--output=json", "--request-timeout=5s"]);
  if (r.code !== 0) return `no cluster answers in kubectl's current context (${reason(r.err, r.code)})`;
  return null;
}

/** Polls `check` every 2 s until it returns a value, or fails after `timeoutMs` saying what it waited for. */
export async function poll<T>(what: string, timeoutMs: number, check: () => T | null | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(2000);
  }
}

/** An object as JSON, or null when it does not exist. */
export function getJson(run: Kubectl, namespace: string, kind: string, name: string): any | null {
  const r = run(["get", kind, name, "-n", namespace, "-o", "json", "--ignore-not-found"]);
  if (r.code !== 0) throw new Error(`kubectl get ${kind} ${name} failed: ${reason(r.err, r.code)}`);
  return r.out.trim() ? JSON.parse(r.out) : null;
}

/** A Job's end: "succeeded", "failed", or null while it runs. */
export function jobOutcome(job: any): "succeeded" | "failed" | null {
  const conditions: { type: string; status: string }[] = job?.status?.conditions ?? [];
  if (conditions.some((c) => c.type === "Complete" && c.status === "True")) return "succeeded";
  if (conditions.some((c) => c.type === "Failed" && c.status === "True")) return "failed";
  return null;
}

/** Whether a Deployment or StatefulSet has every replica of its current spec ready. */
export function rolledOut(workload: any): true | null {
  const want = workload?.spec?.replicas ?? 1;
  const s = workload?.status ?? {};
  return (s.observedGeneration ?? 0) >= (workload?.metadata?.generation ?? 1) && s.updatedReplicas === want && s.readyReplicas === want ? true : null;
}

/** One PromQL query at `time` (Unix seconds), through the API server's proxy to the Prometheus Service. */
export function promQuery(run: Kubectl, prom: { namespace: string; name: string; port: number }, query: string, time: number): PromAnswer {
  const path = `/api/v1/namespaces/${prom.namespace}/services/${prom.name}:${prom.port}/proxy/api/v1/query?query=${encodeURIComponent(query)}&time=${time}`;
  return JSON.parse(kubectlOk(run, ["get", "--raw", path]));
}

/** The nodes, as a result records them: name, instance type (the cloud's label), size, kernel and kubelet. */
export function nodeFacts(nodes: any): Record<string, unknown>[] {
  return (nodes?.items ?? []).map((n: any) => ({
    name: n.metadata?.name,
    instance_type: n.metadata?.labels?.["node.kubernetes.io/instance-type"] ?? n.metadata?.labels?.["beta.kubernetes.io/instance-type"] ?? null,
    cpu: n.status?.capacity?.cpu ?? null,
    memory: n.status?.capacity?.memory ?? null,
    architecture: n.status?.nodeInfo?.architecture ?? null,
    os_image: n.status?.nodeInfo?.osImage ?? null,
    kernel: n.status?.nodeInfo?.kernelVersion ?? null,
    kubelet: n.status?.nodeInfo?.kubeletVersion ?? null,
    container_runtime: n.status?.nodeInfo?.containerRuntimeVersion ?? null,
  }));
}

/** Where each process ran: process name (its container's) → the nodes of its pods. */
export function placement(pods: any): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const pod of pods?.items ?? []) {
    const node = pod.spec?.nodeName;
    if (!node) continue;
    for (const c of pod.spec?.containers ?? []) out[c.name] = [...new Set([...(out[c.name] ?? []), node])].sort();
  }
  return out;
}
