/**
 * Images for the cluster built here (docs/design.md §26). No registry answers on the machines this
 * is built on, so every image a pod names is built under that name and tag with Docker, the way
 * Compose's stand-ins are (src/deploy/compose-images.ts: a Debian root filesystem plus the pinned
 * binaries, labelled `org.fleetbench.stand-in`), and imported into the cluster's containerd
 * (`docker save | ctr images import`), where the kubelet finds it present and pulls nothing
 * (`imagePullPolicy: IfNotPresent`, as every rendered manifest says).
 *
 * The cluster's own: the pause image (Kubernetes' pause.c, compiled by `k8s cluster tools`),
 * CoreDNS and Prometheus. A target's: the Bun image (compose/Dockerfile), PostgreSQL, its gateway's
 * image, and vegeta's for the load Job.
 */
import { resolve } from "node:path";
import type { Config } from "../config";
import { spawn, spawnSync, which } from "../runtime";
import versions from "../versions.json" with { type: "json" };
import { buildStandIn, buildStandIns, IMAGES, inspectImage, type StandIn } from "./compose-images";
import { CLUSTER, containerdSocket } from "./k8s-cluster-config";
import { buildComponent, component, componentPath } from "./k8s-cluster-tools";
import { vegetaBinary } from "../run/tools";
import { K8S_DEFAULTS } from "./k8s-manifests";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** The stand-ins only a cluster needs, each from a binary of the tools cache. */
export const CLUSTER_STAND_INS: StandIn[] = [
  {
    image: CLUSTER.pauseImage,
    contents: `the pause binary compiled from Kubernetes v${versions.kubernetes.kubernetes}'s build/pause/linux/pause.c (k8s cluster tools pause)`,
    files: (config) => ({ pause: componentPath(config, "pause") }),
    dockerfile: ["COPY pause /pause", "USER 65535:65535", 'ENTRYPOINT ["/pause"]'],
  },
  {
    image: CLUSTER.corednsImage,
    // The official image sets cap_net_bind_service on the binary and runs as nonroot; the minimal
    // base has no setcap, so this one runs as root (kubeadm's Deployment does not ask for non-root).
    contents: `CoreDNS ${versions.kubernetes.coredns} built from its Go module (k8s cluster tools coredns), running as root`,
    files: (config) => ({ coredns: componentPath(config, "coredns") }),
    dockerfile: ["COPY coredns /coredns", "EXPOSE 53 53/udp", 'ENTRYPOINT ["/coredns"]'],
  },
  {
    image: CLUSTER.prometheusImage,
    contents: `Prometheus ${versions.prometheus} built from its Go module (k8s cluster tools prometheus), with Kubernetes service discovery`,
    files: (config) => ({ prometheus: componentPath(config, "prometheus") }),
    dockerfile: ["COPY prometheus /bin/prometheus", "RUN mkdir -p /prometheus && chown nobody:nogroup /prometheus", "USER nobody", "WORKDIR /prometheus", 'ENTRYPOINT ["/bin/prometheus"]'],
  },
  {
    image: K8S_DEFAULTS.engineImage,
    // compose/vegeta.Dockerfile builds this from golang and debian-slim images no registry serves here.
    contents: `vegeta ${versions.vegeta} of the tools cache (the native path's), on Debian with a shell and tar for the load pods' script and kubectl cp`,
    files: (config) => ({ vegeta: vegetaBinary(config) }),
    dockerfile: ["COPY vegeta /usr/local/bin/vegeta", "USER 65534:65534", 'ENTRYPOINT ["vegeta"]'],
  },
];

const run = (cmd: string[], input?: string) => {
  const r = spawnSync(cmd, { input, timeout: 120_000 });
  return { code: r.exitCode ?? 1, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
};

/** The image id containerd holds under a name (the config's digest, which is Docker's image id), or null. */
export function containerdImageId(config: Config, image: string): string | null {
  const crictl = componentPath(config, "crictl");
  const r = run([crictl, "--runtime-endpoint", `unix://${containerdSocket()}`, "--image-endpoint", `unix://${containerdSocket()}`, "inspecti", "-o", "json", image]);
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.out)?.status?.id ?? null;
  } catch {
    return null;
  }
}

/** Docker's image made for a name: a cluster stand-in, a Compose stand-in, or the Bun image built from compose/Dockerfile. */
async function dockerImage(config: Config, image: string, log: (line: string) => void): Promise<string> {
  const own = CLUSTER_STAND_INS.find((s) => s.image === image);
  if (own) {
    for (const name of Object.keys(own.files(config))) if (name !== "vegeta") await buildComponent(config, component(name), log);
    const state = await buildStandIn(config, own, log);
    if (!state.id) throw new Error(`cannot make ${image}: ${state.note}`);
    return state.id;
  }
  if (image === K8S_DEFAULTS.image) {
    // FROM oven/bun: its stand-in first where no registry serves it; Docker's cache makes a rebuild quick.
    await buildStandIns(config, log, [IMAGES.bun]);
    log(`images: docker build -f compose/Dockerfile -t ${image} (the Bun image every role runs in)`);
    const child = spawn(["docker", "build", "--quiet", "-f", resolve(ROOT, "compose", "Dockerfile"), "-t", image, ROOT], { stdout: "pipe", stderr: "pipe", env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    const [out, err] = [await new Response(child.stdout as ReadableStream).text(), await new Response(child.stderr as ReadableStream).text()];
    if ((await child.exited) !== 0) throw new Error(`docker build of ${image} failed:\n${(err || out).trim().split("\n").slice(-15).join("\n")}`);
    return inspectImage(image)!.id;
  }
  const present = inspectImage(image);
  if (present && present.standInOf === null) return present.id;
  const [state] = await buildStandIns(config, log, [image]);
  if (!state) throw new Error(`no image is known for ${image}: nothing here builds it, and no registry serves it`);
  if (!state.id) throw new Error(`cannot make ${image}: ${state.note}`);
  return state.id;
}

/**
 * Makes each image in Docker and imports it into the cluster's containerd unless containerd holds
 * that very image already (same id). Says what it imported and how long it took.
 */
export async function ensureClusterImages(config: Config, images: string[], log: (line: string) => void = console.log) {
  if (!which("docker")) throw new Error("the cluster's images are built with Docker, which is not installed (Debian/Ubuntu: apt-get install docker.io)");
  for (const image of [...new Set(images)]) {
    const id = await dockerImage(config, image, log);
    if (containerdImageId(config, image) === id) continue;
    const t0 = Date.now();
    // One pipe, so an image of hundreds of MB never sits in this process's memory.
    const r = spawnSync(["bash", "-o", "pipefail", "-c", 'docker save "$1" | ctr --address "$2" --namespace k8s.io images import -', "import", image, containerdSocket()], { timeout: 900_000 });
    if (r.exitCode !== 0) throw new Error(`importing ${image} into the cluster's containerd failed (docker save | ctr images import): ${(r.stderr.trim() || `exit ${r.exitCode}`).split("\n").pop()}`);
    if (containerdImageId(config, image) !== id) throw new Error(`imported ${image}, but the cluster's containerd does not hold it under that name with id ${id.slice(7, 19)}`);
    log(`images: ${image} (${id.slice(7, 19)}) imported into the cluster's containerd in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** Every image a set of objects runs (containers and init containers of every pod template). */
export function imagesOf(objects: any[]): string[] {
  const out = new Set<string>();
  for (const o of objects) {
    const spec = o?.spec?.template?.spec ?? o?.spec?.jobTemplate?.spec?.template?.spec ?? (o?.kind === "Pod" ? o.spec : null);
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) if (c?.image) out.add(c.image);
  }
  return [...out];
}
