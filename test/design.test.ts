/**
 * docs/design.md stays the design the code cites: it has one `## N.` heading for each of §1–§26,
 * in order, and every `§N` cited by the code, the load script, the tests and the stack's files
 * (`DESIGN §13`, `docs/design.md §13`, lists such as `§13, §18`, ranges such as `§12–§13`) has
 * its heading there, so a citation keeps pointing at its topic. No processes: files only.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const DESIGN = join(ROOT, "docs", "design.md");
const SECTIONS = 26;
/** Where citations live: the code, the load script, the tests (this file's own examples aside), the stack's files. */
const CITING = ["src", "k6", "test", "compose", "grafana", "flake.nix", "justfile"];
const SELF = relative(ROOT, import.meta.path);

/** `path` itself, or every file under it, recursively, as paths relative to ROOT. */
function filesUnder(path: string): string[] {
  if (!statSync(join(ROOT, path)).isDirectory()) return [path];
  return readdirSync(join(ROOT, path)).flatMap((name) => filesUnder(join(path, name)));
}

/** The section numbers of the `## N.` headings, in document order. */
export function headings(markdown: string): number[] {
  return [...markdown.matchAll(/^## (\d+)\. \S/gm)].map((m) => Number(m[1]));
}

/**
 * The sections a text cites. fleetbench uses `§` for its design only, so every `§N` is read as
 * one — `DESIGN §13`, `docs/design.md §13`, the `§18` of `DESIGN §13, §18` or of a later
 * `(§18)` — and a range (`§12–§14`, `§12–14`) as every section in it. Each with its line.
 */
export function citations(text: string): { numbers: number[]; line: number }[] {
  return [...text.matchAll(/§\s*(\d+)(?:\s*[–—-]\s*§?\s*(\d+))?/g)].map((m) => {
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const numbers = to > from ? Array.from({ length: to - from + 1 }, (_, i) => from + i) : [from];
    return { numbers, line: text.slice(0, m.index).split("\n").length };
  });
}

/** The cited numbers that have no heading. */
export const missing = (cited: number[], sections: number[]) => cited.filter((n) => !sections.includes(n));

test("docs/design.md has exactly one `## N.` heading for each of §1–§26, in order", () => {
  expect(headings(readFileSync(DESIGN, "utf8"))).toEqual(Array.from({ length: SECTIONS }, (_, i) => i + 1));
});

test("every § the code cites has its heading in docs/design.md", () => {
  const sections = headings(readFileSync(DESIGN, "utf8"));
  let cited = 0;
  for (const file of CITING.flatMap(filesUnder).filter((f) => f !== SELF)) {
    // JSON may spell § as \u00a7 (the Grafana dashboards do).
    const text = readFileSync(join(ROOT, file), "utf8").replaceAll("\\u00a7", "§");
    if (!text.includes("§")) continue;
    for (const { numbers, line } of citations(text)) {
      cited += numbers.length;
      expect({ at: `${file}:${line}`, without_heading: missing(numbers, sections) }).toEqual({ at: `${file}:${line}`, without_heading: [] });
    }
  }
  // The code does cite the design: finding nothing would mean this test reads nothing.
  expect(cited).toBeGreaterThan(50);
});

test("the check can fail: a citation of §99, a list and a range are read", () => {
  const text = "// DESIGN §13, §18 and §99\n/** docs/design.md §12–§14; see design §2's ports */";
  const refs = citations(text);
  expect(refs.map((c) => c.numbers)).toEqual([[13], [18], [99], [12, 13, 14], [2]]);
  expect(refs.map((c) => c.line)).toEqual([1, 1, 1, 2, 2]);
  expect(missing(refs.flatMap((c) => c.numbers), headings(readFileSync(DESIGN, "utf8")))).toEqual([99]);
});
