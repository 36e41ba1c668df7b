"""Pulling models from a model server (API.md section 10).

``GET <url>`` with ``If-None-Match: <the ETag of the current model>``; 200 brings a new
archive (``filename`` and ``ETag`` headers), 204/304 mean nothing new. A pulled archive
lands in the model store like any other; after the first pull (in the request), a Celery
beat task pulls at the server's interval, on one worker, and the new model reaches every
process through the ServedModel row.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from engine.errors import ServiceError, bad_request, model_not_loadable
from serving.archives import CHUNK_BYTES
from serving.holder import configured_endpoints
from serving.served import served_model_claim_pull, served_model_note_etag, served_model_poll
from serving.services import model_serve_file

logger = logging.getLogger(__name__)
PULL_TIMEOUT_SECONDS = 60


@dataclass
class ModelServer:
    url: str
    token: str | None = None
    token_name: str = "token"
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    wait_time_between_pulls: float | None = 100
    etag: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The form ``from_dict`` reads back, plus the ETag (stored for the beat task)."""
        auth = self.basic_auth
        return {
            "url": self.url,
            "token": self.token,
            "token_name": self.token_name,
            "params": self.params,
            "headers": self.headers,
            "basic_auth": {"username": auth[0], "password": auth[1]} if auth else None,
            "wait_time_between_pulls": self.wait_time_between_pulls,
            "etag": self.etag,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ModelServer:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            raise bad_request("'model_server' needs at least a 'url'.", parameter="model_server")
        auth = data.get("basic_auth")
        try:
            return cls(
                url=data["url"],
                token=data.get("token"),
                token_name=data.get("token_name") or "token",
                params=dict(data.get("params") or {}),
                headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
                basic_auth=(auth["username"], auth["password"]) if auth else None,
                wait_time_between_pulls=data.get("wait_time_between_pulls", 100),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise bad_request("'model_server' is malformed.", parameter="model_server") from None


def pull_once(server: ModelServer) -> bool:
    """Fetch and load a new model if the server has one; True when one was loaded."""
    headers = dict(server.headers)
    if server.etag:
        headers["If-None-Match"] = server.etag
    params = dict(server.params)
    if server.token:
        params[server.token_name] = server.token
    try:
        response = requests.get(
            server.url,
            headers=headers,
            params=params,
            auth=server.basic_auth,
            timeout=PULL_TIMEOUT_SECONDS,
            stream=True,
        )
    except requests.RequestException as exc:
        logger.warning("Model server %s unreachable: %s", server.url, exc)
        return False
    with response:
        if response.status_code in (204, 304):
            return False
        if response.status_code != 200:
            logger.warning("Model server %s answered %s", server.url, response.status_code)
            return False
        _serve_download(response, name=response.headers.get("filename") or "model.tar.gz")
    server.etag = response.headers.get("ETag")
    return True


def _serve_download(response: requests.Response, *, name: str) -> None:
    """Stream the archive to a temporary file, then store and serve it like any other."""
    with tempfile.TemporaryDirectory(prefix="convapi-pull-") as folder:
        download = Path(folder) / "download.tar.gz"
        try:
            with download.open("wb") as target:
                for block in response.iter_content(CHUNK_BYTES):
                    target.write(block)
        except requests.RequestException as exc:
            raise model_not_loadable(f"{response.url} ({exc})") from None
        model_serve_file(path=download, name=name)


def model_server_pull(data: Any) -> None:
    """``PUT /model {"model_server": ...}``: pull now; a beat task keeps pulling."""
    server = ModelServer.from_dict(data)
    if not pull_once(server):
        raise model_not_loadable(server.url)
    served_model_poll(server=server.as_dict(), every=server.wait_time_between_pulls)


def model_server_poll_due() -> bool:
    """The periodic pull (serving.tasks.pull_model_server): True when a new model was loaded."""
    config = served_model_claim_pull()
    if config is None:
        return False
    server = ModelServer.from_dict(config)
    server.etag = config.get("etag")
    try:
        pulled = pull_once(server)
    except ServiceError as exc:  # the archive came but does not load: keep the current model
        logger.warning("Model from %s could not be loaded: %s", server.url, exc.message)
        return False
    if pulled:
        served_model_note_etag(etag=server.etag)
    return pulled


def model_server_pull_at_start() -> bool:
    """``endpoints.yml`` names a model server: pull once now, as ``rasa run`` does at start.

    A failed pull is logged and the server starts with whatever model it has; the beat
    task keeps trying at the configured interval.
    """
    endpoint = configured_endpoints().models
    if endpoint is None:
        return False
    data = {
        "url": endpoint.url,
        "token": endpoint.token,
        "headers": endpoint.headers,
        "wait_time_between_pulls": endpoint.wait_time_between_pulls,
    }
    try:
        model_server_pull(data)
    except ServiceError as exc:
        logger.warning("No model from the model server at start: %s", exc.message)
        served_model_poll(server=data, every=endpoint.wait_time_between_pulls)
        return False
    return True
