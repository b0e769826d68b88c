"""Driver of bench/quota.sh: what a quota costs the callback, in CPU per request.

Three servers, each pinned to core 0 in turn with wrk on core 1, in alternating rounds:

- `quota`: this build, the deciding rule names a quota (a cap far above the load);
- `no quota`: this build, the same rules without it;
- `off`: this build, the same rules without the quota or the ledger (no `[lifecycle]`):
  what the lifecycle and quota features together cost, against nothing;
- `baseline`: the build before quotas, the same rules (when BASELINE_BIN is set).

Every request asks about a new stream (a wrk script counts), so every answer records a
new stream: the quota takes a slot, and every server writes the decision to its SQLite
ledger. wrk paces each connection so that the rate is RATE requests per second, below
what the ledger writes, as a platform's callbacks are: CPU per request then includes the
ledger's writer and the quota's sync, all in the server process.
"""

import os
import statistics
import subprocess
import tempfile
import urllib.request

from load import cpu_seconds, free_ports, stop, wait_http

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
RATE = int(os.environ.get("RATE", "4000"))
CONNECTIONS = 32
SERVER_CORE, LOAD_CORE = "0", "1"
RECGATE = os.environ.get("RECGATE_BIN", "target/release/recgate")
BASELINE = os.environ.get("BASELINE_BIN")

RULES = """[server]
listen = "127.0.0.1:{port}"
[overrides]
store = "sqlite:{name}.db"
{lifecycle}
{quota}
[default]
record = false
[[rule]]
name = "never-test"
stream = "test-*"
record = false
[[rule]]
name = "premium-courses"
app = "edu"
stream = "course-*"
codec = ["h265"]
vbitrate = {{ min = 2000 }}
record = true
formats = ["mp4", "m3u8"]
interval = {{ mp4 = 3600, m3u8 = 600 }}
{rule_quota}
[[rule]]
name = "other-courses"
app = "edu"
stream = "course-*"
record = false
"""

LIFECYCLE = """[lifecycle]
ingest_path = "/ingest"
notify_path = "/notify"
"""

QUOTA = """[[quota]]
name = "premium"
max_active = 10000000
monthly_hours = 1000000
timezone = "Asia/Shanghai"
"""

# A new stream per request; each connection waits so that all together make RATE/s.
SCRIPT = """
local counter = 0
local prefix = tostring(math.random(1, 1e9))
request = function()
  counter = counter + 1
  return wrk.format("GET", "/?domain=live.example.com&app=edu&codec=h265&vbitrate=2500&stream=course-" .. prefix .. "-" .. counter)
end
delay = function()
  return {delay_ms}
end
"""


def serve(work, name, binary, quota, ledger=True):
    (port,) = free_ports(1)
    config = os.path.join(work, f"{name}.toml")
    with open(config, "w") as f:
        f.write(RULES.format(port=port, name=name, quota=QUOTA if quota else "",
                             lifecycle=LIFECYCLE if ledger else "",
                             rule_quota='quota = "premium"' if quota else ""))
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, binary, "serve", "--config", config, "--no-watch"],
        cwd=work, env=dict(os.environ, RUST_LOG="warn"), stdout=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    url = f"http://127.0.0.1:{port}/?domain=live.example.com&app=edu&stream=course-x&codec=h265&vbitrate=2500"
    with urllib.request.urlopen(url) as answer:
        assert b'"NeedRecord":true' in answer.read(), f"{name} records a course"
    return proc, port


def run(pid, port, script, duration):
    before = cpu_seconds(pid)
    out = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s",
         "-s", script, f"http://127.0.0.1:{port}/"],
        check=True, capture_output=True, text=True).stdout
    requests = int(out.split(" requests in")[0].split()[-1])
    non2xx = "Non-2xx" in out
    cpu = cpu_seconds(pid) - before
    return {"cpu_us": cpu / requests * 1e6, "rps": requests / duration, "non2xx": non2xx}



def main():
    work = tempfile.mkdtemp(prefix="recgate-quota-")
    script = os.path.join(work, "new-streams.lua")
    with open(script, "w") as f:
        f.write(SCRIPT.format(delay_ms=max(1, round(CONNECTIONS * 1000 / RATE))))
    servers = {
        "quota": serve(work, "quota", os.path.abspath(RECGATE), True),
        "no quota": serve(work, "plain", os.path.abspath(RECGATE), False),
        "off": serve(work, "off", os.path.abspath(RECGATE), False, ledger=False),
    }
    if BASELINE:
        servers["baseline"] = serve(work, "baseline", os.path.abspath(BASELINE), False)
    runs = {name: [] for name in servers}
    try:
        for proc, port in servers.values():
            run(proc.pid, port, script, 2)  # warm-up
        for round_ in range(ROUNDS):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for name in order:
                proc, port = servers[name]
                runs[name].append(run(proc.pid, port, script, DURATION))
    finally:
        for proc, _ in servers.values():
            stop(proc)
    print(f"\n## A quota on the deciding rule: {ROUNDS} alternating rounds of {DURATION} s, "
          f"a new stream per request, about {RATE} requests/s, {CONNECTIONS} connections, "
          f"server on core {SERVER_CORE}, wrk on core {LOAD_CORE} (medians)\n")
    print("| server | req/s | CPU µs/req (server, ledger and sync) | per run |")
    print("|---|---|---|---|")
    for name, rows in runs.items():
        per_run = ", ".join(f"{r['cpu_us']:.1f}" for r in rows)
        print(f"| {name} | {statistics.median(r['rps'] for r in rows):,.0f} | "
              f"{statistics.median(r['cpu_us'] for r in rows):.2f} | {per_run} |")
    cpu = {name: statistics.median(r["cpu_us"] for r in rows) for name, rows in runs.items()}
    print(f"\nquota / no quota: CPU per request {cpu['quota'] / cpu['no quota']:.3f}x; "
          f"ledger and quota on / off: {cpu['quota'] / cpu['off']:.3f}x")
    if "baseline" in cpu:
        print(f"no quota / baseline build: {cpu['no quota'] / cpu['baseline']:.3f}x; "
              f"quota / baseline build: {cpu['quota'] / cpu['baseline']:.3f}x")
    if any(r["non2xx"] for rows in runs.values() for r in rows):
        print("some answers were not 200")


if __name__ == "__main__":
    main()
