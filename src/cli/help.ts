/**
 * What every command answers to `--help` (or `-h`): its usage in the form people type it (the
 * justfile's recipes: `just case2 load VUS DURATION`), its options, each once, and the exit codes,
 * which are the same for every command. `just --list` lists the recipes; `bun src/main.ts --help`
 * lists the commands behind them.
 */
import { leadingWords } from "./args";

export const EXIT_CODES = `exit codes: 0 done, 1 failed (the message says why), 2 usage or configuration error,
3 refused by the correctness gate, 4 undecided (calibrate: too few rounds for this machine's noise), 130 interrupted (Ctrl-C)`;

/** The actions of `just CASE ACTION`: the commands that take a case first. */
export const CASE_ACTIONS = ["up", "query", "load", "iterations", "rate", "capacity", "chaos", "gate"];

const API = `  --api dashboard|monitor|critical   one API instead of the 50/30/20 mix`;
const WARMUP = (d: string) => `  --warmup DURATION                   warm-up at the measured load, not counted (default ${d}; 0s for none)`;
const PIN = `  --pin                               the load engine on the last CPU, the case (PostgreSQL too) on the others (taskset; needs 2 CPUs)`;
const ENGINE = `  --engine vegeta|k6                  the load engine (default FLEET_ENGINE, else vegeta, built here once from its Go module);
                                      k6 only one you bring on PATH at the pinned version: fleetbench never builds or fetches it`;
const HOP = `  --hop-latency D                     every internal hop through Toxiproxy, D added to each answer (0ms, 1ms, 5ms;
                                      FLEET_HOP_LATENCY); without it nothing is proxied`;
const TARGETS = `  --cases LIST                        which cases (default case1,case1b,case2,case3); one named twice (case2,case2)
                                      runs as two columns: an A/A check of what "no difference" looks like here
  --gateways apollo-router,hive-gateway   each case once per gateway of its own named (Case 3: apollo-router, hive-gateway,
                                      hive-router, apollo-gateway; case1, case1b: rest-gateway, nginx), else through its
                                      default (FLEET_COMPARE_GATEWAYS, else apollo-router)
  --runtimes bun,deno                 every target on each runtime, side by side (default FLEET_RUNTIME's, bun)`;
const SEED = `  --seed S                            the seed of the rounds' orders (default: random, printed and recorded)`;
/** The options of a capacity search that nothing else takes. */
const SEARCH = `  --slo PCT=DURATION                  the SLO: p50, p95 or p99 at or under a bound (default p99=200ms)
  --start R, --max R                  the first rate tried (default 20 requests/s), the highest (default 5000)
  --step DURATION                     each step's measured run (default 10s, at least 5s)`;
const INJECT = `  --inject-cpu PROCESS=1ms            PROCESS burns that much CPU time (not wall time) per request it receives
                                      (calibration; recorded in parity; never on by default)`;
const LOAD_OPTIONS = `${API}\n${WARMUP("5s")}\n${PIN}\n${ENGINE}\n${HOP}\n${INJECT}`;

export const HELP: Record<string, string> = {
  case: `just CASE ACTION [args]\n  the actions of a case (case1, case1b, case2 or case3; Case 3's gateway by
  CASE3_GATEWAY=apollo-router|hive-gateway|hive-router|apollo-gateway, case1's and case1b's by REST_GATEWAY=rest-gateway|nginx):
    up                       start the case (and PostgreSQL), wait for /health
    query [API] [ID]         one client request through the running case, answer printed
    load VUS DURATION        one measured run at constant VUs (e.g. just case3 load 50 5m)
    iterations VUS COUNT     one measured run: VUS share COUNT requests
    rate RPS DURATION        one measured run at a constant arrival rate
    capacity [--slo p99=200ms]   the highest rate meeting the SLO
    chaos SERVICE SECONDS    a load run during which SERVICE is killed (or paused) for SECONDS
    gate                     the correctness gate alone, against the running case
  \`just CASE ACTION --help\` for the action's options`,
  db: `just db up|down|status\n  the local PostgreSQL 16 on 127.0.0.1:FLEET_PG_PORT (nothing to do when DATABASE_URL is set)`,
  seed: `just seed [N]\n  recreate the schema and load a deterministic fleet of N robots (default FLEET_SIZE, 15)`,
  up: `just CASE up [options]\n  start CASE (case1, case1b, case2, case3; CASE3_GATEWAY=apollo-router|hive-gateway|hive-router|apollo-gateway,
  REST_GATEWAY=rest-gateway|nginx), the database first; waits for /health.
  Every TypeScript role runs on FLEET_RUNTIME's runtime: bun (default) or deno
${HOP}`,
  down: `just down\n  stop every process fleetbench started, PostgreSQL included`,
  status: `just status\n  what runs (on which runtime), with pids and each process's memory now (PSS, RSS), and the fleet size loaded`,
  query: `just CASE query [API] [ID]\n  one client request through the running case (API: dashboard, monitor, critical; ID: a robot, for monitor)`,
  load: `just CASE load VUS DURATION [options]\n  one measured run at constant VUs (e.g. just case3 load 50 5m); the result goes to results/
  --vus V --duration D                the same as VUS DURATION
${LOAD_OPTIONS}`,
  iterations: `just CASE iterations VUS COUNT [options]\n  one measured run: VUS share COUNT requests
  --vus V --iterations N              the same as VUS COUNT
${LOAD_OPTIONS}`,
  rate: `just CASE rate RPS DURATION [options]\n  one measured run at a constant arrival rate (the open model)
  --rate R --duration D               the same as RPS DURATION
${LOAD_OPTIONS}`,
  capacity: `just CASE capacity [options]\n  the highest arrival rate at which CASE meets the SLO with no dropped iterations and under 0.1 % errors:
  doubling (or halving) to a bracket, then bisection to within 5 %; every step a measured run after a warm-up.
  The search and every step go to results/capacity-<time>.json, its report (latency against offered rate) beside it
${SEARCH}
${WARMUP("3s")}
  --repeat R                          searches (default 1; with 2 or more, the capacity's interval)
${SEED}
${API}
${HOP}
${ENGINE}`,
  model: `just model [DURATION] [options]\n  the cost model: every target at each rate in R rounds (each round every rate in a shuffled order, each rate a
  comparison in the open model); per process and component CPU per second = fixed + marginal × rate by least
  squares with 95 % intervals, peak PSS per rate, where targets' lines cross, cost per million requests.
  A rate a target cannot sustain (dropped iterations, errors) is recorded and left out of its fit.
  results/model-<time>.json and its report (.md, .html); DURATION per run (default 10s)
  --rates LIST        offered rates, requests/s (default 25,50,100,200)
  --repeat R          rounds (default 3); --warmup DURATION (default 3s); --seed S
  --at R              the rate the cost is ranked at (default the highest rate)
  --price vcpu-hour=P,gb-hour=Q   money per million requests (without it, ranked by CPU-hours)
  --cases LIST, --gateways LIST, --runtimes bun,deno, --api NAME
${ENGINE}`,
  grid: `just grid [DURATION] [options]\n  the decision map: in every cell of fleet size × hop latency each target's capacity at the SLO (searched up
  from --at) and the model up to --at among those that meet it; per cell the cheapest target at --at, its ratio
  to the runner-up with the interval, tie where it includes 1. One file per cell in results/grid-<time>/,
  the map (map-at-R.md, .html) beside them. Prints its estimate first
  --fleet LIST        fleet sizes (default 15,150,1500); --hops LIST latency per internal hop, ms (default 0,1,5)
  --at R              the map's rate, requests/s (default 50)
  --quick             a 2 × 2 grid (15,150 × 0,5 ms), 2 rounds, short runs, a coarse search: within 30 minutes
  --plan              print the estimate and stop
  --resume DIR        continue an interrupted grid (its finished cells are kept)
  --repeat R, --slo PCT=DURATION, --step DURATION, --warmup DURATION, --price ..., --cases, --gateways, --runtimes, --api, --seed
${ENGINE}`,
  map: `just map DIR [--at R] [--price vcpu-hour=P,gb-hour=Q]\n  the decision map of a grid folder again, at another rate or price (a rate outside a cell's measured
  rates is extrapolated, and said)`,
  chaos: `just CASE chaos SERVICE SECONDS [VUS] [DURATION] [options]\n  a load run during which SERVICE is taken away for SECONDS (default 10 VUs for max(30 s, 4 × SECONDS))
  --vus V --duration D                the same as VUS DURATION
  --mode kill|pause                   a crash (default) or a hang
  --at S                              when the fault starts (default: a quarter into the run)
${API}
${WARMUP("5s")}
${ENGINE}`,
  gate: `just CASE gate [--answers]\n  the correctness gate alone: every API of the running case (FLEET_GATEWAY_URL) against the database; exit 3 when one differs
  --answers                           print each answer's sha256 (\`answer KEY sha256 HEX\`): what a Kubernetes load run checks every response against`,
  compare: `just compare [VUS] [DURATION] [options]\n  every target in R rounds, each in a shuffled order (default 20 VUs, 30s runs); verdicts in results/compare-<time>.json,
  then the report. Each round measures every target at VUS (closed model: throughput, latency) and at one arrival
  rate all of them sustain (CPU per request at equal offered load: 0.4 × the slowest target's closed-model
  throughput in a warm probe before round 1, not counted), both on one start of the target (the closed model
  first, which warms it for the rate), and splits each target's CPU per request there into fixed and marginal
  cost. Prints the planned runs and the time they take before it starts
  --vus V --duration D                the same as VUS DURATION
  --rate R [DURATION]                 the open model only, at R requests/s (a target that cannot keep up is
                                      flagged sut_overloaded and named above the report)
  --closed-only                       the closed model only (CPU per request then at each target's own throughput)
  --rate-duration D                   the runs at the rate measure D instead of DURATION (CPU per request at a low rate is
                                      the noisiest figure of a round; a longer window narrows it most)
  --metronome                         beside every run, a small process doing the same work 60 times a second; its CPU per
                                      second in each run is recorded (extra.metronome): the machine's factor per run, for
                                      study only (the verdicts do not use it: its reading moves with the load beside it)
  --until-decided                     add rounds until every pair of total CPU per request and throughput is decided or
                                      equivalent (group-sequential t-tests, a look after every round from 3 on; the false-verdict
                                      rate holds however the rounds stop); --repeat is then the last look (default 20)
  --budget DURATION                   with --until-decided: stop adding rounds when the next would end after this (e.g. 20m)
  --equivalence 5%                    the margin of equivalence: a pair is equivalent when two one-sided tests show its
                                      ratio within ±this on the log scale (default 5%)
  --capacity                          each target's capacity at the SLO instead (results/capacity-<time>.json), with
${SEARCH}
  --repeat R                          rounds (default 5; verdicts are paired by round, 2 at the least); with --capacity,
                                      searches per target (default 1)
${SEED}
${TARGETS}
  --platforms native,compose          every target on each platform in the same rounds (default native): what the
                                      containers and their bridge network cost, paired (compose: Bun's rows, Case 3
                                      through apollo-router; needs Docker and Compose, \`just compose tools\`)
${API}
${WARMUP("5s")}
${PIN}
${ENGINE}
${HOP}`,
  sweep: `just sweep fleet|rate LIST [DURATION] [options]\n  every target at each value of LIST: fleet sizes (reseeded for each; the configured fleet is put back after)
  or offered rates (requests/s); DURATION per run (default 10s). Curves in results/sweep-<axis>-<time>.json and its
  report. Prints the planned runs and the time they take before it starts
  --duration D                        the same as DURATION
  --vus V                             (fleet) the closed model at V VUs (default 10)
  --rate R                            (fleet) the open model at R requests/s
  --capacity                          (fleet) a capacity search at each size, with
${SEARCH}
  --repeat R                          rounds at each value, each in a shuffled order (default 1; with 2 or more, intervals)
${SEED}
${TARGETS}
${API}
${WARMUP("3s")}
${HOP}
${ENGINE}`,
  calibrate: `just calibrate [DURATION] [options]\n  the instrument proves itself: Case 1 three times per round at one rate, twice as it is (A/A) and once with a
  known CPU cost injected into telemetry-service; the case's total CPU per request, injected ÷ plain, against
  (plain + calls per request × the injected time) ÷ plain, the A/A check, the smallest difference this machine
  resolves; passed when the ratio's 95 % interval lies within ±10 % of the expected ratio, exit 1 when it lies
  wholly beyond (or the injected process alone does), exit 4 when it still reaches past an edge after the last round
  --repeat R                          rounds before the first look (default 5)
  --max-repeat R                      rounds are added, one at a time, while the interval neither lies within ±10 % of
                                      the expected ratio nor wholly beyond it, up to R (default 10; = --repeat for a fixed number)
  --rate R                            requests/s for every run (default 30)
  --inject DURATION                   CPU time burnt per request telemetry-service receives (default 1ms)
  --warmup DURATION                   warm-up of every run (default 3s)
${SEED}
${ENGINE}`,
  demo: `just demo\n  the main job: every case in 6 shuffled rounds, each at 10 VUs and then at one arrival rate every case sustains
  (0.4 × the slowest one's throughput in a warm probe), 4 s runs (about 7 min), then the report with its verdicts paired by round.
  Builds the load engine (vegeta) first if needed (under a minute, once). Without Apollo Router it starts the Router's build in the
  background (paused while the demo measures), runs Case 3 through Hive Gateway and says so above the report
${ENGINE}`,
  report: `just report [compare-TIME.json | RESULT.json ...] [options]\n  the Markdown and HTML report of a comparison or of result files (default: the newest comparison)
  --baseline FILE                     this comparison against another (another machine, another commit): what differs
                                      first, then every ratio's change with its interval (results/baseline-<time>.md, .html)`,
  clean: `just clean [--results]\n  stop everything, remove the local database and run folders (--results: the results too)`,
  supergraph: `just supergraph [--check | --api]\n  compose Case 3's supergraph into compose/supergraph.graphql (--check: only compare; --api: print the client schema)`,
  tools: `just tools [vegeta|apollo-router|toxiproxy ...]\n  build the pinned vegeta, Apollo Router and Toxiproxy into the tools cache (FLEET_TOOLS_DIR, ~/.cache/fleetbench/tools),
  once, with progress (minutes elapsed of those expected; crates compiled); a build \`demo\` left running in the
  background, or another build of the same tool, is waited for instead (Ctrl-C leaves it)`,
  test: `just test [FILE ...] [bun test options]\n  the test suite: builds the tools if missing, then \`bun test --timeout 180000\` over test/ (or the files named)`,
  obs: `just obs up|down|status|config [--compose]|check [RUN_ID]\n  Prometheus (and Grafana when on PATH) natively: config prints the generated Prometheus configuration
  (--compose: writes compose/prometheus.yml); check runs every dashboard panel's query over a run (default: the newest)`,
  compose: `just compose CASE up [--no-grafana]|down|ps|logs|gate|rate RPS DURATION|load VUS DURATION, just compose images|tools|down\n  the case under Docker Compose (docs/compose.md); images builds stand-ins where no registry answers`,
  k8s: `just k8s CASE render|up|gate|load|down [options]\n  the case on Kubernetes (kubectl's current context; render needs no cluster): render prints the manifests; up starts
  PostgreSQL, the seed and the processes; gate runs the correctness gate Job; load runs vegeta as an Indexed Job (the
  gate first if not passed), copies every pod's records out, merges them and writes the result to results/ (with
  --engine k6: a k6-operator TestRun); down deletes what fleetbench created (the namespace stays).
  \`just k8s render case2\` (the action first) still works, with a notice
  \`just k8s cluster up|status|down\` a single-node cluster on this machine (root, Linux; docs/platforms.md): up builds what
  is missing, starts it and makes it kubectl's current context (then use --resources none: a target requests 4-6 CPUs);
  status shows its processes, pods and idle cost; down leaves no process, mount, link or iptables rule
  \`just k8s cluster tools [COMPONENT ...]\` builds its components here from their served modules (kubeadm, kubelet,
  the control plane, etcd, crictl, CoreDNS, Prometheus, the pause binary; niced, one at a time, into the tools cache)
  --parallelism P                     load pods; each runs 1/P of the workers, iterations or rate (default 1)
  --vus V --duration D                the closed model (default 10 VUs for 30s)
  --rate R                            the open model (with --duration D)
  --iterations N                      a fixed count (with --vus V)
${API}
  --namespace NS                      (default fleetbench)
  --image IMAGE                       the compose image with every Bun role (default fleetbench:bun-<Bun version>)
  --engine-image IMAGE                vegeta's image (compose/vegeta.Dockerfile; default fleetbench-vegeta:<vegeta version>)
  --database-url-secret NAME          a Secret with DATABASE_URL: that server, no PostgreSQL in the namespace
  --prometheus NS/SERVICE:PORT        the Prometheus the containers' CPU and memory are read from (default monitoring/prometheus-server:80)
  --operator-namespace NS             where k6-operator runs, with --engine k6 (default k6-operator-system)
  --resources guaranteed|none         requests = limits per container (default), or neither: a node smaller than the target`,
  "bench-driver": `just bench-driver [options]\n  robot-service's GET /robots/:id against the raw driver with the same query, pool and concurrency
  --concurrency N                     requests in flight (default 50)
  --windows N                         windows of each (default 5), interleaved
  --window DURATION                   length of a window (default 10s)
  --warmup DURATION                   warm-up of each (default 1s)`,
  version: `just version\n  fleetbench's version (package.json) and the commit it runs (also \`--version\` on any command)`,
};

/** The help of one command (for a case action, `caseName` fills in CASE), or the list of them all. */
export function helpText(command?: string, caseName?: string): string {
  const page = command ? HELP[command] : undefined;
  if (page) {
    const usage = caseName && CASE_ACTIONS.includes(command!) ? page.replace("just CASE ", `just ${caseName} `) : page;
    return `usage: ${usage}\n\n${EXIT_CODES}\n`;
  }
  const lines = Object.entries(HELP).filter(([name]) => !CASE_ACTIONS.includes(name)).map(([, h]) => `  ${h.split("\n")[0]}`);
  return `usage: just RECIPE [args]   (\`just --list\` shows them with a line each)\n\n${lines.join("\n")}\n\n\`just RECIPE --help\` for its options.\n${EXIT_CODES}\n`;
}

/**
 * The help main.ts prints for `NAME ARGS... --help`: the recipes pass the case first
 * (`just case2 load --help` runs `case case2 load --help`), so the case fills in the usage line.
 */
export function helpFor(name: string | undefined, args: string[]): { text: string; known: boolean } {
  // The words as the command finds them (an option's value is not one): `case2 --api monitor load --help` is load's page.
  const { words } = leadingWords(args.filter((a) => a !== "--help" && a !== "-h"), 2, ["pin"]);
  if (name === "case") {
    const [caseName, action] = words;
    if (action && CASE_ACTIONS.includes(action)) return { text: helpText(action, caseName), known: true };
    return { text: `usage: ${HELP.case.replaceAll("just CASE", `just ${caseName ?? "CASE"}`)}\n\n${EXIT_CODES}\n`, known: true };
  }
  if (name && HELP[name]) return { text: helpText(name, CASE_ACTIONS.includes(name) ? words[0] : undefined), known: true };
  return { text: helpText(), known: false };
}
