"""One interactive-learning session: the author types, confirms or corrects, and the server learns.

The loop follows Rasa's: while the bot listens, take a user message and validate its parse;
then validate each predicted action until the bot listens again. Commands leave a step as
outcomes (restart, fork, undo, export, abort) that the loop turns into tracker events.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from engine.domain import DEFAULT_ACTIONS
from interactive.client import Client
from interactive.display import annotate, history_table
from interactive.events import (
    ACTION_LISTEN,
    action_event,
    bot_event,
    entities_of,
    intent_name,
    is_listening,
    latest_user_message,
    simple_event,
)
from interactive.export import DEFAULT_INTENTS
from interactive.outcomes import (
    Abort,
    ExportConversation,
    ForkTracker,
    RestartConversation,
    UndoLastStep,
)
from interactive.terminal import HELP, NEW, Option, Terminal

ENTITY_MARKUP = re.compile(r"\[(?P<value>[^\]]+)\]\((?P<entity>[^)]+)\)")
Exporter = Callable[[list[dict], dict[str, Any]], str]


class Session:
    """Teach one conversation; ``exporter(events, domain)`` writes files and says where."""

    def __init__(
        self,
        client: Client,
        conversation_id: str,
        terminal: Terminal,
        *,
        max_messages: int | None = None,
        exporter: Exporter | None = None,
        on_step: Callable[[list[dict]], None] | None = None,
    ) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.terminal = terminal
        self.max_messages = max_messages
        self.exporter = exporter
        self.on_step = on_step or (lambda events: None)
        self.domain: dict[str, Any] = {}
        self.unsaved = False
        self.exported = False

    def run(self) -> None:
        """Record turns until the author quits or ``max_messages`` user turns were taught."""
        self.domain = self.client.domain()
        self.terminal.names = domain_names(self.domain)
        self.terminal.say(HELP)
        taught = 0
        while self.max_messages is None or taught < self.max_messages:
            try:
                if self.listening():
                    self.enter_user_message()
                self.predict_till_listen()
                taught += 1
            except RestartConversation:
                self.restart()
            except UndoLastStep:
                self.undo()
            except ForkTracker:
                self.fork()
            except ExportConversation:
                self.export()
            except Abort:
                break
            self._step_done()
        self._offer_export()

    def events(self, verbosity: str = "AFTER_RESTART") -> list[dict]:
        return self.client.tracker(self.conversation_id, verbosity).get("events") or []

    def listening(self) -> bool:
        return is_listening(self.events("APPLIED"))

    def show_history(self) -> None:
        """The table of the conversation as the bot now sees it: the applied events, so a
        corrected message (rewound, then sent again) shows once and undone actions not."""
        self.terminal.say(history_table(self.events("APPLIED")))

    def _step_done(self) -> None:
        self.on_step(self.events("APPLIED"))

    # --- the user's turn ----------------------------------------------------------------
    def enter_user_message(self) -> None:
        text = self.terminal.ask("Your input ->")
        if text == "/restart":
            raise RestartConversation()
        tracker = self.client.send_message(self.conversation_id, text)
        self.unsaved = True
        self.validate_nlu(tracker.get("events") or [])

    def validate_nlu(self, events: list[dict]) -> None:
        """Ask whether the parse is right; a correction replaces the user event."""
        message = latest_user_message(events)
        if message is None:
            return
        shown = annotate(message.get("text") or "", entities_of(message))
        question = f"Is the intent '{intent_name(message)}' correct for '{shown}'"
        question += " and are all entities labeled correctly?" if entities_of(message) else "?"
        if self.terminal.confirm(question):
            return
        intent = self.choose_intent(message)
        entities = self.correct_entities(message)
        parse_data = {
            **(message.get("parse_data") or {}),
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entities,
        }
        corrected = {**message, "parse_data": parse_data}
        listen = action_event(ACTION_LISTEN)
        self.client.send_event(self.conversation_id, [simple_event("rewind"), listen, corrected])

    def choose_intent(self, message: dict[str, Any]) -> str:
        ranking = (message.get("parse_data") or {}).get("intent_ranking") or []
        options = [Option(r["name"], f"{r.get('confidence', 0):.2f}") for r in ranking]
        named = {o.value for o in options}
        known = [_name(i) for i in self.domain.get("intents") or []]
        options += [Option(i) for i in sorted(known) if i not in named and i not in DEFAULT_INTENTS]
        choice = self.terminal.choose("What intent is it?", options)
        if choice is NEW:
            intent = self.terminal.ask("Name of the new intent ->")
            self.terminal.names.add(intent)  # Tab completes it from now on
            return intent
        return choice

    def correct_entities(self, message: dict[str, Any]) -> list[dict]:
        """The author marks entities in the text as ``[value](entity)``."""
        text = message.get("text") or ""
        current = annotate(text, entities_of(message))
        while True:
            marked = self.terminal.ask("Entities, marked as [value](entity) ->", current)
            entities, plain = parse_markup(marked)
            if plain == text:
                return entities
            self.terminal.say(f"The text must stay {text!r}; only add or remove markup.")

    # --- the bot's turn -----------------------------------------------------------------
    def predict_till_listen(self) -> None:
        """Validate predicted actions one by one until the bot waits for the user."""
        while True:
            result = self.client.request_prediction(self.conversation_id)
            best = max(result["scores"], key=lambda s: s["score"])
            self.show_history()
            self.unsaved = True
            if self.validate_action(best["action"], result, result["scores"]) == ACTION_LISTEN:
                return
            self._step_done()

    def validate_action(self, action: str, result: dict[str, Any], scores: list[dict]) -> str:
        policy, confidence = result.get("policy"), result.get("confidence")
        question = f"The bot wants to run '{action}' (policy {policy}, confidence "
        question += f"{confidence or 0:.2f}). Is that correct?"
        if self.terminal.confirm(question):
            self.client.send_action(
                self.conversation_id, action, policy=policy, confidence=confidence
            )
            return action
        return self.request_action(scores)

    def request_action(self, scores: list[dict]) -> str:
        ranked = sorted(scores, key=lambda s: -s["score"])
        options = [Option(s["action"], f"{s['score']:.2f}") for s in ranked]
        choice = self.terminal.choose("What is the next action of the bot?", options)
        if choice is not NEW:
            self.client.send_action(self.conversation_id, choice)
            return choice
        name = self.terminal.ask("Name of the new action (utter_... for a bot response) ->")
        self.terminal.names.add(name)  # Tab completes it from now on
        self.client.send_action(self.conversation_id, name, is_new_action=True)
        if name.startswith("utter_"):
            text = self.terminal.ask(f"What should the bot say for {name}? ->")
            self.client.send_event(self.conversation_id, bot_event(text, name))
        return name

    # --- outcomes -----------------------------------------------------------------------
    def restart(self) -> None:
        listen = action_event(ACTION_LISTEN)
        self.client.send_event(self.conversation_id, [simple_event("restart"), listen])
        self.terminal.say("Restarted the conversation.")

    def undo(self) -> None:
        """Revert the latest action (``undo``) or user message (``rewind`` + listen)."""
        for event in reversed(self.events("APPLIED")):
            kind = event.get("event")
            if kind == "action" and event.get("name") != ACTION_LISTEN:
                self.client.send_event(self.conversation_id, simple_event("undo"))
                break
            if kind == "user":
                listen = action_event(ACTION_LISTEN)
                self.client.send_event(self.conversation_id, [simple_event("rewind"), listen])
                break
        else:
            self.terminal.say("Nothing to undo.")
            return
        self.show_history()

    def fork(self) -> None:
        """Continue from before a chosen earlier user message."""
        events = self.events()
        users = [(i, e) for i, e in enumerate(events) if e.get("event") == "user"]
        if not users:
            self.terminal.say("No user message to fork at.")
            return
        options = [Option(str(n), e.get("text") or "") for n, (_, e) in enumerate(users, 1)]
        choice = self.terminal.choose("Fork before which user message?", options, allow_new=False)
        index = users[int(choice) - 1][0]
        self.client.send_event(self.conversation_id, [simple_event("restart"), *events[:index]])
        self.show_history()

    def export(self) -> None:
        if self.exporter is None:
            self.terminal.say("Nothing to export to.")
            return
        self.terminal.say(self.exporter(self.events("ALL"), self.client.domain()))
        self.unsaved = False
        self.exported = True

    def _offer_export(self) -> None:
        if not (self.unsaved and self.exporter):
            return
        try:
            if self.terminal.confirm("Export the conversation before quitting?"):
                self.export()
        except (Abort, UndoLastStep, RestartConversation, ForkTracker, ExportConversation):
            return


def parse_markup(marked: str) -> tuple[list[dict], str]:
    """``[value](entity)`` markup to entity dicts with offsets, and the plain text."""
    entities: list[dict] = []
    plain, cursor = [], 0
    for match in ENTITY_MARKUP.finditer(marked):
        plain.append(marked[cursor : match.start()])
        start = sum(map(len, plain))
        value = match.group("value")
        entities.append(
            {"entity": match.group("entity"), "start": start, "end": start + len(value)}
            | {"value": value}
        )
        plain.append(value)
        cursor = match.end()
    plain.append(marked[cursor:])
    return entities, "".join(plain)


def domain_names(domain: dict[str, Any]) -> set[str]:
    """The intent, action, response and form names of a domain, and the default actions
    every bot has (``action_listen`` ends the bot's turn), for Tab to complete."""
    names = {_name(i) for i in domain.get("intents") or []} | set(DEFAULT_ACTIONS)
    names |= {str(a) for a in domain.get("actions") or []}
    names |= set(domain.get("responses") or {}) | set(domain.get("forms") or {})
    return names


def _name(item: Any) -> str:
    return next(iter(item)) if isinstance(item, dict) else str(item)
