/**
 * The metronome (src/run/metronome.ts, `just compare --metronome`): a real metronome process is read
 * and stopped, and stops itself when its comparison is killed. A real comparison with it is in
 * test/report.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { metronomeMark, metronomeSince, METRONOME_HZ, startMetronome, stopMetronome } from "../src/run/metronome";
import { spawn } from "../src/runtime";
import { metronomesOf } from "./procs";

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("the metronome process", () => {
  test("it beats while a comparison runs, its CPU is read per window, and it is gone once stopped", async () => {
    expect(await startMetronome()).toBeNull();
    const [pid] = metronomesOf(process.pid);
    expect(pid).toBeGreaterThan(0);
    const mark = metronomeMark();
    await sleep(1500);
    const reading = metronomeSince(mark)!;
    expect(reading.hz).toBe(METRONOME_HZ);
    // 60 beats of real work a second: more than nothing, far less than a core.
    expect(reading.cpu_ms_per_s).toBeGreaterThan(0.5);
    expect(reading.cpu_ms_per_s).toBeLessThan(500);
    await stopMetronome();
    expect(metronomesOf(process.pid)).toEqual([]);
    expect(metronomeMark()).toBeNull();
    expect(metronomeSince(mark)).toBeNull();
  });

  test("a comparison killed outright (SIGKILL) leaves no metronome behind: it stops itself", async () => {
    const script = `import { startMetronome } from ${JSON.stringify(join(import.meta.dirname, "..", "src", "run", "metronome.ts"))};\nconsole.log(await startMetronome() ?? "started");\nsetInterval(() => {}, 1000);\n`;
    const child = spawn([process.execPath, "-e", script], { stdout: "pipe" });
    const reader = child.stdout!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value).trim()).toBe("started");
    expect(metronomesOf(child.pid)).toHaveLength(1);
    child.kill("SIGKILL");
    await child.exited;
    const until = Date.now() + 5000;
    while (metronomesOf(child.pid).length && Date.now() < until) await sleep(100);
    expect(metronomesOf(child.pid)).toEqual([]);
  });
});
