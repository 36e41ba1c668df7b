"""The loaded assistant: one process-wide holder, swapped atomically.

A request takes the current assistant once and uses that object to the end, so a
model swap never mixes two models in one request. Each process loads the model named
by ``CONVAPI_MODEL`` lazily, on first use, so every gunicorn worker serves it.

``PUT /model`` and ``DELETE /model`` record the choice in the database (a ``ServedModel``
row with a new choice token each time); every process compares that token with the one
it loaded, at most every ``CONVAPI_MODEL_CHECK_SECONDS``, and follows when it changed.

The processor that runs turns on a model (its response renderer and action-server
client) is built here too, once per model and endpoints file.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from engine.domain import Domain
from engine.endpoints import Endpoints, read_endpoints
from engine.errors import EngineError, no_model_loaded
from engine.model import Model, load_model
from engine.processor import MessageProcessor
from engine.tracker import TrackerContext
from engine.training import newest_archive
from serving.served import served_model_get

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assistant:
    domain: Domain
    model_id: str | None = None
    assistant_id: str | None = None
    file_name: str | None = None
    model: Model | None = None

    def tracker_context(self) -> TrackerContext:
        metadata: dict[str, Any] = {}
        if self.model_id:
            metadata = {"model_id": self.model_id, "assistant_id": self.assistant_id}
        return TrackerContext(
            slot_defaults=self.domain.slot_defaults(),
            carry_over_slots=self.domain.carry_over_slots,
            event_metadata=metadata,
        )


_lock = threading.Lock()
_current: Assistant | None = None
_configured = False
# The ServedModel choice this process serves, and when it last compared it.
_choice = ""
_checked_at = float("-inf")


def current_assistant() -> Assistant | None:
    global _current, _configured
    if not _configured:
        with _lock:
            if not _configured:
                _current = _assistant_from_settings()
                _configured = True
    _follow_served_model()
    return _current


def _follow_served_model() -> None:
    """Load the model another process chose since we last looked (one indexed read)."""
    global _checked_at, _choice, _current
    now = time.monotonic()
    if now - _checked_at < settings.CONVAPI_MODEL_CHECK_SECONDS:
        return
    _checked_at = now
    try:
        chosen = served_model_get()
    except (DatabaseError, RuntimeError):
        return  # no database (yet, or in a test that has none): keep what we serve
    if chosen is None or chosen.choice == _choice:
        return
    with _lock:
        if chosen.choice == _choice:
            return
        loaded = _assistant_from_path(chosen.path) if chosen.path else None
        if loaded is not None or not chosen.path:
            _current = loaded  # an archive this host cannot read leaves the old model served
        _choice = chosen.choice


def require_assistant() -> Assistant:
    """The loaded assistant, or Rasa's 409 for routes that need a model."""
    assistant = current_assistant()
    if assistant is None:
        raise no_model_loaded()
    return assistant


def assistant_set(assistant: Assistant | None, *, choice: str | None = None) -> None:
    """Serve ``assistant`` here; ``choice`` is the ServedModel choice it corresponds to."""
    global _current, _configured, _choice
    with _lock:
        _current = assistant
        _configured = True
        if choice is not None:
            _choice = choice
    if gc.get_freeze_count():  # a warmed-up server process: the new model lives long too
        _freeze_long_lived_objects()


def warm_up() -> None:
    """Load the served model as a web worker starts, then freeze what lives as long as it.

    The first request no longer pays for loading the model; and the cyclic garbage
    collector, which would otherwise walk Django and the whole model on every full
    collection, pausing whichever turn holds a conversation's lock, skips them.
    """
    try:
        current_assistant()
    except Exception:  # noqa: BLE001 - the database may be down: the first request retries
        logger.warning("Could not load the model at start; the first request will try again")
    _freeze_long_lived_objects()


def _freeze_long_lived_objects() -> None:
    gc.unfreeze()  # a replaced model's objects become collectable again
    gc.collect()
    gc.freeze()


def assistant_from_domain_file(path: str | Path) -> Assistant:
    """An assistant that knows only a domain: enough for every tracker route."""
    return Assistant(domain=Domain.load(path))


def assistant_from_model(model: Model) -> Assistant:
    return Assistant(
        domain=model.domain,
        model_id=model.model_id,
        assistant_id=model.metadata.get("assistant_id"),
        file_name=model.file_name,
        model=model,
    )


def model_path(configured: str | Path) -> Path | None:
    """An archive path, or the newest archive in a folder (as ``rasa run -m`` takes)."""
    path = Path(configured)
    return newest_archive(path) if path.is_dir() else (path if path.is_file() else None)


def _assistant_from_settings() -> Assistant | None:
    path = model_path(settings.CONVAPI_MODEL) if settings.CONVAPI_MODEL else None
    if path is None:
        logger.info("No model at CONVAPI_MODEL=%s; serving without one.", settings.CONVAPI_MODEL)
        return None
    return _assistant_from_path(path)


def _assistant_from_path(path: str | Path) -> Assistant | None:
    try:
        return assistant_from_model(load_model(path))
    except EngineError as exc:
        logger.error("Could not load the model %s: %s", path, exc)
        return None


@cache
def _endpoints_from(path: str) -> Endpoints:
    return read_endpoints(path or None)


def configured_endpoints() -> Endpoints:
    """``CONVAPI_ENDPOINTS``, read once per path (as ``rasa run --endpoints`` does)."""
    return _endpoints_from(settings.CONVAPI_ENDPOINTS)


_processors: dict[tuple[int, str], MessageProcessor] = {}


def processor_for(model: Model) -> MessageProcessor:
    """One processor per loaded model and endpoints (it holds the renderer and action client)."""
    key = (id(model), settings.CONVAPI_ENDPOINTS)
    processor = _processors.get(key)
    if processor is None or processor.model is not model:
        _processors.clear()
        endpoint = configured_endpoints().action_endpoint
        processor = _processors[key] = MessageProcessor(model, action_endpoint=endpoint)
    return processor


def require_model(assistant: Assistant) -> Model:
    """The assistant's trained model, or Rasa's 409: a domain alone cannot parse or predict."""
    if assistant.model is None:
        raise no_model_loaded()
    return assistant.model
