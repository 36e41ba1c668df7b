"""convapi as production runs it: ``gunicorn config.wsgi`` from the project folder, with
``gunicorn.conf.py``, static files collected and served by WhiteNoise.

pytest-django's ``live_server`` serves static files by itself, which hid for a long time
that nothing else did; these tests start the real thing. The server gets a database of its
own (a SQLite file, or a PostgreSQL database beside the test database, dropped after), so
what its start-up stores never reaches another test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import ROOT
from tests.faults.conftest import ConvapiServer

ADMIN_USER = "reviewer"
ADMIN_PASSWORD = "pw-deploy-123456"


@pytest.fixture(scope="module")
def server_database_url(tmp_path_factory) -> Iterator[str]:
    """A database for one server process: the same kind as the test run's."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        yield f"sqlite:///{tmp_path_factory.mktemp('deploy-db') / 'server.sqlite3'}"
        return
    import psycopg

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    name = f"convapi_deploy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{base}/{name}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def manage(server: ConvapiServer, *args: str) -> subprocess.CompletedProcess:
    """``manage.py`` with the server's environment, as an operator runs it before gunicorn."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server.env,
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def production_server(
    server_database_url, initbot_archive, tmp_path_factory
) -> Iterator[ConvapiServer]:
    """gunicorn with 3 workers after the README's set-up: migrate, collectstatic, an admin."""
    folder = tmp_path_factory.mktemp("deploy")
    env = {
        "DATABASE_URL": server_database_url,
        "CONVAPI_MODEL": str(initbot_archive),
        "CONVAPI_STATIC_ROOT": str(folder / "static"),
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
    }
    server = ConvapiServer(env, folder / "gunicorn.log", workers=3, threads=4)
    server.migrate()
    manage(server, "collectstatic", "--noinput")
    manage(server, "createsuperuser", "--noinput", "--username", ADMIN_USER, "--email", "r@x.org")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def static_root(server: ConvapiServer) -> Path:
    return Path(server.env["CONVAPI_STATIC_ROOT"])
