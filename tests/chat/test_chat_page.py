"""The "try the bot" page (GET /chat/): who may open it, and what it tells the browser."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jwt
import pytest
from django.contrib.auth.models import User

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

PASSWORD = "pw-123456"


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_user("ann", "a@example.com", PASSWORD, is_staff=True))
    return client


@pytest.fixture
def credentials(settings, tmp_path):
    """Point CONVAPI_CREDENTIALS at a file with the given text."""

    def write(text: str) -> None:
        path = tmp_path / "credentials.yml"
        path.write_text(text)
        settings.CONVAPI_CREDENTIALS = str(path)

    return write


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="chat-config" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def test_it_sends_a_visitor_to_the_admin_login(client):
    response = client.get("/chat/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/chat/"


def test_it_sends_a_user_who_is_not_staff_to_the_admin_login(client):
    client.force_login(User.objects.create_user("bob", "b@example.com", PASSWORD))
    response = client.get("/chat/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_serves_staff_the_page_with_the_channel_as_credentials_yml_sets_it(staff, credentials):
    credentials("socketio:\n  session_persistence: true\n  bot_message_evt: bot_said\n")
    response = staff.get("/chat/")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert page_config(response) == {
        "path": "/socket.io",
        "namespace": "/",
        "userMessageEvent": "user_uttered",
        "botMessageEvent": "bot_said",
        "metadataKey": "metadata",
        "sessionPersistence": True,
        "storageKey": "convapi-chat",
        "token": None,
    }
    assert b"/static/convapi/chat.js" in response.content


def test_it_says_when_the_conversation_ends_with_each_connection(staff, credentials):
    credentials("socketio:\n")
    response = staff.get("/chat/")
    assert page_config(response)["sessionPersistence"] is False
    assert b'id="chat-no-persistence"' in response.content


def test_it_serves_anyone_when_public(client, settings):
    settings.CONVAPI_CHAT_PAGE = "public"
    response = client.get("/chat/")
    assert response.status_code == 200
    assert b'id="chat-log"' in response.content
    assert b"/admin/" not in response.content  # the admin link is for staff


def test_it_is_a_json_404_when_off(staff, settings):
    settings.CONVAPI_CHAT_PAGE = "off"
    response = staff.get("/chat/")
    assert response.status_code == 404
    assert response.json()["code"] == 404


def test_it_says_how_to_enable_the_channel_when_socketio_is_closed(staff, credentials):
    credentials("rest:\n")
    response = staff.get("/chat/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="chat-disabled"' in html and "session_persistence: true" in html
    assert "chat.js" not in html


def test_it_redirects_the_address_without_a_slash(staff):
    response = staff.get("/chat")
    assert response.status_code == 302 and response["Location"] == "/chat/"


def test_the_admin_index_links_to_it(staff):
    response = staff.get("/admin/")
    assert b'id="chat-page-module"' in response.content
    assert b'href="/chat/"' in response.content


def test_the_admin_index_does_not_link_to_it_when_off(staff, settings):
    settings.CONVAPI_CHAT_PAGE = "off"
    assert b"chat-page-module" not in staff.get("/admin/").content


def test_the_setting_refuses_an_unknown_value():
    env = {**os.environ, "CONVAPI_CHAT_PAGE": "everyone"}
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=ROOT, env=env, capture_output=True
    )
    assert result.returncode != 0
    assert b"CONVAPI_CHAT_PAGE='everyone': use staff, public or off" in result.stderr


def test_staff_get_a_token_for_a_channel_that_asks_for_one(staff, credentials):
    credentials("socketio:\n  jwt_key: socket-secret\n  jwt_method: HS256\n")
    response = staff.get("/chat/")
    claims = jwt.decode(page_config(response)["token"], "socket-secret", algorithms=["HS256"])
    assert claims["user"] == {"username": "ann", "role": "user"}
    assert b"chat-no-token" not in response.content


def test_the_public_get_no_token_and_are_told_the_channel_will_refuse_them(
    client, settings, credentials
):
    settings.CONVAPI_CHAT_PAGE = "public"
    credentials("socketio:\n  jwt_key: socket-secret\n")
    response = client.get("/chat/")
    assert page_config(response)["token"] is None
    assert b'id="chat-no-token"' in response.content


def test_no_token_is_made_with_a_public_key(staff, credentials):
    credentials("socketio:\n  jwt_key: a-public-key\n  jwt_method: RS256\n")
    response = staff.get("/chat/")
    assert page_config(response)["token"] is None
    assert b'id="chat-no-token"' in response.content
