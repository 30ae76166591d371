/**
 * Stopping the cluster built here (docs/design.md §26) and proving it left nothing: no process, no
 * mount, no network link, no iptables rule, no cgroup of its pods; and what it costs while it runs
 * (`k8s cluster status`). See src/deploy/k8s-cluster.ts for how it starts.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config";
import { isAlive } from "../run/ports";
import { sleep, spawnSync } from "../runtime";
import { CADVISOR_CONTAINERD, CLUSTER, type ClusterPaths, clusterPaths, containerdSocket } from "./k8s-cluster-config";
import { componentPath } from "./k8s-cluster-tools";
import { type ClusterState, defaultKubeconfig, readClusterState } from "./k8s-cluster";

const run = (cmd: string[], timeout = 120_000) => {
  const r = spawnSync(cmd, { timeout });
  return { code: r.exitCode ?? 1, out: r.stdout.trim(), err: r.stderr.trim() };
};
/** Processes of the cluster: those its state names, and any whose command line names its folders or socket (containerd's shims). */
function clusterProcesses(config: Config, state: ClusterState | null): { pid: number; what: string }[] {
  const p = clusterPaths(config.stateDir);
  const out = new Map<number, string>();
  for (const x of state?.processes ?? []) if (isAlive(x.pid)) out.set(x.pid, x.name);
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!pid || pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      if (cmd.includes(`${p.dir}/`) || cmd.includes(CLUSTER.runDir)) out.set(pid, out.get(pid) ?? cmd.split(" ")[0].split("/").pop()!);
      else if (/\/kubepods[/.]|:\/kubepods$/m.test(readFileSync(`/proc/${pid}/cgroup`, "utf8"))) out.set(pid, `a pod's process (${cmd.split(" ")[0].split("/").pop()})`);
    } catch {}
  }
  return [...out].map(([pid, what]) => ({ pid, what }));
}

/** Mount points of the cluster (its folders, containerd's state, pods' network namespaces), deepest first. */
function clusterMounts(config: Config): string[] {
  const p = clusterPaths(config.stateDir);
  const points = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter(Boolean);
  const ours = points.filter((m) => m.startsWith(`${p.dir}/`) || m.startsWith(`${CLUSTER.runDir}/`) || m === CLUSTER.runDir || /^\/(var\/)?run\/netns\/cni-/.test(m));
  return [...new Set(ours)].sort((a, b) => b.split("/").length - a.split("/").length);
}

/** Network links of the cluster: its bridge and the pods' veths on it. */
function clusterLinks(): string[] {
  const r = run(["ip", "-o", "link", "show"]);
  return r.out.split("\n").flatMap((l) => {
    const name = /^\d+:\s+([^:@]+)/.exec(l)?.[1];
    return name && (name === CLUSTER.bridge || l.includes(`master ${CLUSTER.bridge} `)) ? [name] : [];
  });
}

/** iptables rules of the cluster, per table: kube-proxy's and the kubelet's chains (KUBE-*), the pod network's (CNI-*, and rules commented with its name). */
function clusterRules(): { table: string; rule: string }[] {
  const out: { table: string; rule: string }[] = [];
  for (const table of ["nat", "filter", "mangle"]) {
    const r = run(["iptables-save", "-t", table]);
    for (const line of r.out.split("\n")) {
      if (/^(:|-A )(KUBE-|CNI-)/.test(line) || (line.startsWith("-A ") && (/ -j (KUBE-|CNI-)/.test(line) || line.includes(`name: \\"${CLUSTER.name}\\"`)))) out.push({ table, rule: line });
    }
  }
  return out;
}

/** Cgroups the kubelet made for pods (`kubepods` in each v1 hierarchy, or under the unified one). */
function clusterCgroups(): string[] {
  const roots = existsSync("/sys/fs/cgroup/cgroup.controllers") ? ["/sys/fs/cgroup"] : readdirSync("/sys/fs/cgroup").map((d) => join("/sys/fs/cgroup", d));
  return roots.map((r) => join(r, "kubepods")).filter((d) => existsSync(d));
}

/** Whether cAdvisor's containerd socket is the link `up` made to the cluster's. */
function cadvisorLink(): boolean {
  try {
    return readlinkSync(CADVISOR_CONTAINERD) === containerdSocket();
  } catch {
    return false;
  }
}

/** What of a cluster is on this machine while no cluster runs: empty when nothing is. */
export function clusterLeftovers(config: Config): string[] {
  const out: string[] = [];
  const procs = clusterProcesses(config, readClusterState(config));
  if (procs.length) out.push(`processes ${procs.map((x) => `${x.what} (${x.pid})`).join(", ")}`);
  const mounts = clusterMounts(config);
  if (mounts.length) out.push(`${mounts.length} mount(s), e.g. ${mounts.at(-1)}`);
  const links = clusterLinks();
  if (links.length) out.push(`network links ${links.join(", ")}`);
  const rules = clusterRules();
  if (rules.length) out.push(`${rules.length} iptables rule(s)/chain(s), e.g. ${rules[0].rule}`);
  if (cadvisorLink()) out.push(`the link ${CADVISOR_CONTAINERD}`);
  const cgroups = clusterCgroups();
  if (cgroups.length) out.push(`cgroups ${cgroups.join(", ")}`);
  return out;
}

/** Removes a cgroup tree bottom-up (a cgroup goes with rmdir once it has no task and no child). */
function removeCgroup(dir: string) {
  for (const e of readdirSync(dir)) {
    const sub = join(dir, e);
    try {
      if (statSync(sub).isDirectory()) removeCgroup(sub);
    } catch {}
  }
  try {
    rmdirSync(dir);
  } catch {}
}

/** Takes the `fleetbench` context out of the user's kubeconfig, putting back the context that was current before `up`. */
function unmergeKubeconfig(config: Config, previous: string | null) {
  const file = defaultKubeconfig();
  if (!existsSync(file)) return;
  const kubectl = [componentPath(config, "kubectl"), "--kubeconfig", file, "config"];
  const current = run([...kubectl, "current-context"]).out;
  run([...kubectl, "delete-context", CLUSTER.name]);
  run([...kubectl, "delete-cluster", CLUSTER.name]);
  run([...kubectl, "delete-user", CLUSTER.name]);
  if (current === CLUSTER.name) run(previous ? [...kubectl, "use-context", previous] : [...kubectl, "unset", "current-context"]);
}

/**
 * Stops the cluster: every pod through containerd (so the network plugins release their
 * addresses and rules), the node's processes in reverse order, then whatever is left: kube-proxy's
 * rules (`kube-proxy --cleanup`), mounts, the bridge, the pods' cgroups, the run folder. Throws
 * naming what would not go.
 */
export async function stopCluster(config: Config, log: (line: string) => void = console.log) {
  const p = clusterPaths(config.stateDir);
  const state = readClusterState(config);
  const crictl = componentPath(config, "crictl");
  if (existsSync(crictl) && existsSync(containerdSocket()) && run(["ctr", "--address", containerdSocket(), "version"], 10_000).code === 0) {
    const r = run([crictl, "--runtime-endpoint", `unix://${containerdSocket()}`, "rmp", "--all", "--force"], 180_000);
    if (r.code !== 0) log(`cluster: removing the pods through containerd failed (${r.err.split("\n").pop()}); their processes are ended below`);
  }
  for (const proc of [...(state?.processes ?? [])].reverse()) {
    if (!isAlive(proc.pid)) continue;
    try {
      process.kill(proc.pid, "SIGTERM");
    } catch {}
    for (let i = 0; i < 150 && isAlive(proc.pid); i++) await sleep(100);
    if (isAlive(proc.pid)) process.kill(proc.pid, "SIGKILL");
  }
  // containerd's shims and any pod process that outlived them.
  for (const { pid } of clusterProcesses(config, null)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  for (let i = 0; i < 50 && clusterProcesses(config, null).length; i++) await sleep(100);
  const kubeProxy = componentPath(config, "kube-proxy");
  if (existsSync(kubeProxy) && clusterRules().length) run([kubeProxy, "--cleanup", "--proxy-mode", "iptables"]);
  // The pod network's own rules, where a pod went without its network plugin's DEL.
  for (const { table, rule } of clusterRules().filter((r) => r.rule.startsWith("-A "))) run(["iptables", "-t", table, "-D", ...splitRule(rule.slice(3))]);
  for (const { table, rule } of clusterRules().filter((r) => r.rule.startsWith(":"))) {
    const chain = rule.slice(1).split(" ")[0];
    run(["iptables", "-t", table, "-F", chain]);
    run(["iptables", "-t", table, "-X", chain]);
  }
  for (const m of clusterMounts(config)) if (run(["umount", m]).code !== 0) run(["umount", "-l", m]);
  for (const link of clusterLinks().filter((l) => l !== CLUSTER.bridge)) run(["ip", "link", "del", link]);
  if (clusterLinks().includes(CLUSTER.bridge)) run(["ip", "link", "del", CLUSTER.bridge]);
  for (const dir of clusterCgroups()) removeCgroup(dir);
  for (const f of (existsSync("/run/netns") ? readdirSync("/run/netns") : []).filter((n) => n.startsWith("cni-"))) rmSync(join("/run/netns", f), { force: true });
  rmSync(CLUSTER.runDir, { recursive: true, force: true });
  if (cadvisorLink()) rmSync(CADVISOR_CONTAINERD, { force: true });
  clearGenerated(p);
  unmergeKubeconfig(config, state?.previous_context ?? null);
  rmSync(p.state, { force: true });
  const left = clusterLeftovers(config);
  if (left.length) throw new Error(`the cluster is stopped, but these are still on the machine: ${left.join("; ")}`);
}

/** Removes what each `up` makes anew (certificates, kubeconfigs, etcd's data, the kubelet's root); containerd's root, with the imported images, stays. */
export function clearGenerated(p: ClusterPaths) {
  for (const dir of [p.etcd, p.kubelet, p.manifests, p.pki, p.volumes]) rmSync(dir, { recursive: true, force: true });
  if (existsSync(p.dir)) for (const f of readdirSync(p.dir).filter((f) => f.endsWith(".conf") || f === "kubeconfig")) rmSync(join(p.dir, f), { force: true });
}

/** An iptables-save rule's words, quotes kept together (`--comment "a b"`). */
export function splitRule(rule: string): string[] {
  return [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\"/g, '"') : m[2]));
}

/** `k8s cluster down`. */
export async function clusterDown(config: Config, log: (line: string) => void = console.log) {
  const state = readClusterState(config);
  const t0 = Date.now();
  if (!state && !clusterLeftovers(config).length) return void log("cluster: not running, and nothing of one is left on this machine");
  await stopCluster(config, log);
  log(`cluster: down in ${((Date.now() - t0) / 1000).toFixed(1)} s; no process, mount, network link, iptables rule or pod cgroup of it is left; its images stay in ${clusterPaths(config.stateDir).containerd}`);
}

const procTicks = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
};
const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
const podsCpuNs = () => {
  for (const f of ["/sys/fs/cgroup/cpuacct/kubepods/cpuacct.usage", "/sys/fs/cgroup/cpu,cpuacct/kubepods/cpuacct.usage"]) if (existsSync(f)) return Number(readFileSync(f, "utf8"));
  const v2 = "/sys/fs/cgroup/kubepods/cpu.stat";
  return existsSync(v2) ? Number(/usage_usec (\d+)/.exec(readFileSync(v2, "utf8"))?.[1] ?? 0) * 1000 : null;
};
const podsMemory = () => {
  for (const f of ["/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes", "/sys/fs/cgroup/kubepods/memory.current"]) if (existsSync(f)) return Number(readFileSync(f, "utf8"));
  return null;
};

/** What the running cluster costs over `seconds`: CPU (% of one core) and RSS of each node process, and of all pods together. */
export async function idleCost(state: ClusterState, seconds = 10) {
  const hz = 100;
  const before = state.processes.map((x) => procTicks(x.pid));
  const pods0 = podsCpuNs();
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const wall = (Date.now() - t0) / 1000;
  const rows = state.processes.map((x, i) => ({ name: x.name, alive: isAlive(x.pid), cpu_percent: (100 * (procTicks(x.pid) - before[i])) / hz / wall, rss_mib: isAlive(x.pid) ? rssKiB(x.pid) / 1024 : 0 }));
  const pods1 = podsCpuNs();
  const pods = pods0 === null || pods1 === null ? null : { cpu_percent: (100 * (pods1 - pods0)) / 1e9 / wall, memory_mib: (podsMemory() ?? 0) / 2 ** 20 };
  return { seconds: wall, processes: rows, pods };
}

/** `k8s cluster status`: whether it runs, its node and system pods, and what it costs idle. */
export async function clusterStatus(config: Config, log: (line: string) => void = console.log) {
  const state = readClusterState(config);
  if (!state) {
    const left = clusterLeftovers(config);
    log(left.length ? `cluster: not running, but left on this machine: ${left.join("; ")} (\`just k8s cluster down\` removes them)` : "cluster: not running (`just k8s cluster up` starts it)");
    return null;
  }
  const kubectl = [componentPath(config, "kubectl"), "--kubeconfig", state.kubeconfig];
  log(`cluster: Kubernetes ${state.kubernetes}, started ${state.started_at} (up in ${state.start_seconds} s); kubeconfig ${state.kubeconfig}, context ${CLUSTER.name}`);
  const node = run([...kubectl, "get", "node", CLUSTER.node, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"], 15_000);
  log(`node ${CLUSTER.node}: ${node.code === 0 ? (node.out === "True" ? "Ready" : `not Ready (${node.out})`) : `no answer (${node.err.split("\n").pop()})`}`);
  const pods = run([...kubectl, "get", "pods", "-A", "--no-headers", "-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,PHASE:.status.phase"], 15_000);
  if (pods.code === 0) for (const l of pods.out.split("\n").filter(Boolean)) log(`  pod ${l.trim().split(/\s+/).join(" ")}`);
  const cost = await idleCost(state, 5);
  log(`what it costs over ${cost.seconds.toFixed(0)} s (CPU as % of one core, RSS):`);
  for (const r of cost.processes) log(`  ${r.name.padEnd(24)} ${r.alive ? `${r.cpu_percent.toFixed(1).padStart(5)} %  ${r.rss_mib.toFixed(0).padStart(5)} MiB` : "NOT RUNNING"}`);
  if (cost.pods) log(`  ${"pods (cgroup kubepods)".padEnd(24)} ${cost.pods.cpu_percent.toFixed(1).padStart(5)} %  ${cost.pods.memory_mib.toFixed(0).padStart(5)} MiB`);
  return { state, cost };
}
