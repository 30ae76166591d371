/**
 * One record per request, and everything a run's summary says computed from them (docs/design.md
 * §22): successful throughput per window of any length, latency percentiles overall and per API
 * from an HdrHistogram (kept in the result in its encoded form, so runs, runners and rounds merge),
 * errors by kind, and in the open model the requests the pacer could not send on time.
 *
 * A record is checked here, after the measured window, not by the generator while it runs: a
 * response counts as successful only with status 200, no transport error and a body equal to the
 * one the correctness gate received for the same request.
 */
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { createGunzip, createGzip, gunzipSync } from "node:zlib";
import { createInterface } from "node:readline";
import * as hdr from "hdr-histogram-js";
import { API_NAMES } from "../cases";

/** What became of one request. */
export type Outcome = "ok" | "status" | "body" | "transport";

export interface RequestRecord {
  /** The engine's sequence number: the order requests were sent in. */
  seq: number;
  /** When it was sent, ms after the run's first request. */
  sent_ms: number;
  latency_ms: number;
  /** HTTP status; 0 when no answer came. */
  code: number;
  bytes_in: number;
  api: string;
  /** The robot asked for (monitor), "-" for the others. */
  robot: string;
  outcome: Outcome;
  /** The transport error or the status text, when there was one. */
  error: string;
}

/** The columns of a kept records file (CSV, gzip), in order. */
export const RECORD_COLUMNS = ["seq", "sent_ms", "latency_ms", "code", "bytes_in", "api", "robot", "outcome", "error"] as const;

/** Latencies are recorded in microseconds, to three significant digits, up to an hour. */
const HISTOGRAM = { lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 as const };
export const newHistogram = () => hdr.build(HISTOGRAM);
/** A histogram back from its encoded form (HdrHistogram's compressed base64, readable by its other ports). */
export const decodeHistogram = (encoded: string) => hdr.decodeFromCompressedBase64(encoded);
export const encodeHistogram = (h: hdr.Histogram) => hdr.encodeIntoCompressedBase64(h);

/** Merges encoded histograms (runs, runners or rounds) into one. */
export function mergeHistograms(encoded: string[]): hdr.Histogram {
  const merged = newHistogram();
  for (const e of encoded) merged.add(decodeHistogram(e));
  return merged;
}

const us = (ms: number) => Math.max(1, Math.round(ms * 1000));
const ms3 = (v: number) => Math.round(v * 1000) / 1000;

/** p50/p90/p95/p99/max in ms of a histogram in microseconds; nulls when it is empty. */
export function percentiles(h: hdr.Histogram) {
  if (h.totalCount === 0) return { p50: null, p90: null, p95: null, p99: null, max: null };
  const at = (p: number) => ms3(h.getValueAtPercentile(p) / 1000);
  // max as the other percentiles are read (its bucket's highest value), so a histogram and its encoded copy agree.
  return { p50: at(50), p90: at(90), p95: at(95), p99: at(99), max: at(100) };
}

export interface SummaryOptions {
  mode: "duration" | "iterations" | "rate";
  windowSeconds: number;
  /** Whole windows expected (duration ÷ window length); 0 in iterations mode, which counts what it fills. */
  windows: number;
  /** The offered rate and the run's length (open model): what the pacer was asked to send. */
  rate?: number;
  durationS?: number;
  /** When the first request was sent, ms since the epoch: the windows' clock. */
  startMs: number;
  /** Whole seconds of errors to count from `timelineT0Ms` (fault-injection runs). */
  timelineT0Ms?: number;
}

/** A request sent later than this after its scheduled time (open model) was not sent on time. */
export const LATE_MS = 1000;

/**
 * The summary of a run from its records. Pure: the arithmetic is tested on small hand-made sets.
 * Windows count the successful requests that ended in each, from the first request on; in
 * iterations mode the windows it filled, its partial last one left out.
 */
export function summarize(records: RequestRecord[], o: SummaryOptions) {
  const all = newHistogram();
  const perApi = new Map<string, { h: hdr.Histogram; requests: number; failed: number }>();
  const errors: Record<Outcome, number> = { ok: 0, status: 0, body: 0, transport: 0 };
  const windowMs = o.windowSeconds * 1000;
  const ended = o.windows > 0 ? o.windows + 1 : 0;
  const okPerWindow: number[] = Array.from({ length: ended }, () => 0);
  const windowHist: hdr.Histogram[] = o.mode === "iterations" ? [] : Array.from({ length: ended }, newHistogram);
  const timeline = new Map<number, { requests: number; errors: number }>();
  let late = 0;
  let lastEnd = 0;
  for (const r of records) {
    errors[r.outcome]++;
    const ok = r.outcome === "ok";
    const api = perApi.get(r.api) ?? { h: newHistogram(), requests: 0, failed: 0 };
    api.requests++;
    if (!ok) api.failed++;
    perApi.set(r.api, api);
    const end = r.sent_ms + r.latency_ms;
    lastEnd = Math.max(lastEnd, end);
    // Latency is that of answered requests, as with any HTTP client; failures are counted apart.
    if (r.code > 0) {
      all.recordValue(us(r.latency_ms));
      api.h.recordValue(us(r.latency_ms));
    }
    const w = Math.floor(end / windowMs);
    if (o.mode === "iterations") {
      while (okPerWindow.length <= w) okPerWindow.push(0);
      if (ok) okPerWindow[w]++;
    } else if (w < ended) {
      if (ok) okPerWindow[w]++;
      if (r.code > 0) windowHist[w].recordValue(us(r.latency_ms));
    }
    if (o.rate && r.sent_ms - (r.seq / o.rate) * 1000 > LATE_MS) late++;
    if (o.timelineT0Ms !== undefined) {
      const second = Math.floor((o.startMs + r.sent_ms + r.latency_ms - o.timelineT0Ms) / 1000);
      const t = timeline.get(second) ?? { requests: 0, errors: 0 };
      t.requests++;
      if (!ok) t.errors++;
      timeline.set(second, t);
    }
  }
  const requests = records.length;
  const okCount = errors.ok;
  const failed = requests - okCount;
  // The run's length: the scheduled duration where there is one, else first request to last answer.
  const seconds = o.durationS && o.mode !== "iterations" ? o.durationS : lastEnd / 1000;
  const scheduled = o.rate && o.durationS ? Math.round(o.rate * o.durationS) : null;
  const unsent = scheduled === null ? 0 : Math.max(0, scheduled - requests);
  let windows: number[];
  if (o.mode === "iterations") {
    windows = okPerWindow.slice(0, -1);
  } else {
    windows = okPerWindow.slice(0, o.windows);
  }
  return {
    requests,
    rps: seconds > 0 ? Math.round((requests / seconds) * 100) / 100 : 0,
    ok_rps: seconds > 0 ? Math.round((okCount / seconds) * 100) / 100 : 0,
    error_rate: requests ? failed / requests : 0,
    /** Requests not sent on time (open model): never sent, plus sent more than LATE_MS late. */
    dropped_iterations: unsent + late,
    unsent,
    late,
    errors: { status: errors.status, body: errors.body, transport: errors.transport },
    latency_ms: percentiles(all),
    per_api: Object.fromEntries(
      API_NAMES.filter((a) => perApi.has(a)).map((a) => {
        const p = perApi.get(a)!;
        return [a, { requests: p.requests, ...percentiles(p.h), error_rate: p.requests ? p.failed / p.requests : 0, histogram: encodeHistogram(p.h) }];
      }),
    ),
    histogram: encodeHistogram(all),
    window_seconds: o.windowSeconds,
    windows: o.windows || o.mode === "iterations" ? windows : null,
    /** Each whole window's latency histogram (encoded): a run's percentiles over its steady windows alone. */
    window_histograms: windowHist.length && o.windows ? windowHist.slice(0, o.windows).map(encodeHistogram) : undefined,
    window_latency_ms: windowHist.length && o.windows
      ? { p50: windowHist.slice(0, o.windows).map((h) => percentiles(h).p50), p95: windowHist.slice(0, o.windows).map((h) => percentiles(h).p95) }
      : null,
    scenario_start_ms: o.startMs,
    ok_requests: okCount,
    timeline: o.timelineT0Ms === undefined ? undefined : [...timeline.entries()].filter(([s]) => s >= 0).sort((a, b) => a[0] - b[0]).map(([second, t]) => ({ second, ...t })),
  };
}

export type RecordSummary = ReturnType<typeof summarize>;

const csvField = (v: string | number) => {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** Writes records as gzip-compressed CSV with a header line (RECORD_COLUMNS). */
export async function writeRecords(path: string, records: RequestRecord[]) {
  const gzip = createGzip();
  const out = createWriteStream(path);
  const done = new Promise<void>((resolve, reject) => {
    out.on("finish", resolve);
    out.on("error", reject);
    gzip.on("error", reject);
  });
  gzip.pipe(out);
  gzip.write(`${RECORD_COLUMNS.join(",")}\n`);
  let chunk = "";
  for (const r of records) {
    chunk += `${RECORD_COLUMNS.map((c) => csvField(r[c])).join(",")}\n`;
    if (chunk.length > 1 << 16) {
      gzip.write(chunk);
      chunk = "";
    }
  }
  gzip.end(chunk);
  await done;
}

/** Splits one CSV line (fields quoted as writeRecords quotes them). */
function splitCsv(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (line[q + 1] === '"') {
          value += `${line.slice(i, q)}"`;
          i = q + 2;
        } else {
          value += line.slice(i, q);
          i = q + 2;
          break;
        }
      }
      fields.push(value);
    } else {
      const comma = line.indexOf(",", i);
      const end = comma === -1 ? line.length : comma;
      fields.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return fields;
}

/** Reads a kept records file back. */
export function readRecords(path: string): RequestRecord[] {
  const lines = gunzipSync(readFileSync(path)).toString("utf8").split("\n").filter(Boolean);
  const header = lines.shift()?.split(",") ?? [];
  if (header.join(",") !== RECORD_COLUMNS.join(",")) throw new Error(`${path}: not a fleetbench records file (header ${header.join(",")})`);
  return lines.map((line) => {
    const f = splitCsv(line);
    return { seq: Number(f[0]), sent_ms: Number(f[1]), latency_ms: Number(f[2]), code: Number(f[3]), bytes_in: Number(f[4]), api: f[5], robot: f[6], outcome: f[7] as Outcome, error: f[8] ?? "" };
  });
}

/** Lines of a (possibly gzip-compressed) text file, streamed. */
export function lines(path: string): AsyncIterable<string> {
  const raw = createReadStream(path);
  const input = path.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
  return createInterface({ input, crlfDelay: Infinity });
}

/**
 * One summary from the records of P engine processes (Kubernetes' load pods): the records merged
 * on one clock (the earliest first request), each process's own pacing judged on its own (its
 * share of the rate: R/P), late and unsent requests added up.
 */
export function summarizeMerged(parts: { records: RequestRecord[]; startMs: number }[], o: Omit<SummaryOptions, "startMs">) {
  const startMs = Math.min(...parts.map((p) => p.startMs));
  const merged = parts
    .flatMap((p) => p.records.map((r) => ({ ...r, sent_ms: Math.round((r.sent_ms + p.startMs - startMs) * 1000) / 1000 })))
    .sort((a, b) => a.sent_ms - b.sent_ms)
    .map((r, seq) => ({ ...r, seq }));
  const paced = o.rate ? parts.map((p) => summarize(p.records, { ...o, rate: o.rate! / parts.length, startMs: p.startMs, timelineT0Ms: undefined })) : [];
  const summary = summarize(merged, { ...o, rate: undefined, startMs });
  const late = paced.reduce((s, p) => s + p.late, 0);
  const unsent = paced.reduce((s, p) => s + p.unsent, 0);
  return { records: merged, summary: { ...summary, late, unsent, dropped_iterations: late + unsent } };
}
