"""``manage.py interactive`` as an author runs it: in a real terminal (tmux), and its errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid

import pytest

from interactive.client import Client
from interactive.events import action_event, user_event
from tests.conftest import BOTS, ROOT
from tests.interactive.test_errors import _closed_port

# Each test starts manage.py in a subprocess (several seconds of Django start-up).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_command(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "interactive", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_clean_failure(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_it_says_when_the_server_is_down():
    result = run_command("--url", f"http://127.0.0.1:{_closed_port()}")
    assert_clean_failure(result, "Cannot reach the server")


def test_it_says_when_the_token_is_wrong(live_server, served, settings):
    settings.CONVAPI_AUTH_TOKEN = "rasa"
    assert_clean_failure(run_command("--url", live_server.url, "--token", "x"), "(401)")


def test_it_says_when_no_model_is_loaded(live_server, served):
    from serving.holder import assistant_set

    assistant_set(None)
    assert_clean_failure(run_command("--url", live_server.url), "no model loaded (409)")


def test_it_says_when_the_model_has_no_core(live_server, served, initbot_model):
    from engine.model import Model
    from serving.holder import assistant_from_model, assistant_set

    parts = {"metadata": initbot_model.metadata, "domain": initbot_model.domain}
    nlu_only = Model(path=initbot_model.path, nlu=initbot_model.nlu, policies=None, **parts)
    assistant_set(assistant_from_model(nlu_only))
    result = run_command("--url", live_server.url, stdin="/greet\ny\n")
    assert_clean_failure(result, "no dialogue (Core) part")


class Tmux:
    """One tmux session; ``expect`` waits for text printed after what was already read."""

    def __init__(self, command: str) -> None:
        self.name = f"interactive-{uuid.uuid4().hex[:8]}"
        self.read_up_to = 0
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "160", "-y", "50", command],
            check=True,
        )
        subprocess.run(["tmux", "set-option", "-t", self.name, "remain-on-exit", "on"], check=True)

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-J", "-S", "-", "-t", self.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def expect(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            found = screen.find(text, self.read_up_to)
            if found >= 0:
                self.read_up_to = found + len(text)
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()[-3000:]}")

    def answer(self, prompt: str, keys: str, *then: str) -> None:
        """Type ``keys`` at ``prompt``, press the named keys ``then`` (tmux's names), Enter."""
        self.expect(prompt)
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", keys], check=True)
        for key in [*then, "Enter"]:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)

    def exited(self) -> bool:
        dead = subprocess.run(
            ["tmux", "display-message", "-p", "-t", self.name, "#{pane_dead}"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return dead == "1"

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


ACTION = "The bot wants to run '"
PICK = "Number, name or text to filter ->"


def teach(tmux: Tmux) -> None:
    """Greet; then correct an intent, correct an action and add a new response; export."""
    tmux.answer("Your input ->", "/greet")
    tmux.answer("Is the intent 'greet' correct", "y")
    tmux.answer(ACTION + "utter_greet'", "y")
    tmux.answer(ACTION + "action_listen'", "y")
    tmux.answer("Your input ->", "I am flying to the moon")
    tmux.answer("Is the intent '", "n")
    tmux.answer(PICK, "affirm")
    tmux.answer("Entities, marked as [value](entity) ->", "")
    tmux.answer(ACTION, "n")
    tmux.answer(PICK, "utter_che", "Tab")  # readline completes the domain's names
    tmux.answer(ACTION, "n")
    tmux.answer(PICK, "new")
    tmux.answer("Name of the new action", "utter_moon")
    tmux.answer("What should the bot say for utter_moon?", "Enjoy the moon!")
    tmux.answer(ACTION, "n")
    tmux.answer(PICK, "action_listen")
    tmux.answer("Your input ->", ":export")
    tmux.expect("Exported 1 story(ies)")
    tmux.answer("Your input ->", ":quit")
    tmux.answer("Retrain the bot and load the new model into the server?", "y")
    tmux.expect("The server now serves the new model.", timeout=120)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_it_teaches_the_bot_in_a_terminal_and_the_export_trains(live_server, served, tmp_path):
    bot = tmp_path / "bot"
    shutil.copytree(BOTS / "initbot", bot)
    command = (
        f"cd {ROOT} && {sys.executable} manage.py interactive --url {live_server.url} "
        f"--bot {bot} --conversation author"
    )
    tmux = Tmux(command)
    try:
        teach(tmux)
        deadline = time.monotonic() + 30
        while not tmux.exited() and time.monotonic() < deadline:
            time.sleep(0.1)
        screen, exited = tmux.screen(), tmux.exited()
    finally:
        tmux.close()
    assert exited, "the command did not end after :quit"
    assert "intent: affirm 1.00" in screen
    # The corrected message has one row; no line of a table is wider than the 160-column
    # terminal (capture-pane -J joins a wrapped line back into one).
    table = screen[screen.rindex("| #   | Bot") :]
    assert table.count("I am flying to the moon") == 1
    rows = [line for line in screen.splitlines() if line.startswith(("+---", "| "))]
    assert rows and max(len(line.rstrip()) for line in rows) <= 160
    assert "Enjoy the moon!" in screen
    assert "Traceback" not in screen
    assert "- action: utter_moon" in (bot / "data" / "stories.yml").read_text()
    assert "Enjoy the moon!" in (bot / "domain.yml").read_text()
    # The command trained the bot folder with the export merged and loaded it (PUT /model).
    (archive,) = (bot / "models").glob("*.tar.gz")
    assert Client(live_server.url).status()["model_file"] == archive.name
    assert_the_served_model_predicts_the_corrected_action(live_server.url)


def assert_the_served_model_predicts_the_corrected_action(url: str) -> None:
    greet = {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}
    affirm = {"intent": {"name": "affirm", "confidence": 1.0}, "entities": []}
    story = [
        action_event("action_listen"),
        user_event("hi", greet),
        action_event("utter_greet"),
        action_event("action_listen"),
        user_event("to the moon", affirm),
    ]
    client = Client(url)
    client.replace_events("check", story)
    assert client.request_prediction("check")["scores"][0]["action"] == "utter_cheer_up"
    client.send_action("check", "utter_cheer_up")
    assert client.request_prediction("check")["scores"][0]["action"] == "utter_moon"
