/**
 * Which Compose runs (src/deploy/compose-tools.ts): the docker CLI's plugin when it answers, else a
 * standalone `docker-compose` on PATH (a Nix shell's). Stand-in programs on the test's own PATH
 * play each; the real ones are the Compose tests' (test/compose.test.ts).
 */
import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const program = (bin: string) => {
  const r = Bun.spawnSync([process.execPath, "-e", 'import { composeProgram } from "./src/deploy/compose-tools"; console.log(JSON.stringify(composeProgram()))'], { cwd: ROOT, env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` }, stdout: "pipe", stderr: "pipe" });
  return JSON.parse(r.stdout.toString());
};
const standIn = (dir: string, name: string, script: string) => {
  writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`);
  chmodSync(join(dir, name), 0o755);
};

test("the plugin when it answers; else the standalone docker-compose on PATH; else none", () => {
  const plugin = mkdtempSync(join(tmpdir(), "fleetbench-compose-"));
  standIn(plugin, "docker", '[ "$1 $2 $3" = "compose version --short" ] && echo v2.40.3 && exit 0; exit 1');
  standIn(plugin, "docker-compose", "echo 1.29.2");
  expect(program(plugin)).toEqual({ command: ["docker", "compose"], version: "2.40.3", kind: "plugin" });
  const standalone = mkdtempSync(join(tmpdir(), "fleetbench-compose-"));
  standIn(standalone, "docker", "exit 1");
  standIn(standalone, "docker-compose", '[ "$1 $2" = "version --short" ] && echo 2.40.3');
  expect(program(standalone)).toEqual({ command: ["docker-compose"], version: "2.40.3", kind: "standalone" });
  const none = mkdtempSync(join(tmpdir(), "fleetbench-compose-"));
  standIn(none, "docker", "exit 1");
  expect(program(none)).toBeNull();
});
