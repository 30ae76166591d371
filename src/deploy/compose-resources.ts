/**
 * CPU and memory per container from the kernel's cgroup accounting: the figures `docker stats`
 * reads (docs/design.md §19). Each container's cgroup is found from its first process's
 * /proc/PID/cgroup, so the cgroup driver (cgroupfs or systemd) and version need not be guessed.
 *
 * - CPU: cgroup v1 `cpuacct.usage` (nanoseconds), v2 `cpu.stat` usage_usec. Every process of the
 *   container counts, exited ones too (the counter is the cgroup's, never reset).
 * - Memory: usage minus inactive file pages, as `docker stats` shows it (v1: memory.usage_in_bytes
 *   − total_inactive_file; v2: memory.current − inactive_file).
 * - The stack's total: with cgroup v1 and the cgroupfs driver every container is a child of one
 *   cgroup (/docker): its counter is the total the per-container figures must add up to.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawnSync } from "../runtime";

const MOUNT = "/sys/fs/cgroup";

export interface ContainerCgroup {
  name: string;
  id: string;
  pid: number;
  version: 1 | 2;
  /** Folder holding the CPU counter (v1 cpuacct, v2 the unified one). */
  cpuDir: string;
  /** Folder holding the memory counters. */
  memoryDir: string;
}

/** The cgroup folders of a process, from /proc/PID/cgroup text. */
export function cgroupDirs(text: string): { version: 1 | 2; cpuDir: string; memoryDir: string } {
  const lines = text.trim().split("\n").map((l) => {
    const [, , controllers, path] = /^(\d+):([^:]*):(.*)$/.exec(l) ?? [];
    return { controllers: (controllers ?? "").split(","), path: path ?? "" };
  });
  const cpu = lines.find((l) => l.controllers.includes("cpuacct"));
  const memory = lines.find((l) => l.controllers.includes("memory"));
  if (cpu && memory) {
    const mount = (l: typeof cpu, c: string) => {
      const joined = join(MOUNT, l.controllers.join(","));
      return join(existsSync(joined) ? joined : join(MOUNT, c), l.path);
    };
    return { version: 1, cpuDir: mount(cpu, "cpuacct"), memoryDir: mount(memory, "memory") };
  }
  const unified = lines.find((l) => l.controllers.length === 1 && l.controllers[0] === "");
  if (!unified) throw new Error(`no cpuacct, memory or unified cgroup in:\n${text}`);
  return { version: 2, cpuDir: join(MOUNT, unified.path), memoryDir: join(MOUNT, unified.path) };
}

/** The cgroups of running containers, by name (their compose service). */
export function containerCgroups(containers: { service: string; id: string }[]): ContainerCgroup[] {
  if (!containers.length) return [];
  const r = spawnSync(["docker", "inspect", "--format", "{{.Id}} {{.State.Pid}}", ...containers.map((c) => c.id)], { timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`docker inspect failed: ${r.stderr.toString().trim()}`);
  const pids = new Map(r.stdout.toString().trim().split("\n").map((l) => l.split(" ")).map(([id, pid]) => [id, Number(pid)]));
  return containers.map((c) => {
    const pid = pids.get(c.id);
    if (!pid) throw new Error(`container ${c.service} (${c.id.slice(0, 12)}) is not running`);
    return { name: c.service, id: c.id, pid, ...cgroupDirs(readFileSync(`/proc/${pid}/cgroup`, "utf8")) };
  });
}

const readNumber = (path: string) => Number(readFileSync(path, "utf8").trim());
const statField = (path: string, key: string) => {
  const m = new RegExp(`^${key} (\\d+)$`, "m").exec(readFileSync(path, "utf8"));
  return m ? Number(m[1]) : 0;
};

/** CPU seconds a cgroup has used since it was made. */
export function cpuSeconds(version: 1 | 2, dir: string): number {
  return version === 1 ? readNumber(join(dir, "cpuacct.usage")) / 1e9 : statField(join(dir, "cpu.stat"), "usage_usec") / 1e6;
}

/** Memory a cgroup holds as `docker stats` counts it: usage minus inactive file pages. */
export function memoryBytes(version: 1 | 2, dir: string): number {
  if (version === 1) return Math.max(0, readNumber(join(dir, "memory.usage_in_bytes")) - statField(join(dir, "memory.stat"), "total_inactive_file"));
  return Math.max(0, readNumber(join(dir, "memory.current")) - statField(join(dir, "memory.stat"), "inactive_file"));
}

/**
 * The cgroup every container is a child of, when there is one only containers use (v1 with
 * cgroupfs: /docker); null otherwise (systemd's slices hold other services too).
 */
export function stackParent(cgroups: ContainerCgroup[]): string | null {
  const parents = new Set(cgroups.map((c) => dirname(c.cpuDir)));
  if (parents.size !== 1) return null;
  const parent = [...parents][0];
  return cgroups[0].version === 1 && parent.endsWith("/docker") ? parent : null;
}

export interface ContainerUsage {
  cpu_seconds: number;
  peak_memory_bytes: number;
}

/**
 * Samples every container's memory each `intervalMs`; CPU is the counter's difference between
 * start and stop (exact: the kernel's count, not sampled). `stackTotal` is the parent cgroup's
 * difference over the same moments, when there is such a parent.
 */
export function startCgroupSampler(cgroups: ContainerCgroup[], intervalMs = 500) {
  const parent = stackParent(cgroups);
  const version = cgroups[0]?.version ?? 1;
  const cpu0 = new Map(cgroups.map((c) => [c.name, cpuSeconds(c.version, c.cpuDir)]));
  const parent0 = parent ? cpuSeconds(version, parent) : null;
  const peak = new Map<string, number>();
  const timeline: { t: number; bytes: Record<string, number> }[] = [];
  // The containers' CPU together at each sample (ms since the epoch, seconds): what the stack
  // itself used per window, beside the machine's /proc/stat (the foreign CPU of steal.ts).
  const cpuTimeline: { t: number; seconds: number }[] = [];
  const t0 = Date.now();
  const sample = () => {
    const bytes: Record<string, number> = {};
    let seconds = 0;
    for (const c of cgroups) {
      try {
        bytes[c.name] = memoryBytes(c.version, c.memoryDir);
        peak.set(c.name, Math.max(peak.get(c.name) ?? 0, bytes[c.name]));
        seconds += cpuSeconds(c.version, c.cpuDir);
      } catch {}
    }
    const now = Date.now();
    timeline.push({ t: now - t0, bytes });
    cpuTimeline.push({ t: now, seconds });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const usage: Record<string, ContainerUsage> = {};
      for (const c of cgroups) {
        let cpu = NaN;
        try {
          cpu = cpuSeconds(c.version, c.cpuDir) - cpu0.get(c.name)!;
        } catch {}
        usage[c.name] = { cpu_seconds: cpu, peak_memory_bytes: peak.get(c.name) ?? 0 };
      }
      const stackTotal = parent && parent0 !== null ? cpuSeconds(version, parent) - parent0 : null;
      return { usage, timeline, cpuTimeline, stackTotal, parent, version };
    },
  };
}
