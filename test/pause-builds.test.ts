/**
 * A measured command and a tool build of fleetbench's running beside it (docs/design.md §24): the
 * build is paused while the command measures and continued when it ends. The build here is a
 * stand-in (a sleeping process group recorded as Apollo Router's background build in a temporary
 * tools cache, exactly where `just demo` records a real one); the command is a real short run.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadConfig } from "../src/config";
import { ROUTER_VERSION } from "../src/router";
import { ensureTools, VEGETA_VERSION, vegetaBinary } from "../src/run/tools";
import { config, quiet } from "./utils";
import { down } from "../src/run/supervisor";

setDefaultTimeout(180_000);
const ROOT = join(import.meta.dirname, "..");
const tools = mkdtempSync(join(tmpdir(), "fleetbench-paused-tools-"));
let build: ReturnType<typeof Bun.spawn> | null = null;

afterAll(async () => {
  if (build) Bun.spawnSync(["kill", "-KILL", "--", `-${build.pid}`]);
  await down(config, quiet);
  rmSync(tools, { recursive: true, force: true });
});

/** The state letter of a process (R, S, T, ...), or null once it is gone. */
const stateOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[0];
  } catch {
    return null;
  }
};

test("a measured run pauses a running tool build while it measures, says so, and continues it after", async () => {
  // The engine as `just tools` leaves it, in this tools cache.
  await ensureTools(loadConfig(), ["vegeta"], () => {});
  const vegeta = join(tools, `vegeta-${VEGETA_VERSION}`, "bin", "vegeta");
  mkdirSync(dirname(vegeta), { recursive: true });
  copyFileSync(vegetaBinary(loadConfig()), vegeta);
  Bun.spawnSync(["chmod", "+x", vegeta]);
  // A "build" in a process group of its own, recorded where a real background build is.
  build = Bun.spawn(["setsid", "sleep", "600"], { stdout: "ignore", stderr: "ignore" });
  for (let i = 0; i < 200 && !readFileSync(`/proc/${build.pid}/stat`, "utf8").includes(` ${build.pid} ${build.pid} `); i++) await Bun.sleep(10);
  writeFileSync(join(tools, `apollo-router-${ROUTER_VERSION}.building.json`), JSON.stringify({ pid: build.pid, started_at: new Date().toISOString(), log: join(tools, "build.log") }));
  // setsid has run once the session is its own, but `sleep` may still be starting (R): wait until it sleeps.
  for (let i = 0; i < 200 && stateOf(build.pid) !== "S"; i++) await Bun.sleep(10);
  expect(stateOf(build.pid)).toBe("S");
  const run = Bun.spawn([`${ROOT}/node_modules/.bin/bun`, "src/main.ts", "iterations", "case1", "2", "20", "--warmup", "0s"], {
    cwd: ROOT, env: { ...process.env, FLEET_TOOLS_DIR: tools }, stdout: "pipe", stderr: "pipe",
  });
  const seen: string[] = [];
  let out = "";
  void (async () => {
    for await (const chunk of run.stdout) out += new TextDecoder().decode(chunk);
  })();
  while (stateOf(run.pid) !== null && run.exitCode === null) {
    seen.push(stateOf(build.pid) ?? "gone");
    await Bun.sleep(50);
  }
  const code = await run.exited;
  expect(code).toBe(0);
  expect(out).toContain(`paused while this measures: the background build of apollo-router ${ROUTER_VERSION} (pid ${build.pid}); it continues when this command ends`);
  // Stopped while the run measured, running again once it ended (sleeping, or for a moment runnable).
  expect(seen).toContain("T");
  expect(["S", "R"]).toContain(stateOf(build.pid));
});
