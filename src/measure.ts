/**
 * The measurement window of a run: requests each process received (metrics scraped before and
 * after) and CPU and memory of every process sampled in between, k6 included once it starts.
 */
import type { Config } from "./config";
import { clusterPid } from "./pg-cluster";
import { type MemorySample, type ProcessUsage, startSampler } from "./resources";
import { delta, scrapeRequests } from "./scrape";
import type { SupervisorState } from "./supervisor";

export interface WindowMeasures {
  wallSeconds: number;
  received: Record<string, number>;
  usage: Record<string, ProcessUsage>;
  memory: MemorySample[];
}

export async function openWindow(config: Config, state: SupervisorState) {
  const before = await scrapeRequests(state.processes);
  const pg = config.db.external ? null : clusterPid(config);
  const sampler = startSampler({ ...Object.fromEntries(state.processes.map((p) => [p.name, p.pid])), ...(pg ? { postgres: pg } : {}) });
  const t0 = performance.now();
  return {
    add: (name: string, pid: number) => sampler.add(name, pid),
    /** Closes the window; k6's CPU comes from its own rusage when it ran (exact, not sampled). */
    async close(k6: ReturnType<typeof Bun.spawn> | null): Promise<WindowMeasures> {
      const wallSeconds = (performance.now() - t0) / 1000;
      const { usage, timeline } = sampler.stop();
      const after = await scrapeRequests(state.processes);
      const ru = k6?.resourceUsage();
      if (ru) {
        // maxRSS arrives in KiB (getrusage), whatever the type comment says: measured.
        usage.k6 = {
          cpu_seconds: Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6,
          peak_rss_bytes: Math.max(usage.k6?.peak_rss_bytes ?? 0, Number(ru.maxRSS) * 1024),
          peak_pss_bytes: usage.k6?.peak_pss_bytes ?? 0,
        };
      }
      return { wallSeconds, received: delta(before, after), usage, memory: timeline };
    },
  };
}
