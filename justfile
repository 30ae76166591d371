# fleetbench — what an API architecture costs. `just` lists the recipes.
# Every recipe is a thin call into src/main.ts; the logic lives (and is tested) in src/.

set shell := ["bash", "-euo", "pipefail", "-c"]

bun := justfile_directory() / "node_modules/.bin/bun"
fleet := bun + " " + justfile_directory() / "src/main.ts"

default:
    @just --list

# Case 1 (REST + N+1 fan-out): up | query API [ID] | load VUS DURATION | iterations VUS COUNT | rate RPS DURATION | capacity [--slo p99=200ms] | chaos SERVICE SECONDS
[group('case')]
case1 action *args: (_case "case1" action args)

# case1b (Case 1's REST gateway and API, the orchestration over batch endpoints): as case1
[group('case')]
case1b action *args: (_case "case1b" action args)

# Case 2 (GraphQL gateway + DataLoader): up | query | load | iterations | rate | chaos (as case1)
[group('case')]
case2 action *args: (_case "case2" action args)

# Case 3 (Apollo Federation; CASE3_GATEWAY=apollo-router|hive-gateway): up | query | load | iterations | rate | chaos
[group('case')]
case3 action *args: (_case "case3" action args)

# One shared recipe for every case: `just case3 up` runs `src/main.ts up case3`.
_case case action *args: _deps
    @{{fleet}} {{action}} {{case}} {{args}}

# Stop every process fleetbench started (the case and the local PostgreSQL)
[group('case')]
down: _deps
    @{{fleet}} down

# Show what runs: case processes, PostgreSQL, the fleet size loaded
[group('case')]
status: _deps
    @{{fleet}} status

# The main job: a short comparison of every case (4 shuffled rounds of 5 s at 10 VUs), ending in the report with its verdicts (before Apollo Router is built: Case 3 through Hive Gateway, said so, while the Router builds)
[group('load')]
demo: _deps
    @{{fleet}} demo

# Every target under the same load in R shuffled rounds, then verdicts and the report: compare [VUS] [DURATION] (default 50 60s) | --rate R [DURATION] (equal offered load) | --capacity [--slo p99=200ms]; --repeat R, --seed S, --gateways, --cases
[group('load')]
compare *args: _deps
    @{{fleet}} compare {{args}}

# Curves: every target at each fleet size (sweep fleet 15,150,1500 [DURATION] [--vus V | --rate R | --capacity]) or offered rate (sweep rate 50,100,200,400 [DURATION]), then the report
[group('load')]
sweep axis list *args: _deps
    @{{fleet}} sweep {{axis}} {{list}} {{args}}

# Markdown table + HTML page from results (default: the newest comparison); --baseline OTHER: against another comparison
[group('load')]
report *files: _deps
    @{{fleet}} report {{files}}

# Local PostgreSQL 16: up | down | status (nothing to do when DATABASE_URL is set)
[group('data')]
db action: _deps
    @{{fleet}} db {{action}}

# (Re)create the schema and load a deterministic fleet of N robots
[group('data')]
seed n="": _deps
    @{{fleet}} seed {{n}}

# Remove the local database and run folders (add --results to remove results too)
[group('dev')]
clean *flags: _deps
    @{{fleet}} clean {{flags}}

# Compose Case 3's supergraph from the subgraph schemas into compose/supergraph.graphql (--check: only compare)
[group('dev')]
supergraph *flags: _deps
    @{{fleet}} supergraph {{flags}}

# Build the pinned k6 and Apollo Router into the tools cache (~/.cache/fleetbench/tools), once
[group('dev')]
tools *names: _deps
    @{{fleet}} tools {{names}}

# robot-service's GET /robots/:id against postgres.js with the same query, pool and concurrency, windows interleaved (--concurrency 50 --windows 5 --window 10s)
[group('dev')]
bench-driver *args: _deps
    @{{fleet}} bench-driver {{args}}

# Run the test suite (real PostgreSQL, real processes; builds the tools first if missing)
[group('dev')]
test *args: _deps tools
    @{{bun}} test --timeout 180000 {{args}}

# Prometheus on :19090 (Grafana on :13000 when on PATH), natively: up | down | status | config [--compose] | check [RUN_ID]
[group('obs')]
obs action *args: _deps
    @{{fleet}} obs {{action}} {{args}}

# A case under Docker Compose: just compose case2 up [--no-grafana] | down | ps | logs | gate | rate RPS DURATION; just compose images | tools | down
[group('obs')]
compose +args: _deps
    @{{fleet}} compose {{args}}

# A target on Kubernetes with kubectl's current context: k8s render TARGET (no cluster needed) | up | gate | load | down, [--parallelism P] [--namespace NS] (`bun src/main.ts k8s --help`)
[group('cluster')]
k8s action *args: _deps
    @{{fleet}} k8s {{action}} {{args}}

# Install the npm dependencies when they are missing
_deps:
    @[ -x "{{bun}}" ] || npm install --no-audit --no-fund
