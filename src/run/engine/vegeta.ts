/**
 * vegeta, the default load engine (docs/design.md §22): the targets it sends (the case table's
 * requests in a seeded order), its command for each mode, and its records read back through
 * `vegeta encode` (its machine output, never its text report).
 *
 *   closed model   -rate=0 -workers=N -max-workers=N        N workers, each sending when its answer came
 *   open model     -rate=R/1s, workers up to 2 × R          the pacer holds the rate; late or unsent is counted
 *   iterations     -lazy over exactly COUNT targets          N workers share COUNT requests
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { type ApiName, type CaseSpec, clientRequest } from "../cases";
import type { Config } from "../../config";
import { mulberry32, robotId } from "../../determinism.js";
import { measuredEnv } from "../environment";
import { pinnedCommand } from "../pin";
import { spawn } from "../../runtime";
import type { Outcome, RequestRecord } from "./records";

/** The load a run asks for, in any engine. */
export interface LoadShape {
  mode: "duration" | "iterations" | "rate";
  vus: number;
  duration?: string;
  iterations?: number;
  rate?: number;
}

/** Targets sent in a loop in the closed and open models: long enough that the mix holds within a window. */
export const TARGET_CYCLE = 4000;

/** The key of one request's expected answer: its API and robot ("-" when it names none). */
export const answerKey = (api: string, robot: string) => `${api}:${robot}`;

/**
 * The n-th request of every run: an API from the mix and a robot, from a PRNG seeded by n alone,
 * so every run of the same parameters sends the same sequence on every machine.
 */
export function nthRequest(n: number, mix: Record<string, number>, fleetSize: number): { api: ApiName; robot: string } {
  const random = mulberry32(Math.imul(n + 1, 0x9e3779b1) ^ 0x85ebca6b);
  const names = Object.keys(mix).filter((k) => mix[k] > 0) as ApiName[];
  const total = names.reduce((s, k) => s + mix[k], 0);
  let x = random() * total;
  let api = names[names.length - 1];
  for (const name of names) {
    x -= mix[name];
    if (x < 0) {
      api = name;
      break;
    }
  }
  return { api, robot: api === "monitor" ? robotId(Math.floor(random() * fleetSize), fleetSize) : "-" };
}

/**
 * vegeta's JSON targets, one per line. The URL's fragment names the request (`#monitor:robot-007`):
 * an HTTP client never sends a fragment, and vegeta records the URL, so each record says what it
 * asked for even when the body of the request (GraphQL) is what differs.
 */
export function targetLines(spec: CaseSpec, config: Config, mix: Record<string, number>, fleetSize: number, count: number, first = 0): string {
  const cache = new Map<string, string>();
  const line = (api: ApiName, robot: string) => {
    const key = answerKey(api, robot);
    let text = cache.get(key);
    if (!text) {
      const r = clientRequest(spec, config, api, robot === "-" ? undefined : robot);
      const headers = Object.fromEntries(Object.entries((r.init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k, [v]]));
      const target: Record<string, unknown> = { method: r.init.method, url: `${r.url}#${key}`, header: headers };
      if (typeof r.init.body === "string") target.body = Buffer.from(r.init.body).toString("base64");
      text = JSON.stringify(target);
      cache.set(key, text);
    }
    return text;
  };
  const out: string[] = [];
  for (let n = first; n < first + count; n++) {
    const { api, robot } = nthRequest(n, mix, fleetSize);
    out.push(line(api, robot));
  }
  return `${out.join("\n")}\n`;
}

/** The go-style duration vegeta takes ("30s", "5m", "1m30s" pass as they are). */
const goDuration = (d: string) => d;

/** `vegeta attack` arguments for a run of `shape`, its targets in `targetsPath`, its records to `output`. */
export function attackArgs(bin: string, shape: LoadShape, targetsPath: string, output: string, o: { timeoutMs: number; keepBodies: boolean; prometheusAddr?: string }): string[] {
  const args = [bin, "attack", "-format=json", `-targets=${targetsPath}`, `-output=${output}`, `-timeout=${o.timeoutMs}ms`,
    `-max-body=${o.keepBodies ? -1 : 0}`, "-keepalive=true", "-http2=false", "-redirects=0"];
  if (o.prometheusAddr) args.push(`-prometheus-addr=${o.prometheusAddr}`);
  if (shape.mode === "rate") {
    const rate = shape.rate ?? 1;
    // As many workers as requests in flight at 2 s each (k6's maxVUs rule): past that the pacer waits, and the requests are late.
    args.push(`-rate=${rate}/1s`, `-duration=${goDuration(shape.duration ?? "30s")}`, `-workers=${Math.max(shape.vus, Math.ceil(rate / 4))}`, `-max-workers=${Math.max(shape.vus, rate * 2)}`);
  } else if (shape.mode === "iterations") {
    args.push("-lazy", "-rate=0", `-workers=${shape.vus}`, `-max-workers=${shape.vus}`);
  } else {
    args.push("-rate=0", `-duration=${goDuration(shape.duration ?? "30s")}`, `-workers=${shape.vus}`, `-max-workers=${shape.vus}`);
  }
  return args;
}

/** How many targets a run's file holds: exactly COUNT in iterations mode, else one cycle. */
export const targetCount = (shape: LoadShape) => (shape.mode === "iterations" ? shape.iterations ?? 0 : TARGET_CYCLE);

/** Writes the targets file of a run. */
export function writeTargets(path: string, spec: CaseSpec, config: Config, shape: LoadShape, mix: Record<string, number>, fleetSize: number) {
  writeFileSync(path, targetLines(spec, config, mix, fleetSize, targetCount(shape)));
}

/** Starts vegeta with a curated environment (docs/design.md §12), on `cpus` only with --pin. */
export function spawnVegeta(config: Config, args: string[], cpus?: string) {
  return spawn(cpus ? pinnedCommand(cpus, args) : args, { env: measuredEnv(config), stdout: "ignore", stderr: "pipe" });
}

/** ms since the epoch, with the nanoseconds of an RFC 3339 time kept as a fraction. */
export function epochMs(timestamp: string): number {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(timestamp);
  if (!m) return Date.parse(timestamp);
  return Date.parse(`${m[1]}${m[3]}`) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/** vegeta's own record of one request, as `vegeta encode --to=json` writes it. */
export interface VegetaResult {
  seq: number;
  code: number;
  timestamp: string;
  latency: number;
  bytes_in: number;
  error: string;
  body: string | null;
  url: string;
}

/** What vegeta writes when a lazily read target list runs out: the end of an iterations run, not a request. */
export const NO_TARGETS = "no targets to attack";

/**
 * How a body is checked against the gate's answer for its request (answer key → what the gate
 * kept): "ok", "differs", or "missing" when the gate kept nothing for that request.
 */
export type BodyCheck = (key: string, bodyBase64: string) => "ok" | "differs" | "missing";

/** The gate's bodies themselves (base64), as a native or Compose run keeps them. */
export const sameBody = (expected: ReadonlyMap<string, string>): BodyCheck => (key, body) =>
  !expected.has(key) ? "missing" : expected.get(key) === body ? "ok" : "differs";

/** The sha256 (hex) of the gate's bodies, as a gate Job prints them (Kubernetes: the bodies stay in the cluster). */
export const sameHash = (hashes: ReadonlyMap<string, string>): BodyCheck => (key, body) =>
  !hashes.has(key) ? "missing" : createHash("sha256").update(Buffer.from(body, "base64")).digest("hex") === hashes.get(key) ? "ok" : "differs";

/**
 * One vegeta result as a fleetbench record, checked: status 200, no transport error, and the
 * body (base64, as vegeta encodes it) equal to the gate's answer for the same request.
 */
export function toRecord(v: VegetaResult, startMs: number, expected: ReadonlyMap<string, string> | BodyCheck): RequestRecord {
  const check = typeof expected === "function" ? expected : sameBody(expected);
  const hash = v.url.lastIndexOf("#");
  const key = hash >= 0 ? v.url.slice(hash + 1) : "";
  const colon = key.indexOf(":");
  const api = colon >= 0 ? key.slice(0, colon) : "?";
  const robot = colon >= 0 ? key.slice(colon + 1) : "?";
  let outcome: Outcome;
  let error = v.error ?? "";
  if (v.code === 0) outcome = "transport";
  else if (v.code !== 200) outcome = "status";
  else {
    const said = check(key, v.body ?? "");
    outcome = said === "ok" ? "ok" : "body";
    if (said !== "ok") error = said === "differs" ? "answer differs from the gate's" : "no answer from the gate to compare with";
  }
  return {
    seq: v.seq,
    sent_ms: Math.round((epochMs(v.timestamp) - startMs) * 1000) / 1000,
    latency_ms: Math.round(v.latency / 1000) / 1000,
    code: v.code,
    bytes_in: v.bytes_in,
    api,
    robot,
    outcome,
    error,
  };
}

/**
 * Reads a run's vegeta output back as records, checked against `expected` (answer key → body in
 * base64). Returns the records in send order and when the first was sent (ms since the epoch).
 */
export async function readVegeta(bin: string, raw: string, expected: ReadonlyMap<string, string> | BodyCheck): Promise<{ records: RequestRecord[]; startMs: number }> {
  const child = spawn([bin, "encode", "--to=json", raw], { stdout: "pipe", stderr: "pipe" });
  const results: VegetaResult[] = [];
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const cut = text.lastIndexOf("\n");
    rest = text.slice(cut + 1);
    for (const line of text.slice(0, cut + 1).split("\n")) {
      if (!line) continue;
      const v = JSON.parse(line) as VegetaResult;
      if (v.error === NO_TARGETS && !v.url) continue;
      results.push(v);
    }
  }
  if (rest.trim()) results.push(JSON.parse(rest) as VegetaResult);
  const code = await child.exited;
  if (code !== 0) throw new Error(`vegeta encode failed (exit ${code}): ${(await new Response(child.stderr).text()).trim()}`);
  results.sort((a, b) => a.seq - b.seq);
  const startMs = results.length ? Math.min(...results.slice(0, 64).map((r) => epochMs(r.timestamp))) : Date.now();
  return { records: results.map((v) => toRecord(v, startMs, expected)), startMs };
}
