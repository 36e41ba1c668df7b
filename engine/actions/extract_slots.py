"""``action_extract_slots``: fill slots from the latest message by each slot's mappings."""

from __future__ import annotations

import logging
from typing import Any

from engine.actions.action_server import ActionNotFound, ActionServerError, RemoteAction
from engine.actions.base import Action, ActionContext, ActionRejected, scratch_tracker
from engine.events import Event, SlotSet
from engine.slots import REQUESTED_SLOT, SESSION_START_METADATA_SLOT, Slot

logger = logging.getLogger(__name__)
VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"
_DEFAULT_SLOTS = (REQUESTED_SLOT, SESSION_START_METADATA_SLOT)


class ActionExtractSlots(Action):
    name = "action_extract_slots"

    def run(self, ctx: ActionContext) -> list[Event]:
        events: list[Event] = []
        custom_done: set[str] = set()
        for slot in ctx.domain.slots:
            if slot.name in _DEFAULT_SLOTS:
                continue
            events += self._fill(ctx, slot, custom_done)
        return self._validate(ctx, events)

    def _fill(self, ctx: ActionContext, slot: Slot, custom_done: set[str]) -> list[Event]:
        events: list[Event] = []
        for mapping in slot.mappings:
            if not conditions_hold(mapping, ctx):
                continue
            if mapping.get("type") == "custom":
                events += self._custom(ctx, mapping, custom_done)
                continue
            value = mapping_value(mapping, ctx)
            if value is None:
                continue
            if ctx.tracker.get_slot(slot.name) != value:
                events.append(SlotSet(slot.name, value))
            break
        return events

    def _custom(self, ctx: ActionContext, mapping: dict, done: set[str]) -> list[Event]:
        name = mapping.get("action")
        if not name or name in done:
            return []
        done.add(name)
        return _run_remote(ctx, name)

    def _validate(self, ctx: ActionContext, events: list[Event]) -> list[Event]:
        if not any(isinstance(e, SlotSet) for e in events):
            return events
        if VALIDATE_SLOT_MAPPINGS not in ctx.domain.user_actions:
            return events
        temporary = ctx.with_tracker(scratch_tracker(ctx, events))
        returned = _run_remote(temporary, VALIDATE_SLOT_MAPPINGS, fallback=None)
        if returned is None:
            return events
        touched = {e.key for e in returned if isinstance(e, SlotSet)}
        return returned + [e for e in events if not (isinstance(e, SlotSet) and e.key in touched)]


def _run_remote(ctx: ActionContext, name: str, fallback: Any = ()) -> Any:
    try:
        return RemoteAction(name).run(ctx)
    except ActionNotFound:
        return list(fallback) if fallback is not None else None
    except (ActionServerError, ActionRejected) as exc:
        logger.error("slot mapping action '%s' failed for '%s': %s", name, ctx.sender_id, exc)
        return list(fallback) if fallback is not None else None


def conditions_hold(mapping: dict, ctx: ActionContext) -> bool:
    """No conditions, or one whose active loop (and requested slot, if given) match now."""
    conditions = mapping.get("conditions")
    if not conditions:
        return True
    active = ctx.tracker.active_loop_name
    requested = ctx.tracker.get_slot(REQUESTED_SLOT)
    for condition in conditions:
        if condition.get("active_loop") != active:
            continue
        wanted = condition.get("requested_slot")
        if wanted is None or wanted == requested:
            return True
    return False


def intent_is_desired(mapping: dict, intent: str | None) -> bool:
    wanted = _as_list(mapping.get("intent"))
    unwanted = _as_list(mapping.get("not_intent"))
    if wanted:
        return intent in wanted
    return intent not in unwanted


def mapping_value(mapping: dict, ctx: ActionContext) -> Any:
    """The value a predefined mapping extracts from the latest message, or None."""
    message = ctx.tracker.latest_message
    if message is None or not intent_is_desired(mapping, message.intent_name):
        return None
    kind = mapping.get("type")
    if kind == "from_entity":
        values = [
            e.get("value")
            for e in message.entities
            if e.get("entity") == mapping.get("entity")
            and e.get("role") == mapping.get("role")
            and e.get("group") == mapping.get("group")
        ]
        return values[-1] if values else None
    if kind == "from_intent":
        return mapping.get("value")
    if kind == "from_trigger_intent":
        return mapping.get("value") if ctx.tracker.active_loop_name is None else None
    if kind == "from_text":
        return message.text
    return None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
