"""Fixtures shared by every test: reference bots, the loaded assistant, auth helpers."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jwt
import pytest

ROOT = Path(__file__).resolve().parent.parent
BOTS = ROOT.parent / "shared" / "reference" / "bots"
TEST_TOKEN = "rasa"
TEST_JWT_SECRET = "core"


@pytest.fixture
def bots_dir() -> Path:
    return BOTS


@pytest.fixture(autouse=True)
def _reminder_timers_end_with_their_test():
    """A reminder set without a broker waits on a timer in this process; one left running
    would fire during a later test, against that test's database."""
    yield
    reminders = sys.modules.get("jobs.reminders")  # never imported: no timer to stop
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
def initbot_archive(tmp_path_factory) -> Path:
    """initbot trained once per test run (a fraction of a second), shared by every folder."""
    from engine.project import load_project
    from engine.training import train

    return train(load_project(BOTS / "initbot"), output_dir=tmp_path_factory.mktemp("models")).path


@pytest.fixture(scope="session")
def initbot_model(initbot_archive):
    from engine.model import load_model

    return load_model(initbot_archive)
