/**
 * The REST cases' orchestration routes, mounted into the robot service only when the case asks
 * for them, behind the same REST gateway and client API:
 * - Case 1 (`--orchestration`) does the N+1 fan-out exactly as the original design (docs/design.md §4):
 *   one HTTP call per robot (dashboard) or per alert (critical alerts, including calls to the
 *   robot service itself).
 * - case1b (`--orchestration=batch`, docs/design.md §15) calls the data services' batch endpoints, as
 *   Case 2's DataLoaders do: one call per service and client request (per FLEET_BATCH_MAX ids),
 *   so REST and batching are measured apart.
 */
import { Elysia } from "elysia";
import type { Alert } from "./alert-service";
import type { Config } from "./config";
import type { Sql } from "./db";
import { HttpError, callJson, checkRobotId } from "./http";
import { type Robot, robotQueries } from "./robot-service";
import type { Telemetry } from "./telemetry-service";

const reading = (t: Telemetry | null) =>
  t && { batteryLevel: t.battery_level, cpuUsage: t.cpu_usage, temperature: t.temperature };

/**
 * `work` over every item, its answers in the items' order: all at once when `limit` is null (the
 * original design), else at most `limit` at a time, each next item started as one finishes.
 */
export async function fanOut<T, R>(items: readonly T[], limit: number | null, work: (item: T) => Promise<R>): Promise<R[]> {
  if (limit === null || limit >= items.length) return Promise.all(items.map(work));
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return out;
}

/** The monitor of one robot: its row, then its latest reading and its alerts at once (the same in both REST cases). */
function monitorRoute(robots: ReturnType<typeof robotQueries>, latest: (id: string) => Promise<Telemetry | null>, alertsOf: (id: string) => Promise<Alert[]>) {
  // Elysia types a route's params by name only for a literal path on its own app: here, a record.
  return async ({ params }: { params: Record<string, string> }) => {
    const robot = await robots.one(checkRobotId(params.id));
    if (!robot) throw new HttpError(404, "ROBOT_NOT_FOUND", `no robot with id ${params.id}`);
    const [telemetry, alerts] = await Promise.all([latest(robot.id), alertsOf(robot.id)]);
    return {
      robot,
      telemetry: telemetry && { ...reading(telemetry), timestamp: telemetry.timestamp },
      recentAlerts: alerts.map((a) => ({ id: a.id, severity: a.severity, message: a.message, createdAt: a.created_at })),
    };
  };
}

export function createOrchestration(deps: { config: Config; sql: Sql }) {
  const { urls, timeoutMs, fanout } = deps.config;
  const robots = robotQueries(deps.sql);
  const latest = (id: string) =>
    callJson<Telemetry>("telemetry-service", `${urls.telemetry}/telemetry/${encodeURIComponent(id)}/latest`, timeoutMs);
  const alertsOf = async (id: string) =>
    (await callJson<Alert[]>("alert-service", `${urls.alert}/alerts/${encodeURIComponent(id)}`, timeoutMs)) ?? [];

  return new Elysia({ name: "orchestration" })
    .get("/robots/dashboard", async () => ({
      robots: await fanOut(
        await robots.all(),
        fanout,
        async (robot) => {
          const [telemetry, alerts] = await Promise.all([latest(robot.id), alertsOf(robot.id)]);
          return {
            id: robot.id,
            name: robot.name,
            latestTelemetry: reading(telemetry),
            activeAlerts: alerts.map((a) => ({ severity: a.severity, message: a.message })),
          };
        },
      ),
    }))
    .get("/robots/:id/monitor", monitorRoute(robots, latest, alertsOf))
    .get("/robots/alerts/critical", async () => {
      const critical = (await callJson<Alert[]>("alert-service", `${urls.alert}/alerts/critical`, timeoutMs)) ?? [];
      return {
        alerts: await fanOut(
          critical,
          fanout,
          async (alert) => {
            // The self-call over HTTP is the point: it is what the original design measured.
            const [robot, telemetry] = await Promise.all([
              callJson<Robot>("robot-service", `${urls.robot}/robots/${encodeURIComponent(alert.robot_id)}`, timeoutMs),
              latest(alert.robot_id),
            ]);
            return {
              id: alert.id,
              message: alert.message,
              robot: robot && { id: robot.id, name: robot.name },
              telemetrySnapshot: reading(telemetry),
            };
          },
        ),
      };
    });
}

/**
 * case1b: the same three routes over the batch endpoints. A batch holds at most FLEET_BATCH_MAX
 * ids (as Case 2's DataLoaders), its ids once each; with no ids there is no call.
 */
export function createBatchOrchestration(deps: { config: Config; sql: Sql }) {
  const { urls, timeoutMs, batchMax } = deps.config;
  const robots = robotQueries(deps.sql);
  const batch = async <V>(service: string, url: string, ids: string[]): Promise<Map<string, V | null>> => {
    const unique = [...new Set(ids)];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += batchMax) chunks.push(unique.slice(i, i + batchMax));
    const answers = await Promise.all(chunks.map((chunk) => callJson<Record<string, V | null>>(service, url, timeoutMs, { method: "POST", body: { robot_ids: chunk } })));
    const found = new Map<string, V | null>();
    for (const answer of answers) for (const [id, value] of Object.entries(answer ?? {})) found.set(id, value);
    return found;
  };
  const telemetryOf = (ids: string[]) => batch<Telemetry>("telemetry-service", `${urls.telemetry}/telemetry/batch`, ids);
  const latest = (id: string) =>
    callJson<Telemetry>("telemetry-service", `${urls.telemetry}/telemetry/${encodeURIComponent(id)}/latest`, timeoutMs);
  const alertsOf = async (id: string) =>
    (await callJson<Alert[]>("alert-service", `${urls.alert}/alerts/${encodeURIComponent(id)}`, timeoutMs)) ?? [];

  return new Elysia({ name: "batch-orchestration" })
    .get("/robots/dashboard", async () => {
      const fleet = await robots.all();
      const ids = fleet.map((r) => r.id);
      const [telemetry, alerts] = await Promise.all([telemetryOf(ids), batch<Alert[]>("alert-service", `${urls.alert}/alerts/batch`, ids)]);
      return {
        robots: fleet.map((robot) => ({
          id: robot.id,
          name: robot.name,
          latestTelemetry: reading(telemetry.get(robot.id) ?? null),
          activeAlerts: (alerts.get(robot.id) ?? []).map((a) => ({ severity: a.severity, message: a.message })),
        })),
      };
    })
    .get("/robots/:id/monitor", monitorRoute(robots, latest, alertsOf))
    .get("/robots/alerts/critical", async () => {
      const critical = (await callJson<Alert[]>("alert-service", `${urls.alert}/alerts/critical`, timeoutMs)) ?? [];
      const ids = critical.map((a) => a.robot_id);
      // The robots through the robot service's own batch endpoint, over HTTP, as Case 1 calls itself.
      const [found, telemetry] = await Promise.all([batch<Robot>("robot-service", `${urls.robot}/robots/batch`, ids), telemetryOf(ids)]);
      return {
        alerts: critical.map((alert) => {
          const robot = found.get(alert.robot_id) ?? null;
          return {
            id: alert.id,
            message: alert.message,
            robot: robot && { id: robot.id, name: robot.name },
            telemetrySnapshot: reading(telemetry.get(alert.robot_id) ?? null),
          };
        }),
      };
    });
}
