"""Questions to the author over plain input()/print(), so any terminal (and tmux) can drive it.

Every question also accepts the session commands (``:undo``, ``:restart``, ``:fork``,
``:export``, ``:quit``); they leave the question by raising the matching outcome. In a
terminal, input() goes through GNU readline: line editing, a history of what was typed
(Up, Ctrl-R) and Tab completion of the domain's intent and action names and the commands.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
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
# Answers not worth recalling with Up: yes, no, Enter, a number picked from a list.
FORGETTABLE = re.compile(r"^(y|n|yes|no|\d{1,2}|)$", re.IGNORECASE)


@dataclass(frozen=True)
class Option:
    value: str
    label: str = ""


def completions(names: Iterable[str], prefix: str) -> list[str]:
    """The names that complete ``prefix``, sorted; an intent also completes after ``/``
    (a message typed as ``/greet`` is that intent)."""
    candidates = set(names) | set(COMMANDS) | {":help"}
    candidates |= {f"/{name}" for name in names if not name.startswith(("/", ":"))}
    return sorted(name for name in candidates if name.startswith(prefix))


def completer(names: Callable[[], Iterable[str]]) -> Callable[[str, int], str | None]:
    """readline's completer protocol: asked with state 0, 1, 2... until it returns None."""
    found: list[str] = []

    def complete(text: str, state: int) -> str | None:
        if state == 0:
            found[:] = completions(names(), text)
        return found[state] if state < len(found) else None

    return complete


class Terminal:
    """Asks questions and prints answers; input and output are injectable for tests."""

    def __init__(
        self,
        ask: Callable[[str], str] | None = None,
        say: Callable[[str], Any] = print,
    ) -> None:
        self.names: set[str] = set()  # what Tab completes: the domain's, once it is known
        self._readline = _readline(lambda: self.names) if ask is None else None
        self._input = ask or (lambda prompt: input(prompt))  # looked up late: patchable
        self.say = say

    def _read(self, prompt: str, default: str | None) -> str:
        """One line; with readline a text default is put on the line to edit, not retype."""
        if self._readline is None or not default:
            hint = f" [{default}]" if default else ""
            return self._input(f"{prompt}{hint} ")
        self._readline.set_startup_hook(lambda: self._readline.insert_text(default))
        try:
            answer = self._input(f"{prompt} ")
        finally:
            self._readline.set_startup_hook()
        return answer

    def _remember(self, answer: str) -> None:
        """Into the history (Up, Ctrl-R), unless trivial or the same as the line before."""
        if self._readline is None or FORGETTABLE.match(answer):
            return
        length = self._readline.get_current_history_length()
        if not length or self._readline.get_history_item(length) != answer:
            self._readline.add_history(answer)

    def ask(self, question: str, default: str | None = None, *, commands: bool = True) -> str:
        """One line of text; Enter gives ``default`` (when there is one)."""
        while True:
            try:
                answer = self._read(f"? {question}", default).strip()
                self._remember(answer)
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


def _readline(names: Callable[[], Iterable[str]]) -> Any:
    """GNU readline under input(), when a person types at a terminal; None otherwise (piped
    input, or a Python built without it)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    try:
        import readline
    except ImportError:
        return None
    # Words end at spaces only: "/greet", ":undo" and "utter_cheer_up" complete whole.
    readline.set_completer_delims(" \t\n")
    readline.set_auto_history(False)  # Terminal._remember keeps what is worth recalling
    readline.set_completer(completer(names))
    if "libedit" in (readline.__doc__ or ""):  # macOS's Python binds keys its own way
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    return readline
