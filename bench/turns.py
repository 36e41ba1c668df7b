"""Turn benchmark: does a REST webhook turn cost the same at 100,000 prior events as fresh?

Trains initbot into a temporary folder, creates the PostgreSQL database
``convapi_bench_turns``, migrates it and starts ``gunicorn config.wsgi`` (2 workers) on
loopback. Long conversations are stored directly with the ORM (realistic initbot turns,
all in ONE session, then a snapshot rebuild), and this process drives the server over HTTP:
turn latency p50/p95/p99 for fresh conversations and for 1,000 / 10,000 / 100,000 prior
events, turns/s with 8 clients on distinct conversations and on one conversation, and the
server's RSS. Prints a Markdown table; the database is dropped at the end.
Targets: p50 under 15 ms fresh; the 100,000-event row within 1.2x of fresh; no errors.

With ``--profile`` it measures where a turn's time goes instead: the server runs with
``CONVAPI_SERVER_TIMING`` on, once on SQLite (the embedded default: the database's lock
table) and once on PostgreSQL (Redis locks), and one client (keep-alive) sends turns on
fresh and on existing conversations; the table gives each stage's p50 and p95 from the
``Server-Timing`` header, their sum against the server's total and the client's
end-to-end time, beside ``GET /version`` (the HTTP floor) and ``POST /model/parse``.

    .venv/bin/python bench/turns.py [--turns 200] [--sizes 1000,10000,100000]
    .venv/bin/python bench/turns.py --profile [--turns 400]
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BOTS = ROOT.parent / "shared" / "reference" / "bots"
DB_NAME = "convapi_bench_turns"
PG = "postgresql://postgres@127.0.0.1:5432/"
# Conversation locks where a production deployment keeps them.
LOCK_STORE = "redis://127.0.0.1:6379/0"
CLIENTS = 8
# A user of initbot, over and over: greeting, mood, answer, a bot challenge, goodbye.
SCRIPT = ["hello", "I am sad", "yes", "are you a bot?", "hi there", "great", "bye"]


class Server:
    """gunicorn on a free loopback port, with the turn count and errors the clients saw."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.errors = 0
        self._local = threading.local()
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "2",
                   "--threads", "4", "--bind", f"127.0.0.1:{self.port}",
                   "--log-level", "warning"]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)

    def wait_until_up(self) -> None:
        for _ in range(240):
            try:
                if requests.get(self._url("/status"), timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.25)
        raise SystemExit("the server did not start")

    def turn(self, sender: str, text: str) -> float:
        """One REST webhook turn; its wall time in milliseconds."""
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        started = time.perf_counter()
        try:
            response = session.post(
                self._url("/webhooks/rest/webhook"),
                json={"sender": sender, "message": text},
                timeout=60,
            )
            if response.status_code != 200 or not isinstance(response.json(), list):
                self.errors += 1
        except (requests.RequestException, ValueError):
            self.errors += 1
        return (time.perf_counter() - started) * 1000

    def rss_mb(self) -> float:
        """Resident memory of the gunicorn master and its workers, from /proc."""
        pids = [self.process.pid, *_children(self.process.pid)]
        return sum(_rss_kb(pid) for pid in pids) / 1024

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- the database -------------------------------------------------------------------------
def _psql(statement: str) -> None:
    subprocess.run(["psql", PG + "postgres", "-qc", statement], check=True)


def prepare(models: Path) -> tuple[dict[str, str], Path]:
    """A fresh database, migrated, and a trained initbot archive; the server environment."""
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
    }
    env.update(CONVAPI_AUTH_TOKEN="", CONVAPI_JWT_SECRET="", CONVAPI_LOG_LEVEL="WARNING")
    env.pop("CELERY_BROKER_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return env, Path(archive)


def realistic_events(archive: Path) -> tuple[list, list]:
    """The session start, and one cycle of SCRIPT's turns, as initbot's engine logs them."""
    import random

    from engine.model import load_model
    from engine.processor import MessageProcessor
    from engine.tracker import Tracker

    model = load_model(archive)
    processor = MessageProcessor(model, rng=random.Random(0))
    tracker = Tracker("sample", model.domain.slot_defaults())
    start = processor.refresh_session(tracker, sender_id="sample")
    cycle = []
    for text in SCRIPT:
        cycle += processor.handle_message(tracker, text=text, sender_id="sample").events
    return start, cycle


def populate(sender: str, count: int, start: list, cycle: list, slot_defaults: dict) -> None:
    """Store ``count`` events of one session directly, then rebuild the snapshot from them."""
    from engine.events import event_from_dict
    from trackers import store
    from trackers.models import Conversation, Event

    now = time.time()
    conversation = Conversation.objects.create(sender_id=sender)
    rows = []
    for seq in range(1, count + 1):
        index = seq - 1
        source = start[index] if index < len(start) else cycle[(index - len(start)) % len(cycle)]
        event = event_from_dict({**source.to_dict(), "timestamp": now})
        rows.append(store.row_from_event(conversation, seq, event))
        if len(rows) == 5000:
            Event.objects.bulk_create(rows)
            rows = []
    Event.objects.bulk_create(rows)
    conversation.event_count = count
    conversation.latest_session_seq = 1
    conversation.latest_reset_seq = 2  # the session_started event of ``start``
    conversation.save(update_fields=["event_count", "latest_session_seq", "latest_reset_seq"])
    store.snapshot_rebuild(conversation, slot_defaults)


# -- measuring ----------------------------------------------------------------------------
def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]

    return statistics.median(ordered), at(0.95), at(0.99)


def talk(server: Server, sender: str, turns: int, offset: int = 0) -> list[float]:
    return [server.turn(sender, SCRIPT[(offset + n) % len(SCRIPT)]) for n in range(turns)]


def fresh_latency(server: Server, turns: int) -> list[float]:
    """New conversations of len(SCRIPT) turns each, their first turn (session start) included."""
    samples: list[float] = []
    number = 0
    while len(samples) < turns:
        samples += talk(server, f"fresh-{number}", len(SCRIPT))
        number += 1
    return samples[:turns]


def throughput(server: Server, senders: Callable[[int], str], turns: int) -> float:
    """Turns per second of CLIENTS threads, each doing ``turns`` turns."""
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda c: talk(server, senders(c), turns, offset=c), range(CLIENTS)))
    return CLIENTS * turns / (time.perf_counter() - started)


def row(name: str, samples: list[float] | None, rate: float | None, errors: int) -> str:
    p50, p95, p99 = percentiles(samples) if samples else (None, None, None)
    cells = [f"{value:.1f}" if value is not None else "" for value in (p50, p95, p99, rate)]
    return f"| {name} | {' | '.join(cells)} | {errors} |"


def run(server: Server, args: argparse.Namespace, prepared: dict[int, str]) -> None:
    talk(server, "warm-up", 40)  # each worker loads the model on its first turn
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: talk(server, f"warm-up-{c}", 10), range(4)))
    lines = ["| conversation | p50 ms | p95 ms | p99 ms | turns/s | errors |"]
    lines.append("|---|---:|---:|---:|---:|---:|")
    server.errors = 0
    fresh = fresh_latency(server, args.turns)
    lines.append(row("fresh", fresh, None, server.errors))
    medians = {0: statistics.median(fresh)}
    for size, sender in prepared.items():
        server.errors = 0
        samples = talk(server, sender, args.turns)
        medians[size] = statistics.median(samples)
        lines.append(row(f"{size:,} prior events", samples, None, server.errors))
    server.errors = 0
    rate = throughput(server, lambda c: f"distinct-{c}", args.turns // 4)
    lines.append(row(f"{CLIENTS} clients, distinct conversations", None, rate, server.errors))
    server.errors = 0
    rate = throughput(server, lambda c: "shared", args.turns // 4)
    lines.append(row(f"{CLIENTS} clients, one conversation", None, rate, server.errors))
    print("\n".join(lines))
    biggest = max(medians)
    print(f"\np50 ratio {biggest:,} prior events / fresh: {medians[biggest] / medians[0]:.2f}x")
    print(f"server RSS (gunicorn master + 2 workers): {server.rss_mb():.0f} MB")


# -- where a turn's time goes (--profile) ------------------------------------------------
def timed_request(session: requests.Session, method: str, url: str, **kwargs) -> tuple:
    """The answer's stages (ms, from Server-Timing) and the client's wall time (ms)."""
    started = time.perf_counter()
    response = session.request(method, url, timeout=60, **kwargs)
    wall = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{method} {url} answered {response.status_code}: {response.text}")
    stages = {}
    for part in response.headers.get("Server-Timing", "").split(", "):
        if ";dur=" in part:
            name, duration = part.split(";dur=")
            stages[name] = float(duration)
    return stages, wall


def profile_server(server: Server, turns: int) -> dict[str, dict[str, list[float]]]:
    """Per kind of request, each stage's samples plus "e2e" (the client's wall time)."""
    base = f"http://127.0.0.1:{server.port}"
    kinds: dict[str, dict[str, list[float]]] = {}
    session = requests.Session()

    def measure(kind: str, method: str, path: str, **kwargs) -> None:
        stages, wall = timed_request(session, method, base + path, **kwargs)
        samples = kinds.setdefault(kind, {})
        for name, duration in {**stages, "e2e": wall}.items():
            samples.setdefault(name, []).append(duration)

    for number in range(40):  # warm-up: both workers load the model, the caches fill
        warm = {"sender": f"warm-{number % 4}", "message": SCRIPT[number % 7]}
        timed_request(session, "POST", base + "/webhooks/rest/webhook", json=warm)
    for number in range(turns):
        text = SCRIPT[number % len(SCRIPT)]
        measure("GET /version", "GET", "/version")
        measure("POST /model/parse", "POST", "/model/parse", json={"text": text})
        measure("turn, existing conversation", "POST", "/webhooks/rest/webhook",
                json={"sender": "existing", "message": text})  # fmt: skip
        measure("turn, new conversation", "POST", "/webhooks/rest/webhook",
                json={"sender": f"new-{number}", "message": "hello"})  # fmt: skip
    return kinds


def profile_table(results: dict[str, dict[str, dict[str, list[float]]]]) -> str:
    """Stages as rows; per database, p50 and p95 of a turn on an existing conversation."""
    from jobs.stages import STAGES

    kind = "turn, existing conversation"
    databases = list(results)
    header = "| stage | " + " | ".join(f"{db} p50 ms | {db} p95 ms" for db in databases) + " |"
    lines = [header, "|---|" + "---:|---:|" * len(databases)]

    def cells(samples: list[float] | None) -> str:
        if not samples:
            return " | "
        p50, p95, _ = percentiles(samples)
        return f"{p50:.3f} | {p95:.3f}"

    for name in (*STAGES, "total", "e2e"):
        label = {"total": "**server total**", "e2e": "**client end to end**"}.get(name, name)
        lines.append(
            f"| {label} | "
            + " | ".join(cells(results[db][kind].get(name)) for db in databases)
            + " |"
        )
    sums = []
    for db in databases:
        medians = [statistics.median(v) for k, v in results[db][kind].items() if k in STAGES]
        sums.append(f"{sum(medians):.3f} | ")
    lines.append("| sum of stage p50s | " + " | ".join(sums) + " |")
    lines += [
        "",
        "| request | " + " | ".join(f"{db} p50 ms | {db} p95 ms" for db in databases) + " |",
    ]
    lines.append("|---|" + "---:|---:|" * len(databases))
    for name in next(iter(results.values())):
        lines.append(
            f"| {name} | " + " | ".join(cells(results[db][name]["e2e"]) for db in databases) + " |"
        )
    for db in databases:
        turn = statistics.median(results[db][kind]["e2e"])
        parse = statistics.median(results[db]["POST /model/parse"]["e2e"])
        lines.append(f"\n{db}: existing-conversation turn p50 / parse p50 = {turn / parse:.2f}x")
    return "\n".join(lines)


def profile(turns: int, models: Path) -> None:
    env, _ = prepare(models)
    env["CONVAPI_SERVER_TIMING"] = "true"
    sqlite_file = models / "profile.sqlite3"
    sqlite_env = {**env, "DATABASE_URL": f"sqlite:///{sqlite_file}"}
    sqlite_env.pop("CONVAPI_LOCK_STORE")  # the embedded default: the database's lock table
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=sqlite_env,
                   check=True)  # fmt: skip
    results = {}
    for name, server_env in (("SQLite", sqlite_env), ("PostgreSQL", env)):
        server = Server(server_env)
        try:
            server.wait_until_up()
            results[name] = profile_server(server, turns)
        finally:
            server.stop()
    print(profile_table(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--profile", action="store_true", help="where a turn's time goes")
    args = parser.parse_args()
    if args.profile:
        with tempfile.TemporaryDirectory(prefix="convapi-bench-profile-") as models:
            try:
                profile(args.turns, Path(models))
            finally:
                _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="convapi-bench-turns-") as models:
        env, archive = prepare(Path(models))
        try:
            prepared = store_long_conversations(env, archive, sizes)
            server = Server(env)
            try:
                server.wait_until_up()
                run(server, args, prepared)
            finally:
                server.stop()
        finally:
            _close_django()
            _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


def store_long_conversations(env: dict[str, str], archive: Path, sizes: list[int]) -> dict:
    """Configure Django in this process for the bench database and store the conversations."""
    import django

    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    os.environ["CONVAPI_MODEL"] = env["CONVAPI_MODEL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from engine.model import load_model

    slot_defaults = load_model(archive).domain.slot_defaults()
    start, cycle = realistic_events(archive)
    prepared = {}
    for size in sizes:
        started = time.perf_counter()
        prepared[size] = f"long-{size}"
        populate(prepared[size], size, start, cycle, slot_defaults)
        print(f"(stored {size:,} events in {time.perf_counter() - started:.1f} s)", flush=True)
    return prepared


def _close_django() -> None:
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - Django may never have been set up
        pass


if __name__ == "__main__":
    main()
