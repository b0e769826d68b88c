"""Driver of bench/soak.sh. Loopback only; every loop is bounded by DURATION."""

import collections
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

DURATION = float(os.environ.get("DURATION", "180"))
VALID_RATE = float(os.environ.get("VALID_RATE", "400"))  # valid callbacks per second, in all
VALID_THREADS = 4
RECGATE = "target/release/recgate"

GOOD = """[server]
header_read_timeout = "1s"
[default]
record = false
[[rule]]
name = "courses"
stream = "course-*"
record = true
formats = ["mp4"]
interval = { mp4 = %d }
"""
BAD = GOOD.replace('formats = ["mp4"]', 'formats = ["avi"]')

HOSTILE = [
    b"GET /?app=%zz%&stream=%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /?stream=a%0d%0aX-Forged:%201 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /?app=\x01\x02 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /?" + b"&" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /?" + b"a=b&" * 600 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /?app=x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    b"GET http://evil/?app=x HTTP/1.0\r\n\r\n",
]

stop = threading.Event()
lock = threading.Lock()
counts = collections.Counter()


def count(key, n=1):
    with lock:
        counts[key] += n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def valid_callbacks(port, rate):
    interval = 1.0 / rate
    conn = None
    next_at = time.monotonic()
    n = 0
    while not stop.is_set():
        n += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", f"/?domain=live.example.com&app=edu&stream=course-{n}&codec=h265&vbitrate=2500")
            response = conn.getresponse()
            body = response.read()
            answer = json.loads(body)
            if response.status == 200 and answer.get("ApiVersion") == "1.0" and "NeedRecord" in answer:
                count("valid: 200 with a valid body")
            else:
                count(f"valid: FAILED status {response.status}")
        except Exception as error:  # noqa: BLE001 - every failure is reported
            count(f"valid: FAILED {type(error).__name__}")
            conn = None
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


def hostile(port):
    i = 0
    while not stop.is_set():
        payload = HOSTILE[i % len(HOSTILE)]
        i += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                data = s.recv(200)
            status = data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "closed"
            count(f"hostile: {status}")
        except OSError as error:
            count(f"hostile: {type(error).__name__}")
        time.sleep(0.02)


def slow_clients(port):
    while not stop.is_set():
        started = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /?app=x HTTP/1.1\r\n")
                while not stop.is_set() and time.monotonic() - started < 8:
                    s.sendall(b"X-Slow: 1\r\n")
                    time.sleep(0.2)
                    s.setblocking(False)
                    try:
                        if s.recv(100) == b"":
                            break
                    except BlockingIOError:
                        pass
                    finally:
                        s.setblocking(True)
            count("slow client: disconnected by the server")
        except OSError:
            count("slow client: disconnected by the server")


def reloads(proc, path):
    i = 0
    while not stop.is_set():
        i += 1
        text = BAD if i % 3 == 0 else GOOD % (60 + i % 100)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        proc.send_signal(signal.SIGHUP)
        count("reload: bad file" if i % 3 == 0 else "reload: good file")
        stop.wait(1.0)


def main():
    work = tempfile.mkdtemp(prefix="recgate-soak-")
    config = os.path.join(work, "recgate.toml")
    with open(config, "w") as f:
        f.write(GOOD % 300)
    port, admin = free_port(), free_port()
    log = open(os.path.join(work, "recgate.log"), "w")
    proc = subprocess.Popen(
        [RECGATE, "serve", "--config", config, "--listen", f"127.0.0.1:{port}",
         "--admin-listen", f"127.0.0.1:{admin}"],
        env=dict(os.environ, RUST_LOG="warn"), stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        rss_start = rss_kib(proc.pid)
        threads = [threading.Thread(target=valid_callbacks, args=(port, VALID_RATE / VALID_THREADS))
                   for _ in range(VALID_THREADS)]
        threads += [threading.Thread(target=hostile, args=(port,)),
                    threading.Thread(target=slow_clients, args=(port,)),
                    threading.Thread(target=slow_clients, args=(port,)),
                    threading.Thread(target=reloads, args=(proc, config))]
        for t in threads:
            t.start()
        samples = []
        deadline = time.monotonic() + DURATION
        while time.monotonic() < deadline:
            time.sleep(min(5, max(0, deadline - time.monotonic())))
            samples.append(rss_kib(proc.pid))
        stop.set()
        for t in threads:
            t.join(timeout=15)
        alive = proc.poll() is None
        rss_end = rss_kib(proc.pid) if alive else 0
        conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=5)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)

    print(f"\nsoak: {DURATION:.0f} s against recgate on 127.0.0.1:{port}\n")
    for key in sorted(counts):
        print(f"  {counts[key]:>8}  {key}")
    print("\n  from /metrics:")
    for line in metrics.splitlines():
        if line.startswith(("recgate_rejected_requests_total", "recgate_config_reloads_total",
                            "recgate_panics_total")):
            print(f"    {line}")
    half = samples[len(samples) // 2] if samples else rss_start
    print(f"\n  resident memory: start {rss_start / 1024:.1f} MiB, middle {half / 1024:.1f} MiB, "
          f"end {rss_end / 1024:.1f} MiB")
    failed = sum(v for k, v in counts.items() if k.startswith("valid: FAILED"))
    grew = rss_end > max(2 * half, half + 50 * 1024)
    print(f"  valid callbacks failed: {failed}; server alive at the end: {alive}; "
          f"memory growth in the second half: {'UNBOUNDED?' if grew else 'bounded'}")
    sys.exit(1 if failed or not alive or grew else 0)


if __name__ == "__main__":
    main()
