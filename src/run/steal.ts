/**
 * Steal time (docs/design.md §18): the share of time the hypervisor ran someone else while this VM
 * wanted a CPU, from the `cpu` line of /proc/stat, per k6 window and per run. On a shared VM
 * it moves a case's throughput more than anything the case does (measured on the 2-vCPU machine
 * fleetbench was written on: 0.1–10.9 % per 5 s window, window throughput vs steal r = −0.84).
 *
 * The `cpu` line counts clock ticks since boot summed over every CPU: user nice system idle
 * iowait irq softirq steal guest guest_nice. guest and guest_nice are already inside user and
 * nice (the kernel adds a guest's time to both), so the time of an interval is the sum of the
 * first eight fields; steal is the eighth.
 */
import { readFileSync } from "node:fs";

export interface CpuTimes {
  /** When it was read, in ms since the epoch (the clock k6's scenario start is given on). */
  t: number;
  /** All the line's time fields (the first eight), in ticks. */
  total: number;
  steal: number;
  /** Time some CPU was busy for this VM: user, nice, system, irq, softirq (not idle, iowait or steal). */
  busy: number;
}

/** The `cpu` line of /proc/stat text; throws when there is none (not Linux). */
export function parseCpuLine(text: string, t = 0): CpuTimes {
  const line = text.split("\n").find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error("/proc/stat has no `cpu` line: steal time cannot be read");
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const time = fields.slice(0, 8);
  while (time.length < 8) time.push(0); // kernels before 2.6.11 had no steal field
  return { t, total: time.reduce((s, x) => s + x, 0), steal: time[7], busy: time[0] + time[1] + time[2] + time[5] + time[6] };
}

/** Steal as a share of all time between two readings, in percent; null when no time passed. */
export function stealPct(a: Pick<CpuTimes, "total" | "steal">, b: Pick<CpuTimes, "total" | "steal">): number | null {
  const total = b.total - a.total;
  return total > 0 ? round(((b.steal - a.steal) / total) * 100) : null;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Counters at moment `t`, each interpolated linearly between the readings around it (null outside them). */
export function countersAt<T extends { t: number }>(samples: T[], t: number): Omit<T, "t"> | null {
  if (!samples.length || t < samples[0].t || t > samples.at(-1)!.t) return null;
  const i = samples.findIndex((s) => s.t >= t);
  const b = samples[i];
  const { t: _, ...at } = b;
  if (b.t === t || i === 0) return at;
  const a = samples[i - 1] as Record<string, number>;
  const f = (t - a.t) / (b.t - a.t);
  return Object.fromEntries(Object.entries(at).map(([k, v]) => [k, a[k] + f * ((v as number) - a[k])])) as Omit<T, "t">;
}

/**
 * Steal per window of `windowSeconds` from `start` (k6's scenario start, ms since the epoch),
 * `count` windows: the counters interpolated at each window's edges. A window not covered by the
 * readings is null.
 */
export function stealPerWindow(samples: CpuTimes[], start: number, windowSeconds: number, count: number): (number | null)[] {
  return Array.from({ length: count }, (_, w) => {
    const a = countersAt(samples, start + w * windowSeconds * 1000);
    const b = countersAt(samples, windowEnd(samples.at(-1)?.t, start + (w + 1) * windowSeconds * 1000));
    return a && b ? stealPct(a, b) : null;
  });
}

/**
 * A window's end, or the last reading (at `last`) where the end is at most a second past it: the
 * engine's clock starts at its first request, a little after the engine itself, so the last window
 * can end a few milliseconds after the engine (and the readings, taken until it exits) stopped.
 */
export function windowEnd(last: number | undefined, end: number): number {
  return last !== undefined && end > last && end - last <= 1000 ? last : end;
}

/**
 * The machine's CPU used by anything but the run (other tenants' work inside this VM: a build, a
 * neighbour's tests), in percent of all CPU time: busy time of the `cpu` line less the ticks of
 * every process the run measured (`measured`: their sum over time, same clock ticks). Per run
 * over the readings' span, and per window like steal. Null where not covered.
 */
export function foreignPct(cpu: CpuTimes[], measured: { t: number; ticks: number }[], from: number, to: number): number | null {
  const [a, b] = [countersAt(cpu, from), countersAt(cpu, to)];
  const [ma, mb] = [countersAt(measured, from), countersAt(measured, to)];
  if (!a || !b || !ma || !mb || b.total - a.total <= 0) return null;
  return round(Math.max(0, (b.busy - a.busy - (mb.ticks - ma.ticks)) / (b.total - a.total)) * 100);
}

export function foreignPerWindow(cpu: CpuTimes[], measured: { t: number; ticks: number }[], start: number, windowSeconds: number, count: number): (number | null)[] {
  // The earlier of the two series' last readings: a window needs both.
  const lastOfBoth = cpu.length ? Math.min(cpu.at(-1)!.t, measured.at(-1)?.t ?? Number.POSITIVE_INFINITY) : undefined;
  return Array.from({ length: count }, (_, w) => foreignPct(cpu, measured, start + w * windowSeconds * 1000, windowEnd(lastOfBoth, start + (w + 1) * windowSeconds * 1000)));
}

/** Reads /proc/stat now; null where there is no /proc/stat. */
export function readCpuTimes(): CpuTimes | null {
  try {
    return parseCpuLine(readFileSync("/proc/stat", "utf8"), Date.now());
  } catch {
    return null;
  }
}

/**
 * Reads /proc/stat every `intervalMs` until stopped. Each reading carries its own time, so a
 * timer delayed on a busy machine moves a reading, not the windows' edges.
 */
export function startStealSampler(intervalMs = 250) {
  const samples: CpuTimes[] = [];
  const take = () => {
    const s = readCpuTimes();
    if (s) samples.push(s);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop(): CpuTimes[] {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}
