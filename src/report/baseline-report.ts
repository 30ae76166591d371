/**
 * Writes `report --baseline`: results/baseline-<time>.md and .html for a comparison (the one named,
 * else the newest) against another comparison file.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { againstBaseline, baselineHtml, baselineMarkdown } from "../plans/baseline";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { fileStamp, writeAtomic } from "../run/results";

export function writeBaselineReport(config: Config, named: string[], baseline: string, log: (line: string) => void = console.log) {
  if (!/compare-[^/]*\.json$/.test(baseline)) throw new UsageError(`--baseline takes a comparison (compare-*.json), got "${baseline}"`);
  if (named.length > 1 || named.some((f) => !/compare-[^/]*\.json$/.test(f))) {
    throw new UsageError(`with --baseline, name at most one comparison (compare-*.json) to set against it, got ${named.join(" ")}`);
  }
  let now = named[0];
  if (!now) {
    const newest = existsSync(config.resultsDir) ? readdirSync(config.resultsDir).filter((f) => /^compare-.*\.json$/.test(f)).sort().at(-1) : undefined;
    if (!newest) throw new Error(`no comparison in ${config.resultsDir}: run \`just compare\` first, or name one`);
    now = join(config.resultsDir, newest);
  }
  const result = againstBaseline(now, baseline);
  const stamp = fileStamp();
  const md = join(config.resultsDir, `baseline-${stamp}.md`);
  const page = join(config.resultsDir, `baseline-${stamp}.html`);
  const text = baselineMarkdown(result);
  writeAtomic(md, text);
  writeAtomic(page, baselineHtml(result));
  log(text);
  log(`report against the baseline: ${md}\n                             ${page}`);
  return { markdown: md, html: page, result };
}
