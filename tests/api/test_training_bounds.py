"""Training input within bounds: an alias bomb is a 400 before any job, on every route and
in ``manage.py train``."""

from __future__ import annotations

import shutil

import pytest
from django.core.management import CommandError, call_command

from jobs.models import Job
from tests.api.checks import assert_rasa_error
from tests.conftest import BOTS
from tests.engine.test_yaml_bounds import alias_bomb

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]

YAML = "application/x-yaml"


@pytest.mark.parametrize("path", ["/model/train", "/model/test/stories", "/model/test/intents"])
def test_it_refuses_an_alias_bomb_before_making_a_job(client, path):
    response = client.post(path, alias_bomb(), content_type=YAML)
    body = assert_rasa_error(response, 400, "BadRequest")
    assert "aliases expand" in body["message"]
    assert not Job.objects.exists()


def test_it_refuses_nesting_that_would_crash_the_parser(client):
    response = client.post("/model/train", "[" * 50_000 + "]" * 50_000, content_type=YAML)
    assert "nests deeper than" in assert_rasa_error(response, 400)["message"]
    assert not Job.objects.exists()


def test_manage_py_train_refuses_a_bot_file_with_an_alias_bomb(tmp_path):
    bot = tmp_path / "bot"
    shutil.copytree(BOTS / "initbot", bot)
    (bot / "data" / "bomb.yml").write_text(alias_bomb())
    with pytest.raises(CommandError) as error:
        call_command("train", "--bot", str(bot), "--out", str(tmp_path / "models"))
    assert "aliases expand" in str(error.value)
    assert "bomb.yml" in str(error.value)
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())
