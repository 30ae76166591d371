/**
 * Every name the code uses is bound where it is used. Bun runs TypeScript without checking it, so
 * a name that a module only re-exports (`export { x } from "./y"` does not bind `x` in the module)
 * passes every load and throws ReferenceError only when its line runs: twice it did, once on the
 * first line of `compare --until-decided` and once in the minute-by-minute progress of a tool's
 * build. TypeScript's own checker (the `typescript` package, Apache-2.0) reads src/ and test/ and
 * this test fails on its "cannot find name" errors and on a block-scoped name used before its
 * declaration; its other type errors are left to the reader (bun does not need the types to be
 * right). No processes: the compiler in this process, about 20 s.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "..");

/** The checker's codes for a name that is not bound where it is used (each throws when its line runs). */
const UNBOUND = new Set([
  2304, // Cannot find name 'x'.
  2552, // Cannot find name 'x'. Did you mean 'y'?
  2662, // … Did you mean the static member 'C.x'?
  2663, // … Did you mean the instance member 'this.x'?
  2448, // Block-scoped variable 'x' used before its declaration.
]);

/** Every `.ts` file under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []);
}

/** "file:line: message" for each use of an unbound name in `files` (paths relative to `root`). */
export function unboundNames(files: string[], root: string): string[] {
  const program = ts.createProgram(files, {
    noEmit: true, target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler, allowImportingTsExtensions: true,
    resolveJsonModule: true, skipLibCheck: true, types: ["bun"], typeRoots: [join(ROOT, "node_modules", "@types")],
  });
  return files.flatMap((f) => program.getSemanticDiagnostics(program.getSourceFile(f)))
    .filter((d) => UNBOUND.has(d.code) && d.file)
    .map((d) => `${relative(root, d.file!.fileName)}:${d.file!.getLineAndCharacterOfPosition(d.start!).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
}

test("the check finds a name a module only re-exports, and the one that imports it passes", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleetbench-names-"));
  try {
    writeFileSync(join(dir, "builds.ts"), "export function buildProgress(): string { return \"1 of 2\"; }\n");
    writeFileSync(join(dir, "tools.ts"), "export { buildProgress } from \"./builds\";\nexport const line = () => buildProgress();\n");
    writeFileSync(join(dir, "fixed.ts"), "import { buildProgress } from \"./builds\";\nexport { buildProgress };\nexport const line = () => buildProgress();\n");
    expect(unboundNames([join(dir, "tools.ts"), join(dir, "fixed.ts")], dir)).toEqual(["tools.ts:2: Cannot find name 'buildProgress'."]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every name used in src/ and test/ is bound where it is used", () => {
  const files = [...tsFiles(join(ROOT, "src")), ...tsFiles(join(ROOT, "test"))];
  expect(files.length).toBeGreaterThan(100);
  expect(unboundNames(files, ROOT)).toEqual([]);
}, 120_000);
