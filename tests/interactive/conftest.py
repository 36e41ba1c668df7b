"""A live convapi serving a trained initbot, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interactive.client import Client


@pytest.fixture
def served(initbot_model, settings) -> Iterator[object]:
    """The live server serves the trained initbot with auth off."""
    from serving.holder import assistant_from_model, assistant_set

    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    assistant = assistant_from_model(initbot_model)
    assistant_set(assistant)
    yield assistant
    assistant_set(None)


@pytest.fixture
def api(live_server, served) -> Client:
    return Client(live_server.url, timeout=20)
