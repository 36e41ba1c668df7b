"""Turns whose custom action waits 300 ms on its backend: convapi against Rasa 3.6.21.

slowbot (``bench/slowbot``) answers a greeting with ``action_lookup``, which a real
rasa-sdk server runs by sleeping 300 ms (asynchronously: the action server is never the
bottleneck). 64 clients (then 32), each on its own conversation, send greetings for
``--duration`` seconds through the REST webhook. While they do, a sampler reads ``pg_stat_activity``
every 50 ms: a turn that kept its transaction open across the action call would show as
a connection "idle in transaction" for as long as the action takes.

Rows: convapi (gunicorn, 4 workers x 24 threads by default, PostgreSQL, conversation locks
in Redis), the same behind PgBouncer in transaction-pooling mode (10 server connections), and Rasa
3.6.21 (``rasa run``, PostgreSQL tracker store, same bot and action server; skipped
without the peer venv or with ``--skip-rasa``). Loopback only; databases are dropped.

The clients are coroutines of one thread (``bench/http_load.py``): everything shares two
cores, and a thread per client costs the server what the clients take. The CPU columns
say where each turn's CPU went: the server's processes, the action server's, PostgreSQL's,
this process's (the clients), and the whole machine's.

    .venv/bin/python bench/slow_actions.py [--duration 20] [--clients 64,32] [--skip-rasa]
        [--skip-pgbouncer]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.action_server import start_rasa_sdk  # noqa: E402
from bench.compare_rasa import PEER, TOKEN, stop, wait_up  # noqa: E402
from bench.http_load import closed_loop  # noqa: E402
from bench.pgbouncer import start_pgbouncer  # noqa: E402

BOT = ROOT / "bench" / "slowbot"
ANSWER = "Here is what I found."
ACTION_SECONDS = 0.3
PG = "postgres://postgres@127.0.0.1:5432/"
CONVAPI_DB = "convapi_bench_actions"
RASA_DB = "rasa_bench_actions"
RASA_VENV = Path(os.environ.get("RASA_VENV", "/tmp/convapi-peers/rasa-venv"))


@dataclass
class Run:
    label: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    idle_in_transaction: int = 0
    longest_idle_in_transaction: float = 0.0
    connections: int = 0
    server_cpu: float = 0.0
    action_server_cpu: float = 0.0
    client_cpu: float = 0.0
    database_cpu: float = 0.0
    machine_cpu: float = 0.0


def cpu_seconds(group: int | str) -> float:
    """CPU time used so far by the processes of a process group (a server and its workers),
    or by the processes of a name (``postgres``: the database server's)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended meanwhile
        name, _, rest = text.partition(" (")[2].rpartition(")")
        fields = rest.split()
        if (int(fields[2]) if isinstance(group, int) else name) == group:  # pgrp, or name
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has used so far (every core, every process)."""
    busy = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = busy[3] + busy[4]  # idle + iowait
    return (sum(busy[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(name: str) -> None:
    with psycopg.connect(PG + "postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def drop_database(name: str) -> None:
    with psycopg.connect(PG + "postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_convapi(
    work: Path, port: int, action_port: int, url: str, extra: dict, args: argparse.Namespace
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CONVAPI_MODEL": str(work / "models"),
        "CONVAPI_ENDPOINTS": str(work / "endpoints.yml"),
        "CONVAPI_AUTH_TOKEN": TOKEN,
        "CONVAPI_LOCK_STORE": "redis://127.0.0.1:6379/0",
        "CONVAPI_LOG_LEVEL": "WARNING",
        **extra,
    }
    env.pop("CELERY_BROKER_URL", None)
    (work / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
    )
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--worker-class", "gthread",
         "--threads", str(args.threads), "--timeout", "600"],
        env=env, cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def prepare_convapi(work: Path) -> None:
    recreate_database(CONVAPI_DB)
    env = {**os.environ, "DATABASE_URL": PG + CONVAPI_DB}
    env.pop("CELERY_BROKER_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*manage, "train", "--bot", str(BOT), "--out", str(work / "models")],
        env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def start_rasa(port: int, action_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        ["bash", str(PEER / "serve.sh"), "--bot", "slowbot", "--token", TOKEN,
         "--port", str(port), "--tracker", "postgres", "--pg-db", RASA_DB, "--fresh-store",
         "--action-url", f"http://127.0.0.1:{action_port}/webhook",
         "--workdir", "/tmp/rasa-peer-slowbot"],
        env={**os.environ, "BOTS_SRC": str(ROOT / "bench")}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def sample_connections(database: str, run: Run, done: threading.Event) -> None:
    """Connections left idle inside a transaction for as long as the action takes (a turn
    holding its transaction across the call would be), the longest such wait seen, and
    the most connections."""
    idle = "state LIKE 'idle in transaction%%'"
    age = "extract(epoch FROM now() - state_change)"
    with psycopg.connect(PG + "postgres", autocommit=True) as conn:
        while not done.is_set():
            held, longest, total = conn.execute(
                f"SELECT count(*) FILTER (WHERE {idle} AND {age} >= %s), "
                f"coalesce(max({age}) FILTER (WHERE {idle}), 0), "
                "count(*) FROM pg_stat_activity WHERE datname = %s",
                (ACTION_SECONDS, database),
            ).fetchone()
            run.idle_in_transaction = max(run.idle_in_transaction, held)
            run.longest_idle_in_transaction = max(run.longest_idle_in_transaction, float(longest))
            run.connections = max(run.connections, total)
            time.sleep(0.05)


def drive(
    base_url: str, label: str, database: str, clients: int, duration: float, groups: tuple
) -> Run:
    """``groups``: the process groups of the server and of the action server."""
    run = Run(label)
    done = threading.Event()
    sampler = threading.Thread(target=sample_connections, args=(database, run, done))

    for index in range(clients):  # a first turn each: the conversations exist
        requests.post(
            f"{base_url}/webhooks/rest/webhook?token={TOKEN}",
            json={"sender": f"{label}-{index}", "message": "hi"},
            timeout=60,
        )
    sampler.start()
    cpu_before = [cpu_seconds(group) for group in (*groups, "postgres")]
    client_before = time.process_time()
    machine_before = machine_cpu_seconds()
    started = time.monotonic()
    load = closed_loop(
        f"{base_url}/webhooks/rest/webhook?token={TOKEN}",
        clients,
        duration,
        body=lambda index: {"sender": f"{label}-{index}", "message": "hello"},
        accept=lambda status, answer: status == 200 and ANSWER.encode() in answer,
    )
    run.latencies, run.errors = load.latencies, load.errors
    run.seconds = time.monotonic() - started
    run.client_cpu = time.process_time() - client_before
    run.machine_cpu = machine_cpu_seconds() - machine_before
    run.server_cpu, run.action_server_cpu, run.database_cpu = (
        cpu_seconds(group) - before
        for group, before in zip((*groups, "postgres"), cpu_before, strict=True)
    )
    done.set()
    sampler.join()
    return run


def measure(
    server: subprocess.Popen,
    port: int,
    label: str,
    database: str,
    counts: list[int],
    args: argparse.Namespace,
    actions: subprocess.Popen,
    start_seconds: float,
) -> list[Run]:
    """A run per client count against a server starting on ``port``; stopped after."""
    url = f"http://127.0.0.1:{port}"
    groups = (server.pid, actions.pid)
    try:
        wait_up(url, start_seconds)
        return [
            drive(url, f"{label}, {clients} clients", database, clients, args.duration, groups)
            for clients in counts
        ]
    finally:
        stop(server)


def row(run: Run) -> str:
    latencies = sorted(run.latencies)
    p50 = statistics.median(latencies) * 1000 if latencies else 0
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else 0
    rate = len(latencies) / run.seconds if run.seconds else 0
    turns = max(len(latencies), 1)
    return (
        f"| {run.label} | {rate:.1f} | {p50:.0f} | {p95:.0f} | {p95 / 1000 / ACTION_SECONDS:.2f} "
        f"| {run.errors} | {run.idle_in_transaction} "
        f"| {run.longest_idle_in_transaction * 1000:.0f} | {run.connections} "
        f"| {run.server_cpu / turns * 1000:.1f} | {run.action_server_cpu / turns * 1000:.1f} "
        f"| {run.database_cpu / turns * 1000:.1f} | {run.client_cpu / turns * 1000:.1f} "
        f"| {run.machine_cpu / turns * 1000:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--clients", default="64,32", help="client counts, one run each")
    parser.add_argument("--skip-rasa", action="store_true")
    parser.add_argument("--skip-pgbouncer", action="store_true")
    parser.add_argument("--workers", type=int, default=4, help="convapi's gunicorn workers")
    parser.add_argument("--threads", type=int, default=24, help="threads per worker")
    args = parser.parse_args()
    runs: list[Run] = []
    counts = [int(count) for count in args.clients.split(",")]
    action_port = free_port()
    actions = start_rasa_sdk(actions="actions", port=action_port, cwd=BOT)
    try:
        with tempfile.TemporaryDirectory(prefix="convapi-slow-actions-") as tmp:
            work = Path(tmp)
            prepare_convapi(work)
            bouncer = start_pgbouncer(pool_size=10)
            setups = [
                ("convapi", PG + CONVAPI_DB, {}),
                ("convapi via PgBouncer", bouncer.url(CONVAPI_DB), {"CONVAPI_PGBOUNCER": "true"}),
            ][: 1 if args.skip_pgbouncer else 2]
            try:
                for label, database_url, extra in setups:
                    port = free_port()
                    server = start_convapi(work, port, action_port, database_url, extra, args)
                    runs += measure(server, port, label, CONVAPI_DB, counts, args, actions, 120)
            finally:
                bouncer.stop()
                drop_database(CONVAPI_DB)
        if not args.skip_rasa and (RASA_VENV / "bin" / "rasa").exists():
            port = free_port()
            peer = start_rasa(port, action_port)
            try:
                runs += measure(peer, port, "Rasa 3.6.21", RASA_DB, counts, args, actions, 900)
            finally:
                drop_database(RASA_DB)
    finally:
        stop(actions)
    print(f"\nEach client on its own conversation, {args.duration:.0f} s a run; the action waits "
          f"{ACTION_SECONDS * 1000:.0f} ms\n")  # fmt: skip
    print(
        "| server | turns/s | p50 ms | p95 ms | p95 / action | errors "
        "| idle in transaction >= action | longest idle in transaction ms | max connections "
        "| server CPU ms / turn | action server CPU ms / turn | PostgreSQL CPU ms / turn "
        "| clients' CPU ms / turn | machine CPU ms / turn |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        print(row(run))
    for clients in counts:
        suffix = f", {clients} clients"
        rasa = next((r for r in runs if r.label == f"Rasa 3.6.21{suffix}"), None)
        if rasa is None or not rasa.latencies:
            continue
        base = len(rasa.latencies) / rasa.seconds
        for run in runs:
            if run.label.endswith(suffix) and run is not rasa and run.seconds:
                ratio = len(run.latencies) / run.seconds / base
                print(f"\n{run.label}: {ratio:.2f}x Rasa's turns/s")


if __name__ == "__main__":
    main()
