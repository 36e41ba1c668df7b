"""The HTTP server under the same app: gunicorn's worker classes, and granian, side by side.

A turn's own work is measured by ``bench/turns.py --profile``; this measures what the server
around Django adds. Each server runs convapi on PostgreSQL (initbot, Redis locks, 2 worker
processes; 4 threads each where the server has threads), one after the other on a fresh
database, and this process drives it over HTTP with keep-alive connections: p50 and p95 of
``GET /version``, ``POST /model/parse``, a REST webhook turn on a new and on an existing
conversation (one client), then turns/s with 8 clients on distinct conversations and the
server's CPU time per turn (its processes' user + system time, from /proc).

granian (a Rust HTTP server with a WSGI interface) is not a dependency of convapi: its row
is measured when it is installed (``.venv/bin/pip install granian``) and skipped otherwise.

    .venv/bin/python bench/servers.py [--requests 300] [--seconds 15]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from turns import ROOT, _children, _free_port, prepare  # noqa: E402

CLIENTS = 8
TICKS = os.sysconf("SC_CLK_TCK")


def server_command(kind: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The command line and the environment variables that start ``kind`` on ``port``."""
    if kind == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "2",
                   "--blocking-threads", "4", "--host", "127.0.0.1", "--port", str(port),
                   "--log-level", "warning", "config.wsgi:application"]  # fmt: skip
        return command, {}
    threads = "1" if kind == "sync" else "4"
    variables = {
        "GUNICORN_WORKER_CLASS": kind,
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": threads,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    app = "config.asgi" if kind == "asgi" else "config.wsgi"
    return [sys.executable, "-m", "gunicorn", app, "--log-level", "warning"], variables


class Server:
    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.port = _free_port()
        command, variables = server_command(kind, self.port)
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**env, **variables}, start_new_session=True
        )
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(240):
            try:
                if requests.get(f"{self.url}/status", timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.25)
        raise SystemExit(f"{kind} did not start")

    def cpu_seconds(self) -> float:
        """User + system time of the server's processes so far."""
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / TICKS

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)


def latencies(call, count: int) -> list[float]:
    for _ in range(30):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.text[:200]}")
    return samples


def throughput(url: str, seconds: float) -> tuple[int, int]:
    """Turns answered and errors, 8 clients on distinct conversations for ``seconds``."""
    deadline = time.monotonic() + seconds
    counts = [0, 0]
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        sender, turns, errors = uuid.uuid4().hex, 0, 0
        while time.monotonic() < deadline:
            if turns % 10 == 0:
                sender = uuid.uuid4().hex
            body = {"sender": sender, "message": "hello"}
            try:
                ok = session.post(f"{url}/webhooks/rest/webhook", json=body, timeout=60).ok
            except requests.RequestException:
                ok = False
            turns, errors = turns + ok, errors + (not ok)
        with lock:
            counts[0] += turns
            counts[1] += errors

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts[0], counts[1]


def measure(server: Server, requests_each: int, seconds: float) -> dict[str, float]:
    session = requests.Session()
    url = server.url
    sender = uuid.uuid4().hex

    def turn(who: str):
        return session.post(f"{url}/webhooks/rest/webhook", json={"sender": who, "message": "hi"})

    samples = {
        "version": latencies(lambda: session.get(f"{url}/version"), requests_each),
        "parse": latencies(
            lambda: session.post(f"{url}/model/parse", json={"text": "hello there"}),
            requests_each,
        ),
        "fresh": latencies(lambda: turn(uuid.uuid4().hex), requests_each),
        "turn": latencies(lambda: turn(sender), requests_each),
    }
    result = {}
    for name, values in samples.items():
        values.sort()
        result[f"{name} p50"] = statistics.median(values)
        result[f"{name} p95"] = values[int(len(values) * 0.95) - 1]
    cpu = server.cpu_seconds()
    turns, errors = throughput(url, seconds)
    result["turns/s"] = turns / seconds
    result["cpu ms/turn"] = (server.cpu_seconds() - cpu) * 1000 / max(turns, 1)
    result["errors"] = errors
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    kinds = ["gthread", "sync", "asgi"]
    if importlib.util.find_spec("granian") is not None:
        kinds.append("granian")
    else:
        print("granian is not installed: its row is skipped", file=sys.stderr)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="convapi-bench-servers-") as folder:
        for kind in kinds:
            env, _ = prepare(Path(folder) / kind)
            server = Server(kind, env)
            try:
                rows[kind] = measure(server, args.requests, args.seconds)
            finally:
                server.stop()
    columns = list(next(iter(rows.values())))
    print("| server | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    names = {
        "gthread": "gunicorn gthread, 2 x 4 threads",
        "sync": "gunicorn sync, 2 x 1",
        "asgi": "gunicorn + uvicorn (asgi), 2 x 4 threads",
        "granian": "granian wsgi, 2 x 4 threads",
    }
    for kind, values in rows.items():
        cells = [f"{values[c]:.0f}" if c == "errors" else f"{values[c]:.2f}" for c in columns]
        print(f"| {names[kind]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
