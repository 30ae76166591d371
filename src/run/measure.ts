/**
 * The measurement window of a run: requests each process received (metrics scraped before and
 * after), CPU and memory of every process sampled in between (the load generator included once
 * it starts), and the machine's steal time read from /proc/stat on the wall clock of the run's windows.
 */
import type { Config } from "../config";
import { type MetronomeReading, metronomeMark, metronomeSince } from "./metronome";
import { clusterPid } from "./pg-cluster";
import { type MemorySample, type ProcessTicksSample, type ProcessUsage, startSampler, type TicksSample } from "./resources";
import { scrapeRequests } from "./scrape";
import { type CpuTimes, startStealSampler } from "./steal";
import { readState, type SupervisorState } from "./supervisor";
import { type Child } from "../runtime";

export interface WindowMeasures {
  wallSeconds: number;
  received: Record<string, number>;
  /** Processes whose requests could not be counted over the window, and why. */
  uncounted: Record<string, string>;
  usage: Record<string, ProcessUsage>;
  memory: MemorySample[];
  /** /proc/stat's `cpu` line every 250 ms over the window, each reading with its time (ms since the epoch). */
  cpuTimes: CpuTimes[];
  /** CPU ticks of every measured process together, at each sample (ms since the epoch). */
  measuredTicks: TicksSample[];
  /** Each process's CPU ticks since first seen, at each sample: its CPU over any span of the run. */
  cpuTimeline: ProcessTicksSample[];
  ticksPerSecond: number;
  /** The comparison's metronome over the window (src/run/metronome.ts); null when none ran. */
  metronome: MetronomeReading | null;
}

export async function openWindow(config: Config, state: SupervisorState) {
  const before = await scrapeRequests(state.processes);
  const pg = config.db.external ? null : clusterPid(config);
  const sampler = startSampler({ ...Object.fromEntries(state.processes.map((p) => [p.name, p.pid])), ...(pg ? { postgres: pg } : {}) });
  const steal = startStealSampler();
  const t0 = performance.now();
  const beat = metronomeMark();
  return {
    add: (name: string, pid: number) => sampler.add(name, pid),
    /** Closes the window; the load generator's CPU comes from its own rusage when it ran (exact, not sampled). */
    async close(generator: { name: string; child: Child } | null): Promise<WindowMeasures> {
      const wallSeconds = (performance.now() - t0) / 1000;
      const metronome = metronomeSince(beat);
      const { usage, timeline, ticksTimeline, cpuTimeline, ticksPerSecond } = sampler.stop();
      const cpuTimes = steal.stop();
      // A process killed or restarted during the run (fault injection, a crash) has no counter
      // that spans the window: it is left out of the calls and said so, not counted wrong.
      const now = readState(config)?.processes ?? [];
      const received: Record<string, number> = {};
      const uncounted: Record<string, string> = {};
      await Promise.all(state.processes.filter((p) => p.name in before).map(async (p) => {
        if (now.find((q) => q.name === p.name)?.pid !== p.pid) return void (uncounted[p.name] = "restarted during the run");
        try {
          received[p.name] = (await scrapeRequests([p]))[p.name] - before[p.name];
        } catch (error) {
          uncounted[p.name] = `not reachable after the run: ${(error as Error).message}`;
        }
      }));
      const ru = generator?.child.resourceUsage();
      if (generator && ru) {
        // Its CPU: on Bun the OS's own count for the ended generator (getrusage); on Deno, what the
        // sampler saw. Its memory is the sampler's (src/runtime.ts says why not getrusage's).
        const sampled = usage[generator.name];
        usage[generator.name] = {
          cpu_seconds: ru.cpuMicros / 1e6,
          peak_rss_bytes: sampled?.peak_rss_bytes ?? 0,
          peak_pss_bytes: sampled?.peak_pss_bytes ?? 0,
        };
      }
      return { wallSeconds, received, uncounted, usage, memory: timeline, cpuTimes, measuredTicks: ticksTimeline, cpuTimeline, ticksPerSecond, metronome };
    },
  };
}
