/**
 * DataLoaders over the data services' batch endpoints. A new set is made for every GraphQL
 * request (no caching across requests, docs/design.md §7): all loads of one tick become one POST.
 */
import DataLoader from "dataloader";
import type { Alert } from "./alert-service";
import type { Config } from "./config";
import { callJson } from "./http";
import type { Robot } from "./robot-service";
import type { Telemetry } from "./telemetry-service";

function batchLoader<V>(config: Config, service: string, url: string) {
  return new DataLoader<string, V>(
    async (ids) => {
      const found = (await callJson<Record<string, V>>(service, url, config.timeoutMs, {
        method: "POST",
        body: { robot_ids: ids },
      })) ?? {};
      return ids.map((id) => found[id] ?? (null as V));
    },
    { maxBatchSize: config.batchMax },
  );
}

export type Loaders = ReturnType<typeof createLoaders>;

export function createLoaders(config: Config) {
  return {
    robot: batchLoader<Robot | null>(config, "robot-service", `${config.urls.robot}/robots/batch`),
    telemetry: batchLoader<Telemetry | null>(config, "telemetry-service", `${config.urls.telemetry}/telemetry/batch`),
    alerts: batchLoader<Alert[]>(config, "alert-service", `${config.urls.alert}/alerts/batch`),
  };
}
