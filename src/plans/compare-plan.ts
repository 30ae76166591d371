/**
 * A comparison's rows (pure): every target on every platform asked for (compose only where the
 * target runs under it), a column of its own for a target with CPU injected (just calibrate), and
 * numbered columns (#1, #2, ...) for a target named more than once; each row's column as its runs'
 * results will name it (targetOf).
 */
import { type CaseName, CASES, configFor, type Platform, shortLabel, type selectTargets } from "../run/cases";
import type { Config } from "../config";
import { COMPOSE_SUFFIX } from "./verdicts";

export interface PlanRow {
  case: CaseName;
  config: Config;
  label: string;
  column?: string;
  injectCpu?: Record<string, number>;
  platform: Platform;
}

/** The target's name as targetOf gives it (case · gateway). */
const nameOf = (p: PlanRow) => CASES[p.case].target(p.config).label;

export function comparePlan(config: Config, targets: ReturnType<typeof selectTargets>, platforms: Platform[], inject?: (Record<string, number> | null)[]) {
  const plan: PlanRow[] = platforms.flatMap((platform) =>
    targets.filter((t) => platform === "native" || t.compose).map((t) => ({
      case: t.case, config: configFor(t, config), platform,
      ...(platform === "compose" ? { label: `${shortLabel(t)} under compose`, column: `${t.label}${COMPOSE_SUFFIX}` } : { label: shortLabel(t) }),
    })));
  // A target with CPU injected (just calibrate) is a column of its own, named by what was injected.
  (inject ?? []).forEach((cpu, i) => {
    if (!cpu || !plan[i]) return;
    const what = Object.entries(cpu).map(([p, ms]) => `+${ms} ms CPU in ${p}`).join(", ");
    plan[i].injectCpu = cpu;
    plan[i].label = `${plan[i].label} ${what}`;
    plan[i].column = `${nameOf(plan[i])} ${what}`;
  });
  // A target named more than once becomes numbered columns (#1, #2, ...), each its own target.
  for (const label of new Set(plan.map((p) => p.label))) {
    const same = plan.filter((p) => p.label === label);
    if (same.length < 2) continue;
    same.forEach((p, i) => {
      p.label = `${label} #${i + 1}`;
      // The column's name (· compose included), numbered.
      p.column = `${p.column ?? nameOf(p)} #${i + 1}`;
    });
  }
  // Each row's column as its runs will carry it (targetOf of their results), now that names are final.
  const columnOf = new Map(plan.map((p) => [p.label, p.column ?? nameOf(p)]));
  return { plan, columnOf };
}
