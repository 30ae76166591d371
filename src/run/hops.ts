/**
 * Network between hops (docs/design.md §14): with --hop-latency D every internal call — gateway →
 * service, service → service, gateway → subgraph, subgraph → service — goes through Toxiproxy,
 * whose latency toxic delays each answer by D. Every process reaches the data services and the
 * subgraphs through the FLEET_*_URL variables, so pointing those at the proxies covers every hop
 * of every case the same way; the client → gateway hop (k6) stays direct, as a client's own
 * network is not part of the architecture. Toxiproxy runs as a process of the case, so its CPU is
 * measured and reported as its own component ("network proxy"), never in the case's total.
 */
import type { ProcessSpec } from "./cases";
import type { Config } from "../config";
import { TOXIPROXY_VERSION, toxiproxyBinary } from "./tools";

/** The upstreams behind the internal hops: the variable each process reads, and its URL key. */
const UPSTREAMS = [
  { name: "robot-service", variable: "FLEET_ROBOT_URL", key: "robot" },
  { name: "telemetry-service", variable: "FLEET_TELEMETRY_URL", key: "telemetry" },
  { name: "alert-service", variable: "FLEET_ALERT_URL", key: "alert" },
  { name: "robot-subgraph", variable: "FLEET_ROBOT_SUBGRAPH_URL", key: "robotSubgraph" },
  { name: "telemetry-subgraph", variable: "FLEET_TELEMETRY_SUBGRAPH_URL", key: "telemetrySubgraph" },
  { name: "alert-subgraph", variable: "FLEET_ALERT_SUBGRAPH_URL", key: "alertSubgraph" },
] as const;

/** A proxy listens on its upstream's port + this. */
export const PROXY_PORT_OFFSET = 1000;

export interface Hop {
  name: string;
  variable: string;
  upstream: string;
  listen: string;
}

/** Each hop: where the proxy listens and what it forwards to. */
export function hops(config: Config): Hop[] {
  return UPSTREAMS.map((u) => {
    const url = new URL(config.urls[u.key]);
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    return { name: u.name, variable: u.variable, upstream: `${url.hostname}:${port}`, listen: `127.0.0.1:${port + PROXY_PORT_OFFSET}` };
  });
}

/** What every process of the case gets instead of the direct URLs. */
export function hopEnv(config: Config): Record<string, string> {
  return Object.fromEntries(hops(config).map((h) => [h.variable, `http://${h.listen}`]));
}

/** The proxies Toxiproxy creates at start (its -config file). */
export const proxiesFile = (config: Config) => hops(config).map((h) => ({ name: h.name, listen: h.listen, upstream: h.upstream, enabled: true }));

/** Toxiproxy as a process of the case: its API on FLEET_TOXIPROXY_PORT, the proxies from `configPath`. */
export function toxiproxySpec(config: Config, configPath: string): ProcessSpec {
  return {
    name: "toxiproxy",
    port: (c) => c.ports.toxiproxy,
    command: (c) => [toxiproxyBinary(c), "-host", "127.0.0.1", "-port", String(c.ports.toxiproxy), "-config", configPath, "-seed", "1"],
    // Warnings only: a log line per accepted connection would be work on the measured path.
    env: () => ({ LOG_LEVEL: "warn" }),
    health: (c) => `http://127.0.0.1:${c.ports.toxiproxy}/version`,
    requestMetrics: false,
  };
}

/** Adds the latency toxic to every proxy (none at 0 ms: the proxy alone); checks each is in place. */
export async function addLatency(config: Config) {
  const api = `http://127.0.0.1:${config.ports.toxiproxy}`;
  const latency = config.hopLatencyMs ?? 0;
  for (const h of hops(config)) {
    if (latency > 0) {
      const response = await fetch(`${api}/proxies/${h.name}/toxics`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "hop-latency", type: "latency", stream: "downstream", toxicity: 1, attributes: { latency, jitter: 0 } }),
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) throw new Error(`Toxiproxy refused the latency toxic on ${h.name}: ${response.status} ${await response.text()}`);
    }
    const proxy = (await (await fetch(`${api}/proxies/${h.name}`, { signal: AbortSignal.timeout(5000) })).json()) as { enabled?: boolean; listen?: string; toxics?: unknown[] };
    if (!proxy.enabled || proxy.listen !== h.listen || (proxy.toxics ?? []).length !== (latency > 0 ? 1 : 0)) {
      throw new Error(`Toxiproxy's proxy for ${h.name} is not as asked: ${JSON.stringify(proxy)}`);
    }
  }
}

/** What the result's parity records about the hops. */
export function hopParity(config: Config) {
  return {
    runtime: "native",
    version: TOXIPROXY_VERSION,
    hop_latency_ms: config.hopLatencyMs,
    toxic: config.hopLatencyMs ? `latency ${config.hopLatencyMs} ms on each answer (downstream), jitter 0` : "none (the proxy alone)",
    hops: hops(config).map((h) => `${h.listen} → ${h.upstream} (${h.name})`),
    client_to_gateway: "direct (not proxied)",
  };
}
