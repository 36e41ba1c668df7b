"""convapi against the real Rasa 3.6 server, back to back, with the peer's own measure.py.

Starts convapi (gunicorn, 2 workers, PostgreSQL, initbot), runs
``../shared/peers/rasa/measure.py`` against it, stops it; then the same for Rasa (its
``serve.sh``, PostgreSQL tracker store; needs ``setup.sh`` run once, ~3 GB); prints one
Markdown table with both rows and the ratios. Loopback only; every run is bounded.

    .venv/bin/python bench/compare_rasa.py [--skip-rasa] [--growth-sizes 0,1000,5000,20000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "peers" / "rasa"
BOTS = ROOT.parent / "shared" / "reference" / "bots"
PG = "postgres://postgres@127.0.0.1:5432/convapi_compare"
TOKEN = "rasa"
# Conversation locks where a production deployment keeps them.
LOCK_STORE = "redis://127.0.0.1:6379/0"


def wait_up(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/status?token={TOKEN}", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not come up in {seconds} s")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def measure(url: str, pid: int, label: str, out: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, str(PEER / "measure.py"), "--base-url", url, "--token", TOKEN,
        "--label", label, "--server-pid", str(pid), "--out", str(out),
        "--growth-sizes", args.growth_sizes, "--duration", str(args.duration),
        "--parse-n", "100", "--webhook-n", "60",
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=1800)
    return json.loads(out.read_text())


def start_convapi(work: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": PG,
        "CONVAPI_MODEL": str(work / "models"),
        "CONVAPI_AUTH_TOKEN": TOKEN,
        "CONVAPI_LOG_LEVEL": "WARNING",
        "CONVAPI_LOCK_STORE": LOCK_STORE,
    }
    env.pop("CELERY_BROKER_URL", None)
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c",
         "DROP DATABASE IF EXISTS convapi_compare", "-c", "CREATE DATABASE convapi_compare"],
        check=True, capture_output=True,
    )  # fmt: skip
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*manage, "train", "--bot", str(BOTS / "initbot"), "--out", str(work / "models")],
        env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--timeout", "600"],
        env=env, cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def start_rasa(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        ["bash", str(PEER / "serve.sh"), "--bot", "initbot", "--token", TOKEN, "--port", str(port),
         "--tracker", "postgres", "--fresh-store"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def rows(result: dict) -> dict[str, float | None]:
    growth = {row["N_requested"]: row for row in result.get("growth", {}).get("rows", [])}
    largest = max(growth) if growth else None
    return {
        "parse p50 ms": result.get("parse", {}).get("p50_ms"),
        "fresh turn p50 ms": result.get("webhook", {}).get("p50_ms"),
        "fresh turn p95 ms": result.get("webhook", {}).get("p95_ms"),
        **{f"turn p50 ms at {n:,} events": growth[n].get("p50_ms") for n in sorted(growth)},
        "turns/s, 8 clients": result.get("throughput", {}).get("turns_per_s"),
        "errors (throughput)": result.get("throughput", {}).get("errors"),
        "server RSS MiB": result.get("rss", {}).get("rss_mib"),
        "_largest": largest,
    }


def print_table(convapi: dict, rasa: dict | None) -> None:
    ours, theirs = rows(convapi), rows(rasa) if rasa else {}
    print("| measure | convapi | Rasa 3.6.21 | convapi better by |")
    print("|---|---:|---:|---:|")
    for key, value in ours.items():
        if key.startswith("_"):
            continue
        other = theirs.get(key)
        ratio = ""
        numbers = isinstance(value, int | float) and isinstance(other, int | float)
        if numbers and value and other and not key.startswith("errors"):
            # Lower is better everywhere but throughput: the factor is always "times better".
            factor = value / other if key.startswith("turns/s") else other / value
            ratio = f"{factor:.2f}x"
        print(f"| {key} | {value if value is not None else ''} | "
              f"{other if other is not None else ''} | {ratio} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-rasa", action="store_true")
    parser.add_argument("--growth-sizes", default="0,1000,5000,20000")
    parser.add_argument("--duration", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = start_convapi(work, 5006)
        try:
            wait_up("http://127.0.0.1:5006", 60)
            convapi = measure("http://127.0.0.1:5006", server.pid, "convapi", work / "c.json", args)
        finally:
            stop(server)
        rasa = None
        if not args.skip_rasa:
            peer = start_rasa(5005)
            try:
                wait_up("http://127.0.0.1:5005", 300)
                rasa = measure("http://127.0.0.1:5005", peer.pid, "rasa", work / "r.json", args)
            finally:
                stop(peer)
    print_table(convapi, rasa)


if __name__ == "__main__":
    main()
