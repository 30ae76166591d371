/**
 * The one entry of fleetbench: every process role and every command starts here, so the
 * supervisor, compose and the tests start things the same way.
 *
 *   bun src/main.ts <role> [--orchestration]   run a role (robot-service, yoga-gateway, ...)
 *   bun src/main.ts <command> [args]           run a command (see src/cli.ts)
 */
import { COMMANDS, UsageError } from "./cli";
import { ConfigError, loadConfig } from "./config";
import { ROLES, serveRole } from "./roles";

const [name, ...args] = process.argv.slice(2);
try {
  const config = loadConfig();
  if (name && ROLES.includes(name)) {
    await serveRole(name, args, config);
  } else if (name && COMMANDS[name]) {
    await COMMANDS[name](config, args);
  } else {
    throw new UsageError(`unknown role or command "${name ?? ""}": roles are ${ROLES.join(", ")}; commands are ${Object.keys(COMMANDS).join(", ")}`);
  }
} catch (error) {
  const known = error instanceof ConfigError || error instanceof UsageError;
  console.error(`fleetbench: ${known ? (error as Error).message : ((error as Error)?.stack ?? String(error))}`);
  process.exit(known ? 2 : 1);
}
