"""``engine.story_conflicts``: same history, different next action, within max_history."""

from __future__ import annotations

from engine.domain import Domain
from engine.story_conflicts import find_story_conflicts
from engine.training_data.stories import story_data_from_yaml

DOMAIN = Domain.from_yaml(
    """
intents: [greet, affirm, deny, ask]
slots:
  vip:
    type: bool
    mappings: [{type: custom}]
  note:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: hi}]
  utter_a: [{text: a}]
  utter_b: [{text: b}]
"""
)


def conflicts(yaml_text: str, max_history: int = 5):
    return find_story_conflicts(story_data_from_yaml(yaml_text), DOMAIN, max_history=max_history)


def story(name: str, *steps: str) -> str:
    lines = [f"- story: {name}", "  steps:"]
    return "\n".join(lines + [f"  - {step}" for step in steps]) + "\n"


def test_it_finds_two_stories_that_continue_differently():
    found = conflicts(
        "stories:\n"
        + story("one", "intent: greet", "action: utter_a")
        + story("two", "intent: greet", "action: utter_b")
    )
    assert len(found) == 1
    assert found[0].after == "intent 'greet'"
    assert found[0].predictions == [("utter_a", ["one"]), ("utter_b", ["two"])]


def test_it_counts_a_story_that_stops_as_predicting_action_listen():
    found = conflicts(
        "stories:\n"
        + story("short", "intent: greet", "action: utter_greet")
        + story("long", "intent: greet", "action: utter_greet", "action: utter_a")
    )
    assert [action for action, _ in found[0].predictions] == ["action_listen", "utter_a"]
    assert found[0].after == "action 'utter_greet'"


def test_it_sees_no_conflict_when_the_histories_differ_within_max_history():
    text = "stories:\n" + story(
        "one", "intent: deny", "action: utter_greet", "intent: greet", "action: utter_a"
    )
    text += story(
        "two", "intent: affirm", "action: utter_greet", "intent: greet", "action: utter_b"
    )
    assert conflicts(text) == []
    assert len(conflicts(text, max_history=1)) == 1


def test_it_tells_histories_apart_by_featurized_slots_only():
    base = ("intent: greet", "action: utter_greet", "intent: ask")
    text = "stories:\n"
    text += story("plain", *base, "action: utter_a")
    text += story("vip", *base[:2], "slot_was_set: [{vip: true}]", base[2], "action: utter_b")
    assert conflicts(text) == []
    text = text.replace("vip: true", "note: hi")
    assert len(conflicts(text)) == 1


def test_it_finds_rules_with_the_same_history_and_different_actions():
    found = conflicts(
        "rules:\n"
        "- rule: one\n  steps:\n  - intent: greet\n  - action: utter_a\n"
        "- rule: two\n  steps:\n  - intent: greet\n  - action: utter_b\n"
    )
    assert len(found) == 1
    assert found[0].is_rule


def test_it_lets_a_rule_end_without_listening():
    found = conflicts(
        "rules:\n"
        "- rule: hand over\n  steps:\n  - intent: greet\n  - action: utter_greet\n"
        "  wait_for_user_input: false\n"
        "- rule: go on\n  steps:\n  - intent: greet\n  - action: utter_greet\n"
        "  - action: utter_a\n"
    )
    assert found == []
