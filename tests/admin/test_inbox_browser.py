"""The NLU inbox in headless Chromium against gunicorn: it fits 1366 px, confirms and
relabels several groups at once, and the reviewed messages download as nlu.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.admin.browser import fits_width, screenshot
from tests.admin.test_inbox import CITY, DAY, T0, say
from tests.api.conftest import ApiClient
from trackers.models import Correction

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("open_auth", "initbot"),
]

LONG = "my order " + "still has not arrived and nobody answers the phone, " * 8 + "x" * 120


@pytest.fixture
def said() -> None:
    api = ApiClient()
    say(
        api,
        "ann",
        ("hello", "greet", 0.97, T0),
        ("I live in Berlin now", "affirm", 0.62, T0 + 60, CITY),
        ("I am sad", "mood_great", 0.31, T0 + 120),
        (LONG, "mood_great", 0.22, T0 + 180),
        channel="rest",
    )
    say(
        api,
        "bob",
        ("hello", "greet", 0.91, T0 + DAY),
        ("I am sad", "mood_great", 0.44, T0 + DAY + 60),
        ("see you", "greet", 0.55, T0 + DAY + 120),
        ("are you a bot?", "bot_challenge", 0.99, T0 + DAY + 180),
        channel="socketio",
    )


def row(page, text: str):
    return page.locator("tr.group").filter(has=page.locator("div.said", has_text=text))


def corrections() -> list[tuple[str, str]]:
    rows = Correction.objects.filter(kind="intent").select_related("event")
    return sorted((c.event.text, c.intent) for c in rows)


def test_it_reviews_messages_in_the_browser(said, admin_page):
    page = admin_page
    page.goto(f"{page.base_url}/admin/")
    page.click("#inbox-module a")
    page.wait_for_selector("#inbox-groups")
    assert page.locator("tr.group").count() == 6
    assert row(page, "I am sad").locator("td.count").inner_text() == "2"
    assert fits_width(page)
    screenshot(page, "inbox-1366")

    # A very long message is shortened until the reviewer opens it.
    long = page.locator("details.long")
    assert not long.locator("div.said").is_visible()
    long.locator("summary").click()
    assert long.locator("div.said").inner_text() == LONG
    assert fits_width(page)

    # Confirm two groups at once: three messages.
    row(page, "are you a bot?").locator("input.pick").check()
    row(page, "hello").locator("input.pick").check()
    page.click("#confirm-selected")
    page.wait_for_selector("text=Confirmed the predicted intent of 3 message(s).")
    assert corrections() == [
        ("are you a bot?", "bot_challenge"),
        ("hello", "greet"),
        ("hello", "greet"),
    ]

    # Relabel two groups at once: the sad ones and "see you".
    row(page, "I am sad").locator("input.pick").check()
    row(page, "see you").locator("input.pick").check()
    page.select_option("#relabel-intent", "mood_unhappy")
    page.click("#relabel-selected")
    page.wait_for_selector("text=Relabelled 3 message(s) as mood_unhappy.")
    assert corrections() == [
        ("I am sad", "mood_unhappy"),
        ("I am sad", "mood_unhappy"),
        ("are you a bot?", "bot_challenge"),
        ("hello", "greet"),
        ("hello", "greet"),
        ("see you", "mood_unhappy"),
    ]
    assert "confirmed" in row(page, "hello").locator("td.status").inner_text()
    assert "mood_unhappy" in row(page, "see you").locator("td.status").inner_text()
    assert fits_width(page)
    screenshot(page, "inbox-reviewed")

    # What is left to review.
    page.check("#id_unreviewed")
    page.click("#inbox-filters input[type=submit]")
    page.wait_for_selector("#inbox-groups")
    assert page.locator("tr.group").count() == 2
    assert "unreviewed=on" in page.url
    screenshot(page, "inbox-unreviewed")

    # The reviewed messages as training data.
    page.goto(f"{page.base_url}/admin/inbox/")
    with page.expect_download() as download:
        page.click("#inbox-export")
    nlu = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))["nlu"]
    assert {item["intent"]: item["examples"] for item in nlu} == {
        "bot_challenge": "- are you a bot?\n",
        "greet": "- hello\n",
        "mood_unhappy": "- I am sad\n- see you\n",
    }
