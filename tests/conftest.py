"""Fixtures shared by every test: reference bots, the loaded assistant, auth helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dj_database_url
import jwt
import pytest

ROOT = Path(__file__).resolve().parent.parent
BOTS = ROOT.parent / "shared" / "reference" / "bots"

# What the session's Celery workers and the eager test process use: fast heartbeats, quick
# staleness, short callback backoff. The workers' reaper hands a running job whose
# heartbeat is older than the stale time back to the queue, so every other process that
# runs jobs on the test database takes the liveness settings too (else its job runs twice).
FAST_JOB_SETTINGS = {
    "CONVAPI_JOB_HEARTBEAT_SECONDS": 0.3,
    "CONVAPI_JOB_STALE_SECONDS": 2.0,
    "CONVAPI_CALLBACK_BACKOFF": 0.2,
    "CONVAPI_CALLBACK_ATTEMPTS": 4,
    "CONVAPI_CALLBACK_TIMEOUT": 5.0,
}
JOB_LIVENESS_SETTINGS = ("CONVAPI_JOB_HEARTBEAT_SECONDS", "CONVAPI_JOB_STALE_SECONDS")
TEST_TOKEN = "rasa"
TEST_JWT_SECRET = "core"


@pytest.fixture
def bots_dir() -> Path:
    return BOTS


@pytest.fixture(scope="session", autouse=True)
def _broker_keys_of_this_run():
    """With a broker (CI's PostgreSQL run), every Redis key this run uses, in this process
    and in the workers it starts (tests/jobs/worker_app.py), carries a prefix of its own:
    another run on the same Redis database cannot take, purge or deliver our messages."""
    import os
    import uuid

    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        yield None
        return
    from config.celery import app
    from tests.jobs.worker_app import BROKER_KEYPREFIX_VARIABLE, use_key_prefix

    prefix = f"convapi-test-{uuid.uuid4().hex}:"
    os.environ[BROKER_KEYPREFIX_VARIABLE] = prefix  # inherited by every worker started
    use_key_prefix(app, prefix)
    assert app.conf.broker_transport_options["global_keyprefix"] == prefix
    yield prefix
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass  # the broker is gone: nothing of ours is left in it either
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _reminder_timers_end_with_their_test():
    """A reminder set without a broker waits on a timer in this process; one left running
    would fire during a later test, against that test's database."""
    yield
    reminders = sys.modules.get("trackers.reminders")  # never imported: no timer to stop
    if reminders is not None:
        reminders.reminder_timers_cancel()


def make_jwt(
    payload: dict | None = None,
    *,
    key: str = TEST_JWT_SECRET,
    algorithm: str = "HS256",
    expires_in: float | None = 3600,
) -> str:
    claims = dict(payload or {})
    if expires_in is not None:
        claims["exp"] = int(time.time() + expires_in)
    return jwt.encode(claims, key, algorithm=algorithm)


def admin_jwt(**kwargs) -> str:
    return make_jwt({"user": {"username": "admin", "role": "admin"}}, **kwargs)


def user_jwt(username: str, **kwargs) -> str:
    return make_jwt({"user": {"username": username, "role": "user"}}, **kwargs)


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """The app's static files as collectstatic lays them out, for the server's WhiteNoise."""
    root = tmp_path_factory.mktemp("static")
    env = {**os.environ, "CONVAPI_STATIC_ROOT": str(root)}
    command = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return root


@pytest.fixture(scope="session")
def initbot_archive(tmp_path_factory) -> Path:
    """initbot trained once per test run (a fraction of a second), shared by every folder."""
    from engine.project import load_project
    from engine.training import train

    return train(load_project(BOTS / "initbot"), output_dir=tmp_path_factory.mktemp("models")).path


@pytest.fixture(scope="session")
def initbot_model(initbot_archive):
    from engine.model import load_model

    return load_model(initbot_archive)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, tmp_path_factory, initbot_archive) -> Iterator:
    """Real workers on the TEST database, or None when tasks run eagerly.

    Defined here, once: a session fixture imported into two conftest files is two
    fixtures, and the second would start a second set of workers beside the first.

    Two of each queue's tasks at a time: two trainings fill the training worker, and the
    realtime worker (with beat) must still fire a reminder (tests/jobs/test_queues.py).
    """
    from django.conf import settings as django_settings
    from django.db import connection

    from tests.jobs.conftest import QueueWorkers, WorkerProcess

    if not django_settings.CELERY_BROKER_URL:
        yield None
        return

    database = dj_database_url.parse(os.environ["DATABASE_URL"])
    test_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    env = {
        **os.environ,
        "DATABASE_URL": test_url,
        "CONVAPI_MODEL": str(initbot_archive),
        "CONVAPI_BEAT_SECONDS": "1",
        **{name: str(value) for name, value in FAST_JOB_SETTINGS.items()},
    }
    # The run's own broker key prefix (tests/conftest.py): purging empties only this
    # run's queue, never another run's on the same Redis database.
    assert env.get("CONVAPI_TEST_BROKER_KEYPREFIX"), "no per-run broker key prefix"
    logs = tmp_path_factory.mktemp("worker")
    workers = QueueWorkers(
        [
            WorkerProcess(env, logs / "training.log", queues="training", beat=False),
            WorkerProcess(env, logs / "realtime.log", queues="realtime"),
        ]
    )
    workers.start(purge=True)
    yield workers
    workers.stop()
