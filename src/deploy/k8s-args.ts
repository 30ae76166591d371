/**
 * The arguments of `k8s ACTION TARGET [options]` (src/deploy/k8s.ts): the target, its load and the
 * cluster's names, each checked with a one-line error before anything reaches a cluster.
 */
import { apiFlag, duration as durationArg, positive, positiveFlag, splitFlags } from "../cli/args";
import type { Config } from "../config";
import { UsageError } from "../errors";
import { caseSpec, type TargetSpec } from "../run/cases";
import { RATE_VUS } from "../run/load";
import { fileStamp } from "../run/results";
import versions from "../versions.json" with { type: "json" };
import { K8S_DEFAULTS } from "./k8s-manifests";
import type { K8sOptions } from "./k8s-pods";

export const K8S_OPTIONS = ["parallelism", "namespace", "image", "engine-image", "database-url-secret", "prometheus", "operator-namespace", "vus", "duration", "rate", "iterations", "api", "resources"];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function name(raw: string | undefined, flag: string, fallback: string): string {
  const value = raw ?? fallback;
  if (!DNS_LABEL.test(value)) throw new UsageError(`--${flag} must be a Kubernetes name (lowercase letters, digits and "-", at most 63), got "${value}"`);
  return value;
}

/** --namespace, checked. The Namespace object carries the `restricted` Pod Security label: never on one of the cluster's own. */
function namespaceFlag(flags: Map<string, string>): string {
  const namespace = name(flags.get("namespace"), "namespace", K8S_DEFAULTS.namespace);
  if (namespace === "default" || namespace.startsWith("kube-")) throw new UsageError(`--namespace must be a namespace of fleetbench's own, not "${namespace}"`);
  return namespace;
}

/** The target and the options of `k8s ACTION TARGET [options]`, each checked with a one-line error. */
export function k8sArgs(config: Config, args: string[], runId?: string): { target: TargetSpec; options: K8sOptions } {
  const { flags, positional } = splitFlags(args, K8S_OPTIONS);
  if (positional.length !== 1) throw new UsageError(`k8s takes one TARGET (case1, case1b, case2, case3; Case 3's gateway by CASE3_GATEWAY), got "${positional.join(" ")}"`);
  const target = caseSpec(positional[0]).target(config);
  // The one image is compose's, which runs Bun; Deno's rows are native only (README, "Runtimes").
  if (target.runtime !== "bun") throw new UsageError(`k8s runs the Bun image (compose/Dockerfile) only: FLEET_RUNTIME=${target.runtime} is for native runs; unset it for k8s`);
  const namespace = namespaceFlag(flags);
  const prom = /^([a-z0-9-]+)\/([a-z0-9-]+):(\d{1,5})$/.exec(flags.get("prometheus") ?? K8S_DEFAULTS.prometheus);
  if (!prom) throw new UsageError(`--prometheus must be NAMESPACE/SERVICE:PORT (e.g. ${K8S_DEFAULTS.prometheus}), got "${flags.get("prometheus")}"`);
  const parallelism = positiveFlag(flags, "parallelism", K8S_DEFAULTS.parallelism);
  const rate = positiveFlag(flags, "rate", undefined);
  const iterations = positiveFlag(flags, "iterations", undefined);
  if (rate !== undefined && iterations !== undefined) throw new UsageError("--rate and --iterations are two load modes: give one");
  const vus = positiveFlag(flags, "vus", 10);
  const length = flags.has("duration") ? durationArg(flags.get("duration"), "--duration") : "30s";
  const api = apiFlag(flags);
  // The open model's VUs only set k6's pre-allocation floor: at least one per runner.
  const load: K8sOptions["load"] = rate !== undefined ? { mode: "rate", vus: Math.max(RATE_VUS, parallelism), rate, duration: length, api }
    : iterations !== undefined ? { mode: "iterations", vus, iterations, api } : { mode: "duration", vus, duration: length, api };
  if (parallelism > load.vus) throw new UsageError(`--parallelism ${parallelism} is more runners than VUs (${load.vus}): every runner needs one`);
  if (load.mode === "iterations" && parallelism > iterations!) throw new UsageError(`--parallelism ${parallelism} is more runners than iterations (${iterations})`);
  const image = flags.get("image") ?? K8S_DEFAULTS.image;
  if (!image || /\s/.test(image)) throw new UsageError(`--image must be an image reference (e.g. registry.example/fleetbench:${versions.bun}), got "${image}"`);
  const engineImage = flags.get("engine-image") ?? K8S_DEFAULTS.engineImage;
  if (!engineImage || /\s/.test(engineImage)) throw new UsageError(`--engine-image must be an image reference (e.g. registry.example/fleetbench-vegeta:${versions.vegeta}), got "${engineImage}"`);
  const resources = flags.get("resources") ?? "guaranteed";
  if (resources !== "guaranteed" && resources !== "none") throw new UsageError(`--resources takes guaranteed (requests = limits, the default) or none (no requests or limits: a small node), got "${resources}"`);
  const stamp = fileStamp();
  return {
    target,
    options: {
      namespace,
      parallelism,
      engine: config.engine,
      engineImage,
      image,
      databaseUrlSecret: flags.has("database-url-secret") ? name(flags.get("database-url-secret"), "database-url-secret", "") : null,
      prometheus: { namespace: prom[1], name: prom[2], port: positive(prom[3], "the --prometheus port") },
      operatorNamespace: name(flags.get("operator-namespace"), "operator-namespace", K8S_DEFAULTS.operatorNamespace),
      runId: runId ?? `${stamp}-${target.case}-${target.gateway}-k8s`,
      load,
      fleetSize: config.fleetSize,
      resources,
    },
  };
}

/** --namespace of `k8s down [TARGET] [options]`, which needs no target. */
export const k8sNamespace = (args: string[]) => namespaceFlag(splitFlags(args, K8S_OPTIONS).flags);
