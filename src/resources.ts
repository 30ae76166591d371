/**
 * CPU and memory of every process of a run, read from /proc: CPU-seconds (user + system) over
 * the measured window and peak resident memory. A process counts with its descendants, so
 * PostgreSQL is its postmaster plus every backend serving the run (memory as PSS there).
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface Stat {
  pid: number;
  ppid: number;
  ticks: number;
  rssBytes: number;
}

function readStat(pid: number): Stat | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
    // fields[0] is state (field 3); utime/stime are fields 14/15, rss (pages) field 24.
    return {
      pid,
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
      rssBytes: Number(fields[21]) * 4096,
    };
  } catch {
    return null;
  }
}

/** Proportional set size: shared pages split among the processes sharing them. */
function readPss(pid: number): number | null {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function allStats(): Stat[] {
  const stats: Stat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** Sum of CPU ticks and RSS of `root` and all its descendants, per root. */
function treeTotals(roots: Map<string, number>): Map<string, { ticks: number; rssBytes: number }> {
  const stats = allStats();
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const totals = new Map<string, { ticks: number; rssBytes: number }>();
  for (const [name, pid] of roots) {
    const tree: Stat[] = [];
    const stack = byPid.has(pid) ? [byPid.get(pid)!] : [];
    while (stack.length) {
      const s = stack.pop()!;
      tree.push(s);
      stack.push(...(children.get(s.pid) ?? []));
    }
    const ticks = tree.reduce((sum, s) => sum + s.ticks, 0);
    // Backends share PostgreSQL's buffers: summing their RSS would count that memory once per
    // backend, so a tree of several processes is measured by PSS instead.
    const rssBytes = tree.length > 1 ? tree.reduce((sum, s) => sum + (readPss(s.pid) ?? s.rssBytes), 0) : (tree[0]?.rssBytes ?? 0);
    totals.set(name, { ticks, rssBytes });
  }
  return totals;
}

export interface ProcessUsage {
  cpu_seconds: number;
  peak_rss_bytes: number;
}

/**
 * Samples named process trees every `intervalMs` until stopped; `add` lets a process that starts
 * later (k6) join. CPU is the difference between the first and last sample of each process.
 */
export function startSampler(roots: Record<string, number>, intervalMs = 500) {
  const pids = new Map(Object.entries(roots));
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const peak = new Map<string, number>();
  const timeline: { t: number; rss: Record<string, number> }[] = [];
  const t0 = Date.now();
  const sample = () => {
    const totals = treeTotals(pids);
    const rss: Record<string, number> = {};
    for (const [name, total] of totals) {
      if (total.ticks === 0 && total.rssBytes === 0) continue;
      if (!first.has(name)) first.set(name, total.ticks);
      last.set(name, Math.max(last.get(name) ?? 0, total.ticks));
      peak.set(name, Math.max(peak.get(name) ?? 0, total.rssBytes));
      rss[name] = total.rssBytes;
    }
    timeline.push({ t: Date.now() - t0, rss });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    add(name: string, pid: number) {
      pids.set(name, pid);
      sample();
    },
    /** Takes a final sample and returns usage per process. */
    stop(): { usage: Record<string, ProcessUsage>; timeline: typeof timeline } {
      clearInterval(timer);
      sample();
      const usage: Record<string, ProcessUsage> = {};
      for (const name of pids.keys()) {
        if (!first.has(name)) continue;
        usage[name] = {
          cpu_seconds: (last.get(name)! - first.get(name)!) / TICKS_PER_SECOND,
          peak_rss_bytes: peak.get(name) ?? 0,
        };
      }
      return { usage, timeline };
    },
  };
}
