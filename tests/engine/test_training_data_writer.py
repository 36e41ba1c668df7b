"""The one training-data writer: training stories, rules, NLU examples and their YAML."""

from __future__ import annotations

from engine.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from engine.story_writer import (
    IMPLIED_ACTIONS,
    TRAINING_STORY_STEPS,
    StepOptions,
    annotate_entities,
    dump_training_data,
    examples_block,
    nlu_examples,
    nlu_section,
    story_parts,
    story_steps,
    training_stories,
)
from engine.training_data.nlu import nlu_data_from_yaml
from engine.training_data.stories import ActionStep, UserStep, story_data_from_yaml

TRIP = UserUttered(
    "fly from Berlin",
    {"name": "travel", "confidence": 0.9},
    [{"entity": "city", "start": 9, "end": 15, "value": "Berlin", "role": "from"}],
    timestamp=2,
)
FAQ = UserUttered(
    "your name?", {"name": "faq", "full_retrieval_intent_name": "faq/ask_name"}, timestamp=3
)


def session(ts: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=ts),
        SessionStarted(ts),
        ActionExecuted("action_listen", timestamp=ts),
    ]


def test_training_stories_split_at_sessions_and_restarts_and_name_the_parts():
    events = [
        *session(1),
        TRIP,
        ActionExecuted("utter_trip", timestamp=2),
        Restarted(3),
        FAQ,
        *session(4),
        *session(5),  # an empty session writes no story
    ]
    stories = training_stories("me", events)
    assert [s["story"] for s in stories] == ["me, part 1", "me, part 2"]
    assert stories[0]["steps"] == [
        {"intent": "travel", "entities": [{"city": "Berlin"}]},
        {"action": "utter_trip"},
    ]
    assert stories[1]["steps"] == [{"intent": "faq/ask_name"}]
    assert [len(part) for part in story_parts(events)] == [5, 2, 3, 3]


def test_training_stories_hold_only_the_applied_events():
    events = [*session(1), TRIP, ActionExecuted("utter_wrong", timestamp=2), ActionReverted(2)]
    assert training_stories("me", events) == [
        {"story": "me", "steps": [{"intent": "travel", "entities": [{"city": "Berlin"}]}]}
    ]


def test_steps_follow_the_named_options():
    events = [
        TRIP,
        FAQ,
        UserUttered("no intent", timestamp=4),
        ActionExecuted("action_unlikely_intent", timestamp=4),
        ActionExecuted(None, action_text="I am a bot", timestamp=4),
        SlotSet("city", "Berlin", timestamp=4),
        ActiveLoop("trip_form", timestamp=4),
    ]
    assert story_steps(events, TRAINING_STORY_STEPS) == [
        {"intent": "travel", "entities": [{"city": "Berlin"}]},
        {"intent": "faq/ask_name"},
        {"bot": "I am a bot"},
        {"slot_was_set": [{"city": "Berlin"}]},
        {"active_loop": "trip_form"},
    ]
    options = StepOptions(
        retrieval_intents=False, entity_roles=True, skipped_actions=IMPLIED_ACTIONS
    )
    assert story_steps(events, options)[:3] == [
        {"intent": "travel", "entities": [{"entity": "city", "value": "Berlin", "role": "from"}]},
        {"intent": "faq"},
        {"action": "action_unlikely_intent"},
    ]


def test_nlu_examples_skip_shortcuts_and_excluded_intents_and_repeat_nothing():
    hi = UserUttered("hi\nthere", {"name": "greet"})
    events = [
        hi,
        hi,
        UserUttered("/greet", {"name": "greet"}),
        UserUttered("blah", {"name": "nlu_fallback"}),
        TRIP,
    ]
    examples = nlu_examples(events, excluded_intents=("nlu_fallback",))
    assert examples == {
        "greet": ["hi there"],
        "travel": ['fly from [Berlin]{"entity": "city", "role": "from"}'],
    }
    nlu_examples([UserUttered("hello", {"name": "greet"})], into=examples)
    assert examples["greet"] == ["hi there", "hello"]
    assert nlu_examples([TRIP], labels_only=True) == {
        "travel": ['fly from [Berlin]({"entity": "city", "role": "from"})']
    }


def test_labels_only_annotation_never_writes_the_value():
    entities = [{"entity": "city", "start": 3, "end": 7, "value": "Rome"}]
    assert annotate_entities("to rome", entities) == 'to [rome]{"entity": "city", "value": "Rome"}'
    assert annotate_entities("to rome", entities, labels_only=True) == "to [rome](city)"


def test_the_dumper_writes_rasa_training_files_the_engine_reads_back():
    stories = training_stories("me", [*session(1), TRIP, ActionExecuted("utter_trip")])
    text = dump_training_data(stories=stories)
    assert text == (
        'version: "3.1"\n'
        "stories:\n"
        "- story: me\n"
        "  steps:\n"
        "  - intent: travel\n"
        "    entities:\n"
        "    - city: Berlin\n"
        "  - action: utter_trip\n"
    )
    (story,) = story_data_from_yaml(text).stories
    assert story.steps[1] == ActionStep("utter_trip")

    nlu = nlu_examples([TRIP, UserUttered("hi", {"name": "greet"})])
    text = dump_training_data(nlu=nlu_section(nlu))
    assert text == (
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: greet\n"
        "  examples: |\n"
        "    - hi\n"
        "- intent: travel\n"
        "  examples: |\n"
        '    - fly from [Berlin]{"entity": "city", "role": "from"}\n'
    )
    trip = next(e for e in nlu_data_from_yaml(text).examples if e.intent == "travel")
    assert trip.text == "fly from Berlin"
    assert trip.entities[0]["role"] == "from"


def test_rules_use_the_same_steps():
    steps = story_steps([TRIP, ActionExecuted("utter_trip")], TRAINING_STORY_STEPS)
    text = dump_training_data(rules=[{"rule": "trip", "steps": steps}])
    (rule,) = story_data_from_yaml(text).rules
    assert rule.steps[0] == UserStep("travel", ({"entity": "city", "value": "Berlin"},))


def test_examples_block_writes_one_line_each():
    assert examples_block(["a", "b"]) == "- a\n- b\n"
