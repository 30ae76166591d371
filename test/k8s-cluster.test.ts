/**
 * The single-node cluster built here (docs/design.md §26). First what it is configured with
 * (pure), then for real: `k8s cluster up` from the components `k8s cluster tools` builds (built
 * here by this test when missing: minutes, once), every case applied from `render`'s manifests and
 * passing the gate, a short measured run whose result counts the designed calls and CPU per
 * container, and a `down` that leaves no process, mount, link, iptables rule or pod cgroup.
 *
 * No skipping: a machine without root, Debian's containerd, runc, CNI plugins or Docker fails the
 * first real test, saying what is missing (`.ci/run` installs them). A cluster running from this
 * clone is stopped first.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { loadConfig } from "../src/config";
import { CLUSTER, clusterPaths, cniConfig, containerdConfig, hostCommand, kubeadmConfig, kubeletConfig, prometheusObjects, VOLUMES, volumeObjects } from "../src/deploy/k8s-cluster-config";
import { clusterLeftovers, splitRule } from "../src/deploy/k8s-cluster-down";
import { imagesOf } from "../src/deploy/k8s-cluster-images";
import { defaultKubeconfig, clusterPrerequisites } from "../src/deploy/k8s-cluster";
import { renderTarget } from "../src/deploy/k8s-manifests";
import { k8sArgs } from "../src/deploy/k8s-args";
import { requestedCpus } from "../src/deploy/k8s";
import { kubectlProgram } from "../src/deploy/kubectl";
import { spawnSync } from "../src/runtime";
import versions from "../src/versions.json" with { type: "json" };
import { fleetCli } from "./utils";

const config = loadConfig();
const p = clusterPaths("/state");
const render = (caseName: string, ...flags: string[]) => {
  const { target, options } = k8sArgs(config, [caseName, ...flags]);
  return renderTarget(target, options);
};

describe("what the cluster is configured with", () => {
  test("kubeadm's configuration: the pinned Kubernetes and CoreDNS, the node's address, certificates in the cluster's folder", () => {
    const text = kubeadmConfig(p);
    expect(text).toContain(`kubernetesVersion: v${versions.kubernetes.kubernetes}\n`);
    expect(text).toContain(`imageTag: v${versions.kubernetes.coredns}\n`);
    expect(text).toContain(`advertiseAddress: ${CLUSTER.address}\n`);
    expect(text).toContain("certificatesDir: /state/k8s-cluster/pki\n");
    expect(text).toContain(`criSocket: unix://${CLUSTER.runDir}/containerd.sock\n`);
  });

  test("the kubelet: cgroupfs on cgroup v1 allowed, the cluster's containerd and DNS, no image garbage collection", () => {
    const text = kubeletConfig(p);
    for (const line of ["cgroupDriver: cgroupfs", "failCgroupV1: false", `containerRuntimeEndpoint: unix://${CLUSTER.runDir}/containerd.sock`, `- ${CLUSTER.dns}`, "imageGCHighThresholdPercent: 100", "clientCAFile: /state/k8s-cluster/pki/ca.crt"]) expect(text).toContain(`${line}\n`);
  });

  test("containerd: its own socket and root, runc without systemd, the pinned pause image, OOM scores never below its own", () => {
    const text = containerdConfig(p);
    expect(text).toContain(`address = "${CLUSTER.runDir}/containerd.sock"`);
    expect(text).toContain('root = "/state/k8s-cluster/containerd/root"');
    expect(text).toContain("SystemdCgroup = false");
    expect(text).toContain(`sandbox_image = "registry.k8s.io/pause:${versions.kubernetes.pause}"`);
    expect(text).toContain("restrict_oom_score_adj = true");
    expect(text).toContain(`conf_dir = "/state/k8s-cluster/cni"`);
  });

  test("the pod network: a bridge of its own with the node's address as gateway, masquerade, portmap and the firewall plugin", () => {
    const conf = JSON.parse(cniConfig());
    expect(conf.plugins.map((x: { type: string }) => x.type)).toEqual(["bridge", "portmap", "firewall"]);
    expect(conf.plugins[0]).toMatchObject({ bridge: CLUSTER.bridge, isGateway: true, ipMasq: true, ipam: { ranges: [[{ subnet: CLUSTER.podSubnet, gateway: CLUSTER.address }]] } });
  });

  test("a control-plane command line is kubeadm's, its /etc/kubernetes files and etcd's data moved into the cluster's folder", () => {
    const pod = { spec: { containers: [{ command: ["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"] }] } };
    expect(hostCommand(pod, p)).toEqual(["--kubeconfig=/state/k8s-cluster/scheduler.conf", "--leader-elect=true"]);
    const etcd = { spec: { containers: [{ command: ["etcd", "--data-dir=/var/lib/etcd", "--cert-file=/state/k8s-cluster/pki/etcd/server.crt"] }] } };
    expect(hostCommand(etcd, p)).toEqual(["--data-dir=/state/k8s-cluster/etcd", "--cert-file=/state/k8s-cluster/pki/etcd/server.crt"]);
    expect(() => hostCommand({ spec: { containers: [{}] } }, p)).toThrow("no command");
  });

  test("an iptables-save rule splits into its words, a quoted comment kept whole", () => {
    expect(splitRule('POSTROUTING -s 10.244.0.5/32 -m comment --comment "name: \\"fleetbench\\" id: \\"ab\\"" -j CNI-1f2')).toEqual(["POSTROUTING", "-s", "10.244.0.5/32", "-m", "comment", "--comment", 'name: "fleetbench" id: "ab"', "-j", "CNI-1f2"]);
  });

  test("volumes: folders of no storage class on the node, so PostgreSQL's claim (no class) binds to one", () => {
    const volumes = volumeObjects(p) as any[];
    expect(volumes).toHaveLength(VOLUMES.count);
    for (const [i, v] of volumes.entries()) expect(v.spec).toMatchObject({ storageClassName: "", persistentVolumeReclaimPolicy: "Retain", hostPath: { path: `/state/k8s-cluster/volumes/volume-${i}` } });
    const claim = (render("case2").find((o) => o.kind === "StatefulSet") as any).spec.volumeClaimTemplates[0].spec;
    expect(claim.storageClassName).toBeUndefined();
  });

  test("Prometheus finds the kubelet's cAdvisor and the annotated pods, under the Service `k8s load` asks by default", () => {
    const objects = prometheusObjects(CLUSTER.prometheusImage) as any[];
    const service = objects.find((o) => o.kind === "Service");
    expect(`${service.metadata.namespace}/${service.metadata.name}:${service.spec.ports[0].port}`).toBe("monitoring/prometheus-server:80");
    const scrape = JSON.parse(objects.find((o) => o.kind === "ConfigMap").data["prometheus.yml"]).scrape_configs;
    expect(scrape.map((s: { job_name: string }) => s.job_name)).toEqual(["kubernetes-cadvisor", "kubernetes-pods"]);
    expect(scrape[0].metrics_path).toBe("/metrics/cadvisor");
    // The labels the run's queries select on (src/deploy/k8s-result.ts).
    expect(scrape[1].relabel_configs.map((r: { target_label?: string }) => r.target_label)).toContain("namespace");
  });

  test("--resources none renders no requests or limits anywhere; the default requests what it limits", () => {
    const containers = (objects: any[]) => objects.flatMap((o) => o.spec?.template?.spec?.containers ?? []);
    const none = containers(render("case3", "--resources", "none"));
    expect(none.length).toBeGreaterThan(5);
    for (const c of none) expect(c.resources).toEqual({});
    for (const c of containers(render("case3"))) expect(c.resources.requests).toEqual(c.resources.limits);
    expect(() => k8sArgs(config, ["case2", "--resources", "some"])).toThrow("--resources takes guaranteed");
  });

  test("what a target's pods request: Case 3 through Apollo Router 6.5 CPUs as rendered by default, none with --resources none", () => {
    expect(requestedCpus(render("case3"))).toBe(6.5);
    expect(requestedCpus(render("case2"))).toBe(5);
    expect(requestedCpus(render("case3", "--resources", "none"))).toBe(0);
  });

  test("the images a target's pods run, as the cluster imports them", () => {
    expect(imagesOf(render("case2")).sort()).toEqual([`fleetbench-vegeta:${versions.vegeta}`, `fleetbench:bun-${versions.bun}`, `postgres:${versions.postgres}`]);
    expect(imagesOf(render("case3"))).toContain(`ghcr.io/apollographql/router:v${versions.apolloRouter}`);
  });
});

// ---------------------------------------------------------------------------------------------

setDefaultTimeout(600_000);
const CASES = ["case1", "case1b", "case2", "case3"] as const;
const cli = (...args: string[]) => fleetCli(args);
const rules = () => ["nat", "filter", "mangle"].map((t) => spawnSync(["iptables-save", "-t", t]).stdout.split("\n").filter((l) => /^[:-]/.test(l)).map((l) => l.replace(/\[\d+:\d+\]/, "")).sort().join("\n")).join("\n");
const links = () => spawnSync(["ip", "-o", "link", "show"]).stdout.split("\n").map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1]).filter(Boolean).sort();
let before: { rules: string; links: (string | undefined)[] };

describe("the cluster built here, for real", () => {
  beforeAll(() => {
    const r = cli("k8s", "cluster", "down");
    if (r.code !== 0) throw new Error(`k8s cluster down before the test failed: ${r.err}`);
    before = { rules: rules(), links: links() };
  });
  afterAll(() => void cli("k8s", "cluster", "down"));

  test("this machine has what a cluster needs (.ci/run installs it)", () => {
    expect(clusterPrerequisites()).toBeNull();
  });

  test("k8s cluster up: built where missing, started, the node Ready with CoreDNS and Prometheus; kubectl's current context", () => {
    const r = cli("k8s", "cluster", "up");
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
    expect(r.out).toMatch(/cluster: up in [\d.]+ s — Kubernetes 1\.37\.2, node fleetbench Ready/);
    const status = cli("k8s", "cluster", "status");
    expect(status.code).toBe(0);
    expect(status.out).toContain("node fleetbench: Ready");
    for (const name of ["containerd", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"]) expect(status.out).toMatch(new RegExp(`  ${name} +[\\d.]+ % +\\d+ MiB`));
    expect(status.out).toMatch(/pod kube-system coredns-\S+ Running/);
    expect(status.out).toMatch(/pod monitoring prometheus-server-\S+ Running/);
    expect(spawnSync([kubectlProgram()!, "--kubeconfig", defaultKubeconfig(), "config", "current-context"]).stdout.trim()).toBe(CLUSTER.name);
  }, 3_600_000);

  test("a target that cannot fit the node is refused at once, saying how it could (2 CPUs here; Case 3 requests 6.5)", () => {
    const r = cli("k8s", "case3", "up");
    expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: "" });
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/case3 · apollo-router requests 6\.5 CPUs .* the cluster's nodes have \d+(\.\d+)? allocatable: pass --resources none/);
  });

  for (const c of CASES) {
    test(`${c}: up from render's manifests (Apollo Router in a pod for case3), and the gate passes`, () => {
      const up = cli("k8s", c, "up", "--resources", "none");
      expect({ code: up.code, err: up.err }).toEqual({ code: 0, err: "" });
      const gate = cli("k8s", c, "gate", "--resources", "none");
      expect({ code: gate.code, err: gate.err }).toEqual({ code: 0, err: "" });
      expect(gate.out).toContain("gate passed");
      // What runs is what render prints: every Deployment it renders, and no other of fleetbench's.
      const rendered = render(c, "--resources", "none").filter((o) => o.kind === "Deployment").map((o) => o.metadata.name).sort();
      const deployed = JSON.parse(spawnSync([kubectlProgram()!, "get", "deployments", "-n", "fleetbench", "-l", "app.kubernetes.io/part-of=fleetbench", "-o", "json"]).stdout).items.map((d: any) => d.metadata.name).sort();
      expect(deployed).toEqual(rendered);
    });
  }

  test("a short measured run on the cluster writes a result: the designed calls, CPU per container, platform kubernetes", () => {
    expect(cli("k8s", "case2", "up", "--resources", "none").code).toBe(0);
    const r = cli("k8s", "case2", "load", "--rate", "20", "--duration", "15s", "--parallelism", "1", "--resources", "none");
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
    const path = /result \(complete\): (\S+\.json)/.exec(r.out)?.[1];
    expect(path && existsSync(path)).toBeTruthy();
    const result = JSON.parse(readFileSync(path!, "utf8"));
    expect(result.fingerprint.platform).toBe("kubernetes");
    expect(result.fingerprint.nodes[0]).toMatchObject({ name: CLUSTER.node, kubelet: `v${versions.kubernetes.kubernetes}` });
    expect(result.summary).toMatchObject({ requests: 300, errors: { status: 0, body: 0, transport: 0 } });
    // Case 2 batches: one call to each data service per client request, whatever the screen.
    expect(result.calls_per_request).toEqual({ "alert-service": 1, "robot-service": 1, "telemetry-service": 1 });
    for (const name of ["yoga-gateway", "robot-service", "telemetry-service", "alert-service", "postgres", "vegeta"]) {
      expect({ name, cpu: result.resources[name]?.cpu_seconds > 0, rss: result.resources[name]?.peak_rss_bytes > 1e6 }).toEqual({ name, cpu: true, rss: true });
    }
  });

  test("k8s cluster down leaves no process, mount, link, iptables rule or pod cgroup; the kubeconfig loses its context", () => {
    const r = cli("k8s", "cluster", "down");
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
    expect(r.out).toContain("no process, mount, network link, iptables rule or pod cgroup of it is left");
    expect(clusterLeftovers(config)).toEqual([]);
    expect(rules()).toBe(before.rules);
    expect(links()).toEqual(before.links);
    expect(existsSync(clusterPaths(config.stateDir).state)).toBe(false);
    expect(readFileSync(defaultKubeconfig(), "utf8")).not.toContain(`"${CLUSTER.name}"`);
    expect(cli("k8s", "cluster", "status").out).toContain("cluster: not running");
  });
});
