from __future__ import annotations

import json
import random

import pytest

from engine.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    EntitiesAdded,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from engine.tracker import (
    EventVerbosity,
    Tracker,
    applied_events,
    events_after_latest_restart,
    serialise_events,
)

EMPTY_MESSAGE = {"text": None, "intent": {}, "entities": [], "message_id": None, "metadata": {}}
DEFAULTS = {"name": None, "requested_slot": None, "session_started_metadata": None}


def user(text: str, intent: str | None = None, ts: float = 1.0, **kwargs) -> UserUttered:
    return UserUttered(text, {"name": intent or text, "confidence": 1.0}, timestamp=ts, **kwargs)


def action(name: str, ts: float = 1.0) -> ActionExecuted:
    return ActionExecuted(name, timestamp=ts)


def session_start(ts: float = 1.0) -> list[Event]:
    return [action("action_session_start", ts), SessionStarted(ts), action("action_listen", ts)]


def restart_example() -> list[Event]:
    return [
        *session_start(1),
        user("hi", "greet", 2),
        action("utter_greet", 3),
        BotUttered("hey", timestamp=3),
        action("action_listen", 4),
        user("/restart", "restart", 5),
        action("action_restart", 6),
        Restarted(6),
        *session_start(7),
        user("hi again", "greet", 8),
    ]


def test_it_reports_the_section_6_example_for_every_verbosity():
    events = restart_example()
    tracker = Tracker.from_events("s", events, DEFAULTS)
    all_state = tracker.current_state(EventVerbosity.ALL)
    assert all_state["events"] == [e.to_dict() for e in events]
    after = tracker.current_state()["events"]
    assert after == [e.to_dict() for e in events[-4:]]
    applied = tracker.current_state(EventVerbosity.APPLIED)["events"]
    assert [e["event"] for e in applied] == ["action", "user"]
    assert applied[0]["name"] == "action_listen"
    assert tracker.current_state(EventVerbosity.NONE)["events"] is None


def test_it_starts_reset():
    state = Tracker("new", DEFAULTS).current_state()
    assert state == {
        "sender_id": "new",
        "slots": DEFAULTS,
        "latest_message": EMPTY_MESSAGE,
        "latest_event_time": None,
        "followup_action": "action_listen",
        "paused": False,
        "events": [],
        "latest_input_channel": None,
        "active_loop": {},
        "latest_action": {},
        "latest_action_name": None,
    }


def test_it_does_not_touch_events_for_verbosity_none():
    class Exploding(list):
        def __iter__(self):
            raise AssertionError("events read")

    tracker = Tracker("s", None)
    tracker.events = Exploding()
    assert tracker.current_state(EventVerbosity.NONE)["events"] is None


def test_it_parses_verbosity_names():
    assert EventVerbosity.from_name("after_restart") is EventVerbosity.AFTER_RESTART
    assert EventVerbosity.from_name("NONE") is EventVerbosity.NONE
    with pytest.raises(ValueError):
        EventVerbosity.from_name("some")


@pytest.mark.parametrize("reset", [Restarted(9), SessionStarted(9)])
def test_it_resets_every_value(reset):
    events = [
        user("hi", "greet", 1, input_channel="rest"),
        action("utter_greet", 2),
        SlotSet("name", "Ann", 3),
        ActiveLoop("form", 4),
        ConversationPaused(5),
        reset,
    ]
    state = Tracker.from_events("s", events, DEFAULTS).current_state()
    assert state["slots"] == DEFAULTS
    assert state["latest_message"] == EMPTY_MESSAGE
    assert state["latest_action"] == {}
    assert state["latest_action_name"] is None
    assert state["active_loop"] == {}
    assert state["paused"] is False
    assert state["latest_event_time"] == 9
    assert state["latest_input_channel"] == "rest"
    expected = "action_session_start" if isinstance(reset, Restarted) else "action_listen"
    assert state["followup_action"] == expected


def test_it_moves_followup_action_through_its_transitions():
    tracker = Tracker("s", None)
    assert tracker.followup_action == "action_listen"
    tracker.update(FollowupAction("action_x"))
    assert tracker.followup_action == "action_x"
    tracker.update(action("action_x"))
    assert tracker.followup_action is None
    tracker.update(FollowupAction("action_y"))
    tracker.update(user("hi"))
    assert tracker.followup_action is None
    tracker.update(Restarted())
    assert tracker.followup_action == "action_session_start"
    tracker.update(SessionStarted())
    assert tracker.followup_action == "action_listen"


def test_it_keeps_only_domain_slots_when_a_domain_is_known():
    events = [SlotSet("name", "Ann"), SlotSet("unknown", 1)]
    assert Tracker.from_events("s", events, DEFAULTS).slots["name"] == "Ann"
    assert "unknown" not in Tracker.from_events("s", events, DEFAULTS).slots
    assert Tracker.from_events("s", events, None).slots == {"name": "Ann", "unknown": 1}
    reset = Tracker.from_events("s", [*events, AllSlotsReset()], DEFAULTS)
    assert reset.slots == DEFAULTS


def test_it_records_the_trigger_message_of_an_active_loop():
    tracker = Tracker.from_events(
        "s", [action("action_listen"), user("book", "request_restaurant"), ActiveLoop("f")], None
    )
    loop = tracker.current_state()["active_loop"]
    assert loop["name"] == "f"
    assert loop["is_interrupted"] is False and loop["rejected"] is False
    assert loop["trigger_message"]["intent"]["name"] == "request_restaurant"
    tracker.update(LoopInterrupted(True))
    assert tracker.active_loop["is_interrupted"] is True
    tracker.update(ActionExecutionRejected("f"))
    assert tracker.active_loop["rejected"] is True
    tracker.update(action("f"))
    assert tracker.active_loop["is_interrupted"] is False
    assert tracker.active_loop["rejected"] is False
    tracker.update(ActiveLoop(None))
    assert tracker.active_loop == {}


def test_it_adds_entities_to_the_latest_message_without_editing_the_log():
    message = user("hi")
    tracker = Tracker.from_events("s", [action("action_listen"), message], None)
    tracker.update(action("action_listen"))
    tracker.update(EntitiesAdded([{"entity": "e", "value": 1}]))
    tracker.update(EntitiesAdded([{"entity": "e", "value": 1}]))
    assert tracker.current_state()["latest_message"]["entities"] == [{"entity": "e", "value": 1}]
    assert message.entities == []


def test_it_rewinds_by_replaying_the_applied_events():
    events = [
        *session_start(),
        user("hi", "greet"),
        SlotSet("name", "Ann"),
        action("utter_greet"),
        action("action_listen"),
        user("bye", "goodbye"),
        SlotSet("name", "Bob"),
        UserUtteranceReverted(),
    ]
    tracker = Tracker.from_events("s", events, DEFAULTS)
    assert tracker.slots["name"] == "Ann"
    assert tracker.latest_message.text == "hi"
    assert tracker.latest_action_name == "utter_greet"
    assert [e.to_dict()["event"] for e in tracker.applied_events()][-2:] == ["slot", "action"]


def test_it_undoes_the_latest_action():
    events = [user("hi"), action("utter_a"), SlotSet("x", 1), action("utter_b"), SlotSet("x", 2)]
    tracker = Tracker.from_events("s", [*events, ActionReverted()], None)
    assert tracker.latest_action_name == "utter_a"
    assert tracker.slots == {"x": 1}


def test_it_collapses_repeated_loop_runs():
    events = [
        action("action_listen"),
        user("book"),
        action("form"),
        ActiveLoop("form"),
        SlotSet("requested_slot", "a"),
        action("action_listen"),
        user("x"),
        action("form"),
        SlotSet("requested_slot", "b"),
    ]
    applied = applied_events(events)
    names = [getattr(e, "action_name", None) or e.type_name for e in applied]
    assert names == ["action_listen", "user", "form", "active_loop", "slot", "slot"]


def test_it_keeps_loop_runs_on_an_unhappy_path():
    events = [
        user("book"),
        action("form"),
        ActiveLoop("form"),
        action("action_listen"),
        user("chitchat"),
        action("utter_chitchat"),
        action("form"),
    ]
    assert applied_events(events) == events


def test_it_selects_events_after_the_latest_restart():
    events = [user("a"), Restarted(), user("b")]
    assert events_after_latest_restart(events) == [user("b")]
    assert events_after_latest_restart(events[:1]) == events[:1]
    assert serialise_events(events, EventVerbosity.NONE) is None


def _random_events(seed: int, count: int) -> list[Event]:
    rng = random.Random(seed)
    makers = [
        lambda i: action("action_listen", i),
        lambda i: user(rng.choice(["hi", "bye", "book"]), None, i, input_channel="rest"),
        lambda i: action(rng.choice(["utter_a", "form", "utter_b"]), i),
        lambda i: SlotSet(rng.choice(["name", "requested_slot", "other"]), i, i),
        lambda i: ActiveLoop(rng.choice(["form", None]), i),
        lambda i: BotUttered("t", timestamp=i),
        lambda i: UserUtteranceReverted(i),
        lambda i: ActionReverted(i),
        lambda i: rng.choice([Restarted(i), SessionStarted(i), AllSlotsReset(i)]),
        lambda i: rng.choice([ConversationPaused(i), ConversationResumed(i)]),
        lambda i: rng.choice([FollowupAction("x", i), LoopInterrupted(True, i)]),
        lambda i: EntitiesAdded([{"entity": "e", "value": i}], i),
        lambda i: ActionExecutionRejected("form", timestamp=i),
    ]
    weights = [6, 6, 6, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    return [rng.choices(makers, weights)[0](float(i)) for i in range(count)]


@pytest.mark.parametrize("seed", range(40))
def test_it_continues_from_a_snapshot_like_a_full_replay(seed):
    events = _random_events(seed, 60)
    split = random.Random(seed).randrange(1, 59)
    window = random.Random(seed + 1).randrange(0, split + 1)
    full = Tracker.from_events("s", events, DEFAULTS)
    head = Tracker.from_events("s", events[:split], DEFAULTS)
    loaded: list[int] = []

    def loader() -> list[Event]:
        loaded.append(1)
        return events[:split]

    thawed = Tracker.from_snapshot(
        "s",
        json.loads(json.dumps(head.to_snapshot())),
        DEFAULTS,
        recent_events=events[split - window : split],
        session_events_loader=loader,
    )
    for event in events[split:]:
        thawed.update(event)
    assert thawed.current_state(EventVerbosity.NONE) == full.current_state(EventVerbosity.NONE)
    assert thawed.has_applied_events() == full.has_applied_events()
    assert thawed.applied_events() == full.applied_events()


def test_it_rewinds_through_the_session_loader_with_a_short_window():
    events = [
        *session_start(),
        user("hi", "greet"),
        SlotSet("name", "Ann"),
        action("utter_greet"),
        action("action_listen"),
        user("bye", "goodbye"),
        SlotSet("name", "Bob"),
    ]
    head = Tracker.from_events("s", events, DEFAULTS)
    calls = []

    def loader() -> list[Event]:
        calls.append(1)
        return list(events)

    thawed = Tracker.from_snapshot(
        "s", head.to_snapshot(), DEFAULTS, recent_events=events[-2:], session_events_loader=loader
    )
    thawed.update(UserUtteranceReverted())
    assert calls == [1]
    assert thawed.slots["name"] == "Ann"
    assert thawed.latest_message.text == "hi"
    assert thawed.events == [*events[-2:], UserUtteranceReverted()]


def test_it_knows_the_latest_user_event_time():
    tracker = Tracker.from_events("s", [user("a", ts=5), action("utter_a", ts=6)], None)
    assert tracker.latest_user_event_time == 5
    tracker.update(SessionStarted(7))
    assert tracker.latest_user_event_time is None
    assert not tracker.has_applied_events()
