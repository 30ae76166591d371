/**
 * Measuring the cost model (docs/design.md §20).
 *
 *   bun src/main.ts model [DURATION] [--rates 25,50,100,200] [--repeat R] [--at R] [--price vcpu-hour=P,gb-hour=Q]
 *
 * A model measures every target at several offered rates: each round runs every rate in a
 * shuffled order, and each rate is one comparison (src/plans/compare.ts, the open model only),
 * which runs every target in its own shuffled order. Rates are interleaved over the rounds, not
 * measured one after another, so a machine that drifts moves every rate's points alike rather
 * than tilting the line. Each round at each rate is a block whose targets share the machine's
 * moment; the crossings compare targets within their blocks. The points go to src/plans/model.ts
 * (the fits), src/plans/crossing.ts (the crossings) and src/plans/cost.ts (the document);
 * results/model-<time>.json holds it.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { CapacityOptions } from "./capacity";
import { selectTargets } from "../run/cases";
import { compare } from "./compare";
import { shuffled } from "./rounds";
import type { Config, GatewayChoice } from "../config";
import { mulberry32 } from "../determinism.js";
import { minutes, RUN_OVERHEAD_S } from "./estimate";
import { durationSeconds } from "../run/load";
import { type ModelPoint, modelPoint } from "./model";
import { analyseModel, type ModelDoc, type Price } from "./cost";
import { clusterDown, clusterPid, clusterUp } from "../run/pg-cluster";
import { fileStamp, type RunResult, writeAtomic } from "../run/results";
import type { RuntimeName } from "../runtime";
import type { TargetStep } from "./curves";
import { commonFingerprint } from "./verdicts";

export interface ModelOptions {
  rates: number[];
  duration: string;
  warmup: string;
  repeat: number;
  seed?: number;
  cases?: TargetStep["case"][];
  gateways: GatewayChoice[];
  runtimes?: RuntimeName[];
  api?: CapacityOptions["api"];
  /** The rate the ranking is made at (default: the highest rate measured). */
  at?: number;
  price?: Price;
  /** Checked before every block: true stops the model there (a grid's Ctrl-C). */
  stop?: () => boolean;
}

/** A model's runs and about how long they take. */
export function modelPlan(targets: number, options: Pick<ModelOptions, "rates" | "repeat" | "duration" | "warmup">) {
  const runs = targets * options.rates.length * options.repeat;
  const seconds = runs * (durationSeconds(options.duration) + durationSeconds(options.warmup) + RUN_OVERHEAD_S);
  return { runs, seconds, line: `planned: ${options.repeat} round(s) × ${options.rates.length} rate(s) (${options.rates.join(", ")} requests/s) × ${targets} target(s) = ${runs} runs of ${options.duration} after a ${options.warmup} warm-up, about ${minutes(seconds)}` };
}

/** Every target at every rate, in rounds; the fits. The database stays up throughout (started if needed, stopped after). */
export async function measureModel(config: Config, options: ModelOptions, log: (line: string) => void = console.log): Promise<{ doc: ModelDoc; interrupted: boolean }> {
  const plan = selectTargets(options.cases, options.gateways, options.runtimes ?? [config.runtime]);
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = mulberry32(seed);
  log(`model: every target (${plan.map((t) => t.label).join(", ")}) at ${options.rates.join(", ")} requests/s, ${options.repeat} round(s), each round every rate in a shuffled order (seed ${seed})`);
  log(modelPlan(plan.length, options).line);
  const dbWasUp = config.db.external || clusterPid(config) !== null;
  await clusterUp(config, log);
  const points: ModelPoint[] = [];
  const results: RunResult[] = [];
  const blocks: ModelDoc["blocks"] = [];
  const notes: string[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  try {
    for (let round = 1; round <= options.repeat && !interrupted; round++) {
      for (const rate of shuffled(options.rates, random)) {
        if (options.stop?.()) interrupted = true;
        if (interrupted) break;
        log(`\n##### model round ${round} of ${options.repeat}: every target at ${rate} requests/s #####`);
        let done: Awaited<ReturnType<typeof compare>>;
        try {
          done = await compare(config, {
            vus: 10, duration: options.duration, repeat: 1, warmup: options.warmup, seed: Math.floor(random() * 2 ** 31),
            gateways: options.gateways, runtimes: options.runtimes, cases: options.cases, api: options.api, rate, phases: ["rate"],
          }, log);
        } catch (error) {
          // A failed run ends the model here; what was measured is kept and said.
          notes.push(`the model stopped in round ${round} at ${rate} requests/s: ${(error as Error).message}`);
          log(`model stopped: ${(error as Error).message}`);
          interrupted = true;
          break;
        }
        blocks.push({ round, rate, compare: basename(done.compare) });
        for (const run of done.comparison.runs) {
          const result = JSON.parse(readFileSync(join(config.resultsDir, run.file), "utf8")) as RunResult;
          results.push(result);
          points.push(modelPoint(run.target, round, run.file, result));
        }
        if (done.interrupted) interrupted = true;
      }
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    if (!dbWasUp) await clusterDown(config, log);
  }
  const targets = [...new Set([...plan.map((t) => t.label), ...points.map((p) => p.target)])].filter((t) => points.some((p) => p.target === t));
  const params: ModelDoc["params"] = {
    rates: options.rates, duration: options.duration, warmup: options.warmup, repeat: options.repeat, api: options.api ?? null,
    fleet_size: results[0]?.params.fleet_size ?? null, hop_latency_ms: config.hopLatencyMs, at: options.at ?? null, price: options.price ?? null,
  };
  const analysis = analyseModel(points, targets, params);
  const doc: ModelDoc = {
    schema_version: 1, kind: "model", created_at: new Date().toISOString(), seed, params, targets, blocks, points,
    ...analysis, notes: [...notes, ...analysis.notes], fingerprint: commonFingerprint(results.map((r) => r.fingerprint)),
  };
  return { doc, interrupted };
}

/** Writes a model document as results/model-<time>.json. */
export function writeModel(config: Config, doc: ModelDoc): string {
  mkdirSync(config.resultsDir, { recursive: true });
  const path = join(config.resultsDir, `model-${fileStamp()}.json`);
  writeAtomic(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}
