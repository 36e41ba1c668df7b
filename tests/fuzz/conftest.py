"""Fuzz fixtures: the API fixtures (a trained initbot, token auth) and the in-process WSGI app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.api.conftest import (  # noqa: F401 - fixtures, registered by import
    _no_model_from_settings,
    client,
    open_auth,
    token_auth,
    trained_initbot,
)
from tests.fuzz.harness import KNOWN_CONVERSATIONS, RouteStats, write_report


@pytest.fixture
def known_conversations(client) -> list[str]:  # noqa: F811 - the imported fixture
    """Conversations with a few real initbot turns for the fuzzer to read and extend."""
    for sender in KNOWN_CONVERSATIONS:
        for text in ("hello", "I am sad", "yes", "bye"):
            client.post_json("/webhooks/rest/webhook", {"sender": sender, "message": text})
    return KNOWN_CONVERSATIONS


@pytest.fixture
def wsgi_app(known_conversations) -> Iterator[Any]:
    """config.wsgi.application, called in-process inside the test's transaction.

    Django closes "old" connections at the start and end of every request; inside a test
    transaction that would close the test's own connection, so (as Django's test client
    does) those two hooks are off while the fuzzer runs. Django's test client turns them
    back on after each of its requests: it must not be used while this fixture is active.
    """
    from config.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="session")
def fuzz_stats() -> Iterator[dict[str, RouteStats]]:
    """Counts per route; written as JSON to $CONVAPI_FUZZ_REPORT (bench/fuzz.sh) at the end."""
    stats: dict[str, RouteStats] = {}
    yield stats
    report = os.environ.get("CONVAPI_FUZZ_REPORT")
    if report:
        write_report(Path(report), stats)
