"""A whole teaching session against a live convapi, the author's answers scripted."""

from __future__ import annotations

import pytest

from interactive.events import is_listening
from interactive.export import ExportPaths, export_conversation
from interactive.session import Session
from interactive.terminal import Terminal

pytestmark = pytest.mark.django_db(transaction=True)
GREETING = ["/greet", "y", "y", "y"]  # message, intent ok, utter_greet ok, action_listen ok


class Script:
    """Answers questions in order; the end of the script is the author pressing Ctrl-D."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []
        self.screen: list[str] = []

    def ask(self, question: str) -> str:
        self.questions.append(question)
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)

    def session(self, api, conversation_id: str, paths: ExportPaths | None = None) -> Session:
        terminal = Terminal(ask=self.ask, say=self.screen.append)
        exporter = None
        if paths is not None:
            exporter = lambda events, domain: export_conversation(events, domain, paths)  # noqa: E731
        return Session(api, conversation_id, terminal, exporter=exporter)


def names(events: list[dict], kind: str = "action") -> list[str]:
    key = "name" if kind == "action" else "text"
    return [e[key] for e in events if e["event"] == kind and e[key] != "action_listen"]


def test_it_teaches_a_corrected_intent_a_corrected_action_and_a_new_response(api, tmp_path):
    script = Script(
        [
            *GREETING,
            "I am flying to the moon",
            "n",  # the parsed intent is wrong
            "affirm",  # picked by name from the list
            "",  # entities stay as they are
            "n",  # the predicted action is wrong
            "utter_cheer_up",
            "n",
            "new",
            "utter_moon",
            "Enjoy the moon!",
            "n",
            "action_listen",
            ":export",
            ":quit",
        ]
    )
    paths = ExportPaths.for_bot(tmp_path)
    session = script.session(api, "teach", paths)
    session.run()
    # Tab completes the domain's names and, from its creation on, the new response's.
    assert {"greet", "utter_cheer_up", "action_listen", "utter_moon"} <= session.terminal.names
    events = api.tracker("teach", "APPLIED")["events"]
    users = [e for e in events if e["event"] == "user"]
    assert [u["parse_data"]["intent"]["name"] for u in users] == ["greet", "affirm"]
    assert users[1]["parse_data"]["intent"]["confidence"] == 1.0
    assert names(events) == ["utter_greet", "utter_cheer_up", "utter_moon"]
    assert "Enjoy the moon!" in names(events, "bot")
    assert is_listening(events)
    stories = paths.stories.read_text()
    assert "- intent: affirm\n  - action: utter_cheer_up\n  - action: utter_moon\n" in stories
    assert "- I am flying to the moon" in paths.nlu.read_text()
    assert "utter_moon:\n  - text: Enjoy the moon!" in paths.domain.read_text()
    assert any("Exported 1 story" in line for line in script.screen)


def test_it_undoes_the_last_action(api):
    script = Script(["/greet", "y", "y", ":undo", "y", "y", ":quit"])
    script.session(api, "undo").run()
    assert names(api.tracker("undo", "APPLIED")["events"]) == ["utter_greet"]
    assert "undo" in [e["event"] for e in api.tracker("undo", "ALL")["events"]]


def test_it_undoes_the_last_user_message(api):
    script = Script(["/greet", "y", ":undo", ":quit"])
    script.session(api, "undo-user").run()
    events = api.tracker("undo-user", "APPLIED")["events"]
    assert not [e for e in events if e["event"] == "user"]
    assert is_listening(events)


def test_it_restarts_the_conversation(api):
    script = Script([*GREETING, ":restart", "/goodbye", "y", "y", "y", ":quit"])
    script.session(api, "restart").run()
    events = api.tracker("restart", "AFTER_RESTART")["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["/goodbye"]
    assert "restart" in [e["event"] for e in api.tracker("restart", "ALL")["events"]]


def test_it_forks_before_an_earlier_message(api):
    script = Script([*GREETING, "/goodbye", "y", "y", "y", ":fork", "2", ":quit"])
    script.session(api, "fork").run()
    events = api.tracker("fork", "AFTER_RESTART")["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["/greet"]
    assert is_listening(events)


def test_it_offers_to_export_unsaved_work_when_quitting(api, tmp_path):
    paths = ExportPaths.for_bot(tmp_path)
    script = Script([*GREETING, ":quit", "y"])
    script.session(api, "offer", paths).run()
    assert "Export the conversation before quitting?" in script.questions[-1]
    assert "- intent: greet\n  - action: utter_greet\n" in paths.stories.read_text()


def test_it_stops_after_max_messages(api):
    script = Script([*GREETING, *GREETING])
    session = script.session(api, "max")
    session.max_messages = 1
    session.run()
    assert script.answers == GREETING


def last_table(screen: list[str]) -> str:
    return [line for line in screen if line.startswith("+---")][-1]


def test_a_corrected_intent_replaces_the_message_in_the_table(api):
    script = Script([*GREETING, "I am flying to the moon", "n", "affirm", "", ":quit"])
    script.session(api, "corrected").run()
    table = last_table(script.screen)
    # One row for the message, showing the corrected intent, not the parsed one too.
    assert table.count("I am flying to the moon") == 1, table
    assert "intent: affirm 1.00" in table
    assert table.count("intent: ") == 2  # /greet and the corrected message
    # The rewound parse stays in the tracker's log: only the table leaves it out.
    every = api.tracker("corrected", "ALL")["events"]
    assert [e["text"] for e in every if e["event"] == "user"].count("I am flying to the moon") == 2
