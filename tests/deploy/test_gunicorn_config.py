"""gunicorn.conf.py and ``manage.py serve``: settings from the environment, production
defaults, bad values refused at start with one clear line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT
from tests.faults.conftest import free_port, wait_for

GUNICORN_VARIABLES = (
    "GUNICORN_BIND",
    "GUNICORN_WORKERS",
    "GUNICORN_THREADS",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_CMD_ARGS",
    "CONVAPI_JOB_WAIT_SECONDS",
)


def environment(**variables: str) -> dict[str, str]:
    """This run's environment without any gunicorn setting, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if k not in GUNICORN_VARIABLES}
    return {**env, **variables}


def gunicorn(*args: str, **variables: str) -> subprocess.CompletedProcess:
    """``gunicorn config.wsgi`` run from the project folder, as the README says."""
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "config.wsgi", *args],
        cwd=ROOT,
        env=environment(**variables),
        capture_output=True,
        text=True,
        timeout=120,
    )


def effective_config(**variables: str) -> dict[str, str]:
    """The settings gunicorn would run with (``--print-config``), by name."""
    printed = gunicorn("--print-config", **variables)
    assert printed.returncode == 0, printed.stderr
    lines = (line.split("=", 1) for line in printed.stdout.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in lines}


def test_it_serves_with_production_defaults_when_nothing_is_set():
    config = effective_config()
    assert config["bind"] == "['127.0.0.1:5005']"
    assert config["worker_class"] == "gthread"
    assert config["threads"] == "8"
    assert config["workers"] == str(os.cpu_count())
    assert config["preload_app"] == "True"
    assert config["graceful_timeout"] == "30"
    # Longer than a synchronous /model/train may wait for its job (CONVAPI_JOB_WAIT_SECONDS).
    assert config["timeout"] == "3660"


def test_it_outlives_a_longer_job_wait():
    assert effective_config(CONVAPI_JOB_WAIT_SECONDS="7200")["timeout"] == "7260"


def test_it_reads_every_setting_from_the_environment():
    config = effective_config(
        GUNICORN_BIND="0.0.0.0:8080",
        GUNICORN_WORKERS="5",
        GUNICORN_THREADS="64",
        GUNICORN_WORKER_CLASS="gthread",
        GUNICORN_TIMEOUT="900",
        GUNICORN_GRACEFUL_TIMEOUT="45",
    )
    assert config["bind"] == "['0.0.0.0:8080']"
    assert (config["workers"], config["threads"], config["worker_class"]) == ("5", "64", "gthread")
    assert (config["timeout"], config["graceful_timeout"]) == ("900", "45")


def test_sync_workers_serve_one_request_at_a_time_by_default():
    config = effective_config(GUNICORN_WORKER_CLASS="sync")
    assert (config["worker_class"], config["threads"]) == ("sync", "1")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"GUNICORN_WORKER_CLASS": "gevnt"},
            "GUNICORN_WORKER_CLASS='gevnt': use gthread, sync or asgi",
        ),
        ({"GUNICORN_WORKERS": "two"}, "GUNICORN_WORKERS='two': use a whole number"),
        ({"GUNICORN_THREADS": "0"}, "GUNICORN_THREADS=0: use a number of at least 1"),
        ({"GUNICORN_TIMEOUT": "30s"}, "GUNICORN_TIMEOUT='30s': use a whole number"),
        ({"GUNICORN_BIND": "localhost"}, "GUNICORN_BIND='localhost': use HOST:PORT or unix:PATH"),
        (
            {"GUNICORN_WORKER_CLASS": "sync", "GUNICORN_THREADS": "4"},
            "GUNICORN_THREADS=4 with sync workers: use 1, or gthread workers",
        ),
    ],
)
def test_it_refuses_a_bad_value_at_start_with_one_line(variables, message):
    started = gunicorn(**variables)
    assert started.returncode == 1
    assert started.stderr == f"Error: {message}\n"


def test_serve_documents_every_option_and_its_default():
    shown = subprocess.run(
        [sys.executable, "manage.py", "serve", "--help"],
        cwd=ROOT,
        env=environment(GUNICORN_WORKERS="3", GUNICORN_BIND="127.0.0.1:7000"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    text = " ".join(shown.split())
    for option, default in [
        ("--bind BIND", "(default: 127.0.0.1:7000, from GUNICORN_BIND; without it 127.0.0.1:5005)"),
        ("--workers WORKERS", "(default: 3, from GUNICORN_WORKERS; without it the number of CPUs)"),
        ("--threads THREADS", "(default: 8, from GUNICORN_THREADS; without it 8, or 1 for sync"),
        ("--worker-class WORKER_CLASS", "(default: asgi, from GUNICORN_WORKER_CLASS;"),
        ("--timeout TIMEOUT", "(default: 3660, from GUNICORN_TIMEOUT;"),
        ("--graceful-timeout GRACEFUL_TIMEOUT", "(default: 30, from GUNICORN_GRACEFUL_TIMEOUT;"),
        ("--bot BOT", "from CONVAPI_BOT; without it the demo initbot)"),
        ("--no-train", "(default: train)"),
    ]:
        assert re.search(re.escape(option) + r" .*?" + re.escape(default), text), option


def test_asgi_workers_serve_config_asgi_with_uvicorn():
    config = effective_config(GUNICORN_WORKER_CLASS="asgi")
    assert config["worker_class"] == "convapi.gunicorn_worker.AsgiWorker"
    assert (config["wsgi_app"], config["threads"], config["preload_app"]) == (
        "config.asgi",
        "8",
        "True",
    )


def test_asgi_workers_refuse_the_wsgi_app_naming_the_one_to_serve():
    started = gunicorn(
        "--bind", f"127.0.0.1:{free_port()}", "--workers", "1", GUNICORN_WORKER_CLASS="asgi"
    )
    assert started.returncode != 0
    assert "GUNICORN_WORKER_CLASS=asgi serves config.asgi: run gunicorn config.asgi" in (
        started.stderr
    )


def test_serve_picks_the_asgi_worker_when_the_socketio_channel_is_open(tmp_path):
    rest_only = tmp_path / "credentials.yml"
    rest_only.write_text("rest:\n")
    for credentials, default in [(ROOT / "credentials.yml", "asgi"), (rest_only, "gthread")]:
        shown = subprocess.run(
            [sys.executable, "manage.py", "serve", "--help"],
            cwd=ROOT,
            env=environment(CONVAPI_CREDENTIALS=str(credentials)),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert f"(default: {default}, from GUNICORN_WORKER_CLASS;" in " ".join(shown.split())


def serve_refused(tmp_path: Path, *args: str, **variables: str) -> str:
    """``manage.py serve`` with ``args``, expected to stop at once: what it said on stderr.
    Nothing may have been started: the database it would migrate is never made."""
    refused = subprocess.run(
        [sys.executable, "manage.py", "serve", *args],
        cwd=ROOT,
        env=environment(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **variables),
        capture_output=True,
        text=True,
        timeout=180,  # a loaded CI machine imports slowly
    )
    assert refused.returncode == 1, refused.stderr
    assert not (tmp_path / "db.sqlite3").exists()  # nothing migrated
    return refused.stderr


def test_serve_opens_the_channels_of_the_credentials_it_is_given(tmp_path):
    """``--credentials`` as ``rasa run --credentials``: a file without socketio serves with
    gthread; a bad one stops serve before anything starts, naming the key."""
    bad = tmp_path / "bad.yml"
    bad.write_text("callback:\n")
    said = serve_refused(tmp_path, "--credentials", str(bad))
    assert said.strip() == f"CommandError: {bad}: 'callback' needs a 'url' (http:// or https://)."
    # A file without socketio: gthread is the default again; its other channel is named once.
    rest_only = tmp_path / "rest.yml"
    rest_only.write_text("rest:\nslack:\n  slack_token: x\n")
    said = serve_refused(tmp_path, "--credentials", str(rest_only), "--worker-class", "gevnt")
    assert said.count("the channel(s) slack are not supported") == 1
    assert "GUNICORN_WORKER_CLASS='gevnt'" in said


@pytest.mark.parametrize("worker_class", ["gthread", "sync"])
def test_serve_refuses_other_workers_when_the_socketio_channel_is_open(tmp_path, worker_class):
    credentials = ROOT / "credentials.yml"
    said = serve_refused(
        tmp_path,
        "--worker-class", worker_class, "--threads", "1",
        CONVAPI_CREDENTIALS=str(credentials),
    )  # fmt: skip
    assert said.strip() == (
        f"CommandError: The socketio channel ({credentials}) needs the asgi worker "
        f"class: {worker_class} workers serve no socket.io"
    )


def test_serve_refuses_a_bad_option_before_it_starts_anything(tmp_path):
    said = serve_refused(tmp_path, "--worker-class", "gevnt")
    assert said.strip() == "CommandError: GUNICORN_WORKER_CLASS='gevnt': use gthread, sync or asgi"


@pytest.mark.slow
def test_serve_collects_static_files_and_says_where_the_admin_is(tmp_path):
    port = free_port()
    output = tmp_path / "serve.out"
    env = environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CONVAPI_STATIC_ROOT=str(tmp_path / "static"),
        CONVAPI_MODEL=str(tmp_path / "models"),
        CONVAPI_AUTH_TOKEN="",
        CONVAPI_JWT_SECRET="",
    )
    env.pop("CELERY_BROKER_URL", None)
    command = [sys.executable, "manage.py", "serve", "--no-train"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"]
    with output.open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url, process), timeout=120, what=f"serve on {url}")
        css = requests.get(f"{url}/static/admin/css/base.css", timeout=10)
        assert css.status_code == 200
        assert css.content == (tmp_path / "static" / "admin" / "css" / "base.css").read_bytes()
        assert requests.get(f"{url}/admin/login/", timeout=10).status_code == 200
        # The project's credentials.yml opens socket.io: served by the asgi worker, same port.
        health = requests.get(f"{url}/webhooks/socketio/", timeout=10)
        assert health.json() == {"status": "ok"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    printed = output.read_text()
    assert f"Serving on {url}\n" in printed
    assert (
        f"The admin is at {url}/admin/; create its first user with: "
        f"{sys.executable} manage.py createsuperuser\n"
    ) in printed


def _answers(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"serve exited with {process.returncode}")
    try:
        return requests.get(url + "/", timeout=1).ok
    except requests.RequestException:
        return False
