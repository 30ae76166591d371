/**
 * Reads `http_requests_total` from the processes of a running case, so call counts come from
 * the metrics every process exports (docs/design.md §6), in tests and in results alike.
 */
import type { RunningProcess } from "./supervisor";

/** Total requests received per process, excluding the scrapes and health checks themselves. */
export type RequestCounts = Record<string, number>;

const SAMPLE = /^http_requests_total\{([^}]*)\}\s+([0-9.eE+-]+)$/;

/** Parses Prometheus text exposition: the sum of `http_requests_total` for each service, minus /metrics and /health. */
export function sumRequests(text: string): RequestCounts {
  const counts: RequestCounts = {};
  for (const line of text.split("\n")) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (labels.route === "/metrics" || labels.route === "/health") continue;
    counts[labels.service] = (counts[labels.service] ?? 0) + Number(match[2]);
  }
  return counts;
}

/**
 * One process's /metrics. Read before k6 starts and after it ends, never inside the measured
 * window; a process starved of CPU for a moment (with --pin the whole case shares one CPU on a
 * busy host, and a CI run lost a comparison to a 5 s timeout here) gets 10 s, twice.
 */
async function metricsText(p: Pick<RunningProcess, "name" | "port">): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${p.port}/metrics`, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`${p.name} /metrics answered ${response.status}`);
      return await response.text();
    } catch (error) {
      if (attempt === 2 || (error as Error).name !== "TimeoutError") throw new Error(`${p.name} /metrics: ${(error as Error).message}`);
    }
  }
}

/**
 * Scrapes every given process that exports our metrics (all Bun roles; not the router binary or Toxiproxy):
 * `requestMetrics: false` marks one that exports no http_requests_total of ours (a running process, or its spec).
 */
export async function scrapeRequests(processes: (Pick<RunningProcess, "name" | "port"> & { requestMetrics?: boolean })[]): Promise<RequestCounts> {
  const counts: RequestCounts = {};
  await Promise.all(
    processes
      .filter((p) => p.requestMetrics !== false)
      .map(async (p) => {
        counts[p.name] = sumRequests(await metricsText(p))[p.name] ?? 0;
      }),
  );
  return counts;
}

/** after - before, per process. */
export function delta(before: RequestCounts, after: RequestCounts): RequestCounts {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
}

