#!/usr/bin/env bash
# Bad-input soak: for DURATION seconds (default 180) mixes valid callbacks at a steady
# rate, hostile requests, slow clients and config reloads (good and bad) against one
# recgate on loopback, then reports answers, refusals, errors and memory.
#
#   bench/soak.sh            # 3 minutes
#   DURATION=30 bench/soak.sh
#
# Exits non-zero if a valid callback ever failed or memory grew without bound.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin recgate
exec python3 bench/soak.py "$@"
