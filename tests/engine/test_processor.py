"""The turn loop on initbot: conversation, sessions, restart, pause, external intents."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from engine.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ReminderScheduled,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from engine.processor import MessageProcessor, UnknownActionError, UnknownIntentError
from engine.tracker import Tracker
from tests.engine.processor_support import FakeClock, new_tracker, trained_model


@pytest.fixture(scope="module")
def model():
    return trained_model("initbot")


def _actions(events) -> list[str]:
    return [e.action_name for e in events if isinstance(e, ActionExecuted)]


def test_it_runs_a_full_initbot_conversation(model):
    processor = MessageProcessor(model, rng=random.Random(1))
    tracker = new_tracker(model)
    greet = processor.handle_message(tracker, text="hello", sender_id="tester")
    assert _actions(greet.events) == [
        "action_session_start",
        "action_listen",
        "utter_greet",
        "action_listen",
    ]
    assert greet.messages == [{"text": "Hey! How are you?"}]
    sad = processor.handle_message(tracker, text="I am sad", sender_id="tester")
    assert _actions(sad.events) == ["utter_cheer_up", "utter_did_that_help", "action_listen"]
    assert sad.messages == [
        {"text": "Here is something to cheer you up:"},
        {"image": "https://i.imgur.com/nGF1K8f.jpg"},
        {"text": "Did that help you?"},
    ]
    happy = processor.handle_message(tracker, text="yes", sender_id="tester")
    assert happy.messages == [{"text": "Great, carry on!"}]
    bye = processor.handle_message(tracker, text="bye", sender_id="tester")
    assert bye.messages == [{"text": "Bye"}]
    assert tracker.latest_action_name == "action_listen"


def test_it_tags_every_new_event_with_the_model(model):
    processor = MessageProcessor(model)
    result = processor.handle_message(new_tracker(model), text="hi", sender_id="t")
    for event in result.events:
        assert event.metadata["model_id"] == model.model_id
        assert event.metadata["assistant_id"] == "placeholder_default"


def test_it_applies_the_returned_events_to_the_tracker(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    result = processor.handle_message(tracker, text="hi", sender_id="t")
    assert tracker.events == result.events
    bot = next(e for e in result.events if isinstance(e, BotUttered))
    assert bot.metadata["utter_action"] == "utter_greet"


def test_it_honours_the_intent_shortcut_syntax(model):
    processor = MessageProcessor(model)
    result = processor.handle_message(new_tracker(model), text="/greet", sender_id="t")
    user = next(e for e in result.events if isinstance(e, UserUttered))
    assert user.intent == {"name": "greet", "confidence": 1.0}
    assert "utter_greet" in _actions(result.events)


def test_it_sets_session_metadata_before_the_session_starts(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    result = processor.handle_message(tracker, text="hi", sender_id="t", metadata={"a": 1})
    first, second = result.events[:2]
    assert first == SlotSet("session_started_metadata", {"a": 1})
    assert second.action_name == "action_session_start"
    assert tracker.slots["session_started_metadata"] == {"a": 1}


def test_it_starts_a_new_session_after_expiry_and_carries_slots(model):
    clock = FakeClock()
    processor = MessageProcessor(model, clock=clock)
    tracker = new_tracker(model)
    processor.handle_message(tracker, text="hi", sender_id="t", metadata={"k": "v"})
    clock.advance(30 * 60)
    again = processor.handle_message(tracker, text="hi", sender_id="t")
    assert "action_session_start" not in _actions(again.events)
    clock.advance(61 * 60)
    later = processor.handle_message(tracker, text="hi", sender_id="t")
    assert _actions(later.events)[:2] == ["action_session_start", "action_listen"]
    assert later.events[1] == SessionStarted()
    assert SlotSet("session_started_metadata", {"k": "v"}) in later.events[:4]
    assert tracker.slots["session_started_metadata"] == {"k": "v"}


def test_it_restarts_and_opens_a_new_session(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    processor.handle_message(tracker, text="hi", sender_id="t")
    result = processor.handle_message(tracker, text="/restart", sender_id="t")
    assert _actions(result.events) == ["action_restart", "action_session_start", "action_listen"]
    assert tracker.latest_action_name == "action_listen"
    assert tracker.followup_action is None


def test_it_only_reacts_to_restart_when_paused(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    processor.handle_message(tracker, text="hi", sender_id="t")
    tracker.update(ConversationPaused())
    ignored = processor.handle_message(tracker, text="hi", sender_id="t")
    assert _actions(ignored.events) == []
    restarted = processor.handle_message(tracker, text="/restart", sender_id="t")
    assert _actions(restarted.events)[0] == "action_restart"


def test_it_logs_a_message_without_predicting(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    result = processor.log_message(tracker, text="hi", sender_id="t")
    assert [e.type_name for e in result.events] == ["action", "session_started", "action", "user"]
    assert result.messages == []


def test_it_triggers_an_external_intent(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    processor.log_message(tracker, text="hi", sender_id="t", input_channel="rest")
    result = processor.trigger_intent(tracker, intent="greet", entities={"x": 1}, sender_id="t")
    user = result.events[0]
    assert user.text == "EXTERNAL: greet"
    assert user.metadata["is_external"] is True
    assert user.input_channel == "rest"
    assert user.entities == [{"entity": "x", "value": 1}]
    assert result.messages == [{"text": "Hey! How are you?"}]


def test_it_refuses_unknown_intents_and_actions_without_events(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    with pytest.raises(UnknownIntentError):
        processor.trigger_intent(tracker, intent="nope", entities=[], sender_id="t")
    with pytest.raises(UnknownActionError):
        processor.execute_action(
            tracker, action_name="nope", policy=None, confidence=None, sender_id="t"
        )
    assert tracker.events == []


def test_it_executes_one_action_without_a_loop(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    result = processor.execute_action(
        tracker, action_name="utter_happy", policy="manual", confidence=0.7, sender_id="t"
    )
    assert _actions(result.events) == ["action_session_start", "action_listen", "utter_happy"]
    action = [e for e in result.events if isinstance(e, ActionExecuted)][-1]
    assert (action.policy, action.confidence) == ("manual", 0.7)


def test_it_predicts_without_executing(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    processor.log_message(tracker, text="hello", sender_id="t")
    result = processor.predict_next(tracker, sender_id="t")
    assert result.events == []
    assert result.prediction.action_name == "utter_greet"
    assert len(result.prediction.probabilities) == len(model.domain.action_names_or_texts)


def test_it_stops_after_max_predictions(model):
    processor = MessageProcessor(model, max_predictions=1)
    tracker = new_tracker(model)
    MessageProcessor(model).handle_message(tracker, text="/greet", sender_id="t")
    result = processor.handle_message(tracker, text="/mood_unhappy", sender_id="t")
    assert _actions(result.events)[-1] == "utter_cheer_up"


def test_it_fires_a_due_reminder_that_still_counts(model):
    clock = FakeClock()
    processor = MessageProcessor(model, clock=clock)
    tracker = new_tracker(model)
    processor.log_message(tracker, text="hi", sender_id="t")
    when = datetime.fromtimestamp(clock.now + 60, tz=UTC)
    reminder = ReminderScheduled("greet", when, name="r1", kill_on_user_message=False)
    tracker.update(reminder)
    processor.log_message(tracker, text="still here", sender_id="t")
    clock.advance(61)
    fired = processor.handle_reminder(tracker, reminder, sender_id="t")
    assert fired.skipped == ""
    assert fired.events[0].text == "EXTERNAL: greet"
    assert fired.messages == [{"text": "Hey! How are you?"}]


def test_it_drops_a_reminder_after_the_user_spoke(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    processor.handle_message(tracker, text="hi", sender_id="t")
    reminder = ReminderScheduled("greet", datetime.now(UTC), name="r2")
    tracker.update(reminder)
    processor.handle_message(tracker, text="hi", sender_id="t")
    result = processor.handle_reminder(tracker, reminder, sender_id="t")
    assert result.events == []
    assert result.skipped == "the user spoke after it was set"


def test_it_continues_a_tracker_restored_from_a_snapshot_window(model):
    processor = MessageProcessor(model)
    tracker = new_tracker(model)
    processor.handle_message(tracker, text="/greet", sender_id="t")
    stored = list(tracker.events)
    restored = Tracker.from_snapshot(
        "t",
        tracker.to_snapshot(),
        model.domain.slot_defaults(),
        recent_events=stored[-2:],
        session_events_loader=lambda: stored,
    )
    result = processor.handle_message(restored, text="/mood_unhappy", sender_id="t")
    assert "action_session_start" not in _actions(result.events)
    assert _actions(result.events)[0] == "utter_cheer_up"
