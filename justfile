# fleetbench — what an API architecture costs. `just` lists the recipes; `just RECIPE --help` shows one's options.
# Every recipe is a thin call into src/main.ts; the logic lives (and is tested) in src/.

set shell := ["bash", "-euo", "pipefail", "-c"]
# Each argument reaches src/main.ts whole, as typed ("$@"): a space, `;` or `$(…)` in one is never
# read by a shell. just joins a variadic parameter passed to a dependency into one string, so each
# case's recipe calls `src/main.ts case CASE` itself (that command is the one shared by the cases).
set positional-arguments

# Every recipe is [no-exit-message]: fleetbench's own one-line error is the whole message, and just
# adds no "recipe failed" line after it.

# Bun from PATH when it is the version src/versions.json pins (the Nix shell's), else npm's, which
# _deps installs when it is missing. (`bun -p` prints nothing on a failed require: only "true" counts.)
bun := `p=$(command -v bun) && [ "$("$p" -p 'Bun.version === require("./src/versions.json").bun' 2>/dev/null)" = true ] && echo "$p" || echo "$PWD/node_modules/.bin/bun"`
fleet := quote(bun) + " " + quote(justfile_directory() / "src/main.ts")

default:
    @just --list

# Case 1 (REST + N+1 fan-out): up | query [API] [ID] | load VUS DURATION | iterations VUS COUNT | rate RPS DURATION | capacity | chaos SERVICE SECONDS | gate
[group('case')]
[no-exit-message]
case1 *args: _deps
    @{{fleet}} case case1 "$@"

# case1b (Case 1's REST gateway and API, the orchestration over batch endpoints): the actions of case1
[group('case')]
[no-exit-message]
case1b *args: _deps
    @{{fleet}} case case1b "$@"

# Case 2 (GraphQL gateway + DataLoader): the actions of case1
[group('case')]
[no-exit-message]
case2 *args: _deps
    @{{fleet}} case case2 "$@"

# Case 3 (Apollo Federation; CASE3_GATEWAY=apollo-router|hive-gateway): the actions of case1
[group('case')]
[no-exit-message]
case3 *args: _deps
    @{{fleet}} case case3 "$@"

# Stop every process fleetbench started (the case and the local PostgreSQL)
[group('case')]
[no-exit-message]
down *args: _deps
    @{{fleet}} down "$@"

# Show what runs: case processes, PostgreSQL, the fleet size loaded
[group('case')]
[no-exit-message]
status *args: _deps
    @{{fleet}} status "$@"

# The main job: every case in 5 shuffled rounds, at 10 VUs and at one rate all sustain (4 s runs, about 7 min), ending in the report with its verdicts (before Apollo Router is built: Case 3 through Hive Gateway, said so, while the Router builds)
[group('load')]
[no-exit-message]
demo *args: _deps
    @{{fleet}} demo "$@"

# Every target in R shuffled rounds, then paired verdicts and the report: compare [VUS] [DURATION] (default 20 30s: each round at VUS and at one rate every target sustains) | --rate R [DURATION] (open model only) | --capacity; says how long first
[group('load')]
[no-exit-message]
compare *args: _deps
    @{{fleet}} compare "$@"

# The instrument proves itself: a known CPU cost injected into telemetry-service, measured back within ±10 %, an A/A check, the smallest difference this machine resolves: calibrate [DURATION] [--repeat 5] [--rate 30] [--inject 1ms]
[group('load')]
[no-exit-message]
calibrate *args: _deps
    @{{fleet}} calibrate "$@"

# Curves: every target at each fleet size (sweep fleet 15,150,1500 [DURATION]) or offered rate (sweep rate 50,100,200,400 [DURATION]), then the report
[group('load')]
[no-exit-message]
sweep *args: _deps
    @{{fleet}} sweep "$@"

# The cost model: every target at several rates, CPU per second = fixed + marginal × rate per process and component, crossings, cost per million requests: model [DURATION] [--rates 25,50,100,200] [--repeat 3] [--at R] [--price vcpu-hour=P,gb-hour=Q]
[group('load')]
[no-exit-message]
model *args: _deps
    @{{fleet}} model "$@"

# The decision map over fleet size × hop latency (capacity at the SLO and the model per cell): grid [--quick] [--fleet 15,150,1500] [--hops 0,1,5] [--at 50] [--plan] [--resume DIR]; map DIR [--at R] redraws it
[group('load')]
[no-exit-message]
grid *args: _deps
    @{{fleet}} grid "$@"

# The decision map of a grid folder at another rate or price: map DIR [--at R] [--price ...]
[group('load')]
[no-exit-message]
map *args: _deps
    @{{fleet}} map "$@"

# Markdown table + HTML page from results (default: the newest comparison); --baseline OTHER: against another comparison
[group('load')]
[no-exit-message]
report *args: _deps
    @{{fleet}} report "$@"

# Local PostgreSQL 16: up | down | status (nothing to do when DATABASE_URL is set)
[group('data')]
[no-exit-message]
db *args: _deps
    @{{fleet}} db "$@"

# (Re)create the schema and load a deterministic fleet of N robots
[group('data')]
[no-exit-message]
seed *args: _deps
    @{{fleet}} seed "$@"

# Remove the local database and run folders (add --results to remove results too)
[group('dev')]
[no-exit-message]
clean *args: _deps
    @{{fleet}} clean "$@"

# Compose Case 3's supergraph from the subgraph schemas into compose/supergraph.graphql (--check: only compare)
[group('dev')]
[no-exit-message]
supergraph *args: _deps
    @{{fleet}} supergraph "$@"

# Build the pinned vegeta (the load engine), Apollo Router and Toxiproxy into the tools cache (~/.cache/fleetbench/tools), once
[group('dev')]
[no-exit-message]
tools *args: _deps
    @{{fleet}} tools "$@"

# robot-service's GET /robots/:id against postgres.js with the same query, pool and concurrency, windows interleaved
[group('dev')]
[no-exit-message]
bench-driver *args: _deps
    @{{fleet}} bench-driver "$@"

# Run the test suite (real PostgreSQL, real processes; builds the tools first if missing)
[group('dev')]
[no-exit-message]
test *args: _deps
    @{{fleet}} test "$@"

# fleetbench's version and the commit it runs (`just --version` is just's own)
[group('dev')]
[no-exit-message]
version *args: _deps
    @{{fleet}} version "$@"

# Prometheus on :19090 (Grafana on :13000 when on PATH), natively: up | down | status | config [--compose] | check [RUN_ID]
[group('obs')]
[no-exit-message]
obs *args: _deps
    @{{fleet}} obs "$@"

# A case under Docker Compose: just compose case2 up [--no-grafana] | down | ps | logs | gate | rate RPS DURATION; just compose images | tools | down
[group('platform')]
[no-exit-message]
compose +args: _deps
    @{{fleet}} compose "$@"

# A case on Kubernetes with kubectl's current context: k8s case2 render (no cluster needed) | up | gate | load | down [options]; k8s cluster up|status|down builds and runs a single-node cluster here
[group('platform')]
[no-exit-message]
k8s *args: _deps
    @{{fleet}} k8s "$@"

# Install the npm dependencies when they are missing
_deps:
    @[ -x node_modules/.bin/bun ] || npm install --no-audit --no-fund
