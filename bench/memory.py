"""Memory of the serving processes: proportional set size (PSS), not summed RSS.

Summed RSS counts a page shared by the gunicorn master and its workers once per process;
PSS divides each page among the processes that map it, so the PSS of every server process
added up is what the server really costs the machine. This starts convapi's gunicorn
(2 workers x 4 threads, ``gunicorn.conf.py`` as production runs it, PostgreSQL, initbot
trained into a temporary folder, as ``bench/turns.py``), sends REST webhook turns from
4 clients, then reads ``/proc/<pid>/smaps_rollup`` of the master and every worker.
``--no-preload`` also measures the former set-up (each worker loads the app and the model
itself); ``--rasa`` measures Rasa 3.6.21 (``../shared/peers/rasa/serve.sh``, PostgreSQL
tracker store) the same way when its venv exists. Prints a Markdown table.

    .venv/bin/python bench/memory.py [--turns 200] [--no-preload] [--rasa]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.compare_rasa import stop, wait_up  # noqa: E402
from bench.turns import BOTS, PG, SCRIPT, Server, _children, _free_port, _psql  # noqa: E402

DB_NAME = "convapi_bench_memory"
RASA_DB = "rasa_bench_memory"
PEER = ROOT.parent / "shared" / "peers" / "rasa"
RASA_VENV = Path(os.environ.get("RASA_VENV", "/tmp/convapi-peers/rasa-venv"))
RASA_WORKDIR = Path("/tmp/rasa-peer-memory")
CLIENTS = 4
# The configuration before preloading: every worker imports the app and loads the model
# after the fork, so nothing of it is shared.
WORKER_LOADS_ALL = """
def post_worker_init(worker):
    from serving.holder import warm_up

    warm_up()
"""


@dataclass(frozen=True)
class Memory:
    """One server's processes, in MiB (from /proc/<pid>/smaps_rollup)."""

    processes: int
    rss: float
    pss: float
    private: float


def memory_of(root_pid: int) -> Memory:
    """The process and all its descendants."""
    pids = [root_pid]
    for pid in pids:
        pids.extend(_children(pid))
    totals = {"Rss": 0, "Pss": 0, "Private_Clean": 0, "Private_Dirty": 0}
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in totals:
                totals[name] += int(rest.split()[0])  # kB
    private = totals["Private_Clean"] + totals["Private_Dirty"]
    return Memory(len(pids), totals["Rss"] / 1024, totals["Pss"] / 1024, private / 1024)


def drive(url: str, turns: int) -> int:
    """``turns`` REST webhook turns from CLIENTS threads on distinct conversations; errors."""

    def client(number: int) -> int:
        errors = 0
        with requests.Session() as session:
            for turn in range(turns // CLIENTS):
                response = session.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": f"memory-{number}", "message": SCRIPT[turn % len(SCRIPT)]},
                    timeout=60,
                )
                errors += response.status_code != 200
        return errors

    with ThreadPoolExecutor(CLIENTS) as pool:
        return sum(pool.map(client, range(CLIENTS)))


# -- convapi ------------------------------------------------------------------------------
def convapi_env(models: Path) -> dict[str, str]:
    """A fresh, migrated database and a trained initbot; the server's environment."""
    from engine.project import load_project
    from engine.training import train

    _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _psql(f"CREATE DATABASE {DB_NAME}")
    archive = train(load_project(BOTS / "initbot"), output_dir=models).path
    env = {**os.environ, "DATABASE_URL": PG + DB_NAME, "CONVAPI_MODEL": str(archive)}
    env.update(CONVAPI_AUTH_TOKEN="", CONVAPI_JWT_SECRET="", CONVAPI_LOG_LEVEL="WARNING")
    env.pop("CELERY_BROKER_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return env


def measure_convapi(env: dict[str, str], turns: int) -> tuple[Memory, int]:
    server = Server(env)
    try:
        url = f"http://127.0.0.1:{server.port}"
        wait_up(url, 120)
        errors = drive(url, turns)
        return memory_of(server.process.pid), errors
    finally:
        server.stop()


# -- Rasa ---------------------------------------------------------------------------------
def measure_rasa(turns: int) -> tuple[Memory, int]:
    """Rasa's server with its own work folder and database (other runs may use the peer's)."""
    trained = Path("/tmp/rasa-peer/initbot")
    if not RASA_WORKDIR.exists() and list(trained.glob("models/*.tar.gz")):
        shutil.copytree(trained, RASA_WORKDIR / "initbot")  # skips a 74 s `rasa train`
    port = _free_port()
    command = ["bash", str(PEER / "serve.sh"), "--bot", "initbot", "--port", str(port)]
    command += ["--tracker", "postgres", "--pg-db", RASA_DB, "--fresh-store"]
    command += ["--workdir", str(RASA_WORKDIR)]
    log = RASA_WORKDIR.parent / "rasa-bench-memory.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url, 600)
        errors = drive(url, turns)
        return memory_of(process.pid), errors
    finally:
        stop(process)
        _psql(f"DROP DATABASE IF EXISTS {RASA_DB}")


# -- the table ----------------------------------------------------------------------------
def row(name: str, memory: Memory, errors: int) -> str:
    cells = f"{memory.processes} | {memory.rss:.0f} | {memory.pss:.0f} | {memory.private:.0f}"
    return f"| {name} | {cells} | {errors} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--no-preload", action="store_true", help="also the former set-up")
    parser.add_argument("--rasa", action="store_true", help="also Rasa 3.6.21 (its peer venv)")
    args = parser.parse_args()
    lines = [
        "| server | processes | summed RSS MiB | PSS MiB | private MiB | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    results: dict[str, Memory] = {}
    with tempfile.TemporaryDirectory(prefix="convapi-bench-memory-") as folder:
        env = convapi_env(Path(folder))
        try:
            results["convapi"], errors = measure_convapi(env, args.turns)
            lines.append(row("convapi, gunicorn 2 workers x 4 threads", results["convapi"], errors))
            if args.no_preload:
                config = Path(folder) / "gunicorn-no-preload.conf.py"
                config.write_text(WORKER_LOADS_ALL)
                env_no_preload = {**env, "GUNICORN_CMD_ARGS": f"--config {config}"}
                memory, errors = measure_convapi(env_no_preload, args.turns)
                lines.append(row("convapi, each worker loading the app and model", memory, errors))
        finally:
            _psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    if args.rasa:
        if (RASA_VENV / "bin" / "rasa").exists():
            results["rasa"], errors = measure_rasa(args.turns)
            lines.append(row("Rasa 3.6.21, `rasa run --enable-api`", results["rasa"], errors))
        else:
            print(f"(no Rasa: {RASA_VENV} is missing; run ../shared/peers/rasa/setup.sh)")
    print("\n".join(lines))
    if "rasa" in results:
        ratio = results["convapi"].pss / results["rasa"].pss
        print(f"\nconvapi's PSS is {ratio:.2f} of Rasa's (target: at most 0.25)")


if __name__ == "__main__":
    main()
