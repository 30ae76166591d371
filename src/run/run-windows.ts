/**
 * A run's figures by window, pure: the numbers over its steady windows when the detection trimmed a
 * warm-up (CPU per request from each process's tick timeline, throughput, merged percentiles), and
 * steal and foreign CPU per window. run-result.ts puts them into the result.
 */
import type { Measured } from "./run-result";
import type { ProcessTicksSample } from "./resources";
import { mergeHistograms, percentiles } from "./engine/records";
import type { LoadSummary } from "./engine/engine";
import { foreignPct, foreignPerWindow, stealPct, stealPerWindow } from "./steal";

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** A process's cumulative ticks at `t` (ms since the epoch), interpolated between the samples around it. */
export function ticksAt(timeline: ProcessTicksSample[], name: string, t: number): number | null {
  const points = timeline.filter((s) => name in s.ticks);
  if (!points.length || t < points[0].t || t > points.at(-1)!.t) return null;
  const after = points.findIndex((s) => s.t >= t);
  if (points[after].t === t || after === 0) return points[after].ticks[name];
  const [a, b] = [points[after - 1], points[after]];
  return a.ticks[name] + ((b.ticks[name] - a.ticks[name]) * (t - a.t)) / (b.t - a.t);
}

/**
 * A run's numbers over its steady windows (docs/design.md §23): when the detection trimmed leading
 * windows as a warm-up, CPU per request (each process's CPU over the kept span ÷ the successful
 * requests that ended in it), successful throughput and latency percentiles (the kept windows'
 * histograms merged) are recomputed over the kept windows; null when nothing was trimmed or the
 * run lacks what it takes (per-window histograms, the per-process CPU timeline).
 */
export function steadyMetrics(m: Pick<Measured, "cpuTimeline" | "ticksPerSecond">, s: { window_seconds?: number; scenario_start_ms?: number | null; window_histograms?: string[] }, windows: number[], trimmed: number[]) {
  if (!trimmed.length || !m.cpuTimeline?.length || !m.ticksPerSecond || !s.window_histograms || s.scenario_start_ms == null || !s.window_seconds) return null;
  // Leading windows only are trimmed: the kept span runs from the first kept window to the end.
  const from = Math.max(...trimmed) + 1;
  if (from >= windows.length) return null;
  const w = s.window_seconds * 1000;
  const [start, end] = [s.scenario_start_ms + from * w, s.scenario_start_ms + windows.length * w];
  const ok = windows.slice(from).reduce((sum, x) => sum + x, 0);
  if (ok <= 0) return null;
  const names = [...new Set(m.cpuTimeline.flatMap((x) => Object.keys(x.ticks)))];
  const cpu: Record<string, number | null> = {};
  for (const name of names) {
    const [a, b] = [ticksAt(m.cpuTimeline, name, start), ticksAt(m.cpuTimeline, name, end)];
    cpu[name] = a === null || b === null ? null : round((((b - a) / m.ticksPerSecond) * 1000) / ok, 3);
  }
  return {
    from_window: from,
    windows: windows.length - from,
    ok_rps: round(ok / ((windows.length - from) * s.window_seconds), 2),
    latency_ms: percentiles(mergeHistograms(s.window_histograms.slice(from))),
    cpu_ms_per_request: cpu,
  };
}

/**
 * Steal over the run (the window CPU is counted over) and per window, on the windows' own clock
 * (the first request sent, or k6's scenario start) when the engine reported one, else from when
 * the engine was started.
 */
export function stealOf(m: Pick<Measured, "cpuTimes" | "engineStartMs" | "measuredTicks">, summary: Pick<LoadSummary, "scenario_start_ms" | "window_seconds"> | null, windows: number) {
  const samples = m.cpuTimes ?? [];
  if (samples.length < 2) return { steal_not_measured: "/proc/stat could not be read" };
  const start = summary?.scenario_start_ms ?? m.engineStartMs ?? null;
  const perWindow = start !== null && summary && windows;
  // The machine's CPU used by other processes of this VM (a build, a neighbour): the other half of "the machine moved".
  const ticks = m.measuredTicks ?? [];
  const foreign = ticks.length >= 2 && samples[0].busy !== undefined
    ? {
      foreign_cpu_pct: foreignPct(samples, ticks, Math.max(samples[0].t, ticks[0].t), Math.min(samples.at(-1)!.t, ticks.at(-1)!.t)),
      foreign_cpu_pct_windows: perWindow ? foreignPerWindow(samples, ticks, start, summary.window_seconds, windows) : [],
    }
    : {};
  return {
    steal_pct: stealPct(samples[0], samples.at(-1)!),
    steal_pct_windows: perWindow ? stealPerWindow(samples, start, summary.window_seconds, windows) : [],
    steal_clock: summary?.scenario_start_ms ? "first request" : "load generator start",
    ...foreign,
  };
}
