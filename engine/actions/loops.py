"""Loop actions (forms, the two-stage fallback): activate, do a step, finish, deactivate."""

from __future__ import annotations

import copy

from engine.actions.base import Action, ActionContext
from engine.actions.defaults import (
    ASK_AFFIRMATION,
    ASK_REPHRASE,
    NLU_FALLBACK_INTENT,
    OUT_OF_SCOPE_INTENT,
    ActionDefaultFallback,
)
from engine.events import (
    ACTION_LISTEN,
    ActionExecuted,
    ActiveLoop,
    Event,
    Restarted,
    SlotSet,
    UserUttered,
)
from engine.slots import REQUESTED_SLOT


class LoopAction(Action):
    """Rasa's loop protocol: events of activation, one step, and deactivation when done."""

    def run(self, ctx: ActionContext) -> list[Event]:
        events: list[Event] = []
        if ctx.tracker.active_loop_name != self.name:
            events.append(ActiveLoop(self.name))
            events += self.activate(ctx)
        if not self.is_done(ctx, events):
            events += self.do(ctx, events)
        if self.is_done(ctx, events):
            events.append(ActiveLoop(None))
            events += self.deactivate(ctx, events)
        return events

    def activate(self, ctx: ActionContext) -> list[Event]:
        return []

    def do(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        raise NotImplementedError

    def is_done(self, ctx: ActionContext, events_so_far: list[Event]) -> bool:
        raise NotImplementedError

    def deactivate(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        return []


class TwoStageFallbackAction(LoopAction):
    """Ask to affirm the guessed intent, then to rephrase; give up after two misses."""

    name = "action_two_stage_fallback"

    def do(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        just_activated = any(isinstance(e, ActiveLoop) for e in events_so_far)
        if just_activated or _latest_intent(ctx) == NLU_FALLBACK_INTENT:
            return ctx.action(ASK_AFFIRMATION).run(ctx)
        return ctx.action(ASK_REPHRASE).run(ctx)

    def is_done(self, ctx: ActionContext, events_so_far: list[Event]) -> bool:
        clarified = _latest_intent(ctx) not in (NLU_FALLBACK_INTENT, OUT_OF_SCOPE_INTENT)
        return clarified or _gave_up(ctx)

    def deactivate(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        if _gave_up(ctx):
            return ActionDefaultFallback().run(ctx)
        message = ctx.tracker.latest_message
        if message is None:
            return [SlotSet(REQUESTED_SLOT, None)]
        clarification = copy.deepcopy(message)
        clarification.intent = {**clarification.intent, "confidence": 1.0}
        clarification.parse_data["intent"] = clarification.intent
        return [SlotSet(REQUESTED_SLOT, None), ActionExecuted(ACTION_LISTEN), clarification]


def _latest_intent(ctx: ActionContext) -> str | None:
    message = ctx.tracker.latest_message
    return message.intent_name if message else None


def _last_intents(ctx: ActionContext, count: int) -> list[str | None]:
    names: list[str | None] = []
    # After the latest restart, not the applied events: those collapse the loop's turns.
    for event in reversed(ctx.tracker.events):
        if isinstance(event, Restarted):
            break
        if isinstance(event, UserUttered):
            names.append(event.intent_name)
            if len(names) == count:
                break
    return names


def _gave_up(ctx: ActionContext) -> bool:
    two_fallbacks = _last_intents(ctx, 2) == [NLU_FALLBACK_INTENT] * 2
    second_denial = _last_intents(ctx, 3) == [
        OUT_OF_SCOPE_INTENT,
        NLU_FALLBACK_INTENT,
        OUT_OF_SCOPE_INTENT,
    ]
    return two_fallbacks or second_denial
