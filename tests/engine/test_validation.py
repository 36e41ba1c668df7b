"""``engine.validation``: the checks of ``rasa data validate`` on small bot folders."""

from __future__ import annotations

import pytest

from engine.errors import BotError
from engine.validation import ValidationReport, validate_bot
from tests.conftest import BOTS
from tests.engine.bot_folders import DOMAIN, NLU, STORIES, write_bot


def messages(report: ValidationReport, level: str) -> list[str]:
    return [str(f) for f in report.findings if f.level == level]


def only(report: ValidationReport, level: str, text: str) -> str:
    """The one finding of ``level`` that mentions ``text``."""
    found = [line for line in messages(report, level) if text in line]
    assert len(found) == 1, messages(report, level)
    return found[0]


@pytest.mark.parametrize("bot", ["initbot", "moodbot", "formbot"])
def test_it_finds_no_errors_in_the_reference_bots(bot):
    report = validate_bot(BOTS / bot)
    assert report.errors == []
    assert not report.failed()


def test_it_finds_nothing_in_a_consistent_bot(tmp_path):
    report = validate_bot(write_bot(tmp_path))
    assert [f for f in report.findings if f.level != "debug"] == []


def test_it_warns_about_formbots_unused_utterances_but_not_form_questions():
    warnings = messages(validate_bot(BOTS / "formbot"), "warning")
    assert any("'utter_wrong_cuisine' is not used" in w for w in warnings)
    assert not any("utter_ask_cuisine" in w or "utter_default" in w for w in warnings)


def test_it_reports_a_story_intent_missing_from_the_domain_with_file_and_line(tmp_path):
    stories = STORIES.replace("intent: deny", "intent: refuse")
    report = validate_bot(write_bot(tmp_path, stories=stories))
    line = only(report, "error", "'refuse'")
    assert "stories.yml:9" in line  # the snippet starts with a blank line
    assert "story 'sad'" in line
    assert report.failed()


def test_it_reports_nlu_intents_missing_from_the_domain_as_errors(tmp_path):
    nlu = NLU + "- intent: goodbye\n  examples: |\n    - bye\n"
    report = validate_bot(write_bot(tmp_path, nlu=nlu))
    assert "nlu.yml" in only(report, "error", "'goodbye'")


def test_it_warns_about_domain_intents_without_examples(tmp_path):
    domain = DOMAIN.replace("deny]", "deny, thank]")
    report = validate_bot(write_bot(tmp_path, domain=domain))
    assert "has no NLU examples" in only(report, "warning", "'thank'")
    assert not report.failed()
    assert report.failed(fail_on_warnings=True)


def test_it_mentions_intents_no_story_uses_only_at_debug_level(tmp_path):
    stories = STORIES.split("- story: sad")[0]
    report = validate_bot(write_bot(tmp_path, stories=stories))
    assert "not used in any story" in only(report, "debug", "'deny'")
    assert "'utter_sad' is not used" in only(report, "warning", "utter_sad")


def test_it_reports_unknown_actions_and_utterances_without_responses(tmp_path):
    stories = STORIES.replace("utter_happy", "action_check").replace("utter_sad", "utter_oops")
    report = validate_bot(write_bot(tmp_path, stories=stories))
    assert "not listed in the domain" in only(report, "error", "'action_check'")
    assert "has no response" in only(report, "error", "'utter_oops'")


def test_it_warns_about_listed_actions_that_are_unused_or_lack_a_response(tmp_path):
    domain = DOMAIN + "actions: [action_lonely, utter_silent]\n"
    report = validate_bot(write_bot(tmp_path, domain=domain))
    assert "not used in any story" in only(report, "warning", "'action_lonely'")
    assert "has no response" in only(report, "warning", "'utter_silent'")


def test_it_warns_about_the_same_example_under_two_intents(tmp_path):
    nlu = NLU.replace("    - no\n", "    - no\n    - hello\n")
    report = validate_bot(write_bot(tmp_path, nlu=nlu))
    line = only(report, "warning", "'hello'")
    assert "'deny'" in line and "'greet'" in line


def test_it_warns_about_entities_the_domain_lacks(tmp_path):
    nlu = NLU.replace("    - hi\n", "    - hi [Ann](person)\n")
    report = validate_bot(write_bot(tmp_path, nlu=nlu))
    assert "nlu.yml" in only(report, "warning", "'person'")


def test_it_reports_forms_and_slot_mappings_naming_unknown_slots_and_entities(tmp_path):
    domain = (
        DOMAIN
        + """
entities: [city]
slots:
  town:
    type: text
    mappings:
    - type: from_entity
      entity: place
    - type: from_intent
      intent: inform
      value: x
      conditions:
      - active_loop: trip_form
  seat:
    type: text
    mappings: [{type: from_text}]
forms:
  trip_form:
    required_slots: [date, seat]
"""
    )
    report = validate_bot(write_bot(tmp_path, domain=domain))
    assert "requires the slot 'date'" in only(report, "error", "'trip_form' requires")
    assert "unknown entity 'place'" in only(report, "error", "'place'")
    assert "unknown intent 'inform'" in only(report, "warning", "'inform'")
    assert "does not require it" in only(report, "error", "condition on the form")


def test_it_warns_about_conflicting_stories_naming_both_and_their_actions(tmp_path):
    stories = STORIES.replace("intent: deny", "intent: affirm")
    report = validate_bot(write_bot(tmp_path, stories=stories))
    line = only(report, "warning", "conflict")
    assert "Story structure conflict after intent 'affirm'" in line
    assert "'utter_happy' predicted in 'happy'" in line
    assert "'utter_sad' predicted in 'sad'" in line
    assert not report.failed()


def test_it_reports_contradicting_rules_as_errors(tmp_path):
    rules = """
rules:
- rule: cheer
  steps:
  - intent: deny
  - action: utter_happy
- rule: console
  steps:
  - intent: deny
  - action: utter_sad
"""
    report = validate_bot(write_bot(tmp_path, rules=rules))
    line = only(report, "error", "Rule conflict")
    assert "'utter_happy' predicted in 'cheer'" in line and "rules.yml" in line


def test_it_refuses_an_empty_domain(tmp_path):
    report = validate_bot(write_bot(tmp_path, domain="version: '3.1'\n"))
    assert "domain.yml" in only(report, "error", "the domain is empty")


def test_it_reads_a_malformed_bot_as_an_error(tmp_path):
    write_bot(tmp_path, domain="intents: [greet\n")
    with pytest.raises(BotError, match="domain.yml"):
        validate_bot(tmp_path)
