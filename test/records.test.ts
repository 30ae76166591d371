/**
 * The load engine's records and what is computed from them (src/run/engine/): a small recorded
 * vegeta output (test/fixtures/vegeta-12-requests.bin: 12 requests of an iterations run, two
 * workers, against a server answering one 502 and two changed bodies) read through the real
 * `vegeta encode`, every answer checked, and the windows, percentiles and errors it gives
 * against values worked out by hand from that file; the histogram's merge; the targets and the
 * command of each mode.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config";
import { caseSpec } from "../src/run/cases";
import { decodeHistogram, mergeHistograms, newHistogram, encodeHistogram, percentiles, readRecords, type RequestRecord, summarize, writeRecords } from "../src/run/engine/records";
import { answerKey, attackArgs, epochMs, nthRequest, readVegeta, targetCount, targetLines, toRecord, TARGET_CYCLE } from "../src/run/engine/vegeta";
import { ensureTools, vegetaBinary } from "../src/run/tools";

const config = loadConfig();
const FIXTURE = join(import.meta.dirname, "fixtures", "vegeta-12-requests.bin");
/** What the gate would have received for each request of the fixture (base64 bodies). */
const EXPECTED = new Map([
  ["dashboard:-", "eyJyb2JvdHMiOltdfQ=="], // {"robots":[]}
  ["monitor:robot-001", "eyJyb2JvdCI6eyJpZCI6InJvYm90LTAwMSJ9fQ=="],
  ["monitor:robot-002", "eyJyb2JvdCI6eyJpZCI6InJvYm90LTAwMiJ9fQ=="],
  ["critical:-", "eyJhbGVydHMiOltdfQ=="],
]);

let records: RequestRecord[] = [];
let startMs = 0;
beforeAll(async () => {
  await ensureTools(config, ["vegeta"], () => {});
  ({ records, startMs } = await readVegeta(vegetaBinary(config), FIXTURE, EXPECTED));
});

describe("a recorded vegeta run, read back", () => {
  test("every request once, in send order, the end-of-targets marker left out; each checked against the gate's answer", () => {
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(startMs).toBe(epochMs("2026-12-06T08:32:32.175563279Z"));
    expect(records.map((r) => r.outcome)).toEqual(["ok", "ok", "ok", "ok", "status", "body", "ok", "body", "ok", "ok", "ok", "ok"]);
    expect(records[4]).toMatchObject({ api: "critical", robot: "-", code: 502, error: "502 Bad Gateway" });
    expect(records[5]).toMatchObject({ api: "monitor", robot: "robot-002", code: 200, error: "answer differs from the gate's" });
    // Send times and latencies (ms), from the file's nanoseconds.
    expect(records[3].sent_ms).toBeCloseTo(4.237, 3);
    expect(records[3].latency_ms).toBeCloseTo(12.511, 3);
    expect(records[11].sent_ms).toBeCloseTo(24.138, 3);
  });

  test("the summary by hand: 9 of 12 successful, windows of 10 ms [3, 3, 2] (the partial fourth left out), errors by kind and API", () => {
    const s = summarize(records, { mode: "iterations", windowSeconds: 0.01, windows: 0, startMs });
    expect(s.requests).toBe(12);
    expect(s.ok_requests).toBe(9);
    expect(s.error_rate).toBe(0.25);
    expect(s.errors).toEqual({ status: 1, body: 2, transport: 0 });
    expect(s.windows).toEqual([3, 3, 2]);
    expect(s.dropped_iterations).toBe(0);
    // First request to last answer: 36.867 ms; 12 requests in it.
    expect(s.rps).toBeCloseTo(12 / 0.036867, 0);
    expect(s.per_api.dashboard).toMatchObject({ requests: 5, error_rate: 0 });
    expect(s.per_api.monitor.requests).toBe(6);
    expect(s.per_api.monitor.error_rate).toBeCloseTo(2 / 6, 9);
    expect(s.per_api.critical).toMatchObject({ requests: 1, error_rate: 1 });
    // The same windows for a 30 ms duration run of 10 ms windows: three whole ones.
    expect(summarize(records, { mode: "duration", windowSeconds: 0.01, windows: 3, startMs, durationS: 0.03 }).windows).toEqual([3, 3, 2]);
  });

  test("percentiles within HdrHistogram's 3 significant digits of the exact order statistics of the 12 latencies", () => {
    const exact = [2.329239, 2.340246, 2.341903, 2.344351, 2.435666, 2.70466, 2.715165, 3.454656, 4.035411, 12.332872, 12.511082, 12.729205];
    const s = summarize(records, { mode: "iterations", windowSeconds: 1, windows: 0, startMs });
    // Nearest rank: p50 the 6th, p90 the 11th (ceil 10.8), p95 and p99 the 12th.
    const near = (got: number | null, want: number) => expect(Math.abs(got! / want - 1)).toBeLessThan(0.001);
    near(s.latency_ms.p50, exact[5]);
    near(s.latency_ms.p90, exact[10]);
    near(s.latency_ms.p95, exact[11]);
    near(s.latency_ms.p99, exact[11]);
    near(s.latency_ms.max, exact[11]);
    near(s.per_api.dashboard.p50, 2.70466); // dashboard: 2.329, 2.342, 2.705, 4.035, 12.729 → the 3rd is 2.70466
  });

  test("kept records survive the trip through their gzip CSV file, error text with commas and quotes included", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "fleet-records-")), "r.records.csv.gz");
    const odd = { ...records[4], error: 'Get "http://x", refused' };
    await writeRecords(path, [...records, odd]);
    expect(readRecords(path)).toEqual([...records, odd]);
  });
});

describe("the histogram", () => {
  test("encoded, decoded and merged: counts add, percentiles of the merge are those of all values together", () => {
    const a = newHistogram();
    const b = newHistogram();
    const all = newHistogram();
    for (let v = 1; v <= 1000; v++) {
      (v % 2 ? a : b).recordValue(v * 100);
      all.recordValue(v * 100);
    }
    const merged = mergeHistograms([encodeHistogram(a), encodeHistogram(b)]);
    expect(merged.totalCount).toBe(1000);
    expect(percentiles(merged)).toEqual(percentiles(all));
    expect(percentiles(merged).p50).toBeCloseTo(50, 1); // 50,000 µs
    expect(decodeHistogram(encodeHistogram(all)).getValueAtPercentile(99)).toBe(all.getValueAtPercentile(99));
    expect(percentiles(newHistogram())).toEqual({ p50: null, p90: null, p95: null, p99: null, max: null });
  });
});

describe("the open model's pacer", () => {
  const at = (seq: number, sent: number): RequestRecord => ({ seq, sent_ms: sent, latency_ms: 5, code: 200, bytes_in: 1, api: "dashboard", robot: "-", outcome: "ok", error: "" });
  test("requests sent more than a second behind their schedule are late, those never sent unsent; both are not sent on time", () => {
    // 10 requests/s for 1 s: 10 scheduled, 8 sent, the last two of them 1.5 s late.
    const sent = [...Array.from({ length: 6 }, (_, i) => at(i, i * 100)), at(6, 2100), at(7, 2200)];
    const s = summarize(sent, { mode: "rate", windowSeconds: 1, windows: 1, rate: 10, durationS: 1, startMs: 0 });
    expect({ unsent: s.unsent, late: s.late, dropped: s.dropped_iterations }).toEqual({ unsent: 2, late: 2, dropped: 4 });
    const onTime = summarize(Array.from({ length: 10 }, (_, i) => at(i, i * 100 + 20)), { mode: "rate", windowSeconds: 1, windows: 1, rate: 10, durationS: 1, startMs: 0 });
    expect(onTime.dropped_iterations).toBe(0);
    expect(onTime.rps).toBe(10);
  });
});

describe("vegeta's targets and command", () => {
  test("the request sequence is seeded: the same on every call, the mix held over a cycle, robots within the fleet", () => {
    const mix = { dashboard: 50, monitor: 30, critical: 20 };
    const seq = Array.from({ length: TARGET_CYCLE }, (_, n) => nthRequest(n, mix, 15));
    expect(Array.from({ length: 50 }, (_, n) => nthRequest(n, mix, 15))).toEqual(seq.slice(0, 50));
    const share = (api: string) => seq.filter((r) => r.api === api).length / seq.length;
    expect(Math.abs(share("dashboard") - 0.5)).toBeLessThan(0.03);
    expect(Math.abs(share("monitor") - 0.3)).toBeLessThan(0.03);
    const robots = new Set(seq.filter((r) => r.api === "monitor").map((r) => r.robot));
    expect(robots.size).toBe(15);
    expect([...robots].every((r) => /^robot-0(0[1-9]|1[0-5])$/.test(r))).toBe(true);
    expect(seq.filter((r) => r.api !== "monitor").every((r) => r.robot === "-")).toBe(true);
  });

  test("each target names its answer in a fragment; GraphQL bodies carry the robot", () => {
    const rest = targetLines(caseSpec("case1"), config, { monitor: 100 }, 15, 3).trim().split("\n").map((l) => JSON.parse(l));
    for (const t of rest) {
      const robot = t.url.split("#monitor:")[1];
      expect(t.url).toBe(`${config.urls.gateway}/api/robots/${robot}/monitor#${answerKey("monitor", robot)}`);
      expect(t.method).toBe("GET");
    }
    const gql = JSON.parse(targetLines(caseSpec("case2"), config, { monitor: 100 }, 15, 1).trim());
    const robot = gql.url.split("#monitor:")[1];
    expect(gql.url).toBe(`${config.urls.gateway}/graphql#monitor:${robot}`);
    expect(JSON.parse(Buffer.from(gql.body, "base64").toString()).variables).toEqual({ id: robot });
    expect(gql.header["content-type"]).toEqual(["application/json"]);
  });

  test("each mode's command: closed N workers, open a pacer with up to 2 × the rate, iterations exactly COUNT targets read lazily", () => {
    const o = { timeoutMs: 30000, keepBodies: true };
    const closed = attackArgs("vegeta", { mode: "duration", vus: 10, duration: "30s" }, "t", "out", o);
    expect(closed).toEqual(expect.arrayContaining(["-rate=0", "-duration=30s", "-workers=10", "-max-workers=10", "-max-body=-1", "-timeout=30000ms"]));
    const open = attackArgs("vegeta", { mode: "rate", vus: 10, rate: 150, duration: "20s" }, "t", "out", { ...o, prometheusAddr: "127.0.0.1:18880" });
    expect(open).toEqual(expect.arrayContaining(["-rate=150/1s", "-duration=20s", "-workers=38", "-max-workers=300", "-prometheus-addr=127.0.0.1:18880"]));
    const its = attackArgs("vegeta", { mode: "iterations", vus: 4, iterations: 40 }, "t", "out", { ...o, keepBodies: false });
    expect(its).toEqual(expect.arrayContaining(["-lazy", "-rate=0", "-workers=4", "-max-workers=4", "-max-body=0"]));
    expect(its.some((a) => a.startsWith("-duration"))).toBe(false);
    expect(targetCount({ mode: "iterations", vus: 4, iterations: 40 })).toBe(40);
    expect(targetCount({ mode: "rate", vus: 4, rate: 9, duration: "1s" })).toBe(TARGET_CYCLE);
  });

  test("a record without an answer to compare with is a failure, never a success", () => {
    const r = toRecord({ seq: 0, code: 200, timestamp: "2026-12-06T08:32:32.5Z", latency: 1e6, bytes_in: 2, error: "", body: "e30=", url: "http://x/graphql#monitor:robot-999" }, epochMs("2026-12-06T08:32:32Z"), EXPECTED);
    expect(r).toMatchObject({ outcome: "body", error: "no answer from the gate to compare with", sent_ms: 500, latency_ms: 1 });
    expect(toRecord({ seq: 1, code: 0, timestamp: "2026-12-06T08:32:32Z", latency: 5, bytes_in: 0, error: "connection refused", body: null, url: "http://x/#dashboard:-" }, 0, EXPECTED).outcome).toBe("transport");
  });
});
