"""Shared helpers for the processor tests: bots trained once per test run, a fake clock."""

from __future__ import annotations

import functools
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from bench.action_server import start_rasa_sdk
from engine.model import Model, load_model
from engine.project import load_project
from engine.tracker import Tracker
from engine.training import train

BOTS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "bots"
_WORK = Path(tempfile.mkdtemp(prefix="convapi-processor-tests-"))


@functools.cache
def trained_model(bot: str) -> Model:
    """Train a reference bot once per process (each bot trains in about a second)."""
    result = train(load_project(BOTS / bot), output_dir=_WORK / bot)
    return load_model(result.path)


def new_tracker(model: Model, sender_id: str = "tester") -> Tracker:
    return Tracker(sender_id, model.domain.slot_defaults())


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


TEST_ACTIONS = (
    "action_set_name",
    "action_reject",
    "action_slow",
    "action_echo_domain",
    "action_remind",
    "action_gate",
)


@functools.cache
def formbot_model() -> Model:
    """formbot plus the test actions of ``actions_fixtures`` in its domain."""
    folder = _WORK / "formbot-project"
    shutil.copytree(BOTS / "formbot", folder, dirs_exist_ok=True)
    domain = folder / "domain.yml"
    text = domain.read_text(encoding="utf-8")
    extra = "".join(f"- {name}\n" for name in TEST_ACTIONS)
    domain.write_text(
        text.replace("- validate_restaurant_form\n", f"- validate_restaurant_form\n{extra}")
    )
    result = train(load_project(folder), output_dir=_WORK / "formbot-models")
    return load_model(result.path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_action_server(port: int) -> subprocess.Popen:
    """A real rasa-sdk server with the fixture actions; waits until it answers."""
    root = Path(__file__).resolve().parents[2]
    return start_rasa_sdk(actions="tests.engine.actions_fixtures", port=port, cwd=root)


FALLBACK_RULES = """
version: "3.1"
rules:
- rule: Ask the user to clarify when NLU is unsure
  steps:
  - intent: nlu_fallback
  - action: action_two_stage_fallback
  - active_loop: action_two_stage_fallback
"""
FALLBACK_RESPONSES = """
  utter_ask_rephrase:
  - text: "Could you rephrase?"

  utter_default:
  - text: "I give up."
"""


@functools.cache
def fallback_model() -> Model:
    """initbot with a two-stage fallback rule and its responses."""
    folder = _WORK / "fallback-project"
    shutil.copytree(BOTS / "initbot", folder, dirs_exist_ok=True)
    (folder / "data" / "fallback_rules.yml").write_text(FALLBACK_RULES, encoding="utf-8")
    domain = folder / "domain.yml"
    text = domain.read_text(encoding="utf-8")
    domain.write_text(text.replace("responses:\n", "responses:" + FALLBACK_RESPONSES, 1))
    result = train(load_project(folder), output_dir=_WORK / "fallback-models")
    return load_model(result.path)
