/**
 * Every compose target for real (DESIGN §19): a Docker engine, the pinned Docker Compose and the
 * images (stand-ins where no registry answers, built here by the same code as `just compose
 * images`). Per target: up, the correctness gate (N = 15, every robot's monitor), the designed
 * internal calls read from each container's /metrics for one request and 20 at once, a short
 * measured run whose per-container CPU adds up to the stack's cgroup total and whose result names
 * its stand-ins, and a `down` that leaves no container, network or volume. And: no engine, or no
 * Compose, is one line and starts nothing.
 *
 * No skipping: a machine without an engine fails the first test, saying why (`.ci/run` installs
 * docker.io and starts its daemon). The native case and PostgreSQL are stopped first: the stack
 * publishes the same ports.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_NAMES, configFor, TARGETS } from "../src/run/cases";
import { paritySignature } from "../src/run/parity";
import { delta, scrapeRequests } from "../src/run/scrape";
import { down } from "../src/run/supervisor";
import { loadConfig } from "../src/config";
import { composeConfig, composeDown, composeGate, composeTarget, composeUp, leftovers, stackContainers } from "../src/deploy/compose";
import { buildStandIns, IMAGES, inspectImage, STAND_IN_LABEL } from "../src/deploy/compose-images";
import { composeLoad } from "../src/deploy/compose-run";
import { buildCompose, COMPOSE_VERSION, composeReady } from "../src/deploy/compose-tools";
import { spawnSync } from "../src/runtime";
import { call, expectedCalls, quiet, times } from "./utils";

setDefaultTimeout(600_000);

const ROOT = join(import.meta.dirname, "..");
const config = loadConfig();
/** Every row compose runs: each case through each of its gateways (Hive Gateway's and Deno's rows are native only). */
const ROWS = TARGETS.filter((t) => t.compose);
const N = 15;
const K = 10;
const CONCURRENT = 20;
const NO_GRAFANA = { grafana: false };
const volumes = () => spawnSync(["docker", "volume", "ls", "-q"]).stdout.toString().trim().split("\n").filter(Boolean).sort();
const cli = (args: string[], env: Record<string, string>) => {
  const r = Bun.spawnSync([join(ROOT, "node_modules", ".bin", "bun"), join(ROOT, "src", "main.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString().trim() };
};

test("a Docker engine and the pinned Docker Compose answer here (.ci/run installs docker.io and starts dockerd; Compose is built once)", async () => {
  await buildCompose(config, quiet);
  const ready = composeReady(config);
  expect(ready).toMatchObject({ compose: COMPOSE_VERSION, engine: expect.any(String) });
});

describe("no engine, or no Compose: one line, nothing started", () => {
  test("DOCKER_HOST at nothing", () => {
    const before = stackContainers().length;
    const r = cli(["compose", "case2", "up", "--no-grafana"], { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    expect(r.code).toBe(2);
    expect(r.err.split("\n")).toHaveLength(1);
    expect(r.err).toContain("cannot run the compose stack here: no Docker engine answers");
    expect(r.err).toContain("nothing was started");
    expect(stackContainers().length).toBe(before);
  });

  test("PATH without docker", () => {
    const r = cli(["compose", "case2", "up"], { PATH: "/nonexistent" });
    expect(r.code).toBe(2);
    expect(r.err.split("\n")).toEqual([expect.stringContaining("cannot run the compose stack here: the docker command is not installed")]);
  });

  test("an engine but no Compose plugin (an empty docker config and tools cache)", () => {
    const empty = mkdtempSync(join(tmpdir(), "fleetbench-no-compose-"));
    const r = cli(["compose", "case2", "up"], { DOCKER_CONFIG: join(empty, "docker"), FLEET_TOOLS_DIR: join(empty, "tools") });
    expect(r.code).toBe(2);
    expect(r.err.split("\n")).toEqual([expect.stringContaining("cannot run the compose stack here: Docker Compose is missing")]);
    expect(r.err).toContain("just compose tools");
  });
});

describe("images", () => {
  test("every image the stacks run is here: the official one, or a stand-in under its name and labelled as one", async () => {
    const states = await buildStandIns(config, quiet);
    for (const image of [IMAGES.postgres, IMAGES.bun, IMAGES.prometheus, IMAGES.router, IMAGES.hiveRouter, IMAGES.nginx]) {
      const state = states.find((s) => s.image === image)!;
      expect({ image, state: state.state }).not.toEqual({ image, state: "missing" });
      const info = inspectImage(image)!;
      expect(info.id).toBe(state.id!);
      // A stand-in says so in its label; an official image carries none of ours.
      expect(info.standInOf).toBe(state.state === "official" ? null : image);
    }
    // Built again with nothing changed: nothing is rebuilt.
    expect((await buildStandIns(config, quiet)).map((s) => s.state)).not.toContain("built");
  });
});

for (const row of ROWS) {
  const caseName = row.case;
  // The row's gateway chosen as a user chooses it (CASE3_GATEWAY, REST_GATEWAY), the rest of this shell's configuration kept.
  const config = configFor(row, loadConfig());
  describe(`${row.label} under compose`, () => {
    const target = composeTarget(caseName, config);
    const cfg = composeConfig(caseName, config);
    const processes = target.processes.map((p) => ({ name: p.name, port: p.port(cfg), requestMetrics: p.requestMetrics }));
    let volumesBefore: string[] = [];

    beforeAll(async () => {
      await down(config, quiet); // the native case and PostgreSQL hold the ports the stack publishes
      volumesBefore = volumes();
      await composeUp(config, caseName, NO_GRAFANA, quiet, true);
    });
    afterAll(async () => {
      if (stackContainers().length) await composeDown(config, caseName, quiet, true);
    });

    test("its processes run in containers of the official images' names, the gateway's through its own image", () => {
      const running = stackContainers().filter((c) => c.state === "running");
      expect(running.map((c) => c.service).sort()).toEqual([...target.processes.map((p) => p.name), "postgres", "prometheus"].sort());
      expect(running.find((c) => c.service === "postgres")!.image).toBe(IMAGES.postgres);
      expect(target).toBe(row);
      const images: Record<string, string> = { "apollo-router": IMAGES.router, "hive-router": IMAGES.hiveRouter, nginx: IMAGES.nginx };
      if (images[row.gateway]) expect(running.find((c) => c.service === row.gateway)!.image).toBe(images[row.gateway]);
    });

    test(`answers as the database: the correctness gate, N = ${N}, every robot's monitor`, async () => {
      const gate = await composeGate(config, caseName, quiet);
      expect(gate.failures).toEqual([]);
      expect(gate.checked).toBe(2 + N);
    });

    for (const api of API_NAMES) {
      test(`${api}: the designed internal calls from each container's /metrics, one request and ${CONCURRENT} at once`, async () => {
        const per = expectedCalls(caseName, api, N, K, target.gateway);
        const before = await scrapeRequests(processes);
        const single = await call(caseName, api, "robot-002", cfg);
        expect(single.status).toBe(200);
        expect(single.answer).toBeTruthy();
        expect(delta(before, await scrapeRequests(processes))).toEqual(per);
        const start = await scrapeRequests(processes);
        const many = await Promise.all(Array.from({ length: CONCURRENT }, () => call(caseName, api, "robot-003", cfg)));
        for (const r of many) expect(r.status).toBe(200);
        expect(delta(start, await scrapeRequests(processes))).toEqual(times(per, CONCURRENT));
      });
    }

    test("a short measured run: the native result format, platform compose, per-container CPU adding up to the stack's cgroup, stand-ins named", async () => {
      const { result } = await composeLoad(config, { case: caseName, mode: "rate", vus: 10, rate: 40, duration: "15s", warmup: "2s" }, quiet, { ...NO_GRAFANA, keepStack: true });
      expect(result.status).toBe("complete");
      expect(result.summary!.error_rate).toBe(0);
      expect(result.fingerprint.platform).toBe("compose");
      // Steal and foreign CPU per window, and the parity record, as a native run has them.
      const stability = result.extra.stability as { steal_pct?: number; foreign_cpu_pct_windows?: (number | null)[] };
      expect(stability.steal_pct).toEqual(expect.any(Number));
      expect(stability.foreign_cpu_pct_windows!.length).toBeGreaterThan(0);
      expect(paritySignature(result.extra.parity)).not.toBe("none recorded");
      expect((result.extra.parity as { processes: Record<string, { runtime: string }> }).processes.postgres.runtime).toBe("container");
      expect(Object.keys(result.resources).sort()).toEqual([...target.processes.map((p) => p.name), "postgres", "docker-proxy", "vegeta"].sort());
      for (const [name, r] of Object.entries(result.resources)) expect({ name, cpu: r.cpu_seconds > 0 }).toEqual({ name, cpu: true });
      // Every container of the stack, Prometheus too: their cgroups' sum is the parent cgroup's count over the same window.
      const stack = result.extra.stack_cgroup as { parent: string | null; cpu_seconds: number | null; containers_cpu_seconds: number };
      const facts = result.fingerprint.compose as Record<string, unknown>;
      if (facts.cgroup_version === "1" && facts.cgroup_driver === "cgroupfs") {
        expect(stack.parent).toEndWith("/docker");
        expect(Math.abs(stack.containers_cpu_seconds - stack.cpu_seconds!)).toBeLessThan(0.02 * stack.cpu_seconds! + 0.05);
      }
      const containers = result.extra.containers as Record<string, { cpu_seconds: number }>;
      for (const name of Object.keys(result.resources).filter((n) => n !== "vegeta" && n !== "docker-proxy")) {
        expect(result.resources[name].cpu_seconds).toBeCloseTo(containers[name].cpu_seconds, 1);
      }
      // The calls per request the mix implies (50/30/20), from the containers' own counters.
      for (const [name, perRequest] of Object.entries(result.calls_per_request)) expect({ name, counted: perRequest > 0 }).toEqual({ name, counted: true });
      // Each image recorded with its id, and named a stand-in exactly when it is one.
      const images = result.fingerprint.images as Record<string, { image: string; id: string; stand_in: boolean }>;
      for (const [service, record] of Object.entries(images)) {
        const info = inspectImage(record.image)!;
        expect({ service, id: record.id, stand_in: record.stand_in }).toEqual({ service, id: info.id, stand_in: info.standInOf !== null });
      }
      expect(result.fingerprint.stand_in).toBe(Object.values(images).some((r) => r.stand_in));
      if (inspectImage(IMAGES.postgres)!.standInOf) expect(images.postgres.stand_in).toBe(true);
      expect(STAND_IN_LABEL).toBe("org.fleetbench.stand-in");
    });

    test("down leaves no container, network or volume behind", async () => {
      await composeDown(config, caseName, quiet, true);
      expect(leftovers()).toEqual({ containers: [], networks: [], volumes: [] });
      expect(stackContainers()).toEqual([]);
      expect(volumes()).toEqual(volumesBefore);
    });
  });
}

describe("compare --platforms native,compose: the same case natively and under compose, in the same rounds", () => {
  test("a target compose cannot run is refused in one line before anything starts", () => {
    const r = cli(["compare", "--cases", "case3,case3", "--gateways", "hive-gateway", "--platforms", "compose", "--rate", "10", "2s"], {});
    expect(r.code).toBe(2);
    expect(r.err).toContain("runs under compose");
    expect(stackContainers()).toEqual([]);
  });

  test("two rounds: a column per platform, paired verdicts between them, the stack down after each compose run", async () => {
    await down(config, quiet);
    const results = mkdtempSync(join(tmpdir(), "fleetbench-platforms-"));
    const r = cli(["compare", "--cases", "case1b", "--platforms", "native,compose", "--repeat", "2", "--rate", "40", "4s", "--warmup", "1s"], { FLEET_RESULTS_DIR: results });
    expect({ code: r.code, err: r.err.split("\n").slice(-5).join("\n") }).toEqual({ code: 0, err: expect.any(String) });
    expect(r.out).toContain("case1b under compose");
    const file = (await Array.fromAsync(new Bun.Glob("compare-*.json").scan(results)))[0];
    const comparison = JSON.parse(await Bun.file(join(results, file)).text());
    expect(comparison.targets.sort()).toEqual(["case1b · rest-gateway", "case1b · rest-gateway · compose"]);
    expect(comparison.params.platforms).toEqual(["native", "compose"]);
    expect(comparison.runs.length).toBe(4);
    // Each round has one run of each platform, and the pair is decided (or not) from the rounds' ratios.
    for (const round of [1, 2]) expect(comparison.runs.filter((run: { round: number }) => run.round === round).map((run: { target: string }) => run.target).sort()).toEqual(comparison.targets);
    const pair = comparison.metrics.cpu_ms_total.pairs[0];
    // A 4 s run the steady-state check leaves out costs its round's pair, said in `lost`, never silently.
    const leftOut = comparison.runs.filter((run: { excluded: string | null }) => run.excluded).map((run: { round: number }) => run.round);
    expect(pair.paired.rounds + pair.paired.lost.length).toBe(2);
    expect(pair.paired.lost.map((l: { round: number }) => l.round).sort()).toEqual([...new Set(leftOut)].sort());
    expect(["lower", "higher", "equivalent", "inconclusive"]).toContain(pair.paired.verdict);
    for (const run of comparison.runs) {
      const result = JSON.parse(await Bun.file(join(results, run.file)).text());
      expect(result.fingerprint.platform ?? "native").toBe(run.target.endsWith("· compose") ? "compose" : "native");
      if (run.target.endsWith("· compose")) expect(typeof result.fingerprint.stand_in).toBe("boolean");
      expect(paritySignature(result.extra.parity)).not.toBe("none recorded");
    }
    expect(leftovers()).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
