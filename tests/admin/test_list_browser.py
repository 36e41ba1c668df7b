"""The conversation list in headless Chromium at 1366 px, beside the filter sidebar."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.admin.browser import fits_width, screenshot
from tests.admin.conftest import CHANGELIST, chat
from trackers.models import Conversation, Tag

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("open_auth", "initbot"),
]

COLUMNS = ("started", "latest activity", "user turns", "latest intent", "latest user message")
COLUMNS += ("fallback", "channel", "tags", "reviewed")
LONG_SENDER = "9f1c2b7e-5d4a-4c1e-8b3f-2a6d9e0c7b51"
LONG_TEXT = "my parcel never came and nobody answers the phone at the depot " * 4


@pytest.fixture
def stored(client, initbot) -> None:
    """Conversations as clients leave them, one of each kind the list must show."""
    chat(
        client,
        LONG_SENDER,
        ("hello there", "greet", 0.97, "utter_greet", "Hey! How are you?"),
        (
            LONG_TEXT.strip(),
            "complain_about_a_late_delivery",
            0.41,
            "utter_cheer_up",
            "Here is something",
        ),
        channel="facebook_messenger",
    )
    chat(client, "lost", ("blorp", "nlu_fallback", 0.2, "action_default_fallback", None))
    tagged = chat(client, "tagged", ("hi", "greet", 0.9, "utter_greet", "Hey"), channel="rest")
    for name in ("late-delivery", "angry-customer", "needs-data"):
        Tag.objects.create(name=name).conversations.add(tagged)
    Conversation.objects.filter(sender_id="lost").update(reviewed=True)
    # Dates of other days and years take more room than today's times.
    now = timezone.now()
    Conversation.objects.filter(sender_id="lost").update(created=now - dt.timedelta(days=400))
    Conversation.objects.filter(sender_id="tagged").update(created=now - dt.timedelta(days=2))
    # A tracker read of an unknown id leaves a conversation with no user turn.
    assert client.get("/conversations/nobody-said-anything/tracker").status_code == 200


def headers(page) -> list[str]:
    return [
        text.strip().lower() for text in page.locator("#result_list thead th").all_inner_texts()
    ]


def cut_off(page) -> list[str]:
    """Columns not wholly visible: past the page's edge, or scrolled away inside the list."""
    return page.evaluate(
        """() => {
            const box = document.querySelector('#changelist .results').getBoundingClientRect();
            const right = Math.min(box.right, window.innerWidth);
            return [...document.querySelectorAll('#result_list thead th')]
                .filter(th => th.getBoundingClientRect().right > right + 0.5)
                .map(th => th.innerText.trim());
        }"""
    )


@pytest.mark.usefixtures("stored")
def test_it_fits_1366_px_with_the_filters_beside_it(admin_page):
    admin_page.goto(f"{admin_page.base_url}{CHANGELIST}")
    admin_page.wait_for_selector("#result_list")
    screenshot(admin_page, "list-1366")
    assert admin_page.locator("#changelist-filter").is_visible()
    assert all(column in headers(admin_page) for column in COLUMNS), headers(admin_page)
    assert cut_off(admin_page) == []
    assert fits_width(admin_page)
    # Dates take one line: a cell's height is a single line of text.
    heights = admin_page.locator("#result_list td.field-started").evaluate_all(
        "cells => cells.map(c => c.getBoundingClientRect().height)"
    )
    line = admin_page.locator("#result_list td.field-turns").first.bounding_box()["height"]
    assert heights and all(height <= line + 1 for height in heights)


@pytest.mark.usefixtures("stored")
def test_it_previews_the_latest_user_message(admin_page):
    admin_page.goto(f"{admin_page.base_url}{CHANGELIST}")
    row = admin_page.locator("#result_list tbody tr", has_text="lost")
    assert row.locator("td.field-preview").inner_text().strip() == "blorp"
    long_row = admin_page.locator(
        "#result_list tbody tr", has=admin_page.locator(f'[title="{LONG_SENDER}"]')
    )
    preview = long_row.locator("td.field-preview span")
    assert preview.get_attribute("title") == LONG_TEXT.strip()
    box = preview.bounding_box()
    assert box["width"] < 400  # shortened with an ellipsis, the whole text in its title


@pytest.mark.usefixtures("stored")
def test_it_hides_empty_conversations_until_asked(admin_page):
    admin_page.goto(f"{admin_page.base_url}{CHANGELIST}")
    ids = admin_page.locator("#result_list tbody th").all_inner_texts()
    assert "nobody-said-anything" not in ids and "lost" in ids
    admin_page.click("#changelist-filter >> text=with no user message")
    admin_page.wait_for_url("**empty=only**")
    ids = admin_page.locator("#result_list tbody th").all_inner_texts()
    assert ids == ["nobody-said-anything"]
    admin_page.click("#changelist-filter >> text=all, empty ones too")
    admin_page.wait_for_url("**empty=all**")
    ids = admin_page.locator("#result_list tbody th").all_inner_texts()
    assert len(ids) == 4 and "nobody-said-anything" in ids and "lost" in ids
    screenshot(admin_page, "list-with-empty")
    assert fits_width(admin_page) and cut_off(admin_page) == []
