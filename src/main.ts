/**
 * The one entry of fleetbench: every process role and every command starts here, so the
 * supervisor, compose and the tests start things the same way.
 *
 *   bun src/main.ts <role> [--orchestration]   run a role (robot-service, yoga-gateway, ...)
 *   bun src/main.ts <command> [args]           run a command (see src/cli/cli.ts; `just RECIPE` runs them)
 *   bun src/main.ts [<command> ...] --help | --version
 */
import { ConfigError, loadConfig } from "./config";
import { RefusedError, UsageError } from "./errors";
import { ROLES, serveRole } from "./roles";

const [name, ...args] = process.argv.slice(2);
// Commands load lazily: a role process never carries the CLI's modules (k6 runner, report).
const cli = name && ROLES.includes(name) ? null : await import("./cli/cli");
// `--version`, or `COMMAND --help` (anywhere among its arguments; the recipes put the case first), or no command at all.
const asked = (...flags: string[]) => name !== undefined && (flags.includes(name) || args.some((a) => flags.includes(a)));
if (cli && asked("--version")) {
  console.log(cli.versionText());
  process.exit(0);
}
if (cli && (!name || asked("--help", "-h"))) {
  const { helpFor } = await import("./cli/help");
  const { text, known } = helpFor(name && !name.startsWith("-") ? name : undefined, args);
  console.log(text);
  process.exit(known || name === "--help" || name === "-h" ? 0 : 2);
}
// --hop-latency D, on any command, is FLEET_HOP_LATENCY for this process and every process it starts.
for (let i = args.findIndex((a) => a === "--hop-latency" || a.startsWith("--hop-latency=")); i >= 0; i = args.findIndex((a) => a === "--hop-latency" || a.startsWith("--hop-latency="))) {
  const [flag] = args.splice(i, 1);
  process.env.FLEET_HOP_LATENCY = flag.includes("=") ? flag.slice(flag.indexOf("=") + 1) : (args.splice(i, 1)[0] ?? "(nothing)");
}
// --engine vegeta|k6, on any command, is FLEET_ENGINE for this process (docs/design.md §22).
for (let i = args.findIndex((a) => a === "--engine" || a.startsWith("--engine=")); cli && i >= 0; i = args.findIndex((a) => a === "--engine" || a.startsWith("--engine="))) {
  const [flag] = args.splice(i, 1);
  process.env.FLEET_ENGINE = flag.includes("=") ? flag.slice(flag.indexOf("=") + 1) : (args.splice(i, 1)[0] ?? "(nothing)");
}
try {
  const config = loadConfig();
  if (name && !cli) {
    await serveRole(name, args, config);
  } else if (name && cli?.COMMANDS[name]) {
    // No engine, no start: a measuring command says so in one line before it starts anything.
    await cli.engineFirst(config, name, args);
    await cli.COMMANDS[name](config, args);
  } else {
    throw new UsageError(`unknown role or command "${name ?? ""}": roles are ${ROLES.join(", ")}; commands are ${Object.keys(cli!.COMMANDS).join(", ")}`);
  }
} catch (caught) {
  let error = caught;
  // A file that cannot be read (named on the command line, or one it names) is the user's to fix: one line, exit 2.
  const fsError = (error as NodeJS.ErrnoException)?.syscall && /^(open|read|stat|lstat|scandir|access)$/.test((error as NodeJS.ErrnoException).syscall!) && (error as NodeJS.ErrnoException).path;
  if (fsError) error = new UsageError(`cannot read ${(error as NodeJS.ErrnoException).path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as NodeJS.ErrnoException).code}`);
  const known = error instanceof ConfigError || error instanceof UsageError || error instanceof RefusedError;
  // One line saying what went wrong and what to do; the stack only when asked for (FLEET_DEBUG=1).
  const message = (error as Error)?.message ?? String(error);
  console.error(`fleetbench: ${known || process.env.FLEET_DEBUG !== "1" ? message : ((error as Error)?.stack ?? message)}`);
  process.exit(error instanceof RefusedError ? 3 : known ? 2 : 1);
}
