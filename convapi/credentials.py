"""``credentials.yml``: which input channels are open, with Rasa's keys (API.md 14.1).

``CONVAPI_CREDENTIALS`` names the file (``serve --credentials`` sets it); unset, the
project's own ``credentials.yml`` is read, as ``rasa run`` reads the one beside it. The
``rest``, ``socketio`` and ``callback`` sections are honoured; any other channel is named
in one warning at start. Channel routes are never guarded by the API's token.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from engine.config import read_yaml
from engine.endpoints import interpolate_env
from engine.errors import ConfigError

logger = logging.getLogger(__name__)

HONOURED = ("rest", "socketio", "callback")
# Set by ``manage.py serve`` once it has said the warning, for the server it becomes.
CREDENTIALS_WARNED = "CONVAPI_CREDENTIALS_WARNED"


@dataclass(frozen=True)
class SocketIOSettings:
    """The ``socketio`` section, with Rasa 3.x's defaults."""

    user_message_evt: str = "user_uttered"
    bot_message_evt: str = "bot_uttered"
    session_persistence: bool = False
    socketio_path: str = "/socket.io"
    namespace: str | None = None
    metadata_key: str = "metadata"
    jwt_key: str | None = None
    jwt_method: str = "HS256"


@dataclass(frozen=True)
class CallbackSettings:
    """The ``callback`` section: where the bot's messages are POSTed."""

    url: str


@dataclass(frozen=True)
class Credentials:
    rest: bool = True
    socketio: SocketIOSettings | None = None
    callback: CallbackSettings | None = None
    ignored: tuple[str, ...] = ()
    source: str | None = None


def credentials_from_yaml(text: str, *, source: str | None = None) -> Credentials:
    where = source or "credentials"
    data = read_yaml(interpolate_env(text, source), source=source, error=ConfigError) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping of channel names to their settings.")
    sections = {str(name): _mapping(value, f"{where}: '{name}'") for name, value in data.items()}
    return Credentials(
        rest="rest" in sections,
        socketio=_socketio(sections["socketio"], where) if "socketio" in sections else None,
        callback=_callback(sections["callback"], where) if "callback" in sections else None,
        ignored=tuple(name for name in sections if name not in HONOURED),
        source=source,
    )


def read_credentials(path: str | Path | None) -> Credentials:
    """The channels a file opens; no file opens the REST channel alone."""
    if not path:
        return Credentials()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"CONVAPI_CREDENTIALS={path}: no such file.")
    return credentials_from_yaml(path.read_text(encoding="utf-8"), source=str(path))


@functools.cache
def _credentials_at(path: str) -> Credentials:
    credentials = read_credentials(path or None)
    if credentials.ignored and not os.environ.get(CREDENTIALS_WARNED):
        logger.warning(
            "%s: the channel(s) %s are not supported and stay closed; convapi serves %s.",
            credentials.source,
            ", ".join(credentials.ignored),
            ", ".join(HONOURED),
        )
    return credentials


def configured_credentials() -> Credentials:
    """The channels ``CONVAPI_CREDENTIALS`` opens, read once per path."""
    return _credentials_at(settings.CONVAPI_CREDENTIALS)


def channel_open(name: str) -> bool:
    """Whether ``credentials.yml`` opens the input channel ``name``."""
    credentials = configured_credentials()
    return {
        "rest": credentials.rest,
        "socketio": credentials.socketio is not None,
        "callback": credentials.callback is not None,
    }.get(name, False)


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of settings (or empty).")
    return value


def _socketio(section: dict, where: str) -> SocketIOSettings:
    defaults = SocketIOSettings()
    text = functools.partial(_text, section, where=f"{where}: 'socketio")
    path = text("socketio_path", defaults.socketio_path)
    if not path.startswith("/"):
        raise ConfigError(f"{where}: 'socketio.socketio_path' must start with '/'.")
    persistence = section.get("session_persistence", False)
    if not isinstance(persistence, bool):
        raise ConfigError(f"{where}: 'socketio.session_persistence' must be true or false.")
    return SocketIOSettings(
        user_message_evt=text("user_message_evt", defaults.user_message_evt),
        bot_message_evt=text("bot_message_evt", defaults.bot_message_evt),
        session_persistence=persistence,
        socketio_path=path.rstrip("/") or "/",
        namespace=text("namespace", None),
        metadata_key=text("metadata_key", defaults.metadata_key),
        jwt_key=text("jwt_key", None),
        jwt_method=text("jwt_method", defaults.jwt_method),
    )


def _callback(section: dict, where: str) -> CallbackSettings:
    url = section.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: 'callback' needs a 'url' (http:// or https://).")
    return CallbackSettings(url=url)


def _text(section: dict, key: str, default: str | None, *, where: str) -> str | None:
    value = section.get(key, default)
    if value is None or isinstance(value, str) and value:
        return value
    raise ConfigError(f"{where}.{key}' must be a non-empty string.")
