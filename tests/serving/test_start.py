"""How a process starts with models: CONVAPI_MODEL into the store, serve's first training,
``manage.py train --store``, and settings that name a storage that cannot work."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command

from convapi.management.commands.serve import Command as ServeCommand
from serving import holder
from serving.holder import current_assistant
from serving.models import ModelArchive, ServedModel
from tests.api.checks import assert_rasa_error
from tests.conftest import BOTS, ROOT

pytestmark = pytest.mark.django_db


def restart(monkeypatch) -> None:
    """A new process: nothing loaded, nothing followed, CONVAPI_MODEL not yet looked at."""
    holder.assistant_set(None, choice="")
    monkeypatch.setattr(holder, "_configured", False)


def test_it_stores_and_serves_the_archive_convapi_model_names(
    settings, monkeypatch, initbot_archive
):
    settings.CONVAPI_MODEL = str(initbot_archive.parent)  # a folder: its newest archive
    restart(monkeypatch)
    assert current_assistant().file_name == initbot_archive.name
    stored = ModelArchive.objects.get()
    assert stored.sha256 == hashlib.sha256(initbot_archive.read_bytes()).hexdigest()
    assert ServedModel.objects.get().archive_id == stored.sha256


def test_a_model_chosen_before_outlives_a_restart(
    client, settings, monkeypatch, initbot_archive, second_archive
):
    client.put_json("/model", {"model_file": str(second_archive)})
    settings.CONVAPI_MODEL = str(initbot_archive)
    restart(monkeypatch)
    assert current_assistant().file_name == second_archive.name
    client.delete("/model")
    restart(monkeypatch)
    assert current_assistant() is None
    assert ModelArchive.objects.count() == 2  # CONVAPI_MODEL's archive is stored all the same


def test_serve_trains_into_the_empty_store_once_and_serves_it(settings, monkeypatch):
    out = StringIO()
    ServeCommand(stdout=out)._train_if_missing(BOTS / "initbot")
    trained = ModelArchive.objects.get()
    assert f"Trained {trained.name}" in out.getvalue()
    assert ServedModel.objects.get().archive_id == trained.sha256
    ServeCommand(stdout=StringIO())._train_if_missing(BOTS / "initbot")
    assert ModelArchive.objects.count() == 1, "a stored model is served, not trained again"
    restart(monkeypatch)
    assert current_assistant().model_id == trained.model_id


def test_manage_py_train_puts_the_archive_in_the_store_when_asked(tmp_path):
    out = StringIO()
    call_command("train", bot=str(BOTS / "initbot"), out=str(tmp_path / "out"), stdout=out)
    assert not ModelArchive.objects.exists()
    call_command("train", bot=str(BOTS / "initbot"), out=str(tmp_path / "stored"), store=True)
    (archive_file,) = (tmp_path / "stored").glob("*.tar.gz")
    stored = ModelArchive.objects.get()
    assert stored.name == archive_file.name
    assert stored.sha256 == hashlib.sha256(archive_file.read_bytes()).hexdigest()


def test_it_answers_503_when_the_storage_fails_and_keeps_serving(
    client, settings, tmp_path, initbot_archive, second_archive
):
    client.put_json("/model", {"model_file": str(initbot_archive)})
    blocker = tmp_path / "a-file"
    blocker.write_text("a folder cannot be made here")
    settings.STORAGES = {
        **settings.STORAGES,
        "models": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "models")},
        },
    }
    settings.CONVAPI_MODEL_STORAGE = "models"
    response = client.put_json("/model", {"model_file": str(second_archive)})
    body = assert_rasa_error(response, 503, "ServiceUnavailable")
    assert body["details"] == {"component": "model_store"}
    assert ModelArchive.objects.count() == 1
    assert client.get("/status").json()["model_file"] == initbot_archive.name


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONVAPI_MODEL_STORAGE": "nowhere"}, "CONVAPI_MODEL_STORAGE='nowhere'"),
        (
            {"CONVAPI_MODEL_STORAGE": "models", "CONVAPI_MODEL_STORAGE_BACKEND": "no.such.Storage"},
            "CONVAPI_MODEL_STORAGE='models'",
        ),
        (
            {
                "CONVAPI_MODEL_STORAGE": "models",
                "CONVAPI_MODEL_STORAGE_BACKEND": "django.core.files.storage.FileSystemStorage",
                "CONVAPI_MODEL_STORAGE_OPTIONS": "[1, 2]",
            },
            "CONVAPI_MODEL_STORAGE_OPTIONS: use a JSON object",
        ),
        ({"CONVAPI_MODEL_STORAGE_BACKEND": "x.Y"}, "needs CONVAPI_MODEL_STORAGE"),
    ],
)
def test_a_storage_setting_that_cannot_work_stops_the_start(env, message):
    started = manage_py_check(env)
    assert started.returncode != 0
    assert message in started.stderr


def test_a_cache_folder_that_cannot_be_made_stops_the_start(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("no folder can be made under a file")
    started = manage_py_check({"CONVAPI_MODEL_CACHE": str(blocker / "cache")})
    assert started.returncode != 0
    assert f"CONVAPI_MODEL_CACHE={blocker / 'cache'}" in started.stderr
    assert manage_py_check({"CONVAPI_MODEL_CACHE": str(tmp_path / "cache")}).returncode == 0


def manage_py_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    """A process starting with ``env`` (the test run's own model settings left out)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONVAPI_MODEL_")}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
