/**
 * In a shell that has the pinned runtimes (the Nix shell), the shell's run: the justfile runs PATH's
 * Bun when it is src/versions.json's version, and src/runtime.ts starts PATH's Deno on the same
 * terms; otherwise npm's (node_modules). toolSources() says which ran and from where. PATH here is
 * the test's own: the runtimes on it are stand-ins in a temporary folder (a script that runs npm's
 * binary, so it is the pinned version; another that claims an old one). Nothing starts a case.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import pinned from "../src/versions.json" with { type: "json" };

setDefaultTimeout(120_000);

const ROOT = resolve(import.meta.dirname, "..");
const NPM = (runtime: string) => join(ROOT, "node_modules", ".bin", runtime);

/**
 * A PATH with `runtimes` (name → script body) in a folder of its own ahead of the machine's PATH,
 * from which every folder holding a bun or deno is left out (node stays: just's npm wrapper needs it).
 */
function pathWith(runtimes: Record<string, string>): { PATH: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "fleetbench-path-"));
  for (const [name, body] of Object.entries(runtimes)) writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  const node = Bun.which("node");
  if (node) symlinkSync(node, join(dir, "node"));
  const rest = (process.env.PATH ?? "").split(delimiter).filter((d) => d && !existsSync(join(d, "bun")) && !existsSync(join(d, "deno")));
  return { PATH: [dir, ...rest].join(delimiter), dir };
}

const run = (argv: string[], PATH: string) => {
  const r = Bun.spawnSync(argv, { cwd: ROOT, env: { ...process.env, PATH }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
};
const justBun = (PATH: string) => run([NPM("just"), "--evaluate", "bun"], PATH).out;

test("the justfile runs PATH's Bun when it is the pinned version, else npm's", () => {
  // The pinned Bun on PATH (npm's binary behind a script that logs each start): the recipes run it.
  const pinnedBun = pathWith({ bun: `echo "$*" >> "$(dirname "$0")/started"\nexec "${NPM("bun")}" "$@"` });
  expect(justBun(pinnedBun.PATH)).toBe(join(pinnedBun.dir, "bun"));
  expect(run([NPM("just"), "version"], pinnedBun.PATH).out).toStartWith("fleetbench ");
  expect(readFileSync(join(pinnedBun.dir, "started"), "utf8")).toContain(`${ROOT}/src/main.ts version`);
  // Another version on PATH, or none: npm's.
  expect(justBun(pathWith({ bun: `echo 1.0.0` }).PATH)).toBe(NPM("bun"));
  expect(justBun(pathWith({}).PATH)).toBe(NPM("bun"));
});

/** What src/runtime.ts picks and says, in a bun started with PATH. */
const sources = (PATH: string) => {
  const r = run([NPM("bun"), "-e", `const m = await import("./src/runtime.ts"); console.log(JSON.stringify({ deno: m.runtimeBinary("deno"), sources: m.toolSources() }))`], PATH);
  expect(r.err).toBe("");
  return JSON.parse(r.out);
};

test("Deno from PATH when it is the pinned version, else npm's; toolSources() says which ran and from where", () => {
  const pinnedDeno = pathWith({ deno: `exec "${NPM("deno")}" "$@"` });
  const onPath = sources(pinnedDeno.PATH);
  expect(onPath.deno).toBe(join(pinnedDeno.dir, "deno"));
  expect(onPath.sources.deno).toEqual({ path: join(pinnedDeno.dir, "deno"), source: "PATH", version: pinned.deno });
  // This bun is npm's, though started by its path: where the binary lies decides.
  expect(onPath.sources.bun).toMatchObject({ source: "npm", version: pinned.bun });

  for (const PATH of [pathWith({ deno: `echo "deno 2.0.0 (stable)"` }).PATH, pathWith({}).PATH]) {
    const npm = sources(PATH);
    expect(npm.deno).toBe(NPM("deno"));
    expect(npm.sources.deno).toMatchObject({ source: "npm", version: pinned.deno });
  }
});
