/**
 * What every command answers to `--help` (or `-h`): its usage, its options and the exit codes,
 * which are the same for every command. `bun src/main.ts --help` lists them all.
 */
export const EXIT_CODES = `exit codes: 0 done, 1 failed (the message says why), 2 usage or configuration error,
3 refused by the correctness gate, 130 interrupted (Ctrl-C)`;

const RUN_OPTIONS = `  --api dashboard|monitor|critical   one API instead of the 50/30/20 mix
  --warmup DURATION                   warm-up at the measured load, not counted (default 5s; 0s for none)`;
const LOAD_OPTIONS = `${RUN_OPTIONS}
  --pin                               k6 on the last CPU, the case (PostgreSQL too) on the others (taskset; needs 2 CPUs)`;

const CAPACITY_OPTIONS = `  --slo PCT=DURATION   the SLO: p50, p95 or p99 at or under a bound (default p99=200ms)
  --start R            the first rate tried (default 20 requests/s); --max R the highest (default 5000)
  --step DURATION      each step's measured run (default 10s, at least 5s); --warmup DURATION before it (default 3s)
  --repeat R           searches (default 1; with 2 or more, the capacity's interval); --seed S; --api NAME`;

export const HELP: Record<string, string> = {
  db: `db up|down|status\n  the local PostgreSQL 16 on 127.0.0.1:FLEET_PG_PORT (nothing to do when DATABASE_URL is set)`,
  seed: `seed [N]\n  recreate the schema and load a deterministic fleet of N robots (default FLEET_SIZE, 15)`,
  up: `up CASE\n  start CASE (case1, case1b, case2, case3; CASE3_GATEWAY=apollo-router|hive-gateway), the database first; waits for /health
  every TypeScript role on FLEET_RUNTIME's runtime: bun (default) or deno`,
  down: `down\n  stop every process fleetbench started, PostgreSQL included`,
  status: `status\n  what runs (on which runtime), with pids and each process's memory now (PSS, RSS), and the fleet size loaded`,
  query: `query CASE [API] [ID]\n  one client request through the running case (API: dashboard, monitor, critical; ID: a robot for monitor)`,
  load: `load CASE VUS DURATION [options]\n  one measured run at constant VUs (e.g. load case3 50 5m); the result goes to results/\n${LOAD_OPTIONS}`,
  iterations: `iterations CASE VUS COUNT [options]\n  one measured run: VUS share COUNT requests\n${LOAD_OPTIONS}`,
  rate: `rate CASE RPS DURATION [options]\n  one measured run at a constant arrival rate (the open model)\n${LOAD_OPTIONS}`,
  capacity: `capacity CASE [options]\n  the highest arrival rate at which CASE meets the SLO with no dropped iterations and under 0.1 % errors:
  doubling (or halving) to a bracket, then bisection to within 5 %; every step a measured run after a warm-up.
  The search and every step go to results/capacity-<time>.json, its report (latency against offered rate) beside it
${CAPACITY_OPTIONS}`,
  sweep: `sweep fleet|rate LIST [DURATION] [options]\n  every target at each value of LIST: fleet sizes (reseeded for each; the configured fleet is put back after)
  or offered rates (requests/s); DURATION per run (default 10s). Curves in results/sweep-<axis>-<time>.json and its report
  --vus V            (fleet) the closed model at V VUs (default 10)
  --rate R           (fleet) the open model at R requests/s
  --capacity         (fleet) a capacity search at each size (with the capacity options below)
  --repeat R         rounds at each value, each in a shuffled order (default 1; with 2 or more, intervals)
  --cases LIST, --gateways LIST, --runtimes bun,deno, --seed S, --warmup DURATION (default 3s), --api NAME
${CAPACITY_OPTIONS}`,
  chaos: `chaos CASE SERVICE SECONDS [VUS] [DURATION] [options]\n  a load run during which SERVICE is taken away for SECONDS
  --mode kill|pause   a crash (default) or a hang
  --at S              when the fault starts (default: a quarter into the run)
${RUN_OPTIONS}`,
  compare: `compare [VUS] [DURATION] [options]\n  every target in R rounds, each in a shuffled order; verdicts in results/compare-<time>.json, then the report
  --rate R [DURATION]                 equal offered load: every target in the open model at R requests/s (a target
                                      that cannot keep up is flagged sut_overloaded and named above the report)
  --capacity                          each target's capacity at the SLO instead (results/capacity-<time>.json; options
                                      of \`capacity\`; --repeat R searches per target, default 1)
  --repeat R                          rounds (default 5; at least 4 for a verdict to be possible)
  --seed S                            the seed of the rounds' orders (default: random, printed and recorded)
  --gateways apollo-router,hive-gateway   Case 3 once per gateway (default FLEET_COMPARE_GATEWAYS or apollo-router)
  --runtimes bun,deno                 every target on each runtime, side by side (default FLEET_RUNTIME's, bun)
  --cases LIST                        which cases (default case1,case1b,case2,case3); one named twice (case2,case2)
                                      runs as two columns: an A/A check of what "no difference" looks like here
  --api NAME                          one API instead of the mix
  --warmup DURATION                   warm-up of every run (default 5s)
  --pin                               k6 on the last CPU, the case (PostgreSQL too) on the others, in every run (needs 2 CPUs)`,
  demo: `demo\n  the README's first command: every case in 4 shuffled rounds of 5 s at 10 VUs (about 2.5 min), then the report.
  Builds k6 first if needed (a few minutes, once). Without Apollo Router it starts the Router's build in the
  background (paused while the demo measures), runs Case 3 through Hive Gateway and says so above the report`,
  report: `report [compare-TIME.json | RESULT.json ...] [--baseline compare-OTHER.json]\n  the Markdown and HTML report of a comparison or of result files (default: the newest comparison)
  --baseline FILE   this comparison against another (another machine, another commit): what differs
                    first, then every ratio's change with its interval (results/baseline-<time>.md, .html)`,
  clean: `clean [--results]\n  stop everything, remove the local database and run folders (--results: the results too)`,
  supergraph: `supergraph [--check]\n  compose Case 3's supergraph into compose/supergraph.graphql (--check: only compare)`,
  tools: `tools [k6|apollo-router ...]\n  build the pinned k6 and Apollo Router into the tools cache, once, with progress (minutes elapsed of those
  expected; crates compiled); a build \`demo\` left running in the background is waited for instead (Ctrl-C leaves it)`,
  obs: `obs up|down|status|config [--compose]|check [RUN_ID]\n  Prometheus (and Grafana when on PATH) natively`,
  compose: `compose CASE up [--no-grafana]|down|ps|logs|gate|rate RPS DURATION|load VUS DURATION, compose images|tools|down\n  the case under Docker Compose (docs/compose.md); images builds stand-ins where no registry answers`,
  gate: `gate CASE\n  the correctness gate alone: every API of the running case (FLEET_GATEWAY_URL) against the database; exit 3 when one differs`,
  k8s: `k8s render|up|gate|load|down TARGET [options]\n  TARGET on Kubernetes (kubectl's current context; render needs no cluster): render prints the manifests; up starts
  PostgreSQL, the seed and the processes; gate runs the correctness gate Job; load runs a k6-operator TestRun (the gate
  first if not passed) and writes the result to results/; down deletes what fleetbench created (the namespace stays)
  --parallelism P              k6 runner pods; each runs 1/P of the VUs, iterations or rate (default 1)
  --vus V --duration D         the closed model (default 10 VUs for 30s); --rate R [--duration D] the open model;
                               --iterations N [--vus V] a fixed count; --api NAME one API instead of the mix
  --namespace NS               (default fleetbench)
  --image IMAGE                the compose image with every Bun role (default fleetbench:bun-<Bun version>)
  --database-url-secret NAME   a Secret with DATABASE_URL: that server, no PostgreSQL in the namespace
  --prometheus NS/SERVICE:PORT the Prometheus k6 pushes to and results are read from (default monitoring/prometheus-server:80)
  --operator-namespace NS      where k6-operator runs (default k6-operator-system)`,
  "bench-driver": `bench-driver [options]\n  robot-service's GET /robots/:id against the raw driver with the same query, pool and concurrency
  --concurrency N     requests in flight (default 50)
  --windows N         windows of each (default 5), interleaved
  --window DURATION   length of a window (default 10s)
  --warmup DURATION   warm-up of each (default 1s)`,
};

/** The help of one command, or of all of them. */
export function helpText(command?: string): string {
  if (command && HELP[command]) return `usage: bun src/main.ts ${HELP[command]}\n\n${EXIT_CODES}\n`;
  return `usage: bun src/main.ts COMMAND [args]   (or a role: robot-service, yoga-gateway, ...)\n\n${Object.values(HELP).map((h) => h.split("\n")[0]).map((l) => `  ${l}`).join("\n")}\n\n\`COMMAND --help\` for its options.\n${EXIT_CODES}\n`;
}
