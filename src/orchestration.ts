/**
 * Case 1's orchestration routes, mounted into the robot service only when the case asks for
 * them. They do the N+1 fan-out exactly as the original design (DESIGN §4): one HTTP call per
 * robot (dashboard) or per alert (critical alerts, including calls to the robot service itself).
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
    .get("/robots/:id/monitor", async ({ params }) => {
      const robot = await robots.one(checkRobotId(params.id));
      if (!robot) throw new HttpError(404, "ROBOT_NOT_FOUND", `no robot with id ${params.id}`);
      const [telemetry, alerts] = await Promise.all([latest(robot.id), alertsOf(robot.id)]);
      return {
        robot,
        telemetry: telemetry && { ...reading(telemetry), timestamp: telemetry.timestamp },
        recentAlerts: alerts.map((a) => ({ id: a.id, severity: a.severity, message: a.message, createdAt: a.created_at })),
      };
    })
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
