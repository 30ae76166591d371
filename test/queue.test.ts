/**
 * The postgres.js queue fleetbench installs (patches/postgres-queue.js, by src/patch-postgres.mjs):
 * that it is the one Bun and CommonJS actually load, that it behaves exactly like a plain array
 * over long random sequences, and that its storage stays bounded under sustained queueing (the
 * 3.4.9 slowdown, porsager/postgres#747). No sockets.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { mulberry32 } from "../src/determinism.js";
import { POSTGRES_VERSION, TARGETS, patchedSource } from "../src/patch-postgres.mjs";
import InstalledQueue from "../node_modules/postgres/src/queue.js";

const ROOT = resolve(import.meta.dirname, "..");
const PACKAGE = join(ROOT, "node_modules", "postgres");
const CjsQueue = createRequire(import.meta.url)(join(PACKAGE, "cjs", "src", "queue.js"));

type Queue = { readonly length: number; remove(x: unknown): unknown; push(x: unknown): unknown; shift(): unknown };
type Factory = (initial?: unknown[]) => Queue;
const FLAVOURS: [string, Factory][] = [
  ["ESM (src/, what Bun loads)", InstalledQueue as Factory],
  ["CommonJS (cjs/, what require loads)", CjsQueue as Factory],
];

describe("the installed postgres.js runs fleetbench's queue", () => {
  test(`postgres.js is ${POSTGRES_VERSION} and every copy of queue.js is the patched one`, () => {
    expect(JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")).version).toBe(POSTGRES_VERSION);
    for (const target of TARGETS) expect(readFileSync(join(PACKAGE, target.file), "utf8")).toBe(patchedSource(target.format));
  });

  test("Bun resolves postgres to the patched src/ (its \"bun\" export), beside the queue imported here", () => {
    expect(join(dirname(Bun.resolveSync("postgres", ROOT)), "queue.js")).toBe(join(PACKAGE, "src", "queue.js"));
    expect(typeof CjsQueue).toBe("function");
  });
});

/**
 * Random push/shift/remove against a plain array. Phases lean towards pushing or shifting in turn,
 * so the queue both grows long and drains to empty many times. Values repeat (remove takes the
 * oldest equal one) and removes ask for the head, a live item or one never queued.
 */
function checkAgainstModel(Queue: Factory, operations: number, seed: number, initial: number[] = []) {
  const random = mulberry32(seed);
  const queue = Queue(initial);
  const model = initial.slice();
  let pushBias = 0.5;
  let emptied = 0;
  for (let i = 0; i < operations; i++) {
    if (i % 500 === 0) pushBias = 0.15 + random() * 0.6;
    const r = random();
    if (r < pushBias) {
      const value = Math.floor(random() * 200);
      expect(queue.push(value)).toBe(value);
      model.push(value);
    } else if (r < pushBias + (1 - pushBias) * 0.6) {
      expect(queue.shift()).toBe(model.shift());
    } else {
      const pick = random();
      const target = pick < 0.35 ? model[0] : pick < 0.8 ? model[Math.floor(random() * model.length)] : -1 - Math.floor(random() * 5);
      const at = model.indexOf(target as number);
      const expected = at === -1 ? null : (model.splice(at, 1), target);
      expect(queue.remove(target)).toBe(expected as number | null);
    }
    expect(queue.length).toBe(model.length);
    if (model.length === 0) emptied++;
  }
  const rest: unknown[] = [];
  while (queue.length) rest.push(queue.shift());
  expect(rest).toEqual(model);
  expect(queue.shift()).toBeUndefined();
  return emptied;
}

/**
 * An array subclass: `initial.slice()` makes the queue's storage one of these (Symbol.species), so
 * the test can watch how long the storage gets without the queue exposing anything.
 */
class Tracked<T> extends Array<T> {
  static made: Tracked<unknown>[] = [];
  constructor(...args: any[]) {
    super(...args);
    Tracked.made.push(this);
  }
}

for (const [name, Queue] of FLAVOURS) {
  describe(`queue semantics, ${name}`, () => {
    test("200,000 random operations behave exactly like a plain array", () => {
      expect(checkAgainstModel(Queue, 200_000, 747)).toBeGreaterThan(10);
    });

    test("a queue built from initial items starts with them and leaves the array given alone", () => {
      const initial = [1, 2, 3];
      checkAgainstModel(Queue, 5_000, 7, initial);
      expect(initial).toEqual([1, 2, 3]);
    });

    test("edge cases: empty shift, absent and repeated items, remove of the head and of the last item", () => {
      const q = Queue();
      expect(q.shift()).toBeUndefined();
      expect(q.length).toBe(0);
      expect(q.remove("x")).toBeNull();
      const a = { id: "a" };
      const b = { id: "b" };
      q.push(a);
      q.push(b);
      q.push(a);
      expect(q.remove(a)).toBe(a); // the head, the older of the two
      expect(q.length).toBe(2);
      expect(q.shift()).toBe(b);
      expect(q.remove({ id: "a" })).toBeNull(); // equal is not the same
      expect(q.remove(a)).toBe(a);
      expect(q.length).toBe(0);
      expect(q.remove(a)).toBeNull();
      q.push(undefined);
      expect(q.length).toBe(1);
      expect(q.remove(undefined)).toBeUndefined(); // found: remove returns the item, here undefined
      expect(q.remove(undefined)).toBeNull();
    });

    test("sustained queueing: 1,000,000 operations around 50 queued items keep the storage bounded and drop shifted items", () => {
      Tracked.made = [];
      const queue = Queue(new Tracked<unknown>());
      const storage = Tracked.made[1];
      // Guard against a vacuous pass: the storage watched is the one the queue fills.
      expect(Tracked.made.length).toBe(2);
      const random = mulberry32(50);
      const model: object[] = [];
      for (let i = 0; i < 50; i++) model.push(queue.push({ n: i }) as object);
      expect(storage.length).toBe(50);
      let longest = 0;
      let longestQueue = 0;
      for (let i = 0; i < 1_000_000; i++) {
        // Like a busy pool: items keep arriving and leaving (by shift or by remove), 45 to 55 queued.
        if (model.length < 45 || random() < 0.5) model.push(queue.push({ n: i }) as object);
        if (model.length > 55 || random() < 0.5) {
          const r = random();
          if (r < 0.5) expect(queue.shift()).toBe(model.shift());
          else {
            const at = r < 0.75 ? 0 : Math.floor(random() * model.length);
            expect(queue.remove(model[at])).toBe(model.splice(at, 1)[0]);
          }
        }
        if (queue.length !== model.length) expect(queue.length).toBe(model.length);
        longest = Math.max(longest, storage.length);
        longestQueue = Math.max(longestQueue, model.length);
      }
      // 3.4.9's queue never empties here, so its array keeps one dead slot per shift (~250,000).
      expect(longest).toBeLessThanOrEqual(2 * longestQueue + 1);
      // Dead slots hold nothing: shifted and removed items can be collected.
      const dead = storage.length - queue.length;
      for (let i = 0; i < dead; i++) expect(storage[i]).toBeUndefined();
      for (let i = dead; i < storage.length; i++) expect(storage[i]).toBe(model[i - dead]);
    });
  });
}
