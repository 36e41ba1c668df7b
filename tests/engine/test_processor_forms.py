"""formbot against a REAL rasa-sdk action server: form filling, validation, custom actions."""

from __future__ import annotations

import random
import time

import pytest

from engine.actions.action_server import HttpActionServer, action_payload
from engine.actions.base import ActionContext
from engine.endpoints import ActionEndpoint
from engine.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    LoopInterrupted,
    SlotSet,
)
from engine.processor import MessageProcessor
from engine.reminders import cancels
from engine.responses import ResponseRenderer
from tests.engine.processor_support import (
    FakeClock,
    formbot_model,
    free_port,
    new_tracker,
    start_action_server,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_url():
    port = free_port()
    process = start_action_server(port)
    yield f"http://127.0.0.1:{port}/webhook"
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def model():
    return formbot_model()


@pytest.fixture
def processor(model, server_url):
    endpoint = ActionEndpoint(server_url, timeout=1.0)
    return MessageProcessor(model, action_endpoint=endpoint, rng=random.Random(0))


def _say(processor, tracker, text):
    return processor.handle_message(tracker, text=text, sender_id="diner")


def _texts(result) -> list[str]:
    return [m.get("text") for m in result.messages]


def test_it_fills_the_form_with_a_rejection_and_an_interruption(processor, model):
    tracker = new_tracker(model, "diner")
    assert _texts(_say(processor, tracker, "/request_restaurant")) == ["What cuisine?"]
    assert tracker.active_loop_name == "restaurant_form"
    assert _texts(_say(processor, tracker, '/inform{"cuisine": "italian"}')) == ["How many people?"]
    invalid = _say(processor, tracker, '/inform{"number": "-2"}')
    assert _texts(invalid) == [
        "Number of people should be a positive integer, please try again",
        "How many people?",
    ]
    assert tracker.slots["num_people"] is None
    chitchat = _say(processor, tracker, "/chitchat")
    assert ActionExecutionRejected("restaurant_form") in chitchat.events
    assert _texts(chitchat) == ["chitchat", "How many people?"]
    _say(processor, tracker, '/inform{"number": "4"}')
    assert tracker.slots["num_people"] == 4.0
    _say(processor, tracker, "/affirm")
    _say(processor, tracker, "/deny")
    done = _say(processor, tracker, "great service")
    assert ActiveLoop(None) in done.events
    assert _texts(done)[0] == "All done!"
    assert tracker.slots == {
        "cuisine": "italian",
        "num_people": 4.0,
        "outdoor_seating": True,
        "preferences": "no additional preferences",
        "feedback": "great service",
        "requested_slot": None,
        "session_started_metadata": None,
    }
    assert tracker.active_loop == {}


def _execute(processor, tracker, name):
    return processor.execute_action(
        tracker, action_name=name, policy="manual", confidence=0.5, sender_id="diner"
    )


def test_it_goes_back_into_the_form_after_stop_and_yes(processor, model):
    """formbot's story "stop form + continue": the form asks its slot again, as in Rasa,
    instead of reading "yes" as the cuisine and falling back."""
    tracker = new_tracker(model, "diner")
    _say(processor, tracker, "/request_restaurant")
    assert _texts(_say(processor, tracker, "/stop")) == ["Do you want to continue?"]
    back = _say(processor, tracker, "/affirm")
    assert _texts(back) == ["What cuisine?"]
    names = [type(e).__name__ for e in back.events]
    assert names.index("LoopInterrupted") < names.index("ActionExecuted")
    assert LoopInterrupted(True) in back.events
    assert [e.action_name for e in back.events if isinstance(e, ActionExecuted)] == [
        "restaurant_form",
        "action_listen",
    ]
    assert tracker.active_loop == {**tracker.active_loop, "is_interrupted": False}
    assert _texts(_say(processor, tracker, '/inform{"cuisine": "greek"}')) == ["How many people?"]


def test_the_yes_to_continue_does_not_answer_the_seating_question(processor, model):
    """While the form stands rejected, a mapping conditioned on the asked slot is not used."""
    tracker = new_tracker(model, "diner")
    for text in ("/request_restaurant", '/inform{"cuisine": "greek"}', '/inform{"number": 4}'):
        _say(processor, tracker, text)
    _say(processor, tracker, "/stop")
    back = _say(processor, tracker, "/affirm")
    assert tracker.slots["outdoor_seating"] is None
    assert _texts(back) == ["Do you want to sit outside?"]


def test_an_ignored_intent_fills_no_slot_of_the_form(processor, model):
    """``ignored_intents: [chitchat]``: the from_text preferences slot stays empty."""
    tracker = new_tracker(model, "diner")
    for text in (
        "/request_restaurant",
        '/inform{"cuisine": "greek"}',
        '/inform{"number": 4}',
        "/affirm",
    ):
        _say(processor, tracker, text)
    chitchat = _say(processor, tracker, "/chitchat")
    assert tracker.slots["preferences"] is None
    assert _texts(chitchat) == ["chitchat", "Please provide additional preferences"]


def test_a_slot_given_again_keeps_the_form_going(processor, model):
    tracker = new_tracker(model, "diner")
    _say(processor, tracker, '/request_restaurant{"cuisine": "greek"}')
    again = _say(processor, tracker, '/inform{"cuisine": "greek"}')
    assert SlotSet("cuisine", "greek") in again.events
    assert _texts(again) == ["How many people?"]
    assert not any(isinstance(e, ActionExecutionRejected) for e in again.events)


def test_it_applies_events_and_responses_of_a_custom_action(processor, model):
    tracker = new_tracker(model, "diner")
    result = _execute(processor, tracker, "action_set_name")
    kinds = [e.type_name for e in result.events[-3:]]
    assert kinds == ["action", "bot", "slot"]
    assert result.messages == [{"text": "Hello diner"}]
    assert tracker.slots["cuisine"] == "from the server"


def test_it_logs_a_rejection_instead_of_the_action_on_400(processor, model):
    tracker = new_tracker(model, "diner")
    result = _execute(processor, tracker, "action_reject")
    assert result.events[-1] == ActionExecutionRejected("action_reject")
    assert ActionExecuted("action_reject") not in result.events


def test_it_keeps_only_the_action_event_when_the_server_times_out(processor, model):
    tracker = new_tracker(model, "diner")
    result = _execute(processor, tracker, "action_slow")
    assert result.events[-1].action_name == "action_slow"
    assert "timed out" in result.events[-1].failure
    assert SlotSet("cuisine", "too late") not in result.events


def test_it_keeps_going_when_the_server_is_down(model):
    endpoint = ActionEndpoint(f"http://127.0.0.1:{free_port()}/webhook", timeout=1.0)
    processor = MessageProcessor(model, action_endpoint=endpoint)
    tracker = new_tracker(model, "diner")
    result = _execute(processor, tracker, "action_set_name")
    executed = result.events[-1]
    assert executed.action_name == "action_set_name"
    assert "action server" in executed.failure.lower()
    # The reason is for the reviewer's transcript only: the event's JSON stays Rasa's.
    assert "failure" not in executed.to_dict()


def test_an_action_that_succeeds_has_no_failure(processor, model):
    result = _execute(processor, new_tracker(model, "diner"), "action_set_name")
    executed = [e for e in result.events if isinstance(e, ActionExecuted)]
    assert "action_set_name" in [e.action_name for e in executed]
    assert [e.failure for e in executed] == [None] * len(executed)


def test_it_leaves_out_the_domain_with_a_selective_endpoint(model, server_url):
    tracker = new_tracker(model, "diner")
    renderer = ResponseRenderer(model.domain)
    for selective, has_domain in ((False, True), (True, False)):
        server = HttpActionServer(ActionEndpoint(server_url, enable_selective_domain=selective))
        ctx = ActionContext(tracker, model.domain, renderer, "diner", server=server)
        payload = action_payload("action_echo_domain", ctx)
        assert ("domain" in payload) is has_domain
        assert payload["tracker"]["sender_id"] == "diner"


def test_it_sends_the_domain_again_when_the_server_asks_for_it(model, server_url):
    endpoint = ActionEndpoint(server_url, enable_selective_domain=True, timeout=5.0)
    processor = MessageProcessor(model, action_endpoint=endpoint)
    result = _execute(processor, new_tracker(model, "diner"), "action_echo_domain")
    assert result.messages[0]["text"].startswith("domain has")


def test_it_schedules_and_fires_reminders_a_custom_action_returns(model, server_url):
    clock = FakeClock(time.time())
    endpoint = ActionEndpoint(server_url, timeout=5.0)
    processor = MessageProcessor(model, action_endpoint=endpoint, clock=clock)
    tracker = new_tracker(model, "diner")
    result = _execute(processor, tracker, "action_remind")
    assert [r.name for r in result.reminders] == ["soon", "never"]
    assert [c.name for c in result.cancellations] == ["never"]
    soon, never = result.reminders
    assert cancels(result.cancellations[0], never) and not cancels(result.cancellations[0], soon)
    clock.advance(31)
    fired = processor.handle_reminder(tracker, soon, sender_id="diner")
    assert fired.skipped == ""
    assert fired.events[0].text == "EXTERNAL: greet"
    assert any(e.type_name == "action" for e in fired.events[1:])
