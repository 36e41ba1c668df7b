from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from engine.errors import BotError, InvalidDomainError
from engine.project import load_project, project_from_yaml_document
from tests.conftest import BOTS

DOMAIN = """\
version: "3.1"
intents:
  - greet
  - goodbye
responses:
  utter_greet:
  - text: "Hi!"
  utter_goodbye:
  - text: "Bye"
"""
NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
- intent: goodbye
  examples: |
    - bye
    - see you
"""
STORIES = """\
version: "3.1"
stories:
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
rules:
- rule: bye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""


def _bot(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "bot"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _minimal(tmp_path: Path, **overrides: str) -> Path:
    files = {"domain.yml": DOMAIN, "data/nlu.yml": NLU, "data/stories.yml": STORIES}
    files.update(overrides)
    return _bot(tmp_path, files)


def test_it_reads_initbot() -> None:
    project = load_project(BOTS / "initbot")
    assert {"greet", "mood_great", "bot_challenge"} <= set(project.domain.intents)
    assert {"greet", "mood_unhappy"} <= project.nlu.intents
    assert "utter_cheer_up" in project.stories.actions_used()
    assert project.training_type == "both"
    assert [p.name for p in project.test_files] == ["test_stories.yml"]
    assert project.config.assistant_id == "placeholder_default"


def test_it_reads_moodbot() -> None:
    project = load_project(BOTS / "moodbot")
    assert project.training_type == "both"
    assert project.config.pipeline[0]["name"] == "SpacyNLP"
    assert project.test_files == []


def test_it_reads_formbot_with_its_form() -> None:
    project = load_project(BOTS / "formbot")
    assert "restaurant_form" in project.domain.action_names_or_texts
    assert "restaurant_form" in project.stories.actions_used()
    assert project.nlu.synonyms
    assert project.training_type == "both"


def test_it_reads_an_nlu_only_bot() -> None:
    project = load_project(BOTS / "clinc150")
    assert project.training_type == "nlu"
    assert len(project.nlu.intents) == 151


def test_it_reads_a_domain_folder_and_nested_data_files_of_any_name(tmp_path: Path) -> None:
    intents, responses = DOMAIN.split("responses:")
    root = _bot(
        tmp_path,
        {
            "domain/intents.yml": intents,
            "domain/more/responses.yaml": 'version: "3.1"\nresponses:' + responses,
            "data/a/b/everything.yaml": NLU + STORIES.replace('version: "3.1"\n', ""),
            "config.yml": "language: en\n",
        },
    )
    project = load_project(root)
    assert {"greet", "goodbye"} <= set(project.domain.intents)
    assert {"utter_greet", "utter_goodbye"} <= set(project.domain.responses)
    assert project.nlu.intents == {"greet", "goodbye"}
    assert project.training_type == "both"


def test_it_names_a_response_missing_from_the_domain(tmp_path: Path) -> None:
    stories = STORIES.replace("action: utter_greet", "action: utter_welcome")
    root = _minimal(tmp_path, **{"data/stories.yml": stories})
    with pytest.raises(InvalidDomainError, match="'utter_welcome'") as info:
        load_project(root)
    assert info.value.file.endswith("data/stories.yml")


def test_it_names_an_intent_missing_from_the_domain(tmp_path: Path) -> None:
    stories = STORIES.replace("intent: goodbye", "intent: farewell")
    root = _minimal(tmp_path, **{"data/stories.yml": stories})
    with pytest.raises(InvalidDomainError, match="'farewell'") as info:
        load_project(root)
    assert info.value.file.endswith("data/stories.yml")
    assert info.value.key == "intents"


def test_it_reports_bad_yaml_in_a_data_file_with_its_line(tmp_path: Path) -> None:
    root = _minimal(tmp_path, **{"data/nlu.yml": "nlu:\n- intent: greet\n  examples: [hi\n"})
    with pytest.raises(BotError, match=r"nlu.yml': invalid YAML at line \d+"):
        load_project(root)


def test_it_reports_bad_yaml_in_the_domain(tmp_path: Path) -> None:
    root = _minimal(tmp_path, **{"domain.yml": "intents:\n  - greet\n bad: [\n"})
    with pytest.raises(BotError, match=r"domain.yml': invalid YAML at line \d+"):
        load_project(root)


def test_it_refuses_a_missing_bot_or_domain(tmp_path: Path) -> None:
    with pytest.raises(BotError, match="does not exist"):
        load_project(tmp_path / "nope")
    root = _bot(tmp_path, {"data/nlu.yml": NLU})
    with pytest.raises(InvalidDomainError, match="no domain.yml"):
        load_project(root)


def test_it_refuses_a_bot_without_training_data(tmp_path: Path) -> None:
    root = _bot(tmp_path, {"domain.yml": DOMAIN})
    with pytest.raises(BotError, match="no training data"):
        load_project(root)


def test_it_reads_the_single_training_document() -> None:
    document = "\n".join(
        [
            "recipe: default.v1",
            "language: en",
            "policies:\n- name: RulePolicy",
            DOMAIN.replace('version: "3.1"\n', ""),
            NLU.replace('version: "3.1"\n', ""),
            STORIES,
        ]
    )
    project = project_from_yaml_document(document)
    assert project.config.policies == [{"name": "RulePolicy"}]
    assert project.config.default_pipeline
    assert {"utter_greet", "utter_goodbye"} <= set(project.domain.responses)
    assert project.nlu.intents == {"greet", "goodbye"}
    assert project.training_type == "both"


def test_it_refuses_an_empty_or_malformed_training_document() -> None:
    with pytest.raises(BotError, match="empty"):
        project_from_yaml_document("  \n")
    with pytest.raises(BotError, match="must be a YAML mapping"):
        project_from_yaml_document("- just\n- a list\n")
    with pytest.raises(BotError, match="invalid YAML at line"):
        project_from_yaml_document("intents: [greet\n")


@pytest.mark.parametrize("intents", ["[true, greet]", "[[1], greet]", "[{}, greet]"])
def test_it_refuses_intent_names_that_are_not_strings(intents: str) -> None:
    document = f"intents: {intents}\nnlu:\n- intent: greet\n  examples: |\n    - hi\n"
    with pytest.raises(InvalidDomainError, match="item 0 is not an intent name"):
        project_from_yaml_document(document)


def test_it_reads_yes_and_no_as_intent_names() -> None:
    """YAML 1.2, as Rasa reads it: CLINC150 has intents called ``yes`` and ``no``."""
    document = "intents: [yes, no]\nnlu:\n- intent: yes\n  examples: |\n    - sure\n"
    assert {"yes", "no"} <= set(project_from_yaml_document(document).domain.intents)


def test_it_checks_the_training_document_against_its_domain() -> None:
    document = (
        DOMAIN
        + NLU.replace('version: "3.1"\n', "")
        + STORIES.replace('version: "3.1"\n', "").replace("utter_goodbye\n", "utter_missing\n")
    )
    with pytest.raises(InvalidDomainError, match="'utter_missing'"):
        project_from_yaml_document(document)


def test_it_changes_the_fingerprint_only_when_the_bot_changes(tmp_path: Path) -> None:
    root = _minimal(tmp_path)
    first = load_project(root).fingerprint()
    assert load_project(root).fingerprint() == first
    (root / "data" / "nlu.yml").write_text(NLU + "    - hey there\n")
    assert load_project(root).fingerprint() != first


def test_it_fingerprints_a_copied_bot_like_the_original(tmp_path: Path) -> None:
    copy = tmp_path / "initbot"
    shutil.copytree(BOTS / "initbot", copy)
    assert load_project(copy).fingerprint() == load_project(BOTS / "initbot").fingerprint()


def test_it_names_a_form_missing_from_the_domain(tmp_path: Path) -> None:
    stories = STORIES.replace(
        "  - action: utter_greet\n", "  - action: utter_greet\n  - active_loop: some_form\n"
    )
    root = _minimal(tmp_path, **{"data/stories.yml": stories})
    with pytest.raises(InvalidDomainError, match="active_loop 'some_form'"):
        load_project(root)


def test_it_warns_about_a_slot_the_domain_lacks(tmp_path: Path) -> None:
    stories = STORIES.replace(
        "  - action: utter_greet\n", "  - action: utter_greet\n  - slot_was_set:\n    - mood: sad\n"
    )
    project = load_project(_minimal(tmp_path, **{"data/stories.yml": stories}))
    assert any("'mood'" in warning for warning in project.warnings)


def test_it_adds_retrieval_actions_and_responses_from_the_nlu_data(tmp_path: Path) -> None:
    faq = """\
nlu:
- intent: faq/ask_name
  examples: |
    - what is your name
- intent: faq/ask_weather
  examples: |
    - is it raining
responses:
  utter_faq/ask_name:
  - text: I am a bot
  utter_faq/ask_weather:
  - text: sunny
rules:
- rule: faq
  steps:
  - intent: faq
  - action: utter_faq
"""
    project = load_project(_minimal(tmp_path, **{"data/faq/questions.yml": faq}))
    assert "utter_faq" in project.domain.action_names_or_texts
    assert "utter_faq/ask_name" in project.domain.responses
    assert project.domain.retrieval_intents == ["faq"]
    assert "faq" in project.domain.intents
