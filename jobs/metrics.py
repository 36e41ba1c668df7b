"""Every Prometheus metric convapi keeps, and the page ``GET /metrics`` answers.

Here, at the bottom of the Django packages, so that conversations, serving and jobs all
record into one set of metrics without importing the HTTP edge. The engine stays free of
them: an action-server call is measured by ``MeasuredActionServer`` around the engine's
client, and a parse by the turn that asked for it.

Under gunicorn every worker writes its own files in ``PROMETHEUS_MULTIPROC_DIR``
(``gunicorn.conf.py`` makes one per server start) and the page adds them up, so one scrape
counts the turns of every worker. A Celery worker given the same folder on the same host is
counted too. Without that variable (``runserver``, the eager quick start, tests) the
metrics are this process's own.

Labels take values from short fixed lists only (a client can send any ``input_channel``),
so a client cannot make the page grow.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.actions.action_server import (
    ActionNotFound,
    ActionServerClient,
    ActionServerError,
    ActionServerRejection,
    DomainNeeded,
)
from engine.errors import ServiceError
from engine.nlu.classifiers import FALLBACK_INTENT

# No ``*_created`` series: the multi-process page has none, so neither has this process's.
disable_created_metrics()

# The input channels of Rasa's connectors; anything else a client names counts as "other".
KNOWN_CHANNELS = frozenset({
    "rest", "callback", "socketio", "botframework", "cmdline", "facebook", "hangouts",
    "mattermost", "rasa", "rocketchat", "slack", "telegram", "twilio", "twilio_voice",
    "webexteams",
})  # fmt: skip

TURN_SECONDS = Histogram(
    "convapi_turn_duration_seconds",
    "A conversation turn from taking the lock to storing its events, by kind of turn "
    "(route) and input channel.",
    ["route", "channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TURNS = Counter(
    "convapi_turns",
    "Conversation turns by kind (route), input channel and outcome: ok, conflict (a 409: the "
    "conversation stayed busy, or moved on under a turn that outlived its lock), failed.",
    ["route", "channel", "outcome"],
)
NLU_FALLBACKS = Counter(
    "convapi_nlu_fallbacks", "User messages of turns understood as nlu_fallback."
)
INTENT_CONFIDENCE = Histogram(
    "convapi_intent_confidence",
    "The classifier's confidence in its best intent, per user message of a turn.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
ACTION_SERVER_CALLS = Counter(
    "convapi_action_server_calls",
    "Calls to the action server by action and outcome: ok, rejected (400), not_found "
    "(404), domain_needed (449, asked again with the domain), error (unreachable, timed "
    "out, 5xx, not JSON).",
    ["action", "outcome"],
)
ACTION_SERVER_SECONDS = Histogram(
    "convapi_action_server_call_duration_seconds",
    "One call to the action server, answered or not.",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOCK_WAIT_SECONDS = Histogram(
    "convapi_lock_wait_duration_seconds",
    "Time a turn waited for its conversation's lock, whether it got it or not.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60),
)
LOCK_TIMEOUTS = Counter(
    "convapi_lock_timeouts",
    "Turns refused with 409 because another turn held the conversation past "
    "CONVAPI_LOCK_TIMEOUT_SECONDS.",
)
JOBS = Counter(
    "convapi_jobs",
    "Jobs finished by kind and outcome: succeeded, failed, or refused (the broker was down).",
    ["kind", "outcome"],
)
JOB_SECONDS = Histogram(
    "convapi_job_duration_seconds",
    "A job's run, from its claim by a worker to its final state, by kind and outcome.",
    ["kind", "outcome"],
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 10800),
)
CALLBACK_ATTEMPTS = Counter(
    "convapi_callback_attempts",
    "POSTs of a job's result to its callback_url by outcome: delivered, retrying (another "
    "attempt follows), undeliverable (the last one).",
    ["outcome"],
)
REMINDERS = Counter(
    "convapi_reminders",
    "Reminders that came due, by outcome: fired, outdated (no longer counts), failed.",
    ["outcome"],
)
MODEL_LOADS = Counter(
    "convapi_model_loads",
    "Model archives loaded by this server, by outcome: ok, failed.",
    ["outcome"],
)
MODEL_LOAD_SECONDS = Histogram(
    "convapi_model_load_duration_seconds",
    "Loading one model archive (fetched from the model store first if needed).",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


# The event outbox's lag, read from the database when the page is scraped (the same for
# every process, so not kept per process). The reader is registered by the app that owns
# the outbox (``trackers/apps.py``): this package does not import it.
OUTBOX_GAUGES = {
    "convapi_outbox_pending": "Events in the outbox not yet published to the event broker.",
    "convapi_outbox_oldest_seconds": "Age of the oldest event not yet published (0: none).",
    "convapi_outbox_set_aside": "Events the event broker refused, kept in the outbox (admin).",
}
OutboxReader = Callable[[], tuple[int, float, int]]


class OutboxCollector(Collector):
    def __init__(self) -> None:
        self.reader: OutboxReader | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.reader is None:
            return
        try:
            values = self.reader()
        except Exception:  # noqa: BLE001 - a database down must not take the page down
            return
        for (name, documentation), value in zip(OUTBOX_GAUGES.items(), values, strict=True):
            yield GaugeMetricFamily(name, documentation, value=value)


OUTBOX = OutboxCollector()
REGISTRY.register(OUTBOX)


def outbox_reader_register(reader: OutboxReader) -> None:
    """``reader`` returns (pending, oldest pending's age in seconds, set aside)."""
    OUTBOX.reader = reader


def metrics_page() -> tuple[bytes, str]:
    """The exposition text and its content type: every process's metrics when they share
    ``PROMETHEUS_MULTIPROC_DIR``, else this process's; and the outbox's, read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(OUTBOX)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def channel_label(input_channel: str | None) -> str:
    if not input_channel:
        return "none"
    return input_channel if input_channel in KNOWN_CHANNELS else "other"


@contextmanager
def turn_measured(*, route: str, input_channel: str | None = None) -> Iterator[None]:
    """Count and time the turn in the block; a 409 counts as ``conflict``, any error as
    ``failed``."""
    channel = channel_label(input_channel)
    started = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "ok"
    except ServiceError as exc:
        outcome = "conflict" if exc.status == 409 else "failed"
        raise
    finally:
        TURN_SECONDS.labels(route, channel).observe(time.perf_counter() - started)
        TURNS.labels(route, channel, outcome).inc()


def parse_observed(parse_data: dict[str, Any]) -> None:
    """The intent confidence of a turn's user message, and whether NLU fell back.

    On a fallback the intent's confidence is the threshold; the classifier's own best guess
    is the first other intent of the ranking.
    """
    intent = parse_data.get("intent") or {}
    if intent.get("name") == FALLBACK_INTENT:
        NLU_FALLBACKS.inc()
    ranked = [r for r in parse_data.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
    best = ranked[0] if ranked else intent
    confidence = best.get("confidence")
    if isinstance(confidence, int | float):
        INTENT_CONFIDENCE.observe(confidence)


@contextmanager
def lock_wait_measured() -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        LOCK_WAIT_SECONDS.observe(time.perf_counter() - started)


@contextmanager
def model_load_measured() -> Iterator[None]:
    started = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "ok"
    finally:
        MODEL_LOAD_SECONDS.observe(time.perf_counter() - started)
        MODEL_LOADS.labels(outcome).inc()


def job_finished(*, kind: str, outcome: str, seconds: float | None) -> None:
    JOBS.labels(kind, outcome).inc()
    if seconds is not None:
        JOB_SECONDS.labels(kind, outcome).observe(seconds)


def _action_outcome(exc: ActionServerError) -> str:
    if isinstance(exc, ActionServerRejection):
        return "rejected"
    if isinstance(exc, ActionNotFound):
        return "not_found"
    if isinstance(exc, DomainNeeded):
        return "domain_needed"
    return "error"


class MeasuredActionServer:
    """An action-server client that counts and times every call of the one it wraps."""

    def __init__(self, server: ActionServerClient) -> None:
        self.server = server
        self.endpoint = server.endpoint

    def call(self, payload: dict) -> dict:
        action = str(payload.get("next_action", ""))
        started = time.perf_counter()
        outcome = "error"
        try:
            answer = self.server.call(payload)
            outcome = "ok"
            return answer
        except ActionServerError as exc:
            outcome = _action_outcome(exc)
            raise
        finally:
            ACTION_SERVER_SECONDS.labels(action).observe(time.perf_counter() - started)
            ACTION_SERVER_CALLS.labels(action, outcome).inc()
