/**
 * The code type-checks. Bun runs TypeScript without checking it, so a mistake the checker sees
 * passes every load and fails only when its line runs: twice a name that a module only re-exported
 * (`export { x } from "./y"` does not bind `x` in the module) threw ReferenceError, once on the first
 * line of `compare --until-decided` and once in the minute-by-minute progress of a tool's build; and
 * declarations narrower than their values (a summary's `errors`, the gateways a comparison takes)
 * misled the reader. TypeScript's own checker (the `typescript` package, Apache-2.0, a dev
 * dependency) reads src/ and test/ with unused names reported too, and this test fails on any
 * error. No processes: the compiler in this process, about 20 s.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "..");

/** Every `.ts` file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []);
}

/** "file:line: TSnnnn message" for each of the checker's errors in `files` (paths relative to `root`). */
export function typeErrors(files: string[], root: string): string[] {
  const program = ts.createProgram(files, {
    noEmit: true, target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler, allowImportingTsExtensions: true,
    resolveJsonModule: true, skipLibCheck: true, noUnusedLocals: true,
    types: ["bun"], typeRoots: [join(ROOT, "node_modules", "@types")],
  });
  return files.flatMap((f) => program.getSemanticDiagnostics(program.getSourceFile(f)))
    .filter((d) => d.file)
    .map((d) => `${relative(root, d.file!.fileName)}:${d.file!.getLineAndCharacterOfPosition(d.start!).line + 1}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
}

test("the check finds a name a module only re-exports, an import nothing reads and a value its declaration does not allow", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleetbench-types-"));
  try {
    writeFileSync(join(dir, "builds.ts"), "export function buildProgress(): string { return \"1 of 2\"; }\nexport const BUILDS = 2;\n");
    writeFileSync(join(dir, "tools.ts"), "export { buildProgress } from \"./builds\";\nexport const line = () => buildProgress();\n");
    writeFileSync(join(dir, "unused.ts"), "import { BUILDS } from \"./builds\";\nexport const two = 2;\n");
    writeFileSync(join(dir, "narrow.ts"), "export const summary: { requests: number } = { requests: 1, errors: 0 };\n");
    writeFileSync(join(dir, "fixed.ts"), "import { buildProgress } from \"./builds\";\nexport { buildProgress };\nexport const line = () => buildProgress();\n");
    const errors = typeErrors(["tools.ts", "unused.ts", "narrow.ts", "fixed.ts"].map((f) => join(dir, f)), dir);
    expect(errors.map((e) => e.split(" ")[0] + " " + e.split(" ")[1])).toEqual(["tools.ts:2: TS2304", "unused.ts:1: TS6133", "narrow.ts:1: TS2353"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("src/ and test/ type-check, unused names included", () => {
  const files = [...tsFiles(join(ROOT, "src")), ...tsFiles(join(ROOT, "test"))];
  expect(files.length).toBeGreaterThan(100);
  expect(typeErrors(files, ROOT)).toEqual([]);
}, 120_000);
