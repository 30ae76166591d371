/**
 * `just compose …` on the command line: a case's stack up, down, gated or measured, the stand-in
 * images, the pinned Compose itself (src/deploy/compose.ts runs the stack, compose-run.ts measures).
 */
import { writeFileSync } from "node:fs";
import { leadingWords } from "../cli/args";
import type { Config } from "../config";
import { loadConfig } from "../config";
import { UsageError } from "../errors";
import { caseSpec } from "../run/cases";
import { type ComposeOptions, composeCommand, composeDown, composeGate, composeTarget, composeUp, NGINX_CONF, nginxComposeConf, requireCompose, runCompose } from "./compose";
import { buildCompose } from "./compose-tools";
import { buildStandIns, IMAGES, inspectImage } from "./compose-images";
import { composeLoadCli } from "./compose-run";

/** `compose …` on the command line. */
export async function composeCli(config: Config, args: string[], log: (line: string) => void = console.log) {
  // Options go anywhere after the recipe: the case and the action are the first two other words.
  const { words: [first, action], rest } = leadingWords(args, 2, ["no-grafana"]);
  const options: ComposeOptions = { grafana: !rest.includes("--no-grafana") };
  if (first === "tools") return void (await buildCompose(config, log));
  if (first === "config") {
    // The generated file the NGINX stack mounts, from src/nginx.ts for the stack's addresses.
    writeFileSync(NGINX_CONF, nginxComposeConf());
    return void log(`wrote ${NGINX_CONF}`);
  }
  if (first === "images") {
    requireCompose(config, null, log);
    const states = await buildStandIns(config, log);
    for (const s of states) log(`${s.image}: ${s.state === "official" ? "the official image (pulled), kept" : s.state === "missing" ? `NO stand-in (${s.note})` : `stand-in ${s.id?.slice(7, 19)}${s.state === "built" ? " (built now)" : ""}`}`);
    log(`${IMAGES.grafana}: ${inspectImage(IMAGES.grafana) ? "here" : "no stand-in (not here; `--no-grafana` starts a stack without it)"}`);
    return;
  }
  if (first === "down" && !action) return composeDown(config, "case1", log);
  const caseName = caseSpec(first ?? "").name;
  // Only a measured run takes words after its action (VUS DURATION): a stray one is refused before
  // anything is built or started, not ignored.
  const extra = leadingWords(args, 3, ["no-grafana"]).words[2];
  if (extra !== undefined && action !== "rate" && action !== "load") throw new UsageError(`just compose ${caseName} ${action} takes no more words, got "${extra}"`);
  switch (action) {
    case "up": return composeUp(config, caseName, options, log);
    case "down": return composeDown(config, caseName, log);
    case "gate": {
      requireCompose(config, caseName, log);
      const gate = await composeGate(config, caseName, log);
      if (!gate.passed) throw new Error(`${caseName} under compose does not answer as the database`);
      return;
    }
    case "rate":
    case "load": {
      return composeLoadCli(config, caseName, action, rest, log);
    }
    default: {
      requireCompose(config, caseName, log);
      await runCompose(composeCommand(composeTarget(caseName, config), action ?? "", options), log);
    }
  }
}

/** Kept for callers of the first version: `compose CASE ACTION`. */
export const composeAction = (name: string, action: string, log: (line: string) => void = console.log) => composeCli(loadConfig(), [name, action], log);
