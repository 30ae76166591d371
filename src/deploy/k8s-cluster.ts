/**
 * A single-node Kubernetes cluster on this machine (docs/design.md §26), from the components
 * `k8s cluster tools` builds at the pins of src/versions.json:
 *
 *   bun src/main.ts k8s cluster up       build what is missing, start the cluster, make it kubectl's current context
 *   bun src/main.ts k8s cluster status   its processes, node, system pods, and what it costs idle
 *   bun src/main.ts k8s cluster down     stop it and leave no process, mount, link or iptables rule behind
 *
 * kubeadm wires it: it makes the certificates and kubeconfigs, writes each control-plane
 * process's command line (its static Pods, written to a folder of ours with --dry-run), and adds
 * CoreDNS. The control plane, the kubelet and kube-proxy then run as processes of the node itself,
 * started here in their own sessions, each with a log (this machine has no systemd to run them, and
 * a process of the node is measured like every other process of a run). containerd is Debian's, a
 * daemon of the cluster's own; runc and the CNI plugins are Debian's. Everything lives in the
 * state folder (`.fleetbench/k8s-cluster/`) and under /run/fleetbench-k8s.
 */
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { isAlive, portOwner } from "../run/ports";
import { sleep, spawn, spawnSync, which } from "../runtime";
import { parseYaml } from "../run/yaml";
import versions from "../versions.json" with { type: "json" };
import { apiServerUrl, CADVISOR_CONTAINERD, CLUSTER, type ClusterPaths, clusterPaths, cniConfig, containerdConfig, containerdSocket, hostCommand, kubeadmConfig, kubeletConfig, kubeProxyConfig, prometheusObjects, VOLUMES, volumeObjects } from "./k8s-cluster-config";
import { ensureClusterImages } from "./k8s-cluster-images";
import { clusterTools, componentPath } from "./k8s-cluster-tools";
import { clearGenerated, clusterLeftovers, stopCluster } from "./k8s-cluster-down";

export interface NodeProcess {
  name: string;
  pid: number;
  log: string;
  command: string[];
}

export interface ClusterState {
  started_at: string;
  /** Seconds from `up`'s start to every system pod ready, builds and image imports excluded. */
  start_seconds: number;
  kubernetes: string;
  processes: NodeProcess[];
  /** kubectl's current context before `up` made `fleetbench` current; `down` puts it back. */
  previous_context: string | null;
  kubeconfig: string;
}

export function readClusterState(config: Config): ClusterState | null {
  const p = clusterPaths(config.stateDir);
  return existsSync(p.state) ? (JSON.parse(readFileSync(p.state, "utf8")) as ClusterState) : null;
}

/** Whether kubectl's current context is the cluster built here, and it runs. */
export function isLocalCluster(config: Config, kubectl: (args: string[]) => { code: number; out: string }): boolean {
  const state = readClusterState(config);
  return !!state && state.processes.every((x) => isAlive(x.pid)) && kubectl(["config", "current-context"]).out.trim() === CLUSTER.name;
}

/** What this machine must have before a cluster can start here; null when it has it all. */
export function clusterPrerequisites(): string | null {
  if (process.platform !== "linux") return "a cluster is built here on Linux only";
  if (process.getuid?.() !== 0) return "the cluster needs root (it makes a bridge, iptables rules, mounts and cgroups)";
  const missing = [
    ["containerd", "containerd"],
    ["runc", "runc"],
    ["ctr", "containerd"],
    ["iptables", "iptables"],
    ["ip", "iproute2"],
    ["go", "golang (to build the components)"],
    ["docker", "docker.io (to build the images)"],
  ].filter(([cmd]) => !which(cmd));
  if (!existsSync(join(CLUSTER.cniBinDir, "bridge"))) missing.push(["bridge", "containernetworking-plugins"]);
  if (missing.length) return `missing ${missing.map(([c]) => c).join(", ")} (Debian/Ubuntu: apt-get install ${[...new Set(missing.map(([, p]) => p.split(" ")[0]))].join(" ")})`;
  return null;
}

const run = (cmd: string[], input?: string, timeout = 120_000) => {
  const r = spawnSync(cmd, { input, timeout });
  return { code: r.exitCode ?? 1, out: r.stdout.trim(), err: r.stderr.trim() };
};

function must(cmd: string[], what: string, input?: string) {
  const r = run(cmd, input);
  if (r.code !== 0) throw new Error(`${what} failed: ${(r.err || r.out || `exit ${r.code}`).split("\n").slice(-3).join(" ")}`);
  return r.out;
}

/** kubectl (the tools cache's, at the pin) with one of the cluster's kubeconfigs. */
export const clusterKubectl = (config: Config, kubeconfig: string) => (args: string[], input?: string) => run([componentPath(config, "kubectl"), "--kubeconfig", kubeconfig, ...args], input);

/** Starts a process of the node in its own session, its output to its log. */
function start(p: ClusterPaths, name: string, command: string[]): NodeProcess {
  const log = join(p.logs, `${name}.log`);
  const fd = openSync(log, "a");
  const child = spawn(command, { stdout: fd, stderr: fd, detached: true });
  closeSync(fd);
  child.unref();
  return { name, pid: child.pid, log, command };
}

/** Waits for `ready` (polled every second) while the process lives; fails with the end of its log. */
async function until(proc: NodeProcess, what: string, seconds: number, ready: () => boolean) {
  const deadline = Date.now() + seconds * 1000;
  while (!ready()) {
    const tail = () => readFileSync(proc.log, "utf8").trim().split("\n").slice(-8).join("\n");
    if (!isAlive(proc.pid)) throw new Error(`${proc.name} exited before ${what}; the end of ${proc.log}:\n${tail()}`);
    if (Date.now() > deadline) throw new Error(`${proc.name}: no ${what} after ${seconds} s; the end of ${proc.log}:\n${tail()}`);
    await sleep(1000);
  }
}

/** The kubeconfig `up` hands to users: the admin's credentials under the names cluster, user and context `fleetbench`. */
function userKubeconfig(admin: string): string {
  const doc = parseYaml(admin) as any;
  const cluster = doc.clusters[0].cluster;
  const user = doc.users[0].user;
  const name = CLUSTER.name;
  return JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": name,
    clusters: [{ name, cluster: { server: apiServerUrl(), "certificate-authority-data": cluster["certificate-authority-data"] } }],
    users: [{ name, user: { "client-certificate-data": user["client-certificate-data"], "client-key-data": user["client-key-data"] } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
  }, null, 2);
}

/** The kubeconfig file kubectl uses by default here: $KUBECONFIG's first, else ~/.kube/config. */
export const defaultKubeconfig = () => (process.env.KUBECONFIG || "").split(":").find(Boolean) || join(process.env.HOME || "/root", ".kube", "config");

/** Adds the `fleetbench` cluster, user and context to the user's kubeconfig and makes it current; returns the context that was current. */
function mergeKubeconfig(config: Config, p: ClusterPaths): string | null {
  const target = defaultKubeconfig();
  const kubectl = componentPath(config, "kubectl");
  const previous = existsSync(target) ? run([kubectl, "--kubeconfig", target, "config", "current-context"]).out || null : null;
  mkdirSync(join(target, ".."), { recursive: true });
  const r = spawnSync([kubectl, "config", "view", "--flatten", "--raw", "-o", "json"], { env: { ...process.env, KUBECONFIG: existsSync(target) ? `${p.kubeconfig}:${target}` : p.kubeconfig } });
  if (r.exitCode !== 0) throw new Error(`merging the cluster's kubeconfig into ${target} failed: ${r.stderr.trim()}`);
  const doc = JSON.parse(r.stdout);
  doc["current-context"] = CLUSTER.name;
  writeFileSync(target, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return previous === CLUSTER.name ? null : previous;
}

/** Links cAdvisor's containerd socket to the cluster's, when nothing is there (see CADVISOR_CONTAINERD). */
function linkForCadvisor(log: (line: string) => void) {
  let there: string | null = null;
  try {
    there = lstatSync(CADVISOR_CONTAINERD).isSymbolicLink() ? readlinkSync(CADVISOR_CONTAINERD) : "a socket";
  } catch {}
  if (there === containerdSocket()) return;
  if (there && there !== "a socket" && !existsSync(CADVISOR_CONTAINERD)) rmSync(CADVISOR_CONTAINERD, { force: true });
  else if (there) {
    log(`cluster: ${CADVISOR_CONTAINERD} is another containerd's; the kubelet's cAdvisor will count pods, not their containers, so \`k8s load\` results will lack CPU per container`);
    return;
  }
  mkdirSync(dirname(CADVISOR_CONTAINERD), { recursive: true });
  symlinkSync(containerdSocket(), CADVISOR_CONTAINERD);
}

/** A volume's folder, empty, writable by whichever user a pod runs as (a folder has no fsGroup). */
function volumeFolder(p: ClusterPaths, i: number) {
  const dir = join(p.volumes, `volume-${i}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o1777);
}

/**
 * On this cluster, before a target is applied: every volume its last claim released is emptied
 * and offered again (what a provisioner's deleter would do). Returns how many.
 */
export function recycleVolumes(config: Config, kubectl: (args: string[]) => { code: number; out: string }): number {
  const p = clusterPaths(config.stateDir);
  const r = kubectl(["get", "pv", "-l", "app.kubernetes.io/part-of=fleetbench-cluster", "-o", "json"]);
  if (r.code !== 0) return 0;
  let n = 0;
  for (const pv of JSON.parse(r.out).items ?? []) {
    if (pv.status?.phase !== "Released") continue;
    volumeFolder(p, Number(/(\d+)$/.exec(pv.metadata.name)?.[1]));
    kubectl(["patch", "pv", pv.metadata.name, "--type=json", "-p", '[{"op":"remove","path":"/spec/claimRef"}]']);
    n++;
  }
  return n;
}

/** `k8s cluster up`: builds what is missing, starts the cluster, waits for the node and its system pods. */
export async function clusterUp(config: Config, log: (line: string) => void = console.log): Promise<ClusterState> {
  const why = clusterPrerequisites();
  if (why) throw new UsageError(`cannot start a cluster here: ${why}`);
  const p = clusterPaths(config.stateDir);
  const running = readClusterState(config);
  if (running) {
    const dead = running.processes.filter((x) => !isAlive(x.pid));
    if (!dead.length) {
      log(`the cluster is up already (since ${running.started_at}); kubectl context ${CLUSTER.name}`);
      return running;
    }
    throw new UsageError(`the cluster is half up (${dead.map((x) => x.name).join(", ")} not running): \`just k8s cluster down\` first`);
  }
  const leftovers = clusterLeftovers(config);
  if (leftovers.length) throw new UsageError(`a cluster's leftovers are on this machine (${leftovers.join("; ")}): \`just k8s cluster down\` removes them`);
  // The ports the node's processes listen on (kubeadm's and the kubelet's defaults).
  for (const port of [CLUSTER.apiPort, 2379, 2380, 2381, 10248, 10249, 10250, 10256, 10257, 10259]) {
    const owner = await portOwner(port);
    if (owner) throw new UsageError(`cannot start a cluster here: port ${port} is taken by ${owner}`);
  }
  await clusterTools(config, [], log);

  const t0 = Date.now();
  clearGenerated(p);
  for (const dir of [p.dir, p.logs, p.manifests, p.cni, p.kubelet, p.containerd, CLUSTER.runDir]) mkdirSync(dir, { recursive: true });
  writeFileSync(p.kubeadmConfig, kubeadmConfig(p));
  writeFileSync(p.kubeletConfig, kubeletConfig(p));
  writeFileSync(p.kubeProxyConfig, kubeProxyConfig(p));
  writeFileSync(p.containerdConfig, containerdConfig(p));
  writeFileSync(join(p.cni, "10-fleetbench.conflist"), cniConfig());
  const kubeadm = componentPath(config, "kubeadm");
  must([kubeadm, "init", "phase", "certs", "all", "--config", p.kubeadmConfig], "kubeadm init phase certs");
  must([kubeadm, "init", "phase", "kubeconfig", "all", "--config", p.kubeadmConfig, "--kubeconfig-dir", p.dir], "kubeadm init phase kubeconfig");
  writeFileSync(join(p.dir, "kube-proxy.conf"), must([kubeadm, "kubeconfig", "user", "--config", p.kubeadmConfig, "--client-name", "system:kube-proxy"], "kubeadm kubeconfig user system:kube-proxy"), { mode: 0o600 });
  // The control plane's static Pods, as kubeadm writes them, into our folder (its dry-run folder).
  for (const phase of [["etcd", "local"], ["control-plane", "all"]]) {
    const r = spawnSync([kubeadm, "init", "phase", ...phase, "--config", p.kubeadmConfig, "--dry-run"], { env: { ...process.env, KUBEADM_INIT_DRYRUN_DIR: p.manifests } });
    if (r.exitCode !== 0) throw new Error(`kubeadm init phase ${phase.join(" ")} --dry-run failed: ${r.stderr.trim().split("\n").pop()}`);
  }
  const staticCommand = (name: string) => hostCommand(parseYaml(readFileSync(join(p.manifests, `${name}.yaml`), "utf8")), p);

  // The node's network: its bridge, with the node's address.
  must(["ip", "link", "add", CLUSTER.bridge, "type", "bridge"], `ip link add ${CLUSTER.bridge}`);
  must(["ip", "addr", "add", `${CLUSTER.address}/24`, "dev", CLUSTER.bridge], `ip addr add ${CLUSTER.address}/24`);
  must(["ip", "link", "set", CLUSTER.bridge, "up"], `ip link set ${CLUSTER.bridge} up`);

  const processes: NodeProcess[] = [];
  const state = (): ClusterState => ({ started_at: new Date(t0).toISOString(), start_seconds: Math.round((Date.now() - t0) / 100) / 10, kubernetes: versions.kubernetes.kubernetes, processes, previous_context: null, kubeconfig: p.kubeconfig });
  const save = () => writeFileSync(p.state, `${JSON.stringify(state(), null, 2)}\n`);
  const admin = clusterKubectl(config, join(p.dir, "admin.conf"));
  const launch = (name: string, command: string[]) => {
    const proc = start(p, name, command);
    processes.push(proc);
    save();
    log(`cluster: ${name} started (pid ${proc.pid}; log ${proc.log})`);
    return proc;
  };
  try {
    const containerd = launch("containerd", ["containerd", "--config", p.containerdConfig]);
    await until(containerd, "socket", 30, () => run(["ctr", "--address", containerdSocket(), "version"]).code === 0);
    await ensureClusterImages(config, [CLUSTER.pauseImage, CLUSTER.corednsImage, CLUSTER.prometheusImage], log);
    linkForCadvisor(log);
    const etcd = launch("etcd", [componentPath(config, "etcd"), ...staticCommand("etcd")]);
    await until(etcd, "client port", 60, () => run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2379"]).code === 0);
    const api = launch("kube-apiserver", [componentPath(config, "kube-apiserver"), ...staticCommand("kube-apiserver")]);
    const superAdmin = clusterKubectl(config, join(p.dir, "super-admin.conf"));
    await until(api, "readiness (/readyz)", 180, () => superAdmin(["get", "--raw", "/readyz"]).code === 0);
    // What kubeadm's own init does after the API server is up: admin.conf's group is cluster-admin.
    must([componentPath(config, "kubectl"), "--kubeconfig", join(p.dir, "super-admin.conf"), "create", "clusterrolebinding", "kubeadm:cluster-admins", "--clusterrole=cluster-admin", "--group=kubeadm:cluster-admins"], "binding kubeadm:cluster-admins");
    // And what kubeadm grants the API server's client certificate on every kubelet (logs, exec, port-forward).
    must([componentPath(config, "kubectl"), "--kubeconfig", join(p.dir, "super-admin.conf"), "create", "clusterrolebinding", "kubeadm:apiserver-kubelet-client", "--clusterrole=system:kubelet-api-admin", "--user=kube-apiserver-kubelet-client"], "binding kube-apiserver-kubelet-client");
    launch("kube-controller-manager", [componentPath(config, "kube-controller-manager"), ...staticCommand("kube-controller-manager")]);
    launch("kube-scheduler", [componentPath(config, "kube-scheduler"), ...staticCommand("kube-scheduler")]);
    const kubelet = launch("kubelet", [componentPath(config, "kubelet"), "--config", p.kubeletConfig, "--kubeconfig", join(p.dir, "kubelet.conf"), "--root-dir", p.kubelet, "--cert-dir", join(p.kubelet, "pki"), "--hostname-override", CLUSTER.node, "--node-ip", CLUSTER.address]);
    await until(kubelet, `node ${CLUSTER.node} Ready`, 120, () => {
      const r = admin(["get", "node", CLUSTER.node, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"]);
      return r.code === 0 && r.out === "True";
    });
    launch("kube-proxy", [componentPath(config, "kube-proxy"), "--config", p.kubeProxyConfig]);
    must([kubeadm, "init", "phase", "addon", "coredns", "--config", p.kubeadmConfig, "--kubeconfig", join(p.dir, "admin.conf")], "kubeadm init phase addon coredns");
    for (let i = 0; i < VOLUMES.count; i++) volumeFolder(p, i);
    must([componentPath(config, "kubectl"), "--kubeconfig", join(p.dir, "admin.conf"), "apply", "-f", "-"], "creating the node's volumes", volumeObjects(p).map((o) => JSON.stringify(o)).join("\n"));
    must([componentPath(config, "kubectl"), "--kubeconfig", join(p.dir, "admin.conf"), "apply", "-f", "-"], "applying Prometheus", prometheusObjects(CLUSTER.prometheusImage).map((o) => JSON.stringify(o)).join("\n"));
    for (const [ns, name] of [["kube-system", "coredns"], ["monitoring", "prometheus-server"]]) {
      log(`cluster: waiting for ${ns}/${name}`);
      try {
        await until(kubelet, `${ns}/${name} rolled out`, 180, () => admin(["rollout", "status", "-n", ns, `deployment/${name}`, "--timeout=1s"]).code === 0);
      } catch (error) {
        // What the pod itself said is worth more than the kubelet's log.
        const said = [admin(["logs", "-n", ns, `deployment/${name}`, "--tail=5", "--previous"]), admin(["logs", "-n", ns, `deployment/${name}`, "--tail=5"])].find((r) => r.code === 0 && r.out);
        throw new Error(`${ns}/${name} did not roll out in 180 s${said ? `; its container said:\n${said.out}` : ""}\n${(error as Error).message}`);
      }
    }
    writeFileSync(p.kubeconfig, userKubeconfig(readFileSync(join(p.dir, "admin.conf"), "utf8")), { mode: 0o600 });
    const s = { ...state(), previous_context: mergeKubeconfig(config, p) };
    writeFileSync(p.state, `${JSON.stringify(s, null, 2)}\n`);
    log(`cluster: up in ${s.start_seconds} s — Kubernetes ${s.kubernetes}, node ${CLUSTER.node} Ready, CoreDNS and Prometheus running; kubectl's current context is now "${CLUSTER.name}" (${defaultKubeconfig()})`);
    return s;
  } catch (error) {
    log(`cluster: start failed; stopping what started`);
    await stopCluster(config, () => {});
    throw error;
  }
}
