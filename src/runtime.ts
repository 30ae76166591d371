/**
 * What differs between Bun and Deno, in one place (docs/design.md §16): serving a fetch handler, starting
 * processes, finding a program, sleeping, and the command line that runs a role on either
 * runtime. Everything else is written against web-standard Request/Response and `node:` modules,
 * which both runtimes provide.
 *
 * On Bun these are Bun's own calls, exactly as before the adapter existed: the adapter adds no
 * work on a measured process's request path. On Deno, serving is `Deno.serve` and processes come
 * from `node:child_process` (Deno's `Deno.Command` cannot hand a child a file descriptor, which the
 * supervisor needs for the logs of detached processes).
 */
import { spawn as nodeSpawn, spawnSync as nodeSpawnSync } from "node:child_process";
import { accessSync, constants, existsSync, realpathSync } from "node:fs";
import { delimiter, join, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import pinned from "./versions.json" with { type: "json" };

// Deno's global, typed here for the Bun type check; at run time it exists only under Deno.
declare const Deno: {
  version: { deno: string };
  serve(options: { port: number; hostname: string; onListen?: (addr: { hostname: string; port: number }) => void; handler: (request: Request) => Response | Promise<Response> }): { addr: { hostname: string; port: number }; shutdown(): Promise<void> };
};

export const RUNTIMES = ["bun", "deno"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** The runtime this process runs on. */
export const RUNTIME: RuntimeName = typeof Bun !== "undefined" ? "bun" : "deno";
/** Its version (`bun --version` / `deno --version`'s first number). */
export const RUNTIME_VERSION: string = RUNTIME === "bun" ? Bun.version : Deno.version.deno;

const ROOT = resolve(import.meta.dirname, "..");

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export function sleepSync(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The absolute path of `command` on PATH, or null. */
export function which(command: string): string | null {
  if (RUNTIME === "bun") return Bun.which(command);
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Serving

export interface Served {
  hostname: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Serves `fetch` on host:port. A body above `maxRequestBodySize` is answered 413 on both runtimes:
 * Bun does it itself; on Deno the declared length is checked before the handler, and a body sent
 * without a length (chunked) is read up to the limit first: 413 beyond it, else handed on whole.
 */
export async function serve(options: { port: number; hostname: string; fetch: (request: Request) => Response | Promise<Response>; maxRequestBodySize: number }): Promise<Served> {
  if (RUNTIME === "bun") {
    const server = Bun.serve({
      port: options.port,
      hostname: options.hostname,
      fetch: options.fetch,
      // Large fleets make large answers and long fan-outs; the client's timeout governs, not Bun's.
      idleTimeout: 0,
      maxRequestBodySize: options.maxRequestBodySize,
    });
    return { hostname: server.hostname ?? options.hostname, port: server.port ?? options.port, stop: () => server.stop() };
  }
  const limit = options.maxRequestBodySize;
  const handler = async (request: Request) => {
    if (!request.body) return options.fetch(request);
    const declared = request.headers.get("content-length");
    if (declared !== null) return Number(declared) > limit ? tooLarge() : options.fetch(request);
    const body = await readUpTo(request.body, limit);
    return body ? options.fetch(new Request(request, { body })) : tooLarge();
  };
  // Deno.serve binds before it returns (a taken port throws here); onListen only silences its own line.
  const server = Deno.serve({ port: options.port, hostname: options.hostname, onListen: () => {}, handler });
  return { hostname: server.addr.hostname, port: server.addr.port, stop: () => server.shutdown() };
}

const tooLarge = () => new Response(null, { status: 413, headers: { connection: "close" } });

/** The whole body, or null as soon as it passes `limit` bytes (the rest is not read). */
async function readUpTo(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array<ArrayBuffer> | null> {
  const chunks: Uint8Array[] = [];
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.byteLength;
    if (seen > limit) return null;
    chunks.push(chunk);
  }
  const whole = new Uint8Array(seen);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.byteLength;
  }
  return whole;
}

// ---------------------------------------------------------------------------------------------
// Processes

type Stdio = "ignore" | "inherit" | "pipe" | number;

export interface SpawnOptions {
  cwd?: string;
  /** The child's whole environment (nothing else of this process's reaches it). */
  env?: Record<string, string | undefined>;
  stdin?: "ignore" | "inherit";
  stdout?: Stdio;
  stderr?: Stdio;
  /** Its own session and process group, so it outlives the parent and can be signalled as a group. */
  detached?: boolean;
}

export interface Child {
  pid: number;
  /** Its exit code (128 + the signal's number when a signal ended it). */
  exited: Promise<number>;
  stdout: ReadableStream<Uint8Array> | null;
  stderr: ReadableStream<Uint8Array> | null;
  kill(signal?: NodeJS.Signals): void;
  unref(): void;
  /**
   * CPU the OS counted for the ended child (Bun); null where the runtime cannot say (Deno). Not its
   * peak memory: Linux carries the spawning process's peak RSS across exec, so getrusage gives a
   * child started from a 300 MiB process 300 MiB whatever it used itself (measured here).
   */
  resourceUsage(): { cpuMicros: number } | null;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

export function spawn(command: string[], options: SpawnOptions = {}): Child {
  if (RUNTIME === "bun") {
    const io = (s: Stdio | undefined) => s ?? "ignore";
    const child = Bun.spawn(command, {
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin ?? "ignore",
      stdout: io(options.stdout),
      stderr: io(options.stderr),
      detached: options.detached,
    });
    return {
      pid: child.pid,
      exited: child.exited,
      stdout: options.stdout === "pipe" ? (child.stdout as ReadableStream<Uint8Array>) : null,
      stderr: options.stderr === "pipe" ? (child.stderr as ReadableStream<Uint8Array>) : null,
      kill: (signal) => child.kill(signal),
      unref: () => child.unref(),
      resourceUsage() {
        const ru = child.resourceUsage();
        return ru ? { cpuMicros: Number(ru.cpuTime.user + ru.cpuTime.system) } : null;
      },
    };
  }
  if (!command[0].includes("/") && !which(command[0])) throw new Error(`${command[0]}: not found on PATH`);
  if (command[0].includes("/") && !existsSync(command[0])) throw new Error(`${command[0]}: no such file`);
  const child = nodeSpawn(command[0], command.slice(1), {
    cwd: options.cwd,
    env: options.env as NodeJS.ProcessEnv | undefined,
    stdio: [options.stdin ?? "ignore", options.stdout ?? "ignore", options.stderr ?? "ignore"],
    detached: options.detached,
  });
  const exited = new Promise<number>((done) => {
    child.on("exit", (code, signal) => done(code ?? 128 + (signal ? SIGNALS[signal] ?? 0 : 0)));
    child.on("error", () => done(127));
  });
  const web = (s: Readable | null) => (s ? (Readable.toWeb(s) as unknown as ReadableStream<Uint8Array>) : null);
  return {
    pid: child.pid!,
    exited,
    stdout: options.stdout === "pipe" ? web(child.stdout) : null,
    stderr: options.stderr === "pipe" ? web(child.stderr) : null,
    kill: (signal) => void child.kill(signal),
    unref: () => child.unref(),
    resourceUsage: () => null,
  };
}

export interface SpawnSyncResult {
  /** null when the timeout ended it or it could not start. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` to its end and returns its output as text. */
export function spawnSync(command: string[], options: { cwd?: string; env?: Record<string, string | undefined>; timeout?: number; input?: string } = {}): SpawnSyncResult {
  if (RUNTIME === "bun") {
    const stdin = options.input === undefined ? "ignore" : new TextEncoder().encode(options.input);
    const result = Bun.spawnSync(command, { cwd: options.cwd, env: options.env, stdin, stdout: "pipe", stderr: "pipe", timeout: options.timeout });
    return { exitCode: result.exitCode, stdout: result.stdout?.toString() ?? "", stderr: result.stderr?.toString() ?? "" };
  }
  const result = nodeSpawnSync(command[0], command.slice(1), { cwd: options.cwd, env: options.env as NodeJS.ProcessEnv | undefined, timeout: options.timeout, input: options.input, stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  return { exitCode: result.error ? null : result.status, stdout: result.stdout?.toString() ?? "", stderr: result.stderr?.toString() ?? (result.error ? String(result.error.message) : "") };
}

// ---------------------------------------------------------------------------------------------
// Running a role

/**
 * The Deno flags every fleetbench process runs with, and deno.json's settings: npm packages from
 * node_modules, extensionless imports, and `no-legacy-abort` — a request's signal aborts when the
 * client goes away, as on Bun, not after every successful response (Deno's old default, which
 * runs Yoga's and Hive Gateway's abort listeners once per request, work Bun never does).
 */
const denoArgs = () => ["run", "--allow-all", "--config", join(ROOT, "deno.json")];

/** The version `bin --version` prints (its first x.y.z), or null when it does not run. */
function versionOf(bin: string): string | null {
  const said = spawnSync([bin, "--version"], { timeout: 10_000 });
  return said.exitCode === 0 ? (/\d+\.\d+\.\d+/.exec(said.stdout)?.[0] ?? null) : null;
}

const binaries = new Map<RuntimeName, string | null>();

/**
 * The executable of a runtime: this process's own when it is that runtime; else PATH's when it is
 * the pinned version (src/versions.json: the Nix shell's, as the justfile chooses Bun); else the
 * one npm installed; else PATH's, whatever its version.
 */
export function runtimeBinary(runtime: RuntimeName): string | null {
  if (runtime === RUNTIME) return process.execPath;
  if (!binaries.has(runtime)) {
    const onPath = which(runtime);
    const installed = join(ROOT, "node_modules", ".bin", runtime);
    if (onPath && versionOf(onPath) === pinned[runtime]) binaries.set(runtime, onPath);
    else binaries.set(runtime, existsSync(installed) ? installed : onPath);
  }
  return binaries.get(runtime)!;
}

/** Where a runtime's executable came from: npm's (node_modules), PATH's, or another (named by its path). */
export type ToolSource = "npm" | "PATH" | "other";

/**
 * For bun and deno: the executable this process runs (or would start), where it came from and its
 * version; null for one not installed. For a result's fingerprint: Bun from the Nix shell's PATH
 * and Bun from npm are the same version but not the same build.
 */
export function toolSources(): Record<RuntimeName, { path: string; source: ToolSource; version: string | null } | null> {
  const real = (path: string | null) => {
    try {
      return path ? realpathSync(path) : null;
    } catch {
      return null;
    }
  };
  const describe = (runtime: RuntimeName) => {
    const path = real(runtimeBinary(runtime));
    if (!path) return null;
    // npx and npm scripts put node_modules/.bin on PATH: the binary's real place decides, not how it was found.
    const source: ToolSource = path.startsWith(`${real(join(ROOT, "node_modules"))}${sep}`) ? "npm" : path === real(which(runtime)) ? "PATH" : "other";
    return { path, source, version: runtimeVersion(runtime) };
  };
  return { bun: describe("bun"), deno: describe("deno") };
}

/** The command line that runs `src/main.ts` with `args` on `runtime`; an error naming the runtime when it is not installed. */
export function mainCommand(runtime: RuntimeName, args: string[], who = "fleetbench"): string[] {
  const bin = runtimeBinary(runtime);
  if (!bin) throw new Error(`${who} cannot start on ${runtime}: no ${runtime} executable (node_modules/.bin/${runtime} or PATH); \`npm install\` installs both runtimes`);
  return runtime === "bun" ? [bin, join(ROOT, "src", "main.ts"), ...args] : [bin, ...denoArgs(), join(ROOT, "src", "main.ts"), ...args];
}

const versions = new Map<RuntimeName, string | null>();

/** A runtime's version: this process's own, or what its executable says (null when it is not installed). */
export function runtimeVersion(runtime: RuntimeName): string | null {
  if (runtime === RUNTIME) return RUNTIME_VERSION;
  if (!versions.has(runtime)) {
    const bin = runtimeBinary(runtime);
    versions.set(runtime, bin ? versionOf(bin) : null);
  }
  return versions.get(runtime)!;
}
