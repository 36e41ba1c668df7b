"""``endpoints.yml``: where custom actions and new models come from (API.md sections 9 and 10),
and where events go (``event_broker``, section 14.4; read by ``engine/event_brokers.py``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import read_yaml
from engine.errors import ConfigError
from engine.event_brokers import EventBroker, event_broker_from_section

DEFAULT_ACTION_TIMEOUT = 300.0
DEFAULT_PULL_INTERVAL = 100.0
_ENV_VAR = re.compile(r"\$\{([^}]+)\}")
USED_SECTIONS = ("action_endpoint", "models", "event_broker")
# Sections Rasa reads that convapi has no use for, and why.
UNUSED_BECAUSE = {
    "tracker_store": "the database is the tracker store",
    "lock_store": "the database (or CONVAPI_LOCK_STORE) is the lock store",
}
NOT_SUPPORTED = "not supported"


@dataclass
class ActionEndpoint:
    """The custom action server (``action_endpoint``)."""

    url: str
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    enable_selective_domain: bool = False
    timeout: float = DEFAULT_ACTION_TIMEOUT


@dataclass
class ModelServerEndpoint:
    """The model server (``models``) pulled every ``wait_time_between_pulls`` seconds."""

    url: str
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    wait_time_between_pulls: float | None = DEFAULT_PULL_INTERVAL


@dataclass
class Endpoints:
    action_endpoint: ActionEndpoint | None = None
    models: ModelServerEndpoint | None = None
    event_broker: EventBroker | None = None
    # Sections read but not used, each with the reason (for the one warning at start).
    ignored: dict[str, str] = field(default_factory=dict)

    def ignored_warning(self) -> str | None:
        """One line naming every section convapi ignores and why; None when none is."""
        if not self.ignored:
            return None
        reasons = "; ".join(f"{name} ({why})" for name, why in self.ignored.items())
        return f"ignoring {reasons}."


def read_endpoints(path: str | Path | None) -> Endpoints:
    """Read an endpoints file; a missing path gives no endpoints (as ``rasa run`` does)."""
    if path is None or not Path(path).is_file():
        return Endpoints()
    return endpoints_from_yaml(Path(path).read_text(encoding="utf-8"), source=str(path))


def endpoints_from_yaml(text: str, *, source: str | None = None) -> Endpoints:
    data = read_yaml(interpolate_env(text, source), source=source, error=ConfigError) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source or 'endpoints'}: must be a mapping of endpoint names.")
    return Endpoints(
        action_endpoint=_action_endpoint(data.get("action_endpoint"), source),
        models=_model_endpoint(data.get("models"), source),
        event_broker=event_broker_from_section(data.get("event_broker"), source),
        ignored={
            str(name): UNUSED_BECAUSE.get(str(name), NOT_SUPPORTED)
            for name in data
            if name not in USED_SECTIONS
        },
    )


def interpolate_env(text: str, source: str | None = None) -> str:
    """Replace ``${VAR}`` with the environment's value; an unset variable is an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{source or 'endpoints'}: environment variable '{name}' is not set.")
        return os.environ[name]

    return _ENV_VAR.sub(value, text)


def _section(raw: Any, key: str, source: str | None) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        raise ConfigError(f"{source or 'endpoints'}: '{key}' needs a 'url'.")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict):
        raise ConfigError(f"{source or 'endpoints'}: '{key}.headers' must be a mapping.")
    return {**raw, "headers": {str(k): str(v) for k, v in headers.items()}}


def _action_endpoint(raw: Any, source: str | None) -> ActionEndpoint | None:
    section = _section(raw, "action_endpoint", source)
    if section is None:
        return None
    return ActionEndpoint(
        url=section["url"],
        token=_optional_str(section.get("token")),
        headers=section["headers"],
        enable_selective_domain=section.get("enable_selective_domain") is True,
        timeout=_number(section.get("timeout"), DEFAULT_ACTION_TIMEOUT, "timeout", source),
    )


def _model_endpoint(raw: Any, source: str | None) -> ModelServerEndpoint | None:
    section = _section(raw, "models", source)
    if section is None:
        return None
    wait = section.get("wait_time_between_pulls", DEFAULT_PULL_INTERVAL)
    return ModelServerEndpoint(
        url=section["url"],
        token=_optional_str(section.get("token")),
        headers=section["headers"],
        wait_time_between_pulls=None
        if wait is None
        else _number(wait, DEFAULT_PULL_INTERVAL, "wait_time_between_pulls", source),
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any, default: float, key: str, source: str | None) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source or 'endpoints'}: '{key}' must be a number.") from None
