/**
 * The curve commands (docs/design.md §14): `capacity CASE`, `sweep fleet|rate LIST` and `compare
 * --capacity`, from their arguments to src/plans/curves.ts and the curve report.
 */
import { apiFlag, casesFlag, checkRouter, runtimesFlag, duration, durationFlag, either, fleetSizeArg, type Flags, gatewaysFlag, nameOf, positive, positiveFlag, splitFlags } from "./args";
import { runsEstimate, searchesEstimate } from "../plans/estimate";
import { checkStep, parseSlo } from "../plans/capacity";
import { caseSpec } from "../run/cases";
import type { Config } from "../config";
import { writeCurveReport } from "../report/curve-report";
import { type CurveDoc, writeCurve } from "../plans/curve-doc";
import { capacityCurves, parseList, sweep, targetPlan } from "../plans/curves";
import { UsageError } from "../errors";

/** The options a capacity search reads. */
export const CAPACITY_FLAGS = ["slo", "start", "max", "step", "warmup", "repeat", "seed", "api"];

/** What sweep takes: a capacity search's options, the targets' and the load's. */
export const SWEEP_FLAGS = [...CAPACITY_FLAGS, "vus", "rate", "cases", "gateways", "runtimes", "duration"];

/** The capacity search's options: --slo, --start, --max, --step, --warmup, --repeat, --seed, --api. */
function capacityOptions(flags: Flags) {
  const step = durationFlag(flags, "step", "10s");
  checkStep(step);
  const start = positiveFlag(flags, "start", 20);
  const max = positiveFlag(flags, "max", 5000);
  if (start > max) throw new UsageError(`--start (${start}) must not be above --max (${max})`);
  return {
    slo: parseSlo(flags.get("slo") ?? "p99=200ms"),
    start, max, step,
    warmup: durationFlag(flags, "warmup", "3s"),
    repeat: positiveFlag(flags, "repeat", 1),
    seed: positiveFlag(flags, "seed", undefined),
    api: apiFlag(flags),
  };
}

/** The targets of --cases and --gateways (as compare reads them); Apollo Router must be built if it is one. */
function planOf(config: Config, flags: Flags, command: string) {
  const cases = casesFlag(flags);
  const gateways = gatewaysFlag(flags);
  checkRouter(config, gateways, cases, command);
  return targetPlan(config, cases, gateways, runtimesFlag(flags, config));
}

/** The planned searches and their time, before the first starts. */
const sayPlan = (searches: number, how: string, options: ReturnType<typeof capacityOptions>) => console.log(searchesEstimate(searches, how, options.warmup, options.step));

/** Writes the document and its report; exit 130 after Ctrl-C, as every command. */
function finish(config: Config, { doc, interrupted }: { doc: CurveDoc; interrupted: boolean }) {
  writeCurveReport(config, writeCurve(config, doc));
  if (interrupted) process.exit(130);
}

/** `compare --capacity`: every target's capacity, in shuffled rounds. */
export async function compareCapacity(config: Config, flags: Flags, positional: string[]) {
  if (flags.has("rate") || flags.has("rate-duration") || flags.has("pin") || flags.has("metronome") || positional.length) throw new UsageError(`compare --capacity searches each target's rate itself: it takes no VUS, DURATION, --rate, --rate-duration, --pin or --metronome`);
  const options = capacityOptions(flags);
  const plan = planOf(config, flags, "compare --capacity");
  sayPlan(plan.length * options.repeat, `${plan.length} targets × ${options.repeat}`, options);
  finish(config, await capacityCurves(config, plan, options));
}

export const CURVE_COMMANDS: Record<string, (config: Config, args: string[]) => Promise<void>> = {
  async capacity(config, args) {
    const { flags, positional } = splitFlags(args, CAPACITY_FLAGS);
    if (positional.length !== 1) throw new UsageError(`capacity takes one CASE (e.g. \`just case2 capacity --slo p99=200ms\`), got "${positional.join(" ")}"`);
    const spec = caseSpec(positional[0]);
    const options = capacityOptions(flags);
    sayPlan(options.repeat, `${spec.name} × ${options.repeat}`, options);
    finish(config, await capacityCurves(config, [{ case: spec.name, config, label: spec.target(config).label }], options));
  },
  async sweep(config, args) {
    const { flags, positional } = splitFlags(args, SWEEP_FLAGS, ["capacity"]);
    if (positional.length > 3) throw new UsageError(`sweep takes fleet or rate, a LIST and a DURATION, got "${positional.join(" ")}"`);
    const [axis, list] = positional;
    const length = either(positional[2], flags, "duration", "DURATION");
    if (axis !== "fleet" && axis !== "rate") throw new UsageError(`sweep takes fleet or rate, then a list (e.g. \`just sweep fleet 15,150,1500\`), got "${axis ?? ""}"`);
    const values = parseList(list, `sweep ${axis}`);
    if (axis === "fleet") for (const n of values) fleetSizeArg(String(n), config.fleetSize);
    const kinds = ["vus", "rate", "capacity"].filter((k) => flags.has(k));
    if (kinds.length > 1) throw new UsageError(`sweep takes one of --vus, --rate and --capacity, got ${kinds.map((k) => `--${k}`).join(" and ")}`);
    if (axis === "rate" && kinds.length) throw new UsageError(`sweep rate sets the rate of every point itself: --${kinds[0]} is for sweep fleet`);
    const load = flags.has("capacity") ? { kind: "capacity" as const, capacity: capacityOptions(flags) }
      : flags.has("rate") ? { kind: "rate" as const, rate: positive(flags.get("rate"), "--rate") }
      : { kind: "vus" as const, vus: positiveFlag(flags, "vus", 10) };
    const options = {
      axis: axis as "fleet" | "rate", // checked above
      values, load,
      duration: length ? duration(length, nameOf(flags, "duration", "DURATION")) : "10s",
      warmup: durationFlag(flags, "warmup", "3s"),
      repeat: positiveFlag(flags, "repeat", 1),
      seed: positiveFlag(flags, "seed", undefined),
      api: apiFlag(flags),
    };
    const plan = planOf(config, flags, `sweep ${axis} ${list}`);
    const how = `${plan.length} targets × ${values.length} ${axis === "fleet" ? "fleet sizes" : "rates"} × ${options.repeat} rounds`;
    const points = plan.length * values.length * options.repeat;
    if (load.kind === "capacity") sayPlan(points, how, load.capacity);
    else console.log(runsEstimate(points, how, options.warmup, options.duration));
    finish(config, await sweep(config, plan, options));
  },
};
