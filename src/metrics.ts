/**
 * Prometheus metrics shared by every process: `http_requests_total{service,method,route,status}`
 * and `http_request_duration_seconds` (docs/design.md §6) plus prom-client's default process metrics
 * (CPU, memory, event-loop lag). The call counts the benchmark reports are read from these.
 */
import { Elysia } from "elysia";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type ServiceMetrics = ReturnType<typeof createMetrics>;

export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests received, by route template and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from request received to response handed back, by route template",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { service, registry, requests, duration };
}

const routes = new WeakMap<Request, string>();

/**
 * Elysia plugin remembering each request's route template (`/telemetry/:robotId/latest`), so ids
 * never become labels, and serving /metrics and /health. Counting happens in `instrument`.
 */
export function metricsPlugin(metrics: ServiceMetrics) {
  return new Elysia({ name: `metrics:${metrics.service}` })
    .onTransform({ as: "global" }, ({ request, route }) => {
      routes.set(request, route);
    })
    .get("/metrics", async () =>
      new Response(await metrics.registry.metrics(), {
        headers: { "content-type": metrics.registry.contentType },
      }),
    )
    .get("/health", () => ({ status: "ok" }));
}

/**
 * Wraps a process's fetch handler so every request is counted before its response leaves: a
 * caller that has its answer can read metrics that already include it. Unmatched paths are
 * counted under the route `unmatched`.
 */
export function instrument(metrics: ServiceMetrics, handler: (request: Request) => Promise<Response>) {
  return async (request: Request): Promise<Response> => {
    const t0 = performance.now();
    const response = await handler(request);
    const labels = { method: request.method, route: routes.get(request) ?? "unmatched", status: String(response.status) };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, (performance.now() - t0) / 1000);
    return response;
  };
}
