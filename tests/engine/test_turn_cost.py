"""A turn predicts from a short tail of the session, exactly as from the whole session.

Conversations are kept the way the server keeps them (the log plus the latest snapshot) and
every turn runs on a tracker thawed from the snapshot and a few recent events. Each of its
predictions is compared with the ensemble's prediction over a tracker holding every event,
whose states are computed from the whole session.
"""

from __future__ import annotations

import functools
import json
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from engine.events import ActionExecuted, Event, UserUttered
from engine.model import Model, load_model
from engine.processor import MessageProcessor
from engine.project import load_project
from engine.tracker import Tracker
from engine.training import train
from tests.engine.processor_support import BOTS, FakeClock, trained_model

pytestmark = pytest.mark.slow
HOUR = 3600.0


@functools.cache
def _model(bot: str) -> Model:
    """initbot as is; formbot without its custom validation, so no action server is needed."""
    if bot != "formbot":
        return trained_model(bot)
    folder = Path(tempfile.mkdtemp(prefix="convapi-turn-cost-")) / "formbot"
    shutil.copytree(BOTS / "formbot", folder)
    domain = folder / "domain.yml"
    text = domain.read_text(encoding="utf-8")
    domain.write_text(text.replace("- validate_restaurant_form\n", ""), encoding="utf-8")
    return load_model(train(load_project(folder), output_dir=folder.parent / "models").path)


class _WholeSession:
    """A tracker seen without its tail, so the policies compute every state of the session."""

    recent_applied = None

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker

    def __getattr__(self, name: str):
        return getattr(self._tracker, name)


class _StoredConversation:
    """The log and the latest snapshot; each turn thaws them with a window of ``window``."""

    def __init__(self, model: Model, window: int) -> None:
        self.defaults = model.domain.slot_defaults()
        self.window = window
        self.events: list[Event] = []
        self.snapshot = Tracker("c", self.defaults).to_snapshot()
        self.loads = 0

    def restore(self) -> Tracker:
        def load() -> list[Event]:
            self.loads += 1
            return list(self.events)

        recent = self.events[-self.window :] if self.window else []
        return Tracker.from_snapshot(
            "c", self.snapshot, self.defaults, recent_events=recent, session_events_loader=load
        )

    def store(self, tracker: Tracker, events: list[Event]) -> None:
        self.events += events
        self.snapshot = json.loads(json.dumps(tracker.to_snapshot()))


def _prediction(model: Model, tracker) -> tuple:
    prediction = model.policies.predict(tracker, model.domain)
    return prediction.policy_name, prediction.probabilities


def _turn_checked(model, processor, conversation, full, text) -> list[Event]:
    """Run a turn on a thawed tracker, then replay it comparing every prediction."""
    snapshot, before = conversation.snapshot, list(conversation.events)
    tracker = conversation.restore()
    events = processor.handle_message(tracker, text=text, sender_id="c", message_id="m").events
    conversation.store(tracker, events)
    replay = Tracker.from_snapshot(
        "c",
        snapshot,
        conversation.defaults,
        recent_events=before[-conversation.window :] if conversation.window else [],
        session_events_loader=lambda: before,  # the store has not got this turn yet
    )
    for event in events:
        if isinstance(event, ActionExecuted):
            assert _prediction(model, replay) == _prediction(model, _WholeSession(full))
        replay.update(event)
        full.update(event)
    assert _prediction(model, replay) == _prediction(model, _WholeSession(full))
    return events


def _random_conversation(
    bot: str, messages: list[str], turns: int, seed: int, folded_share: float = 0.25
) -> list[Event]:
    """Mostly ordinary messages; now and then a restart, a session start, an undo."""
    model = _model(bot)
    clock = FakeClock()
    processor = MessageProcessor(model, clock=clock, rng=random.Random(seed))
    rng = random.Random(seed)
    conversation = _StoredConversation(model, window=rng.choice([0, 3]))
    full = Tracker("c", conversation.defaults)
    folded = 0
    for _ in range(turns):
        if rng.random() < 0.01:
            clock.advance(2 * HOUR)  # the session expires: the next turn starts one
        clock.advance(1)
        text = rng.choice(RARE_MESSAGES if rng.random() < 0.05 else messages)
        _turn_checked(model, processor, conversation, full, text)
        folded += not conversation.snapshot["applied_tail"]["complete"]
    assert conversation.events == full.events
    assert folded > turns * folded_share  # the tail did leave the session behind
    return conversation.events


def _names(events: list[Event]) -> set[str]:
    return {getattr(e, "action_name", None) or e.type_name for e in events}


RARE_MESSAGES = ["/restart", "/back", "/session_start", "/nlu_fallback"]
INITBOT_MESSAGES = [
    *["/greet", "/mood_great", "/mood_unhappy", "/affirm", "/deny", "/goodbye"],
    *["/bot_challenge", "/greet", "/mood_unhappy", "/affirm", "hello there", "I am sad"],
]
FORMBOT_MESSAGES = [
    *["/request_restaurant", '/inform{"cuisine": "italian"}', '/inform{"number": 4}'],
    *["/affirm", "/deny", "/chitchat", "/stop", "/thankyou", "/greet", "/bot_challenge"],
    *["/request_restaurant", '/inform{"seating": "outside"}', "no preferences", "great"],
]


@pytest.mark.parametrize("seed", range(3))
def test_it_predicts_on_initbot_from_a_short_window_as_from_all_events(seed):
    # initbot's TED is sure of itself everywhere (so is Rasa's: no core fallback in its
    # transcripts); formbot's conversations below bring the fallback's rewinds.
    events = _random_conversation("initbot", INITBOT_MESSAGES, 300, seed)
    expected = {"restart", "session_started", "rewind"}
    assert expected <= _names(events)


@pytest.mark.parametrize("seed", range(3))
def test_it_predicts_on_formbot_from_a_short_window_as_from_all_events(seed):
    # Most of formbot's turns are rule turns hidden from the learned policies; the tail
    # does not count them, so it folds away the session less often than on initbot.
    events = _random_conversation("formbot", FORMBOT_MESSAGES, 300, seed, folded_share=0.04)
    expected = {"restart", "session_started", "rewind", "active_loop", "restaurant_form"}
    assert {*expected, "action_default_fallback"} <= _names(events)


def _long_session(bot: str, script: list[str], turns: int) -> _StoredConversation:
    model = _model(bot)
    processor = MessageProcessor(model, clock=FakeClock(), rng=random.Random(0))
    conversation = _StoredConversation(model, window=10)
    for number in range(turns):
        tracker = conversation.restore()
        text = script[number % len(script)]
        events = processor.handle_message(tracker, text=text, sender_id="c").events
        conversation.store(tracker, events)
    return conversation


def test_it_never_loads_the_session_during_ordinary_initbot_turns():
    script = ["/greet", "/mood_unhappy", "/affirm", "/bot_challenge", "/greet", "/mood_great"]
    conversation = _long_session("initbot", script, 600)
    assert len(conversation.events) > 2500
    assert sum(isinstance(e, ActionExecuted) for e in conversation.events[3:]) > 1000
    assert conversation.loads == 0
    tail = conversation.snapshot["applied_tail"]
    assert len(tail["events"]) < 100  # the snapshot stays small however long the session


def test_it_never_loads_the_session_during_ordinary_formbot_turns():
    """The form filled once, then rules and the form again (done at once: its slots are
    kept). A core fallback's rewind replays the session, so the script has none, as
    formbot's untrained TED (``epochs: 1``) falls back off its rules and stories."""
    form = [
        "/request_restaurant",
        '/inform{"cuisine": "italian"}',
        "/chitchat",
        '/inform{"number": 4}',
        '/inform{"seating": "outside"}',
        "no preferences",
        "great",
    ]
    chatter = ["/thankyou", "/greet", "/chitchat", "/request_restaurant", "/bot_challenge"]
    conversation = _long_session("formbot", form + chatter * 80, 400)
    assert conversation.loads == 0
    # Bounded whatever the length: hidden rule turns make the tail longer than initbot's.
    assert len(conversation.snapshot["applied_tail"]["events"]) < 300


def test_a_long_run_of_hidden_rule_turns_keeps_the_tail_short():
    """Rule turns hidden from the learned policies do not count towards the tail's
    window, but a run of them is still folded away: a turn's cost stays bounded."""
    from engine.applied_tail import HIDDEN_RUN_FACTOR

    tracker = Tracker("c", {})
    tracker.recent_applied(5)
    for _ in range(2_000):
        tracker.update(ActionExecuted("action_listen", "RulePolicy", 1.0, hide_rule_turn=True))
        tracker.update(UserUttered("bot?", {"name": "bot_challenge"}))
        tracker.update(ActionExecuted("utter_iamabot", "RulePolicy", 1.0, hide_rule_turn=True))
    tail = tracker.recent_applied(5)
    kept = sum(isinstance(event, ActionExecuted) for event in tail.events)
    assert not tail.complete
    assert kept <= HIDDEN_RUN_FACTOR * 3 * tail.turns


def test_a_snapshot_keeps_the_tail_without_nulls_and_reads_it_back_unchanged():
    from engine.applied_tail import AppliedTail
    from engine.events import (
        ActionExecutionRejected,
        ActiveLoop,
        AllSlotsReset,
        EntitiesAdded,
        SlotSet,
    )

    entities = [{"entity": "cuisine", "value": "greek", "start": 0, "end": 5}]
    events: list[Event] = [
        UserUttered("/greet", {"name": "greet", "confidence": 1.0}, entities),
        UserUttered(None, None, []),
        ActionExecuted("utter_greet", policy="RulePolicy", confidence=1.0),
        ActionExecuted("utter_ask", hide_rule_turn=True),
        ActionExecuted(None, action_text="a text"),
        SlotSet("cuisine", None),
        SlotSet("outdoor", False),
        SlotSet("numbers", {"a": None, "b": [0]}),
        ActiveLoop("restaurant_form"),
        ActiveLoop(None),
        EntitiesAdded(entities),
        ActionExecutionRejected("restaurant_form"),
        AllSlotsReset(),
    ]
    tail = AppliedTail(turns=100)
    for event in events:
        tail.update(event, loop_names=set())
    stored = json.loads(json.dumps(tail.to_dict()))

    def nulls(value) -> int:
        if isinstance(value, dict):
            return sum(v is None or nulls(v) for v in value.values())
        return 0

    # The slot value's own null stays: it is the value, not an absent field.
    assert [nulls(event) for event in stored["events"]].count(0) == len(stored["events"]) - 1
    assert stored["events"][7]["value"] == {"a": None, "b": [0]}
    restored = AppliedTail.from_dict(stored)
    assert [e.to_dict() for e in restored.events] == [e.to_dict() for e in tail.events]
    assert len(restored.events) == len(events)
