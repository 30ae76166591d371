/**
 * What a test was doing when it ran long. The tests' log (`quiet` in test/utils.ts) prints
 * nothing but keeps its last lines here, with the time; the watchdog in test/setup.ts prints them,
 * with this process's children and their states, while a test is still running after 110 s and
 * every minute after. A test that then times out has its last steps printed just above bun's
 * "timed out" line, where `.ci/run` repeats a failing test's output.
 */
import { commandLine, processTable } from "./procs";

const KEPT = 10;
const lines: string[] = [];
let since = performance.now();

/** Keeps `line` (and forgets the oldest beyond the last 10). */
export function keep(line: string) {
  lines.push(`+${((performance.now() - since) / 1000).toFixed(1)} s ${line}`);
  if (lines.length > KEPT) lines.shift();
}

/** A new test: its own lines and clock. */
export function restart() {
  lines.length = 0;
  since = performance.now();
}

/** This process's children: pid, state (as /proc gives it) and the start of the command line. */
function children(): string[] {
  const found: string[] = [];
  for (const [pid, { ppid, state }] of processTable()) {
    const command = ppid === process.pid ? commandLine(pid) : null;
    if (command !== null) found.push(`pid ${pid} ${state} ${command.slice(0, 100)}`);
  }
  return found;
}

/** The report printed while a test runs long. */
export function stillRunning(): string {
  const seconds = ((performance.now() - since) / 1000).toFixed(0);
  const kids = children();
  return [
    `test still running after ${seconds} s; its last log lines:`,
    ...(lines.length ? lines.map((l) => `  ${l}`) : ["  (none)"]),
    `its child processes (${kids.length}):`,
    ...kids.slice(0, 8).map((k) => `  ${k}`),
  ].join("\n");
}
