/**
 * The root package's postinstall: installs fleetbench's fixed queue (patches/postgres-queue.js)
 * over the three copies of src/queue.js that postgres.js 3.4.9 ships (see that file for why).
 * Plain JavaScript, no dependencies: npm runs it under Node, `bun install` under Bun.
 *
 *   node src/patch-postgres.mjs      (npm install and bun install run it; safe to run again)
 *
 * It patches only what it recognises: postgres.js at exactly 3.4.9, each file either 3.4.9's own
 * (by sha256) or already patched. Anything else stops the install with the reason: a newer
 * postgres.js must be re-examined, not patched blindly.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const PATCH_SOURCE = join(ROOT, "patches", "postgres-queue.js");

/** The only postgres.js version this patch was written against (package.json pins it). */
export const POSTGRES_VERSION = "3.4.9";

/**
 * The files patched, and the sha256 of each as postgres.js 3.4.9 publishes it (computed from the
 * npm tarball, whose integrity matches package-lock.json's). `cf/` is the Workers build: same
 * module format as `src/`.
 */
export const TARGETS = [
  { file: "src/queue.js", format: "esm", upstream: "15e6345adb6708bf3b99ad39fc2231c2fb61de5f6cba4b7a7a6be881482a4ec3" },
  { file: "cjs/src/queue.js", format: "cjs", upstream: "7d20fa53a3930be070609d7912ecd14c347df3526805bca2f6cb7eb35d2e62cf" },
  { file: "cf/src/queue.js", format: "esm", upstream: "15e6345adb6708bf3b99ad39fc2231c2fb61de5f6cba4b7a7a6be881482a4ec3" },
];

export class PatchError extends Error {
  code = "POSTGRES_PATCH_REFUSED";
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

/**
 * The patched queue in `format`. The CommonJS copy differs only in its export line, the same
 * rewrite postgres.js's own cjs build makes.
 */
export function patchedSource(format) {
  const source = readFileSync(PATCH_SOURCE, "utf8");
  if (format === "esm") return source;
  const exportLine = /^export default Queue$/m;
  if ((source.match(/^export default /gm) ?? []).length !== 1 || !exportLine.test(source)) {
    throw new PatchError(`${PATCH_SOURCE} must have exactly one export, the line "export default Queue"`);
  }
  return source.replace(exportLine, "module.exports = Queue");
}

/**
 * Checks every target first and writes only when all are recognised, so a refusal leaves
 * postgres.js untouched. Returns the files written and the files already patched.
 */
export function patchPostgres(packageDir = join(ROOT, "node_modules", "postgres")) {
  const manifest = join(packageDir, "package.json");
  if (!existsSync(manifest)) throw new PatchError(`${packageDir} is missing: postgres is a dependency, so install it first (npm install)`);
  const version = JSON.parse(readFileSync(manifest, "utf8")).version;
  if (version !== POSTGRES_VERSION) {
    throw new PatchError(
      `postgres.js ${version} is installed, but the queue patch (patches/postgres-queue.js) is for exactly ${POSTGRES_VERSION}. ` +
        `Re-examine the new version's src/queue.js (is porsager/postgres#747 fixed?), then update or remove the patch ` +
        `(src/patch-postgres.mjs, the postinstall script in package.json), or pin postgres back to ${POSTGRES_VERSION}.`,
    );
  }
  const plan = TARGETS.map((target) => {
    const path = join(packageDir, target.file);
    const wanted = patchedSource(target.format);
    const current = existsSync(path) ? readFileSync(path, "utf8") : null;
    if (current === wanted) return { ...target, path, wanted, write: false };
    if (current !== null && sha256(current) === target.upstream) return { ...target, path, wanted, write: true };
    throw new PatchError(
      `${path} is ${current === null ? "missing" : `neither postgres.js ${POSTGRES_VERSION}'s own (sha256 ${target.upstream}) nor fleetbench's patched queue (sha256 ${sha256(current)})`}: ` +
        `something else changed it (or patches/postgres-queue.js changed since it was installed). ` +
        `Reinstall the package and patch it again: rm -rf node_modules/postgres && npm install`,
    );
  });
  for (const step of plan.filter((s) => s.write)) {
    // Temporary file, then rename: an interrupted install never leaves half a module behind.
    writeFileSync(`${step.path}.${process.pid}.tmp`, step.wanted);
    renameSync(`${step.path}.${process.pid}.tmp`, step.path);
  }
  return { written: plan.filter((s) => s.write).map((s) => s.file), already: plan.filter((s) => !s.write).map((s) => s.file) };
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  try {
    const { written, already } = patchPostgres();
    console.log(
      written.length
        ? `fleetbench: patched postgres.js ${POSTGRES_VERSION}'s queue (porsager/postgres#747) in ${written.join(", ")}${already.length ? `; already patched: ${already.join(", ")}` : ""}`
        : `fleetbench: postgres.js ${POSTGRES_VERSION}'s queue already patched (${already.join(", ")}): nothing to do`,
    );
  } catch (error) {
    console.error(`fleetbench: ${error instanceof PatchError ? error.message : error?.stack ?? error}`);
    process.exit(1);
  }
}
