"""The socket.io channel's output: Rasa's message shapes, and pushes from any process.

A bot message becomes one or more ``bot_message_evt`` payloads, as Rasa 3.x's
``SocketIOOutput`` sends them (API.md 14.2). They are emitted to the room named after the
conversation id: the session id with ``session_persistence`` (every socket of that session
joined it), else the socket's own sid (each socket is in a room of its own name).

``socketio_deliver`` is the channel's push deliverer (``trackers.outputs``): a reminder
firing in a Celery worker, or ``/trigger_intent`` answered by another web worker, reaches
the socket wherever it is connected through Redis (``CONVAPI_SOCKETIO_REDIS_URL``, a
write-only ``socketio.RedisManager``). Without Redis only the sockets of this process can
be reached, through the server running here (``local_emitter_set``), if there is one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import socketio
from django.conf import settings

from convapi.credentials import SocketIOSettings, configured_credentials

logger = logging.getLogger(__name__)

SOCKETIO_CHANNEL = "socketio"

# (event, namespace, room, payloads): emits through the socket.io server of this process.
LocalEmitter = Callable[[str, str, str, list[Any]], None]

_local_emitter: LocalEmitter | None = None
_managers: dict[tuple[int, str], socketio.RedisManager] = {}


def socketio_messages(messages: Iterable[dict]) -> list[Any]:
    """The payloads Rasa's ``SocketIOOutput.send_response`` emits for ``messages``.

    Takes a bot utterance's message (``BotUttered.message()``) or the REST channel's shape
    (a pushed message: already split, ``elements`` already made text and buttons).
    """
    payloads: list[Any] = []
    for message in messages:
        payloads.extend(_payloads(message))
    return payloads


def _payloads(message: dict) -> list[Any]:
    text = message.get("text")
    buttons = message.get("quick_replies") or message.get("buttons")
    out: list[Any] = []
    if buttons:
        out.extend(_with_quick_replies(text or "", buttons))
    elif text:
        out.extend({"text": part} for part in text.strip().split("\n\n"))
    if message.get("custom"):
        out.append(_custom(message["custom"]))
    if message.get("image"):
        out.append({"attachment": {"type": "image", "payload": {"src": message["image"]}}})
    if message.get("attachment"):
        out.append({"attachment": message["attachment"]})
    for element in message.get("elements") or []:
        # One generic template per element, its "elements" the element itself: Rasa's shape.
        template = {"template_type": "generic", "elements": element}
        out.append({"attachment": {"type": "template", "payload": template}})
    return out


def _with_quick_replies(text: str, buttons: list) -> list[dict]:
    """One message per paragraph; the buttons go with the last one."""
    parts = [{"text": part, "quick_replies": []} for part in text.strip().split("\n\n")]
    parts[-1]["quick_replies"] = [
        {"content_type": "text", "title": button.get("title"), "payload": button.get("payload")}
        for button in buttons
        if isinstance(button, dict)
    ]
    return parts


def _custom(custom: Any) -> Any:
    # Rasa emits ``sio.emit(event, **custom)``: the payload is the custom JSON's "data"
    # (a custom message without it fails there). Without "data" it is sent as given.
    if isinstance(custom, dict) and "data" in custom:
        return custom["data"]
    return custom


def socketio_deliver(sender_id: str, messages: list[dict]) -> None:
    """Push ``messages`` to conversation ``sender_id``'s sockets, from any process."""
    channel = configured_credentials().socketio
    if channel is None:
        return
    payloads = socketio_messages(messages)
    namespace = socketio_namespace(channel)
    url = settings.CONVAPI_SOCKETIO_REDIS_URL
    if url:
        manager = _write_only_manager(url)
        for payload in payloads:
            manager.emit(channel.bot_message_evt, payload, room=sender_id, namespace=namespace)
    elif _local_emitter is not None:
        _local_emitter(channel.bot_message_evt, namespace, sender_id, payloads)
    else:
        logger.warning(
            "Dropped %d message(s) for socket.io conversation '%s': no socket.io server runs "
            "in this process and CONVAPI_SOCKETIO_REDIS_URL is not set",
            len(payloads),
            sender_id,
        )


def socketio_namespace(channel: SocketIOSettings) -> str:
    """The namespace the channel's events live in (``/`` when none is configured)."""
    namespace = channel.namespace or "/"
    return namespace if namespace.startswith("/") else f"/{namespace}"


def local_emitter_set(emitter: LocalEmitter | None) -> None:
    """The socket.io server of this process, for pushes when there is no Redis."""
    global _local_emitter
    _local_emitter = emitter


def _write_only_manager(url: str) -> socketio.RedisManager:
    # One per process: a Redis connection opened before a fork must not be shared.
    key = (os.getpid(), url)
    if key not in _managers:
        _managers[key] = socketio.RedisManager(url, write_only=True, logger=logger)
    return _managers[key]
