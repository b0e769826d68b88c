"""Driver of bench/tail.sh: p50, p99 and p99.9 of nginx and recgate, both logging, at the
same steady rate, from oha with latency correction (each request is timed from when it
should have been sent, so a stall counts for every request it held back)."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  the servers, ports and pinning of bench/load.sh

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "15"))
RATE = os.environ.get("RATE")  # requests/s; default: a quarter of recgate's saturation
OHA = os.environ.get("OHA", "target/bench-tools/bin/oha")


def oha(url, rate):
    out = subprocess.run(
        ["taskset", "-c", load.LOAD_CORE, OHA, "-z", f"{DURATION}s", "-c",
         str(load.CONNECTIONS), "-q", str(rate), "--latency-correction", "--no-tui",
         "--output-format", "json", url],
        check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    percentiles = data["latencyPercentiles"]  # seconds
    return {
        "rps": data["summary"]["requestsPerSec"],
        "success": data["summary"]["successRate"],
        "p50": percentiles["p50"] * 1e6,
        "p99": percentiles["p99"] * 1e6,
        "p999": percentiles["p99.9"] * 1e6,
    }


def main():
    work = tempfile.mkdtemp(prefix="recgate-tail-")
    config = os.path.join(work, "rules-10k.toml")
    with open(config, "w") as f:
        f.write(load.gen("config", str(load.RULES), "mixed"))
    query = load.gen("query", str(load.TARGET_RULE), "mixed").strip()
    body = subprocess.run([load.RECGATE, "decide", "--config", config, query], check=True,
                          capture_output=True, text=True).stdout.splitlines()[0]
    ngx_port, rg_port = load.free_ports(2)
    nginx, worker = load.start_nginx(work, ngx_port, body,
                                     access_log=os.path.join(work, "nginx-access.log"))
    log = open(os.path.join(work, "recgate-decisions.log"), "w")
    recgate = load.start_recgate(config, rg_port, log, level="info")
    try:
        load.wait_http(f"http://127.0.0.1:{rg_port}/healthz")
        targets = {
            load.NGINX_LOGGED_ROW: f"http://127.0.0.1:{ngx_port}/?{query}",
            load.LOGGED_ROW: f"http://127.0.0.1:{rg_port}/?{query}",
        }
        saturation = load.wrk(targets[load.LOGGED_ROW], 5)["rps"]
        rate = int(RATE) if RATE else int(saturation / 4)
        runs = {name: [] for name in targets}
        for round_ in range(ROUNDS):
            order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
            for name in order:
                runs[name].append(oha(targets[name], rate))
    finally:
        for proc in (recgate, nginx):
            load.stop(proc)
        shutil.rmtree(work, ignore_errors=True)

    def med(name, key):
        return statistics.median(r[key] for r in runs[name])

    print(f"\n## Tail latency at {rate:,} requests/s (recgate saturated at {saturation:,.0f}), "
          f"{load.CONNECTIONS} connections, {ROUNDS} alternating runs of {DURATION}s, "
          "oha --latency-correction (medians)\n")
    print("| server | req/s | success | p50 µs | p99 µs | p99.9 µs |")
    print("|---|---|---|---|---|---|")
    for name in runs:
        print(f"| {name} | {med(name, 'rps'):,.0f} | {med(name, 'success'):.4f} | "
              f"{med(name, 'p50'):.0f} | {med(name, 'p99'):.0f} | {med(name, 'p999'):.0f} |")
    mine, theirs = load.LOGGED_ROW, load.NGINX_LOGGED_ROW
    print(f"\nrecgate/nginx: p99 {med(mine, 'p99') / med(theirs, 'p99'):.2f}x, "
          f"p99.9 {med(mine, 'p999') / med(theirs, 'p999'):.2f}x (goal <= 1.00 each)")
    print("per-run p99 / p99.9 µs: " + "; ".join(
        f"{name} " + ", ".join(f"{r['p99']:.0f}/{r['p999']:.0f}" for r in rows)
        for name, rows in runs.items()))


if __name__ == "__main__":
    main()
