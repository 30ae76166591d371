/** Alert data service (:10003, docs/design.md §4): a robot's alerts, the critical ones, and batches. */
import type { Config } from "./config";
import type { ServiceMetrics } from "./metrics";
import { iso, type Sql } from "./db";
import { checkBatch, checkRobotId, createBaseApp } from "./http";

export interface Alert {
  id: number;
  robot_id: string;
  severity: string;
  message: string;
  created_at: string;
}

const COLUMNS = `id, robot_id, severity, message, ${iso("created_at")} AS created_at`;
/** Newest first, ties by id (docs/design.md §3). */
const NEWEST_FIRST = "ORDER BY created_at DESC, id DESC";

/** Every statement prepared (parity, docs/design.md §12): the text is fixed, only the ids vary. */
export function alertQueries(sql: Sql) {
  return {
    critical: () => sql.unsafe<Alert[]>(`SELECT ${COLUMNS} FROM alerts WHERE severity = 'critical' ${NEWEST_FIRST}`, [], { prepare: true }),
    /** One query for any number of robots. */
    forRobots: (ids: string[]) =>
      sql.unsafe<Alert[]>(`SELECT ${COLUMNS} FROM alerts WHERE robot_id = ANY($1::varchar[]) ${NEWEST_FIRST}`, [ids as never], { prepare: true }),
  };
}

export function createAlertService(deps: { config: Config; sql: Sql; metrics?: ServiceMetrics }) {
  const alerts = alertQueries(deps.sql);
  return createBaseApp("alert-service", deps.metrics)
    .get("/alerts/critical", () => alerts.critical())
    .get("/alerts/:robotId", ({ params }) => alerts.forRobots([checkRobotId(params.robotId)]))
    .post("/alerts/batch", async ({ body }) => {
      const ids = checkBatch(body, deps.config.batchMax);
      const byRobot = new Map<string, Alert[]>(ids.map((id) => [id, []]));
      for (const alert of await alerts.forRobots(ids)) byRobot.get(alert.robot_id)?.push(alert);
      return Object.fromEntries(byRobot);
    });
}
