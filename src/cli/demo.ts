/**
 * `just demo` (the README's first command): a short comparison of every case ending in the report.
 * It needs the load engine, vegeta (built from its Go module in under a minute, once). Apollo
 * Router takes 17-45 minutes to build on two
 * cores; rather than make a newcomer wait for it, the demo starts its build in the background and
 * runs Case 3 through Hive Gateway, says so above the report, and names the gateway on every line.
 * Nothing is substituted silently, and the build is paused (SIGSTOP) while the demo measures so it
 * does not take CPU from the cases; it continues afterwards.
 *
 *   bun src/main.ts demo
 */
import { existsSync, readFileSync } from "node:fs";
import { compare } from "../plans/compare";
import type { Config } from "../config";
import { ROUTER_VERSION, routerBinary } from "../router";
import { buildProgress, signalBuild, startBackgroundBuild } from "../run/builds";
import { ensureEngine } from "../run/engine/engine";

/**
 * The demo's comparison: 6 shuffled rounds, each target at 10 VUs (closed model: throughput and
 * latency) and then, on the same start, at one arrival rate every target sustains (CPU per request
 * at equal offered load), after a warm probe of every target: 52 runs, about 6½ minutes for four
 * cases (6:08-6:50 here, of which 1-24 s waiting out the machine's slow spells, 30 s at most:
 * src/run/canary.ts). A fresh start warms in 1 s chunks until two agree (at most three); the run at
 * the rate, already warm, in one. Six rounds because each metric's six pairs are one family: at 4 rounds (3
 * degrees of freedom) its corrected t quantile is about 6.2, at 5 about 4.9, at 6 about 4.2, and each
 * round narrows the interval by its square root too; sharing the start paid for the sixth (five
 * rounds of separate starts took 6:09-6:42). Every run 4 s (four 1 s windows, the fewest the
 * steady-state check judges). Runs at the rate of 6 s (`rateDuration`) were tried at five rounds:
 * the demo then took 7 min 4 s and still left two total-CPU pairs undecided, since the noisy
 * target's CPU per request moved 14 % from round to round either way. On Bun 1.3.14 a longer run
 * could not narrow that: each start of a Bun process had its own level (the cost of the garbage
 * collections 1.3.14 ran after requests), and over 8 fresh starts the first 4 s of 8 s runs spread
 * as much as the whole 8 (docs/noise.md). Bun 1.4.5 does not run those collections; its first demo
 * here decided 5 of 6 total-CPU pairs in 6:07.
 */
export const DEMO: { vus: number; duration: string; rateDuration?: string; repeat: number; warmup: string } = { vus: 10, duration: "4s", repeat: 6, warmup: "1s" };

/** `params`: the test's shorter rounds; a user's demo always has DEMO's. */
export async function demo(config: Config, log: (line: string) => void = console.log, params: typeof DEMO = DEMO) {
  await ensureEngine(config, log);
  if (existsSync(routerBinary(config))) {
    return compare(config, { ...params, gateways: ["apollo-router"] }, log);
  }
  let build: ReturnType<typeof startBackgroundBuild> = null;
  let why: string;
  try {
    build = startBackgroundBuild(config, "apollo-router", log);
    why = `its build runs in the background (started ${build!.started_at.slice(11, 16)} UTC, expected 20-45 minutes on two cores; paused while this demo measured). \`just tools\` shows its progress and waits for it; then \`just demo\` adds the Apollo Router column`;
  } catch (error) {
    // It cannot be built here (no Rust, say): the demo still runs, and says what is missing.
    why = `it cannot be built here: ${(error as Error).message}`;
  }
  const note = `Case 3 ran through Hive Gateway only: Apollo Router ${ROUTER_VERSION} is not built yet, and ${why}.`;
  log(`\n${note}\n`);
  if (build) signalBuild(build, "STOP");
  try {
    return await compare(config, { ...params, gateways: ["hive-gateway"], notes: [note] }, log);
  } finally {
    if (build) {
      signalBuild(build, "CONT");
      log(`\nthe Apollo Router build continues in the background: ${buildProgress(config, "apollo-router", Date.parse(build.started_at), readFileSync(build.log, "utf8"))}`);
      log("`just tools` shows its progress and waits for it; `just demo` then adds the Apollo Router column.");
    }
  }
}
