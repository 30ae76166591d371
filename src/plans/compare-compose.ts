/**
 * The compose side of `compare --platforms native,compose`: what it cannot do (refused before
 * anything runs), the check that no stack holds the native runs' ports, and one compose run
 * between native ones.
 */
import type { Config } from "../config";
import { UsageError } from "../errors";
import type { selectTargets } from "../run/cases";
import type { LoadParams } from "../run/load";
import { clusterDown, clusterPid } from "../run/pg-cluster";
import type { CompareOptions } from "./compare";

/** Seconds a compose run spends starting and stopping its stack, beyond the run itself (12–18 s measured here, with the images built). */
export const COMPOSE_CYCLE_SECONDS = 15;

/** What `--platforms native,compose` cannot do, refused before anything runs. */
export function checkComposePlan(targets: ReturnType<typeof selectTargets>, options: CompareOptions) {
  if (!targets.some((t) => t.compose)) throw new UsageError(`none of ${targets.map((t) => t.label).join(", ")} runs under compose (compose runs Bun's rows; Case 3 through apollo-router): --platforms compose has nothing to run`);
  if (options.pin) throw new UsageError("--pin splits this machine's CPUs between the load engine and native processes; containers are not pinned: --pin runs with --platforms native only");
  if (options.inject?.some(Boolean)) throw new UsageError("CPU injection (just calibrate) is native only: --platforms compose cannot take it");
}

export async function composePreflight(config: Config, log: (line: string) => void) {
  const { requireCompose, stackContainers } = await import("../deploy/compose");
  requireCompose(config, null, log);
  const running = stackContainers().filter((c) => c.state === "running").map((c) => c.service);
  if (running.length) throw new UsageError(`a compose stack runs (${running.join(", ")}), and it holds the ports the native runs use: \`just compose down\` first; nothing was started`);
}

/**
 * A compose run inside a comparison: the native cluster (which holds PostgreSQL's port the stack
 * publishes) is stopped first, then the stack is started, measured and stopped again, so the next
 * native run finds its ports free. Without Grafana: it is not measured, and has no stand-in here.
 */
export async function composeRun(config: Config, params: LoadParams, log: (line: string) => void, column: string) {
  const { composeLoad } = await import("../deploy/compose-run");
  if (!config.db.external && clusterPid(config) !== null) await clusterDown(config, log);
  return composeLoad(config, params, log, { grafana: false, column });
}
