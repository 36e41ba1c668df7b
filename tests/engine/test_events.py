from __future__ import annotations

from datetime import datetime

import pytest

from engine.errors import EventsValidationError
from engine.events import (
    EVENT_CLASSES,
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AgentUttered,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    FollowupAction,
    LoopInterrupted,
    ReminderCancelled,
    ReminderScheduled,
    Restarted,
    SessionStarted,
    SlotSet,
    StoryExported,
    UserUtteranceReverted,
    UserUttered,
    event_from_dict,
    events_from_dicts,
)

ALL_EVENTS = [
    UserUttered(
        "hi",
        {"name": "greet", "confidence": 0.9},
        [{"entity": "name", "value": "Ann", "start": 0, "end": 2}],
        {"intent_ranking": [{"name": "greet", "confidence": 0.9}]},
        timestamp=1.0,
        input_channel="rest",
        message_id="m1",
        metadata={"k": 1},
    ),
    DefinePrevUserUtteredFeaturization(False, 2.0),
    EntitiesAdded([{"entity": "x", "value": 1}], 3.0),
    BotUttered("hello", {"buttons": [{"title": "a", "payload": "/a"}]}, {"utter_action": "u"}, 4),
    SlotSet("name", {"nested": [1, 2]}, 5.0),
    Restarted(6.0),
    UserUtteranceReverted(7.0),
    ActionReverted(8.0),
    AllSlotsReset(9.0),
    ReminderScheduled("remind", datetime(2024, 1, 2, 3, 4, 5), [], "rem1", False, 10.0),
    ReminderCancelled("rem1", "remind", [], timestamp=11.0),
    ConversationPaused(12.0),
    ConversationResumed(13.0),
    FollowupAction("action_x", 14.0),
    StoryExported("stories.yml", 15.0),
    ActiveLoop("restaurant_form", 16.0),
    LoopInterrupted(True, 17.0),
    ActionExecutionRejected("restaurant_form", "RulePolicy", 0.5, 18.0),
    SessionStarted(19.0, {"model_id": "abc"}),
    AgentUttered("agent", {"a": 1}, 20.0),
    ActionExecuted("utter_greet", "RulePolicy", 1.0, 21.0, action_text=None),
    ActionExecuted(None, None, None, 22.0, action_text="Hello there"),
]


def test_it_covers_every_event_type():
    assert {type(e).type_name for e in ALL_EVENTS} == set(EVENT_CLASSES)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.type_name)
def test_it_round_trips_every_type(event):
    data = event.to_dict()
    again = event_from_dict(data)
    assert again.to_dict() == data
    assert again == event
    assert type(again) is type(event)


def test_it_serialises_user_like_rasa():
    event = UserUttered("hi", {"name": "greet", "confidence": 1.0}, timestamp=5.0)
    assert event.to_dict() == {
        "event": "user",
        "timestamp": 5.0,
        "text": "hi",
        "parse_data": {
            "intent": {"name": "greet", "confidence": 1.0},
            "entities": [],
            "text": "hi",
            "message_id": None,
            "metadata": {},
        },
        "input_channel": None,
        "message_id": None,
        "metadata": {},
    }
    assert event.intent_name == "greet"


def test_it_serialises_action_like_rasa():
    assert ActionExecuted("action_listen", timestamp=3.0).to_dict() == {
        "event": "action",
        "timestamp": 3.0,
        "name": "action_listen",
        "policy": None,
        "confidence": None,
        "action_text": None,
        "hide_rule_turn": False,
    }


def test_it_serialises_metadata_only_when_present():
    assert SlotSet("a", 1, 1.0).to_dict() == {
        "event": "slot",
        "timestamp": 1.0,
        "name": "a",
        "value": 1,
    }
    assert Restarted(2.0, {"x": 1}).to_dict() == {
        "event": "restart",
        "timestamp": 2.0,
        "metadata": {"x": 1},
    }
    assert BotUttered("t", timestamp=1.0).to_dict()["metadata"] == {}
    assert BotUttered("t", timestamp=1.0).to_dict()["data"] == {}


def test_it_reads_user_intent_and_entities_from_parse_data():
    event = event_from_dict(
        {
            "event": "user",
            "text": "I am Ann",
            "parse_data": {
                "intent": {"name": "inform", "confidence": 0.7},
                "entities": [{"entity": "name", "value": "Ann"}],
                "response_selector": {"faq": {}},
            },
            "input_channel": "rest",
            "message_id": "42",
        }
    )
    assert event.intent_name == "inform"
    assert event.entities == [{"entity": "name", "value": "Ann"}]
    assert event.text == "I am Ann"
    assert event.input_channel == "rest"
    assert event.message_id == "42"
    assert event.parse_data["response_selector"] == {"faq": {}}


def test_it_reads_legacy_form_events_as_loop_events():
    form = event_from_dict({"event": "form", "name": "f", "timestamp": 1})
    assert isinstance(form, ActiveLoop)
    assert form.to_dict()["event"] == "active_loop"
    validation = event_from_dict({"event": "form_validation", "validate": False})
    assert isinstance(validation, LoopInterrupted)
    assert validation.is_interrupted is True
    assert validation.to_dict()["event"] == "loop_interrupted"


def test_it_ignores_legacy_topic_events():
    assert event_from_dict({"event": "topic", "topic": "x"}) is None
    events = events_from_dicts([{"event": "topic"}, {"event": "restart", "timestamp": 1}])
    assert events == [Restarted()]


def test_it_rejects_unknown_types():
    with pytest.raises(EventsValidationError, match="Unknown event type 'nope'"):
        event_from_dict({"event": "nope"})
    with pytest.raises(EventsValidationError):
        event_from_dict({"timestamp": 1})


def test_it_rejects_an_action_without_name_or_text():
    with pytest.raises(EventsValidationError):
        event_from_dict({"event": "action", "name": None})


def test_it_compares_ignoring_timestamps():
    assert SlotSet("a", 1, 1.0) == SlotSet("a", 1, 99.0)
    assert SlotSet("a", 1) != SlotSet("a", 2)
    assert UserUttered("hi", {"name": "greet"}, timestamp=1) == UserUttered(
        "hi", {"name": "greet", "confidence": 0.3}, timestamp=2
    )
    assert ActionExecuted("a", "p1", 0.1, 1.0) == ActionExecuted("a", "p2", 0.9, 2.0)
    assert Restarted(1.0) == Restarted(2.0)
    assert Restarted() != SessionStarted()
    assert len({SlotSet("a", 1, 1.0), SlotSet("a", 1, 2.0)}) == 1


def test_it_defaults_timestamps_to_now():
    import time

    before = time.time()
    assert Restarted().timestamp >= before


def test_it_reads_reminder_dates_and_defaults():
    event = event_from_dict(
        {"event": "reminder", "intent": "x", "date_time": "2024-05-01T10:00:00Z"}
    )
    assert event.kill_on_user_message is True
    assert event.name
    assert event.to_dict()["date_time"] == "2024-05-01T10:00:00+00:00"
    with pytest.raises(EventsValidationError):
        event_from_dict({"event": "reminder", "intent": "x", "date_time": "soon"})
