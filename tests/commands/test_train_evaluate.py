"""``manage.py train`` and ``manage.py evaluate`` as a bot author runs them."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import BOTS, ROOT


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_trains_a_bot_and_prints_the_archive(tmp_path):
    output = run("train", "--bot", str(BOTS / "initbot"), "--out", str(tmp_path))
    archives = list(tmp_path.glob("*.tar.gz"))
    assert len(archives) == 1
    assert str(archives[0]) in output
    assert "RulePolicy" in output  # progress per policy


def test_it_skips_training_when_nothing_changed_unless_forced(tmp_path):
    run("train", "--bot", str(BOTS / "initbot"), "--out", str(tmp_path))
    run("train", "--bot", str(BOTS / "initbot"), "--out", str(tmp_path))
    assert len(list(tmp_path.glob("*.tar.gz"))) == 1
    run("train", "--bot", str(BOTS / "initbot"), "--out", str(tmp_path), "--force")
    assert len(list(tmp_path.glob("*.tar.gz"))) == 2


def test_it_evaluates_test_stories_and_writes_failed_stories(tmp_path):
    out = tmp_path / "results"
    output = run(
        "evaluate", "--bot", str(BOTS / "initbot"), "--stories",
        "--models-dir", str(tmp_path / "models"), "--out", str(out),
    )  # fmt: skip
    assert "accuracy" in output.lower()
    report = json.loads((out / "story_report.json").read_text())
    assert report["accuracy"] == 1.0
    assert (out / "failed_test_stories.yml").exists()
    assert "No test story failed" in output and "failed stories written" not in output
    # No served model: one is trained for the evaluation and not kept in the models folder.
    assert "trained one for this evaluation" in output
    assert not (tmp_path / "models").exists()


def test_it_evaluates_the_served_model_and_names_the_failed_stories(tmp_path):
    models = tmp_path / "models"
    run("train", "--bot", str(BOTS / "initbot"), "--out", str(models))
    served = sorted(models.glob("*.tar.gz"))
    bot = tmp_path / "bot"
    shutil.copytree(BOTS / "initbot", bot)
    tests = bot / "tests" / "test_stories.yml"
    tests.write_text(tests.read_text().replace("utter_happy", "utter_goodbye", 1))
    out = tmp_path / "results"
    output = run(
        "evaluate", "--bot", str(bot), "--stories",
        "--models-dir", str(models), "--out", str(out),
    )  # fmt: skip
    assert f"Evaluating model {served[0]}" in output
    assert sorted(models.glob("*.tar.gz")) == served  # nothing trained into it
    assert f"1 failed stories written to {out / 'failed_test_stories.yml'}" in output
    assert "utter_goodbye" in (out / "failed_test_stories.yml").read_text()


def test_it_cross_validates_nlu(tmp_path):
    out = tmp_path / "results"
    run(
        "evaluate", "--bot", str(BOTS / "initbot"), "--nlu", "--cross-validation",
        "--folds", "3", "--models-dir", str(tmp_path / "models"), "--out", str(out),
    )  # fmt: skip
    folds = json.loads((out / "intent_report.json").read_text())
    assert len(folds) == 3
    assert all("greet" in fold for fold in folds)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header, after checking it is one."""
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), path
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_it_draws_the_intent_confusion_matrix_and_histogram_as_rasa_test_does(
    tmp_path, initbot_archive
):
    out = tmp_path / "results"
    output = run(
        "evaluate", "--bot", str(BOTS / "initbot"), "--nlu",
        "--model", str(initbot_archive), "--out", str(out),
    )  # fmt: skip
    matrix, histogram = out / "intent_confusion_matrix.png", out / "intent_histogram.png"
    assert f"Figures drawn: {matrix}, {histogram}" in output
    intents = json.loads((out / "intent_confusion_matrix.json").read_text())["labels"]
    width, height = png_size(matrix)
    # A row and a column per intent: the matrix grows with them, within a readable page.
    assert 300 < height < 2000 and 300 < width < 2500 and len(intents) >= 5
    width, height = png_size(histogram)
    assert 500 < width < 1200 and 300 < height < 800
    assert not list(out.glob("story_*.png"))


def test_it_draws_the_story_confusion_matrix(tmp_path, initbot_archive):
    out = tmp_path / "results"
    run(
        "evaluate", "--bot", str(BOTS / "initbot"), "--stories",
        "--model", str(initbot_archive), "--out", str(out),
    )  # fmt: skip
    width, height = png_size(out / "story_confusion_matrix.png")
    assert 300 < width < 2500 and 300 < height < 2000
    assert not list(out.glob("intent_*.png"))


def test_it_keeps_the_json_reports_and_says_why_without_matplotlib(tmp_path, initbot_archive):
    out = tmp_path / "results"
    # An interpreter where matplotlib cannot be imported, as on a lean install.
    script = (
        "import sys; sys.modules['matplotlib'] = None; "
        "import runpy; sys.argv = ['manage.py', *sys.argv[1:]]; "
        "runpy.run_path('manage.py', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "evaluate", "--bot", str(BOTS / "initbot"), "--nlu",
         "--model", str(initbot_archive), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "pip install -r requirements-reports.txt" in result.stderr
    assert json.loads((out / "intent_report.json").read_text())["greet"]["support"] > 0
    assert not list(out.glob("*.png"))


def test_it_names_the_file_and_key_of_a_broken_bot(tmp_path):
    bot = tmp_path / "bot"
    shutil.copytree(BOTS / "initbot", bot)
    stories = bot / "data" / "stories.yml"
    stories.write_text(stories.read_text().replace("utter_greet", "utter_missing", 1))
    with pytest.raises(CommandError) as error:
        run("train", "--bot", str(bot), "--out", str(tmp_path / "models"))
    assert "utter_missing" in str(error.value)


@pytest.mark.slow
def test_it_reports_user_errors_without_a_traceback(tmp_path):
    bot = tmp_path / "bot"
    shutil.copytree(BOTS / "initbot", bot)
    (bot / "domain.yml").write_text("intents: [greet\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "train", "--bot", str(bot), "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "domain.yml" in result.stderr
    assert not list(Path(tmp_path).glob("*.tar.gz"))
