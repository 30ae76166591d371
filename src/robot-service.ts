/** Robot data service (:10001, docs/design.md §4): robots by id, the whole fleet, and batches. */
import type { Config } from "./config";
import type { ServiceMetrics } from "./metrics";
import type { Sql } from "./db";
import { HttpError, checkBatch, checkRobotId, createBaseApp } from "./http";

export interface Robot {
  id: string;
  name: string;
  model: string;
  location: string;
  status: string;
}

export function robotQueries(sql: Sql) {
  return {
    all: () => sql<Robot[]>`SELECT id, name, model, location, status FROM robots ORDER BY id`,
    one: async (id: string) =>
      (await sql<Robot[]>`SELECT id, name, model, location, status FROM robots WHERE id = ${id}`)[0] ?? null,
    /** One query for the whole batch, whatever its size. */
    many: (ids: string[]) =>
      sql<Robot[]>`SELECT id, name, model, location, status FROM robots WHERE id = ANY(${ids}::varchar[])`,
  };
}

export function createRobotService(deps: { config: Config; sql: Sql; metrics?: ServiceMetrics }) {
  const robots = robotQueries(deps.sql);
  return createBaseApp("robot-service", deps.metrics)
    .get("/robots", () => robots.all())
    .get("/robots/:id", async ({ params }) => {
      const robot = await robots.one(checkRobotId(params.id));
      if (!robot) throw new HttpError(404, "ROBOT_NOT_FOUND", `no robot with id ${params.id}`);
      return robot;
    })
    .post("/robots/batch", async ({ body }) => {
      const ids = checkBatch(body, deps.config.batchMax);
      const found = new Map((await robots.many(ids)).map((r) => [r.id, r]));
      return Object.fromEntries(ids.map((id) => [id, found.get(id) ?? null]));
    });
}
