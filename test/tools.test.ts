/**
 * Tool builds that cannot hurt each other (src/run/tools.ts): each build owns its target folder
 * and cleans only that, and a second build of the same tool waits for the first. Real builds of a
 * stand-in tool (test/fixtures/fake-tool.ts) in processes of their own, into a temporary tools
 * folder: never the real cache.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = `${import.meta.dirname}/..`;
const toolsDir = mkdtempSync(join(tmpdir(), "fleetbench-tools-test-"));
afterAll(() => rmSync(toolsDir, { recursive: true, force: true }));

const build = (name: string, seconds: number) =>
  Bun.spawn([`${ROOT}/node_modules/.bin/bun`, "test/fixtures/fake-tool.ts", name, String(seconds)], {
    cwd: ROOT,
    env: { ...process.env, FLEET_TOOLS_DIR: toolsDir },
    stdout: "pipe",
    stderr: "pipe",
  });
const finished = async (child: ReturnType<typeof build>) => ({ code: await child.exited, out: await new Response(child.stdout).text(), err: await new Response(child.stderr).text() });

async function until(what: string, ok: () => boolean, ms = 15_000) {
  for (const end = Date.now() + ms; !ok(); await Bun.sleep(50)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

test("a tool built while another is building leaves the other's build intact, and cleans only its own target folder", async () => {
  const long = build("slowtool", 4);
  await until("the long build's object", () => existsSync(join(toolsDir, "slowtool-1.0.0.target", "slowtool.o")));
  const quick = await finished(build("quicktool", 0));
  expect(quick.code).toBe(0);
  expect(readFileSync(join(toolsDir, "quicktool-1.0.0", "bin", "quicktool"), "utf8")).toBe("quicktool object\n");
  // The quick build is done and cleaned up; the long one's target folder is still there, mid-build.
  expect(existsSync(join(toolsDir, "quicktool-1.0.0.target"))).toBe(false);
  expect(existsSync(join(toolsDir, "slowtool-1.0.0.target", "slowtool.o"))).toBe(true);
  const slow = await finished(long);
  expect({ code: slow.code, err: slow.err }).toEqual({ code: 0, err: "" });
  expect(readFileSync(join(toolsDir, "slowtool-1.0.0", "bin", "slowtool"), "utf8")).toBe("slowtool object\n");
  // Nothing left behind but the two tools and their build counts.
  expect(readdirSync(toolsDir).sort()).toEqual(["quicktool-1.0.0", "quicktool.builds", "slowtool-1.0.0", "slowtool.builds"]);
});

test("a second build of the same tool waits for the first and finds the tool built: one build", async () => {
  const first = build("sametool", 2);
  await until("the first build to start", () => existsSync(join(toolsDir, "sametool.builds")));
  const second = await finished(build("sametool", 2));
  const one = await finished(first);
  expect([one.code, second.code]).toEqual([0, 0]);
  expect(second.out).toContain("is being built by process");
  expect(second.out).toContain(`sametool 1.0.0: ${join(toolsDir, "sametool-1.0.0", "bin", "sametool")}`);
  expect(readFileSync(join(toolsDir, "sametool.builds"), "utf8").trim().split("\n")).toHaveLength(1);
  expect(existsSync(join(toolsDir, "sametool-1.0.0.lock"))).toBe(false);
});

test("a lock left by a build that died is taken over", async () => {
  // A pid that is not running (pid_max is at most 2^22).
  await Bun.write(join(toolsDir, "deadtool-1.0.0.lock"), "4194303\n");
  const r = await finished(build("deadtool", 0));
  expect(r.code).toBe(0);
  expect(r.out).not.toContain("is being built by process");
  expect(existsSync(join(toolsDir, "deadtool-1.0.0", "bin", "deadtool"))).toBe(true);
});
