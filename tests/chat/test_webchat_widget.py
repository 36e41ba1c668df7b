"""Rasa's web widget (``rasa-webchat`` 1.0.1, unchanged from its npm package) on a page of
another origin, talking to convapi's socket.io channel through a real gunicorn with the
ASGI worker. ``.ci/run`` fetches the package into ``.cache/npm/`` (``npm pack``).

The page is served by a plain static server on another port, as a customer's website
would be; the socket.io server lets that origin in through ``CONVAPI_CORS_ORIGINS``.
One worker: the widget's socket.io client starts on long polling before it upgrades, and
polling requests must reach the worker that holds the session (several workers need a
proxy with sticky sessions).
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.chat.conftest import ARTIFACTS, CHEER_UP_IMAGE
from tests.conftest import ROOT
from trackers.models import Conversation

WIDGET = ROOT / ".cache" / "npm" / "rasa-webchat-1.0.1" / "package" / "lib" / "index.js"

pytestmark = [
    pytest.mark.skipif(
        not WIDGET.exists(), reason="rasa-webchat is missing: .ci/run fetches it with npm pack"
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>A website with the widget</title></head>
<body>
<div id="webchat" style="height: 600px"></div>
<script src="webchat.js"></script>
<script>
  WebChat.default({SETTINGS}, null);
</script>
</body></html>
"""


@pytest.fixture
def widget_page(other_origin, socketio_server, browser_context):
    """The website's page, the server, and a browser page on the site (not yet loaded)."""
    site, origin = other_origin
    server = socketio_server(workers=1, env={"CONVAPI_CORS_ORIGINS": origin})
    shutil.copyfile(WIDGET, site / "webchat.js")
    settings = {
        "selector": "#webchat",
        "embedded": True,
        "initPayload": "/greet",
        "customData": {"language": "en"},
        "socketUrl": server,
        "socketPath": "/socket.io/",
        "title": "convapi",
        "params": {"storage": "local"},
    }
    (site / "index.html").write_text(PAGE.replace("{SETTINGS}", json.dumps(settings)))
    page = browser_context.new_page()
    page.goto(f"{origin}/index.html")
    return page


def widget_session_id(page) -> str:
    return page.evaluate("() => JSON.parse(localStorage.getItem('chat_session')).session_id")


def stored_user_texts(session_id: str) -> list[str]:
    events = Conversation.objects.get(sender_id=session_id).events.filter(type_name="user")
    return [event.data["text"] for event in events.order_by("seq")]


def type_into_widget(page, text: str) -> None:
    page.fill(".rw-new-message", text)
    page.press(".rw-new-message", "Enter")


def test_the_widget_greets_shows_the_image_and_keeps_the_conversation_on_reload(widget_page):
    page = widget_page
    page.wait_for_selector(".rw-response >> text=Hey! How are you?")
    assert page.locator(".rw-replies .rw-reply").all_inner_texts() == ["great", "super sad"]
    session_id = widget_session_id(page)
    assert stored_user_texts(session_id) == ["/greet"]

    type_into_widget(page, "I am sad")
    page.wait_for_selector(".rw-response >> text=Did that help you?")
    image = page.locator("img.rw-image-frame")
    assert image.get_attribute("src") == CHEER_UP_IMAGE
    assert image.evaluate("img => img.naturalWidth") == 240
    page.screenshot(path=str(ARTIFACTS / "webchat-widget.png"), full_page=True)
    assert stored_user_texts(session_id) == ["/greet", "I am sad"]

    page.reload()
    page.wait_for_selector(".rw-response >> text=Did that help you?")
    assert widget_session_id(page) == session_id
    assert page.locator("img.rw-image-frame").get_attribute("src") == CHEER_UP_IMAGE
    type_into_widget(page, "yes")
    page.wait_for_selector(".rw-response >> text=Great, carry on!")
    # One conversation on the server, continued: no second greeting after the reload.
    assert stored_user_texts(session_id) == ["/greet", "I am sad", "yes"]
    page.screenshot(path=str(ARTIFACTS / "webchat-widget-reloaded.png"), full_page=True)
