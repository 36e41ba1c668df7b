"""Where a request's time goes, stage by stage, as a ``Server-Timing`` header.

With ``CONVAPI_SERVER_TIMING`` on, ``convapi.timing`` opens a ``StageClock`` per request and
the code on the turn path marks its stages (``with stage("nlu"): ...``). Stages nest; each
is reported with its own time only (a stage's children are taken out of it), so the
stages of one request add up to its total with nothing counted twice. Without a clock,
``stage()`` costs one context-variable read: the marks stay in the code, always.

Here, beside the metrics, because every layer marks stages and ``jobs/`` is the lowest
Django package; nothing here imports Django.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The stages of a turn, in the order a request meets them (the header keeps this order).
STAGES = (
    "middleware",  # Django's middleware chain, both ways (CORS, idempotency, sessions...)
    "view",  # DRF's dispatch: authentication, permissions, throttles, negotiation
    "body",  # reading, decoding and validating the request body
    "model",  # which model serves: the served-model row, read on every request needing it
    "nlu",  # parsing the user's message
    "lock_wait",  # taking the conversation's lock
    "restore",  # the conversation row, the snapshot and the recent events
    "dialogue",  # the policies' predictions and the actions run
    "serialise",  # the events and the snapshot as JSON for the database
    "write",  # the SQL statements of the turn's transaction
    "commit",  # the transaction's commit
    "lock_release",
    "answer",  # the tracker state an answer carries
    "render",  # the response body as JSON
)


class StageClock:
    """One request's stage times (seconds, each stage's own time without its children)."""

    def __init__(self, now: Callable[[], float] = time.perf_counter) -> None:
        self.now = now
        self.started = now()
        self.own: dict[str, float] = {}
        self._children: list[float] = []  # per open stage: its children's time so far

    def add(self, name: str, seconds: float) -> None:
        """Count ``seconds`` measured outside a ``with stage()`` block (no children)."""
        self.own[name] = self.own.get(name, 0.0) + seconds
        if self._children:
            self._children[-1] += seconds

    def total(self) -> float:
        return self.now() - self.started

    def header(self) -> str:
        """The ``Server-Timing`` value: each stage met, in milliseconds, then the total."""
        known = [name for name in STAGES if name in self.own]
        others = sorted(name for name in self.own if name not in STAGES)
        parts = [f"{name};dur={self.own[name] * 1000:.3f}" for name in known + others]
        parts.append(f"total;dur={self.total() * 1000:.3f}")
        return ", ".join(parts)


_clock: ContextVar[StageClock | None] = ContextVar("convapi_stage_clock", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the block's time, less its nested stages', as stage ``name``."""
    clock = _clock.get()
    if clock is None:
        yield
        return
    clock._children.append(0.0)
    started = clock.now()
    try:
        yield
    finally:
        spent = clock.now() - started
        children = clock._children.pop()
        clock.own[name] = clock.own.get(name, 0.0) + spent - children
        if clock._children:
            clock._children[-1] += spent


def stage_add(name: str, seconds: float) -> None:
    """Count time measured by the caller (a commit timed around a ``with`` exit)."""
    clock = _clock.get()
    if clock is not None:
        clock.add(name, seconds)


@contextmanager
def stages_measured(now: Callable[[], float] = time.perf_counter) -> Iterator[StageClock]:
    """A clock for the block (one request): the stages marked within it count on it."""
    clock = StageClock(now)
    token = _clock.set(clock)
    try:
        yield clock
    finally:
        _clock.reset(token)
