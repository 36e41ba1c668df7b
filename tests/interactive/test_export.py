"""Exported training data: stories, NLU examples and domain additions, comments kept."""

from __future__ import annotations

import textwrap

from engine.project import load_project
from interactive.events import action_event, bot_event, simple_event, user_event
from interactive.export import (
    ExportPaths,
    domain_additions,
    export_conversation,
    nlu_examples,
    stories_from_events,
)
from tests.conftest import BOTS

TRIP = user_event(
    "fly to Mars",
    {
        "intent": {"name": "travel", "confidence": 1.0},
        "entities": [{"entity": "planet", "start": 7, "end": 11, "value": "Mars"}],
    },
)
GREET = user_event("/greet", {"intent": {"name": "greet", "confidence": 1.0}, "entities": []})
EVENTS = [
    action_event("action_session_start"),
    simple_event("session_started"),
    action_event("action_listen"),
    GREET,
    action_event("utter_greet"),
    action_event("action_listen"),
    TRIP,
    action_event("utter_wrong"),
    simple_event("undo"),
    action_event("utter_trip"),
    bot_event("Have a nice trip!", "utter_trip"),
    action_event("action_check_fuel"),
    action_event("action_listen"),
]
DOMAIN = {"intents": ["greet"], "responses": {"utter_greet": [{"text": "Hey"}]}}


def test_it_writes_stories_with_intents_entities_and_actions():
    assert stories_from_events(EVENTS) == [
        [
            {"intent": "greet"},
            {"action": "utter_greet"},
            {"intent": "travel", "entities": [{"planet": "Mars"}]},
            {"action": "utter_trip"},
            {"action": "action_check_fuel"},
        ]
    ]


def test_it_splits_stories_at_restarts():
    events = [*EVENTS, simple_event("restart"), action_event("action_listen"), GREET]
    assert len(stories_from_events(events)) == 2


def test_it_collects_nlu_examples_without_intent_shortcuts():
    assert nlu_examples(EVENTS) == {"travel": ["fly to [Mars](planet)"]}


def test_it_finds_what_the_domain_lacks():
    additions = domain_additions(EVENTS, DOMAIN)
    assert additions.intents == ["travel"]
    assert additions.entities == ["planet"]
    assert additions.actions == ["action_check_fuel"]
    assert additions.responses == {"utter_trip": [{"text": "Have a nice trip!"}]}


def test_it_merges_into_the_authors_files_keeping_comments_and_order(tmp_path):
    (tmp_path / "data").mkdir()
    domain = '# my domain\nversion: "3.1"\nintents:\n  - greet  # hello\nresponses:\n'
    domain += '  utter_greet:\n  - text: "Hey"\n'
    (tmp_path / "domain.yml").write_text(domain)
    nlu = 'version: "3.1"\nnlu:\n# greetings\n- intent: travel\n'
    nlu += "  examples: |\n    - go to [Venus](planet)\n"
    (tmp_path / "data" / "nlu.yml").write_text(nlu)
    export_conversation(EVENTS, DOMAIN, ExportPaths.for_bot(tmp_path))
    written = (tmp_path / "domain.yml").read_text()
    assert written.startswith('# my domain\nversion: "3.1"\nintents:\n  - greet  # hello\n')
    assert "  - travel\n" in written and "utter_trip:" in written
    assert "Have a nice trip!" in written
    assert "action_check_fuel" in written
    nlu_text = (tmp_path / "data" / "nlu.yml").read_text()
    assert "# greetings" in nlu_text
    assert "    - go to [Venus](planet)\n    - fly to [Mars](planet)\n" in nlu_text
    stories = (tmp_path / "data" / "stories.yml").read_text()
    assert stories.startswith('version: "3.1"\nstories:\n- story: interactive_story_1\n')


def test_it_appends_stories_and_never_repeats_examples(tmp_path):
    paths = ExportPaths.for_bot(tmp_path)
    export_conversation(EVENTS, DOMAIN, paths)
    export_conversation(EVENTS, DOMAIN, paths)
    assert "interactive_story_2" in paths.stories.read_text()
    assert paths.nlu.read_text().count("fly to [Mars](planet)") == 1
    assert paths.domain.read_text().count("utter_trip:") == 1


def test_it_writes_data_the_engine_reads(tmp_path):
    import shutil

    bot = tmp_path / "bot"
    shutil.copytree(BOTS / "initbot", bot)
    before = (bot / "data" / "stories.yml").read_text()
    export_conversation(EVENTS, DOMAIN, ExportPaths.for_bot(bot))
    after = (bot / "data" / "stories.yml").read_text()
    assert after.startswith(before.rstrip("\n")[:40])
    project = load_project(bot)
    assert "travel" in project.domain.intents
    assert "utter_trip" in project.domain.responses
    assert textwrap.dedent("interactive_story_1") in after
