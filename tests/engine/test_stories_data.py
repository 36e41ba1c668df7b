from __future__ import annotations

import pytest

from engine.errors import BotError
from engine.training_data.stories import (
    ActionStep,
    LoopStep,
    SlotStep,
    UserStep,
    load_story_files,
    story_data_from_yaml,
)
from tests.conftest import BOTS


def test_it_reads_intents_actions_slots_and_loops():
    data = story_data_from_yaml(
        """
stories:
- story: one
  steps:
  - intent: inform
    entities:
    - city: Berlin
    - cuisine
  - slot_was_set:
    - city: Berlin
    - cuisine
  - action: restaurant_form
  - active_loop: restaurant_form
  - active_loop: null
  - bot: Hello there
"""
    )
    steps = data.stories[0].steps
    assert steps[0] == UserStep(
        "inform", ({"entity": "city", "value": "Berlin"}, {"entity": "cuisine"}), None
    )
    assert steps[1] == SlotStep("city", "Berlin")
    assert steps[2] == SlotStep("cuisine", None, has_value=False)
    assert steps[3] == ActionStep("restaurant_form")
    assert steps[4:6] == [LoopStep("restaurant_form"), LoopStep(None)]
    assert steps[6] == ActionStep(None, "Hello there")
    assert data.intents_used() == {"inform"}
    assert data.actions_used() == {"restaurant_form"}


def test_it_parses_inline_entity_annotations_in_user_text():
    data = story_data_from_yaml(
        """
stories:
- story: e2e
  steps:
  - user: |
      a table in [Berlin](city)
    intent: inform
"""
    )
    step = data.stories[0].steps[0]
    assert step.text == "a table in Berlin"
    assert step.entities[0]["entity"] == "city"
    assert step.entities[0]["value"] == "Berlin"


def test_it_reads_rule_flags_and_conditions():
    data = story_data_from_yaml(
        """
rules:
- rule: greet at start
  conversation_start: true
  wait_for_user_input: false
  condition:
  - active_loop: form_a
  - slot_was_set:
    - done: true
  steps:
  - intent: greet
  - action: utter_greet
"""
    )
    rule = data.rules[0]
    assert rule.is_rule and rule.conversation_start and not rule.wait_for_user_input
    assert rule.conditions == [LoopStep("form_a"), SlotStep("done", True)]
    assert rule.line == 3


def test_it_expands_or_steps_into_linear_stories():
    data = story_data_from_yaml(
        """
stories:
- story: either
  steps:
  - or:
    - intent: affirm
    - intent: thankyou
  - action: utter_ok
"""
    )
    linear = data.linear_stories()
    assert [s.steps[0].intent for s in linear] == ["affirm", "thankyou"]


def test_it_joins_stories_through_checkpoints():
    data = story_data_from_yaml(
        """
stories:
- story: start
  steps:
  - intent: greet
  - action: utter_greet
  - checkpoint: greeted
- story: happy
  steps:
  - checkpoint: greeted
  - intent: mood_great
  - action: utter_happy
- story: sad
  steps:
  - checkpoint: greeted
  - intent: mood_unhappy
  - action: utter_cheer_up
"""
    )
    linear = data.linear_stories()
    assert len(linear) == 2
    assert [s.steps[2].intent for s in linear] == ["mood_great", "mood_unhappy"]
    assert all(s.steps[0].intent == "greet" for s in linear)


def test_it_bounds_checkpoint_loops():
    data = story_data_from_yaml(
        """
stories:
- story: loop
  steps:
  - checkpoint: again
  - intent: more
  - action: utter_more
  - checkpoint: again
- story: start
  steps:
  - intent: hi
  - action: utter_hi
  - checkpoint: again
"""
    )
    linear = data.linear_stories()
    assert 1 <= len(linear) <= 5
    assert max(len(s.steps) for s in linear) <= 2 + 2 * 2


def test_it_names_file_and_line_for_bad_yaml():
    with pytest.raises(BotError) as caught:
        story_data_from_yaml("stories:\n- story: x\n  steps: [\n", source="data/bad.yml")
    assert "data/bad.yml" in str(caught.value)
    assert "line" in str(caught.value)


def test_it_names_file_and_story_for_an_unknown_step_key():
    text = "stories:\n- story: broken one\n  steps:\n  - intnet: greet\n"
    with pytest.raises(BotError) as caught:
        story_data_from_yaml(text, source="data/stories.yml")
    message = str(caught.value)
    assert "data/stories.yml" in message and "broken one" in message and "intnet" in message


def test_it_merges_and_fingerprints_by_content():
    a = story_data_from_yaml("stories:\n- story: a\n  steps:\n  - intent: hi\n", source="a.yml")
    b = story_data_from_yaml("stories:\n- story: a\n  steps:\n  - intent: hi\n", source="b.yml")
    c = story_data_from_yaml("rules:\n- rule: r\n  steps:\n  - intent: bye\n")
    assert a.fingerprint() == b.fingerprint()
    merged = a.merge(c)
    assert len(merged.stories) == 1 and len(merged.rules) == 1
    assert merged.fingerprint() != a.fingerprint()


def test_it_reads_the_reference_bots():
    formbot = load_story_files(
        [f"{BOTS}/formbot/data/stories.yml", f"{BOTS}/formbot/data/rules.yml"]
    )
    assert len(formbot.stories) == 2 and len(formbot.rules) == 6
    assert "restaurant_form" in formbot.actions_used()
    assert formbot.rules[5].conditions == [LoopStep("restaurant_form")]
