/**
 * Case 1's REST gateway (:10000): a pure streaming proxy of the three client routes to the
 * robot service's orchestration routes. It adds no logic, so what it costs is the hop itself.
 */
import type { Config } from "./config";
import type { ServiceMetrics } from "./metrics";
import { createBaseApp, upstream } from "./http";

export function createRestGateway(deps: { config: Config; metrics?: ServiceMetrics }) {
  const { urls, gatewayTimeoutMs } = deps.config;
  const proxy = async (path: string) => {
    // Longer than the robot service's own calls: a hang behind it is named by it (src/config.ts).
    const response = await upstream("robot-service", `${urls.robot}${path}`, gatewayTimeoutMs);
    return new Response(response.body, {
      status: response.status,
      headers: { "content-type": response.headers.get("content-type") ?? "application/json" },
    });
  };
  return createBaseApp("rest-gateway", deps.metrics)
    .get("/api/fleet/dashboard", () => proxy("/robots/dashboard"))
    .get("/api/robots/:id/monitor", ({ params }) => proxy(`/robots/${encodeURIComponent(params.id)}/monitor`))
    .get("/api/alerts/critical", () => proxy("/robots/alerts/critical"));
}
