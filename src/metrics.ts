/**
 * Prometheus metrics shared by every process: `http_requests_total{service,method,route,status}`
 * and `http_request_duration_seconds` (DESIGN §6) plus prom-client's default process metrics
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

const started = new WeakMap<Request, number>();

/**
 * Elysia plugin counting every request by its route template (`/telemetry/:robotId/latest`),
 * so ids never become labels. Unmatched paths are counted under the route `unmatched`.
 */
export function metricsPlugin(metrics: ServiceMetrics) {
  return new Elysia({ name: `metrics:${metrics.service}` })
    .onRequest(({ request }) => {
      started.set(request, performance.now());
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      const t0 = started.get(request);
      const status =
        responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : 200;
      const labels = { method: request.method, route: route || "unmatched", status: String(status) };
      metrics.requests.inc(labels);
      if (t0 !== undefined) metrics.duration.observe(labels, (performance.now() - t0) / 1000);
    })
    .get("/metrics", async () =>
      new Response(await metrics.registry.metrics(), {
        headers: { "content-type": metrics.registry.contentType },
      }),
    )
    .get("/health", () => ({ status: "ok" }));
}
