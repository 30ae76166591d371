/**
 * Arguments as typed: through the real `just` (node_modules/.bin/just), every argument reaches
 * src/main.ts whole and literal — a `;`, a space, `$(…)` or backticks are never read by a shell.
 * Each command here fails on its own usage check, whose message quotes the argument as the
 * program received it: nothing starts a case, reads a database or takes a port.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Each call starts just, bash and bun: about a second apiece on 2 busy cores.
setDefaultTimeout(120_000);

const ROOT = `${import.meta.dirname}/..`;
const just = (...args: string[]) => {
  const r = Bun.spawnSync([`${ROOT}/node_modules/.bin/just`, ...args], { cwd: ROOT, env: process.env, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, err: r.stderr.toString().trim() };
};

test("a case's argument with `;` arrives whole: `just case2 query 'dashboard;'` is refused naming it, not run as `query dashboard`", () => {
  expect(just("case2", "query", "dashboard;")).toEqual({ code: 2, err: 'fleetbench: API must be one of dashboard, monitor, critical, got "dashboard;"' });
  // An empty argument is an argument too, not nothing (which would query the default API).
  expect(just("case2", "query", "")).toEqual({ code: 2, err: 'fleetbench: API must be one of dashboard, monitor, critical, got ""' });
  // Two words in one argument stay one value.
  expect(just("case2", "load", "20 30s")).toEqual({ code: 2, err: 'fleetbench: VUS must be a positive integer, got "20 30s"' });
});

test("a path with a space arrives as one path: `just map \"DIR/x y/z\"`", () => {
  const path = join(mkdtempSync(join(tmpdir(), "fleetbench-args-")), "x y", "z");
  expect(just("map", path)).toEqual({ code: 2, err: `fleetbench: a grid is named by its folder (results/grid-<time>) or its grid.json: no grid.json in "${path}"` });
  expect(just("compare", "20", "30s", "--repeat", "1 2").err).toBe('fleetbench: --repeat must be a positive integer, got "1 2"');
});

test("`$(…)` and backticks are text, never run: no file is created, and the error quotes them", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleetbench-args-"));
  const substitution = `$(touch ${dir}/by-substitution)`;
  const backticks = `\`touch ${dir}/by-backticks\``;
  expect(just("report", substitution)).toEqual({ code: 2, err: `fleetbench: cannot read ${substitution}: no such file` });
  expect(just("case2", "query", backticks)).toEqual({ code: 2, err: `fleetbench: API must be one of dashboard, monitor, critical, got "${backticks}"` });
  expect(just("compose", "case2", "rate", substitution, "5s").err).toBe(`fleetbench: RPS must be a positive integer, got "${substitution}"`);
  expect(existsSync(join(dir, "by-substitution"))).toBe(false);
  expect(existsSync(join(dir, "by-backticks"))).toBe(false);
});
