/**
 * Builds that run on their own (docs/design.md §24): `just demo` starts Apollo Router's build in
 * the background, niced, in a process group of its own with its output in the tools cache; every
 * measured command pauses such builds (SIGSTOP) and continues them when it ends; `just tools` finds
 * a running one and waits for it, with its progress.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config";
import { isAlive } from "./ports";
import { mainCommand, RUNTIME, sleep, sleepSync, spawn, spawnSync, which } from "../runtime";
import { ROOT, type Tool, toolNamed } from "./tools";

/** A build running on its own (started by `just demo`), so that `just tools` and the next demo find it. */
export interface BackgroundBuild {
  pid: number;
  started_at: string;
  log: string;
}

const buildStatePath = (config: Config, tool: Tool) => join(config.toolsDir, `${tool.name}-${tool.version}.building.json`);
const buildLogPath = (config: Config, tool: Tool) => join(config.toolsDir, `${tool.name}-${tool.version}.build.log`);

/** The build of `name` running in the background, if one is. */
export function runningBuild(config: Config, name: string): BackgroundBuild | null {
  try {
    const state = JSON.parse(readFileSync(buildStatePath(config, toolNamed(name)), "utf8")) as BackgroundBuild;
    return isAlive(state.pid) ? state : null;
  } catch {
    return null;
  }
}

/** The process group of `pid` (field 5 of /proc/PID/stat), or null once it is gone. */
function processGroup(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[2]);
  } catch {
    return null;
  }
}

/**
 * Pauses every background build of fleetbench's tools while a measured command runs (docs/design.md
 * §24: a build takes both cores for minutes) and continues them when this process ends, however it
 * ends (done, failed, Ctrl-C): one line says which were paused. Returns the builds paused.
 */
export function pauseBuildsWhileMeasuring(config: Config, log: (line: string) => void = console.log): BackgroundBuild[] {
  // Called before every measured run: a build started since the command began is paused too.
  // Every build recorded in the tools cache counts, whichever table its tool is in.
  const paused = recordedBuilds(config).filter(({ build }) => build.pid !== process.pid && !PAUSED.has(build.pid));
  if (!paused.length) return [];
  for (const { build } of paused) {
    signalBuild(build, "STOP");
    PAUSED.add(build.pid);
  }
  log(`paused while this measures: the background build of ${paused.map(({ name, build }) => `${name} (pid ${build.pid})`).join(", ")}; it continues when this command ends`);
  // Synchronous, so it runs on every way out, an uncaught error and process.exit included.
  if (!resumeOnExit) {
    resumeOnExit = true;
    process.once("exit", () => {
      for (const pid of PAUSED) {
        try {
          process.kill(-pid, "SIGCONT");
        } catch {}
      }
    });
  }
  return paused.map((p) => p.build);
}

/** Every build running in the background that the tools cache records (`<tool>-<version>.building.json`), by tool and version. */
export function recordedBuilds(config: Config): { name: string; build: BackgroundBuild }[] {
  let files: string[] = [];
  try {
    files = readdirSync(config.toolsDir).filter((f) => f.endsWith(".building.json"));
  } catch {
    return [];
  }
  return files.flatMap((file) => {
    try {
      const build = JSON.parse(readFileSync(join(config.toolsDir, file), "utf8")) as BackgroundBuild;
      return isAlive(build.pid) ? [{ name: file.replace(/\.building\.json$/, "").replace(/-(\d[^-]*)$/, " $1"), build }] : [];
    } catch {
      return [];
    }
  });
}

/** The builds this process paused (by process group), continued when it exits. */
const PAUSED = new Set<number>();
let resumeOnExit = false;

/** Stops (SIGSTOP) or continues (SIGCONT) a background build: its process group, cargo and every rustc. */
export function signalBuild(build: BackgroundBuild, signal: "STOP" | "CONT") {
  spawnSync(["kill", `-${signal}`, "--", `-${build.pid}`]);
}

/** How many crates a Rust build has compiled, of how many its lock file lists (when downloaded). */
function crateProgress(tool: Tool, logText: string): string {
  if (!tool.crate) return "";
  const done = logText.match(/^\s*Compiling /gm)?.length ?? 0;
  const home = process.env.CARGO_HOME ?? join(process.env.HOME ?? "/root", ".cargo");
  let total = 0;
  try {
    for (const registry of readdirSync(join(home, "registry", "src"))) {
      const lock = join(home, "registry", "src", registry, `${tool.crate}-${tool.version}`, "Cargo.lock");
      if (existsSync(lock)) total = readFileSync(lock, "utf8").match(/^\[\[package\]\]/gm)?.length ?? 0;
    }
  } catch {}
  return `, ${done}${total ? ` of about ${total}` : ""} crates compiled`;
}

/** "apollo-router 2.17.0: building for 12.3 min (expected about 20-45 minutes …), 412 of about 790 crates compiled". */
export function buildProgress(config: Config, name: string, startedAt: number, logText = ""): string {
  const tool = toolNamed(name);
  const minutes = ((Date.now() - startedAt) / 60000).toFixed(1);
  return `${tool.name} ${tool.version}: building for ${minutes} min (expected ${tool.expected})${crateProgress(tool, logText)}`;
}

/**
 * Starts building `name` on its own, niced, in its own process group, its output to a log in the
 * tools cache; or finds the build already running. Returns null when the tool is there already.
 * The build goes on after this process ends; `just tools` waits for it.
 */
export function startBackgroundBuild(config: Config, name: string, log: (line: string) => void = console.log): BackgroundBuild | null {
  const tool = toolNamed(name);
  if (existsSync(tool.binary(config))) return null;
  const running = runningBuild(config, name);
  if (running) {
    signalBuild(running, "CONT");
    log(buildProgress(config, name, Date.parse(running.started_at), readFileSync(running.log, "utf8")));
    return running;
  }
  const missing = tool.needs.filter((n) => !which(n.command));
  if (missing.length) throw new Error(`cannot build ${tool.name} ${tool.version}: missing ${missing.map((m) => m.hint).join("; ")}`);
  mkdirSync(config.toolsDir, { recursive: true });
  const logPath = buildLogPath(config, tool);
  const out = openSync(logPath, "w");
  // setsid: a process group of its own, so the demo can pause the whole build (cargo and every
  // rustc) while it measures; nice: what runs besides it comes first.
  const child = spawn(["setsid", "nice", "-n", "19", ...mainCommand(RUNTIME, ["tools", name])], {
    cwd: ROOT,
    // The same tools cache as this process's configuration, whatever the environment says.
    env: { ...process.env, FLEET_TOOLS_DIR: config.toolsDir },
    stdin: "ignore",
    stdout: out,
    stderr: out,
  });
  closeSync(out);
  child.unref();
  // Until setsid has run, the group does not exist and could be neither paused nor found.
  for (let i = 0; i < 500 && processGroup(child.pid) !== child.pid; i++) sleepSync(10);
  if (processGroup(child.pid) !== child.pid) throw new Error(`the background build of ${tool.name} (pid ${child.pid}) did not start its own process group; see ${logPath}`);
  const state: BackgroundBuild = { pid: child.pid, started_at: new Date().toISOString(), log: logPath };
  writeFileSync(buildStatePath(config, tool), `${JSON.stringify(state)}\n`);
  log(`building ${tool.name} ${tool.version} in the background (pid ${child.pid}, expected ${tool.expected}); its output: ${logPath}; \`just tools\` shows its progress and waits for it`);
  return state;
}

/** Waits for a background build, with a progress line every `everyMs`; fails with the log's end if it fails. */
export async function awaitBackgroundBuild(config: Config, tool: Tool, build: BackgroundBuild, log: (line: string) => void, everyMs = 30_000) {
  signalBuild(build, "CONT");
  log(`${tool.name} ${tool.version} is building in the background (pid ${build.pid}); waiting for it (Ctrl-C leaves it running). Output: ${build.log}`);
  let last = 0;
  while (isAlive(build.pid)) {
    if (Date.now() - last >= everyMs) {
      log(buildProgress(config, tool.name, Date.parse(build.started_at), readFileSync(build.log, "utf8")));
      last = Date.now();
    }
    await sleep(1000);
  }
  if (!existsSync(tool.binary(config))) {
    const tail = readFileSync(build.log, "utf8").trim().split("\n").slice(-15).join("\n");
    throw new Error(`the background build of ${tool.name} ${tool.version} ended without the tool; the end of ${build.log}:\n${tail}`);
  }
}
