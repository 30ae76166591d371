// fleetbench load script: one script for every case. The runner (src/run/load.ts) writes a request
// spec from the case table (base URL, REST paths or GraphQL queries, expected sizes) and passes
// its path in FLEET_SPEC; everything else comes from FLEET_* variables.
//
//   k6 run -e FLEET_SPEC=/path/spec.json -e FLEET_MODE=duration -e FLEET_VUS=10 -e FLEET_DURATION=30s k6/fleet.js
import http from "k6/http";
import { check } from "k6";
import { Counter, Gauge, Rate, Trend } from "k6/metrics";
import exec from "k6/execution";
import { chooser, pickApi, robotId } from "./lib/pick.js";
import { scenario } from "./lib/profiles.js";

const spec = JSON.parse(open(__ENV.FLEET_SPEC));
const tags = { case: spec.case, run: spec.runId };
// For fault-injection runs: errors per second of the run (FLEET_TIMELINE_SECONDS long), counted
// from the runner's clock (FLEET_T0, ms) so they line up with when the fault started and ended.
const timelineSeconds = Number(__ENV.FLEET_TIMELINE_SECONDS || 0);
const t0 = Number(__ENV.FLEET_T0 || 0);
// Stability within the run (docs/design.md §13): every request's outcome is also counted in the
// FLEET_WINDOW_SECONDS-long window of the scenario it ended in, FLEET_WINDOWS windows at most.
const windowSeconds = Number(__ENV.FLEET_WINDOW_SECONDS || 5);
const windows = Number(__ENV.FLEET_WINDOWS || 0);
// With FLEET_WINDOW_LATENCY=1 each window's latency too: in the open model the arrival rate pins
// throughput, so latency is what moves when the case does not settle (src/stats/steady.ts).
const windowLatency = windows > 0 && __ENV.FLEET_WINDOW_LATENCY === "1";
/** Client request latency (ms), tagged with the window it ended in. */
const latency = new Trend("fleet_latency", true);
/**
 * When the scenario started (ms since the epoch): the windows' clock, so the runner lines up
 * what it samples (steal time from /proc/stat) with k6's windows. Set once per VU.
 */
const scenarioStart = new Gauge("fleet_scenario_start");
/** One sample per client request: true when any check of that response failed. */
const errors = new Rate("fleet_errors");
/**
 * The same outcome as a count (0 or 1 per request): counts add up across k6-operator's runners
 * in Prometheus, rates do not (src/deploy/k8s-result.ts reads it).
 */
const failures = new Counter("fleet_failed");

export const options = {
  scenarios: { [spec.scenario || "measured"]: scenario(__ENV) },
  tags,
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  // Sub-metrics per API, so the summary has each API's latency and check rate.
  // Thresholds that always pass: they make k6 report these sub-metrics in its summary
  // (client requests only, without setup's health check; and each API on its own).
  thresholds: Object.fromEntries([
    ["http_req_duration{measured:yes}", ["max>=0"]],
    ...Object.keys(spec.mix)
      .filter((api) => spec.mix[api] > 0)
      .flatMap((api) => [
        [`http_req_duration{api:${api}}`, ["max>=0"]],
        [`fleet_errors{api:${api}}`, ["rate>=0"]],
      ]),
    ...Array.from({ length: timelineSeconds }, (_, second) => [`fleet_errors{second:${second}}`, ["rate>=0"]]),
    ...Array.from({ length: windows }, (_, w) => [`fleet_errors{window:${w}}`, ["rate>=0"]]),
    ...(windowLatency ? Array.from({ length: windows }, (_, w) => [`fleet_latency{window:${w}}`, ["max>=0"]]) : []),
  ]),
  discardResponseBodies: false,
  noConnectionReuse: false,
};

export function setup() {
  const res = http.get(`${spec.baseUrl}/health`, { tags: { api: "setup" }, timeout: "5s" });
  if (res.status !== 200) {
    exec.test.abort(`${spec.case} gateway is not up at ${spec.baseUrl} (/health answered ${res.status || res.error}): start it with \`just ${spec.case} up\``);
  }
}

function send(api, id) {
  const request = spec.requests[api];
  const params = { tags: { api, measured: "yes" }, headers: request.headers, timeout: spec.timeout };
  if (request.method === "GET") return http.get(spec.baseUrl + request.path.replace("__ROBOT_ID__", encodeURIComponent(id)), params);
  const body = request.body.replace('"__ROBOT_ID__"', JSON.stringify(id));
  return http.post(spec.baseUrl + request.path, body, params);
}

/** The client answer inside a response body (REST body or GraphQL data field). */
function answer(api, body) {
  if (spec.protocol === "rest") return api === "critical" ? body && body.alerts : body;
  if (!body || body.errors) return undefined;
  return body.data && body.data[spec.requests[api].field];
}

export default function () {
  const random = chooser(exec.vu.idInTest, exec.vu.iterationInInstance);
  const api = pickApi(random, spec.mix);
  const id = robotId(Math.floor(random() * spec.fleetSize), spec.fleetSize);
  const res = send(api, id);
  let body = null;
  try {
    body = res.json();
  } catch (e) {
    body = null;
  }
  const data = answer(api, body);
  const ok = check(res, {
    "status 200": (r) => r.status === 200,
    "no GraphQL errors": () => !(body && body.errors),
    "expected shape": () =>
      api === "dashboard"
        ? !!data && Array.isArray(data.robots) && data.robots.length === spec.fleetSize
        : api === "critical"
          ? Array.isArray(data) && data.length === spec.criticalCount
          : !!data && !!data.robot && Array.isArray(data.recentAlerts),
    "expected robot": () => (api === "monitor" ? !!data && !!data.robot && data.robot.id === id : !!data),
  }, { api });
  const outcome = { api };
  if (timelineSeconds) outcome.second = String(Math.floor((Date.now() - t0) / 1000));
  if (windows) outcome.window = String(Math.floor((Date.now() - exec.scenario.startTime) / (windowSeconds * 1000)));
  if (windows && exec.vu.iterationInInstance === 0) scenarioStart.add(exec.scenario.startTime);
  errors.add(!ok, outcome);
  if (windowLatency) latency.add(res.timings.duration, { window: outcome.window });
  failures.add(ok ? 0 : 1, { api });
}

/**
 * The summary: JSON for the runner at FLEET_SUMMARY (each metric's values, as --summary-export
 * would write them), and one line for the console instead of k6's table, which would list every
 * window's and second's sub-metric.
 */
export function handleSummary(data) {
  if (!__ENV.FLEET_SUMMARY) return {};
  const metrics = Object.fromEntries(Object.entries(data.metrics).map(([name, m]) => [name, m.values]));
  const it = metrics.iterations || { count: 0, rate: 0 };
  const failed = (metrics.fleet_errors && metrics.fleet_errors.passes) || 0;
  const lat = metrics["http_req_duration{measured:yes}"] || {};
  const ms = (v) => (typeof v === "number" ? v.toFixed(1) : "–");
  const dropped = (metrics.dropped_iterations && metrics.dropped_iterations.count) || 0;
  return {
    [__ENV.FLEET_SUMMARY]: JSON.stringify({ metrics }),
    stdout: `\nk6: ${it.count} requests (${it.rate.toFixed(1)}/s), ${failed} failed${dropped ? `, ${dropped} dropped` : ""}; latency p50 ${ms(lat.med)} / p95 ${ms(lat["p(95)"])} / p99 ${ms(lat["p(99)"])} / max ${ms(lat.max)} ms\n`,
  };
}
