/**
 * The correctness gate (docs/design.md §7): before any measured load, every API of the case must equal
 * the answer computed straight from the database. A case that differs is not measured.
 * The reference SQL here is written apart from the services' own queries on purpose.
 */
import { type ApiName, type CaseSpec, clientRequest } from "./cases";
import type { Config } from "../config";
import type { Sql } from "../db";

const TS = (col: string) => `to_char(${col}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Every client answer of docs/design.md §5, computed from the tables. */
export async function referenceAnswers(sql: Sql) {
  const robots = await sql.unsafe(`SELECT id, name, model, location, status FROM robots ORDER BY id`);
  const latest = await sql.unsafe(`
    SELECT DISTINCT ON (robot_id) robot_id, battery_level, cpu_usage, temperature, ${TS("timestamp")} AS ts
    FROM telemetry_data ORDER BY robot_id, timestamp DESC, id DESC`);
  const alerts = await sql.unsafe(`
    SELECT id, robot_id, severity, message, ${TS("created_at")} AS created FROM alerts ORDER BY created_at DESC, id DESC`);
  const telemetry = new Map(latest.map((t) => [t.robot_id as string, t]));
  const alertsByRobot = new Map<string, (typeof alerts)[number][]>();
  for (const a of alerts) alertsByRobot.set(a.robot_id, [...(alertsByRobot.get(a.robot_id) ?? []), a]);
  const alertsOf = (id: string) => alertsByRobot.get(id) ?? [];
  const reading = (t: any) => t && { batteryLevel: t.battery_level, cpuUsage: t.cpu_usage, temperature: t.temperature };
  const byId = new Map(robots.map((r) => [r.id as string, r]));
  return {
    ids: robots.map((r) => r.id as string),
    dashboard: {
      robots: robots.map((r) => ({
        id: r.id,
        name: r.name,
        latestTelemetry: reading(telemetry.get(r.id)),
        activeAlerts: alertsOf(r.id).map((a) => ({ severity: a.severity, message: a.message })),
      })),
    },
    monitor: (id: string) => {
      const r = byId.get(id);
      if (!r) return null;
      const t = telemetry.get(id);
      return {
        robot: { id: r.id, name: r.name, model: r.model, location: r.location, status: r.status },
        telemetry: t && { ...reading(t), timestamp: t.ts },
        recentAlerts: alertsOf(id).map((a) => ({ id: a.id, severity: a.severity, message: a.message, createdAt: a.created })),
      };
    },
    critical: alerts
      .filter((a) => a.severity === "critical")
      .map((a) => ({
        id: a.id,
        message: a.message,
        robot: { id: a.robot_id, name: byId.get(a.robot_id)?.name },
        telemetrySnapshot: reading(telemetry.get(a.robot_id)),
      })),
  };
}

/** Plain JSON round trip, so database rows compare as plain objects. */
const plain = (value: unknown) => JSON.stringify(value);

export interface GateResult {
  passed: boolean;
  checked: number;
  /** The first differences found, each naming the API (and robot). */
  failures: string[];
  /** Requests that failed in transport (no HTTP answer) and were sent once more, with the error. */
  retried: string[];
}

/**
 * The bodies of the answers that passed (answer key `api:robot` → the body in base64): what every
 * response of the load is checked against (docs/design.md §22). Kept apart from GateResult, which
 * goes into the result file; these can be megabytes for a large fleet.
 */
export type GateAnswers = Map<string, string>;

/** Calls every API of a running case (monitor for every robot) and compares with the database. */
export async function runGate(spec: CaseSpec, config: Config, sql: Sql, concurrency = 8, answers: GateAnswers = new Map()): Promise<GateResult> {
  const reference = await referenceAnswers(sql);
  const failures: string[] = [];
  const retried: string[] = [];
  let checked = 0;
  const verify = async (api: ApiName, robotId: string | undefined, expected: unknown) => {
    const request = clientRequest(spec, config, api, robotId);
    const send = () => fetch(request.url, { ...request.init, signal: AbortSignal.timeout(config.timeoutMs * 3) });
    let got: unknown;
    let response: Response | null = null;
    try {
      response = await send();
    } catch (first) {
      // No HTTP answer at all (a reset socket, say) says nothing about the answer: asked once
      // more, and recorded. A wrong answer, or an HTTP error, is never asked again.
      retried.push(`${api}${robotId ? ` ${robotId}` : ""}: ${(first as Error).message}`);
      try {
        response = await send();
      } catch (error) {
        got = `request failed twice: ${(error as Error).message}`;
      }
    }
    let raw: Buffer | null = null;
    if (response) {
      try {
        raw = Buffer.from(await response.arrayBuffer());
        got = request.pick(JSON.parse(raw.toString("utf8")));
      } catch (error) {
        got = `unreadable answer (HTTP ${response.status}): ${(error as Error).message}`;
      }
    }
    checked++;
    if (plain(got) !== plain(expected)) {
      if (failures.length < 10) failures.push(`${api}${robotId ? ` ${robotId}` : ""}: answer differs from the database (got ${plain(got)?.slice(0, 160)}…)`);
    } else if (raw && response?.status === 200) {
      answers.set(`${api}:${robotId ?? "-"}`, raw.toString("base64"));
    }
  };
  await verify("dashboard", undefined, reference.dashboard);
  await verify("critical", undefined, reference.critical);
  const ids = [...reference.ids];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let id = ids.shift(); id !== undefined; id = ids.shift()) await verify("monitor", id, reference.monitor(id));
    }),
  );
  return { passed: failures.length === 0, checked, failures, retried };
}
