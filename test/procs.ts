/**
 * The machine's processes as /proc shows them, for the tests' checks on what a run leaves behind
 * (test/utils.ts) and the report of a test that runs long (test/trace.ts). No configuration is
 * read here: the preload (test/setup.ts) imports it before the results folder is set.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Every process: pid → its parent and state (R running, S sleeping, D in I/O, T stopped, Z exited). */
export function processTable(): Map<number, { ppid: number; state: string }> {
  const table = new Map<number, { ppid: number; state: string }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name (2nd field) may hold spaces and parentheses: fields resume after the last ")".
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(entry), { ppid: Number(ppid), state });
    } catch {
      // it ended while we looked
    }
  }
  return table;
}

/** The command line of `pid`, words joined by spaces, or null once it has ended. */
export function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return null;
  }
}

/** The metronomes (src/run/metronome.ts) beating for the process `parent`: their pids. */
export function metronomesOf(parent: number): number[] {
  return [...processTable().keys()].filter((pid) => {
    const words = commandLine(pid)?.split(" ") ?? [];
    return words.some((w) => w.endsWith("/src/run/metronome.ts")) && words.at(-1) === String(parent);
  });
}
