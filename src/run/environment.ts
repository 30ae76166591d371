/**
 * The environment of every measured process (docs/design.md §12): fleetbench's own variables and a
 * short allow-list, never the rest of the user's shell. A debugging switch left in a shell
 * (RUST_BACKTRACE makes Apollo Router capture backtraces; NODE_OPTIONS, BUN_*, DEBUG, GOGC, K6_* change
 * what a runtime or k6 does) would change one case's numbers and not another's.
 */
import type { Config } from "../config";

type Env = Record<string, string | undefined>;

/** What a process needs to run at all: where programs are, a home, the locale and time zone. */
export const ALLOWED = ["PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR"];
/** fleetbench's own configuration, read by src/config.ts in every role. */
const OWN = (name: string) => name.startsWith("FLEET_") || name === "CASE3_GATEWAY" || name === "REST_GATEWAY" || name === "DATABASE_URL";
const LOCALE = (name: string) => name.startsWith("LC_");

/**
 * The environment a measured process starts with: the allow-list and fleetbench's variables from
 * `source`, the names the user listed in FLEET_PASS_ENV, then `extra` (what fleetbench sets).
 */
export function measuredEnv(config: Config, extra: Record<string, string> = {}, source: Env = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (ALLOWED.includes(name) || LOCALE(name) || OWN(name) || config.passEnv.includes(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Variables of `source` that were withheld from measured processes and would have changed them. */
export function withheldSwitches(config: Config, source: Env = process.env): string[] {
  // Hive Router reads LOG_*, ROUTER_*, HIVE_* and DISABLE_SUBGRAPH_ERROR_MASKING over its file;
  // Apollo's gateways APOLLO_* (a key there sends usage reports).
  const switches = /^(RUST_|NODE_|BUN_|DEBUG$|K6_|GO[A-Z]|PG|UV_|MALLOC_|LD_|LOG_|ROUTER_|HIVE_|APOLLO_|DISABLE_SUBGRAPH_ERROR_MASKING$)/;
  return Object.keys(source).filter((n) => switches.test(n) && !config.passEnv.includes(n) && !OWN(n)).sort();
}
