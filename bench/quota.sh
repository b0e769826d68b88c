#!/usr/bin/env bash
# Quota benchmark: the callback's CPU per request with a quota on the deciding rule,
# against the same rules without it, without the ledger either (no [lifecycle]), and
# against the build before quotas (the baseline,
# built from BASELINE_REV in a worktree under target/). Every server records new streams
# into its own SQLite ledger; wrk asks about a new stream every request, at a steady RATE
# below what the ledger writes. Loopback only, bounded in time.
#
#   bench/quota.sh
#   ROUNDS=5 DURATION=15 RATE=6000 bench/quota.sh
#   BASELINE_REV=<commit> bench/quota.sh
#
# Needs two cores. Installs wrk from the distribution's packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v taskset >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The last commit before quotas.
BASELINE_REV=${BASELINE_REV:-638c237}
tree=target/quota-baseline
if [ ! -x "$tree/target/release/recgate" ] || [ "$(git -C "$tree" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$BASELINE_REV")" ]; then
  git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
  git worktree add --detach "$tree" "$BASELINE_REV" >/dev/null
  (cd "$tree" && cargo build --release --locked --bin recgate)
fi
cargo build --release --locked --bin recgate
BASELINE_BIN="$tree/target/release/recgate" exec python3 bench/quota.py "$@"
