/**
 * All cases under the same parameters, back to back, then the report (DESIGN §8). With
 * `--repeat R` the cases interleave (1, 2, 3, 1, 2, 3, ...) so drift on a noisy machine spreads
 * over every case, and the report shows medians with their spread.
 *
 *   bun src/main.ts compare [VUS] [DURATION] [--repeat R] [--gateways apollo-router,hive-gateway] [--api NAME]
 */
import { basename, join } from "node:path";
import { type CaseName, CASES } from "./cases";
import { type Config, loadConfig } from "./config";
import { RefusedError } from "./errors";
import { type LoadParams, runLoad } from "./load";
import { writeReport } from "./report";
import { clusterDown, clusterPid } from "./pg-cluster";
import { writeAtomic } from "./results";

export interface CompareOptions {
  vus: number;
  duration: string;
  repeat: number;
  gateways: ("apollo-router" | "hive-gateway")[];
  api?: LoadParams["api"];
  warmup: string;
}

export async function compare(config: Config, options: CompareOptions, log: (line: string) => void = console.log) {
  const plan: { case: CaseName; config: Config }[] = [];
  for (const name of Object.keys(CASES) as CaseName[]) {
    if (name !== "case3") plan.push({ case: name, config });
    else for (const gateway of options.gateways) plan.push({ case: name, config: loadConfig({ ...process.env, CASE3_GATEWAY: gateway }) });
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const listPath = join(config.resultsDir, `compare-${stamp}.list`);
  const done: string[] = [];
  const refused: string[] = [];
  const total = plan.length * options.repeat;
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  let interrupted = false;
  let failure: string | null = null;
  const onSignal = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  try {
    for (let round = 1; round <= options.repeat && !interrupted; round++) {
      for (const step of plan) {
        if (interrupted) break;
        const label = `${step.case}${step.case === "case3" ? ` (${step.config.case3Gateway})` : ""}`;
        log(`\n=== [${done.length + refused.length + 1}/${total}] round ${round}: ${label} ===`);
        try {
          const { path, result } = await runLoad(step.config, {
            case: step.case, mode: "duration", vus: options.vus, duration: options.duration, api: options.api, warmup: options.warmup,
          }, log, { keepDatabase: true });
          if (result.status !== "complete") {
            // Ctrl-C, or k6 failed: either way the rounds stop here, and the reason is said.
            if (!result.extra.interrupted) failure = `${label}: ${result.extra.k6_failure ?? "incomplete"} (${basename(path)})`;
            interrupted = true;
            break;
          }
          done.push(basename(path));
          writeAtomic(listPath, `${done.join("\n")}\n`);
        } catch (error) {
          if (!(error instanceof RefusedError)) throw error;
          log((error as Error).message);
          refused.push(label);
        }
      }
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    if (!dbWasUp) await clusterDown(config, log);
  }
  if (failure) log(`a run failed, so the comparison stopped: ${failure}`);
  if (!done.length) throw new Error(`no case completed a run: nothing to report${failure ? ` (${failure})` : ""}`);
  const report = writeReport(config, done.map((f) => join(config.resultsDir, f)), log);
  if (interrupted) log(`comparison ${failure ? "stopped" : "interrupted"}: the report covers the runs that completed`);
  if (failure) throw new Error(`a run failed: ${failure}`);
  if (refused.length) throw new RefusedError(`not measured (failed the correctness gate): ${refused.join(", ")}`);
  return report;
}
