#!/usr/bin/env bash
# Load benchmark: recgate with a 10,000-rule config against nginx answering the same JSON
# with `return 200`, each pinned to core 0 with wrk on core 1, alternating runs (recgate
# with RUST_LOG=warn, as nginx has its access log off, and again with a log line per
# callback read through a pipe); then startup, memory and reload with 100,000 rules.
# Loopback only, bounded in time.
#
#   bench/load.sh                # 3 rounds of 10 s each
#   ROUNDS=5 DURATION=15 bench/load.sh
#   BIG=0 bench/load.sh          # the callback comparison only
#   LOGGED=0 bench/load.sh       # without the row with logs
#   BASELINE_BIN=path/to/older/recgate BIG=0 bench/load.sh   # A/B: another build in the rotation
#   BASELINE_LOG=1 BASELINE_BIN=...      # the A/B with both builds logging their decisions
#
# Needs two cores. Installs wrk and nginx from the distribution's packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/needs.sh

cargo build --release --locked --bin recgate --example gen_rules
exec python3 bench/load.py "$@"
