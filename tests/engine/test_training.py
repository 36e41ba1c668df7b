from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

import engine
from engine.errors import BotError, ConfigError, ModelLoadError
from engine.events import ActionExecuted, SessionStarted, UserUttered
from engine.model import Model, load_model
from engine.project import Project, load_project, project_from_yaml_document
from engine.story_evaluation import run_story_evaluation
from engine.tracker import Tracker
from engine.training import newest_archive, train
from engine.training_data.stories import load_story_files
from tests.conftest import BOTS

MESSAGES = ["hello there", "I am feeling very good", "not so good", "bye", "are you a bot?"]


@pytest.fixture(scope="module")
def initbot() -> Project:
    return load_project(BOTS / "initbot")


@pytest.fixture(scope="module")
def trained(initbot: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(initbot, output_dir=tmp_path_factory.mktemp("models")).path


def _tracker(model: Model, intent: str) -> Tracker:
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("/" + intent, {"name": intent, "confidence": 1.0}),
    ]
    return Tracker.from_events("test", events, model.domain.slot_defaults())


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_it_writes_a_rasa_named_archive_with_metadata(trained: Path) -> None:
    assert trained.name.endswith(".tar.gz") and len(trained.name.split("-")) == 4
    members = _members(trained)
    assert {"domain.yml", "config.yml", "metadata.json"} <= set(members)
    assert any(name.startswith("nlu/") for name in members)
    assert any(name.startswith("core/") for name in members)
    metadata = json.loads(members["metadata.json"])
    assert len(metadata["model_id"]) == 32
    assert metadata["version"] == engine.__version__
    assert metadata["minimum_compatible_version"] == engine.MINIMUM_COMPATIBLE_VERSION
    assert metadata["training_type"] == "both"
    assert metadata["assistant_id"] == "placeholder_default"
    assert metadata["max_history"] >= 1


def test_it_stores_no_pickles(trained: Path) -> None:
    for name, data in _members(trained).items():
        assert not name.endswith((".pkl", ".pickle", ".joblib")), name
        assert not data.startswith(b"\x80\x04"), name  # a pickle protocol 4 header


def test_it_predicts_the_same_after_save_and_load(initbot: Project, trained: Path) -> None:
    first, second = load_model(trained), load_model(trained)
    for text in MESSAGES:
        assert first.parse(text) == second.parse(text)
    for intent in ["greet", "mood_unhappy", "goodbye", "bot_challenge"]:
        one, two = first.predict(_tracker(first, intent)), second.predict(_tracker(second, intent))
        assert one.probabilities == two.probabilities
        assert one.policy_name == two.policy_name


def test_it_answers_like_the_initbot_stories(trained: Path) -> None:
    model = load_model(trained)
    assert model.parse("hello there")["intent"]["name"] == "greet"
    assert model.predict(_tracker(model, "greet")).action_name == "utter_greet"
    assert model.predict(_tracker(model, "bot_challenge")).action_name == "utter_iamabot"
    assert model.has_nlu and model.has_core
    assert model.file_name == trained.name
    assert model.max_history_needed == model.metadata["max_history"]


def test_it_skips_training_when_nothing_changed(initbot: Project, trained: Path) -> None:
    again = train(initbot, output_dir=trained.parent)
    assert again.skipped and again.path == trained
    forced = train(initbot, output_dir=trained.parent, force=True, fixed_name="forced")
    assert not forced.skipped and forced.path.name == "forced.tar.gz"
    assert newest_archive(trained.parent) == forced.path


def test_it_retrains_when_the_config_changes(initbot: Project, tmp_path: Path) -> None:
    first = train(initbot, output_dir=tmp_path, fixed_name="first")
    initbot_changed = load_project(BOTS / "initbot")
    initbot_changed.config.policies = [{"name": "RulePolicy"}]
    second = train(initbot_changed, output_dir=tmp_path, fixed_name="second")
    assert not second.skipped and second.fingerprint != first.fingerprint


def test_it_trains_deterministically(initbot: Project, tmp_path: Path) -> None:
    one = train(initbot, output_dir=tmp_path / "a", seed=7)
    two = train(initbot, output_dir=tmp_path / "b", seed=7)
    first, second = _members(one.path), _members(two.path)
    assert first.keys() == second.keys()
    for name in first:
        if name != "metadata.json":
            assert first[name] == second[name], name
    meta_one, meta_two = json.loads(first["metadata.json"]), json.loads(second["metadata.json"])
    assert meta_one["model_id"] != meta_two["model_id"]
    assert meta_one["fingerprint"] == meta_two["fingerprint"]


def test_it_reports_monotonic_progress_up_to_one(initbot: Project, tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    train(
        initbot, output_dir=tmp_path, progress=lambda name, fraction: seen.append((name, fraction))
    )
    fractions = [fraction for _, fraction in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    names = {name for name, _ in seen}
    assert {"DIETClassifier", "TEDPolicy", "RulePolicy", "MemoizationPolicy"} <= names


def test_it_trains_an_nlu_only_model(tmp_path: Path) -> None:
    project = project_from_yaml_document(
        "intents: [greet, goodbye]\n"
        "nlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n"
        "- intent: goodbye\n  examples: |\n    - bye\n    - ciao\n"
    )
    model = load_model(train(project, output_dir=tmp_path).path)
    assert model.metadata["training_type"] == "nlu"
    assert model.has_nlu and not model.has_core
    assert model.predict(_tracker(model, "greet")) is None
    assert model.parse("hello")["intent"]["name"] == "greet"


def test_it_trains_a_core_only_model_that_still_reads_shortcuts(tmp_path: Path) -> None:
    project = project_from_yaml_document(
        "intents: [greet]\nresponses:\n  utter_hi:\n  - text: hi\n"
        "rules:\n- rule: hi\n  steps:\n  - intent: greet\n  - action: utter_hi\n"
    )
    model = load_model(train(project, output_dir=tmp_path).path)
    assert model.metadata["training_type"] == "core" and not model.has_nlu
    assert model.parse("hello", message_id="m1") == {
        "text": "hello",
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "message_id": "m1",
    }
    shortcut = model.parse('/greet{"name": "Ada"}')
    assert shortcut["intent"] == {"name": "greet", "confidence": 1.0}
    assert shortcut["entities"][0]["value"] == "Ada"
    assert model.predict(_tracker(model, "greet")).action_name == "utter_hi"


def test_it_names_an_unknown_component(tmp_path: Path) -> None:
    project = project_from_yaml_document(
        "pipeline:\n- name: NoSuchClassifier\nintents: [greet]\n"
        "nlu:\n- intent: greet\n  examples: |\n    - hi\n"
    )
    with pytest.raises(ConfigError, match="NoSuchClassifier"):
        train(project, output_dir=tmp_path)
    assert newest_archive(tmp_path) is None


def test_it_refuses_to_load_an_archive_with_a_tampered_component(
    trained: Path, tmp_path: Path
) -> None:
    members = _members(trained)
    broken = tmp_path / "broken.tar.gz"
    with tarfile.open(broken, "w:gz") as tar:
        for name, data in members.items():
            if name.startswith("core/") and name.endswith(".json"):
                data = b'{"format_version": 1, "policies": [{"name": "Evil"}]}'
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ModelLoadError):
        load_model(broken)


def test_it_reads_shortcuts_for_domain_intents_without_examples(tmp_path: Path) -> None:
    project = project_from_yaml_document(
        "intents: [greet, start_over]\n"
        "nlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n"
    )
    model = load_model(train(project, output_dir=tmp_path).path)
    result = model.parse("/start_over", message_id="abc")
    assert result["intent"] == {"name": "start_over", "confidence": 1.0}
    assert result["message_id"] == "abc"


def test_it_refuses_to_load_something_that_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ModelLoadError, match="not a readable model archive"):
        load_model(path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "missing.tar.gz")


def test_it_passes_every_initbot_test_story(initbot: Project, trained: Path) -> None:
    model = load_model(trained)
    stories = load_story_files(initbot.test_files)
    evaluation = run_story_evaluation(
        stories, ensemble=model.policies, domain=model.domain, parse=model.parse
    )
    assert evaluation.failed_story_names == []
    assert evaluation.result["accuracy"] == 1.0


def test_it_refuses_to_load_a_model_from_an_older_engine(trained: Path, tmp_path: Path) -> None:
    members = _members(trained)
    metadata = json.loads(members["metadata.json"])
    members["metadata.json"] = json.dumps({**metadata, "version": "0.0.1"}).encode()
    old = tmp_path / "old.tar.gz"
    with tarfile.open(old, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ModelLoadError, match="older than the minimum compatible version"):
        load_model(old)


def test_it_refuses_a_model_name_that_is_a_path(initbot: Project, tmp_path: Path) -> None:
    with pytest.raises(BotError, match="plain file name"):
        train(initbot, output_dir=tmp_path / "models", fixed_name="../escape")
