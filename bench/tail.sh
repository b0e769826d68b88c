#!/usr/bin/env bash
# Tail latency at a steady rate: nginx writing a buffered JSON access-log line per request
# and recgate with its default decision log, both pinned to core 0, loaded in turn by oha on
# core 1 at the same fixed rate (a quarter of recgate's saturation throughput unless RATE
# says otherwise), with latencies corrected for coordinated omission. Loopback only,
# bounded in time.
#
#   bench/tail.sh                    # 3 alternating rounds of 15 s each
#   ROUNDS=5 DURATION=20 RATE=30000 bench/tail.sh
#
# Installs wrk and nginx from the distribution's packages and oha (pinned) with cargo
# into target/bench-tools if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

OHA_VERSION=1.15.0
. bench/needs.sh
if [ ! -x target/bench-tools/bin/oha ]; then
  cargo install oha --version "$OHA_VERSION" --locked --root target/bench-tools
fi

cargo build --release --locked --bin recgate --example gen_rules
OHA=target/bench-tools/bin/oha exec python3 bench/tail.py "$@"
