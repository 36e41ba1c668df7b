"""Default actions run on hand-built trackers: two-stage fallback, back, send_text, slots."""

from __future__ import annotations

from engine.actions import ActionContext, action_for_name
from engine.domain import Domain
from engine.events import (
    ACTION_LISTEN,
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from engine.responses import ResponseRenderer
from engine.tracker import Tracker

DOMAIN = Domain.from_yaml(
    """
intents: [greet, inform, affirm, deny]
entities: [city, color]
slots:
  city:
    type: text
    mappings:
    - type: from_entity
      entity: city
  mood:
    type: text
    mappings:
    - type: from_intent
      intent: affirm
      value: good
  note:
    type: text
    mappings:
    - type: from_text
      not_intent: deny
      conditions:
      - active_loop: a_form
        requested_slot: note
  trigger:
    type: bool
    mappings:
    - type: from_trigger_intent
      intent: greet
      value: true
responses:
  utter_default: [{text: "Sorry?"}]
  utter_ask_rephrase: [{text: "Please rephrase"}]
  utter_back: [{text: "Going back"}]
  utter_ask_note: [{text: "Any note?"}]
forms:
  a_form:
    required_slots: [note]
"""
)


def _tracker(*events) -> Tracker:
    tracker = Tracker("t", DOMAIN.slot_defaults())
    for event in [ActionExecuted(ACTION_LISTEN), *events]:
        tracker.update(event)
    return tracker


def _user(intent: str, text: str = "x", entities=None, ranking=None) -> UserUttered:
    parse = {"intent_ranking": ranking} if ranking else None
    return UserUttered(text, {"name": intent, "confidence": 0.4}, entities or [], parse)


def _run(name: str, tracker: Tracker, metadata: dict | None = None):
    ctx = ActionContext(tracker, DOMAIN, ResponseRenderer(DOMAIN), "t", action_metadata=metadata)
    ctx.lookup = lambda n: action_for_name(n, DOMAIN)
    return action_for_name(name, DOMAIN).run(ctx)


def _apply(tracker: Tracker, name: str, events) -> None:
    tracker.update(ActionExecuted(name))
    for event in events:
        tracker.update(event)
    tracker.update(ActionExecuted(ACTION_LISTEN))


def test_it_asks_for_affirmation_with_the_runner_up_intent():
    ranking = [{"name": "nlu_fallback"}, {"name": "greet"}]
    tracker = _tracker(_user("nlu_fallback", ranking=ranking))
    events = _run("action_two_stage_fallback", tracker)
    assert events[0] == ActiveLoop("action_two_stage_fallback")
    assert events[1].text == "Did you mean 'greet'?"
    assert events[1].data["buttons"][1] == {"title": "No", "payload": "/out_of_scope"}


def test_it_asks_to_rephrase_after_a_denial_then_gives_up():
    tracker = _tracker(_user("nlu_fallback"))
    _apply(tracker, "action_two_stage_fallback", _run("action_two_stage_fallback", tracker))
    tracker.update(_user("out_of_scope"))
    rephrase = _run("action_two_stage_fallback", tracker)
    assert [e.text for e in rephrase] == ["Please rephrase"]
    _apply(tracker, "action_two_stage_fallback", rephrase)
    tracker.update(_user("nlu_fallback"))
    again = _run("action_two_stage_fallback", tracker)
    assert again[0].text.startswith("Did you mean")
    _apply(tracker, "action_two_stage_fallback", again)
    tracker.update(_user("out_of_scope"))
    gave_up = _run("action_two_stage_fallback", tracker)
    assert gave_up[0] == ActiveLoop(None)
    assert gave_up[1].text == "Sorry?"
    assert gave_up[2] == UserUtteranceReverted()


def test_it_ends_the_fallback_with_the_clarified_message():
    tracker = _tracker(_user("nlu_fallback"))
    _apply(tracker, "action_two_stage_fallback", _run("action_two_stage_fallback", tracker))
    tracker.update(_user("greet", "/greet"))
    events = _run("action_two_stage_fallback", tracker)
    assert events[:3] == [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted(ACTION_LISTEN),
    ]
    assert events[3].intent == {"name": "greet", "confidence": 1.0}


def test_it_goes_back_two_user_turns():
    events = _run("action_back", _tracker(_user("greet")))
    assert [type(e) for e in events] == [BotUttered, UserUtteranceReverted, UserUtteranceReverted]


def test_it_sends_the_text_of_the_prediction_metadata():
    events = _run("action_send_text", _tracker(), {"message": {"text": "hi there"}})
    assert events[0].text == "hi there"
    assert _run("action_send_text", _tracker())[0].text == ""


def test_it_deactivates_a_loop():
    assert _run("action_deactivate_loop", _tracker()) == [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
    ]


def test_it_restarts_silently_without_utter_restart():
    assert [e.type_name for e in _run("action_restart", _tracker())] == ["restart"]


def test_it_extracts_slots_by_entity_intent_and_trigger():
    message = _user("greet", entities=[{"entity": "city", "value": "Oslo"}])
    events = _run("action_extract_slots", _tracker(message))
    assert events == [SlotSet("city", "Oslo"), SlotSet("trigger", True)]
    assert _run("action_extract_slots", _tracker(_user("affirm"))) == [SlotSet("mood", "good")]


def test_it_sets_a_slot_again_to_an_unchanged_value():
    """As Rasa 3.6 does: a form then sees the slot as given in this message."""
    tracker = _tracker(SlotSet("mood", "good"), _user("affirm"))
    assert _run("action_extract_slots", tracker) == [SlotSet("mood", "good")]


def test_it_fills_from_text_only_when_the_conditions_hold():
    assert _run("action_extract_slots", _tracker(_user("inform", "later"))) == []
    tracker = _tracker(ActiveLoop("a_form"), SlotSet("requested_slot", "note"))
    tracker.update(ActionExecuted(ACTION_LISTEN))
    tracker.update(_user("inform", "later"))
    assert _run("action_extract_slots", tracker) == [SlotSet("note", "later")]
    tracker.update(_user("deny", "no"))
    assert _run("action_extract_slots", tracker) == []


def test_it_runs_a_form_without_validation_action():
    tracker = _tracker(_user("inform"))
    events = _run("a_form", tracker)
    assert events[0] == ActiveLoop("a_form")
    assert events[1] == SlotSet("requested_slot", "note")
    assert events[2].text == "Any note?"


TRIP = Domain.from_yaml(
    """
intents: [inform]
entities: [city]
slots:
  origin:
    type: text
    mappings:
    - type: from_entity
      entity: city
  destination:
    type: text
    mappings:
    - type: from_entity
      entity: city
responses:
  utter_ask_origin: [{text: "From where?"}]
  utter_ask_destination: [{text: "To where?"}]
forms:
  trip_form:
    required_slots: [origin, destination]
"""
)


def test_an_entity_two_slots_of_the_form_map_fills_only_the_asked_one():
    tracker = Tracker("t", TRIP.slot_defaults())
    for event in (ActiveLoop("trip_form"), SlotSet("requested_slot", "destination")):
        tracker.update(event)
    tracker.update(ActionExecuted(ACTION_LISTEN))
    tracker.update(UserUttered("Oslo", {"name": "inform"}, [{"entity": "city", "value": "Oslo"}]))
    ctx = ActionContext(
        tracker=tracker, domain=TRIP, renderer=ResponseRenderer(TRIP), sender_id="t"
    )
    assert action_for_name("action_extract_slots", TRIP).run(ctx) == [
        SlotSet("destination", "Oslo")
    ]
