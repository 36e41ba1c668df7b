"""The HTTP calls of interactive learning: exactly the Rasa API's, so any Rasa 3.x server works.

Every failure a bot author can meet (server down, wrong token, no model loaded) becomes a
``ServerError`` with a sentence to show, never a ``requests`` traceback.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import requests

from interactive.events import action_event, user_event

DEFAULT_URL = "http://127.0.0.1:5005"
ACTION_LISTEN = "action_listen"
VERBOSITIES = ("NONE", "APPLIED", "AFTER_RESTART", "ALL")


class ServerError(Exception):
    """A call to the server failed in a way the author should read about."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ServerUnavailable(ServerError):
    pass


class NotAuthenticated(ServerError):
    pass


class NoModelLoaded(ServerError):
    pass


class NoCoreModel(ServerError):
    pass


class Client:
    """One server, one credential (``?token=`` or a JWT bearer header), one HTTP session."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        jwt: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()
        if jwt:
            self.session.headers["Authorization"] = f"Bearer {jwt}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        accept: str = "application/json",
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; map transport failures and Rasa's error statuses to ServerError."""
        query = dict(params or {})
        if self.token:
            query["token"] = self.token
        try:
            response = self.session.request(
                method,
                self.url + path,
                params=query,
                headers={"Accept": accept},
                timeout=self.timeout,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise ServerUnavailable(
                f"Cannot reach the server at {self.url} ({type(exc).__name__}). "
                "Is it running (python manage.py serve, or rasa run --enable-api)?"
            ) from exc
        if response.status_code >= 400:
            raise _error_from(response, self.url)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ServerError(
                f"The server answered {path} with something that is not JSON."
            ) from exc

    # --- reading -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return self.json("GET", "/status")

    def domain(self) -> dict[str, Any]:
        return self.json("GET", "/domain", accept="application/json")

    def tracker(self, conversation_id: str, verbosity: str = "ALL") -> dict[str, Any]:
        """The tracker state with ``include_events`` = one of NONE, APPLIED, AFTER_RESTART, ALL."""
        if verbosity.upper() not in VERBOSITIES:
            raise ValueError(f"unknown verbosity {verbosity!r}")
        return self.json(
            "GET", _conversation(conversation_id, "/tracker"), params={"include_events": verbosity}
        )

    def story(self, conversation_id: str) -> str:
        return self.request("GET", _conversation(conversation_id, "/story"), accept="*/*").text

    def parse(self, text: str) -> dict[str, Any]:
        return self.json("POST", "/model/parse", json={"text": text})

    # --- writing -------------------------------------------------------------------------
    def send_event(self, conversation_id: str, event: dict | list[dict]) -> dict[str, Any]:
        """Append one event or a list of events to the conversation."""
        return self.json(
            "POST",
            _conversation(conversation_id, "/tracker/events"),
            params={"include_events": "AFTER_RESTART"},
            json=event,
        )

    def replace_events(self, conversation_id: str, events: list[dict]) -> dict[str, Any]:
        return self.json("PUT", _conversation(conversation_id, "/tracker/events"), json=events)

    def send_message(
        self, conversation_id: str, text: str, parse_data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Log a user message; without ``parse_data`` the server's NLU parses the text first."""
        if parse_data is None:
            parse_data = self.parse(text)
        return self.send_event(conversation_id, user_event(text, parse_data))

    def request_prediction(self, conversation_id: str) -> dict[str, Any]:
        """The next action's scores, policy and confidence, without running it."""
        try:
            result = self.json("POST", _conversation(conversation_id, "/predict"))
        except ServerError as exc:
            # Rasa fails with a 500 without a Core model, convapi with its own 409 message.
            if exc.status == 500 or (exc.status == 409 and not _no_agent(exc)):
                raise NoCoreModel(
                    "The server could not predict an action: the loaded model has no dialogue "
                    "(Core) part. Train a model with stories or rules and load it."
                ) from exc
            raise
        if not result or not result.get("scores"):
            raise NoCoreModel("The loaded model has no dialogue (Core) part: nothing to predict.")
        return result

    def send_action(
        self,
        conversation_id: str,
        name: str,
        *,
        policy: str | None = None,
        confidence: float | None = None,
        is_new_action: bool = False,
    ) -> dict[str, Any]:
        """Run a domain action (``/execute``) or just log an ``action`` event for a new one."""
        if is_new_action:
            return self.send_event(conversation_id, action_event(name, policy, confidence))
        body = {"name": name, "policy": policy, "confidence": confidence}
        try:
            return self.json("POST", _conversation(conversation_id, "/execute"), json=body)
        except ServerError as exc:
            # An action the server's domain does not know yet (Rasa answers 500, convapi 404).
            if exc.status in (404, 500) and _mentions_unknown_action(exc):
                return self.send_event(conversation_id, action_event(name, policy, confidence))
            raise

    def load_model(self, model_file: str) -> None:
        self.request("PUT", "/model", json={"model_file": model_file})

    def wait_until_running(self, *, attempts: int = 10, delay: float = 1.0) -> dict[str, Any]:
        """Poll ``/status`` until the server answers; give up after ``attempts`` tries."""
        for attempt in range(attempts):
            try:
                return self.status()
            except ServerUnavailable:
                if attempt == attempts - 1:
                    raise
                time.sleep(delay)
        raise ServerUnavailable(f"Cannot reach the server at {self.url}.")  # attempts == 0


def _conversation(conversation_id: str, suffix: str) -> str:
    # Rasa does not percent-decode ids, so slashes and the like are sent raw (API.md).
    return "/conversations/" + quote(conversation_id, safe="/+-_=.~@:") + suffix


def _no_agent(exc: ServerError) -> bool:
    message = exc.body.get("message", "") if isinstance(exc.body, dict) else ""
    return str(message).startswith("No agent loaded")


def _mentions_unknown_action(exc: ServerError) -> bool:
    message = str((exc.body or {}).get("message", "")) if isinstance(exc.body, dict) else ""
    return exc.status == 404 or "action" in message.lower()


def _error_from(response: requests.Response, url: str) -> ServerError:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("message") if isinstance(body, dict) else None
    status = response.status_code
    if status == 401:
        return NotAuthenticated(
            "The server refused the credentials (401): pass the right --token or --jwt.",
            status=status,
            body=body,
        )
    if status == 403:
        return NotAuthenticated(
            "The JWT is valid but may not do this (403): interactive learning needs an admin.",
            status=status,
            body=body,
        )
    if status == 409:
        return NoModelLoaded(
            "The server has no model loaded (409). Load one (PUT /model) or start it with a model.",
            status=status,
            body=body,
        )
    text = detail or response.text[:200] or response.reason
    return ServerError(f"{url} answered {status}: {text}", status=status, body=body)
