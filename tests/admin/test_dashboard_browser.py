"""The dashboard in headless Chromium at 1366 px, served by gunicorn: charts drawn, page fits."""

from __future__ import annotations

import pytest

from tests.admin.browser import fits_width, screenshot
from tests.admin.test_dashboard import MAR_1, at, said

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("open_auth", "initbot"),
]

ACTIONS = {"nlu_fallback": "action_default_fallback", "deny": "action_two_stage_fallback"}
INTENTS = ("greet", "mood_great", "mood_unhappy", "affirm", "deny", "nlu_fallback", "goodbye")


@pytest.fixture
def busy_month(client, initbot) -> None:
    """Thirty days of conversations on two channels, some of them falling back."""
    for day in range(30):
        for number in range(day % 4 + 1):
            intents = INTENTS[(day + number) % len(INTENTS) :][: number % 3 + 1] or ("greet",)
            turns = [
                (at(MAR_1, 24 * day + 9 + turn), "hi", intent, ACTIONS.get(intent, "utter_greet"))
                for turn, intent in enumerate(intents)
            ]
            channel = "socketio" if number % 2 else "rest"
            said(client, f"user-{day}-{number}", *turns, channel=channel)


@pytest.mark.usefixtures("busy_month")
def test_it_draws_the_dashboard_within_the_reviewers_screen(admin_page):
    page = admin_page
    page.goto(f"{page.base_url}/admin/")
    page.click("#dashboard-module a")
    page.fill("#id_start", "2026-03-01")
    page.fill("#id_end", "2026-03-30")
    page.click("#dashboard-filters input[type=submit]")
    page.wait_for_selector("#chart-messages svg.chart")
    assert page.locator("svg.chart").count() == 6
    assert page.locator("#chart-messages svg.chart rect").count() == 30
    assert page.text_content("#total-conversations") == "73"
    assert fits_width(page)
    # Side by side: the grid puts two charts in a row at this width.
    first, second = (
        page.locator(f"#chart-{name}").bounding_box() for name in ("conversations", "messages")
    )
    assert first["y"] == second["y"] and second["x"] > first["x"] + first["width"]
    screenshot(page, "admin-dashboard")
    page.select_option("#id_channel", "socketio")
    page.click("#dashboard-filters input[type=submit]")
    page.wait_for_selector("#chart-messages svg.chart")
    assert "channel=socketio" in page.url and fits_width(page)
    screenshot(page, "admin-dashboard-socketio")
