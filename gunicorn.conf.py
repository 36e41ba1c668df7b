"""gunicorn settings, read by ``gunicorn config.wsgi`` run from this folder (and ``serve``);
with ``GUNICORN_WORKER_CLASS=asgi``, ``gunicorn config.asgi`` (or plain ``gunicorn``).

Bind, workers, threads, worker class and timeouts come from ``GUNICORN_*`` environment
variables (``convapi/gunicorn_settings.py``; README lists them); a bad value stops gunicorn
with one line naming the variable.

The master loads Django and the served model before it forks the workers (``preload_app``
and ``when_ready``), so every worker shares those pages with it copy-on-write instead of
holding a copy of its own.

Metrics: each worker writes its own in ``PROMETHEUS_MULTIPROC_DIR`` and ``GET /metrics``
adds them up. Unless the environment names that folder, a fresh one is made for each
start of the server (before the app, and so prometheus-client, is imported) and removed
when the master exits.
"""

import os
import shutil
import sys
import tempfile

from convapi.gunicorn_settings import gunicorn_settings_from_env

try:
    _settings = gunicorn_settings_from_env()
except ValueError as exc:
    # SystemExit passes gunicorn's own handler: one line on stderr and status 1, no traceback.
    sys.exit(f"Error: {exc}")

bind = [_settings.bind]
workers = _settings.workers
threads = _settings.threads
worker_class = _settings.gunicorn_worker_class
# The app a plain ``gunicorn`` (no app named) serves: config.asgi for the asgi worker class.
wsgi_app = _settings.app
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
preload_app = True
# Each worker's heartbeat touches a file on every loop of its event loop, under the GIL its
# request threads want: in memory (gunicorn's own advice) rather than on the disk of /tmp.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn's own access line, ending with the request's X-Request-ID (convapi/request_id.py):
# the line a proxy or a client reports leads to the app's lines of that request.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
)

# Read again when the master reloads on HUP: the folder made at start is kept.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="convapi-metrics-")
    os.environ["CONVAPI_METRICS_DIR_MADE"] = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def when_ready(server) -> None:
    """In the master, before any worker is forked: load the model and freeze what lives long.

    ``warm_up`` moves Django and the model into the garbage collector's permanent generation
    (``gc.freeze``): a collection in a worker never writes to their object headers, so their
    pages stay shared. Connections opened meanwhile are closed: a database socket shared by
    forked processes would interleave their queries.
    """
    from django.db import connections

    from serving.holder import warm_up

    warm_up()
    connections.close_all()


def post_worker_init(worker) -> None:
    """A worker forked later (after a crash, or ``max_requests``) follows the model chosen
    since the master loaded its own, before its first request.

    It does not collect and re-freeze as the master did: that would touch every shared
    object and copy its page into this worker.
    """
    from serving.holder import current_assistant

    current_assistant()


def child_exit(server, worker) -> None:
    """A worker's counts stay in its files (totals never drop); its live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """Remove the metrics folder this server made (one named by the environment stays)."""
    made = os.environ.get("CONVAPI_METRICS_DIR_MADE")
    if made and made == os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(made, ignore_errors=True)
