/**
 * Deterministic fleet data (docs/design.md §3): a fixed-seed PRNG and a fixed base time, so the same
 * fleet size gives byte-identical rows — and API answers — on every machine.
 *
 *   bun src/main.ts seed [N]      (re)create the schema and load a fleet of N robots
 */
import { INDEXES, SCHEMA, type Sql } from "./db";
import { mulberry32, robotId } from "./determinism.js";

export { robotId };

export const BASE_TIME = Date.UTC(2026, 0, 1, 0, 0, 0);
export const TELEMETRY_PER_ROBOT = 100;
const SEED = 0x5eed_f1ee;

const PREFIXES = ["AGV", "AMR", "ARM", "DRN"];
const GREEK = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota", "Kappa", "Lambda", "Mu",
  "Nu", "Xi", "Omicron", "Pi", "Rho", "Sigma", "Tau", "Upsilon", "Phi", "Chi", "Psi", "Omega"];
const MODELS = ["Kiva-300", "MiR-250", "UR-10e", "Spot-X2", "Fetch-F1"];
const LOCATIONS = ["Warehouse A", "Warehouse B", "Assembly Line 1", "Assembly Line 2", "Loading Dock", "Cold Storage"];
const MESSAGES: Record<string, string[]> = {
  critical: ["Battery critically low", "Motor overheating", "Collision detected", "Emergency stop triggered", "Navigation failure"],
  warning: ["Battery below 30%", "CPU load high", "Wheel slip detected", "Sensor calibration drifting"],
  info: ["Firmware update available", "Scheduled maintenance due", "Route recalculated", "Docked for charging"],
};

const oneDecimal = (x: number) => (Math.round(x * 10) / 10).toFixed(1);
/** TIMESTAMP literal in UTC, as COPY reads it. */
const pgTime = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");

/** Number of critical alerts at fleet size N: round(2N/3), each on a distinct robot. */
export const criticalCount = (n: number) => Math.round((2 * n) / 3);

/** Generates the fleet as COPY text rows (tab-separated), one array per table. */
export function generateFleet(n: number) {
  const random = mulberry32(SEED);
  const robots: string[] = [];
  const telemetry: string[] = [];
  const alerts: string[] = [];
  const ids = Array.from({ length: n }, (_, i) => robotId(i, n));
  for (let i = 0; i < n; i++) {
    const cycle = Math.floor(i / GREEK.length);
    const name = `${PREFIXES[i % PREFIXES.length]}-${GREEK[i % GREEK.length]}${cycle ? `-${cycle + 1}` : ""}`;
    const status = i % 7 === 3 ? "maintenance" : "active";
    robots.push([ids[i], name, MODELS[i % MODELS.length], LOCATIONS[(i * 5 + 2) % LOCATIONS.length], status].join("\t"));
    let battery = 60 + random() * 40;
    for (let m = 0; m < TELEMETRY_PER_ROBOT; m++) {
      battery = Math.max(1, battery - random() * 0.8);
      const cpu = 10 + random() * 85;
      const temperature = 30 + random() * 45;
      const at = pgTime(BASE_TIME + m * 60_000);
      telemetry.push([ids[i], oneDecimal(battery), oneDecimal(cpu), oneDecimal(temperature), at].join("\t"));
    }
  }
  // Critical alerts go to a seeded choice of distinct robots; then 1-3 lesser alerts per robot.
  const order = ids.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const alert = (i: number, severity: string) => {
    const texts = MESSAGES[severity];
    const at = pgTime(BASE_TIME + Math.floor(random() * TELEMETRY_PER_ROBOT * 60) * 1000);
    alerts.push([ids[i], severity, texts[Math.floor(random() * texts.length)], at].join("\t"));
  };
  for (const i of order.slice(0, criticalCount(n)).sort((a, b) => a - b)) alert(i, "critical");
  for (let i = 0; i < n; i++) {
    const extra = 1 + Math.floor(random() * 3);
    for (let k = 0; k < extra; k++) alert(i, random() < 0.5 ? "warning" : "info");
  }
  return { robots, telemetry, alerts };
}

async function copyRows(sql: Sql, table: string, columns: string, rows: string[]) {
  const stream = await sql.unsafe(`COPY ${table} (${columns}) FROM STDIN`).writable();
  const chunk = 5000;
  for (let i = 0; i < rows.length; i += chunk) {
    const text = rows.slice(i, i + chunk).join("\n") + "\n";
    if (!stream.write(text)) await new Promise((done) => stream.once("drain", done));
  }
  await new Promise<void>((done, fail) => {
    stream.once("error", fail);
    stream.end(done);
  });
}

/** Drops and recreates the schema, then bulk-loads a fleet of `n` robots with COPY. */
export async function seed(sql: Sql, n: number, log: (line: string) => void = () => {}) {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`fleet size must be a positive integer, got ${n}`);
  const t0 = performance.now();
  const fleet = generateFleet(n);
  await sql.unsafe(SCHEMA);
  log(`loading ${n} robots, ${fleet.telemetry.length} telemetry rows, ${fleet.alerts.length} alerts`);
  await copyRows(sql, "robots", "id, name, model, location, status", fleet.robots);
  await copyRows(sql, "telemetry_data", "robot_id, battery_level, cpu_usage, temperature, timestamp", fleet.telemetry);
  await copyRows(sql, "alerts", "robot_id, severity, message, created_at", fleet.alerts);
  await sql.unsafe(INDEXES);
  // VACUUM as well as ANALYZE: it sets the visibility map, so index-only scans need no heap
  // visits and autovacuum has nothing to do on these tables during a measured run. VACUUM
  // cannot share a multi-statement string (an implicit transaction): one statement per table.
  for (const table of ["robots", "telemetry_data", "alerts"]) await sql.unsafe(`VACUUM ANALYZE ${table}`);
  const seconds = (performance.now() - t0) / 1000;
  log(`seeded fleet of ${n} in ${seconds.toFixed(1)} s`);
  return { robots: fleet.robots.length, telemetry: fleet.telemetry.length, alerts: fleet.alerts.length, seconds };
}
