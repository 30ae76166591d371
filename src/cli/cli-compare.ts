/**
 * The comparison commands: `compare` (paired rounds, or with --capacity a capacity search per
 * target), `calibrate` and `demo`, from their arguments to src/plans/compare.ts, src/plans/calibrate.ts
 * and src/cli/demo.ts. Bad input is one line and exit 2; Ctrl-C exits 130.
 */
import { apiFlag, casesFlag, checkRouter, duration, durationFlag, either, gatewaysFlag, nameOf, platformsFlag, positive, positiveFlag, runtimesFlag, splitFlags } from "./args";
import { compareCapacity } from "./cli-curves";
import { OPTIONS } from "./options";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { compare } from "../plans/compare";
import { gatewayChoices } from "../run/cases";
import { durationSeconds } from "../run/load";
import { MAX_PLANNED_ROUNDS } from "../stats/sequential";

/** `--until-decided`: the first look (rounds) and the last one unless --repeat says otherwise. */
const UNTIL_DECIDED_MIN = 3;
const UNTIL_DECIDED_MAX = 20;

export const COMPARE_COMMANDS: Record<string, (config: Config, args: string[]) => Promise<void>> = {
  async compare(config, args) {
    const { flags, positional } = splitFlags(args, OPTIONS.compare.options, OPTIONS.compare.switches);
    if (flags.has("capacity")) return compareCapacity(config, flags, positional);
    if (flags.has("closed-only") && flags.has("rate")) throw new UsageError("compare takes --rate R (the open model only) or --closed-only (the closed model only), not both");
    const searchOnly = ["slo", "start", "max", "step"].filter((f) => flags.has(f));
    if (searchOnly.length) throw new UsageError(`--${searchOnly[0]} belongs to a capacity search: add --capacity`);
    const rate = positiveFlag(flags, "rate", undefined);
    // In the open model the one positional argument is the duration.
    if (rate !== undefined && (positional.length > 1 || flags.has("vus"))) throw new UsageError(`compare --rate R takes one DURATION after it (e.g. \`just compare --rate 100 30s\`) and no VUS, got "${[...positional, ...(flags.has("vus") ? [`--vus ${flags.get("vus")}`] : [])].join(" ")}"`);
    if (rate === undefined && positional.length > 2) throw new UsageError(`compare takes VUS and DURATION (e.g. \`just compare 20 30s\`), got "${positional.join(" ")}"`);
    const vus = rate !== undefined ? "10" : either(positional[0], flags, "vus", "VUS");
    const length = either(rate !== undefined ? positional[0] : positional[1], flags, "duration", "DURATION");
    const cases = casesFlag(flags);
    const runtimes = runtimesFlag(flags, config);
    const platforms = platformsFlag(flags);
    const gateways = gatewaysFlag(flags);
    // One case through several of its gateways is a comparison too (`--cases case3 --gateways a,b`).
    const ofCase = cases?.length === 1 ? gateways.filter((g) => gatewayChoices(cases[0]).includes(g)).length : 0;
    if (cases && cases.length < 2 && runtimes.length < 2 && (platforms?.length ?? 1) < 2 && ofCase < 2) throw new UsageError(`--cases takes at least two cases to compare (e.g. case1,case2, or case2,case2 for an A/A check), or one case with --runtimes bun,deno, --platforms native,compose or two of its gateways (--gateways); got "${flags.get("cases")}"`);
    const options = {
      vus: vus ? positive(vus, nameOf(flags, "vus", "VUS")) : 20,
      duration: length ? duration(length, nameOf(flags, "duration", "DURATION")) : "30s",
      // With --until-decided, --repeat is the last look (default 20): rounds stop sooner when every pair is decided.
      repeat: positiveFlag(flags, "repeat", flags.has("until-decided") ? UNTIL_DECIDED_MAX : 5),
      ...(flags.has("until-decided") ? { untilDecided: { minRounds: UNTIL_DECIDED_MIN, ...(flags.has("budget") ? { budgetMs: durationSeconds(duration(flags.get("budget"), "--budget")) * 1000 } : {}) } } : {}),
      seed: positiveFlag(flags, "seed", undefined),
      gateways,
      runtimes,
      api: apiFlag(flags),
      warmup: durationFlag(flags, "warmup", "5s"),
      pin: flags.has("pin"),
      cases,
      rate,
      equivalence: equivalenceFlag(flags),
      platforms,
      ...(flags.has("closed-only") ? { phases: ["closed" as const] } : {}),
      ...(flags.has("rate-duration") ? { rateDuration: duration(flags.get("rate-duration"), "--rate-duration") } : {}),
      ...(flags.has("metronome") ? { metronome: true } : {}),
    };
    if (flags.has("rate-duration") && (rate !== undefined || flags.has("closed-only"))) throw new UsageError("--rate-duration is the open-model runs' duration beside the closed model's: with --rate or --closed-only every run has DURATION");
    if (flags.has("budget") && !flags.has("until-decided")) throw new UsageError("--budget belongs to --until-decided (the time rounds may be added for)");
    if (flags.has("until-decided") && positiveFlag(flags, "repeat", UNTIL_DECIDED_MAX) < UNTIL_DECIDED_MIN) throw new UsageError(`--until-decided looks from round ${UNTIL_DECIDED_MIN} on: --repeat (its last look) must be at least ${UNTIL_DECIDED_MIN}`);
    checkRouter(config, gateways, cases, "compare");
    // compare says its planned runs and their time itself, before the first run.
    const { interrupted } = await compare(config, options);
    if (interrupted) process.exit(130); // as every command after Ctrl-C
  },
  async calibrate(config, args) {
    const { flags, positional } = splitFlags(args, OPTIONS.calibrate.options, OPTIONS.calibrate.switches);
    if (positional.length > 1) throw new UsageError(`calibrate takes one DURATION (e.g. \`just calibrate 10s\`), got "${positional.join(" ")}"`);
    const { calibrate, CALIBRATE_DEFAULTS: d } = await import("../plans/calibrate");
    const inject = flags.has("inject") ? durationSeconds(duration(flags.get("inject")!, "--inject")) * 1000 : d.injectMs;
    if (!(inject > 0 && inject <= 100)) throw new UsageError(`--inject must be a CPU time per request between 0 and 100 ms (e.g. 1ms), got "${flags.get("inject")}"`);
    const repeat = positiveFlag(flags, "repeat", d.repeat);
    if (repeat < 2) throw new UsageError(`calibrate needs --repeat of at least 2 rounds (5 by default), got ${repeat}`);
    const maxRepeat = positiveFlag(flags, "max-repeat", Math.max(repeat, d.maxRepeat));
    if (maxRepeat < repeat) throw new UsageError(`--max-repeat (the most rounds) must be at least --repeat (${repeat}), got ${maxRepeat}`);
    if (maxRepeat > MAX_PLANNED_ROUNDS) throw new UsageError(`--max-repeat must be at most ${MAX_PLANNED_ROUNDS} rounds, got ${maxRepeat}`);
    const { calibration, interrupted } = await calibrate(config, {
      duration: positional[0] ? duration(positional[0], "DURATION") : d.duration,
      repeat,
      maxRepeat,
      rate: positiveFlag(flags, "rate", d.rate),
      injectMs: inject,
      warmup: durationFlag(flags, "warmup", d.warmup),
      seed: positiveFlag(flags, "seed", undefined),
    });
    if (interrupted) process.exit(130);
    if (calibration.outcome === "undecided") {
      console.error(`fleetbench: calibration undecided: ${calibration.why_undecided}`);
      process.exit(4);
    }
    if (!calibration.passed) throw new Error(`calibration failed: ${calibration.why_failed}`);
  },
  async demo(config, args) {
    if (args.length) throw new UsageError(`demo takes no arguments, got "${args.join(" ")}": for other parameters use \`just compare VUS DURATION\``);
    const { demo } = await import("./demo");
    const { interrupted } = await demo(config);
    if (interrupted) process.exit(130);
  },
};

/** `--equivalence 5%` (or 0.05): the margin within which a pair is `equivalent`; 0 < δ < 50 %. */
function equivalenceFlag(flags: Map<string, string>): number | undefined {
  const text = flags.get("equivalence");
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  const value = m ? Number(m[1]) / (m[2] ? 100 : 1) : Number.NaN;
  if (!(value > 0 && value < 0.5)) throw new UsageError(`--equivalence must be a margin between 0 and 50 % (e.g. 5%), got "${text}"`);
  return value;
}
