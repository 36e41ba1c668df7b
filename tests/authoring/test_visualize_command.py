"""``manage.py visualize``: the story graph written as HTML (default) or SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.admin.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REVIEWER_VIEWPORT, screenshot
from tests.conftest import BOTS
from tests.engine.bot_folders import write_bot

SVG = "{http://www.w3.org/2000/svg}"


def visualize(*args: str) -> str:
    out = StringIO()
    call_command("visualize", *args, stdout=out)
    return out.getvalue()


def test_it_writes_the_stories_nodes_as_svg(tmp_path):
    out = tmp_path / "graph.svg"
    visualize("--bot", str(write_bot(tmp_path / "bot")), "--out", str(out))
    texts = {t.text for t in ET.parse(out).getroot().iter(f"{SVG}text")}
    assert texts == {"START", "END", "greet", "utter_greet", "affirm", "deny"} | {
        "utter_happy",
        "utter_sad",
    }


def test_it_writes_graph_html_in_the_current_directory_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output = visualize("--bot", str(BOTS / "moodbot"))
    page = (tmp_path / "graph.html").read_text()
    assert str(tmp_path / "graph.html") in output
    assert page.startswith("<!DOCTYPE html>")
    svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
    texts = {t.text for t in ET.fromstring(svg).iter(f"{SVG}text")}
    assert {"mood_unhappy", "utter_cheer_up", "bot_challenge", "utter_iamabot"} <= texts


def test_it_refuses_a_bot_folder_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        visualize("--bot", str(tmp_path / "missing"), "--out", str(tmp_path / "g.svg"))


def test_the_graph_page_draws_every_node_in_chromium(tmp_path, monkeypatch):
    """What a bot author opens: the page lays every node out visibly (screenshot kept)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is missing: apt-get install chromium")
    monkeypatch.chdir(tmp_path)
    visualize("--bot", str(BOTS / "moodbot"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=REVIEWER_VIEWPORT)
        page.goto((tmp_path / "graph.html").as_uri())
        labels = page.locator("svg text")
        assert {"START", "END", "mood_unhappy", "utter_cheer_up"} <= set(labels.all_text_contents())
        boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
        assert all(box and box["width"] > 0 and box["height"] > 0 for box in boxes)
        screenshot(page, "story-graph-moodbot")
        browser.close()
