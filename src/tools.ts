/**
 * The tools fleetbench builds once into a cache outside the repository, pinned by version
 * (src/versions.json): k6 from its Go module, Apollo Router from its crate. A tool already on
 * PATH at the pinned version (a Nix shell) is used as it is.
 *
 *   bun src/main.ts tools [k6|apollo-router]...
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config";
import { routerBinary, ROUTER_VERSION } from "./router";
import versions from "./versions.json";

export const K6_VERSION = versions.k6;

function versionOf(bin: string, args: string[]): string {
  const result = Bun.spawnSync([bin, ...args], { stdout: "pipe", stderr: "pipe" });
  return result.exitCode === 0 ? result.stdout.toString().trim() : "";
}

/** The k6 binary: PATH when it is the pinned version, else the tools cache. */
export function k6Binary(config: Config): string {
  const onPath = Bun.which("k6");
  if (onPath && versionOf(onPath, ["version"]).includes(`v${K6_VERSION}`)) return onPath;
  return join(config.toolsDir, `k6-${K6_VERSION}`, "bin", "k6");
}

interface Tool {
  name: string;
  version: string;
  binary: (config: Config) => string;
  needs: { command: string; hint: string }[];
  expected: string;
  build: (config: Config, staging: string) => string[];
}

const TOOLS: Tool[] = [
  {
    name: "k6",
    version: K6_VERSION,
    binary: k6Binary,
    needs: [{ command: "go", hint: "Go 1.24 or newer (https://go.dev/dl, or your package manager)" }],
    expected: "about 2-4 minutes",
    build: (_config, staging) => ["go", "install", `go.k6.io/k6@v${K6_VERSION}`],
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
    expected: "about 30-45 minutes on 2 cores, once",
    build: (_config, staging) => ["cargo", "install", "apollo-router", "--version", ROUTER_VERSION, "--locked", "--root", staging],
  },
];

/** Builds each named tool (all by default) unless it is already there. */
export async function ensureTools(config: Config, names: string[] = [], log: (line: string) => void = console.log) {
  const wanted = names.length ? TOOLS.filter((t) => names.includes(t.name)) : TOOLS;
  const unknown = names.filter((n) => !TOOLS.some((t) => t.name === n));
  if (unknown.length) throw new Error(`unknown tool ${unknown.join(", ")}: tools are ${TOOLS.map((t) => t.name).join(", ")}`);
  for (const tool of wanted) {
    const bin = tool.binary(config);
    if (existsSync(bin)) {
      log(`${tool.name} ${tool.version}: ${bin}`);
      continue;
    }
    const missing = tool.needs.filter((n) => !Bun.which(n.command));
    if (missing.length) {
      throw new Error(`cannot build ${tool.name} ${tool.version}: missing ${missing.map((m) => m.hint).join("; ")}`);
    }
    // Build into a staging folder and move it into place whole, so an interrupted build never
    // leaves a half-written tool that looks finished.
    const finalDir = join(config.toolsDir, `${tool.name}-${tool.version}`);
    const staging = `${finalDir}.partial`;
    mkdirSync(join(staging, "bin"), { recursive: true });
    log(`building ${tool.name} ${tool.version} into ${finalDir} (${tool.expected}); its build output follows`);
    const t0 = performance.now();
    const child = Bun.spawn(tool.build(config, staging), {
      env: { ...process.env, GOBIN: join(staging, "bin"), CARGO_TARGET_DIR: join(config.toolsDir, "cargo-target") },
      stdout: "inherit",
      stderr: "inherit",
    });
    const code = await child.exited;
    if (code !== 0) throw new Error(`building ${tool.name} ${tool.version} failed (exit ${code}); the output above says why`);
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(staging, finalDir);
    // The target folder is kept only so an interrupted build resumes; once built it is gigabytes of nothing.
    rmSync(join(config.toolsDir, "cargo-target"), { recursive: true, force: true });
    log(`built ${tool.name} ${tool.version} in ${((performance.now() - t0) / 60000).toFixed(1)} min: ${bin}`);
  }
}
