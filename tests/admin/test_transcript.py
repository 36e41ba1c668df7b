"""The conversation page: a chat transcript, downloads, and corrections beside the events."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.admin.conftest import CHANGELIST, chat, greeting, user_event
from tests.api.conftest import formbot  # noqa: F401 - a fixture
from tests.conftest import ROOT
from trackers.models import Correction, Event
from trackers.transcript import LONG_TEXT_CHARS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]


def page_of(client, conversation) -> str:
    response = client.get(f"{CHANGELIST}{conversation.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def correct(client, conversation, event: Event, kind: str, value: str):
    return client.post(
        f"{CHANGELIST}{conversation.pk}/review/",
        {"op": "correct", "event_id": event.pk, "kind": kind, "value": value},
    )


def test_it_shows_user_right_bot_left_and_actions_small_between(reviewer):
    conversation = greeting(reviewer, "chatty", text="hello bot")
    page = page_of(reviewer, conversation)
    assert '<div class="bubble user"' in page and '<div class="bubble bot"' in page
    order = [
        "session started",
        "hello bot",
        "greet</b>",
        "0.95",
        "utter_greet",
        "Hey! How are you?",
    ]
    positions = [page.index(marker) for marker in order]
    assert positions == sorted(positions)


def test_it_shows_buttons_images_and_restarts(reviewer):
    conversation = greeting(reviewer, "rich")
    bot = {
        "event": "bot",
        "text": "Pick one",
        "data": {
            "buttons": [{"title": "Yes please", "payload": "/affirm"}],
            "image": "https://example.com/cat.png",
        },
    }
    reviewer.post_json("/conversations/rich/tracker/events", [bot, {"event": "restart"}])
    page = page_of(reviewer, conversation)
    assert "Yes please" in page and 'src="https://example.com/cat.png"' in page
    assert "conversation restarted" in page


def test_it_downloads_test_stories_and_json_events(reviewer):
    conversation = greeting(reviewer, "downloads", text="hello bot")
    story = reviewer.get(f"{CHANGELIST}{conversation.pk}/story.yml")
    assert story.status_code == 200 and "attachment" in story["Content-Disposition"]
    steps = yaml.safe_load(story.content)["stories"][0]["steps"]
    assert steps[0] == {"intent": "greet", "user": "hello bot"}
    events = json.loads(reviewer.get(f"{CHANGELIST}{conversation.pk}/events.json").content)
    assert [e["event"] for e in events][:3] == ["action", "session_started", "action"]
    assert len(events) == conversation.event_count


def test_it_stores_an_intent_relabel_beside_the_untouched_event(reviewer):
    conversation = greeting(reviewer, "relabel", text="hello bot")
    user = conversation.events.get(type_name="user")
    before = dict(user.data)
    response = correct(reviewer, conversation, user, "intent", "bot_challenge")
    assert response.status_code == 302
    correction = Correction.objects.get()
    assert (correction.intent, correction.event_id, correction.author.username) == (
        "bot_challenge",
        user.pk,
        "reviewer",
    )
    user.refresh_from_db()
    assert user.data == before and user.intent_name == "greet"
    page = page_of(reviewer, conversation)
    assert page.index('class="original">greet') < page.index("bot_challenge</span>")


def test_it_fixes_entities_from_inline_markup(reviewer):
    conversation = greeting(reviewer, "entities", text="I live in Berlin")
    user = conversation.events.get(type_name="user")
    correct(reviewer, conversation, user, "entities", "I live in [Berlin](city)")
    fix = Correction.objects.get(kind="entities")
    assert fix.entities == [{"entity": "city", "start": 10, "end": 16, "value": "Berlin"}]
    assert "[Berlin](city)" in page_of(reviewer, conversation)


def test_it_marks_a_bot_action_wrong_and_names_the_right_one(reviewer):
    conversation = greeting(reviewer, "wrong-action")
    action = conversation.events.get(action_name="utter_greet")
    correct(reviewer, conversation, action, "action", "utter_iamabot")
    assert Correction.objects.get().action == "utter_iamabot"
    assert "utter_iamabot</span>" in page_of(reviewer, conversation)


def test_it_refuses_names_the_domain_does_not_know_and_changed_text(reviewer):
    conversation = greeting(reviewer, "refused", text="hello bot")
    user = conversation.events.get(type_name="user")
    correct(reviewer, conversation, user, "intent", "no_such_intent")
    correct(reviewer, conversation, user, "entities", "hello [robot](who)")
    action = conversation.events.get(action_name="utter_greet")
    correct(reviewer, conversation, action, "intent", "greet")
    assert Correction.objects.count() == 0
    page = page_of(reviewer, conversation)
    assert "not in the loaded assistant" in page and "must not change" in page


def test_it_lets_readers_read_but_not_correct(reader, client):
    conversation = chat(client, "read-only", ("hi", "greet", 1.0, "utter_greet", "Hey"))
    page = page_of(reader, conversation)
    assert "Hey" in page and "Relabel intent" not in page and "Delete this" not in page
    user = conversation.events.get(type_name="user")
    assert correct(reader, conversation, user, "intent", "goodbye").status_code == 403
    assert Correction.objects.count() == 0
    assert reader.get(f"{CHANGELIST}{conversation.pk}/delete/").status_code == 403


def test_it_pages_through_a_long_conversation(reviewer, monkeypatch):
    monkeypatch.setattr("trackers.transcript.MAX_EVENTS_SHOWN", 4)
    greeting(reviewer, "long", text="first words")
    for number in range(3):
        turn = (f"message {number}", "greet", 0.9, "utter_greet", "")
        conversation = chat(reviewer, "long", turn)
    count = conversation.event_count
    latest = page_of(reviewer, conversation)
    assert f"Events {count - 3}&ndash;{count} of {count}" in latest
    assert f'href="?upto={count - 4}">earlier events' in latest and "later events" not in latest
    assert "first words" not in latest
    seq = conversation.events.get(type_name="user", text="first words").seq
    response = reviewer.get(f"{CHANGELIST}{conversation.pk}/change/?upto={seq}")
    older = response.content.decode()
    assert f"Events {max(seq - 3, 1)}&ndash;{seq} of {count}" in older and "first words" in older
    assert f'href="?upto={seq + 4}">later events' in older
    # Not a positive number, or past the end of the log: the latest page.
    for bad in ("abc", "-3", "0", "1e9", "99999999999999"):
        page = reviewer.get(f"{CHANGELIST}{conversation.pk}/change/?upto={bad}")
        assert page.status_code == 200
        assert f"Events {count - 3}&ndash;{count}" in page.content.decode()


def element(page: str, event: Event) -> str:
    """The page's markup for one event: its element up to the next event's."""
    start = page.index(f'id="event-{event.seq}"')
    start = page.rindex("<div", 0, start)
    after = page.index(">", start)
    ends = [page.find(marker, after) for marker in ('id="event-', 'id="review-side"')]
    end = min(end for end in ends if end > 0)
    return page[start : page.rindex("<div", 0, end)]


def test_it_folds_metadata_events_behind_one_details_toggle(reviewer):
    conversation = greeting(reviewer, "meta", text="hello bot")
    metadata = [
        {"event": "user_featurization", "use_text_for_featurization": False},
        {"event": "rewind"},
        {"event": "followup", "name": "utter_greet"},
    ]
    reviewer.post_json("/conversations/meta/tracker/events", metadata)
    conversation.refresh_from_db()
    page = page_of(reviewer, conversation)
    assert page.count('type="checkbox" id="show-details"') == 1
    assert "details: 3 metadata events" in page
    for event in conversation.events.filter(type_name__in=["user_featurization", "rewind"]):
        assert 'class="t-event t-meta"' in element(page, event)
    toggle = page.index('id="show-details"')
    assert all(page.index(f'id="event-{e.seq}"') > toggle for e in conversation.events.all())
    for kind in ("user", "action", "bot", "session_started"):
        for event in conversation.events.filter(type_name=kind):
            assert "t-meta" not in element(page, event)
    assert "&quot;use_text_for_featurization&quot;: false" in page  # still there, folded


def test_it_shows_no_details_toggle_without_metadata_events(reviewer):
    page = page_of(reviewer, greeting(reviewer, "plain"))
    assert 'id="show-details"' not in page and "t-meta" not in page.split("</style>")[-1]


def test_it_labels_separators_once_and_cleanly(reviewer):
    conversation = greeting(reviewer, "separated")
    reviewer.post_json("/conversations/separated/tracker/events", {"event": "restart"})
    page = page_of(reviewer, conversation)
    started = conversation.events.get(type_name="session_started")
    assert re.search(r">session started</div>", element(page, started))
    restart = conversation.events.get(type_name="restart")
    assert re.search(r">conversation restarted</div>", element(page, restart))
    assert "SESSION_STARTED" not in page.upper().replace("SESSION STARTED", "")


def test_it_highlights_confidences_under_the_thresholds(reviewer, settings):
    settings.CONVAPI_REVIEW_INTENT_THRESHOLD = 0.6
    settings.CONVAPI_REVIEW_ACTION_THRESHOLD = 0.3
    conversation = chat(
        reviewer,
        "unsure",
        ("hi", "greet", 0.95, "utter_greet", "Hey"),
        ("hm", "mood_great", 0.55, "utter_happy", "Great"),
    )
    shaky = {"event": "action", "name": "utter_goodbye", "policy": "TEDPolicy", "confidence": 0.2}
    reviewer.post_json("/conversations/unsure/tracker/events", shaky)
    page = page_of(reviewer, conversation)
    sure, unsure = conversation.events.filter(type_name="user").order_by("seq")
    assert "low-confidence" in element(page, unsure) and "0.55" in element(page, unsure)
    assert "low-confidence" not in element(page, sure)
    action = conversation.events.get(action_name="utter_goodbye")
    assert 'class="t-event action low-confidence"' in element(page, action)
    # Action confidences of 1.0 (the rule policy's) are above the action threshold.
    assert "low-confidence" not in element(page, conversation.events.get(action_name="utter_happy"))
    settings.CONVAPI_REVIEW_ACTION_THRESHOLD = 0.1
    assert "low-confidence" not in element(page_of(reviewer, conversation), action)


def test_it_shortens_long_messages_with_a_way_to_expand(reviewer):
    long_text = "word " * (LONG_TEXT_CHARS // 5 + 20)
    conversation = greeting(reviewer, "wordy", text="short one")
    reviewer.post_json(
        "/conversations/wordy/tracker/events", [user_event(long_text.strip(), "greet")]
    )
    page = page_of(reviewer, conversation)
    long_event = conversation.events.get(text=long_text.strip())
    assert f'<input type="checkbox" class="expand-toggle" id="expand-{long_event.seq}">' in page
    assert f'for="expand-{long_event.seq}"' in page and long_text.strip() in page
    assert page.count('class="bubble user clamped"') == 1
    assert page.count('expand-toggle" id=') == 1  # the short message is not clamped


def options(page: str, datalist: str) -> list[str]:
    listed = page.split(f'<datalist id="{datalist}">')[1].split("</datalist>")[0]
    return re.findall(r'<option value="([^"]+)">', listed)


def test_it_offers_the_served_domains_intents_entities_and_actions(reviewer, formbot):  # noqa: F811
    page = page_of(reviewer, greeting(reviewer, "choices", text="table for two"))
    offered = {name: options(page, f"known-{name}") for name in ("intents", "actions")}
    assert offered["intents"] == formbot.domain.intents
    assert offered["actions"] == formbot.domain.action_names_or_texts
    assert "restaurant_form" in offered["actions"] and "utter_ask_cuisine" in offered["actions"]
    entities = page.split('class="known-entities"')[1].split("</div>")[0]
    assert re.findall(r"<code>(\w+)</code>", entities) == formbot.domain.entities
    user = Event.objects.get(conversation__sender_id="choices", type_name="user")
    correct(reviewer, user.conversation, user, "intent", "requets_restaurant")
    assert Correction.objects.count() == 0
    correct(reviewer, user.conversation, user, "intent", "request_restaurant")
    assert Correction.objects.get().intent == "request_restaurant"


def settings_read(**env: str) -> subprocess.CompletedProcess:
    code = "import config.settings as s; print(s.CONVAPI_REVIEW_INTENT_THRESHOLD)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env}, capture_output=True
    )


def test_the_thresholds_come_from_the_environment_and_refuse_other_than_0_to_1():
    assert settings_read().stdout.strip() == b"0.5"
    assert settings_read(CONVAPI_REVIEW_INTENT_THRESHOLD="0.7").stdout.strip() == b"0.7"
    refused = settings_read(CONVAPI_REVIEW_ACTION_THRESHOLD="70")
    assert refused.returncode != 0
    assert b"CONVAPI_REVIEW_ACTION_THRESHOLD=70.0: use a number from 0 to 1" in refused.stderr
    assert b"use a number" in settings_read(CONVAPI_REVIEW_INTENT_THRESHOLD="half").stderr
