/**
 * The metronome (`just compare --metronome`; docs/noise.md, "The machine's factor per run"): a small
 * Bun process doing the same work 60 times a second through a whole comparison, its CPU read from
 * /proc at the edges of every measured window and recorded in the run (`extra.metronome`). On this
 * machine a run's CPU per request moves with a factor every process of the run shares (the cost of
 * the same work changes from one run to the next), and pairing by round cannot remove it, as each
 * target runs at its own moment. The metronome follows that factor; the verdicts do not use it,
 * because its own reading also falls as the load beside it rises (measured: 5-12 % lower with 0.7-1.4
 * cores of other work), so between targets of different cost its expected ratio is not 1.
 *
 * Its CPU is the sum over its threads of /proc/PID/task/TID/schedstat's first field (nanoseconds on
 * the CPU): a 4 s window holds about 50 ms of it, which /proc/PID/stat's 10 ms ticks would blur.
 *
 * Run as a program (`bun src/run/metronome.ts HZ PARENT_PID`), this file is the metronome itself.
 */
import { readdirSync, readFileSync } from "node:fs";
import { type Child, runtimeBinary, spawn } from "../runtime";

/** Beats per second: about what the demo's rate is, so it wakes as often as a service does there. */
export const METRONOME_HZ = 60;

/** The fixed work of a beat: a fleet-sized JSON document written and read back (about 0.2 ms here). */
function beat(document: unknown): number {
  return (JSON.parse(JSON.stringify(document)) as { robots: unknown[] }).robots.length;
}

/** Beats at `hz` on a fixed schedule (a late beat does not move the next ones) until killed, or until `parent` is gone. */
function run(hz: number, parent: number) {
  const document = {
    robots: Array.from({ length: 15 }, (_, i) => ({
      id: `robot-${i}`, battery: i * 3.3, status: i % 4 ? "active" : "charging", position: [i, i * 2],
      alerts: [{ severity: "critical", message: `robot ${i} reported a fault` }],
    })),
  };
  const period = 1000 / hz;
  let next = performance.now();
  const tick = () => {
    if (beat(document) !== 15) throw new Error("the metronome's document lost robots");
    next += period;
    setTimeout(tick, Math.max(0, next - performance.now()));
  };
  tick();
  // A comparison killed outright (SIGKILL) cannot stop its metronome: it stops itself.
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 1000);
}

/** CPU nanoseconds of every thread of `pid` (schedstat's first field), or null when it is gone. */
export function cpuNanoseconds(pid: number): number | null {
  try {
    let total = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // a thread that ended between the listing and the read
      }
    }
    return total;
  } catch {
    return null;
  }
}

/** What a run records of the metronome: its CPU per second over the window, and its beat. */
export interface MetronomeReading {
  hz: number;
  cpu_ms_per_s: number;
}

/** The metronome's CPU at the opening of a window (`metronomeMark`), to read its CPU per second from (`metronomeSince`). */
export interface MetronomeMark {
  ns: number;
  at: number;
  hz: number;
}

let active: { child: Child; hz: number } | null = null;

/** Starts the metronome for a comparison; returns why not when it cannot (no Bun, no schedstat), and the comparison goes on without it. */
export async function startMetronome(hz = METRONOME_HZ): Promise<string | null> {
  if (active) return null;
  const bun = runtimeBinary("bun");
  if (!bun) return "no Bun executable to run it";
  const child = spawn([bun, import.meta.filename, String(hz), String(process.pid)]);
  // Its JIT warm and its first beats behind it before any window reads it.
  await new Promise((done) => setTimeout(done, 1000));
  const cpu = cpuNanoseconds(child.pid);
  if (cpu === null || !(cpu > 0)) {
    child.kill("SIGKILL");
    return `its CPU cannot be read from /proc/${child.pid}/task/*/schedstat`;
  }
  active = { child, hz };
  return null;
}

export async function stopMetronome() {
  if (!active) return;
  const { child } = active;
  active = null;
  child.kill("SIGTERM");
  await child.exited;
}

/** The running metronome's CPU now, to open a window with; null when none runs. */
export function metronomeMark(): MetronomeMark | null {
  if (!active) return null;
  const ns = cpuNanoseconds(active.child.pid);
  return ns === null ? null : { ns, at: performance.now(), hz: active.hz };
}

/** Its CPU per second since `mark`; null when it was not running at both ends. */
export function metronomeSince(mark: MetronomeMark | null): MetronomeReading | null {
  if (!mark || !active) return null;
  const ns = cpuNanoseconds(active.child.pid);
  const seconds = (performance.now() - mark.at) / 1000;
  if (ns === null || seconds <= 0) return null;
  return { hz: mark.hz, cpu_ms_per_s: Math.round(((ns - mark.ns) / 1e6 / seconds) * 1000) / 1000 };
}

if (import.meta.main) run(Number(process.argv[2] ?? METRONOME_HZ), Number(process.argv[3] ?? process.ppid));
