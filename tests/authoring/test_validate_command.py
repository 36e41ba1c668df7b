"""``manage.py validate``: Rasa's ``rasa data validate`` lines and exit codes."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import BOTS, ROOT
from tests.engine.bot_folders import DOMAIN, STORIES, write_bot


def validate(*args: str) -> str:
    out = StringIO()
    call_command("validate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_passes_a_reference_bot_with_a_summary_line():
    output = validate("--bot", str(BOTS / "moodbot"))
    assert output.strip().splitlines()[-1] == "Validation finished: 0 error(s), 0 warning(s)."


def test_it_prints_one_line_per_error_and_fails(tmp_path):
    bot = write_bot(tmp_path, stories=STORIES.replace("utter_sad", "utter_oops"))
    out = StringIO()
    with pytest.raises(CommandError, match="1 error") as error:
        call_command("validate", "--bot", str(bot), stdout=out)
    assert error.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert [line for line in lines if line.startswith("ERROR")] == [
        f"ERROR {bot}/data/stories.yml:9: story 'sad': the utterance 'utter_oops' has no response"
    ]


def test_it_passes_with_warnings_unless_told_to_fail_on_them(tmp_path):
    bot = write_bot(tmp_path, domain=DOMAIN.replace("deny]", "deny, thank]"))
    assert "WARNING" in validate("--bot", str(bot))
    with pytest.raises(CommandError, match="0 error"):
        validate("--bot", str(bot), "--fail-on-warnings")


def test_it_compares_only_max_history_turns_for_conflicts(tmp_path):
    # Both stories end "affirm -> ?" after different openings: only the last turn is alike.
    sad = "- story: sad\n  steps:\n  - intent: deny\n  - action: utter_greet\n"
    sad += "  - intent: affirm\n  - action: utter_sad\n"
    bot = write_bot(tmp_path, stories=STORIES.split("- story: sad")[0] + sad)
    assert "conflict" not in validate("--bot", str(bot))
    output = validate("--bot", str(bot), "--max-history", "1")
    assert "WARNING" in output and "Story structure conflict after intent 'affirm'" in output


def test_it_shows_debug_findings_at_verbosity_two(tmp_path):
    bot = write_bot(tmp_path, stories=STORIES.split("- story: sad")[0])
    assert "DEBUG" not in validate("--bot", str(bot))
    assert "DEBUG the intent 'deny'" in validate("--bot", str(bot), "-v", "2")


def test_it_refuses_a_bot_folder_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        validate("--bot", str(tmp_path / "missing"))


def test_it_exits_1_on_errors_and_0_on_a_valid_bot_from_the_shell(tmp_path):
    broken = write_bot(tmp_path, stories=STORIES.replace("intent: deny", "intent: refuse"))
    command = [sys.executable, "manage.py", "validate", "--bot"]
    failed = subprocess.run([*command, str(broken)], cwd=ROOT, capture_output=True, text=True)
    assert failed.returncode == 1
    assert "ERROR" in failed.stdout and "'refuse'" in failed.stdout
    assert "Traceback" not in failed.stderr
    passed = subprocess.run([*command, str(BOTS / "initbot")], cwd=ROOT, capture_output=True)
    assert passed.returncode == 0
