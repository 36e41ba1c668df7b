"""The two-stage fallback through the whole turn loop (initbot plus a fallback rule)."""

from __future__ import annotations

import pytest

from engine.events import ActiveLoop, UserUtteranceReverted, UserUttered
from engine.processor import MessageProcessor
from tests.engine.processor_support import fallback_model, new_tracker


@pytest.fixture(scope="module")
def processor():
    return MessageProcessor(fallback_model())


def _say(processor, tracker, text):
    return processor.handle_message(tracker, text=text, sender_id="t")


def test_it_asks_to_affirm_then_answers_the_clarified_intent(processor):
    tracker = new_tracker(processor.model)
    ask = _say(processor, tracker, "/nlu_fallback")
    assert ask.messages[0]["text"] == "Did you mean 'nlu_fallback'?"
    assert tracker.active_loop_name == "action_two_stage_fallback"
    clarified = _say(processor, tracker, "/greet")
    assert ActiveLoop(None) in clarified.events
    users = [e for e in clarified.events if isinstance(e, UserUttered)]
    assert users[-1].intent == {"name": "greet", "confidence": 1.0}
    assert clarified.messages == [{"text": "Hey! How are you?"}]
    assert tracker.active_loop == {}


def test_it_asks_to_rephrase_and_gives_up_after_a_second_denial(processor):
    tracker = new_tracker(processor.model)
    _say(processor, tracker, "/nlu_fallback")
    assert _say(processor, tracker, "/out_of_scope").messages == [{"text": "Could you rephrase?"}]
    assert _say(processor, tracker, "/nlu_fallback").messages[0]["text"].startswith("Did you")
    gave_up = _say(processor, tracker, "/out_of_scope")
    assert gave_up.messages == [{"text": "I give up."}]
    assert UserUtteranceReverted() in gave_up.events
    assert tracker.active_loop == {}
    assert tracker.latest_action_name == "action_listen"
