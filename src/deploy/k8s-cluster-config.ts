/**
 * What the single-node cluster built here (docs/design.md §26) is configured with: every file the
 * cluster's processes read, rendered from one table so that `up`, `down`, `status` and the tests
 * agree on names, addresses and paths. Pure: nothing here touches the machine.
 *
 * The node's network is a bridge of its own (`fleetbench0`, 10.244.0.1/24): the API server, the
 * kubelet and the pods all speak on it, so no byte of the cluster crosses the machine's own
 * interfaces and `down` removes one link to remove the network.
 */
import { join } from "node:path";
import versions from "../versions.json" with { type: "json" };

const PINS = versions.kubernetes;

export const CLUSTER = {
  /** The cluster's name, the node's, and the kubeconfig context `up` adds. */
  name: "fleetbench",
  node: "fleetbench",
  bridge: "fleetbench0",
  /** The bridge's own address: the node's address, the API server's and the pods' gateway. */
  address: "10.244.0.1",
  podSubnet: "10.244.0.0/24",
  /** What the controller manager hands out and kube-proxy treats as inside the cluster. */
  clusterCidr: "10.244.0.0/16",
  serviceSubnet: "10.96.0.0/16",
  /** The tenth address of the service subnet: where kubeadm puts the kube-dns Service. */
  dns: "10.96.0.10",
  apiPort: 6443,
  /** containerd's socket and state: under /run, so a reboot clears them as it clears the processes. */
  runDir: "/run/fleetbench-k8s",
  /** The CNI plugins: Debian's containernetworking-plugins. */
  cniBinDir: "/usr/lib/cni",
  pauseImage: `registry.k8s.io/pause:${PINS.pause}`,
  corednsImage: `registry.k8s.io/coredns/coredns:v${PINS.coredns}`,
  /** Not prom/prometheus: Compose's stand-in of that name holds Debian's build, which has no Kubernetes discovery. */
  prometheusImage: `fleetbench-prometheus:${versions.prometheus}`,
} as const;

export const apiServerUrl = () => `https://${CLUSTER.address}:${CLUSTER.apiPort}`;
export const containerdSocket = () => join(CLUSTER.runDir, "containerd.sock");
/**
 * Where the kubelet's cAdvisor looks for containerd, with no flag to move it: without a containerd
 * there it sees pods' cgroups but not their containers. `up` links it to the cluster's socket when
 * nothing else is there, and `down` removes the link.
 */
export const CADVISOR_CONTAINERD = "/run/containerd/containerd.sock";

/** Where everything of the cluster lives: certificates, kubeconfigs, etcd's data, the kubelet's and containerd's roots, logs. */
export interface ClusterPaths {
  dir: string;
  pki: string;
  manifests: string;
  etcd: string;
  kubelet: string;
  containerd: string;
  cni: string;
  logs: string;
  state: string;
  kubeadmConfig: string;
  kubeletConfig: string;
  containerdConfig: string;
  kubeProxyConfig: string;
  /** The kubeconfig `up` writes and merges into the user's: context, cluster and user all named `fleetbench`. */
  kubeconfig: string;
  /** The folders behind the node's PersistentVolumes. */
  volumes: string;
}

export function clusterPaths(stateDir: string): ClusterPaths {
  const dir = join(stateDir, "k8s-cluster");
  return {
    dir,
    pki: join(dir, "pki"),
    manifests: join(dir, "manifests"),
    etcd: join(dir, "etcd"),
    kubelet: join(dir, "kubelet"),
    containerd: join(dir, "containerd"),
    cni: join(dir, "cni"),
    logs: join(dir, "logs"),
    state: join(dir, "cluster.json"),
    kubeadmConfig: join(dir, "kubeadm.yaml"),
    kubeletConfig: join(dir, "kubelet-config.yaml"),
    containerdConfig: join(dir, "containerd.toml"),
    kubeProxyConfig: join(dir, "kube-proxy-config.yaml"),
    kubeconfig: join(dir, "kubeconfig"),
    volumes: join(dir, "volumes"),
  };
}

/** kubeadm's configuration: it makes the certificates, the kubeconfigs and the control plane's command lines from this. */
export function kubeadmConfig(p: ClusterPaths): string {
  return `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: ${CLUSTER.address}
  bindPort: ${CLUSTER.apiPort}
nodeRegistration:
  name: ${CLUSTER.node}
  criSocket: unix://${containerdSocket()}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v${PINS.kubernetes}
clusterName: ${CLUSTER.name}
certificatesDir: ${p.pki}
controlPlaneEndpoint: ${CLUSTER.address}:${CLUSTER.apiPort}
networking:
  podSubnet: ${CLUSTER.clusterCidr}
  serviceSubnet: ${CLUSTER.serviceSubnet}
  dnsDomain: cluster.local
dns:
  imageRepository: registry.k8s.io/coredns
  imageTag: v${PINS.coredns}
`;
}

/**
 * The kubelet's configuration. This machine has cgroup v1 and no systemd: the cgroupfs driver (as
 * containerd's runc is told), and cgroup v1 allowed explicitly (Kubernetes 1.35 refuses it unless
 * told). Swap is tolerated, as on most laptops. Authentication by client certificate and webhook,
 * as kubeadm configures it.
 */
export function kubeletConfig(p: ClusterPaths): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${containerdSocket()}
address: ${CLUSTER.address}
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${join(p.pki, "ca.crt")}
authorization:
  mode: Webhook
clusterDNS:
- ${CLUSTER.dns}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
rotateCertificates: false
staticPodPath: ""
# Images are imported, never pulled: garbage collection would delete what cannot come back.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
`;
}

/** kube-proxy's configuration: iptables mode, the cluster's pod range inside. */
export function kubeProxyConfig(p: ClusterPaths): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: ${CLUSTER.clusterCidr}
hostnameOverride: ${CLUSTER.node}
bindAddress: ${CLUSTER.address}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection:
  kubeconfig: ${join(p.dir, "kube-proxy.conf")}
conntrack:
  # This machine's conntrack sysctls may be read-only (containers, VMs): leave them as they are.
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

/** containerd (Debian's, a daemon of the cluster's own: its own socket, root and state, beside any containerd Docker runs). */
export function containerdConfig(p: ClusterPaths): string {
  const cri = `plugins."io.containerd.grpc.v1.cri"`;
  return `version = 2
root = "${join(p.containerd, "root")}"
state = "${join(CLUSTER.runDir, "containerd")}"

[grpc]
  address = "${containerdSocket()}"

[${cri}]
  sandbox_image = "${CLUSTER.pauseImage}"
  # No container may get a lower OOM score than containerd's own: where root lacks CAP_SYS_RESOURCE
  # (VMs and containers that drop it, as here), runc fails to start a pod whose score is negative.
  restrict_oom_score_adj = true
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [${cri}.cni]
    bin_dir = "${CLUSTER.cniBinDir}"
    conf_dir = "${p.cni}"
`;
}

/** The pod network: Debian's bridge plugin on the cluster's bridge, host-local addresses, masquerade out, portmap. */
export function cniConfig(): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: CLUSTER.name,
      plugins: [
        {
          type: "bridge",
          bridge: CLUSTER.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: CLUSTER.podSubnet, gateway: CLUSTER.address }]], routes: [{ dst: "0.0.0.0/0" }] },
        },
        { type: "portmap", capabilities: { portMappings: true } },
        // Bridged traffic passes iptables' FORWARD chain here (br_netfilter), whose policy Docker
        // sets to DROP: this plugin lets each pod's traffic through, and takes its rules back on DEL.
        { type: "firewall", backend: "iptables" },
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * A control-plane process's command line as kubeadm wrote it for its static Pod, made to run on
 * the node itself: the kubeconfigs kubeadm puts in /etc/kubernetes are in the cluster's folder,
 * and etcd's data too.
 */
export function hostCommand(staticPod: any, p: ClusterPaths): string[] {
  const command: unknown = staticPod?.spec?.containers?.[0]?.command;
  if (!Array.isArray(command) || !command.length || !command.every((x) => typeof x === "string")) throw new Error("kubeadm's static Pod has no command");
  return command.slice(1).map((arg: string) => arg.replaceAll("/etc/kubernetes/", `${p.dir}/`).replace(/^--data-dir=\/var\/lib\/etcd$/, `--data-dir=${p.etcd}`));
}

/** How many PersistentVolumes the node offers, and how large each says it is (a folder: nothing enforces the size). */
export const VOLUMES = { count: 4, size: "20Gi" };

/**
 * The node's PersistentVolumes: folders of the cluster's own, of no storage class, so a claim that
 * names none (PostgreSQL's, as rendered) binds to one. Kept when released (a folder has no
 * deleter); `k8s up` on this cluster empties the released ones and offers them again.
 */
export function volumeObjects(p: ClusterPaths): Record<string, unknown>[] {
  return Array.from({ length: VOLUMES.count }, (_, i) => ({
    apiVersion: "v1", kind: "PersistentVolume",
    metadata: { name: `fleetbench-volume-${i}`, labels: { "app.kubernetes.io/part-of": "fleetbench-cluster" } },
    spec: {
      capacity: { storage: VOLUMES.size }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", storageClassName: "",
      hostPath: { path: join(p.volumes, `volume-${i}`), type: "Directory" },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [CLUSTER.node] }] }] } },
    },
  }));
}

/**
 * Prometheus in the cluster, where `k8s load` asks for containers' CPU and memory and the
 * services' calls (`--prometheus monitoring/prometheus-server:80`, the default): the kubelet's
 * cAdvisor endpoint for every container, and every pod annotated `prometheus.io/scrape`.
 */
export function prometheusObjects(image: string): Record<string, unknown>[] {
  const ns = "monitoring";
  const meta = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace: ns } : {}), labels: { "app.kubernetes.io/part-of": "fleetbench-cluster" } });
  const config = {
    global: { scrape_interval: "5s", evaluation_interval: "5s" },
    scrape_configs: [
      {
        job_name: "kubernetes-cadvisor",
        scheme: "https",
        metrics_path: "/metrics/cadvisor",
        authorization: { credentials_file: "/var/run/secrets/kubernetes.io/serviceaccount/token" },
        tls_config: { ca_file: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", insecure_skip_verify: true },
        kubernetes_sd_configs: [{ role: "node" }],
      },
      {
        job_name: "kubernetes-pods",
        kubernetes_sd_configs: [{ role: "pod" }],
        relabel_configs: [
          { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], action: "keep", regex: "true" },
          { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"], action: "replace", target_label: "__metrics_path__", regex: "(.+)" },
          { source_labels: ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"], action: "replace", regex: "([^:]+)(?::\\d+)?;(\\d+)", replacement: "$1:$2", target_label: "__address__" },
          { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
          { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
          { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
        ],
      },
    ],
  };
  const labels = { app: "prometheus-server" };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: meta(ns, false) },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta("prometheus-server") },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: meta("fleetbench-prometheus", false),
      rules: [
        { apiGroups: [""], resources: ["nodes", "nodes/metrics", "services", "endpoints", "pods"], verbs: ["get", "list", "watch"] },
        { nonResourceURLs: ["/metrics", "/metrics/cadvisor"], verbs: ["get"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: meta("fleetbench-prometheus", false),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "fleetbench-prometheus" },
      subjects: [{ kind: "ServiceAccount", name: "prometheus-server", namespace: ns }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: meta("prometheus-server"), data: { "prometheus.yml": JSON.stringify(config, null, 2) } },
    {
      apiVersion: "apps/v1", kind: "Deployment", metadata: meta("prometheus-server"),
      spec: {
        replicas: 1, selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "prometheus-server",
            containers: [{
              name: "prometheus", image, imagePullPolicy: "IfNotPresent",
              args: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=1d", "--web.listen-address=:9090"],
              ports: [{ containerPort: 9090 }],
              readinessProbe: { httpGet: { path: "/-/ready", port: 9090 }, periodSeconds: 2 },
              volumeMounts: [{ name: "config", mountPath: "/etc/prometheus" }, { name: "data", mountPath: "/prometheus" }],
            }],
            volumes: [{ name: "config", configMap: { name: "prometheus-server" } }, { name: "data", emptyDir: {} }],
          },
        },
      },
    },
    { apiVersion: "v1", kind: "Service", metadata: meta("prometheus-server"), spec: { selector: labels, ports: [{ port: 80, targetPort: 9090 }] } },
  ];
}
