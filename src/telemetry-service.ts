/** Telemetry data service (:10002, docs/design.md §4): the latest reading of one robot or of a batch. */
import type { Config } from "./config";
import type { ServiceMetrics } from "./metrics";
import { iso, type Sql } from "./db";
import { HttpError, checkBatch, checkRobotId, createBaseApp } from "./http";

export interface Telemetry {
  robot_id: string;
  battery_level: number;
  cpu_usage: number;
  temperature: number;
  timestamp: string;
}

/** Latest = newest timestamp, ties to the highest id (docs/design.md §3); one index probe per robot. */
const LATEST = `
  SELECT r.robot_id, t.battery_level, t.cpu_usage, t.temperature, ${iso("t.timestamp")} AS timestamp
  FROM unnest($1::varchar[]) AS r(robot_id)
  CROSS JOIN LATERAL (
    SELECT battery_level, cpu_usage, temperature, timestamp FROM telemetry_data
    WHERE robot_id = r.robot_id ORDER BY timestamp DESC, id DESC LIMIT 1) t`;

export function telemetryQueries(sql: Sql) {
  // Prepared, like every statement of every service (parity, docs/design.md §12): Case 1 runs this once
  // per robot, so an unprepared statement would charge Case 1 a parse and plan per call.
  return { latest: (ids: string[]) => sql.unsafe<Telemetry[]>(LATEST, [ids as never], { prepare: true }) };
}

export function createTelemetryService(deps: { config: Config; sql: Sql; metrics?: ServiceMetrics }) {
  const telemetry = telemetryQueries(deps.sql);
  return createBaseApp("telemetry-service", deps.metrics)
    .get("/telemetry/:robotId/latest", async ({ params }) => {
      const [latest] = await telemetry.latest([checkRobotId(params.robotId)]);
      if (!latest) throw new HttpError(404, "TELEMETRY_NOT_FOUND", `no telemetry for robot ${params.robotId}`);
      return latest;
    })
    .post("/telemetry/batch", async ({ body }) => {
      const ids = checkBatch(body, deps.config.batchMax);
      const found = new Map((await telemetry.latest(ids)).map((t) => [t.robot_id, t]));
      return Object.fromEntries(ids.map((id) => [id, found.get(id) ?? null]));
    });
}
