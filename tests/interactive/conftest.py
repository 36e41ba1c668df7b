"""A live convapi serving a trained initbot, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interactive.client import Client
from tests.conftest import BOTS


@pytest.fixture(scope="session")
def initbot_archive(tmp_path_factory) -> Path:
    """initbot trained once per test run."""
    from engine.project import load_project
    from engine.training import train

    out = tmp_path_factory.mktemp("models")
    return train(load_project(BOTS / "initbot"), output_dir=out).path


@pytest.fixture(scope="session")
def initbot_model(initbot_archive):
    from engine.model import load_model

    return load_model(initbot_archive)


@pytest.fixture
def served(initbot_model, settings) -> Iterator[object]:
    """The live server serves the trained initbot with auth off."""
    from convapi.assistant import assistant_from_model, assistant_set

    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    assistant = assistant_from_model(initbot_model)
    assistant_set(assistant)
    yield assistant
    assistant_set(None)


@pytest.fixture
def api(live_server, served) -> Client:
    return Client(live_server.url, timeout=20)
