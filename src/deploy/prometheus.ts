/**
 * Prometheus for fleetbench (DESIGN §9): the scrape configuration, generated from the case table
 * so it can never miss a process, the load generator's exporter (vegeta's, scraped while a
 * measured run lasts), and what a user-brought k6 needs to push its metrics by remote write.
 *
 *   bun src/main.ts obs config             print the native configuration (127.0.0.1 targets)
 *   bun src/main.ts obs config --compose   write compose/prometheus.yml (targets by service name)
 */
import { type ProcessSpec, TARGETS } from "../run/cases";
import type { Config } from "../config";
import { stringifyYaml } from "../run/yaml";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Seconds between scrapes; short, so a 30 s run shows a curve. Grafana's datasource says the same. */
export const SCRAPE_INTERVAL = "5s";
/** Grafana's $__rate_interval for that scrape interval at the default zoom: four scrapes. */
export const RATE_INTERVAL = "20s";
/** What k6 pushes besides counters: the percentiles the k6 dashboard draws. */
export const TREND_STATS = "p(50),p(95),p(99)";

export interface ScrapeTarget {
  /** host:port Prometheus scrapes. */
  address: string;
  /** The processes that can answer there, each with its case (one port serves a process per case). */
  processes: { name: string; case: string }[];
}

/**
 * Every process of every target of the table (each case through each of its gateways), so all are
 * scraped; NGINX serves no metrics (no exporter of its own: the robot service behind it counts its
 * calls), so it is not a target.
 */
function everyProcess(mode: "native" | "compose"): { spec: ProcessSpec; case: string }[] {
  return TARGETS.filter((t) => mode === "native" || t.compose).flatMap((t) => t.processes.filter((p) => p.metrics !== false).map((p) => ({ spec: p, case: t.case })));
}

/**
 * The targets: natively one per port (processes of different cases share ports and never run
 * together), in compose one per service (each process is its own container, scraped by name).
 */
export function scrapeTargets(config: Config, mode: "native" | "compose"): ScrapeTarget[] {
  const byAddress = new Map<string, ScrapeTarget>();
  // Compose runs only the targets it has files for (Hive Gateway is native only).
  for (const { spec, case: caseName } of everyProcess(mode)) {
    const address = mode === "native" ? `127.0.0.1:${spec.port(config)}` : `${spec.name}:${spec.port(config)}`;
    const target = byAddress.get(address) ?? { address, processes: [] };
    if (!target.processes.some((p) => p.name === spec.name && p.case === caseName)) target.processes.push({ name: spec.name, case: caseName });
    byAddress.set(address, target);
  }
  return [...byAddress.values()].sort((a, b) => a.address.localeCompare(b.address));
}

/** The Prometheus configuration as an object (Prometheus reads it as YAML; JSON is YAML too). */
export function prometheusConfig(config: Config, mode: "native" | "compose") {
  return {
    global: { scrape_interval: SCRAPE_INTERVAL, scrape_timeout: "4s", evaluation_interval: SCRAPE_INTERVAL },
    scrape_configs: [
      {
        job_name: "fleetbench",
        metrics_path: "/metrics",
        static_configs: [{ targets: scrapeTargets(config, mode).map((t) => t.address) }],
        metric_relabel_configs: [
          // Bun processes label their own metrics with `service`; Apollo Router and Hive Router mark
          // theirs with otel_scope_name instead, so they get the process name here, as everywhere else.
          { source_labels: ["service", "otel_scope_name"], regex: ";apollo/router", target_label: "service", replacement: "apollo-router" },
          { source_labels: ["service", "otel_scope_name"], regex: ";graphql-hive.router", target_label: "service", replacement: "hive-router" },
        ],
      },
      ...(mode === "native" ? [loadgenJob(config)] : []),
    ],
  };
}

/** The configuration as a YAML file, with a header saying where it comes from and what each port is. */
export function prometheusYaml(config: Config, mode: "native" | "compose"): string {
  const lines = scrapeTargets(config, mode).map((t) => {
    const names = [...new Set(t.processes.map((p) => p.name))];
    const who = names.map((name) => `${name} (${t.processes.filter((p) => p.name === name).map((p) => p.case).join(", ")})`);
    return `#   ${t.address.padEnd(24)} ${who.join(", ")}`;
  });
  return [
    `# Prometheus configuration for fleetbench (${mode}), generated from the case table (src/run/cases.ts)`,
    `# by src/deploy/prometheus.ts: do not edit, regenerate with \`just obs config${mode === "compose" ? " --compose" : ""}\`.`,
    "# Targets (a target whose case is not running is simply down):",
    ...lines,
    stringifyYaml(prometheusConfig(config, mode)).replace(/[ \t]+$/gm, ""),
  ].join("\n").trimEnd() + "\n";
}

/**
 * The load generator's exporter (vegeta's -prometheus-addr), up only while a measured run lasts:
 * its `request_seconds` histogram and byte counts. Its target comes from a file the run writes
 * (file_sd) with the run's `case` and `run` as labels, as every dashboard filters by them. Each
 * request's URL ends in a fragment naming the answer it expects (`#monitor:robot-007`): the `api`
 * label keeps only the API and the URL label goes, so a fleet of 1,500 robots is not 1,500
 * series. Native only: under Compose the engine runs on the host, out of the containers' network.
 */
export function loadgenJob(config: Config) {
  return {
    job_name: "load-generator",
    metrics_path: "/metrics",
    file_sd_configs: [{ files: [loadgenTargetsFile(config)], refresh_interval: SCRAPE_INTERVAL }],
    metric_relabel_configs: [
      { source_labels: ["url"], regex: ".*#([a-z]+):.*", target_label: "api", replacement: "$1" },
      { regex: "url", action: "labeldrop" },
    ],
  };
}

/** The file naming the load generator's exporter and the labels of the run it measures. */
export const loadgenTargetsFile = (config: Config) => join(config.stateDir, "obs", "prometheus", "load-generator.json");

/**
 * Where the engine's exporter listens during a measured run, when a Prometheus answers (none
 * otherwise, and a line saying so: runs never need it); the run's labels go into the targets file.
 */
export async function loadgenExporter(config: Config, log: (line: string) => void, labels: { case: string; run: string; engine: string }): Promise<string | undefined> {
  if (!(await prometheusReady(config))) {
    log(`Prometheus is not answering at ${prometheusUrl(config)}: the load generator's metrics are not exported (\`just obs up\` starts it)`);
    return undefined;
  }
  const address = `127.0.0.1:${config.ports.loadgen}`;
  mkdirSync(dirname(loadgenTargetsFile(config)), { recursive: true });
  writeFileSync(loadgenTargetsFile(config), `${JSON.stringify([{ targets: [address], labels }])}\n`);
  log(`the load generator's metrics at http://${address}/metrics while the run lasts, scraped by Prometheus (job load-generator, case ${labels.case}, run ${labels.run})`);
  return address;
}

/** Prometheus' base URL on this machine (native, or compose's published port). */
export const prometheusUrl = (config: Config) => `http://127.0.0.1:${config.ports.prometheus}`;

/** Whether a Prometheus answers ready on the configured port. */
export async function prometheusReady(config: Config, timeoutMs = 1000): Promise<boolean> {
  try {
    const response = await fetch(`${prometheusUrl(config)}/-/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * The system tags k6 puts on samples it pushes: per-URL tags would make one series per robot id
 * (Case 1's monitor path), so the low-cardinality ones only. The summary file does not use the dropped ones.
 */
export const K6_SYSTEM_TAGS = "status,method,scenario,group,check,expected_response,error_code";

/**
 * The extra k6 arguments and environment that push a measured run's metrics to Prometheus by
 * remote write, or none (and a line saying so) when no Prometheus answers: runs never need it.
 * The script already tags every sample with case and run, and client requests with api.
 */
export async function k6PrometheusOutput(config: Config, log: (line: string) => void): Promise<{ args: string[]; env: Record<string, string> }> {
  const base = prometheusUrl(config);
  if (!(await prometheusReady(config))) {
    log(`Prometheus is not answering at ${base}: k6 metrics not pushed (\`just obs up\` starts it)`);
    return { args: [], env: {} };
  }
  log(`k6 metrics pushed to Prometheus at ${base} (remote write, tagged case, run and api)`);
  return {
    args: ["--out", "experimental-prometheus-rw"],
    env: {
      K6_PROMETHEUS_RW_SERVER_URL: `${base}/api/v1/write`,
      K6_PROMETHEUS_RW_TREND_STATS: TREND_STATS,
      K6_SYSTEM_TAGS,
    },
  };
}
