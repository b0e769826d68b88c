#!/usr/bin/env bash
# Ledger benchmark: durable lifecycle events per second on SQLite and PostgreSQL (the
# replay tool against a server pinned to one core), and GET /usage over a month holding
# a million files. Loopback only, bounded in time.
#
#   bench/lifecycle.sh
#   ROUNDS=5 STREAMS=5000 bench/lifecycle.sh
#   FILES=100000 bench/lifecycle.sh     # a smaller usage table
#
# Needs two cores. PostgreSQL's row is skipped when its server binaries are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v taskset >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux >/dev/null; }
cargo build --release --locked --bin recgate --example replay
exec python3 bench/lifecycle.py "$@"
