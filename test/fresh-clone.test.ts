/**
 * An honest fingerprint from a fresh clone: the committed lockfile is what `npm install` keeps,
 * so a clone stays clean after installing and its results are not marked dirty. Clones the
 * committed HEAD into a temporary folder and installs there, as a newcomer does (about a minute).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = `${import.meta.dirname}/..`;
const dir = mkdtempSync(join(tmpdir(), "fleetbench-clone-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (argv: string[], cwd: string) => {
  const r = Bun.spawnSync(argv, { cwd, env: process.env, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

test("a fresh clone is clean after `npm install --no-audit --no-fund`", () => {
  const clone = join(dir, "fleetbench");
  expect(run(["git", "clone", "--quiet", ROOT, clone], dir).code).toBe(0);
  expect(run(["git", "status", "--porcelain"], clone).out).toBe("");
  const install = run(["npm", "install", "--no-audit", "--no-fund"], clone);
  expect({ code: install.code, err: install.code ? install.err : "" }).toEqual({ code: 0, err: "" });
  expect(run(["git", "status", "--porcelain"], clone).out).toBe("");
  // What a result's fingerprint reads (src/run/fingerprint.ts): not dirty.
  expect(run(["git", "status", "--porcelain", "--untracked-files=no"], clone).out).toBe("");
}, 600_000);
