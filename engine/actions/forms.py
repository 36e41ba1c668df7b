"""The default form behaviour: validate what the user gave, ask for the next slot, finish.

Validation goes to ``validate_<form>`` on the action server when the domain lists that
action (as Rasa decides); a server that answers 404 for it counts as "no validation".
"""

from __future__ import annotations

import logging

from engine.actions.action_server import ActionNotFound, RemoteAction
from engine.actions.base import ActionContext, ActionRejected, scratch_tracker
from engine.actions.loops import LoopAction
from engine.events import (
    ACTION_LISTEN,
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
)
from engine.slots import REQUESTED_SLOT

logger = logging.getLogger(__name__)


class FormAction(LoopAction):
    def __init__(self, name: str) -> None:
        self.name = name

    def required_slots(self, ctx: ActionContext) -> list[str]:
        return ctx.domain.required_slots(self.name)

    def activate(self, ctx: ActionContext) -> list[Event]:
        """Validate the required slots that were filled before the form started."""
        prefilled = {
            slot: ctx.tracker.get_slot(slot)
            for slot in self.required_slots(ctx)
            if ctx.tracker.get_slot(slot) is not None
        }
        return self.validate_slots(ctx, prefilled) if prefilled else []

    def do(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        events = self._validate_if_required(ctx)
        if not _rejected_manually(events):
            events += self.request_next_slot(ctx, events_so_far + events)
        return events

    def is_done(self, ctx: ActionContext, events_so_far: list[Event]) -> bool:
        if any(isinstance(e, ActionExecutionRejected) for e in events_so_far):
            return False
        requested = [e for e in events_so_far if isinstance(e, SlotSet) and e.key == REQUESTED_SLOT]
        loops = [e for e in events_so_far if isinstance(e, ActiveLoop)]
        return bool(requested and requested[-1].value is None) or bool(
            loops and loops[-1].name is None
        )

    # -- validation --------------------------------------------------------------------
    def _validate_if_required(self, ctx: ActionContext) -> list[Event]:
        tracker = ctx.tracker
        needs_validation = not tracker.active_loop or (
            tracker.latest_action_name == ACTION_LISTEN
            and not tracker.active_loop.get("is_interrupted", False)
        )
        if needs_validation:
            return self.validate(ctx)
        # Back after an unhappy path: nothing to validate, but the server may still act.
        return self.validate_slots(ctx, {})

    def validate(self, ctx: ActionContext) -> list[Event]:
        """Validate the slots set since the user spoke; reject if the requested one is missing."""
        candidates = self._slot_extractions(ctx)
        events = self.validate_slots(ctx, candidates)
        validated = any(isinstance(e, SlotSet) and e.key != REQUESTED_SLOT for e in events)
        requested = ctx.tracker.get_slot(REQUESTED_SLOT)
        if requested and not validated and not _rejected_manually(events):
            raise ActionRejected(self.name, f"Failed to extract slot {requested}")
        return events

    def _slot_extractions(self, ctx: ActionContext) -> dict:
        if not ctx.tracker.active_loop:
            return {}  # pre-filled slots were validated when the form was activated
        wanted = set(self.required_slots(ctx))
        requested = ctx.tracker.get_slot(REQUESTED_SLOT)
        if requested:
            wanted.add(requested)
        values: dict = {}
        for event in _events_since_user_message(ctx.tracker.events):
            if isinstance(event, SlotSet) and event.key in wanted:
                values[event.key] = event.value
        return values

    def validate_slots(self, ctx: ActionContext, candidates: dict) -> list[Event]:
        events: list[Event] = [SlotSet(name, value) for name, value in candidates.items()]
        validator = f"validate_{self.name}"
        if validator not in ctx.domain.action_names_or_texts:
            return events
        temporary = scratch_tracker(
            ctx,
            [SlotSet(REQUESTED_SLOT, ctx.tracker.get_slot(REQUESTED_SLOT))]
            + [ActionExecuted(self.name)]
            + events,
        )
        try:
            returned = RemoteAction(validator).run(ctx.with_tracker(temporary))
        except ActionNotFound:
            logger.debug("'%s' is not on the action server: no validation", validator)
            return events
        # A candidate the validator says nothing about counts as valid.
        touched = {e.key for e in returned if isinstance(e, SlotSet)}
        return returned + [e for e in events if e.key not in touched]

    # -- asking ----------------------------------------------------------------------------
    def request_next_slot(self, ctx: ActionContext, events_so_far: list[Event]) -> list[Event]:
        if self.is_done(ctx, events_so_far):
            return [SlotSet(REQUESTED_SLOT, None)]  # the validator ended the form early
        to_request = next(
            (e.value for e in events_so_far if isinstance(e, SlotSet) and e.key == REQUESTED_SLOT),
            None,
        )
        temporary = scratch_tracker(ctx, events_so_far)
        events: list[Event] = []
        if not to_request:
            to_request = next(
                (s for s in self.required_slots(ctx) if temporary.get_slot(s) is None), None
            )
            events.append(SlotSet(REQUESTED_SLOT, to_request))
        if not to_request:
            return [SlotSet(REQUESTED_SLOT, None)]
        return events + self._ask_for(ctx.with_tracker(temporary), to_request)

    def _ask_for(self, ctx: ActionContext, slot: str) -> list[Event]:
        candidates = (
            f"action_ask_{self.name}_{slot}",
            f"utter_ask_{self.name}_{slot}",
            f"action_ask_{slot}",
            f"utter_ask_{slot}",
        )
        known = ctx.domain.action_names_or_texts
        name = next((c for c in candidates if c in known), None)
        return ctx.action(name).run(ctx) if name else []


def _rejected_manually(events: list[Event]) -> bool:
    return any(isinstance(e, ActionExecutionRejected) for e in events)


def _events_since_user_message(events: list[Event]) -> list[Event]:
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index:]
    return list(events)
