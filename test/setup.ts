/**
 * Preloaded before any test file (bunfig.toml `[test] preload`), so before any test module calls
 * loadConfig(): the run writes its result and report files into a fresh temporary folder, never
 * into the user's results/.
 *
 *   FLEET_RESULTS_DIR=dir bun test           use (and keep) that folder instead
 *   FLEET_KEEP_TEST_RESULTS=1 bun test       keep the temporary folder for debugging; its path is printed
 *
 * FLEET_TEST_RUN marks the processes this run starts, so a test can find the ones it left behind
 * without matching anybody else's (test/utils.ts, strayProcesses). Its FLEET_ prefix lets it
 * through to measured processes (src/run/environment.ts passes fleetbench's own variables).
 *
 * A process a test spawns itself gets these variables only when it is given `env: process.env`:
 * Bun 1.3's Bun.spawn without `env` passes the environment the runner started with, not
 * process.env as changed here (oven-sh/bun#34972).
 *
 * A test still running after 110 s prints what it was doing (test/trace.ts), then every minute.
 */
import { afterAll, afterEach, beforeEach } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { restart, stillRunning } from "./trace";

process.env.FLEET_TEST_RUN = randomUUID();

if (!process.env.FLEET_RESULTS_DIR) {
  const dir = mkdtempSync(join(tmpdir(), "fleetbench-test-results-"));
  process.env.FLEET_RESULTS_DIR = dir;
  const keep = process.env.FLEET_KEEP_TEST_RESULTS === "1";
  // A preload's afterAll runs once, after the last test file.
  afterAll(() => {
    if (keep) console.error(`fleetbench tests: results kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
}

let watchdog: ReturnType<typeof setTimeout> | undefined;
beforeEach(() => {
  restart();
  const report = () => {
    console.error(stillRunning());
    watchdog = setTimeout(report, 60_000);
  };
  watchdog = setTimeout(report, 110_000);
});
afterEach(() => clearTimeout(watchdog));
