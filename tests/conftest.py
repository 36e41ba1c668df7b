"""Fixtures shared by every test: reference bots, the loaded assistant, auth helpers."""

from __future__ import annotations

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
