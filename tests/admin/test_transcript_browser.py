"""The conversation page in headless Chromium at 1366 px: what a reviewer sees first, and
what the details and "show all" toggles open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serving.holder import assistant_from_model, assistant_set
from tests.admin.browser import fits_width, screenshot
from tests.admin.conftest import CHANGELIST, user_event
from tests.engine.processor_support import formbot_model, free_port
from trackers.models import Conversation

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("open_auth"),
]

LONG_TEXT = "\n".join(
    f"line {n}: the parcel I ordered three weeks ago never came" for n in range(30)
)


@pytest.fixture
def reviewed(client, settings, tmp_path) -> Iterator[Conversation]:
    """A conversation with every kind of event the page draws, stored through the API
    while formbot is served and its action server is down."""
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{free_port()}/webhook\n")
    settings.CONVAPI_ENDPOINTS = str(endpoints)
    assistant_set(assistant_from_model(formbot_model()))
    said = client.post_json("/webhooks/rest/webhook", {"sender": "diner", "message": "/greet"})
    assert said.status_code == 200, said.content
    ran = client.post_json("/conversations/diner/execute", {"name": "action_set_name"})
    assert ran.status_code == 200, ran.content
    later = [
        user_event(LONG_TEXT, "inform", 0.31),
        {"event": "user_featurization", "use_text_for_featurization": False},
        {"event": "action", "name": "utter_ask_cuisine", "policy": "TEDPolicy", "confidence": 0.4},
        {"event": "bot", "text": "What cuisine?"},
        {"event": "rewind"},
    ]
    stored = client.post_json("/conversations/diner/tracker/events", later)
    assert stored.status_code == 200, stored.content
    yield Conversation.objects.get(sender_id="diner")
    assistant_set(None)


def open_page(page, conversation: Conversation) -> None:
    page.goto(f"{page.base_url}{CHANGELIST}{conversation.pk}/change/")
    page.wait_for_selector("#transcript")


def test_it_shows_the_transcript_within_1366_px_metadata_folded(
    reviewed, admin_page
):  # stored before the server chooses its model
    open_page(admin_page, reviewed)
    screenshot(admin_page, "transcript-1366")
    assert fits_width(admin_page)
    meta = admin_page.locator(".t-meta")
    assert (
        meta.count()
        == reviewed.events.filter(type_name__in=["rewind", "user_featurization"]).count()
    )
    assert meta.count() >= 3 and not any(meta.nth(n).is_visible() for n in range(meta.count()))
    assert admin_page.locator(".details-label").inner_text().startswith(f"details: {meta.count()}")
    admin_page.click(".details-label")
    assert all(meta.nth(n).is_visible() for n in range(meta.count()))
    assert "rewind" in meta.all_inner_texts()[-1]
    screenshot(admin_page, "transcript-details-open")
    admin_page.click(".details-label")
    assert not meta.first.is_visible()


def test_it_marks_the_failed_action_and_low_confidences(
    reviewed, admin_page
):  # stored before the server chooses its model
    open_page(admin_page, reviewed)
    failed = admin_page.locator(".t-event.action.failed")
    assert failed.count() == 1 and "action_set_name" in failed.inner_text()
    reason = reviewed.events.get(action_name="action_set_name").failure
    assert failed.locator(".failure-reason").inner_text() == f"failed: {reason}"
    red = failed.evaluate("e => getComputedStyle(e).color")
    assert red == "rgb(186, 33, 33)"
    unsure_user = admin_page.locator(".t-row.user.low-confidence")
    assert unsure_user.count() == 1 and "0.31" in unsure_user.locator(".confidence").inner_text()
    unsure_action = admin_page.locator(".t-event.action.low-confidence")
    assert unsure_action.count() == 1 and "utter_ask_cuisine" in unsure_action.inner_text()
    highlight = unsure_action.locator(".confidence").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert highlight == "rgb(255, 243, 205)"
    separators = admin_page.locator(".separator").all_inner_texts()
    assert separators and all(text.strip() == "session started" for text in separators)


def test_it_expands_a_long_message_in_place(
    reviewed, admin_page
):  # stored before the server chooses its model
    open_page(admin_page, reviewed)
    bubble = admin_page.locator(".bubble.user.clamped")
    assert bubble.count() == 1
    shortened = bubble.bounding_box()["height"]
    assert shortened < bubble.evaluate("e => e.scrollHeight")
    row = admin_page.locator(".t-row.user", has=bubble)
    row.locator(".expand-label").click()
    assert bubble.bounding_box()["height"] > shortened * 3
    assert row.locator(".expand-label").inner_text() == "show less"
    bubble.scroll_into_view_if_needed()
    screenshot(admin_page, "transcript-long-message-open")
