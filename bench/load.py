"""Driver of bench/load.sh: runs the servers, the load and the measurements, prints a table.

Every server and load generator runs on 127.0.0.1 and is stopped at the end; each wrk run
is bounded by DURATION seconds.
"""

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
CONNECTIONS = 64
RULES = 10_000
BIG_RULES = 100_000
BIG_SHAPE = os.environ.get("BIG_SHAPE", "glob")  # exact and glob patterns, as the goal states
BIG = os.environ.get("BIG", "1") != "0"  # BIG=0 skips the 100,000-rule part
LOGGED = os.environ.get("LOGGED", "1") != "0"  # LOGGED=0 skips the rows with logs
LOGGED_ROW = "recgate, decision log"  # the shipped default (info), written to a file
NGINX_LOGGED_ROW = "nginx, JSON access log"  # one buffered JSON line per request
# BASELINE_BIN=path/to/another/recgate adds a row for that build, run in the same rotation:
# an A/B of two builds against the same nginx runs.
BASELINE = os.environ.get("BASELINE_BIN")
BASELINE_ROW = "baseline build"
# BASELINE_LOG=1 runs the baseline build with its decision log on, written to a file, to
# compare with the "decision log" row instead of the bare one.
BASELINE_LOG = os.environ.get("BASELINE_LOG", "0") != "0"
TARGET_RULE = 4_999  # in the middle of the file: a linear scan would pass 5,000 rules
SERVER_CORE, LOAD_CORE = "0", "1"
RECGATE = os.environ.get("RECGATE_BIN", "target/release/recgate")
GEN = "target/release/examples/gen_rules"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    return free_ports(1)[0]


def free_ports(n):
    """n distinct free ports: every socket stays bound until all are chosen, so the kernel
    cannot hand out one port twice."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_http(url, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic()
        except OSError:
            time.sleep(0.005)
    raise SystemExit(f"no 200 from {url} within {timeout}s")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def to_us(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]


def wrk(url, duration):
    out = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s",
         "--latency", url],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = to_us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "requests": requests, "p50": p50, "p99": p99,
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def measured(pid, url):
    before = cpu_seconds(pid)
    result = wrk(url, DURATION)
    result["cpu_us"] = (cpu_seconds(pid) - before) / result["requests"] * 1e6
    result["rss"] = rss_mib(pid)
    return result


# What recgate's decision log line holds, as nginx can log it: time, request id, the
# query's fields, and the time taken (nginx has no rule or decision to log).
NGINX_JSON_LOG = (
    "log_format decisions escape=json '{\"time\":\"$time_iso8601\",\"request_id\":\"$request_id\","
    "\"domain\":\"$arg_domain\",\"app\":\"$arg_app\",\"stream\":\"$arg_stream\","
    "\"codec\":\"$arg_codec\",\"vbitrate\":\"$arg_vbitrate\",\"status\":$status,"
    "\"request_time\":$request_time}';"
)


def start_nginx(workdir, port, body, access_log=None):
    """nginx answering `body`; with `access_log` (a path), a JSON line per request written
    through a 64 KiB buffer, else no access log."""
    name = "nginx-logged" if access_log else "nginx"
    conf = os.path.join(workdir, f"{name}.conf")
    escaped = body.replace("'", "\\'")
    logging = (f"{NGINX_JSON_LOG}\n  access_log {access_log} decisions buffer=64k;"
               if access_log else "access_log off;")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
  {logging}
  client_body_temp_path {workdir}; proxy_temp_path {workdir}; fastcgi_temp_path {workdir};
  uwsgi_temp_path {workdir}; scgi_temp_path {workdir};
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{escaped}'; }}
  }}
}}
""")
    master = subprocess.Popen(["taskset", "-c", SERVER_CORE, "nginx", "-c", conf, "-p", workdir])
    wait_http(f"http://127.0.0.1:{port}/")
    worker = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True)
    return master, int(worker.stdout.split()[0])


def start_recgate(config, port, log, level="warn", binary=RECGATE):
    """recgate pinned to the server core; `log` is a file, or None for a pipe that a `cat`
    process (not pinned) reads, as a container runtime or log collector would."""
    env = dict(os.environ, RUST_LOG=level)
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, binary, "serve", "--config", config,
         "--listen", f"127.0.0.1:{port}", "--no-watch"],
        env=env, stdout=log if log else subprocess.PIPE, stderr=subprocess.STDOUT)
    if log is None:
        subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
    return proc


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def gen(*args):
    return subprocess.run([GEN, *args], check=True, capture_output=True, text=True).stdout


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs two cores: one for the server, one for wrk")
    work = tempfile.mkdtemp(prefix="recgate-load-")
    config = os.path.join(work, "rules-10k.toml")
    with open(config, "w") as f:
        f.write(gen("config", str(RULES), "mixed"))
    query = gen("query", str(TARGET_RULE), "mixed").strip()
    body = subprocess.run([RECGATE, "decide", "--config", config, query], check=True,
                          capture_output=True, text=True).stdout.splitlines()[0]

    ngx_port, rg_port, logged_port, base_port, ngx_logged_port = free_ports(5)
    nginx, nginx_worker = start_nginx(work, ngx_port, body)
    nginx_logged = nginx_logged_worker = None
    if LOGGED:
        nginx_logged, nginx_logged_worker = start_nginx(
            work, ngx_logged_port, body, access_log=os.path.join(work, "nginx-access.log"))
    log = open(os.path.join(work, "recgate.log"), "w")
    recgate = start_recgate(config, rg_port, log)
    logged = None
    if LOGGED:
        # A config of its own, so that two servers never migrate one SQLite store at once.
        logged_config = os.path.join(work, "logged-10k.toml")
        shutil.copy(config, logged_config)
        logged_file = open(os.path.join(work, "recgate-decisions.log"), "w")
        logged = start_recgate(logged_config, logged_port, logged_file, level="info")
    baseline = None
    if BASELINE:
        # A config of its own, so that it keeps its overrides store to itself.
        baseline_config = os.path.join(work, "baseline-10k.toml")
        shutil.copy(config, baseline_config)
        if BASELINE_LOG:
            baseline_log = open(os.path.join(work, "baseline-decisions.log"), "w")
            baseline = start_recgate(baseline_config, base_port, baseline_log, level="info",
                                     binary=BASELINE)
        else:
            baseline = start_recgate(baseline_config, base_port, subprocess.DEVNULL,
                                     binary=BASELINE)
    try:
        targets = {"nginx": (nginx_worker, f"http://127.0.0.1:{ngx_port}/?{query}")}
        if nginx_logged is not None:
            targets[NGINX_LOGGED_ROW] = (nginx_logged_worker,
                                         f"http://127.0.0.1:{ngx_logged_port}/?{query}")
        for name, proc, port in (("recgate", recgate, rg_port), (LOGGED_ROW, logged, logged_port),
                                 (BASELINE_ROW, baseline, base_port)):
            if proc is None:
                continue
            wait_http(f"http://127.0.0.1:{port}/healthz")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/?{query}") as r:
                assert r.read().decode() == body, "recgate answers what decide says"
            targets[name] = (proc.pid, f"http://127.0.0.1:{port}/?{query}")
        runs = {name: [] for name in targets}
        for _, url in targets.values():
            wrk(url, 2)  # warm-up
        for round_ in range(ROUNDS):
            order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
            for name in order:
                runs[name].append(measured(*targets[name]))
    finally:
        for proc in (recgate, logged, baseline, nginx, nginx_logged):
            if proc is not None:
                stop(proc)

    print(f"\n## Callback throughput: {RULES:,} rules, {CONNECTIONS} connections, "
          f"server on core {SERVER_CORE}, wrk -t1 on core {LOAD_CORE}, "
          f"{ROUNDS} alternating runs of {DURATION}s (medians)\n")
    print("| server | req/s | p50 µs | p99 µs | CPU µs/req | RSS MiB | non-2xx |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in runs.items():
        print(f"| {name} | {median(rows, 'rps'):,.0f} | {median(rows, 'p50'):.0f} | "
              f"{median(rows, 'p99'):.0f} | {median(rows, 'cpu_us'):.2f} | "
              f"{median(rows, 'rss'):.1f} | {sum(r['non2xx'] for r in rows)} |")
    rps_ratio = median(runs["recgate"], "rps") / median(runs["nginx"], "rps")
    cpu_ratio = median(runs["recgate"], "cpu_us") / median(runs["nginx"], "cpu_us")
    print(f"\nrecgate/nginx: throughput {rps_ratio:.2f}x (goal >= 0.90), "
          f"CPU per request {cpu_ratio:.2f}x (goal <= 1.20), "
          f"recgate p99 {median(runs['recgate'], 'p99'):.0f} µs (goal < 1000)")
    print("per-run req/s: " + "; ".join(
        f"{name} " + ", ".join(f"{r['rps']:,.0f}" for r in rows) for name, rows in runs.items()))
    if BASELINE_ROW in runs:
        mine = LOGGED_ROW if BASELINE_LOG else "recgate"
        print(f"this build ({mine}) against the baseline ({BASELINE}): throughput "
              f"{median(runs[mine], 'rps') / median(runs[BASELINE_ROW], 'rps'):.3f}x, "
              f"CPU per request "
              f"{median(runs[mine], 'cpu_us') / median(runs[BASELINE_ROW], 'cpu_us'):.3f}x")
    if LOGGED_ROW in runs:
        print(f"with logs ({LOGGED_ROW} against {NGINX_LOGGED_ROW}): CPU per request "
              f"{median(runs[LOGGED_ROW], 'cpu_us') / median(runs[NGINX_LOGGED_ROW], 'cpu_us'):.2f}x "
              f"(goal <= 1.00), throughput "
              f"{median(runs[LOGGED_ROW], 'rps') / median(runs[NGINX_LOGGED_ROW], 'rps'):.2f}x; "
              f"what the log adds per request: recgate "
              f"{median(runs[LOGGED_ROW], 'cpu_us') - median(runs['recgate'], 'cpu_us'):.2f} µs, nginx "
              f"{median(runs[NGINX_LOGGED_ROW], 'cpu_us') - median(runs['nginx'], 'cpu_us'):.2f} µs")

    if BIG:
        big_scale(work)


def big_scale(work):
    """Startup, memory and a reload under load with 100,000 rules."""
    config = os.path.join(work, "rules-100k.toml")
    with open(config, "w") as f:
        f.write(gen("config", str(BIG_RULES), BIG_SHAPE))
    port = free_port()
    log_path = os.path.join(work, "recgate-100k.log")
    log = open(log_path, "w")
    env = dict(os.environ, RUST_LOG="info")
    started = time.monotonic()
    proc = subprocess.Popen([RECGATE, "serve", "--config", config, "--listen",
                             f"127.0.0.1:{port}", "--no-watch"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        first = wait_http(f"http://127.0.0.1:{port}/healthz")
        startup = first - started
        rss = rss_mib(proc.pid)
        query = gen("query", str(BIG_RULES - 1), BIG_SHAPE).strip()
        url = f"http://127.0.0.1:{port}/?{query}"
        load = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, "wrk", "-t1", "-c16", "-d6s", "--latency", url],
            stdout=subprocess.PIPE, text=True)
        reloads = []
        for _ in range(3):
            time.sleep(1.5)
            proc.send_signal(signal.SIGHUP)
        out, _ = load.communicate(timeout=30)
        time.sleep(1)
        with open(log_path) as f:
            reloads = [int(m.group(1)) for m in re.finditer(r"config reloaded.*elapsed_ms=(\d+)", f.read())]
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        socket_errors = re.search(r"Socket errors: (.*)", out)
        requests = re.search(r"(\d+) requests in", out).group(1)
        rss_after = rss_mib(proc.pid)
    finally:
        stop(proc)
    print(f"\n## {BIG_RULES:,} rules ({BIG_SHAPE})\n")
    print(f"- startup to first 200: {startup * 1000:.0f} ms (goal < 1000)")
    print(f"- resident memory: {rss:.0f} MiB after start, {rss_after:.0f} MiB after {len(reloads)} reloads")
    print(f"- reloads under load (SIGHUP while wrk -c16 ran {requests} requests): "
          f"{', '.join(f'{r} ms' for r in reloads)} (goal < 1000 each); "
          f"non-2xx {non2xx.group(1) if non2xx else 0}; "
          f"socket errors {socket_errors.group(1) if socket_errors else 'none'}")


if __name__ == "__main__":
    main()
