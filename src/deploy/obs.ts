/**
 * Observability on this machine (docs/design.md §9): Prometheus from PATH on 127.0.0.1:19090, scraping
 * every process of every case (src/deploy/prometheus.ts) and the load engine's exporter while a run
 * lasts (the remote-write receiver stays on for a user-brought k6), and
 * Grafana on :13000 when its binary is on PATH, provisioned from grafana/ exactly as in compose.
 * Data, configuration and logs live under the state folder; `down` stops only what `up` started.
 *
 *   bun src/main.ts obs up | down | status
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { isAlive, portOwner, waitForHealth } from "../run/ports";
import { prometheusUrl, prometheusYaml, scrapeTargets } from "./prometheus";
import { sleep, spawn, which } from "../runtime";

const ROOT = resolve(import.meta.dirname, "..", "..");
type Log = (line: string) => void;

interface Daemon {
  name: "prometheus" | "grafana";
  dir: string;
  pidFile: string;
  logFile: string;
}

const daemon = (config: Config, name: Daemon["name"]): Daemon => {
  const dir = join(config.stateDir, "obs", name);
  return { name, dir, pidFile: join(dir, "pid"), logFile: join(dir, `${name}.log`) };
};

/** The pid in the daemon's pid file, if that process still runs and is the daemon (never a reused pid). */
function daemonPid(d: Daemon): number | null {
  if (!existsSync(d.pidFile)) return null;
  const pid = Number(readFileSync(d.pidFile, "utf8"));
  if (!Number.isInteger(pid) || !isAlive(pid)) return null;
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      return "";
    }
  })();
  return cmdline.includes(d.name) ? pid : null;
}

/** The pid of the Prometheus `obs up` started, if it runs. */
export const prometheusPid = (config: Config) => daemonPid(daemon(config, "prometheus"));

const tail = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").trimEnd().split("\n").slice(-15).join("\n") : "(no log)");

/** Starts a daemon detached (so `obs up` returns), its output in its log, then polls `readyUrl`. */
async function start(d: Daemon, command: string[], env: Record<string, string>, readyUrl: string, port: number) {
  const owner = await portOwner(port);
  if (owner) throw new Error(`port ${port} (${d.name}) is already in use by ${owner}: stop it, or move ${d.name} with FLEET_${d.name.toUpperCase()}_PORT`);
  mkdirSync(d.dir, { recursive: true });
  const fd = openSync(d.logFile, "a");
  const child = spawn(command, { cwd: d.dir, env: { ...process.env, ...env }, stdin: "ignore", stdout: fd, stderr: fd, detached: true });
  closeSync(fd);
  child.unref();
  writeFileSync(d.pidFile, String(child.pid));
  try {
    await waitForHealth(readyUrl, 60_000, () => isAlive(child.pid));
  } catch (error) {
    await stop(d, () => {});
    throw new Error(`${d.name} did not become ready: ${(error as Error).message}\n--- last lines of ${d.logFile} ---\n${tail(d.logFile)}`);
  }
}

/** SIGTERM to the daemon's process group, SIGKILL after 10 s. Returns whether one was running. */
async function stop(d: Daemon, log: Log): Promise<boolean> {
  const pid = daemonPid(d);
  rmSync(d.pidFile, { force: true });
  if (!pid) return false;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + 10_000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(25);
  if (isAlive(pid)) signal("SIGKILL");
  while (isAlive(pid)) await sleep(10);
  log(`stopped ${d.name} (pid ${pid})`);
  return true;
}

/** Grafana's binary and command on PATH (`grafana server`, or the older `grafana-server`), with its home folder. */
function grafanaCommand(): { command: string[]; home: string } | null {
  const modern = which("grafana");
  const legacy = which("grafana-server");
  const bin = modern ?? legacy;
  if (!bin) return null;
  // The home holds conf/defaults.ini and the web assets: beside the binary (Nix), or the Debian package's.
  const homes = [join(dirname(realpathSync(bin)), "..", "share", "grafana"), "/usr/share/grafana"];
  const home = homes.find((h) => existsSync(join(h, "conf", "defaults.ini")));
  if (!home) throw new UsageError(`Grafana found at ${bin}, but not its home folder (conf/defaults.ini) in ${homes.join(" or ")}`);
  return { command: modern ? [modern, "server", "--homepath", home] : [legacy!, "--homepath", home], home };
}

/**
 * Grafana's environment: the provisioning in grafana/ reads PROMETHEUS_URL and DASHBOARDS_DIR,
 * which compose sets to its own values (compose/base.yml), so both run the same provisioning.
 */
export function grafanaEnv(config: Config, dataDir: string): Record<string, string> {
  return {
    GF_PATHS_PROVISIONING: join(ROOT, "grafana", "provisioning"),
    GF_PATHS_DATA: dataDir,
    GF_PATHS_LOGS: join(dataDir, "logs"),
    GF_PATHS_PLUGINS: join(dataDir, "plugins"),
    GF_SERVER_HTTP_ADDR: "127.0.0.1",
    GF_SERVER_HTTP_PORT: String(config.ports.grafana),
    GF_AUTH_ANONYMOUS_ENABLED: "true",
    GF_AUTH_ANONYMOUS_ORG_ROLE: "Viewer",
    GF_ANALYTICS_REPORTING_ENABLED: "false",
    GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
    PROMETHEUS_URL: prometheusUrl(config),
    DASHBOARDS_DIR: join(ROOT, "grafana", "dashboards"),
  };
}

/** Starts Prometheus (and Grafana when it is on PATH); a running Prometheus reloads its configuration. */
export async function obsUp(config: Config, log: Log = console.log) {
  const bin = which("prometheus");
  if (!bin) {
    throw new UsageError("Prometheus not found on PATH: install it (Debian/Ubuntu: apt-get install prometheus), use `nix develop`, or run the compose stack (`just compose case2 up`)");
  }
  const prom = daemon(config, "prometheus");
  mkdirSync(prom.dir, { recursive: true });
  const configFile = join(prom.dir, "prometheus.yml");
  writeFileSync(configFile, prometheusYaml(config, "native"));
  const running = daemonPid(prom);
  if (running) {
    process.kill(running, "SIGHUP"); // Prometheus rereads its configuration on SIGHUP
    log(`Prometheus already running (pid ${running}): configuration regenerated and reloaded`);
  } else {
    await start(prom, [bin, `--config.file=${configFile}`, `--storage.tsdb.path=${join(prom.dir, "data")}`,
      `--web.listen-address=127.0.0.1:${config.ports.prometheus}`, "--web.enable-remote-write-receiver"], {},
      `${prometheusUrl(config)}/-/ready`, config.ports.prometheus);
    // Ready comes before the scrape manager has loaded the targets: wait for them too, so
    // whatever follows `up` (a status, a test) sees every target.
    const expected = scrapeTargets(config, "native").length;
    const deadline = Date.now() + 30_000;
    while ((await targets(config)).length < expected) {
      if (Date.now() > deadline) throw new Error(`Prometheus is ready but has not loaded its ${expected} targets after 30 s: see ${prom.logFile}`);
      await sleep(100);
    }
    log(`Prometheus ready: ${prometheusUrl(config)} (config ${configFile}, log ${prom.logFile})`);
  }

  const graf = daemon(config, "grafana");
  const grafana = grafanaCommand();
  if (!grafana) {
    log("Grafana not found on PATH (grafana or grafana-server): Prometheus runs without it. For the dashboards use `nix develop` (it has Grafana) or the compose stack (`just compose case2 up`); the report needs neither");
  } else if (daemonPid(graf)) {
    log(`Grafana already running: http://127.0.0.1:${config.ports.grafana}`);
  } else {
    await start(graf, grafana.command, grafanaEnv(config, join(graf.dir, "data")), `http://127.0.0.1:${config.ports.grafana}/api/health`, config.ports.grafana);
    log(`Grafana ready: http://127.0.0.1:${config.ports.grafana} (dashboards under "fleetbench", log ${graf.logFile})`);
  }
}

/** Stops what `obs up` started. */
export async function obsDown(config: Config, log: Log = console.log) {
  const stopped = [await stop(daemon(config, "grafana"), log), await stop(daemon(config, "prometheus"), log)];
  if (!stopped.some(Boolean)) log("neither Prometheus nor Grafana was running");
}

/** Prometheus' own view of its targets (its JSON API, not its web page). */
export async function targets(config: Config): Promise<{ scrapeUrl: string; health: string; lastError: string }[]> {
  const response = await fetch(`${prometheusUrl(config)}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`Prometheus /api/v1/targets answered ${response.status}`);
  return (await response.json()).data.activeTargets;
}

export async function obsStatus(config: Config, log: Log = console.log) {
  const pid = prometheusPid(config);
  if (!pid) log(`Prometheus not running (\`just obs up\` starts it)`);
  else {
    log(`Prometheus running, pid ${pid}: ${prometheusUrl(config)}`);
    for (const t of await targets(config)) log(`  ${t.scrapeUrl.padEnd(32)} ${t.health}${t.lastError ? ` (${t.lastError})` : ""}`);
  }
  const grafana = daemonPid(daemon(config, "grafana"));
  log(grafana ? `Grafana running, pid ${grafana}: http://127.0.0.1:${config.ports.grafana}` : "Grafana not running");
}
