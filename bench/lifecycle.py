"""Driver of bench/lifecycle.sh: the recording ledger's throughput and usage queries.

1. Lifecycle events per second, durable (each answered after its commit): recgate on one
   core (taskset), the replay tool on the other, on SQLite and, when PostgreSQL's server
   binaries are installed, on a private PostgreSQL cluster.
2. GET /usage over a month holding FILES files (1 million by default), by day and by rule.

Loopback only; every run is bounded.
"""

import glob
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request

from load import free_ports, wait_http  # the same helpers as the callback benchmark

RECGATE = "target/release/recgate"
REPLAY = "target/release/examples/replay"
ROUNDS = int(os.environ.get("ROUNDS", "3"))
STREAMS = int(os.environ.get("STREAMS", "2000"))
FILES_PER_STREAM = int(os.environ.get("FILES_PER_STREAM", "10"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "64"))
FILES = int(os.environ.get("FILES", "1000000"))
SERVER_CORE, LOAD_CORE = "0", "1"

CONFIG = """[server]
listen = "127.0.0.1:{port}"
[admin]
listen = "127.0.0.1:{admin}"
[overrides]
store = "{store}"
[lifecycle]
ingest_path = "/ingest"
notify_path = "/notify"
[default]
record = false
[[rule]]
name = "courses"
stream = "course-*"
record = true
formats = ["mp4"]
"""


def serve(work, store, name):
    port, admin = free_ports(2)
    config = os.path.join(work, f"{name}.toml")
    with open(config, "w") as f:
        f.write(CONFIG.format(port=port, admin=admin, store=store))
    proc = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, RECGATE, "serve", "--config", config, "--no-watch"],
        env=dict(os.environ, RUST_LOG="warn"), stdout=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc, port, admin


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def replay(port, prefix):
    out = subprocess.run(
        ["taskset", "-c", LOAD_CORE, REPLAY, "--target", f"http://127.0.0.1:{port}",
         "--streams", str(STREAMS), "--files", str(FILES_PER_STREAM),
         "--concurrency", str(CONCURRENCY), "--prefix", prefix],
        check=True, capture_output=True, text=True, timeout=600).stdout
    fields = out.split()
    return float(fields[fields.index("events/s") + 1])


def events_per_second(work, store, name):
    proc, port, _ = serve(work, store, name)
    try:
        rates = [replay(port, f"course-{name}-{r}-") for r in range(ROUNDS)]
    finally:
        stop(proc)
    return rates


def postgres(work):
    """A private cluster on a free port, or None when PostgreSQL is not installed."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        return None, None
    bin_dir = os.path.dirname(bins[-1])
    data = os.path.join(work, "pg")
    os.makedirs(data)
    run_as = []
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        shutil.chown(data, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    (port,) = free_ports(1)
    subprocess.run(run_as + [f"{bin_dir}/initdb", "-D", data, "-U", "recgate", "-A", "trust"],
                   check=True, capture_output=True)
    subprocess.run(run_as + [f"{bin_dir}/pg_ctl", "-D", data, "-l", f"{data}/log", "-w", "-o",
                             f"-p {port} -k {work} -h 127.0.0.1", "start"],
                   check=True, capture_output=True)
    stop_pg = lambda: subprocess.run(run_as + [f"{bin_dir}/pg_ctl", "-D", data, "-m", "fast",
                                                "stop"], capture_output=True)
    return f"postgres://recgate@127.0.0.1:{port}/postgres", stop_pg


def fill_files(path, files):
    """`files` file rows over November 2026 in the store at `path`, in one transaction."""
    db = sqlite3.connect(path)
    start = 1_793_491_200  # 2026-11-01T00:00:00Z
    month = 30 * 86_400
    rows = ((f"edu/s{i % 5000}/{i}.mp4", "live.example.com", "edu", f"s{i % 5000}",
             f"rule-{i % 7}", 300.0, start + (i * month) // files, start + (i * month) // files + 300,
             "{}", 0) for i in range(files))
    buckets = {}
    def counted(rows):
        for row in rows:
            key = (row[6] // 900 * 900, row[1], row[2], row[4])
            seconds, files = buckets.get(key, (0.0, 0))
            buckets[key] = (seconds + row[5], files + 1)
            yield row
    db.executemany("INSERT INTO recording_files VALUES (?,?,?,?,?,?,?,?,?,?)", counted(rows))
    # The rollup recgate keeps as it counts files.
    db.executemany("INSERT INTO usage_buckets VALUES (?,?,?,?,?,?)",
                   (key + value for key, value in buckets.items()))
    db.commit()
    db.close()


def usage_times(admin, by):
    url = f"http://127.0.0.1:{admin}/usage?from=2026-11-01&to=2026-11-30&by={by}"
    times = []
    for _ in range(5):
        began = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
        times.append((time.perf_counter() - began) * 1000)
    return times


def main():
    work = tempfile.mkdtemp(prefix="recgate-ledger-")
    print(f"## Lifecycle events, durable: recgate on core {SERVER_CORE}, the replay tool on "
          f"core {LOAD_CORE}, {STREAMS} streams x ({FILES_PER_STREAM} files + 4 events), "
          f"{CONCURRENCY} at once, {ROUNDS} rounds\n")
    print("| store | events/s (median) | rounds |")
    print("|---|---|---|")
    rates = events_per_second(work, f"sqlite:{work}/ledger.db", "sqlite")
    print(f"| SQLite | {statistics.median(rates):,.0f} | {', '.join(f'{r:,.0f}' for r in rates)} |")
    url, stop_pg = postgres(work)
    if url:
        try:
            rates = events_per_second(work, url, "postgres")
            print(f"| PostgreSQL | {statistics.median(rates):,.0f} | "
                  f"{', '.join(f'{r:,.0f}' for r in rates)} |")
        finally:
            stop_pg()
    else:
        print("| PostgreSQL | not installed | |")

    store = f"{work}/usage.db"
    proc, _, _ = serve(work, f"sqlite:{store}", "usage-migrate")
    stop(proc)
    began = time.perf_counter()
    fill_files(store, FILES)
    print(f"\n## GET /usage over November 2026 holding {FILES:,} files "
          f"(filled in {time.perf_counter() - began:.0f} s), 5 requests each\n")
    proc, _, admin = serve(work, f"sqlite:{store}", "usage")
    try:
        print("| by | median ms | all |")
        print("|---|---|---|")
        for by in ("day", "rule", "app", "domain"):
            times = usage_times(admin, by)
            print(f"| {by} | {statistics.median(times):.0f} | "
                  f"{', '.join(f'{t:.0f}' for t in times)} |")
    finally:
        stop(proc)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
