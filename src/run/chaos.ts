/**
 * Fault injection during a measured run: one process of the running case is taken away for a
 * while (killed and restarted, or paused and resumed), and the result records the errors second
 * by second and how long the case took to recover once the process was back.
 */
import type { Config } from "../config";
import { faultProcess, recoverProcess } from "./supervisor";
import { sleep } from "../runtime";

export interface ChaosPlan {
  /** A process of the running case: a data service, a subgraph, or (Case 3) the gateway. */
  service: string;
  seconds: number;
  mode: "kill" | "pause";
  /** When the fault starts, in seconds after the measured run starts. */
  atSeconds: number;
}

export interface ChaosEvents {
  fault_at_s: number | null;
  back_at_s: number | null;
  error?: string;
}

/** Runs the plan against the clock `t0` (ms, Date.now() when k6 started); resolves when the process is back. */
export function startChaos(config: Config, plan: ChaosPlan, t0: number, log: (line: string) => void) {
  const events: ChaosEvents = { fault_at_s: null, back_at_s: null };
  const since = () => Math.round((Date.now() - t0) / 10) / 100;
  let cancelled = false;
  const done = (async () => {
    await sleep(Math.max(0, t0 + plan.atSeconds * 1000 - Date.now()));
    if (cancelled) return events;
    try {
      await faultProcess(config, plan.service, plan.mode);
      events.fault_at_s = since();
      log(`chaos: ${plan.service} ${plan.mode === "kill" ? "killed" : "paused"} at ${events.fault_at_s} s, for ${plan.seconds} s`);
      await sleep(plan.seconds * 1000);
      await recoverProcess(config, plan.service, plan.mode);
      events.back_at_s = since();
      log(`chaos: ${plan.service} ${plan.mode === "kill" ? "restarted" : "resumed"} and healthy at ${events.back_at_s} s`);
    } catch (error) {
      events.error = (error as Error).message;
      log(`chaos: ${events.error}`);
    }
    return events;
  })();
  return { done, cancel: () => (cancelled = true) };
}

/** Requests and failed requests per whole second of the run, counted from the clock the fault runs on. */
export type ErrorTimeline = { second: number; requests: number; errors: number }[];

/**
 * Errors over time (per second, from the engine's records) and the time to recover: from the
 * moment the process was back to the end of the last second with an error.
 */
export function chaosReport(plan: ChaosPlan, events: ChaosEvents, seconds: ErrorTimeline) {
  const timeline = [...seconds].sort((a, b) => a.second - b.second);
  // The timeline is sized for the longest the run could last; the seconds after its end are empty.
  while (timeline.length && timeline.at(-1)!.requests === 0) timeline.pop();
  const withErrors = timeline.filter((t) => t.errors > 0);
  const lastError = withErrors.at(-1)?.second ?? null;
  return {
    ...plan,
    ...events,
    errors_total: withErrors.reduce((s, t) => s + t.errors, 0),
    first_error_s: withErrors[0]?.second ?? null,
    last_error_s: lastError,
    time_to_recover_s: events.back_at_s === null ? null : lastError === null ? 0 : Math.max(0, Math.round((lastError + 1 - events.back_at_s) * 100) / 100),
    timeline,
  };
}
