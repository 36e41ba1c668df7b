"""The default actions every domain has (API.md section 11), and response actions."""

from __future__ import annotations

import copy

from engine.actions.base import Action, ActionContext
from engine.events import (
    ACTION_LISTEN,
    ActionExecuted,
    ActiveLoop,
    Event,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from engine.responses import bot_event
from engine.session import session_start_events
from engine.slots import REQUESTED_SLOT

NLU_FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
ASK_AFFIRMATION = "action_default_ask_affirmation"
ASK_REPHRASE = "action_default_ask_rephrase"


class ResponseAction(Action):
    """``utter_*``: renders the domain response; ``silent`` ones skip a missing response."""

    def __init__(self, name: str, response: str | None = None, silent: bool = False) -> None:
        self.name = name
        self.response = response or name
        self.silent = silent

    def run(self, ctx: ActionContext) -> list[Event]:
        return ctx.utter(self.response)


class EndToEndResponse(Action):
    """A bot text predicted end-to-end: said as it is."""

    def __init__(self, text: str) -> None:
        self.name = text
        self.text = text

    def run(self, ctx: ActionContext) -> list[Event]:
        return [bot_event({"text": self.text})]


class ActionListen(Action):
    name = "action_listen"

    def run(self, ctx: ActionContext) -> list[Event]:
        return []


class ActionUnlikelyIntent(ActionListen):
    name = "action_unlikely_intent"


class ActionRestart(Action):
    name = "action_restart"

    def run(self, ctx: ActionContext) -> list[Event]:
        return [*ctx.utter("utter_restart"), Restarted()]


class ActionSessionStart(Action):
    name = "action_session_start"

    def run(self, ctx: ActionContext) -> list[Event]:
        # session_start_events begins with this action's own event, which the processor logs.
        events = session_start_events(
            ctx.tracker.applied_events(), carry_over_slots=ctx.domain.carry_over_slots
        )
        return events[1:]


class ActionDefaultFallback(Action):
    name = "action_default_fallback"

    def run(self, ctx: ActionContext) -> list[Event]:
        return [*ctx.utter("utter_default"), UserUtteranceReverted()]


class ActionDeactivateLoop(Action):
    name = "action_deactivate_loop"

    def run(self, ctx: ActionContext) -> list[Event]:
        return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]


class ActionBack(Action):
    name = "action_back"

    def run(self, ctx: ActionContext) -> list[Event]:
        return [*ctx.utter("utter_back"), UserUtteranceReverted(), UserUtteranceReverted()]


class ActionSendText(Action):
    name = "action_send_text"

    def run(self, ctx: ActionContext) -> list[Event]:
        message = (ctx.action_metadata or {}).get("message") or {"text": ""}
        return [bot_event(message if isinstance(message, dict) else {"text": str(message)})]


class ActionDefaultAskRephrase(Action):
    name = ASK_REPHRASE

    def run(self, ctx: ActionContext) -> list[Event]:
        return ctx.utter("utter_ask_rephrase")


class ActionDefaultAskAffirmation(Action):
    """Asks "Did you mean '<intent>'?"; for ``nlu_fallback`` the runner-up intent is meant."""

    name = ASK_AFFIRMATION

    def run(self, ctx: ActionContext) -> list[Event]:
        message = ctx.tracker.latest_message
        intent = message.intent_name if message else None
        ranking = (message.parse_data.get("intent_ranking") if message else None) or []
        if intent == NLU_FALLBACK_INTENT and len(ranking) > 1:
            intent = ranking[1].get("name")
        buttons = [
            {"title": "Yes", "payload": f"/{intent}"},
            {"title": "No", "payload": f"/{OUT_OF_SCOPE_INTENT}"},
        ]
        text = f"Did you mean '{intent}'?"
        return [bot_event({"text": text, "buttons": buttons, "utter_action": self.name})]


class ActionRevertFallbackEvents(Action):
    """Removes the turns of a finished two-stage fallback, keeping what the user meant."""

    name = "action_revert_fallback_events"

    def run(self, ctx: ActionContext) -> list[Event]:
        tracker = ctx.tracker
        if last_executed_action_is(tracker.events, ASK_REPHRASE):
            return [*_rephrasing_reverts(), *_last_user(tracker.events, confident=False)]
        if last_executed_action_is(tracker.events, ASK_AFFIRMATION):
            events: list[Event] = [UserUtteranceReverted(), UserUtteranceReverted()]
            events.append(ActionExecuted(ACTION_LISTEN))
            if last_executed_action_is(tracker.events, ASK_REPHRASE, skip=1):
                events += _rephrasing_reverts()
            return [*events, *_last_user(tracker.events, confident=True)]
        return []


def _rephrasing_reverts() -> list[Event]:
    return [UserUtteranceReverted() for _ in range(3)] + [ActionExecuted(ACTION_LISTEN)]


def _last_user(events: list[Event], *, confident: bool) -> list[Event]:
    for event in reversed(events):
        if isinstance(event, UserUttered):
            again = copy.deepcopy(event)
            if confident:
                again.parse_data["intent"] = {**again.intent, "confidence": 1.0}
                again.intent = again.parse_data["intent"]
            return [again]
    return []


def last_executed_action_is(events: list[Event], name: str, skip: int = 0) -> bool:
    """Whether the ``skip``-th latest action other than ``action_listen`` is ``name``."""
    for event in reversed(events):
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN:
            if skip == 0:
                return event.action_name == name
            skip -= 1
    return False
