"""End to end in a real headless Chromium: a reviewer's whole round, screenshots kept.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright for Python.
"""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest
from django.db import connections

from engine.project import load_project
from engine.training import train
from tests.admin.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.admin.conftest import PASSWORD, chat
from tests.conftest import BOTS
from trackers.models import Conversation, Correction

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Chromium is missing: apt-get install chromium"
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("open_auth", "initbot"),
]


@pytest.fixture
def page(monkeypatch, live_server):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        yield context.new_page()
        browser.close()
        # ORM calls made while Playwright runs get a connection of their own context;
        # left open, it stops PostgreSQL from dropping the test database at the end.
        connections.close_all()


@pytest.fixture
def conversations(client):
    from django.contrib.auth.models import User

    User.objects.create_superuser("reviewer", "r@example.com", PASSWORD)
    chat(
        client,
        "happy-user",
        ("hello there", "greet", 0.97, "utter_greet", "Hey! How are you?"),
        ("I feel great", "mood_great", 0.91, "utter_happy", "Great, carry on!"),
        channel="rest",
    )
    chat(
        client,
        "sad-user",
        ("hi", "greet", 0.95, "utter_greet", "Hey! How are you?"),
        ("my parcel never came", "mood_great", 0.42, "utter_happy", "Great, carry on!"),
        channel="rest",
    )
    return Conversation.objects.order_by("sender_id")


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/trackers/conversation/")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")


def result_ids(page) -> list[str]:
    return page.locator("#result_list tbody th a").all_inner_texts()


def test_it_filters_and_searches_the_list(page, live_server, conversations):
    log_in(page, live_server)
    assert sorted(result_ids(page)) == ["happy-user", "sad-user"]
    page.click('details[data-filter-title="intent (any user message)"] >> text=mood_great')
    page.wait_for_url("**intent=mood_great**")
    page.fill("#searchbar", "parcel")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**q=parcel**")
    assert result_ids(page) == ["sad-user"]
    page.screenshot(path=str(ARTIFACTS / "admin-list-filtered.png"), full_page=True)


def test_it_reviews_a_conversation_and_trains_on_the_export(
    page, live_server, conversations, tmp_path
):
    log_in(page, live_server)
    page.click("#result_list >> text=sad-user")
    page.wait_for_selector(".bubble.user")
    assert "my parcel never came" in page.locator(".bubble.user").all_inner_texts()
    assert "Hey! How are you?" in page.locator(".bubble.bot").all_inner_texts()

    row = page.locator(".t-row.user", has_text="my parcel never came")
    row.locator("summary").click()
    row.locator('input[name="value"][list="known-intents"]').fill("mood_unhappy")
    row.locator("button.relabel-intent").click()
    page.wait_for_selector("text=Stored the intent correction")
    assert page.locator(".t-row.user .correction").first.inner_text() == "mood_unhappy"

    page.fill('input[name="tag"][list="known-tags"]', "late-delivery")
    page.click("#add-tag")
    page.wait_for_selector("#tags >> text=late-delivery")
    page.click("#toggle-reviewed")
    page.wait_for_selector("#reviewed-state.reviewed-yes")
    page.screenshot(path=str(ARTIFACTS / "admin-transcript.png"), full_page=True)

    sad = Conversation.objects.get(sender_id="sad-user")
    assert sad.reviewed and list(sad.tags.values_list("name", flat=True)) == ["late-delivery"]
    assert Correction.objects.get().intent == "mood_unhappy"

    archive = export_from_list(page, live_server, tmp_path)
    assert "my parcel never came" in archive.read("data/nlu.yml").decode()
    bot = tmp_path / "bot"
    archive.extractall(bot)
    for name in ("domain.yml", "config.yml"):
        shutil.copy(BOTS / "initbot" / name, bot / name)
    result = train(load_project(bot), output_dir=tmp_path / "models")
    assert result.path.exists()


def export_from_list(page, live_server, tmp_path) -> zipfile.ZipFile:
    page.goto(f"{live_server.url}/admin/trackers/conversation/?reviewed__exact=1")
    page.check("#result_list tbody input.action-select")
    page.select_option('select[name="action"]', "export_training_data")
    with page.expect_download() as download:
        page.click('button[name="index"]')
    target = tmp_path / "export.zip"
    download.value.save_as(target)
    page.screenshot(path=str(ARTIFACTS / "admin-export.png"), full_page=True)
    return zipfile.ZipFile(io.BytesIO(target.read_bytes()))
