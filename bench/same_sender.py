"""One busy conversation: many clients sending turns to the SAME sender at once.

Two cases: 8 clients x 25 turns, and 64 clients x 4 turns, each on its own conversation,
through the REST webhook. Prints turns/s and p50/p95/max latency per case, and checks the
stored conversation (``GET /tracker?include_events=ALL``): no turn lost, none duplicated,
none interleaved (each user event followed by its own bot messages up to
``action_listen``). A 409 with ``Retry-After`` (the lock-wait timeout) is retried after
the delay it names, and counted.

Without ``--base-url`` it serves convapi itself: a fresh PostgreSQL database, initbot
trained, ``gunicorn config.wsgi`` with ``--workers`` workers. With ``--base-url`` it
drives any server speaking the Rasa HTTP API (``--token`` for its ``?token=``).

    .venv/bin/python bench/same_sender.py [--workers 3] [--base-url URL --token T]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BOTS = ROOT.parent / "shared" / "reference" / "bots"
PG = "postgresql://postgres@127.0.0.1:5432/"
# Conversation locks where a production deployment keeps them.
LOCK_STORE = "redis://127.0.0.1:6379/0"
DB_NAME = "convapi_bench_same_sender"
CASES = [(8, 25), (64, 4)]
SCRIPT = ["hello", "I am sad", "yes", "are you a bot?", "great", "bye"]


@dataclass
class CaseResult:
    sender: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    replies: dict[str, list[str]] = field(default_factory=dict)  # text sent -> bot texts
    elapsed: float = 0.0
    lock = threading.Lock()

    @property
    def turns_per_second(self) -> float:
        return len(self.replies) / self.elapsed if self.elapsed else 0.0


@dataclass
class Check:
    lost: int
    duplicated: int
    interleaved: int
    wrong_replies: int

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.interleaved or self.wrong_replies)


def run_case(base_url: str, sender: str, clients: int, turns: int) -> CaseResult:
    """``clients`` threads, each sending ``turns`` messages to ``sender``, all at once."""
    result = CaseResult(sender=sender)
    start = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        session = requests.Session()
        start.wait()
        for turn in range(turns):
            text = f"{SCRIPT[(number + turn) % len(SCRIPT)]} [{number}.{turn}]"
            _send(session, base_url, sender, text, result)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(client, number) for number in range(clients)]
        start.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        result.elapsed = time.perf_counter() - began
    return result


def _send(session: requests.Session, base_url: str, sender: str, text: str, result: CaseResult):
    body = {"sender": sender, "message": text}
    for _ in range(100):
        began = time.perf_counter()
        response = session.post(f"{base_url}/webhooks/rest/webhook", json=body, timeout=120)
        elapsed = (time.perf_counter() - began) * 1000
        with result.lock:
            result.statuses[response.status_code] += 1
            result.latencies_ms.append(elapsed)
        if response.status_code == 409 and "Retry-After" in response.headers:
            time.sleep(float(response.headers["Retry-After"]))
            continue
        if response.status_code == 200:
            texts = [m["text"] for m in response.json() if m.get("text")]
            with result.lock:
                result.replies[text] = texts
        return


def check_conversation(base_url: str, token: str, result: CaseResult) -> Check:
    """Compare the stored conversation with what every client was answered."""
    query = "include_events=ALL" + (f"&token={token}" if token else "")
    url = f"{base_url}/conversations/{result.sender}/tracker?{query}"
    events = requests.get(url, timeout=60).json()["events"]
    users = [i for i, event in enumerate(events) if event["event"] == "user"]
    stored = Counter(events[i].get("text") for i in users)
    sent = set(result.replies)
    interleaved = wrong = 0
    for i in users:
        segment = _turn_segment(events, i)
        if segment is None:
            interleaved += 1
            continue
        texts = [e["text"] for e in segment if e["event"] == "bot" and e.get("text")]
        if result.replies.get(events[i].get("text")) != texts:
            wrong += 1
    return Check(
        lost=len(sent - set(stored)),
        duplicated=sum(count - 1 for count in stored.values() if count > 1),
        interleaved=interleaved,
        wrong_replies=wrong,
    )


def _turn_segment(events: list[dict], start: int) -> list[dict] | None:
    """The events after the user event at ``start`` up to its ``action_listen``; None when
    another user event comes first (an interleaved turn) or the turn never ended."""
    for j in range(start + 1, len(events)):
        event = events[j]
        if event["event"] == "user":
            return None
        if event["event"] == "action" and event.get("name") == "action_listen":
            return events[start + 1 : j + 1]
    return None


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return p50, p95, ordered[-1]


def report(name: str, result: CaseResult, check: Check) -> str:
    p50, p95, worst = percentiles(result.latencies_ms)
    statuses = " ".join(f"{code}:{n}" for code, n in sorted(result.statuses.items()))
    return (
        f"| {name} | {result.turns_per_second:.1f} | {p50:.0f} | {p95:.0f} | {worst:.0f} "
        f"| {statuses} | {check.lost} | {check.duplicated} | {check.interleaved} "
        f"| {check.wrong_replies} |"
    )


def run_all(base_url: str, token: str) -> bool:
    print("| case | turns/s | p50 ms | p95 ms | max ms | statuses | lost | duplicated "
          "| interleaved | wrong replies |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for clients, turns in CASES:
        sender = f"same-{clients}x{turns}-{uuid.uuid4().hex[:8]}"
        result = run_case(base_url, sender, clients, turns)
        check = check_conversation(base_url, token, result)
        print(report(f"{clients} clients x {turns} turns", result, check), flush=True)
        ok = ok and check.ok and set(result.statuses) <= {200, 409}
    return ok


# -- serving convapi itself ---------------------------------------------------------------
def serve_convapi(workers: int, models: Path) -> tuple[subprocess.Popen, str]:
    sys.path.insert(0, str(ROOT))
    from engine.project import load_project
    from engine.training import train

    _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _psql(f"CREATE DATABASE {DB_NAME}")
    archive = train(load_project(BOTS / "initbot"), output_dir=models).path
    env = {
        **os.environ,
        "DATABASE_URL": PG + DB_NAME,
        "CONVAPI_MODEL": str(archive),
        "CONVAPI_LOCK_STORE": LOCK_STORE,
        # One request at a time per worker, as the README's table was measured.
        "GUNICORN_WORKER_CLASS": "sync",
        "GUNICORN_THREADS": "1",
    }
    env.update(CONVAPI_AUTH_TOKEN="", CONVAPI_JWT_SECRET="", CONVAPI_LOG_LEVEL="WARNING")
    env.pop("CELERY_BROKER_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return start_gunicorn(env, workers)


def start_gunicorn(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    """``gunicorn config.wsgi`` (``config.asgi`` with ``GUNICORN_WORKER_CLASS=asgi`` in
    ``env``) on a free loopback port, in its own process group."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = "config.asgi" if env.get("GUNICORN_WORKER_CLASS") == "asgi" else "config.wsgi"
    command = [sys.executable, "-m", "gunicorn", app, "--workers", str(workers),
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if requests.get(f"{base_url}/version", timeout=2).ok:
                return process, base_url
        except requests.RequestException:
            time.sleep(0.25)
    stop(process)
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _psql(statement: str) -> None:
    subprocess.run(["psql", PG + "postgres", "-qc", statement], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running Rasa-API server (default: serve convapi)")
    parser.add_argument("--token", default="", help="the server's auth token (?token=)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers for convapi")
    args = parser.parse_args(argv)
    if args.base_url:
        return 0 if run_all(args.base_url.rstrip("/"), args.token) else 1
    with tempfile.TemporaryDirectory(prefix="convapi-same-sender-") as models:
        process, base_url = serve_convapi(args.workers, Path(models))
        try:
            ok = run_all(base_url, "")
        finally:
            stop(process)
            _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
