"""The loaded assistant: one process-wide holder, swapped atomically.

A request takes the current assistant once and uses that object to the end, so a
model swap never mixes two models in one request.

``PUT /model`` and ``DELETE /model`` record the choice in the database (a ``ServedModel``
row naming a stored archive, with a new choice token each time). Every request that needs
the model compares that token with the one this process loaded (one primary-key read) and
follows at once when it changed, fetching the archive from the store (serving/archives.py)
into this host's cache: once a swap has answered, every worker of every host serves it.

At first use a process puts the archive ``CONVAPI_MODEL`` names into the store and chooses
it, unless a model was chosen before (so the one-command set-up needs nothing else).

The processor that runs turns on a model (its response renderer and action-server
client) is built here too, once per model and endpoints file.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from engine.actions.action_server import HttpActionServer
from engine.archive import read_archive_metadata
from engine.domain import Domain
from engine.endpoints import Endpoints, read_endpoints
from engine.errors import ModelLoadError, no_model_loaded
from engine.event_brokers import EventBroker
from engine.model import Model, load_model
from engine.processor import MessageProcessor
from engine.tracker import TrackerContext
from engine.training import newest_archive
from jobs.log_context import request_id_headers
from jobs.metrics import MeasuredActionServer, model_load_measured
from jobs.stages import stage
from serving.archives import ModelStoreUnavailable, archive_fetch, archive_put
from serving.models import ModelArchive
from serving.served import served_model_choice, served_model_choose_first, served_model_get

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


def _new_lock_in_child() -> None:
    """A job's forked child (jobs/limits.py) starts with one thread: a lock another thread
    of the parent held at the fork would never be released there."""
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)
_current: Assistant | None = None
_configured = False
# The ServedModel choice this process serves ("" until it follows one).
_choice = ""


def current_assistant() -> Assistant | None:
    if not _configured:
        _configure()
    _follow_served_model()
    return _current


def _configure() -> None:
    global _configured
    with _lock:
        if _configured:
            return
        try:
            _store_configured_model()
        except (DatabaseError, RuntimeError, ModelStoreUnavailable) as exc:
            # No database yet (or a test without one): the next request tries again.
            logger.warning("Could not store CONVAPI_MODEL=%s yet: %s", settings.CONVAPI_MODEL, exc)
            return
        _configured = True


def _store_configured_model() -> None:
    path = model_path(settings.CONVAPI_MODEL) if settings.CONVAPI_MODEL else None
    if path is None:
        logger.info("No model at CONVAPI_MODEL=%s", settings.CONVAPI_MODEL)
        return
    try:
        metadata = read_archive_metadata(path)
    except ModelLoadError as exc:
        logger.error("Could not load the model %s: %s", path, exc)
        return
    archive = archive_put(path=path, name=path.name, metadata=metadata)
    served_model_choose_first(sha256=archive.sha256)


def _follow_served_model() -> None:
    """Serve the model chosen last, whichever process chose it (one primary-key read)."""
    try:
        with stage("model"):
            choice = served_model_choice()
    except (DatabaseError, RuntimeError):
        return  # no database (down, or a test without one): keep what we serve
    if not choice or choice == _choice:
        return
    with _lock:
        try:
            _load_chosen_model()
        except (DatabaseError, ModelStoreUnavailable) as exc:
            # Left unfollowed: the next request tries again.
            logger.warning("Could not fetch the chosen model yet: %s", exc)


def _load_chosen_model() -> None:
    global _choice, _current
    # Read again under the lock: a newer choice may have landed meanwhile.
    chosen = served_model_get()
    if chosen is None or chosen.choice == _choice:
        return
    if chosen.archive is None:
        _current = None
    else:
        try:
            _current = assistant_from_archive(chosen.archive)
        except ModelLoadError as exc:  # an archive this host cannot load: keep what we serve
            logger.error("Could not load the chosen model %s: %s", chosen.archive, exc)
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

    The endpoints file is read first: a bad one stops the server at start (ConfigError),
    and its warning about ignored sections is said once, before the workers are forked.
    """
    configured_endpoints()
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


def assistant_from_archive(archive: ModelArchive) -> Assistant:
    """Load a stored archive from this host's cache (fetched from the store first if needed)."""
    with model_load_measured():
        return assistant_from_model(load_model(archive_fetch(archive)))


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


# Set by ``manage.py serve`` once it has said the warning, for the processes it starts.
ENDPOINTS_WARNED = "CONVAPI_ENDPOINTS_WARNED"


@cache
def _endpoints_from(path: str) -> Endpoints:
    endpoints = read_endpoints(path or None)
    # Read once per process and path, so said once per start, not once per request (and
    # not once per gunicorn worker: the master reads it in ``warm_up`` before forking).
    warning = endpoints.ignored_warning()
    if warning and not os.environ.get(ENDPOINTS_WARNED):
        logger.warning("CONVAPI_ENDPOINTS=%s: %s", path, warning)
    return endpoints


def configured_endpoints() -> Endpoints:
    """``CONVAPI_ENDPOINTS``, read once per path (as ``rasa run --endpoints`` does)."""
    return _endpoints_from(settings.CONVAPI_ENDPOINTS)


def configured_event_broker() -> EventBroker | None:
    """The ``event_broker`` of CONVAPI_ENDPOINTS (cached: asking costs a turn nothing)."""
    return configured_endpoints().event_broker


_processors: dict[tuple[int, str], MessageProcessor] = {}


def processor_for(model: Model) -> MessageProcessor:
    """One processor per loaded model and endpoints (it holds the renderer and action client)."""
    key = (id(model), settings.CONVAPI_ENDPOINTS)
    processor = _processors.get(key)
    if processor is None or processor.model is not model:
        _processors.clear()
        processor = _processors[key] = MessageProcessor(model, action_server=_action_server())
    return processor


def _action_server() -> MeasuredActionServer | None:
    """The configured action server's client: each call counted and timed, and sent with
    the request id of the turn that makes it (``X-Request-ID``)."""
    endpoint = configured_endpoints().action_endpoint
    if endpoint is None:
        return None
    return MeasuredActionServer(HttpActionServer(endpoint, call_headers=request_id_headers))


def require_model(assistant: Assistant) -> Model:
    """The assistant's trained model, or Rasa's 409: a domain alone cannot parse or predict."""
    if assistant.model is None:
        raise no_model_loaded()
    return assistant.model
