"""Pulling models from a model server on loopback (API.md section 10)."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serving.models import ModelArchive, ServedModel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "no_model")]


@pytest.fixture
def model_server(initbot_archive):
    """Serves initbot's archive with an ETag; answers 304 when the client has it."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.append(self.headers.get("If-None-Match"))
            if self.headers.get("If-None-Match") == "v1":
                self.send_response(304)
                self.end_headers()
                return
            body = initbot_archive.read_bytes()
            self.send_response(200)
            self.send_header("ETag", "v1")
            self.send_header("filename", "pulled.tar.gz")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/models/initbot", seen
    server.shutdown()


def test_it_pulls_a_model_into_the_store_and_serves_it(
    client, settings, tmp_path, model_server, initbot_archive
):
    settings.CONVAPI_MODEL = str(tmp_path)
    url, seen = model_server
    body = {"model_server": {"url": url, "wait_time_between_pulls": 0}}
    assert client.put_json("/model", body).status_code == 204
    assert client.get("/status").json()["model_file"] == "pulled.tar.gz"
    stored = ModelArchive.objects.get()
    assert stored.name == "pulled.tar.gz"
    assert stored.sha256 == hashlib.sha256(initbot_archive.read_bytes()).hexdigest()
    assert ServedModel.objects.get().archive_id == stored.sha256
    assert seen == [None]


def test_it_sends_the_etag_and_keeps_the_model_on_304(client, settings, tmp_path, model_server):
    from serving.model_server import ModelServer, pull_once

    settings.CONVAPI_MODEL = str(tmp_path)
    url, seen = model_server
    server = ModelServer(url=url, wait_time_between_pulls=0)
    assert pull_once(server) is True
    assert pull_once(server) is False
    assert seen == [None, "v1"]


def test_it_keeps_serving_when_the_model_server_is_down(client, settings, tmp_path):
    settings.CONVAPI_MODEL = str(tmp_path)
    body = {"model_server": {"url": "http://127.0.0.1:9/none", "wait_time_between_pulls": 0}}
    assert client.put_json("/model", body).status_code == 400
    assert client.get("/status").status_code == 409


def test_it_pulls_from_the_endpoints_model_server_at_start(settings, tmp_path, model_server):
    from serving.holder import current_assistant
    from serving.model_server import model_server_pull_at_start

    url, seen = model_server
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"models:\n  url: {url}\n  wait_time_between_pulls: 0\n")
    settings.CONVAPI_ENDPOINTS = str(endpoints)
    settings.CONVAPI_MODEL = str(tmp_path)
    assert model_server_pull_at_start() is True
    assert current_assistant().file_name == "pulled.tar.gz"
