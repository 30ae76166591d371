/**
 * What the numbers of a report rest on, said beside them: what the runs side by side do not
 * share, the parity of every process (docs/design.md §12), what each flag means, and where and with what
 * each run was measured.
 */
import { targetOfRun } from "../run/cases";
import { paritySignature } from "../run/parity";
import type { RunResult } from "../run/results";
import { COMPONENTS, componentOf } from "../run/run-result";

/** The load engine a run's result names (results from before it was recorded: k6). */
export function engineOfRun(r: { fingerprint?: Record<string, unknown> }): string {
  const v = (r.fingerprint?.versions ?? {}) as Record<string, string | undefined>;
  const e = r.fingerprint?.engine as { name: string; version: string } | undefined | null;
  return e ? `${e.name} ${e.version}` : `k6 ${v.k6 ?? "–"}`;
}

/** A report column: one target's runs, under its label. */
export interface Column {
  label: string;
  runs: RunResult[];
}

/** What each flag means, said in words wherever a flag is shown. */
export const FLAG_MEANINGS: Record<string, string> = {
  generator_saturated: "the load generator used more than 80 % of a core: it may have limited these numbers",
  sut_overloaded: "the load generator could not send every request on time at the requested arrival rate (late or unsent): the case could not keep up with the offered load",
  errors: "more than 0.1 % of the requests failed: throughput counts successful requests only",
  unstable: "throughput drifted by more than 5 % between the first and the last third of the run (an older result's flag; left out of verdicts)",
  no_steady_state: "the case itself never settled during the run (after its warm-up and the machine's steal time are accounted for): left out of verdicts",
  machine_busy: "other processes of this machine took more than 20 % of all CPU time during the run (a build, a neighbour): recorded; the run still counts",
  machine_slow: "the machine-speed canary was more than 10 % slower than the comparison's median: recorded; the run still counts, since its round shares the slow moment",
};

/**
 * What the runs side by side do not share, said before any number: parameters, fleet size, code
 * version, parity (runtimes, variables passed on purpose, pool, timeouts, limits). Empty when
 * they share everything.
 */
export function differences(columns: Column[]): string[] {
  const all = columns.flatMap((c) => c.runs);
  // A comparison measures at two operating points on purpose (open and closed model): parameters
  // are compared within each, everything else across all runs.
  const byPhase = [all.filter((r) => r.mode === "rate"), all.filter((r) => r.mode !== "rate")].filter((g) => g.length);
  const differ = (what: string, key: (r: RunResult) => string, groups: RunResult[][] = [all]) => groups.flatMap((runs) => {
    const values = [...new Set(runs.map(key))];
    return values.length > 1 ? [`the runs differ in ${what}: ${values.join(" | ")}`] : [];
  });
  return [
    ...differ("parameters", (r) => `${r.mode} ${r.params.vus ?? "–"} VUs ${r.params.duration ?? r.params.iterations ?? ""}${r.params.rate ? ` at ${r.params.rate}/s` : ""} mix ${JSON.stringify(r.params.mix)}`, byPhase),
    ...differ("fleet size", (r) => String(r.params.fleet_size)),
    ...differ("git SHA", (r) => `${String(r.fingerprint?.git_sha ?? "unknown").slice(0, 12)}${r.fingerprint?.git_dirty ? " (dirty)" : ""}`),
    // The runtime on a line of its own: in a --runtimes comparison it is the factor under study.
    ...differ("runtime (what runs the TypeScript roles)", runtimeOfRun),
    ...differ("parity (load engine, variables passed on purpose, pool, timeouts, limits)", (r) => paritySignature(r.extra?.parity, { runtime: false })),
  ];
}

/** One cell of the parity table: a process's runtime and the settings that change its work per request. */
function parityCell(settings: Record<string, unknown> | undefined): string {
  if (!settings) return "–";
  const value = (v: unknown): string =>
    Array.isArray(v) ? (v.length ? v.join(" + ") : "none") : v && typeof v === "object" ? Object.entries(v).map(([k, x]) => `${k} ${value(x)}`).join(", ") : String(v);
  const { runtime, version, instrumentation: _, ...rest } = settings;
  return [`${runtime} ${version ?? ""}`.trim(), ...Object.entries(rest).map(([k, v]) => `${k.replace(/_/g, " ")}: ${value(v)}`)].join("; ");
}

/** The parity table (docs/design.md §12): every process of every column with its settings, and the environment. */
export function parityTable(columns: Column[]): string {
  type Parity = { processes: Record<string, Record<string, unknown>>; environment: { passed_on_purpose: string[]; withheld: string[] } };
  const parity = (c: Column) => c.runs[0]?.extra?.parity as Parity | undefined;
  if (!columns.some(parity)) return "No parity recorded (results written before fleetbench recorded it).\n";
  const names = [...new Set(columns.flatMap((c) => Object.keys(parity(c)?.processes ?? {})))];
  const order = (p: string) => COMPONENTS.indexOf(componentOf(p));
  names.sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const rows = names.map((name) => `| ${name} | ${columns.map((c) => parityCell(parity(c)?.processes[name])).join(" | ")} |`);
  const env = (c: Column) => {
    const e = parity(c)?.environment;
    return e ? `passed on purpose: ${e.passed_on_purpose.join(", ") || "none"}; withheld from the shell: ${e.withheld.join(", ") || "none"}` : "–";
  };
  rows.push(`| environment | ${columns.map(env).join(" | ")} |`);
  return `| process | ${columns.map((c) => c.label).join(" | ")} |\n|---|${columns.map(() => "---").join("|")}|\n${rows.join("\n")}\n`;
}

/** The flags present, each with what it means. */
export function flagNotes(columns: Column[]): string[] {
  const flags = [...new Set(columns.flatMap((c) => c.runs.flatMap((r) => r.flags)))].sort();
  return flags.map((f) => {
    const where = columns.filter((c) => c.runs.some((r) => r.flags.includes(f))).map((c) => c.label).join(", ");
    return `${f} (${where}): ${FLAG_MEANINGS[f] ?? "see the result file"}`;
  });
}

/** The binary from the tools cache a run's target needs (Apollo Router), with the version that ran; null for none. */
export function toolOf(r: RunResult): { name: string; version: string | null } | null {
  const tool = targetOfRun(r)?.tool;
  return tool ? { name: tool.name, version: ((r.fingerprint?.versions ?? {}) as Record<string, string | null>)[tool.versionKey] ?? null } : null;
}

/** "bun 1.4.5" or "deno 2.9.6": what ran a run's TypeScript roles (files from before Deno ran on Bun). */
export function runtimeOfRun(r: RunResult): string {
  const runtime = r.runtime ?? "bun";
  const v = (r.fingerprint?.versions ?? {}) as Record<string, string | null>;
  return `${runtime} ${v[runtime] ?? "–"}`;
}

/** Where and with what each run was measured, and the machine's speed just before it. */
export function fingerprintTable(columns: Column[]): string {
  const rows = columns.flatMap((c) => c.runs.map((r) => {
    const f = r.fingerprint ?? {};
    const v = (f.versions ?? {}) as Record<string, string | null>;
    const canary = (r.extra?.canary as { index?: number } | undefined)?.index;
    const tool = toolOf(r);
    return `| ${r.run_id} | ${c.label} | ${String(f.git_sha ?? "–").slice(0, 10)}${f.git_dirty ? " (dirty)" : ""} | ${runtimeOfRun(r)}, ${engineOfRun(r)}, pg ${v.postgres ?? "–"}${tool ? `, ${tool.name} ${tool.version ?? "–"}` : ""} | ${f.cpu_model ?? "–"} × ${f.cores ?? "–"} | ${canary ?? "–"} |`;
  }));
  return `| run | target | git | versions | CPU | canary index |\n|---|---|---|---|---|---:|\n${rows.join("\n")}\n`;
}
