/**
 * The command line's arguments: options split from positional arguments, and each value checked
 * with a one-line usage error naming it and the form it takes.
 */
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { API_NAMES, type ApiName, CASE_NAMES, type CaseName, caseSpec, gatewayChoices, type Platform, PLATFORMS } from "../run/cases";
import type { Config, GatewayChoice } from "../config";
import { hiveRouterBinary, HIVE_ROUTER_VERSION } from "../hive-router";
import { UsageError } from "../errors";
import { routerBinary, ROUTER_VERSION } from "../router";
import { RUNTIMES, type RuntimeName } from "../runtime";

export function fleetSizeArg(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`fleet size must be a positive integer, got "${raw}"`);
  return Number(raw);
}

const DURATION = /^(\d+(ms|s|m|h))+$/;

export function positive(raw: string | undefined, what: string): number {
  if (!raw || !/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`${what} must be a positive integer, got "${raw ?? ""}"`);
  return Number(raw);
}

export function duration(raw: string | undefined, what: string): string {
  if (!raw || !DURATION.test(raw)) throw new UsageError(`${what} must be a duration like 30s, 5m or 1m30s, got "${raw ?? ""}"`);
  return raw;
}

export type Flags = Map<string, string>;

/** Splits `--name value` options from positional arguments, refusing options not in `known`. */
export function splitFlags(args: string[], known: string[], switches: string[] = []) {
  const flags: Flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) positional.push(arg);
    else if (switches.includes(arg.slice(2))) flags.set(arg.slice(2), "");
    else if (arg.includes("=")) flags.set(arg.slice(2, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1));
    else flags.set(arg.slice(2), args[++i] ?? "");
  }
  for (const flag of flags.keys()) {
    if (!known.includes(flag) && !switches.includes(flag)) throw new UsageError(`unknown option --${flag}: options are ${[...known, ...switches].map((k) => `--${k}`).join(", ")}`);
  }
  return { flags, positional };
}

/**
 * The first `count` words of a command line that are neither options nor an option's value, and
 * the arguments without them, in their order: options go anywhere after the recipe, so `just case2
 * --api monitor load 20 30s` finds its action as `just case2 load 20 30s --api monitor` does. As in
 * splitFlags, `--name` takes the next argument as its value unless it is one of `switches` or
 * says `--name=value`.
 */
export function leadingWords(args: string[], count: number, switches: string[] = []) {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) (words.length < count ? words : rest).push(arg);
    else {
      rest.push(arg);
      if (!arg.includes("=") && !switches.includes(arg.slice(2)) && i + 1 < args.length) rest.push(args[++i]);
    }
  }
  return { words, rest };
}

/**
 * A value given either positionally or as its option (`just case2 load 50 5m` or `--vus 50
 * --duration 5m`), never both.
 */
export function either(positional: string | undefined, flags: Flags, flag: string, what: string): string | undefined {
  if (positional !== undefined && flags.has(flag)) throw new UsageError(`${what} is given twice, as "${positional}" and as --${flag} ${flags.get(flag)}: give one`);
  return positional ?? flags.get(flag);
}

/** The name an error gives a value: its option when it came as one, else its place. */
export const nameOf = (flags: Flags, flag: string, what: string) => (flags.has(flag) ? `--${flag}` : what);

/** A positive integer option, or `fallback` when it is absent. */
export const positiveFlag = <T extends number | undefined>(flags: Flags, name: string, fallback: T) =>
  flags.has(name) ? positive(flags.get(name), `--${name}`) : fallback;

/** A duration option, or `fallback` when it is absent. */
export const durationFlag = (flags: Flags, name: string, fallback: string) => (flags.has(name) ? duration(flags.get(name), `--${name}`) : fallback);

/** --api, checked. */
export function apiFlag(flags: Flags): ApiName | undefined {
  const api = flags.get("api");
  if (api !== undefined && !API_NAMES.includes(api as ApiName)) throw new UsageError(`--api must be one of ${API_NAMES.join(", ")}, got "${api}"`);
  return api as ApiName | undefined;
}

/** --cases LIST, each checked against the table; undefined when absent (every case). */
export const casesFlag = (flags: Flags): CaseName[] | undefined =>
  flags.has("cases") ? flags.get("cases")!.split(",").filter(Boolean).map((c) => caseSpec(c).name) : undefined;

/** --runtimes bun,deno: the runtimes to put side by side (default: FLEET_RUNTIME's alone). */
export function runtimesFlag(flags: Flags, config: Config): RuntimeName[] {
  const raw = flags.get("runtimes");
  if (raw === undefined) return [config.runtime];
  const runtimes = raw.split(",").map((r) => r.trim()).filter(Boolean);
  if (!runtimes.length) throw new UsageError(`--runtimes takes ${RUNTIMES.join(" and/or ")}, separated by commas (e.g. bun,deno), got nothing`);
  for (const r of runtimes) if (!(RUNTIMES as readonly string[]).includes(r)) throw new UsageError(`--runtimes takes ${RUNTIMES.join(" and/or ")}, got "${r}"`);
  if (new Set(runtimes).size !== runtimes.length) throw new UsageError(`--runtimes names a runtime twice ("${raw}"): for an A/A check name the case twice (--cases case2,case2)`);
  return runtimes as RuntimeName[];
}

/** --platforms native,compose (default native): where every target of a comparison runs. */
export function platformsFlag(flags: Flags): Platform[] | undefined {
  const raw = flags.get("platforms");
  if (raw === undefined) return undefined;
  const platforms = raw.split(",").map((p) => p.trim()).filter(Boolean);
  if (!platforms.length) throw new UsageError(`--platforms takes ${PLATFORMS.join(" and/or ")}, separated by commas (e.g. native,compose), got nothing`);
  for (const p of platforms) if (!(PLATFORMS as readonly string[]).includes(p)) throw new UsageError(`--platforms takes ${PLATFORMS.join(" and/or ")}, got "${p}"`);
  if (new Set(platforms).size !== platforms.length) throw new UsageError(`--platforms names a platform twice ("${raw}")`);
  return platforms as Platform[];
}

/**
 * --gateways (default FLEET_COMPARE_GATEWAYS, else apollo-router): the gateways to run, checked
 * against the table: Case 3's (apollo-router, hive-gateway, hive-router, apollo-gateway) and the
 * REST cases' (rest-gateway, nginx). A case none of them belongs to runs through its default.
 */
export function gatewaysFlag(flags: Flags): GatewayChoice[] {
  const gateways = (flags.get("gateways") ?? process.env.FLEET_COMPARE_GATEWAYS ?? "apollo-router").split(",").filter(Boolean);
  const choices: string[] = [...new Set(CASE_NAMES.flatMap((c) => gatewayChoices(c)))];
  for (const g of gateways) if (!choices.includes(g)) throw new UsageError(`--gateways takes ${choices.join(", ")} (any of them), got "${g}"`);
  return gateways as GatewayChoice[];
}

/**
 * --inject-cpu PROCESS=1ms[,PROCESS=0.5ms]: CPU time burnt per request by a process (calibration),
 * in ms; undefined when absent. Which processes a case has is checked by the run (load.ts).
 */
export function injectCpuFlag(flags: Flags): Record<string, number> | undefined {
  if (!flags.has("inject-cpu")) return undefined;
  const raw = flags.get("inject-cpu")!;
  const form = `--inject-cpu takes PROCESS=TIME, the CPU time per request in ms or us above 0 and at most 1000ms (e.g. telemetry-service=1ms)`;
  const out: Record<string, number> = {};
  for (const part of raw.split(",").map((p) => p.trim())) {
    const m = /^([a-z0-9-]+)=(\d+(?:\.\d+)?)(ms|us)$/.exec(part);
    const ms = m ? Number(m[2]) / (m[3] === "us" ? 1000 : 1) : NaN;
    if (!m || !(ms > 0) || ms > 1000) throw new UsageError(`${form}, got "${raw}"`);
    out[m[1]] = ms;
  }
  return out;
}

/** A file a command reads, checked first: a missing or unreadable one is a usage error of one line (exit 2). */
export function readableFile(path: string) {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${path}: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code}`);
  }
  if (statSync(path).isDirectory()) throw new UsageError(`cannot read ${path}: it is a folder, not a file`);
}

/**
 * compare and sweep run Case 3 through --gateways (CASE3_GATEWAY is `up`'s and `load`'s): when
 * Apollo Router is among them but not built, they stop before anything starts, naming what works for them.
 */
export function checkRouter(config: Config, gateways: readonly GatewayChoice[], cases: CaseName[] | undefined, command: string) {
  if (cases && !cases.includes("case3")) return;
  if (gateways.includes("apollo-router") && !existsSync(routerBinary(config))) {
    throw new UsageError(
      `Apollo Router ${ROUTER_VERSION} is not built: \`just tools\` builds it (about 20-45 min on 2 cores, once); meanwhile \`just ${command} ... --gateways hive-gateway\` runs Case 3 through Hive Gateway`,
    );
  }
  if (gateways.includes("hive-router") && !existsSync(hiveRouterBinary(config))) {
    throw new UsageError(
      `Hive Router ${HIVE_ROUTER_VERSION} is not built: \`just tools hive-router\` builds it (about 30-40 min on 2 cores, once); meanwhile leave hive-router out of --gateways`,
    );
  }
}
