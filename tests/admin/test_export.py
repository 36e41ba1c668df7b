"""Export corrected conversations as Rasa training data, and train a model on it."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest
import yaml

from engine.project import load_project
from engine.training import train
from tests.admin.conftest import CHANGELIST, chat
from tests.conftest import BOTS
from trackers.models import Correction

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]

TURNS = [
    ("hello there", "greet", 0.9, "utter_greet", "Hey! How are you?"),
    ("I am sad actually", "mood_great", 0.4, "utter_cheer_up", None),
    ("good bye", "goodbye", 0.8, "utter_goodbye", "Bye"),
]


def export(client, conversations) -> dict[str, str]:
    form = {"action": "export_training_data", "_selected_action": [c.pk for c in conversations]}
    response = client.post(CHANGELIST, form)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: archive.read(name).decode() for name in archive.namelist()}


def corrected_conversation(client):
    conversation = chat(client, "to-export", *TURNS)
    wrong = conversation.events.get(text="I am sad actually")
    Correction.objects.create(
        conversation=conversation, event=wrong, kind="intent", intent="mood_unhappy"
    )
    cheer = conversation.events.get(action_name="utter_cheer_up")
    Correction.objects.create(
        conversation=conversation, event=cheer, kind="action", action="utter_happy"
    )
    return conversation


def test_it_exports_examples_and_stories_with_the_corrections_applied(reviewer):
    conversation = corrected_conversation(reviewer)
    bye = conversation.events.get(text="good bye")
    Correction.objects.create(
        conversation=conversation,
        event=bye,
        kind="entities",
        entities=[{"entity": "farewell", "start": 5, "end": 8, "value": "bye"}],
    )
    files = {name: yaml.safe_load(text) for name, text in export(reviewer, [conversation]).items()}
    assert set(files) == {"data/nlu.yml", "data/stories.yml"}
    nlu = {item["intent"]: item["examples"] for item in files["data/nlu.yml"]["nlu"]}
    assert nlu["mood_unhappy"] == "- I am sad actually\n"
    assert nlu["goodbye"] == "- good [bye](farewell)\n"
    assert "mood_great" not in nlu and nlu["greet"] == "- hello there\n"
    (story,) = files["data/stories.yml"]["stories"]
    assert story["story"] == "to-export"
    assert story["steps"] == [
        {"intent": "greet"},
        {"action": "utter_greet"},
        {"intent": "mood_unhappy"},
        {"action": "utter_happy"},
        {"intent": "goodbye", "entities": [{"farewell": "bye"}]},
        {"action": "utter_goodbye"},
    ]


@pytest.mark.slow
def test_it_exports_data_that_trains_a_model(reviewer, tmp_path):
    more = chat(reviewer, "second", ("hi", "greet", 1.0, "utter_greet", None))
    files = export(reviewer, [corrected_conversation(reviewer), more])
    bot = tmp_path / "bot"
    (bot / "data").mkdir(parents=True)
    for name in ("domain.yml", "config.yml"):
        shutil.copy(BOTS / "initbot" / name, bot / name)
    for name, text in files.items():
        (bot / name).write_text(text)  # exactly as downloaded
    result = train(load_project(bot), output_dir=tmp_path / "models")
    assert result.path.exists() and result.training_type == "both"
