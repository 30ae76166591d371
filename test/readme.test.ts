/**
 * The README and docs/ stay true: the two commands of the first screen are there as CI runs them,
 * every `just ...` command they show exists (its `--help` answers with its usage), docs/commands.md
 * is what the help pages print, and every link stays inside the repository.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { HELP } from "../src/cli/help";

// One `--help` per distinct command shown: about a second apiece.
setDefaultTimeout(300_000);

const ROOT = resolve(import.meta.dirname, "..");
// docs/compose.md and docs/statistics.md are written beside this work (Compose, statistics) and arrive with it.
const documents = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const text = (doc: string) => readFileSync(join(ROOT, doc), "utf8");

/** The `just` commands of a document's sh code blocks and of its inline code, as argument lists. */
function justCommands(doc: string): string[][] {
  const body = text(doc);
  const lines = [...body.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n"));
  lines.push(...[...body.matchAll(/`((?:npx )?just [^`]+)`/g)].map((m) => m[1]));
  return lines
    .flatMap((line) => line.replace(/(^|\s)#.*$/, "").split(/&&|\|/))
    .map((part) => part.trim().replace(/^(\w+=\S+\s+)+/, "").replace(/^npx\s+/, "").split(/\s+[<>]/)[0].trim().split(/\s+/))
    .filter((words) => words[0] === "just" && words.length > 1 && !words[1].startsWith("-"))
    // Placeholders are for reading (`just caseN up`, `just RECIPE --help`), not for running.
    .filter((words) => !words.some((w) => /caseN|…|^\.\.\.$|^\[|^[A-Z]+$/.test(w)))
    .map((words) => words.slice(1));
}

test("the first screen holds the two commands exactly as CI runs them", () => {
  const readme = text("README.md");
  expect(readme).toContain("npm install && npx just demo ");
  expect(readme).toContain("npm install && npx just test ");
  expect(readme).not.toContain("../shared");
});

test("every `just ...` command the README and docs/ show exists: its --help answers with its usage", () => {
  const seen = new Set<string>();
  for (const doc of documents) {
    for (const args of justCommands(doc)) {
      const recipe = args[0].startsWith("case") && args[1] && !args[1].startsWith("-") ? `${args[0]} ${args[1]}` : args[0];
      if (seen.has(`${recipe} ${args.join(" ")}`)) continue;
      seen.add(`${recipe} ${args.join(" ")}`);
      const r = Bun.spawnSync([join(ROOT, "node_modules/.bin/just"), ...args, "--help"], { cwd: ROOT, env: process.env, stdout: "pipe", stderr: "pipe" });
      expect({ doc, command: `just ${args.join(" ")}`, code: r.exitCode, usage: r.stdout.toString().startsWith(`usage: just ${recipe}`) }).toEqual({ doc, command: `just ${args.join(" ")}`, code: 0, usage: true });
    }
  }
  // The README shows the main commands at least.
  for (const recipe of ["demo", "test", "compare", "tools", "case2 up", "case3 load", "down"]) expect([...seen].some((s) => s.startsWith(`${recipe} `))).toBe(true);
});

test("docs/commands.md is what the help pages print, every page", () => {
  const commands = text("docs/commands.md");
  for (const [command, page] of Object.entries(HELP)) expect({ command, there: commands.includes(`\`\`\`\n${page}\n\`\`\``) }).toEqual({ command, there: true });
});

test("every link in the README and docs/ stays inside the repository and finds its file", () => {
  for (const doc of documents) {
    for (const [, target] of text(doc).matchAll(/\]\(([^)]+)\)/g)) {
      expect({ doc, target, outside: /^[a-z]+:/.test(target) }).toEqual({ doc, target, outside: false });
      const path = target.split("#")[0];
      if (!path) continue;
      const file = resolve(ROOT, dirname(doc), path);
      expect({ doc, target, inside: file.startsWith(`${ROOT}/`) }).toEqual({ doc, target, inside: true });
      expect({ doc, target, exists: existsSync(file) }).toEqual({ doc, target, exists: true });
    }
  }
});
