from __future__ import annotations

import yaml

from engine.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from engine.story_writer import annotate_entities, write_test_stories


def session(ts: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=ts),
        SessionStarted(ts),
        ActionExecuted("action_listen", timestamp=ts),
    ]


def greet(ts: float) -> list[Event]:
    return [
        UserUttered("hi", {"name": "greet", "confidence": 1.0}, timestamp=ts),
        ActionExecuted("utter_greet", timestamp=ts),
        BotUttered("Hey!", timestamp=ts),
        ActionExecuted("action_listen", timestamp=ts),
    ]


def test_it_writes_the_latest_session_as_a_test_story():
    events = [
        *session(1),
        *greet(2),
        *session(3),
        *greet(4),
        SlotSet("requested_slot", "some value", timestamp=5),
        ActiveLoop("restaurant_form", timestamp=5),
    ]
    assert write_test_stories("me", events).strip() == (
        'version: "3.1"\n'
        "stories:\n"
        "- story: me\n"
        "  steps:\n"
        "  - intent: greet\n"
        "    user: |-\n"
        "      hi\n"
        "  - action: utter_greet\n"
        "  - slot_was_set:\n"
        "    - requested_slot: some value\n"
        "  - active_loop: restaurant_form"
    )


def test_it_writes_one_story_per_session_with_all_sessions():
    events = [*session(1), *greet(2), *session(5), *greet(6)]
    stories = yaml.safe_load(write_test_stories("me", events, all_sessions=True))["stories"]
    assert [s["story"] for s in stories] == ["me, story 1", "me, story 2"]


def test_it_cuts_sessions_at_until_and_drops_empty_ones():
    events = [*session(1), *greet(2), *session(5), *greet(6)]
    text = write_test_stories("me", events, all_sessions=True, until=4)
    stories = yaml.safe_load(text)["stories"]
    assert [s["story"] for s in stories] == ["me"]


def test_it_writes_empty_conversations_like_rasa():
    assert write_test_stories("me", [], all_sessions=True).strip() == 'version: "3.1"'
    assert write_test_stories("me", []).strip() == (
        'version: "3.1"\nstories:\n- story: me\n  steps: []'
    )


def test_it_keeps_a_restart_inside_a_session():
    events = [
        *session(1),
        UserUttered("/restart", {"name": "restart"}, timestamp=2),
        ActionExecuted("action_restart", timestamp=2),
        Restarted(2),
    ]
    steps = yaml.safe_load(write_test_stories("me", events))["stories"][0]["steps"]
    assert steps == [{"intent": "restart", "user": "/restart"}, {"action": "action_restart"}]


def test_it_annotates_entities_inline():
    text = "fly from Berlin to rome"
    entities = [
        {"entity": "city", "start": 9, "end": 15, "value": "Berlin", "role": "from"},
        {"entity": "city", "start": 19, "end": 23, "value": "Rome"},
    ]
    assert annotate_entities(text, entities) == (
        'fly from [Berlin]{"entity": "city", "role": "from"} to '
        '[rome]{"entity": "city", "value": "Rome"}'
    )
    assert annotate_entities(
        "in Paris", [{"entity": "city", "start": 3, "end": 8, "value": "Paris"}]
    ) == ("in [Paris](city)")


def test_it_writes_e2e_bot_texts_and_full_retrieval_intents():
    events = [
        UserUttered(
            "what is your name",
            {"name": "faq", "full_retrieval_intent_name": "faq/ask_name"},
            timestamp=1,
        ),
        ActionExecuted(None, action_text="I am a bot", timestamp=1),
        ActiveLoop(None, timestamp=1),
    ]
    steps = yaml.safe_load(write_test_stories("me", events))["stories"][0]["steps"]
    assert steps == [
        {"intent": "faq/ask_name", "user": "what is your name"},
        {"bot": "I am a bot"},
        {"active_loop": None},
    ]
