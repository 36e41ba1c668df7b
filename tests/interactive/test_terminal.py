"""The prompts: Tab completes the domain's names, and in a real terminal (a pty) readline
edits the line, recalls what was typed and completes."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from interactive.session import domain_names
from interactive.terminal import completer, completions
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_completes_the_served_domains_intents_actions_and_the_commands(api):
    names = domain_names(api.domain())
    assert completions(names, "utter_ch") == ["utter_cheer_up"]
    assert completions(names, "mood_") == ["mood_great", "mood_unhappy"]
    assert completions(names, "/gr") == ["/greet"]  # a message typed as an intent
    assert completions(names, ":u") == [":undo"]
    assert completions(names, "action_") == sorted(n for n in names if n.startswith("action_"))
    assert "action_listen" in completions(names, "action_")
    assert completions(names, "nothing_like_it") == []


def test_its_completer_answers_readline_state_by_state():
    complete = completer(lambda: {"greet", "goodbye", "affirm"})
    assert [complete("g", state) for state in range(4)] == ["goodbye", "greet", None, None]
    assert complete("/a", 0) == "/affirm" and complete("/a", 1) is None


# A Terminal in a child process whose stdin and stdout are a pseudo-terminal, as when an
# author runs manage.py interactive: each answer is printed back for the test to read.
CHILD = """
from interactive.terminal import Terminal
terminal = Terminal()
terminal.names = {"greet", "goodbye", "mood_great"}
questions = [("first", None), ("yes?", None), ("again", None), ("edit", "[Oslo](city)")]
for question, default in questions:
    print("ANSWER " + repr(terminal.ask(question, default)), flush=True)
"""


class Pty:
    def __init__(self) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "TERM": "xterm", "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD], stdin=slave, stdout=slave, stderr=slave, env=env
        )
        os.close(slave)
        self.output = b""

    def read_until(self, text: bytes, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert time.monotonic() < deadline, f"{text!r} never came: {self.output!r}"
            if select.select([self.master], [], [], 0.2)[0]:
                self.output += os.read(self.master, 4096)
        return self.output

    def type(self, prompt: bytes, keys: bytes) -> None:
        self.read_until(prompt)
        os.write(self.master, keys)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self.master)


def test_a_prompt_in_a_terminal_edits_completes_and_recalls():
    terminal = Pty()
    try:
        terminal.type(b"? first", b"/gr\t\n")  # Tab completes the intent
        terminal.type(b"? yes?", b"y\n")  # not worth remembering
        terminal.type(b"? again", b"\x1b[A\n")  # Up recalls "/greet", not "y"
        # The default is already on the line, the cursor at its end: typing adds to it.
        terminal.type(b"? edit", b" please\n")
        output = terminal.read_until(b"ANSWER '[Oslo](city) please'")
    finally:
        terminal.close()
    answers = [line for line in output.decode().splitlines() if line.startswith("ANSWER ")]
    assert answers == [
        "ANSWER '/greet'",
        "ANSWER 'y'",
        "ANSWER '/greet'",
        "ANSWER '[Oslo](city) please'",
    ]
