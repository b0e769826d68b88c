#!/usr/bin/env bash
# Property-based tests of the API against its OpenAPI document (api/openapi.json), with
# schemathesis from PyPI: a live server with the ledger, quotas and an admin token; the
# admin API on its listener, the lifecycle callbacks on the public one. Fails on any 5xx
# and on any answer the document does not describe. Bounded to SCHEMATHESIS_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SECONDS_EACH=${SCHEMATHESIS_SECONDS:-80}
venv=target/schemathesis-venv
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

work=$(mktemp -d)
token=schemathesis-admin-token-0123456789
printf '%s\n' "$token" > "$work/token"
cat > "$work/recgate.toml" <<CONFIG
[server]
listen = "127.0.0.1:18931"
[admin]
listen = "127.0.0.1:18932"
token_file = "$work/token"
[lifecycle]
ingest_path = "/ingest"
notify_path = "/notify"
[[quota]]
name = "premium"
max_active = 50
monthly_hours = 100
[default]
record = false
[[rule]]
name = "courses"
app = "edu"
quota = "premium"
record = true
formats = ["mp4"]
[[rule]]
name = "no-courses"
app = "edu"
record = false
CONFIG
cargo build --locked --bin recgate
RUST_LOG=warn target/debug/recgate serve --config "$work/recgate.toml" --no-watch > "$work/server.log" 2>&1 &
server=$!
# The server must stop within 15 s of SIGTERM (its grace period is 5 s): a hang fails the
# run instead of holding it.
stop_server() {
    kill "$server" 2>/dev/null || true
    for _ in $(seq 1 150); do
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server" 2>/dev/null; then
        echo "the server did not stop within 15 s of SIGTERM" >&2
        kill -9 "$server" 2>/dev/null || true
        rm -rf "$work"
        exit 1
    fi
    rm -rf "$work"
}
trap stop_server EXIT
for _ in $(seq 1 100); do
    curl -sf http://127.0.0.1:18932/healthz >/dev/null && break
    sleep 0.1
done

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
run() {
    timeout "$SECONDS_EACH" "$venv/bin/st" run api/openapi.json --checks "$checks" \
        --max-examples 60 --workers 2 --request-timeout 5 --seed 1 "$@"
}
echo "== schemathesis: the admin API"
run --url http://127.0.0.1:18932 -H "Authorization: Bearer $token" \
    --exclude-path-regex '^/(ingest|notify)?$'
echo "== schemathesis: the lifecycle callbacks"
run --url http://127.0.0.1:18931 --include-path-regex '^/(ingest|notify)$'
