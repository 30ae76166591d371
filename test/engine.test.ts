/**
 * The load engine as a user meets it (docs/design.md §22): nothing in the repository fetches or
 * builds k6 (its Go module is AGPL); no engine, no start (one line, exit 2, nothing started and no
 * result written); `--engine k6` runs only a k6 the user brought, and says so in one line when
 * there is none; and the k6 adapter read on a summary in the form k6/fleet.js's handleSummary
 * writes (no k6 runs on these machines).
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { k6Timeline, parseSummary } from "../src/run/engine/k6";
import { fleetCli } from "./utils";

const ROOT = join(import.meta.dirname, "..");

test("nothing in the repository fetches or builds k6's Go module", () => {
  const files = Bun.spawnSync(["git", "ls-files", "src", ".ci", "justfile", "package.json", "flake.nix", "flake.lock", "compose"], { cwd: ROOT }).stdout.toString().trim().split("\n");
  expect(files.length).toBeGreaterThan(50);
  const module = ["go.k6", "io/k6"].join(".");
  const found = files.filter((f) => existsSync(join(ROOT, f)) && readFileSync(join(ROOT, f), "utf8").includes(module));
  expect(found).toEqual([]);
});

describe("no engine, no start", () => {
  /** A machine without Go and without vegeta: an empty tools cache, a PATH of the system's programs only. */
  const bare = () => {
    const dir = mkdtempSync(join(tmpdir(), "fleetbench-no-engine-"));
    return { dir, env: { PATH: "/usr/bin:/bin", FLEET_TOOLS_DIR: join(dir, "tools"), FLEET_STATE_DIR: join(dir, "state"), FLEET_RESULTS_DIR: join(dir, "results"), FLEET_PG_PORT: "15999" } };
  };

  for (const args of [["case", "case2", "load", "20", "30s"], ["compare", "2", "2s"], ["rate", "case1", "10", "5s"], ["calibrate"]]) {
    test(`${args.join(" ")}: one line, exit 2, no PostgreSQL, no case, no result`, () => {
      const { dir, env } = bare();
      const r = fleetCli(args, env);
      expect({ code: r.code, err: r.err.trim() }).toEqual({ code: 2, err: "fleetbench: the load engine vegeta 12.13.0 is not built and cannot be: Go is not on PATH (Go 1.22 or newer builds it in under a minute; or put vegeta 12.13.0 on PATH); nothing was started" });
      expect(r.out).toBe("");
      // Nothing started: no state folder (PostgreSQL's data, the supervisor's state), no result.
      expect(readdirSync(dir).sort()).toEqual([]);
    });
  }

  test("--engine k6 without a k6 on PATH, or with another version: one line says so before anything starts", () => {
    const { dir, env } = bare();
    const none = fleetCli(["case", "case2", "load", "20", "30s", "--engine", "k6"], env);
    expect({ code: none.code, err: none.err.trim() }).toEqual({ code: 2, err: "fleetbench: --engine k6: no k6 on PATH; fleetbench never builds or downloads k6 (the Nix shell has v1.8.1); bring one, or use the default engine, vegeta" });
    // A k6 of another version on PATH is named, and refused.
    const bin = join(dir, "bin");
    Bun.spawnSync(["mkdir", "-p", bin]);
    writeFileSync(join(bin, "k6"), "#!/bin/sh\necho 'k6 v0.49.0 (go1.21.6, linux/amd64)'\n");
    chmodSync(join(bin, "k6"), 0o755);
    const old = fleetCli(["rate", "case1", "10", "5s"], { ...env, PATH: `${bin}:/usr/bin:/bin`, FLEET_ENGINE: "k6" });
    expect(old.code).toBe(2);
    expect(old.err.trim()).toBe(`fleetbench: --engine k6: the k6 on PATH (${join(bin, "k6")}) is k6 v0.49.0 (go1.21.6, linux/amd64), not v1.8.1; fleetbench runs only the pinned k6 and never builds or downloads one (the Nix shell has it), or use the default engine, vegeta`);
    expect(readdirSync(dir)).toEqual(["bin"]);
    const bad = fleetCli(["rate", "case1", "10", "5s", "--engine", "wrk"], env);
    expect({ code: bad.code, err: bad.err.trim() }).toEqual({ code: 2, err: 'fleetbench: FLEET_ENGINE must be vegeta or k6, got "wrk"' });
  });
});

describe("the k6 adapter, on a summary as k6/fleet.js's handleSummary writes it", () => {
  const path = join(ROOT, "test", "fixtures", "k6-summary.json");
  test("requests, successes, percentiles overall and per API, whole windows, dropped iterations", () => {
    const s = parseSummary(path, 2, 5);
    expect(s).toMatchObject({ requests: 600, rps: 59.8, ok_rps: 59.5, error_rate: 0.005, dropped_iterations: 2, ok_requests: 597, window_seconds: 5, windows: [298, 297], scenario_start_ms: 1767225600000 });
    expect(s.latency_ms).toEqual({ p50: 5.1, p90: 8.7, p95: 11.4, p99: 27.5, max: 40.3 });
    expect(s.per_api).toEqual({
      dashboard: { p50: 6.2, p95: 13.2, p99: 30.4, error_rate: 0.01 },
      monitor: { p50: 3.8, p95: 7.7, p99: 12.9, error_rate: 0 },
      critical: { p50: 4.6, p95: 8.4, p99: 14.6, error_rate: 0 },
    });
    expect(s.window_latency_ms).toEqual({ p50: [5.4, 4.9], p95: [12.5, 10.6] });
  });

  test("the fault timeline: requests and errors per second", () => {
    expect(k6Timeline(path)).toEqual([{ second: 0, requests: 60, errors: 0 }, { second: 1, requests: 60, errors: 3 }]);
  });
});
