/**
 * The command line as people type it, through `just` (node_modules/.bin/just, the recipes the
 * README shows): every recipe answers --help with its usage in the just form and every option it
 * takes, once; errors are one line with their exit code and no trailer from just; `--version`.
 * Nothing here starts a case or takes a port.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CAPACITY_FLAGS, SWEEP_FLAGS } from "../src/cli/cli-curves";
import { leadingWords } from "../src/cli/args";
import { COMMANDS, loadParams } from "../src/cli/cli";
import { OPTIONS } from "../src/cli/options";
import { runsEstimate, searchesEstimate } from "../src/plans/estimate";
import { CASE_ACTIONS, HELP } from "../src/cli/help";
import { CASE_NAMES } from "../src/run/cases";

// Each call starts bun and the CLI's modules: about a second apiece on 2 busy cores.
setDefaultTimeout(120_000);

const ROOT = `${import.meta.dirname}/..`;
const spawn = (argv: string[], env: Record<string, string> = {}) => {
  // env: process.env, so the preload's temporary results folder reaches the child (test/setup.ts).
  const r = Bun.spawnSync(argv, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};
const just = (args: string[], env: Record<string, string> = {}) => spawn([`${ROOT}/node_modules/.bin/just`, ...args], env);
const fleet = (...args: string[]) => spawn([`${ROOT}/node_modules/.bin/bun`, "src/main.ts", ...args]);

/** The recipes of the justfile, as `just --summary` lists them (helpers start with `_`). */
const recipes = () => just(["--summary"]).out.trim().split(/\s+/).filter((r) => r !== "default" && !r.startsWith("_"));

/** A bad input: exit `code`, one line on stderr starting with fleetbench's name, nothing from just after it. */
function oneLine(r: { code: number; out: string; err: string }, code: number) {
  expect({ code: r.code, lines: r.err.trim().split("\n").length }).toEqual({ code, lines: 1 });
  expect(r.err).toStartWith("fleetbench: ");
  expect(r.err).not.toContain("error: recipe");
  expect(r.err).not.toContain("    at ");
}

/** The options a help page defines: the `--name` words that open its option lines (before the description). */
function definedOptions(page: string): string[] {
  return page.split("\n").filter((l) => /^ {2}--/.test(l)).flatMap((l) => l.trim().split(/\s{2,}/)[0].match(/--[a-z][a-z-]*/g) ?? []);
}

test("every command has its help, and nothing in the help names a command that does not exist", () => {
  expect(Object.keys(HELP).sort()).toEqual(Object.keys(COMMANDS).sort());
  // Every recipe but the cases' is a command of the same name; the cases' recipes run `case`.
  for (const recipe of recipes()) expect({ recipe, command: (CASE_NAMES as string[]).includes(recipe) || recipe in COMMANDS }).toEqual({ recipe, command: true });
});

test("`just RECIPE --help` prints its usage in the just form, and exits 0, for every recipe and every case action", () => {
  const all = recipes();
  for (const name of ["demo", "status", "down", "compare", "sweep", "report", "k8s", "compose", "test", "version"]) expect(all).toContain(name);
  for (const recipe of all) {
    const r = just([recipe, "--help"]);
    expect({ recipe, code: r.code, err: r.err }).toEqual({ recipe, code: 0, err: "" });
    expect(r.out).toStartWith(`usage: just ${recipe}`);
    expect(r.out).toContain("130 interrupted");
  }
  for (const action of CASE_ACTIONS) {
    const r = just(["case2", action, "--help"]);
    expect({ action, code: r.code }).toEqual({ action, code: 0 });
    expect(r.out).toStartWith(`usage: just case2 ${action}`);
  }
  expect(just(["case2", "load", "--help"]).out).toStartWith("usage: just case2 load VUS DURATION [options]");
  // -h too, and the command itself as bun runs it prints the same page.
  expect(just(["compare", "-h"]).out).toContain("--seed S");
  expect(fleet("load", "--help").out).toStartWith("usage: just CASE load VUS DURATION");
});

test("every option a command takes is on its help page, once; --hop-latency on every command that starts a case", () => {
  const takes: Record<string, string[]> = {
    ...Object.fromEntries(Object.entries(OPTIONS).map(([c, o]) => [c, [...o.options, ...o.switches]])),
    capacity: CAPACITY_FLAGS,
    sweep: [...SWEEP_FLAGS, "capacity"],
    k8s: ["parallelism", "namespace", "image", "database-url-secret", "prometheus", "operator-namespace", "vus", "duration", "rate", "iterations", "api"],
  };
  for (const command of ["up", "load", "iterations", "rate", "capacity", "compare", "sweep"]) (takes[command] ??= []).push("hop-latency");
  for (const [command, page] of Object.entries(HELP)) {
    const defined = definedOptions(page);
    expect({ command, twice: defined.filter((o, i) => defined.indexOf(o) !== i) }).toEqual({ command, twice: [] });
    const missing = (takes[command] ?? []).filter((o) => !defined.includes(`--${o}`));
    expect({ command, missing }).toEqual({ command, missing: [] });
  }
});

test("--version prints fleetbench's version and the commit, from any command and from `just version`", async () => {
  const sha = spawn(["git", "rev-parse", "HEAD"]).out.trim().slice(0, 12);
  const version = (r: { code: number; out: string }) => {
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^fleetbench 0\\.1\\.0 \\(commit ${sha}[,)]`));
  };
  version(just(["version"]));
  version(fleet("--version"));
  version(just(["compare", "--version"]));
  expect(fleet("--version").out).toContain((await Bun.file(`${ROOT}/package.json`).json()).version);
});

test("bad input is one line and its exit code, with no line from just after it", () => {
  // An unknown case action lists the case's actions, not fleetbench's roles and commands.
  const action = just(["case2", "foo"]);
  oneLine(action, 2);
  expect(action.err).toContain(`just case2 takes ${CASE_ACTIONS.join(", ")}, got "foo"`);
  expect(action.err).not.toContain("robot-service");
  // A file that is not there, or is not a file.
  const missing = just(["report", "/nonexistent.json"]);
  oneLine(missing, 2);
  expect(missing.err.trim()).toBe("fleetbench: cannot read /nonexistent.json: no such file");
  oneLine(just(["report", "--baseline", "/nonexistent.json"]), 2);
  const folder = just(["report", tmpdir()]);
  oneLine(folder, 2);
  expect(folder.err).toContain("it is a folder");
  // Values.
  const repeat = just(["compare", "20", "30s", "--repeat", "zero"]);
  oneLine(repeat, 2);
  expect(repeat.err.trim()).toBe('fleetbench: --repeat must be a positive integer, got "zero"');
  oneLine(just(["case2", "load", "10", "30s", "--vus", "5"]), 2);
  oneLine(just(["case2", "load", "--vus", "5", "--duration", "soon"]), 2);
  oneLine(just(["case2", "load", "10"]), 2);
  oneLine(just(["k8s", "foo"]), 2);
  // Refused for the stray word itself, before any image is built or stack started.
  const stray = just(["compose", "case2", "up", "now"]);
  oneLine(stray, 2);
  expect(stray.err.trim()).toBe('fleetbench: just compose case2 up takes no more words, got "now"');
  oneLine(just(["demo", "now"]), 2);
});

test("the remedy an error names works for the command that printed it: compare without Apollo Router", () => {
  // A tools folder with the load engine only: Apollo Router is not built (unless a `router` of its version is on PATH).
  const env = { FLEET_TOOLS_DIR: mkdtempSync(join(tmpdir(), "fleetbench-no-tools-")), PATH: "/usr/bin:/bin" };
  const { VEGETA_VERSION, vegetaBinary } = require("../src/run/tools") as typeof import("../src/run/tools");
  const { loadConfig } = require("../src/config") as typeof import("../src/config");
  const vegeta = join(env.FLEET_TOOLS_DIR, `vegeta-${VEGETA_VERSION}`, "bin", "vegeta");
  require("node:fs").mkdirSync(join(env.FLEET_TOOLS_DIR, `vegeta-${VEGETA_VERSION}`, "bin"), { recursive: true });
  require("node:fs").copyFileSync(vegetaBinary(loadConfig()), vegeta);
  require("node:fs").chmodSync(vegeta, 0o755);
  for (const args of [["compare", "10", "5s"], ["sweep", "rate", "10,20"], ["compare", "--capacity"]]) {
    const r = just(args, env);
    oneLine(r, 2);
    expect(r.err).toContain("--gateways hive-gateway");
    expect(r.err).not.toContain("CASE3_GATEWAY");
  }
  // Following it gets past the Router: what stops this run is the (bad) --repeat it was also given.
  const followed = just(["compare", "10", "5s", "--gateways", "hive-gateway", "--repeat", "0"], env);
  oneLine(followed, 2);
  expect(followed.err.trim()).toBe('fleetbench: --repeat must be a positive integer, got "0"');
});

test("one argument order: `just k8s case2 render`; the earlier `just k8s render case2` works with a one-line notice", () => {
  const now = just(["k8s", "case2", "render"]);
  expect({ code: now.code, err: now.err }).toEqual({ code: 0, err: "" });
  expect(now.out).toContain("kind: Deployment");
  const before = just(["k8s", "render", "case2"]);
  expect(before.code).toBe(0);
  expect(before.err.trim().split("\n")).toEqual(["fleetbench: notice: `just k8s render case2` is now `just k8s case2 render` (the order of `just compose case2 up`); the old order still works"]);
  // The same manifests but for the run id in them.
  const strip = (yaml: string) => yaml.replaceAll(/\d{8}T\d{6}Z/g, "TIME");
  expect(strip(before.out)).toBe(strip(now.out));
});

test("--vus/--duration (and --iterations, --rate) wherever VUS DURATION are positional", () => {
  expect(loadParams("duration", ["case2", "--vus", "5", "--duration", "3s"])).toEqual(loadParams("duration", ["case2", "5", "3s"]));
  expect(loadParams("duration", ["case2", "5", "--duration", "3s"])).toEqual(loadParams("duration", ["case2", "5", "3s"]));
  expect(loadParams("iterations", ["case1", "--vus", "2", "--iterations", "40"])).toEqual(loadParams("iterations", ["case1", "2", "40"]));
  expect(loadParams("rate", ["case1", "--rate", "30", "--duration", "1m"])).toEqual(loadParams("rate", ["case1", "30", "1m"]));
  expect(() => loadParams("duration", ["case2", "5", "3s", "--vus", "5"])).toThrow('VUS is given twice, as "5" and as --vus 5: give one');
});

test("options go anywhere after the recipe: before a case's action, between its values, before k8s's and compose's words", () => {
  expect(leadingWords(["--api", "monitor", "load", "20", "30s"], 1, ["pin"])).toEqual({ words: ["load"], rest: ["--api", "monitor", "20", "30s"] });
  expect(leadingWords(["--pin", "load", "--warmup=1s", "20"], 1, ["pin"])).toEqual({ words: ["load"], rest: ["--pin", "--warmup=1s", "20"] });
  expect(leadingWords(["--namespace", "fb", "case2", "render"], 2)).toEqual({ words: ["case2", "render"], rest: ["--namespace", "fb"] });
  // Through just, each order reaches the same check: the action is found and the option is read.
  for (const args of [["case2", "--api", "monitor", "load", "20", "0x"], ["case2", "load", "--api", "monitor", "20", "0x"], ["case2", "load", "20", "0x", "--api", "monitor"]]) {
    const r = just(args);
    oneLine(r, 2);
    expect(r.err.trim()).toBe('fleetbench: DURATION must be a duration like 30s, 5m or 1m30s, got "0x"');
  }
  expect(just(["case2", "--api", "nope", "load", "20", "30s"]).err.trim()).toBe('fleetbench: --api must be one of dashboard, monitor, critical, got "nope"');
  expect(just(["case2", "--pin", "load", "20", "--vus", "3"]).err.trim()).toBe('fleetbench: VUS is given twice, as "20" and as --vus 3: give one');
  expect(just(["case2", "--api", "monitor", "load", "--help"]).out).toStartWith("usage: just case2 load VUS DURATION");
  const k8s = just(["k8s", "--namespace", "fleetbench-order", "case2", "render"]);
  expect({ code: k8s.code, err: k8s.err }).toEqual({ code: 0, err: "" });
  expect(k8s.out).toContain("namespace: fleetbench-order");
  // compose reads its load options before it looks for Docker.
  expect(just(["compose", "case2", "--api", "nope", "rate", "10", "5s"]).err.trim()).toBe('fleetbench: --api must be one of dashboard, monitor, critical, got "nope"');
});

test("the estimate before long work: runs times (warm-up + window + the measured cost around a run)", () => {
  // `just compare`'s defaults: 4 targets × 5 rounds of 5 s + 60 s, 5 s around each: 1400 s.
  expect(runsEstimate(20, "4 targets × 5 rounds", "5s", "60s")).toStartWith("planned: 20 run(s) (4 targets × 5 rounds) of 5s warm-up + 60s: about 23 min, until about ");
  expect(runsEstimate(16, "demo", "2s", "5s")).toContain("about 3 min");
  // The demo's: 24 runs of 1 s + 4 s, 20 of them 2 s longer at the rate: 24 × 10 + 20 × 2 = 280 s.
  expect(runsEstimate(24, "demo", "1s", "4s", { runs: 20, window: "6s", what: "at the rate" })).toStartWith("planned: 24 run(s) (demo) of 1s warm-up + 4s (6s for the 20 at the rate): about 5 min, until about ");
  // The demo: 52 runs of 1 s + 4 s, 24 of them on the start of the run before (1 s around each, not 5): 424 s.
  expect(runsEstimate(52, "demo", "1s", "4s", undefined, 24)).toStartWith("planned: 52 run(s) (demo) of 1s warm-up + 4s: about 7 min, until about ");
  expect(runsEstimate(52, "demo", "1s", "4s", undefined, 0)).toContain("about 9 min");
  expect(runsEstimate(24, "demo", "1s", "4s", { runs: 20, window: "6s", what: "at the rate" })).not.toContain("about 4 min");
  expect(searchesEstimate(3, "case2 × 3", "3s", "10s")).toContain("3 capacity search(es) (case2 × 3), each 6-14 steps of 3s warm-up + 10s: about 5 min to 13 min");
});
