"""Questions to the author over plain input()/print(), so any terminal (and tmux) can drive it.

Every question also accepts the session commands (``:undo``, ``:restart``, ``:fork``,
``:export``, ``:quit``); they leave the question by raising the matching outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from interactive.outcomes import (
    Abort,
    ExportConversation,
    ForkTracker,
    RestartConversation,
    UndoLastStep,
)

COMMANDS: dict[str, type[Exception]] = {
    ":undo": UndoLastStep,
    ":restart": RestartConversation,
    ":fork": ForkTracker,
    ":export": ExportConversation,
    ":quit": Abort,
}
HELP = "Commands: :undo  :restart  :fork  :export  :quit  (at any question)"
NEW = object()  # the "enter a new one" choice
SHOWN = 15


@dataclass(frozen=True)
class Option:
    value: str
    label: str = ""


class Terminal:
    """Asks questions and prints answers; input and output are injectable for tests."""

    def __init__(
        self,
        ask: Callable[[str], str] | None = None,
        say: Callable[[str], Any] = print,
    ) -> None:
        self._input = ask or (lambda prompt: input(prompt))  # looked up late: patchable
        self.say = say

    def ask(self, question: str, default: str | None = None, *, commands: bool = True) -> str:
        """One line of text; Enter gives ``default`` (when there is one)."""
        hint = f" [{default}]" if default else ""
        while True:
            try:
                answer = self._input(f"? {question}{hint} ").strip()
            except EOFError:
                raise Abort() from None
            except KeyboardInterrupt:
                self.say("")
                raise Abort() from None
            if commands and answer.lower() in COMMANDS:
                raise COMMANDS[answer.lower()]()
            if commands and answer.lower() in (":help", ":?"):
                self.say(HELP)
                continue
            if answer or default is not None:
                return answer or (default or "")

    def confirm(self, question: str, default: bool = True) -> bool:
        choices = "Y/n" if default else "y/N"
        while True:
            answer = self.ask(f"{question} ({choices})", "").lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.say("Please answer y or n.")

    def choose(self, question: str, options: Sequence[Option], *, allow_new: bool = True) -> Any:
        """A searchable list: a number picks, an exact name picks, other text filters."""
        shown = list(options)
        while True:
            self._show(question, shown, allow_new)
            answer = self.ask("Number, name or text to filter ->")
            if allow_new and answer.lower() in ("new", "0"):
                return NEW
            if answer.isdigit() and 1 <= int(answer) <= min(len(shown), SHOWN):
                return shown[int(answer) - 1].value
            exact = [o for o in options if o.value == answer]
            if exact:
                return exact[0].value
            matches = [o for o in options if answer.lower() in o.value.lower()]
            if not matches:
                self.say(f"Nothing matches {answer!r}; showing all.")
            shown = matches or list(options)

    def _show(self, question: str, shown: Sequence[Option], allow_new: bool) -> None:
        self.say(question)
        if allow_new:
            self.say("   0. <new>")
        for number, option in enumerate(shown[:SHOWN], 1):
            self.say(f"  {number:2d}. {option.value}{'  ' + option.label if option.label else ''}")
        if len(shown) > SHOWN:
            self.say(f"  ... {len(shown) - SHOWN} more: type text to filter")
