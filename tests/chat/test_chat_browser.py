"""The chat page end to end: a real gunicorn with the ASGI worker, headless Chromium, the
page's own socket.io client over WebSocket, moodbot answering. Screenshots are kept in
tests/artifacts/."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection

from tests.chat.conftest import ARTIFACTS, CHEER_UP_IMAGE
from trackers.models import Conversation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PASSWORD = "pw-123456"


@pytest.fixture
def server(socketio_server) -> str:
    # Several workers where the database allows it: the page's WebSocket needs no sticky
    # sessions, each connection lives in one worker.
    return socketio_server(workers=2 if connection.vendor == "postgresql" else 1)


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


def log_in(page, server: str, username: str) -> None:
    page.goto(f"{server}/chat/")
    assert page.url == f"{server}/admin/login/?next=/chat/"
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def say(page, text: str) -> None:
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")


def texts(page, kind: str) -> list[str]:
    return page.locator(f"#chat-log .message.{kind}").all_inner_texts()


def stored_user_texts(session_id: str) -> list[str]:
    conversation = Conversation.objects.get(sender_id=session_id)
    events = conversation.events.filter(type_name="user").order_by("seq")
    return [event.data["text"] for event in events]


def test_staff_chat_with_the_bot_and_the_conversation_is_stored_under_the_session(page, server):
    User.objects.create_user("ann", "a@example.com", PASSWORD, is_staff=True)
    log_in(page, server, "ann")
    page.wait_for_selector("#chat-status[data-state=connected]")
    session_id = page.inner_text("#chat-session")
    say(page, "hello")
    page.wait_for_selector("#chat-log .quick-replies button")
    assert texts(page, "user") == ["hello"]
    assert texts(page, "bot.text") == ["Hey! How are you?"]
    buttons = page.locator(".quick-replies button")
    assert buttons.all_inner_texts() == ["great", "super sad"]
    assert buttons.nth(1).get_attribute("data-payload") == "/mood_unhappy"

    buttons.nth(1).click()  # sends the payload, shows the title
    page.wait_for_selector("#chat-log .message.bot.text >> text=Did that help you?")
    assert texts(page, "user") == ["hello", "super sad"]
    image = page.locator("#chat-log .message.image img")
    assert image.get_attribute("src") == CHEER_UP_IMAGE
    assert image.evaluate("img => img.naturalWidth") == 240  # the picture really loaded
    assert page.locator(".quick-replies button:disabled").count() == 2
    page.screenshot(path=str(ARTIFACTS / "chat-page.png"), full_page=True)

    stored = page.evaluate("() => JSON.parse(localStorage.getItem('convapi-chat'))")
    assert stored["session_id"] == session_id and len(session_id) == 32
    assert stored_user_texts(session_id) == ["hello", "/mood_unhappy"]
    conversation = Conversation.objects.get(sender_id=session_id)
    first_user = conversation.events.filter(type_name="user").order_by("seq").first()
    assert first_user.data["input_channel"] == "socketio"
    assert first_user.data["metadata"]["source"] == "convapi-chat-page"

    page.goto(f"{server}/admin/")  # the admin's index links to the page, which goes on
    page.screenshot(path=str(ARTIFACTS / "admin-index-chat-link.png"))
    page.click("#chat-page-module >> text=Chat with the served bot")
    page.wait_for_selector("#chat-status[data-state=connected]")
    assert page.inner_text("#chat-session") == session_id
    assert texts(page, "user") == ["hello", "super sad"]


def test_a_reload_continues_the_conversation_and_new_conversation_starts_another(page, server):
    User.objects.create_user("ann", "a@example.com", PASSWORD, is_staff=True)
    log_in(page, server, "ann")
    page.wait_for_selector("#chat-status[data-state=connected]")
    session_id = page.inner_text("#chat-session")
    say(page, "hello")
    page.wait_for_selector("text=Hey! How are you?")

    page.reload()
    page.wait_for_selector("#chat-status[data-state=connected]")
    assert page.inner_text("#chat-session") == session_id
    assert texts(page, "user") == ["hello"] and texts(page, "bot.text") == ["Hey! How are you?"]
    say(page, "I am sad")
    page.wait_for_selector("text=Did that help you?")
    assert stored_user_texts(session_id) == ["hello", "I am sad"]

    page.click("#chat-new")
    page.wait_for_selector("#chat-status[data-state=connected]")
    new_id = page.inner_text("#chat-session")
    assert new_id != session_id and len(new_id) == 32
    assert page.locator("#chat-log .message").count() == 0
    say(page, "hi")
    page.wait_for_selector("text=Hey! How are you?")
    assert stored_user_texts(new_id) == ["hi"]
    assert stored_user_texts(session_id) == ["hello", "I am sad"]


def test_a_user_who_is_not_staff_gets_the_admin_login_not_the_chat(page, server):
    User.objects.create_user("bob", "b@example.com", PASSWORD)
    log_in(page, server, "bob")
    page.wait_for_selector(".errornote")
    assert page.url.startswith(f"{server}/admin/login/")
    assert page.locator("#chat-log").count() == 0
    page.goto(f"{server}/chat/")
    assert page.url == f"{server}/admin/login/?next=/chat/"


def test_with_jwt_key_staff_get_through_and_a_visitor_without_a_token_is_refused(
    socketio_server, browser_context, tmp_path
):
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("socketio:\n  session_persistence: true\n  jwt_key: socket-secret\n")
    server = socketio_server(
        env={"CONVAPI_CREDENTIALS": str(credentials), "CONVAPI_CHAT_PAGE": "public"}
    )
    User.objects.create_user("ann", "a@example.com", PASSWORD, is_staff=True)
    page = browser_context.new_page()
    page.goto(f"{server}/admin/login/?next=/chat/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#chat-status[data-state=connected]")
    say(page, "hello")
    page.wait_for_selector("text=Hey! How are you?")

    visitor = browser_context.browser.new_context().new_page()
    visitor.goto(f"{server}/chat/")
    visitor.wait_for_selector("#chat-status[data-state=refused]")
    assert visitor.locator("#chat-no-token").count() == 1
    assert visitor.locator("#chat-input").is_disabled()
