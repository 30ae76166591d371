/**
 * CPU and memory of every process of a run, read from /proc. A process counts with its
 * descendants, so PostgreSQL is its postmaster plus every backend serving the run.
 *
 * - CPU: user + system time of every live process of the tree, plus the time of children that
 *   already exited and were reaped (`cutime` + `cstime`): a backend that ends during the run is
 *   still counted, by its parent. CPU-seconds of a run = last sample - first sample.
 * - Memory: PSS (proportional set size) for every process: a page shared by k processes counts
 *   1/k in each, so the Bun binary mapped by six processes and PostgreSQL's shared buffers are
 *   counted once in a sum. RSS is kept beside it (it counts shared pages in every process).
 * - Clock ticks per second and the page size come from the OS (`getconf`), not assumed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "../runtime";

/** A `getconf` value; these are fixed for the life of the machine, so read once. */
const systemValues = new Map<string, number>();
export function getconf(name: "CLK_TCK" | "PAGESIZE"): number {
  if (!systemValues.has(name)) {
    const result = spawnSync(["getconf", name]);
    const value = Number(result.stdout.toString().trim());
    if (result.exitCode !== 0 || !Number.isInteger(value) || value <= 0) {
      throw new Error(`getconf ${name} failed (exit ${result.exitCode}): ${result.stderr.toString().trim() || result.stdout.toString().trim()}; CPU and memory cannot be measured`);
    }
    systemValues.set(name, value);
  }
  return systemValues.get(name)!;
}

export interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
  rssBytes: number;
}

/** Parses /proc/<pid>/stat text (fields after the command name, which may hold spaces). */
export function parseStat(pid: number, raw: string, pageSize: number): Stat {
  const fields = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17, rss (pages) 24.
  return {
    pid,
    ppid: Number(fields[1]),
    ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]),
    rssBytes: Number(fields[21]) * pageSize,
  };
}

function readStat(pid: number, pageSize: number): Stat | null {
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, "utf8"), pageSize);
  } catch {
    return null;
  }
}

/** Proportional set size in bytes, or null when the process is gone. */
function readPss(pid: number): number | null {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export function allStats(pageSize: number): Stat[] {
  const stats: Stat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry), pageSize);
    if (stat) stats.push(stat);
  }
  return stats;
}

export interface TreeTotal {
  ticks: number;
  rssBytes: number;
  pssBytes: number;
}

/** From one listing of /proc: the processes of the tree under a pid (itself included; none once it is gone). */
export function treeOf(stats: Stat[]): (root: number) => Stat[] {
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  return (root) => {
    const tree: Stat[] = [];
    const stack = byPid.has(root) ? [byPid.get(root)!] : [];
    while (stack.length) {
      const s = stack.pop()!;
      tree.push(s);
      stack.push(...(children.get(s.pid) ?? []));
    }
    return tree;
  };
}

/** CPU ticks, RSS and PSS of `root` and all its descendants, per root. */
function treeTotals(roots: Map<string, number>, pageSize: number): Map<string, TreeTotal> {
  const tree = treeOf(allStats(pageSize));
  const totals = new Map<string, TreeTotal>();
  for (const [name, pid] of roots) {
    const members = tree(pid);
    totals.set(name, {
      ticks: members.reduce((sum, s) => sum + s.ticks, 0),
      rssBytes: members.reduce((sum, s) => sum + s.rssBytes, 0),
      pssBytes: members.reduce((sum, s) => sum + (readPss(s.pid) ?? 0), 0),
    });
  }
  return totals;
}

/** Memory of each named process tree at this moment: PSS and RSS in bytes (`just status`). */
export function memoryNow(roots: Record<string, number>): Record<string, { pssBytes: number; rssBytes: number }> {
  const totals = treeTotals(new Map(Object.entries(roots)), getconf("PAGESIZE"));
  return Object.fromEntries([...totals].map(([name, t]) => [name, { pssBytes: t.pssBytes, rssBytes: t.rssBytes }]));
}

export interface ProcessUsage {
  cpu_seconds: number;
  /** Largest RSS sum of the process tree (shared pages counted in every process). */
  peak_rss_bytes: number;
  /** Largest PSS sum of the process tree: the memory number the report uses. */
  peak_pss_bytes: number;
}

/** One sample: milliseconds since the sampler started, and PSS per process at that moment. */
export interface MemorySample {
  t: number;
  pss: Record<string, number>;
}

/** CPU ticks of every sampled tree together at one moment (ms since the epoch): what the run itself used, per window. */
export interface TicksSample {
  t: number;
  ticks: number;
}

/** Each process's CPU ticks since it was first seen, at one moment (ms since the epoch): CPU over any span of the run. */
export interface ProcessTicksSample {
  t: number;
  ticks: Record<string, number>;
}

/** How long a process that joins the sampler (the load engine) is read every 5 ms. */
const SHORT_LIVED_MS = 1000;

/**
 * Samples named process trees every `intervalMs` until stopped; `add` lets a process that starts
 * later (k6) join. CPU is the difference between the first and last sample of each process.
 */
export function startSampler(roots: Record<string, number>, intervalMs = 500) {
  const ticksPerSecond = getconf("CLK_TCK");
  const pageSize = getconf("PAGESIZE");
  const pids = new Map(Object.entries(roots));
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const peakRss = new Map<string, number>();
  const peakPss = new Map<string, number>();
  const timeline: MemorySample[] = [];
  const ticksTimeline: TicksSample[] = [];
  const cpuTimeline: ProcessTicksSample[] = [];
  const t0 = Date.now();
  let stopped = false;
  /** One reading of a process (tree): its CPU so far and its memory peaks. */
  const record = (name: string, total: TreeTotal) => {
    if (!first.has(name)) first.set(name, total.ticks);
    last.set(name, Math.max(last.get(name) ?? 0, total.ticks));
    peakRss.set(name, Math.max(peakRss.get(name) ?? 0, total.rssBytes));
    peakPss.set(name, Math.max(peakPss.get(name) ?? 0, total.pssBytes));
  };
  const sample = () => {
    const totals = treeTotals(pids, pageSize);
    const pss: Record<string, number> = {};
    for (const [name, total] of totals) {
      if (total.ticks === 0 && total.rssBytes === 0) continue;
      record(name, total);
      pss[name] = total.pssBytes;
    }
    // Each tree's growth since it was first seen, summed: a process joining (k6) adds only what
    // it uses from then on, and one that ended (k6 at the end) keeps what it used.
    const now = Date.now();
    ticksTimeline.push({ t: now, ticks: [...first.keys()].reduce((sum, name) => sum + last.get(name)! - first.get(name)!, 0) });
    cpuTimeline.push({ t: now, ticks: Object.fromEntries([...first.keys()].map((name) => [name, last.get(name)! - first.get(name)!])) });
    timeline.push({ t: Date.now() - t0, pss });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    add(name: string, pid: number) {
      pids.set(name, pid);
      // A short-lived process (the engine sending 40 requests lives about 0.1 s) can end between
      // two samples, and its first reading is taken before it has grown; a sample of every tree
      // reads all of /proc, which on a machine with many processes takes longer than its life. So
      // for its first second its own /proc entries (two reads) are read at once and every 5 ms,
      // and its peak is seen even when it ends before the next sample.
      const until = Date.now() + SHORT_LIVED_MS;
      const watch = () => {
        if (stopped || Date.now() > until) return;
        const stat = readStat(pid, pageSize);
        const pss = stat ? readPss(pid) : null;
        if (stat === null || (pss === null && stat.rssBytes === 0)) return;
        record(name, { ticks: stat.ticks, rssBytes: stat.rssBytes, pssBytes: pss ?? 0 });
        setTimeout(watch, 5);
      };
      watch();
    },
    /** Takes a final sample and returns usage per process, and the memory samples. */
    stop(): { usage: Record<string, ProcessUsage>; timeline: MemorySample[]; ticksTimeline: TicksSample[]; cpuTimeline: ProcessTicksSample[]; ticksPerSecond: number; pageSize: number } {
      clearInterval(timer);
      stopped = true;
      sample();
      const usage: Record<string, ProcessUsage> = {};
      for (const name of pids.keys()) {
        if (!first.has(name)) continue;
        usage[name] = {
          cpu_seconds: (last.get(name)! - first.get(name)!) / ticksPerSecond,
          peak_rss_bytes: peakRss.get(name) ?? 0,
          peak_pss_bytes: peakPss.get(name) ?? 0,
        };
      }
      return { usage, timeline, ticksTimeline, cpuTimeline, ticksPerSecond, pageSize };
    },
  };
}
