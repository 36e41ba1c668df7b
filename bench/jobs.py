"""Jobs benchmark: do trainings running through the API slow down conversation turns?

Starts gunicorn and a Celery worker (at SCHED_IDLE priority, ``chrt --idle 0``: training is
background work that must only use CPU the web leaves idle) on PostgreSQL
and Redis, then measures the REST webhook turn latency of 8 concurrent clients, first
with no training running, then while 4 trainings submitted with ``?async=true`` run.
Target: p50 and p99 within 1.5x. Prints a Markdown table.

    .venv/bin/python bench/jobs.py [--turns 40] [--bot clinc150]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BOTS = ROOT.parent / "shared" / "reference" / "bots"
DB_NAME = "convapi_bench_jobs"
PG = "postgres://postgres@127.0.0.1:5432/"
BROKER = "redis://127.0.0.1:6379/14"
PORT = 5099
CLIENTS = 8


def call(method: str, path: str, body: bytes | None = None, ctype: str = "application/json"):
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}", data=body, method=method, headers={"Content-Type": ctype}
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.status, response.read()


def turns(client: int, count: int) -> list[float]:
    timings = []
    for number in range(count):
        body = json.dumps({"sender": f"bench-{client}-{number % 3}", "message": "hello"}).encode()
        started = time.perf_counter()
        call("POST", "/webhooks/rest/webhook", body)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def measure(count: int) -> tuple[float, float]:
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = pool.map(turns, range(CLIENTS), [count] * CLIENTS)
    timings = sorted(t for client in results for t in client)
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


def training_document(bot: str) -> bytes:
    import yaml

    from engine.config import read_yaml_file

    parts: dict = {}
    folder = BOTS / bot
    for path in [folder / "config.yml", folder / "domain.yml", *sorted(folder.glob("data/*.yml"))]:
        parts.update(read_yaml_file(path))  # YAML 1.2, as the server reads it
    return yaml.safe_dump(parts).encode()


def active_trainings() -> int:
    return json.loads(call("GET", "/status")[1])["num_active_training_jobs"]


def start(env: dict[str, str], models: Path) -> list[subprocess.Popen]:
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    web = [py, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{PORT}", "--workers", "2",
           "--threads", "4", "--log-level", "warning"]  # fmt: skip
    worker = ["chrt", "--idle", "0", py, "-m", "celery", "-A", "config", "worker", "-B",
              "--concurrency", "2", "--loglevel", "WARNING",
              "--schedule", str(models / "beat")]  # fmt: skip
    kwargs = {"cwd": ROOT, "env": env, "start_new_session": True}
    return [subprocess.Popen(web, **kwargs), subprocess.Popen(worker, **kwargs)]


def wait_until_up() -> None:
    for _ in range(120):
        try:
            call("GET", "/status")
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=40)
    # CLINC150 trains for seconds; the small bots finish before the first turn is measured.
    parser.add_argument("--bot", default="clinc150")
    args = parser.parse_args()
    subprocess.run(["psql", PG + "postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"])
    subprocess.run(["psql", PG + "postgres", "-qc", f"CREATE DATABASE {DB_NAME}"], check=True)
    from engine.project import load_project
    from engine.training import train

    models = Path(tempfile.mkdtemp(prefix="convapi-bench-jobs-"))
    train(load_project(BOTS / "initbot"), output_dir=models)
    env = {
        **os.environ,
        "DATABASE_URL": PG + DB_NAME,
        "CELERY_BROKER_URL": BROKER,
        "CONVAPI_MODEL": str(models),
        "CONVAPI_AUTH_TOKEN": "",
        "CONVAPI_JWT_SECRET": "",
    }
    processes = start(env, models)
    try:
        wait_until_up()
        measure(5)  # warm every gunicorn worker thread: its model and database connection
        idle = measure(args.turns)
        document = training_document(args.bot)
        for _ in range(4):
            call(
                "POST",
                "/model/train?async=true&force_training=true",
                document,
                "application/x-yaml",
            )
        deadline = time.monotonic() + 60
        while active_trainings() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        at_start = active_trainings()
        busy = measure(args.turns)
        at_end = active_trainings()
        print("| trainings running | turn p50 ms | turn p99 ms |")
        print("|---|---:|---:|")
        print(f"| 0 | {idle[0]:.1f} | {idle[1]:.1f} |")
        print(f"| 4 submitted ({at_start} running at the start, {at_end} at the end) "
              f"| {busy[0]:.1f} | {busy[1]:.1f} |")  # fmt: skip
        print(f"| ratio | {busy[0] / idle[0]:.2f}x | {busy[1] / idle[1]:.2f}x |")
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
