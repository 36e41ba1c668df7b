"""The conversation page: a chat transcript, downloads, and corrections beside the events."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.admin.conftest import CHANGELIST, chat, greeting
from trackers.models import Correction, Event

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
    order = ["session started", "hello bot", "greet</b> 0.95", "utter_greet", "Hey! How are you?"]
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
