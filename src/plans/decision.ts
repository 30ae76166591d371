/**
 * The decision map (docs/design.md §20): per cell of a grid, the cheapest target that meets the SLO at the
 * map's rate, its ratio to the runner-up with the interval (`tie` when it includes 1), and where the
 * cheapest target changes within the cell's measured rates. Pure: it reads finished cells.
 */
import { sloText } from "./capacity";
import { cheapestChanges, type Price, rankAt, type Ranking } from "./cost";
import type { CellDoc, GridDoc } from "./grid";
import type { Interval } from "./model";

export interface Decision {
  fleet: number;
  hop_ms: number;
  at: number;
  verdict: Ranking["verdict"] | "not measured";
  cheapest: string | null;
  runner_up: string | null;
  ratio: number | null;
  ratio_ci: Interval | null;
  /** Targets whose capacity reaches `at`, and those that miss the SLO there (with their capacity). */
  meets: string[];
  misses: { target: string; capacity: number | null }[];
  /** Where the cheapest target changes within the cell's measured rates. */
  changes: { rate: number; from: string; to: string; ci: Interval | null }[];
  /** The cost at `at` is read off a line beyond the rates it was fitted over. */
  extrapolated: boolean;
  basis: string | null;
  /** The cell in words (the heatmap's label and the table's cell). */
  words: string;
}

const short = (target: string) => target.replace(/ · /g, " ");
const fmt = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The decision in one cell at `at` requests/s: the cheapest target meeting the SLO there, its ratio to the runner-up. */
export function decide(cell: CellDoc | null, fleet: number, hop: number, at: number, price?: Price): Decision {
  const base = { fleet, hop_ms: hop, at, cheapest: null, runner_up: null, ratio: null, ratio_ci: null, changes: [], extrapolated: false, basis: null };
  if (!cell) return { ...base, verdict: "not measured", meets: [], misses: [], words: "not measured yet" };
  const meets = cell.capacities.filter((c) => c.capacity !== null && c.capacity >= at).map((c) => c.target);
  const misses = cell.capacities.filter((c) => !meets.includes(c.target)).map((c) => ({ target: c.target, capacity: c.capacity }));
  const models = (cell.model?.models ?? []).filter((m) => meets.includes(m.target));
  const ranking = rankAt(models, at, price);
  const fitted = models.filter((m) => m.total);
  const lo = fitted.length ? Math.max(...fitted.map((m) => m.total!.range[0])) : 0;
  const hi = fitted.length ? Math.min(...fitted.map((m) => m.total!.range[1])) : 0;
  const changes = hi > lo ? cheapestChanges(models, lo, hi, price) : [];
  const [c1, c2] = ranking.costs;
  const extrapolated = ranking.costs.slice(0, 2).some((c) => c.extrapolated);
  const unit = ranking.by === "money" ? "money" : "CPU-hours";
  const words = ranking.verdict === "none"
    ? (meets.length ? `${meets.map(short).join(", ")} meet${meets.length === 1 ? "s" : ""} the SLO, no model` : `no target meets ${sloText(cell.slo)} at ${at}/s`)
    : ranking.verdict === "alone" ? `only ${short(c1.target)} meets the SLO`
    : ranking.verdict === "tie" ? `tie: ${short(c1.target)} ≈ ${short(c2.target)} (${fmt(ranking.ratio!)}×${ranking.ratio_ci ? `, ${fmt(ranking.ratio_ci[0])}–${fmt(ranking.ratio_ci[1])}` : ", no interval"})`
    : `${short(c1.target)}: ${fmt(ranking.ratio!)}× ${short(c2.target)}'s ${unit} (${fmt(ranking.ratio_ci![0])}–${fmt(ranking.ratio_ci![1])})`;
  return {
    ...base, verdict: ranking.verdict, cheapest: c1?.target ?? null, runner_up: c2?.target ?? null, ratio: ranking.ratio, ratio_ci: ranking.ratio_ci,
    meets, misses, changes, extrapolated, basis: ranking.basis, words: `${words}${extrapolated ? " (extrapolated)" : ""}`,
  };
}

/** The decision map of a grid: one decision per cell, in the grid's order. */
export function decisionMap(grid: GridDoc, cells: CellDoc[], at: number = grid.params.at, price: Price | undefined = grid.params.price ?? undefined): Decision[] {
  return grid.cells.map((c) => decide(cells.find((x) => x.fleet === c.fleet && x.hop_ms === c.hop_ms) ?? null, c.fleet, c.hop_ms, at, price));
}
