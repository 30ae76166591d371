/**
 * The cost-model commands (docs/design.md §20): `model`, `grid` and `map`, from their arguments to
 * src/plans/model-run.ts, src/plans/grid.ts and the model and map reports. Bad input is one line
 * and exit 2.
 */
import { apiFlag, casesFlag, duration, durationFlag, type Flags, gatewaysFlag, positiveFlag, runtimesFlag, splitFlags } from "./args";
import { checkStep, parseSlo } from "../plans/capacity";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { checkAxes, GRID_DEFAULTS, type GridParams, gridEstimate, runGrid } from "../plans/grid";
import { measureModel, writeModel } from "../plans/model-run";
import { parseRates } from "../plans/model";
import { parsePrice } from "../plans/cost";
import { parseList, targetPlan } from "../plans/curves";

const SELECT = ["cases", "gateways", "runtimes", "api", "seed"];

/** `--hops 0,1,5`: whole milliseconds, 0 allowed (the direct connection). */
function hopsFlag(text: string | undefined): number[] {
  if (!text || !text.split(",").every((h) => /^\d+$/.test(h.trim()))) throw new UsageError(`--hops takes a comma-separated list of whole milliseconds, 0 for direct (e.g. 0,1,5), got "${text ?? ""}"`);
  return text.split(",").map(Number);
}

const priceFlag = (flags: Flags) => (flags.has("price") ? parsePrice(flags.get("price")) : undefined);
const atFlag = (flags: Flags) => positiveFlag(flags, "at", undefined);

export const MODEL_COMMANDS: Record<string, (config: Config, args: string[]) => Promise<void>> = {
  async model(config, args) {
    const { flags, positional } = splitFlags(args, ["rates", "repeat", "warmup", "at", "price", ...SELECT]);
    if (positional.length > 1) throw new UsageError(`model takes one DURATION per run (e.g. \`just model 10s --rates 25,50,100\`), got "${positional.join(" ")}"`);
    const rates = parseRates(flags.get("rates") ?? "25,50,100,200");
    const price = priceFlag(flags);
    const at = atFlag(flags);
    const { writeModelReport } = await import("../report/model-report");
    const { doc, interrupted } = await measureModel(config, {
      rates, at, price,
      duration: positional[0] ? duration(positional[0], "DURATION") : "10s",
      warmup: durationFlag(flags, "warmup", "3s"),
      repeat: positiveFlag(flags, "repeat", 3),
      seed: positiveFlag(flags, "seed", undefined),
      cases: casesFlag(flags), gateways: gatewaysFlag(flags), runtimes: runtimesFlag(flags, config), api: apiFlag(flags),
    });
    if (!doc.points.length) throw new Error("the model measured no run: nothing to fit");
    const path = writeModel(config, doc);
    console.log(`model: ${path}`);
    writeModelReport(config, path);
    if (interrupted) process.exit(130);
  },
  async grid(config, args) {
    const { flags, positional } = splitFlags(args, ["fleet", "hops", "at", "repeat", "warmup", "slo", "step", "resume", "price", ...SELECT], ["quick", "plan"]);
    const { writeMapReport } = await import("../report/map-report");
    if (flags.has("resume")) {
      const other = [...flags.keys()].filter((f) => f !== "resume");
      if (other.length || positional.length) throw new UsageError(`--resume continues a grid with its own parameters: it takes nothing else, got ${[...other.map((f) => `--${f}`), ...positional].join(" ")}`);
      const { dir, complete, interrupted } = await runGrid(config, null, flags.get("resume")!);
      writeMapReport(dir);
      if (interrupted) process.exit(130);
      if (!complete) throw new Error(`the grid is not complete: \`just grid --resume ${dir}\` continues it`);
      return;
    }
    if (positional.length > 1) throw new UsageError(`grid takes one DURATION per model run, got "${positional.join(" ")}"`);
    const quick = flags.has("quick");
    const mode = quick ? { ...GRID_DEFAULTS.full, ...GRID_DEFAULTS.quick } : { ...GRID_DEFAULTS.full, fleet: GRID_DEFAULTS.fleet, hops: GRID_DEFAULTS.hops };
    const fleet = flags.has("fleet") ? parseList(flags.get("fleet"), "--fleet") : mode.fleet;
    const hops = flags.has("hops") ? hopsFlag(flags.get("hops")) : mode.hops;
    checkAxes(fleet, hops);
    const step = durationFlag(flags, "step", mode.capacity.step);
    checkStep(step);
    const params: GridParams = {
      fleet, hops, quick,
      at: atFlag(flags) ?? GRID_DEFAULTS.at,
      repeat: positiveFlag(flags, "repeat", mode.repeat),
      duration: positional[0] ? duration(positional[0], "DURATION") : mode.duration,
      warmup: durationFlag(flags, "warmup", mode.warmup),
      slo: parseSlo(flags.get("slo") ?? "p99=200ms"),
      capacity: { ...mode.capacity, step },
      cases: casesFlag(flags) ?? null, gateways: gatewaysFlag(flags), runtimes: runtimesFlag(flags, config),
      api: apiFlag(flags) ?? null, price: priceFlag(flags) ?? null,
      seed: positiveFlag(flags, "seed", undefined) ?? Math.floor(Math.random() * 2 ** 31),
    };
    if (flags.has("plan")) {
      console.log(gridEstimate(params, targetPlan(config, params.cases ?? undefined, params.gateways, params.runtimes).length).line);
      return;
    }
    const { dir, complete, interrupted } = await runGrid(config, params, null);
    writeMapReport(dir);
    if (interrupted) process.exit(130);
    if (!complete) throw new Error(`the grid is not complete: \`just grid --resume ${dir}\` continues it`);
  },
  async map(_config, args) {
    const { flags, positional } = splitFlags(args, ["at", "price"]);
    if (positional.length !== 1) throw new UsageError(`map takes one grid folder (results/grid-<time>), got "${positional.join(" ")}"`);
    const { writeMapReport } = await import("../report/map-report");
    writeMapReport(positional[0], { at: atFlag(flags), price: priceFlag(flags) });
  },
};
