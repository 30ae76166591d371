/**
 * The tools fleetbench builds once into a cache outside the repository, pinned by version
 * (src/versions.json): vegeta (the load engine) and Toxiproxy (for --hop-latency) from their Go
 * modules, Apollo Router and Hive Router from their crates. A tool already on PATH at the pinned
 * version (a Nix shell) is used as it is. k6 is never built here (docs/design.md §22): it runs only when the
 * user brings it on PATH.
 * Each build owns its folders in the cache (staging, cargo target, lock): builds of two tools run
 * side by side without touching each other, and a second build of one tool waits for the first.
 *
 *   bun src/main.ts tools [vegeta|apollo-router|hive-router|toxiproxy]...
 */
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config";
import { isAlive } from "./ports";
import { routerBinary, ROUTER_VERSION } from "../router";
import { hiveRouterBinary, HIVE_ROUTER_VERSION } from "../hive-router";
import versions from "../versions.json" with { type: "json" };
import { sleep, spawn, spawnSync, which } from "../runtime";
import { awaitBackgroundBuild, buildProgress, runningBuild } from "./builds";

export const K6_VERSION = versions.k6;
export const ROOT = resolve(import.meta.dirname, "..", "..");

function versionOf(bin: string, args: string[]): string {
  const result = spawnSync([bin, ...args]);
  return result.exitCode === 0 ? result.stdout.toString().trim() : "";
}

export const TOXIPROXY_VERSION = versions.toxiproxy;

/** Toxiproxy's server (--hop-latency): PATH's toxiproxy-server when it is the pinned version, else the tools cache. */
export function toxiproxyBinary(config: Config): string {
  const onPath = which("toxiproxy-server");
  if (onPath && versionOf(onPath, ["-version"]).includes(TOXIPROXY_VERSION)) return onPath;
  return join(config.toolsDir, `toxiproxy-${TOXIPROXY_VERSION}`, "bin", "server");
}

/** A k6 the user brought: PATH's k6 at the pinned version, or null (fleetbench never builds or fetches k6). */
export function k6Binary(): string | null {
  const onPath = which("k6");
  return onPath && versionOf(onPath, ["version"]).includes(`v${K6_VERSION}`) ? onPath : null;
}

/** What PATH's k6 says it is, to name it when it is not the pinned version. */
export const k6OnPath = () => {
  const onPath = which("k6");
  return onPath ? { path: onPath, version: versionOf(onPath, ["version"]) } : null;
};

export const VEGETA_VERSION = versions.vegeta;

/**
 * The module version a Go binary was built from (`go version -m`), for a `go install` build,
 * whose own -version flag prints an empty version; null without Go or for another binary.
 */
function goModuleVersion(bin: string): string | null {
  if (!which("go")) return null;
  const m = /^\s*mod\s+\S+\s+v(\S+)/m.exec(versionOf("go", ["version", "-m", bin]));
  return m ? m[1] : null;
}

/** Where vegeta comes from: PATH when it is the pinned version (a release build says it; a go-install build's module says it), else the tools cache. */
export function vegetaBinary(config: Config): string {
  const onPath = which("vegeta");
  if (onPath && (versionOf(onPath, ["-version"]).includes(VEGETA_VERSION) || goModuleVersion(onPath) === VEGETA_VERSION)) return onPath;
  return join(config.toolsDir, `vegeta-${VEGETA_VERSION}`, "bin", "vegeta");
}

/** Where a tool came from, for a result's fingerprint: PATH, or the tools cache. */
export const toolSource = (config: Config, bin: string) => (bin.startsWith(config.toolsDir) ? "tools cache" : "PATH");

/** A tool fleetbench builds: where its binary lands, what its build needs, and the build's command. */
export interface Tool {
  name: string;
  version: string;
  binary: (config: Config) => string;
  needs: { command: string; hint: string }[];
  expected: string;
  /** A Rust tool: its crate, whose Cargo.lock counts the crates a build compiles. */
  crate?: string;
  /** The build's command; it writes its binary under `staging`/bin (GOBIN, or cargo's --root). */
  build: (config: Config, staging: string) => string[];
}

const TOOLS: Tool[] = [
  {
    name: "vegeta",
    version: VEGETA_VERSION,
    binary: vegetaBinary,
    needs: [{ command: "go", hint: "Go 1.22 or newer (https://go.dev/dl, or your package manager)" }],
    expected: "under a minute",
    build: () => ["go", "install", `github.com/tsenart/vegeta/v12@v${VEGETA_VERSION}`],
  },
  {
    name: "apollo-router",
    version: ROUTER_VERSION,
    binary: routerBinary,
    needs: [
      { command: "cargo", hint: "Rust 1.95 or newer (rustup)" },
      { command: "protoc", hint: "protoc (Debian/Ubuntu: apt-get install protobuf-compiler)" },
      { command: "cmake", hint: "cmake (Debian/Ubuntu: apt-get install cmake)" },
    ],
    expected: "about 20-45 minutes on 2 cores, once",
    crate: "apollo-router",
    build: (_config, staging) => ["cargo", "install", "apollo-router", "--version", ROUTER_VERSION, "--locked", "--root", staging],
  },
  {
    name: "hive-router",
    version: HIVE_ROUTER_VERSION,
    binary: hiveRouterBinary,
    needs: [{ command: "cargo", hint: "Rust (rustup; 1.95 builds it here)" }],
    expected: "about 30-40 minutes on 2 cores, once (measured here: 39)",
    crate: "hive-router",
    // Only the router binary (the crate also ships a config-schema generator nobody runs here).
    // Its lock file's ntex 4 crates declare rust-version 1.97, newer than stable Rust here (1.95),
    // which compiles them all the same: the declaration is ignored, the locked versions are kept.
    // The `graphiql` feature: the browser IDE page is a static GraphiQL page instead of the
    // Laboratory, whose npm package (@graphql-hive/laboratory 0.3.1) the build script would
    // `npm install` and the npm registry here does not have. The page is off in
    // compose/hive-router.yaml either way; nothing a request does changes.
    build: (_config, staging) => ["cargo", "install", "hive-router", "--version", HIVE_ROUTER_VERSION, "--locked", "--ignore-rust-version", "--features", "graphiql", "--bin", "hive_router", "--root", staging],
  },
  {
    name: "toxiproxy",
    version: TOXIPROXY_VERSION,
    binary: toxiproxyBinary,
    needs: [{ command: "go", hint: "Go 1.24 or newer (https://go.dev/dl, or your package manager)" }],
    expected: "under a minute",
    build: () => ["go", "install", `github.com/Shopify/toxiproxy/v2/cmd/server@v${TOXIPROXY_VERSION}`],
  },
];

/** The tool of that name in the table, or an error naming the tools there are. */
export function toolNamed(name: string): Tool {
  const tool = TOOLS.find((t) => t.name === name);
  if (!tool) throw new Error(`unknown tool ${name}: tools are ${TOOLS.map((t) => t.name).join(", ")}`);
  return tool;
}

/**
 * Builds each named tool (all by default) unless it is already there. The builds run side by side
 * (each owns its folders and lock): two Rust builds on 2 cores take about as much CPU either way,
 * but one's single-threaded stretches (a large crate's last compile, the link) overlap the other's
 * parallel ones, so both end sooner than one after the other.
 */
export async function ensureTools(config: Config, names: string[] = [], log: (line: string) => void = console.log) {
  const wanted = names.length ? TOOLS.filter((t) => names.includes(t.name)) : TOOLS;
  const unknown = names.filter((n) => !TOOLS.some((t) => t.name === n));
  if (unknown.length) throw new Error(`unknown tool ${unknown.join(", ")}: tools are ${TOOLS.map((t) => t.name).join(", ")}`);
  const results = await Promise.allSettled(wanted.map(async (tool) => {
    const background = runningBuild(config, tool.name);
    // This process is the background build itself when its pid is the recorded one.
    if (background && background.pid !== process.pid && !existsSync(tool.binary(config))) await awaitBackgroundBuild(config, tool, background, log);
    await buildTool(config, tool, log);
  }));
  // Every build was let finish; the first failure is the one reported.
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** What one build of `tool` owns in the tools cache, beside the tool's final folder. */
function buildPaths(config: Config, tool: Tool) {
  const finalDir = join(config.toolsDir, `${tool.name}-${tool.version}`);
  return {
    finalDir,
    staging: `${finalDir}.partial`,
    // Cargo's target folder, this tool's alone: cleaning it after the build touches no other build.
    target: `${finalDir}.target`,
    lock: `${finalDir}.lock`,
  };
}

/**
 * Takes the build lock of one tool: a file holding the builder's pid, created whole by a hard link
 * (so no one ever reads it half-written). While a live process holds it, waits; a lock left by a
 * process that died is taken over.
 */
async function lockBuild(lock: string, tool: Tool, log: (line: string) => void) {
  const mine = `${lock}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`);
  let said = false;
  try {
    for (;;) {
      try {
        linkSync(mine, lock);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      let holder = 0;
      try {
        holder = Number(readFileSync(lock, "utf8").trim());
      } catch {}
      if (!holder || !isAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (!said) log(`${tool.name} ${tool.version} is being built by process ${holder}; waiting for that build (Ctrl-C leaves it running)`);
      said = true;
      await sleep(500);
    }
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Releases the lock if this process holds it. */
function unlockBuild(lock: string) {
  try {
    if (Number(readFileSync(lock, "utf8").trim()) === process.pid) rmSync(lock, { force: true });
  } catch {}
}

/**
 * Builds one tool unless it is there. One build of a tool at a time (a second one waits for the
 * first and then finds the tool); each build owns its staging and target folders and cleans only
 * those, so building one tool never disturbs another's build.
 */
export async function buildTool(config: Config, tool: Tool, log: (line: string) => void = console.log) {
  const bin = tool.binary(config);
  if (existsSync(bin)) return void log(`${tool.name} ${tool.version}: ${bin}`);
  const missing = tool.needs.filter((n) => !which(n.command));
  if (missing.length) {
    throw new Error(`cannot build ${tool.name} ${tool.version}: missing ${missing.map((m) => m.hint).join("; ")}`);
  }
  const { finalDir, staging, target, lock } = buildPaths(config, tool);
  mkdirSync(config.toolsDir, { recursive: true });
  await lockBuild(lock, tool, log);
  try {
    // The build waited for may have made it.
    if (existsSync(bin)) return void log(`${tool.name} ${tool.version}: ${bin}`);
    // Build into a staging folder and move it into place whole, so an interrupted build never
    // leaves a half-written tool that looks finished.
    mkdirSync(join(staging, "bin"), { recursive: true });
    log(`building ${tool.name} ${tool.version} into ${finalDir} (${tool.expected}); its build output follows`);
    const t0 = Date.now();
    const child = spawn(tool.build(config, staging), {
      env: { ...process.env, GOBIN: join(staging, "bin"), CARGO_TARGET_DIR: target },
      stdout: "inherit",
      stderr: "pipe",
    });
    // The build's own output passes through; its "Compiling" lines also count the progress.
    let seen = "";
    const relay = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr as ReadableStream<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        process.stderr.write(text);
        seen += text.replace(/^(?!\s*Compiling ).*$/gm, "");
      }
    })();
    const ticker = setInterval(() => log(buildProgress(config, tool.name, t0, seen)), 60_000);
    const code = await child.exited;
    clearInterval(ticker);
    await relay;
    if (code !== 0) throw new Error(`building ${tool.name} ${tool.version} failed (exit ${code}); the output above says why`);
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(staging, finalDir);
    // The target folder is kept only so an interrupted build resumes; once built it is gigabytes of nothing.
    rmSync(target, { recursive: true, force: true });
    log(`built ${tool.name} ${tool.version} in ${((Date.now() - t0) / 60000).toFixed(1)} min: ${bin}`);
  } finally {
    unlockBuild(lock);
  }
}
