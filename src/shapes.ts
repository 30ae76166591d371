/** The client's camelCase shapes (docs/design.md §5), made from the data services' snake_case rows. */
import type { Alert } from "./alert-service";
import type { Telemetry } from "./telemetry-service";

export const toTelemetry = (t: Telemetry | null) =>
  t && {
    robotId: t.robot_id,
    batteryLevel: t.battery_level,
    cpuUsage: t.cpu_usage,
    temperature: t.temperature,
    timestamp: t.timestamp,
  };

export const toAlert = (a: Alert) => ({
  id: a.id,
  robotId: a.robot_id,
  severity: a.severity,
  message: a.message,
  createdAt: a.created_at,
});
