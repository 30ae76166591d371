/**
 * The command line as people use it: every command answers --help with its usage and options,
 * errors are one line without a stack trace, and exit codes are the same everywhere.
 */
import { expect, test } from "bun:test";
import { COMMANDS } from "../src/cli/cli";
import { HELP } from "../src/cli/help";

const ROOT = `${import.meta.dirname}/..`;
const fleet = (...args: string[]) => {
  // env: process.env, so the preload's temporary results folder reaches the child (test/setup.ts).
  const r = Bun.spawnSync([`${ROOT}/node_modules/.bin/bun`, "src/main.ts", ...args], { cwd: ROOT, env: process.env, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

test("every command has its help, and nothing in the help names a command that does not exist", () => {
  expect(Object.keys(HELP).sort()).toEqual(Object.keys(COMMANDS).sort());
});

test("`COMMAND --help` prints its usage, options and exit codes, and exits 0", () => {
  for (const command of Object.keys(COMMANDS)) {
    const r = fleet(command, "--help");
    expect({ command, code: r.code }).toEqual({ command, code: 0 });
    expect(r.out).toStartWith(`usage: bun src/main.ts ${command}`);
    expect(r.out).toContain("130 interrupted");
  }
  // As the recipes call it: `just case2 load --help` runs `main.ts load case2 --help`.
  expect(fleet("load", "case2", "--help").out).toContain("--warmup DURATION");
  expect(fleet("compare", "-h").out).toContain("--seed S");
});

test("no command lists them all (exit 2); a bad argument is one line naming it (exit 2), no stack trace", () => {
  const none = fleet();
  expect(none.code).toBe(2);
  expect(none.out).toContain("compare [VUS] [DURATION] [options]");
  const bad = fleet("compare", "20", "30s", "--repeat", "zero");
  expect(bad.code).toBe(2);
  expect(bad.err.trim()).toBe('fleetbench: --repeat must be a positive integer, got "zero"');
  const unknown = fleet("load", "case9", "10", "30s");
  expect(unknown.code).toBe(2);
  expect(unknown.err.trim().split("\n")).toHaveLength(1);
  expect(unknown.err).not.toContain("    at ");
});
