"""A two-host convapi cluster on this machine, with real parts, and what it must survive.

Run as root (``bench/cluster.sh`` is the wrapper CI calls). It builds:

* two network namespaces, ``convapi-a`` and ``convapi-b`` (the "hosts"), each joined by a
  veth pair to the bridge ``cvbr0`` in the root namespace, on 10.213.13.0/24 (bridge .1,
  hosts .2 and .3); no IP forwarding, no firewall rule and no system setting is touched;
* convapi's gunicorn in each host (the repo's ``gunicorn.conf.py``, ``GUNICORN_WORKERS=2``,
  its other defaults), on the host's own address; conversations locked in Redis
  (``CONVAPI_LOCK_STORE``, unless the environment names another store);
* ``socat`` forwarders bound on the bridge address, so that the hosts reach the machine's
  PostgreSQL and Redis, which listen on 127.0.0.1 only;
* one Celery worker and HAProxy (round-robin over the two hosts, retrying only connections
  that were never made) in the root namespace, the balancer on a loopback port.

No folder is shared: host A starts with a model file of its own, which it puts in the model
store (the database); host B and the worker start with none and get every archive from
the store into a cache of their own.

``bench/cluster_net.py`` holds the machine's side (namespaces, bridge, processes). Then it
drives the checks of ``bench/cluster_checks.py`` and prints a Markdown table:
(a) many clients on ONE conversation through the balancer, (b) a training job submitted
through host A served by both, (c) a ``PUT /model`` through A seen by the next request to
B, (d) host A SIGKILLed mid-load. ``--smoke`` runs (a), (c) and (d) with fewer turns.

Everything it starts carries ``CONVAPI_CLUSTER_MEMBER`` in its environment; the clean-up
(on exit, failure, Ctrl-C or SIGTERM; ``--cleanup`` alone as the wrapper's last resort)
kills exactly those processes, deletes the namespaces and the bridge, drops the database
``convapi_cluster`` and flushes Redis database 13 (the cluster's broker and lock store).

    bash bench/cluster.sh [--smoke] [--keep-logs]     (or: .venv/bin/python -m bench.cluster)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.cluster_net import (
    HOST_PORT,
    HOSTS,
    MARKER,
    NETWORK,
    Skip,
    alive,
    free_port,
    netns_pids,
    network_down,
    network_up,
    probe_namespaces,
    program,
    refused,
    stop_members,
    via_bridge,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parent.parent
BOTS = ROOT.parent / "shared" / "reference" / "bots"
RUN_DIR = Path("/tmp/convapi-cluster")
LOCK_FILE = Path("/tmp/convapi-cluster.lock")
DB_NAME = "convapi_cluster"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The cluster's own Redis database: flushed at the end, so no other user of Redis may share it.
BROKER = "redis://127.0.0.1:6379/13"


# -- processes ----------------------------------------------------------------------------
@dataclass
class Cluster:
    """What one run started, and where its logs go."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    balancer_url: str = ""

    def start(self, name: str, command: list[str], env: dict[str, str], netns: str = "") -> None:
        """Start ``command`` (inside ``netns`` when given) in its own session, logging to a file."""
        if netns:
            command = ["ip", "netns", "exec", netns, *command]
        log = (RUN_DIR / f"{name}.log").open("ab")
        env = {**os.environ, **env, MARKER: self.run_id}
        command = [program(command[0]), *command[1:]]
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def host_url(self, host: str) -> str:
        return f"http://{HOSTS[host]}:{HOST_PORT}"

    def kill_host(self, host: str) -> int:
        """SIGKILL every process of ``host`` (gunicorn's master and workers); how many died.

        The master goes first: a master still alive when one of its workers dies forks a
        new one, which would keep the listening socket open. Then whatever is left in the
        namespace, again until nothing there runs and the host refuses connections."""
        master = self.processes[f"host-{host}"]
        killed = {master.pid}
        os.kill(master.pid, signal.SIGKILL)
        master.wait(timeout=60)
        for _ in range(600):
            # Only pids in the namespace now: one that died here may be reused elsewhere.
            left = [pid for pid in netns_pids(f"convapi-{host}") if alive(pid)]
            if not left and refused(HOSTS[host], HOST_PORT):
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed.update(left)
            time.sleep(0.05)
        return len(killed)

    def logs_tail(self, lines: int = 30) -> str:
        parts = []
        for log in sorted(RUN_DIR.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            if text:
                parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)


# -- services the hosts reach through the bridge ------------------------------------------
def start_forwarders(cluster: Cluster, ports: set[int]) -> None:
    """socat on NETWORK.1:port -> 127.0.0.1:port; PostgreSQL sees loopback clients (trust)."""
    for port in sorted(ports):
        # nodelay: a relay that waits to batch small writes (Nagle's algorithm) would hold
        # back the database's and Redis's short answers, inside every conversation lock.
        listen = f"TCP-LISTEN:{port},bind={NETWORK}.1,reuseaddr,fork,backlog=512,nodelay"
        target = f"TCP:127.0.0.1:{port},nodelay"
        cluster.start(f"forward-{port}", ["socat", listen, target], {})
    for port in ports:
        wait_for_port(f"{NETWORK}.1", port)


HAPROXY_CONFIG = """\
global
    maxconn 2048
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 180s
    timeout server 180s
    timeout queue 60s
    # One server connection per request, so that a request after a host's death opens a new
    # connection (refused, then redispatched) instead of reusing one to the dead host.
    option http-server-close
    # Retry (on the other host) only a connection that was never made: a request already
    # sent may have been stored, and resending it elsewhere could store the turn twice.
    retries 2
    retry-on conn-failure
    option redispatch 1
frontend convapi
    bind 127.0.0.1:{port}
    default_backend hosts
backend hosts
    balance roundrobin
    option httpchk GET /version
    # A busy host answers its health check late; only a dead one (refused) should drop out.
    timeout check 5s
    http-response set-header X-Convapi-Host %[srv_name]
{servers}
"""


def start_balancer(cluster: Cluster) -> None:
    port = free_port()
    servers = "\n".join(
        f"    server {host} {address}:{HOST_PORT} check inter 500 fall 2 rise 1"
        for host, address in HOSTS.items()
    )
    config = RUN_DIR / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(port=port, servers=servers))
    cluster.start("haproxy", ["haproxy", "-db", "-f", str(config)], {})
    cluster.balancer_url = f"http://127.0.0.1:{port}"
    _wait_until_up(cluster.balancer_url, cluster, "haproxy")


def _wait_until_up(base_url: str, cluster: Cluster, name: str) -> None:
    for _ in range(480):
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base_url}/version", timeout=2).ok:
                return
        process = cluster.processes.get(name)
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.25)
    raise RuntimeError(f"{name} did not start:\n{cluster.logs_tail()}")


# -- convapi ------------------------------------------------------------------------------
def _psql(statement: str) -> None:
    subprocess.run(["psql", PG_ADMIN, "-qc", statement], check=True, capture_output=True)


@dataclass(frozen=True)
class Archive:
    """A model archive trained for the run, as the store will name it."""

    path: Path
    sha256: str
    model_id: str


def train_models() -> list[Archive]:
    """Two initbot archives with different model ids, on host A's disk only: A stores the
    first at start; (c) switches between them."""
    from engine.project import load_project
    from engine.training import train

    project = load_project(BOTS / "initbot")
    archives = []
    for name in ("cluster-one", "cluster-two"):
        trained = train(
            project, output_dir=_own_dir("host-a", "models"), force=True, fixed_name=name
        )
        digest = hashlib.sha256(Path(trained.path).read_bytes()).hexdigest()
        archives.append(Archive(Path(trained.path), digest, trained.model_id))
    return archives


def _own_dir(owner: str, purpose: str) -> Path:
    """A folder of one host's (or the worker's) own: nothing in it is shared with the rest."""
    folder = RUN_DIR / owner / purpose
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def base_env() -> dict[str, str]:
    """The settings every convapi process of the cluster shares (loopback addresses)."""
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"}
    env.update(
        CELERY_BROKER_URL=BROKER,
        CONVAPI_AUTH_TOKEN="",
        CONVAPI_JWT_SECRET="",
        CONVAPI_LOG_LEVEL="WARNING",
        GUNICORN_WORKERS="2",
    )
    # Several hosts lock conversations in Redis (README); an explicit setting wins.
    env.setdefault("CONVAPI_LOCK_STORE", BROKER)
    # A killed host's conversation leases free after 5 s instead of 60.
    env.setdefault("CONVAPI_LOCK_LIFETIME_SECONDS", "5")
    return env


def own_env(env: dict[str, str], owner: str, model: Path | None) -> dict[str, str]:
    """``env`` with a model cache of ``owner``'s own, and a start-up model only for host A:
    the others get every archive from the store, as hosts with no shared volume would."""
    return {
        **env,
        "CONVAPI_MODEL": str(model or ""),
        "CONVAPI_MODEL_CACHE": str(_own_dir(owner, "cache")),
    }


def host_env(env: dict[str, str]) -> tuple[dict[str, str], set[int]]:
    """``env`` as seen from inside a namespace: loopback services through the bridge."""
    inside, ports = dict(env), set()
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CONVAPI_LOCK_STORE"):
        if env.get(name):
            inside[name], port = via_bridge(env[name])
            if port is not None:
                ports.add(port)
    return inside, ports


def start_convapi(cluster: Cluster, env: dict[str, str], first: Archive) -> None:
    """Migrate; gunicorn in host A (which stores the first model), then in host B; the
    Celery worker and the balancer in the root namespace."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    inside, ports = host_env(env)
    start_forwarders(cluster, ports)
    for host, address in HOSTS.items():
        host_settings = own_env(inside, f"host-{host}", first.path if host == "a" else None)
        host_settings["GUNICORN_BIND"] = f"{address}:{HOST_PORT}"
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--config", "gunicorn.conf.py",
                   "--log-level", "warning"]  # fmt: skip
        cluster.start(f"host-{host}", command, host_settings, netns=f"convapi-{host}")
        _wait_until_up(cluster.host_url(host), cluster, f"host-{host}")
    # Training is background work: SCHED_IDLE, as the README runs it beside the web workers.
    worker = ["chrt", "--idle", "0", sys.executable, "-m", "celery", "-A", "config", "worker",
              "-B", "--concurrency", "1", "--loglevel", "WARNING",
              "--schedule", str(_own_dir("worker", "beat") / "schedule")]  # fmt: skip
    cluster.start("celery", worker, own_env(env, "worker", None))
    start_balancer(cluster)


# -- the run ------------------------------------------------------------------------------
def cleanup() -> None:
    """Undo everything a run (this one or a crashed earlier one) left; safe to repeat."""
    stop_members()
    network_down()
    with contextlib.suppress(subprocess.CalledProcessError):
        _psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    redis = urlsplit(BROKER)
    subprocess.run(
        ["redis-cli", "-h", redis.hostname, "-p", str(redis.port), "-n", redis.path.strip("/"),
         "FLUSHDB"], capture_output=True,
    )  # fmt: skip


@contextlib.contextmanager
def one_run_at_a_time() -> Iterator[bool]:
    """An exclusive lock on LOCK_FILE; yields False when another run holds it.

    ``--cleanup`` takes it too, so the wrapper's last-resort clean-up never undoes a run
    that is still going."""
    with LOCK_FILE.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (the wrapper passes Ctrl-C on as one) stops a run as Ctrl-C does."""
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from bench import cluster_checks

    cluster = Cluster()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    network_up()
    archives = train_models()
    _psql(f"CREATE DATABASE {DB_NAME}")
    start_convapi(cluster, base_env(), archives[0])
    rows = cluster_checks.run_checks(cluster, archives, smoke=args.smoke)
    print(cluster_checks.table(rows), flush=True)
    if all(row.ok for row in rows):
        return 0
    print(f"\nFAILED; logs:\n{cluster.logs_tail()}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CI's size: checks a, c, d")
    parser.add_argument("--cleanup", action="store_true", help="only undo a previous run")
    parser.add_argument("--keep-logs", action="store_true", help=f"keep {RUN_DIR} afterwards")
    args = parser.parse_args(argv)
    if not args.cleanup:
        try:
            probe_namespaces()
        except Skip as exc:
            print(f"SKIP: the two-host cluster needs network namespaces; {exc}")
            return 0
    with one_run_at_a_time() as alone:
        if not alone:
            print("another bench/cluster.py run is in progress", file=sys.stderr)
            return 1
        if args.cleanup:
            cleanup()
            if not args.keep_logs:
                shutil.rmtree(RUN_DIR, ignore_errors=True)
            return 0
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
        cleanup()  # what a killed earlier run may have left
        try:
            return run(args)
        except KeyboardInterrupt:
            print("interrupted: cleaning up", file=sys.stderr, flush=True)
            return 130
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop this
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            cleanup()
            if not args.keep_logs:
                shutil.rmtree(RUN_DIR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
