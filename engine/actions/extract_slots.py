"""``action_extract_slots``: fill slots from the latest message by each slot's mappings."""

from __future__ import annotations

import json
import logging
from typing import Any

from engine.actions.action_server import ActionNotFound, ActionServerError, RemoteAction
from engine.actions.base import Action, ActionContext, ActionRejected, scratch_tracker
from engine.events import BotUttered, Event, SlotSet
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
            if not conditions_hold(mapping, ctx, slot.name):
                continue
            if mapping.get("type") == "custom":
                events += self._custom(ctx, mapping, custom_done)
                continue
            if _shared_entity_of_another_slot(ctx, slot.name, mapping):
                continue
            values = mapping_values(mapping, ctx)
            if not values:
                continue
            value = values if slot.type == "list" else values[-1]
            # Set again even when unchanged, as Rasa does: the form sees the slot as given.
            if value is not None or ctx.tracker.get_slot(slot.name) is not None:
                events.append(SlotSet(slot.name, value))
                break
        return events

    def _custom(self, ctx: ActionContext, mapping: dict, done: set[str]) -> list[Event]:
        name = mapping.get("action")
        if not name or name in done:
            return []
        done.add(name)
        kept: list[Event] = []
        for event in _run_remote(ctx, name):
            if isinstance(event, SlotSet):
                if ctx.tracker.get_slot(event.key) != event.value:
                    kept.append(event)
            elif isinstance(event, BotUttered):
                kept.append(event)
            else:
                logger.info(
                    "slot mapping action '%s' returned a '%s' event: only slots and bot "
                    "messages are kept",
                    name,
                    event.type_name,
                )
        return kept

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


def conditions_hold(mapping: dict, ctx: ActionContext, slot_name: str) -> bool:
    """No conditions, or one whose active loop (and requested slot, if given) match now.

    While the loop stands rejected, the slot it asked for is not filled through a
    conditioned mapping: the message answered something else ("Do you want to continue?").
    """
    conditions = mapping.get("conditions")
    if not conditions:
        return True
    active = ctx.tracker.active_loop_name
    requested = ctx.tracker.get_slot(REQUESTED_SLOT)
    if ctx.tracker.active_loop.get("rejected") and requested == slot_name:
        return False
    for condition in conditions:
        if condition.get("active_loop") != active:
            continue
        wanted = condition.get("requested_slot")
        if wanted is None or wanted == requested:
            return True
    return False


def intent_is_desired(mapping: dict, intent: str | None, ctx: ActionContext) -> bool:
    """The mapping's ``intent`` / ``not_intent``; while a form runs, its ``ignored_intents``
    count as ``not_intent`` of every mapping not conditioned on another loop."""
    wanted = _as_list(mapping.get("intent"))
    if wanted:
        return intent in wanted
    unwanted = _as_list(mapping.get("not_intent"))
    return intent not in unwanted and intent not in _ignored_by_active_loop(mapping, ctx)


def _ignored_by_active_loop(mapping: dict, ctx: ActionContext) -> list:
    loop = ctx.tracker.active_loop_name
    if not loop:
        return []
    conditions = mapping.get("conditions") or []
    if conditions and not any(c.get("active_loop") == loop for c in conditions):
        return []
    return _as_list(ctx.domain.forms.get(loop, {}).get("ignored_intents"))


def mapping_values(mapping: dict, ctx: ActionContext) -> list[Any]:
    """What a predefined mapping extracts from the latest message (empty: nothing)."""
    message = ctx.tracker.latest_message
    if message is None or not intent_is_desired(mapping, message.intent_name, ctx):
        return []
    kind = mapping.get("type")
    if kind == "from_entity":
        return [
            e.get("value")
            for e in message.entities
            if e.get("entity") == mapping.get("entity")
            and e.get("role") == mapping.get("role")
            and e.get("group") == mapping.get("group")
        ]
    if kind == "from_intent":
        return [mapping.get("value")]
    if kind == "from_trigger_intent":
        return [mapping.get("value")] if ctx.tracker.active_loop_name is None else []
    if kind == "from_text":
        return [message.text]
    return []


def _shared_entity_of_another_slot(ctx: ActionContext, slot_name: str, mapping: dict) -> bool:
    """While a form runs, an entity that several of its slots map fills only the one it asked
    for: "for 4 people at 7" must not put 4 into every number slot of the form."""
    form = ctx.tracker.active_loop_name
    if mapping.get("type") != "from_entity" or not form:
        return False
    if ctx.tracker.get_slot(REQUESTED_SLOT) == slot_name:
        return False
    required = ctx.domain.required_slots(form)
    if slot_name not in required:
        return False
    key = _mapping_key(mapping)
    same = sum(
        _mapping_key(other) == key
        for slot in ctx.domain.slots
        if slot.name in required
        for other in slot.mappings
        if other.get("type") == "from_entity"
    )
    return same > 1


def _mapping_key(mapping: dict) -> str:
    return json.dumps(mapping, sort_keys=True, default=str)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
