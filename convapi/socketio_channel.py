"""The socket.io input channel (API.md 14.2), compatible with Rasa 3.x's ``socketio``.

A python-socketio ``AsyncServer`` answers at ``socketio_path`` on the ASGI entry point
(``config/asgi.py``); every other request goes to Django, served as WSGI by a pool of
threads (``a2wsgi``). A user message runs the same locked turn as the REST channel
(``trackers.turns.conversation_message``, input channel ``socketio``) on a thread of that
pool, never on the event loop: a turn blocks on the database, the lock and the action
server. The bot's messages are then emitted to the conversation's room
(``convapi/socketio_output.py``).

With ``CONVAPI_SOCKETIO_REDIS_URL`` the server's rooms are shared through Redis
(``AsyncRedisManager``), so an emit from any worker or host reaches the socket wherever it
is connected. The polling transport needs every request of one session on one process
(sticky sessions); the websocket transport is one connection and needs nothing.

Bad input from a client is dropped with a log line, as Rasa would fail on it, and never
reaches the turn: nothing of it is stored.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

import socketio
from django.conf import settings
from django.db import close_old_connections

from convapi.auth import AuthConfig, decode_jwt
from convapi.converters import conversation_id_error
from convapi.credentials import SocketIOSettings
from convapi.socketio_output import (
    SOCKETIO_CHANNEL,
    local_emitter_set,
    socketio_messages,
    socketio_namespace,
)
from engine.errors import EngineError, ServiceError
from engine.events import BotUttered
from jobs.log_context import log_context
from serving.holder import current_assistant
from trackers import turns

logger = logging.getLogger(__name__)

HEALTH_PATHS = ("/webhooks/socketio", "/webhooks/socketio/")
# A turn refused for now (a busy conversation, the lock store down) stored nothing; no
# client waits on an HTTP answer to retry it, so the channel retries it itself.
TURN_ATTEMPTS = 3
PUSH_WAIT_SECONDS = 10
# How long a starting worker waits for its Redis subscription (socket.io rooms shared).
REDIS_SUBSCRIBE_WAIT_SECONDS = 5

Asgi = Callable[[dict, Callable, Callable], Awaitable[None]]


class SocketIOChannel:
    """The channel's server: its event handlers and the thread pool its turns run on."""

    def __init__(self, channel: SocketIOSettings, *, executor: Executor) -> None:
        self.channel = channel
        self.namespace = socketio_namespace(channel)
        self.executor = executor
        self.loop: asyncio.AbstractEventLoop | None = None
        url = settings.CONVAPI_SOCKETIO_REDIS_URL
        self.redis_manager = socketio.AsyncRedisManager(url) if url else None
        self.server = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=self.redis_manager,
            cors_allowed_origins=origin_allowed,
            cors_credentials=True,
        )
        for event, handler in (
            ("connect", self.connect),
            ("session_request", self.session_request),
            (channel.user_message_evt, self.user_message),
        ):
            self.server.on(event, handler, namespace=self.namespace)

    async def started(self) -> None:
        """In each worker, once its loop runs: pushes without Redis go through this server.

        The manager was made in gunicorn's master (``preload_app``), so every worker forked
        from it would carry the same ``host_id``, and a worker drops the Redis messages of
        the host it takes for itself: each worker gets its own before its first socket.
        """
        self.loop = asyncio.get_running_loop()
        if self.redis_manager is not None:
            self.redis_manager.host_id = uuid.uuid4().hex
            await self._subscribe_to_redis()
        local_emitter_set(self.emit_from_thread)

    async def _subscribe_to_redis(self) -> None:
        """Listen to Redis before the first socket comes, not on its arrival (python-socketio
        starts the listener then): Redis keeps no pub/sub message, so a push published
        before the subscription would be lost. Bounded: with Redis down the worker starts
        anyway, and the listener keeps retrying."""
        self.server.manager_initialized = True
        self.server.manager.initialize()
        deadline = time.monotonic() + REDIS_SUBSCRIBE_WAIT_SECONDS
        while not self._subscribed() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if not self._subscribed():
            logger.warning("socket.io: not subscribed to Redis yet; pushes may be lost until it is")

    def _subscribed(self) -> bool:
        pubsub = getattr(self.redis_manager, "pubsub", None)
        return bool(pubsub is not None and pubsub.subscribed)

    async def connect(self, sid: str, environ: dict, auth: Any = None) -> bool:
        """With ``jwt_key``, a socket without a valid token in its ``auth`` is refused."""
        if not self.channel.jwt_key:
            return True
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not self._token_valid(token):
            logger.info("Refused socket.io connection %s: no valid token in its auth", sid)
            return False
        return True

    def _token_valid(self, token: str) -> bool:
        config = AuthConfig(
            token="",
            jwt_secret=self.channel.jwt_key or "",
            jwt_method=self.channel.jwt_method,
            jwt_audience="",
        )
        return decode_jwt(token.replace("Bearer ", ""), config) is not None

    async def session_request(self, sid: str, data: Any = None) -> None:
        """Confirm the session id (a new one when none is given); join its room if kept."""
        data = {} if data is None else data
        if not isinstance(data, dict):
            logger.warning("Ignored a session_request from %s: its data is not an object", sid)
            return
        session_id = data.get("session_id")
        if session_id is None:
            session_id = uuid.uuid4().hex
        if not _usable_id(session_id):
            logger.warning("Ignored a session_request from %s: bad session_id", sid)
            return
        if self.channel.session_persistence:
            await self.server.enter_room(sid, session_id, namespace=self.namespace)
        await self.server.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

    async def user_message(self, sid: str, data: Any = None) -> None:
        """One user message: the turn on a pool thread, then the bot's messages to the room."""
        message = self._message(sid, data)
        if message is None:
            return
        sender_id, text, metadata = message
        work = functools.partial(socketio_turn, sender_id=sender_id, text=text, metadata=metadata)
        try:
            bot_messages = await asyncio.get_running_loop().run_in_executor(self.executor, work)
        except Exception:
            logger.exception("The socket.io turn of conversation '%s' failed", sender_id)
            return
        for payload in socketio_messages(bot_messages):
            await self.server.emit(
                self.channel.bot_message_evt, payload, room=sender_id, namespace=self.namespace
            )

    def _message(self, sid: str, data: Any) -> tuple[str, str, dict | None] | None:
        """(conversation id, text, metadata) of a message, or None (logged) to drop it."""
        if not isinstance(data, dict):
            return _dropped(sid, "its data is not an object")
        if self.channel.session_persistence:
            sender_id = data.get("session_id")
            if not sender_id:
                logger.warning(
                    "A message without a valid session_id was received from %s and ignored: "
                    "send a session_request first and put its session_id in every message",
                    sid,
                )
                return None
            if not _usable_id(sender_id):
                return _dropped(sid, "its session_id is not a usable conversation id")
        else:
            sender_id = sid
        text = data.get("message", "")
        if not isinstance(text, str):
            return _dropped(sid, "'message' is not a string")
        limit = settings.CONVAPI_MAX_MESSAGE_CHARS
        if limit and len(text) > limit:
            return _dropped(sid, f"'message' is longer than CONVAPI_MAX_MESSAGE_CHARS ({limit})")
        metadata = data.get(self.channel.metadata_key)
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                return _dropped(sid, f"'{self.channel.metadata_key}' is not valid JSON")
        if metadata is not None and not isinstance(metadata, dict):
            return _dropped(sid, f"'{self.channel.metadata_key}' is not an object")
        return sender_id, text, metadata

    def emit_from_thread(self, event: str, namespace: str, room: str, payloads: list) -> None:
        """Emit ``payloads`` from a thread of this process (a push without Redis)."""
        if self.loop is None or self.loop.is_closed():
            logger.warning("Dropped %d socket.io message(s): the server is stopped", len(payloads))
            return

        async def emit_all() -> None:
            for payload in payloads:
                await self.server.emit(event, payload, room=room, namespace=namespace)

        future = asyncio.run_coroutine_threadsafe(emit_all(), self.loop)
        future.result(timeout=PUSH_WAIT_SECONDS)


def socketio_turn(*, sender_id: str, text: str, metadata: dict | None) -> list[dict]:
    """The REST channel's turn for a socket's message; the bot's messages as uttered.

    Runs on a pool thread, which keeps its database connection between turns as a request
    thread does: it is checked before and after, like Django does around a request.
    """
    close_old_connections()
    try:
        with log_context(conversation_id=sender_id):
            assistant = current_assistant()
            if assistant is None or assistant.model is None:
                return []  # as the REST channel answers without a model
            turn = _turn_retried(
                sender_id=sender_id, text=text, metadata=metadata, assistant=assistant
            )
    finally:
        close_old_connections()
    return [event.message() for event in turn.result.events if isinstance(event, BotUttered)]


def _turn_retried(**message: Any) -> turns.Turn:
    for attempt in range(1, TURN_ATTEMPTS + 1):
        try:
            return turns.conversation_message(**message, input_channel=SOCKETIO_CHANNEL)
        except ServiceError as exc:
            retry_after = (exc.headers or {}).get("Retry-After")
            if retry_after is None or attempt == TURN_ATTEMPTS:
                raise
            time.sleep(float(retry_after))
        except EngineError:
            raise
    raise AssertionError("unreachable")


def origin_allowed(origin: str | None, environ: dict) -> bool:
    """socket.io's CORS: the server's own origin, and those of ``CONVAPI_CORS_ORIGINS``."""
    if origin is None:
        return True  # not a browser's cross-origin request
    allowed = settings.CONVAPI_CORS_ORIGINS
    if "*" in allowed or origin in allowed:
        return True
    own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
    return origin == own


def _usable_id(conversation_id: Any) -> bool:
    return (
        isinstance(conversation_id, str)
        and bool(conversation_id)
        and conversation_id_error(conversation_id) is None
    )


def _dropped(sid: str, why: str) -> None:
    logger.warning("Dropped a socket.io message from %s: %s", sid, why)
    return None


def with_socketio(django: Asgi, channel: SocketIOChannel) -> Asgi:
    """``django`` with the channel at its ``socketio_path`` and its health route."""

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"] in HEALTH_PATHS:
            await _json_ok(send)
        else:
            await django(scope, receive, send)

    return socketio.ASGIApp(
        channel.server,
        other_asgi_app=app,
        socketio_path=channel.channel.socketio_path,
        on_startup=channel.started,
    )


async def _json_ok(send: Callable) -> None:
    body = json.dumps({"status": "ok"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
