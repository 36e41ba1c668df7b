"""Custom actions on the action server (API.md section 9), over HTTP with ``urllib3``.

``ActionServerClient`` is the small seam: one call, a JSON payload in and the response
JSON out, failures as typed exceptions. ``RemoteAction`` turns the answer into events.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import urllib3

from engine import __version__
from engine.actions.base import Action, ActionContext, ActionRejected
from engine.endpoints import ActionEndpoint
from engine.errors import EngineError, EventsValidationError
from engine.events import Event, events_from_dicts
from engine.json_text import json_text
from engine.responses import bot_event
from engine.schema import validate_events
from engine.tracker import EventVerbosity

logger = logging.getLogger(__name__)


class ActionServerError(EngineError):
    """The action server failed (connection, timeout, 5xx, invalid answer)."""


class ActionNotFound(ActionServerError):
    """The action server does not know the action (it answered 404)."""


class ActionServerRejection(ActionServerError):
    """The server answered 400 ``{action_name, error}``: the action rejected execution."""


class DomainNeeded(ActionServerError):
    """449: a server without a cached domain asks for the request again, domain included."""


class ActionServerClient(Protocol):
    endpoint: ActionEndpoint | None

    def call(self, payload: dict) -> dict: ...


class HttpActionServer:
    """POSTs payloads to the ``action_endpoint`` url with its token, headers and timeout.

    Every thread of a web worker calls through one ``urllib3.PoolManager``, which urllib3
    documents as thread-safe: it keeps a connection to the action server open per call in
    flight and hands it to the next call. (A ``requests.Session`` is not promised to be
    safe across threads, and costs about twice the CPU of a call.) Not retried, and
    redirects are not followed: a call that failed may have run the action.
    """

    # Connections kept open to the action server: as many as a worker has calls in flight.
    KEPT_CONNECTIONS = 64

    def __init__(
        self,
        endpoint: ActionEndpoint,
        *,
        call_headers: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        """``call_headers`` gives headers for each call on top of the endpoint's own: the
        server adds the request id of the turn (the engine knows nothing of requests)."""
        self.endpoint = endpoint
        self.call_headers = call_headers
        self._url = _with_token(endpoint.url, endpoint.token)
        # The environment's proxy settings, read once, not on every call.
        proxy = _environment_proxy(endpoint.url)
        if proxy:
            self.pool: urllib3.PoolManager = urllib3.ProxyManager(
                proxy, maxsize=self.KEPT_CONNECTIONS
            )
        else:
            self.pool = urllib3.PoolManager(maxsize=self.KEPT_CONNECTIONS)

    def call(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json", **(self.endpoint.headers or {})}
        if self.call_headers is not None:
            headers.update(self.call_headers())
        try:
            response = self.pool.request(
                "POST",
                self._url,
                body=payload_json(payload),
                headers=headers,
                timeout=self.endpoint.timeout,
                retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ActionServerError(f"the action server cannot be reached: {exc}") from exc
        return _answer(response.status, response.data)


def _with_token(url: str, token: str | None) -> str:
    """The url with ``token=`` added to its query (Rasa's action endpoint token)."""
    if not token:
        return url
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("token", token)])
    return urlunsplit(parts._replace(query=query))


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP_PROXY``...), unless ``NO_PROXY``
    excludes its host."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def _answer(status: int, data: bytes) -> dict:
    body = _json_or_none(data)
    if status == 200:
        if not isinstance(body, dict):
            raise ActionServerError("the action server's answer is not a JSON object")
        return body
    text = data.decode("utf-8", errors="replace")  # only an error's message shows it
    if status == 400:
        message = body.get("error") if isinstance(body, dict) else None
        raise ActionServerRejection(str(message or text))
    if status == 449:
        raise DomainNeeded("the action server needs the domain")
    if status == 404:
        raise ActionNotFound(f"the action server does not define it: {text[:200]}")
    raise ActionServerError(f"status {status}: {text[:200]}")


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


class EventTexts(list):
    """A tracker's events as JSON texts, written into a request body as they are."""


def payload_json(payload: dict) -> bytes:
    """The request body; the tracker's ``EventTexts`` are joined in, not parsed again."""
    tracker = payload.get("tracker")
    events = tracker.get("events") if isinstance(tracker, dict) else None
    if not isinstance(events, EventTexts):
        return json_text(payload).encode()
    others = {key: value for key, value in payload.items() if key != "tracker"}
    state = {key: value for key, value in tracker.items() if key != "events"}
    # Both are non-empty objects: each text ends with its closing brace.
    tracker_text = json_text(state)[:-1] + ',"events":[' + ",".join(events) + "]}"
    return (json_text(others)[:-1] + ',"tracker":' + tracker_text + "}").encode()


def action_payload(name: str, ctx: ActionContext, *, with_domain: bool = False) -> dict:
    """The request body: next action, sender, full tracker state, domain unless selective."""
    payload: dict[str, Any] = {
        "next_action": name,
        "sender_id": ctx.sender_id,
        # Like Rasa >= 3.6, the action server sees the whole latest session, not a window.
        "tracker": {
            **ctx.tracker.current_state(EventVerbosity.NONE),
            "events": EventTexts(ctx.tracker.session_event_texts()),
        },
        "version": __version__,
    }
    endpoint = ctx.server.endpoint if ctx.server is not None else None
    selective = endpoint is not None and endpoint.enable_selective_domain
    if with_domain or not selective or name in ctx.domain.actions_which_need_domain:
        payload["domain"] = ctx.domain.as_dict()
    return payload


class RemoteAction(Action):
    """A custom action: runs on the action server; failures follow Rasa's rules."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, ctx: ActionContext) -> list[Event]:
        """Events of the answer; 400 raises ``ActionRejected``; other failures raise
        ``ActionServerError`` (the processor logs them and keeps only the action event)."""
        if ctx.server is None:
            raise ActionServerError(
                f"no action_endpoint is configured, so custom action '{self.name}' cannot run"
            )
        try:
            try:
                body = ctx.server.call(action_payload(self.name, ctx))
            except DomainNeeded:
                body = ctx.server.call(action_payload(self.name, ctx, with_domain=True))
        except ActionServerRejection as exc:
            raise ActionRejected(self.name, str(exc)) from exc
        return self._events(body, ctx)

    def _events(self, body: dict, ctx: ActionContext) -> list[Event]:
        responses = body.get("responses") or []
        raw_events = body.get("events") or []
        if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses):
            raise ActionServerError(f"'{self.name}': 'responses' must be a list of objects")
        if not isinstance(raw_events, list):
            raise ActionServerError(f"'{self.name}': 'events' must be a list")
        try:
            events = events_from_dicts(validate_events(raw_events)) if raw_events else []
        except EventsValidationError as exc:
            raise ActionServerError(f"'{self.name}' returned invalid events: {exc}") from exc
        return [*self._bot_events(responses, ctx), *events]

    def _bot_events(self, responses: list[dict], ctx: ActionContext) -> list[Event]:
        events: list[Event] = []
        for item in responses:
            response = dict(item)
            name = response.pop("response", None) or response.pop("template", None)
            response.pop("template", None)
            draft: dict[str, Any] = {}
            if name:
                values = {k: v for k, v in response.items() if k not in ("buttons",)}
                generated = ctx.renderer.generate(
                    name, ctx.tracker.slots, ctx.output_channel, **values
                )
                if generated is None:
                    continue
                draft = {**generated, "utter_action": name}
            buttons = response.pop("buttons", None) or []
            if buttons:
                draft["buttons"] = [*(draft.get("buttons") or []), *buttons]
            draft.update({k: v for k, v in response.items() if v})
            events.append(bot_event(draft))
        return events
