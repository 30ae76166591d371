/**
 * The components of a single-node Kubernetes cluster (docs/design.md §26), built here from the
 * modules the registries serve, pinned in src/versions.json ("kubernetes"), each into its own
 * folder of the tools cache (`<name>-<version>/bin/<name>`) as src/run/tools.ts builds its tools:
 * a staging folder moved into place whole, one lock per component. Nothing here imitates a
 * component: one that does not build stops the command with the step and the compiler's words.
 *
 *   bun src/main.ts k8s cluster tools [NAME]...   build them (all by default), one at a time, in the order named
 *
 * Kubernetes' commands live in k8s.io/kubernetes, whose go.mod replaces every staged module
 * (k8s.io/api, k8s.io/client-go, …) with a folder under ./staging that the module does not carry;
 * a dependency's replace lines count for nothing anyway. So each Go component is built from a
 * throwaway build module that requires it and sends each of those local replaces to the staged
 * module as served on its own (v0.37.2 for Kubernetes 1.37.2; etcd's own modules at etcd's version).
 *
 * Every build runs niced, in its own process group, recorded as a background build in the tools
 * cache (`<name>-<version>.building.json`): a measured run pauses it (SIGSTOP) and continues it
 * after. Builds run one after another: two cores are shared.
 */
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { isAlive } from "../run/ports";
import { recordedBuilds } from "../run/builds";
import { sleep, spawn, spawnSync, which } from "../runtime";
import versions from "../versions.json" with { type: "json" };

const PINS = versions.kubernetes;

/** Where a component's source comes from and how it is compiled. */
export type ComponentSource =
  | {
      kind: "go";
      module: string;
      version: string;
      /** The main package. */
      pkg: string;
      /** The version every module the source's go.mod replaces with a local folder is taken at. */
      siblings?: string;
      /** Upstream's release builds link without cgo, except the kubelet's. */
      cgo: boolean;
      tags?: string[];
      ldflags?: string[];
    }
  | { kind: "c"; module: string; version: string; file: string; cflags: string[] };

export interface ClusterComponent {
  name: string;
  version: string;
  source: ComponentSource;
}

const K8S_MODULE = "k8s.io/kubernetes";
const [major, minor] = PINS.kubernetes.split(".");
// What Kubernetes' own build stamps (hack/lib/version.sh); kubeadm compares its version with the
// control plane's, and a v0.0.0-master stamp would make that comparison meaningless.
const k8sLdflags = ["gitVersion=v" + PINS.kubernetes, "gitMajor=" + major, "gitMinor=" + minor, "gitTreeState=clean"].flatMap((kv) => [
  `-X k8s.io/component-base/version.${kv}`,
  `-X k8s.io/client-go/pkg/version.${kv}`,
]);

const kube = (name: string, cgo = false): ClusterComponent => ({
  name,
  version: PINS.kubernetes,
  // Tags and flags as hack/lib/golang.sh builds a release (no debug: -s -w, grpcnotrace).
  source: { kind: "go", module: K8S_MODULE, version: PINS.kubernetes, pkg: `${K8S_MODULE}/cmd/${name}`, siblings: PINS.staging, cgo, tags: ["selinux", "notest", "grpcnotrace"], ldflags: ["-s", "-w", ...k8sLdflags] },
});

/** The cluster's components, in build order: small ones first, Kubernetes' commands together (they share most packages, so the build cache carries one to the next). */
export const CLUSTER_COMPONENTS: ClusterComponent[] = [
  {
    name: "pause",
    version: PINS.pause,
    // The pause image's binary, compiled as build/pause/Makefile does, with Debian's gcc.
    source: { kind: "c", module: K8S_MODULE, version: PINS.kubernetes, file: "build/pause/linux/pause.c", cflags: ["-Os", "-Wall", "-Werror", "-static", `-DVERSION=v${PINS.pause}`] },
  },
  {
    name: "crictl",
    version: PINS.criTools,
    source: { kind: "go", module: "sigs.k8s.io/cri-tools", version: PINS.criTools, pkg: "sigs.k8s.io/cri-tools/cmd/crictl", cgo: false, ldflags: ["-s", "-w", `-X sigs.k8s.io/cri-tools/pkg/version.Version=${PINS.criTools}`] },
  },
  { name: "etcd", version: PINS.etcd, source: { kind: "go", module: "go.etcd.io/etcd/server/v3", version: PINS.etcd, pkg: "go.etcd.io/etcd/server/v3", siblings: PINS.etcd, cgo: false, ldflags: ["-s", "-w"] } },
  { name: "etcdctl", version: PINS.etcd, source: { kind: "go", module: "go.etcd.io/etcd/etcdctl/v3", version: PINS.etcd, pkg: "go.etcd.io/etcd/etcdctl/v3", siblings: PINS.etcd, cgo: false, ldflags: ["-s", "-w"] } },
  kube("kube-scheduler"),
  kube("kubectl"),
  kube("kube-controller-manager"),
  kube("kube-apiserver"),
  kube("kubeadm"),
  kube("kubelet", true),
  // Services' virtual IPs on the node (kubeadm would run it from an image; here it is built like the rest).
  kube("kube-proxy"),
  // Prometheus at the pinned version, from its Go module (v0.x tags 2.x): Debian's build, which the
  // native path runs, is compiled without Kubernetes service discovery, and the cluster's Prometheus
  // finds the kubelet and the pods through it. The web UI's assets are not in the module (the API is).
  {
    name: "prometheus",
    version: PINS.prometheus,
    source: { kind: "go", module: "github.com/prometheus/prometheus", version: PINS.prometheusModule, pkg: "github.com/prometheus/prometheus/cmd/prometheus", cgo: false, tags: ["netgo"], ldflags: ["-s", "-w", `-X github.com/prometheus/common/version.Version=${PINS.prometheus}`] },
  },
  { name: "coredns", version: PINS.coredns, source: { kind: "go", module: "github.com/coredns/coredns", version: PINS.coredns, pkg: "github.com/coredns/coredns", cgo: false, ldflags: ["-s", "-w"] } },
];

export const componentBinary = (config: Config, c: ClusterComponent) => join(config.toolsDir, `${c.name}-${c.version}`, "bin", c.name);

/** A component by name. */
export const component = (name: string): ClusterComponent => {
  const c = CLUSTER_COMPONENTS.find((x) => x.name === name);
  if (!c) throw new Error(`no cluster component ${name}`);
  return c;
};

/** Where a component's binary is, by its name. */
export const componentPath = (config: Config, name: string) => componentBinary(config, component(name));

/** Every replace of a go.mod, single-line or in a block, comments dropped, spaces made single: `old [v] => new [v]`. */
function replaceLines(goMod: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const raw of goMod.replace(/\/\/.*$/gm, "").split("\n")) {
    const line = raw.trim();
    if (line === "replace (") inBlock = true;
    else if (inBlock && line === ")") inBlock = false;
    const body = inBlock ? line : /^replace\s+(.*)$/.exec(line)?.[1];
    if (body?.includes("=>")) out.push(body.replace(/\s+/g, " "));
  }
  return out;
}

/** The modules a go.mod replaces with a local folder (`k8s.io/api => ./staging/src/k8s.io/api`), in its order. */
export function localReplaces(goMod: string): string[] {
  return replaceLines(goMod).flatMap((r) => /^(\S+)(?: \S+)? => \.{1,2}\/\S*$/.exec(r)?.[1] ?? []);
}

/** The source's replaces of a module by another module (`k8s.io/klog/v2 => github.com/simonpasquier/klog-gokit/v3 v3.0.0`), as written. */
export function moduleReplaces(goMod: string): string[] {
  return replaceLines(goMod).filter((r) => /^\S+(?: \S+)? => [^.\s]\S* \S+$/.test(r));
}

/** The throwaway build module's go.mod: requires the source, sends each local replace to its served sibling. */
export function buildModuleGoMod(source: Extract<ComponentSource, { kind: "go" }>, sourceGoMod: string): string {
  const go = /^go\s+(\S+)/m.exec(sourceGoMod)?.[1];
  const godebug = /^godebug\s+.*$/m.exec(sourceGoMod)?.[0];
  const replaces = localReplaces(sourceGoMod);
  const others = moduleReplaces(sourceGoMod);
  if (replaces.length && !source.siblings) throw new Error(`${source.module} v${source.version} replaces ${replaces.join(", ")} with local folders, and no version is pinned to take them at`);
  return [
    `module fleetbench.build/${source.module.replaceAll("/", "-")}`,
    "",
    ...(go ? [`go ${go}`] : []),
    // The source's GODEBUG defaults, which count only in a main module.
    ...(godebug ? [godebug] : []),
    "",
    `require ${source.module} v${source.version}`,
    // A dependency's replaces count for nothing: the source's own, local and not, are restated here.
    ...(replaces.length || others.length ? ["", "replace (", ...replaces.map((m) => `\t${m} => ${m} v${source.siblings}`), ...others.map((r) => `\t${r}`), ")"] : []),
    "",
  ].join("\n");
}

/** The command that builds a component, run in its staging folder (build module in `module/`). */
export function buildCommand(c: ClusterComponent, staging: string, sourceDir: string): string[] {
  const out = join(staging, "bin", c.name);
  if (c.source.kind === "c") return ["gcc", ...c.source.cflags, "-o", out, join(sourceDir, c.source.file)];
  const s = c.source;
  return ["go", "build", "-mod=mod", "-trimpath", "-v", ...(s.tags ? ["-tags", s.tags.join(",")] : []), ...(s.ldflags ? ["-ldflags", s.ldflags.join(" ")] : []), "-o", out, s.pkg];
}

/** Downloads a module into Go's module cache and returns its folder and go.mod. */
function download(module: string, version: string): { dir: string; goMod: string } {
  const r = spawnSync(["go", "mod", "download", "-json", `${module}@v${version}`], { env: goEnv(false) });
  let info: { Dir?: string; GoMod?: string; Error?: string } = {};
  try {
    info = JSON.parse(r.stdout);
  } catch {}
  if (r.exitCode !== 0 || !info.Dir || !info.GoMod) throw new Error(`go mod download ${module}@v${version} failed: ${info.Error ?? (r.stderr.trim() || `exit ${r.exitCode}`)}`);
  return { dir: info.Dir, goMod: readFileSync(info.GoMod, "utf8") };
}

// Go as installed (no toolchain switch), cgo only where upstream uses it.
const goEnv = (cgo: boolean) => ({ ...process.env, GOTOOLCHAIN: "local", CGO_ENABLED: cgo ? "1" : "0" });

/** A build's record, kept in its folder: how long it took and what it made. */
export interface BuildRecord {
  name: string;
  version: string;
  /** Wall time, pauses by measured runs included. */
  seconds: number;
  /** CPU time of the build and every compiler it ran (user + system): what the build cost, pauses or not. */
  cpu_seconds: number | null;
  bytes: number;
  command: string[];
  built_at: string;
}

/** Takes a component's build lock (a pid file created whole by a hard link); waits while a live process holds it. */
async function lock(path: string, log: (line: string) => void) {
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let said = false; ; said = true) {
      try {
        return void linkSync(mine, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const holder = Number(readFileSync(path, "utf8").trim() || 0);
      if (!holder || !isAlive(holder)) rmSync(path, { force: true });
      else {
        if (!said) log(`${path} is held by process ${holder}; waiting for its build`);
        await sleep(1000);
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Builds one component unless it is there; returns its record. Throws with the step and the build's last lines. */
export async function buildComponent(config: Config, c: ClusterComponent, log: (line: string) => void = console.log): Promise<BuildRecord> {
  const finalDir = join(config.toolsDir, `${c.name}-${c.version}`);
  const recordPath = join(finalDir, "build.json");
  if (existsSync(componentBinary(config, c)) && existsSync(recordPath)) return JSON.parse(readFileSync(recordPath, "utf8"));
  const needs = c.source.kind === "c" ? ["gcc", "go"] : ["go"];
  const missing = needs.filter((n) => !which(n));
  if (missing.length) throw new Error(`cannot build ${c.name} ${c.version}: ${missing.join(", ")} not on PATH`);
  mkdirSync(config.toolsDir, { recursive: true });
  const lockPath = `${finalDir}.lock`;
  await lock(lockPath, log);
  const unlock = () => {
    if (existsSync(lockPath) && Number(readFileSync(lockPath, "utf8").trim()) === process.pid) rmSync(lockPath, { force: true });
  };
  // Ctrl-C ends this process with process.exit, which runs no finally.
  process.once("exit", unlock);
  try {
    if (existsSync(componentBinary(config, c)) && existsSync(recordPath)) return JSON.parse(readFileSync(recordPath, "utf8"));
    const staging = `${finalDir}.partial`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(join(staging, "bin"), { recursive: true });
    log(`${c.name} ${c.version}: downloading ${c.source.module} v${c.source.version}`);
    const source = download(c.source.module, c.source.version);
    let cwd = staging;
    if (c.source.kind === "go") {
      cwd = join(staging, "module");
      mkdirSync(cwd);
      writeFileSync(join(cwd, "go.mod"), buildModuleGoMod(c.source, source.goMod));
    } else {
      // The pause version is the one Kubernetes' pause Makefile tags; a pin that disagrees is a mistake.
      const tag = /^TAG \?= (\S+)/m.exec(readFileSync(join(source.dir, "build/pause/Makefile"), "utf8"))?.[1];
      if (tag !== c.version) throw new Error(`pause is pinned at ${c.version}, but ${c.source.module} v${c.source.version}'s build/pause/Makefile tags ${tag}`);
    }
    const command = buildCommand(c, staging, source.dir);
    const logPath = join(config.toolsDir, `${c.name}-${c.version}.build.log`);
    const t0 = Date.now();
    const { code, cpuMicros } = await runRecorded(config, c, ["nice", "-n", "19", ...command], cwd, logPath, log);
    const seconds = Math.round((Date.now() - t0) / 100) / 10;
    if (code !== 0) {
      const tail = readFileSync(logPath, "utf8").trim().split("\n").slice(-20).join("\n");
      throw new Error(`building ${c.name} ${c.version} failed at \`${command.slice(0, 3).join(" ")} … ${command.at(-1)}\` (exit ${code}, after ${seconds} s); the end of ${logPath}:\n${tail}`);
    }
    const cpu_seconds = cpuMicros === null ? null : Math.round(cpuMicros / 1e5) / 10;
    const record: BuildRecord = { name: c.name, version: c.version, seconds, cpu_seconds, bytes: statSync(join(staging, "bin", c.name)).size, command, built_at: new Date().toISOString() };
    writeFileSync(join(staging, "build.json"), `${JSON.stringify(record, null, 2)}\n`);
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(staging, finalDir);
    return record;
  } finally {
    unlock();
    process.off("exit", unlock);
  }
}

/**
 * Runs a build in its own process group (detached), its output to `logPath`, recorded as a
 * background build in the tools cache while it runs; a progress line every minute. Ctrl-C ends the
 * build's whole group and removes the record.
 */
async function runRecorded(config: Config, c: ClusterComponent, command: string[], cwd: string, logPath: string, log: (line: string) => void): Promise<{ code: number; cpuMicros: number | null }> {
  await whileMeasuring(config, c, log);
  const out = openSync(logPath, "w");
  const child = spawn(command, { cwd, env: goEnv(c.source.kind === "go" && c.source.cgo), stdout: out, stderr: out, detached: true });
  closeSync(out);
  const statePath = join(config.toolsDir, `${c.name}-${c.version}.building.json`);
  const started = Date.now();
  writeFileSync(statePath, `${JSON.stringify({ pid: child.pid, started_at: new Date(started).toISOString(), log: logPath })}\n`);
  const stop = () => {
    try {
      // A build a measured run has paused takes its SIGTERM when continued, and then only ends.
      process.kill(-child.pid, "SIGTERM");
      process.kill(-child.pid, "SIGCONT");
    } catch {}
    rmSync(statePath, { force: true });
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  log(`${c.name} ${c.version}: building (pid ${child.pid}, niced, its own process group); its output: ${logPath}`);
  const ticker = setInterval(() => {
    // `go build -v` names each package as it compiles it: a count, not a promise of the total.
    const packages = readFileSync(logPath, "utf8").split("\n").filter((l) => /^[\w.-]+(\/[\w.~-]+)*$/.test(l)).length;
    log(`${c.name} ${c.version}: building for ${((Date.now() - started) / 60000).toFixed(1)} min${c.source.kind === "go" ? `, ${packages} packages compiled` : ""}`);
  }, 60_000);
  try {
    const code = await child.exited;
    return { code, cpuMicros: child.resourceUsage()?.cpuMicros ?? null };
  } finally {
    clearInterval(ticker);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    rmSync(statePath, { force: true });
  }
}

/** A process's state letter (T: stopped), or null once it is gone. */
function processState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * Waits while a measured run has paused the builds the tools cache records (they stand stopped):
 * a build started now would run through that measurement, since a run pauses only the builds
 * recorded when it starts one.
 */
async function whileMeasuring(config: Config, c: ClusterComponent, log: (line: string) => void) {
  const paused = () => recordedBuilds(config).filter(({ build }) => processState(build.pid) === "T");
  let said = false;
  while (paused().length) {
    if (!said) log(`${c.name} ${c.version}: waiting to start, a measured run has paused ${paused().map((b) => b.name).join(", ")}`);
    said = true;
    await sleep(5000);
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** `k8s cluster tools [NAME]...`: builds the named components (all by default, in the table's order), one at a time, and says what each took. */
export async function clusterTools(config: Config, names: string[], log: (line: string) => void = console.log) {
  const unknown = names.filter((n) => !CLUSTER_COMPONENTS.some((c) => c.name === n));
  if (unknown.length) throw new UsageError(`unknown cluster component ${unknown.join(", ")}: components are ${CLUSTER_COMPONENTS.map((c) => c.name).join(", ")}`);
  // Named components build in the order named: the ones wanted first can come first.
  const wanted = names.length ? names.map((n) => CLUSTER_COMPONENTS.find((c) => c.name === n)!) : CLUSTER_COMPONENTS;
  for (const c of wanted) {
    const r = await buildComponent(config, c, log);
    const cpu = r.cpu_seconds == null ? "" : `, ${(r.cpu_seconds / 60).toFixed(1)} CPU-min`;
    log(`${c.name} ${c.version}: ${componentBinary(config, c)} (${mb(r.bytes)}, built in ${(r.seconds / 60).toFixed(1)} min${cpu})`);
  }
}
