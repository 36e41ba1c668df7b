"""Admin test fixtures: staff clients with chosen permissions and a conversation factory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connections

from tests.admin.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REVIEWER_VIEWPORT
from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API tests
    ApiClient,
    _no_model_from_settings,
    gunicorn_on_test_db,
    initbot,
    open_auth,
    token_auth,
    trained_initbot,
)
from trackers.models import Conversation

PASSWORD = "pw-123456"
CHANGELIST = "/admin/trackers/conversation/"


def user_event(text: str, intent: str | None, confidence: float = 1.0, **extra) -> dict:
    parse = {"intent": {"name": intent, "confidence": confidence} if intent else {}}
    parse["entities"] = extra.pop("entities", [])
    return {"event": "user", "text": text, "parse_data": parse, **extra}


def action_event(name: str) -> dict:
    return {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0}


def bot_event(text: str, **data) -> dict:
    return {"event": "bot", "text": text, "data": data}


def chat(client, sender_id: str, *turns: tuple, channel: str | None = None) -> Conversation:
    """Store turns of (text, intent, confidence, action, bot text) as a real client would."""
    events = []
    for text, intent, confidence, action, bot_text in turns:
        extra = {"input_channel": channel} if channel else {}
        events += [user_event(text, intent, confidence, **extra), action_event(action)]
        if bot_text:
            events.append(bot_event(bot_text))
        events.append(action_event("action_listen"))
    response = client.post_json(f"/conversations/{sender_id}/tracker/events", events)
    assert response.status_code == 200, response.content
    return Conversation.objects.get(sender_id=sender_id)


def greeting(client, sender_id: str, text: str = "hello there", **kwargs) -> Conversation:
    return chat(
        client, sender_id, (text, "greet", 0.95, "utter_greet", "Hey! How are you?"), **kwargs
    )


def staff_user(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def client() -> ApiClient:
    return ApiClient()


@pytest.fixture
def reviewer(client):
    """A superuser's client: may read, correct and delete."""
    # force_login: the login form's lockout backend (django-axes) is not under test here.
    client.force_login(User.objects.create_superuser("reviewer", "r@example.com", PASSWORD))
    return client


@pytest.fixture
def reader(client):
    """Staff with view permissions only: reads, never writes."""
    client.force_login(staff_user("reader", "view_conversation", "view_tag", "view_correction"))
    return client


@pytest.fixture
def served_admin(gunicorn_on_test_db, collected_static) -> str:  # noqa: F811 - imported above
    """gunicorn (two workers) serving initbot, the admin and its static files; its base URL.
    A superuser ``reviewer`` exists."""
    User.objects.create_superuser("reviewer", "r@example.com", PASSWORD)
    return gunicorn_on_test_db(workers=2, env={"CONVAPI_STATIC_ROOT": str(collected_static)})


@pytest.fixture
def admin_page(monkeypatch, served_admin) -> Iterator:
    """A Chromium page at 1366 px, logged in to ``served_admin`` as the reviewer."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is missing: apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=REVIEWER_VIEWPORT, accept_downloads=True)
        page = context.new_page()
        page.goto(f"{served_admin}/admin/login/?next=/admin/")
        page.fill("#id_username", "reviewer")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#content")
        page.base_url = served_admin  # where the test's page.goto() paths start
        yield page
        browser.close()
        # ORM calls made while Playwright runs get a connection of their own context;
        # left open, it stops PostgreSQL from dropping the test database at the end.
        connections.close_all()
