/**
 * `--pin` (docs/design.md §13): the load generator on a CPU set of its own, the case (every role, the router and
 * PostgreSQL with all their threads and children) on the rest, so the load generator and the
 * system under test stop taking CPU time from each other. The sets come from the CPUs this
 * process may use (its affinity, so a container's or cgroup's limit counts), the last one for
 * the load generator. With fewer than two there is nothing to split, and the run is refused rather than run
 * unpinned under a label that says pinned.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors";
import { allStats, getconf, treeOf } from "./resources";
import { spawnSync, which } from "../runtime";

export interface PinPlan {
  /** Every CPU this process may use, as taskset writes a list ("0-3,6"). */
  available: string;
  /** The load generator's CPU. */
  generator: string;
  case: string;
}

/** "0-2,5" → [0, 1, 2, 5]. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(",").filter(Boolean)) {
    const [lo, hi] = part.split("-").map(Number);
    if (!Number.isInteger(lo) || (hi !== undefined && !Number.isInteger(hi))) throw new Error(`not a CPU list: "${text}"`);
    for (let c = lo; c <= (hi ?? lo); c++) cpus.push(c);
  }
  return cpus;
}

/** The CPUs a process may run on (Cpus_allowed_list in /proc/PID/status), or null once it is gone. */
export function affinityOf(pid: number | "self"): string | null {
  try {
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1].trim() ?? null;
  } catch {
    return null;
  }
}

/** How `cpus` are split: the last for the load generator, the others for the case. */
export function splitCpus(cpus: number[]): PinPlan {
  if (cpus.length < 2) {
    throw new UsageError(`--pin needs at least 2 CPUs to give the load generator and the case their own (this process may use ${cpus.length}: ${cpus.join(",") || "none"}); run without --pin`);
  }
  return { available: cpus.join(","), generator: String(cpus[cpus.length - 1]), case: cpus.slice(0, -1).join(",") };
}

/** The plan on this machine; refused (exit 2) with fewer than 2 CPUs or without taskset. */
export function pinPlan(): PinPlan {
  if (!which("taskset")) throw new UsageError("--pin needs taskset (util-linux), which is not on PATH");
  return splitCpus(parseCpuList(affinityOf("self") ?? ""));
}

/**
 * The CPUs of a process just spawned, once it runs its own program: started through taskset
 * (pinnedCommand), it is taskset until taskset has set the affinity and exec'd it, and a reading
 * taken before then is the parent's. Waits (at most `waitMs`) while its name is taskset's.
 */
export async function affinityOnceStarted(pid: number, waitMs = 1000): Promise<string | null> {
  const comm = () => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      return null;
    }
  };
  const until = Date.now() + waitMs;
  while (comm() === "taskset" && Date.now() < until) await new Promise((done) => setTimeout(done, 2));
  return affinityOf(pid);
}

/** `command` run by taskset on `cpus`: taskset sets the affinity and execs it, so the pid is the command's. */
export function pinnedCommand(cpus: string, command: string[]): string[] {
  return ["taskset", "--cpu-list", cpus, ...command];
}

/** Every pid in the trees under `roots` (the roots included). */
export function descendants(roots: number[]): number[] {
  const tree = treeOf(allStats(getconf("PAGESIZE")));
  return roots.flatMap((root) => tree(root).map((s) => s.pid));
}

/**
 * Moves every process of the trees under `roots`, with all their threads, onto `cpus`. Threads
 * and children created later inherit it (PostgreSQL forks its backends from the postmaster).
 * Returns what each root now reports, read back from /proc, so the result records the fact and
 * not the intention; a process that could not be moved stops the run with its reason.
 */
export function pinTrees(roots: Record<string, number>, cpus: string): Record<string, string | null> {
  for (const pid of descendants(Object.values(roots))) {
    // A process may end between the listing and taskset (a PostgreSQL backend closing), and so may
    // one of its threads (taskset lists them, then moves each): a failure is tried again, with the
    // threads listed anew, and only a live process that still refuses stops the run.
    for (let attempt = 1; ; attempt++) {
      const moved = spawnSync(["taskset", "--all-tasks", "--cpu-list", "--pid", cpus, String(pid)]);
      if (moved.exitCode === 0 || affinityOf(pid) === null) break;
      if (attempt === 3) throw new Error(`taskset could not move pid ${pid} to CPUs ${cpus}: ${moved.stderr.toString().trim()}`);
    }
  }
  return Object.fromEntries(Object.entries(roots).map(([name, pid]) => [name, affinityOf(pid)]));
}
