/**
 * The database side every service shares: one postgres.js pool per process (the same size in
 * every service, docs/design.md §7), the schema of docs/design.md §3, and a content hash of the data.
 */
import postgres from "postgres";
import type { Config } from "./config";

export type Sql = postgres.Sql;

export function createSql(config: Config, applicationName: string): Sql {
  return postgres(config.db.url, {
    max: config.db.pool,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: applicationName },
  });
}

/** Timestamps leave the database already in the API's form: UTC ISO-8601 with milliseconds. */
export const iso = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const SCHEMA = `
DROP TABLE IF EXISTS alerts, telemetry_data, robots;
CREATE TABLE robots (
  id VARCHAR(20) PRIMARY KEY, name VARCHAR(100) NOT NULL, model VARCHAR(50) NOT NULL,
  location VARCHAR(100) NOT NULL, status VARCHAR(20) NOT NULL DEFAULT 'active');
CREATE TABLE telemetry_data (
  id SERIAL PRIMARY KEY, robot_id VARCHAR(20) NOT NULL REFERENCES robots(id),
  battery_level FLOAT NOT NULL, cpu_usage FLOAT NOT NULL, temperature FLOAT NOT NULL,
  timestamp TIMESTAMP NOT NULL);
CREATE TABLE alerts (
  id SERIAL PRIMARY KEY, robot_id VARCHAR(20) NOT NULL REFERENCES robots(id),
  severity VARCHAR(20) NOT NULL, message VARCHAR(500) NOT NULL, created_at TIMESTAMP NOT NULL);
`;

/** Built after the bulk load: faster than maintaining them row by row. */
export const INDEXES = `
CREATE INDEX idx_telemetry_robot_ts ON telemetry_data(robot_id, timestamp DESC);
CREATE INDEX idx_alerts_robot ON alerts(robot_id);
CREATE INDEX idx_alerts_severity ON alerts(severity);
`;

/** md5 over every row of every table in id order: equal hashes mean byte-identical data. */
export async function contentHash(sql: Sql): Promise<string> {
  const [row] = await sql.unsafe(`
    SELECT md5(
      coalesce((SELECT string_agg(r::text, E'\\n' ORDER BY r.id) FROM robots r), '') || '#' ||
      coalesce((SELECT string_agg(t::text, E'\\n' ORDER BY t.id) FROM telemetry_data t), '') || '#' ||
      coalesce((SELECT string_agg(a::text, E'\\n' ORDER BY a.id) FROM alerts a), '')) AS hash`);
  return row.hash as string;
}

/** The fleet size currently loaded, or null when the schema is missing. */
export async function loadedFleetSize(sql: Sql): Promise<number | null> {
  const [row] = await sql`SELECT to_regclass('public.robots') IS NOT NULL AS present`;
  if (!row.present) return null;
  const [count] = await sql`SELECT count(*)::int AS n FROM robots`;
  return count.n as number;
}
