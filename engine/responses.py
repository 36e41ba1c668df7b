"""Render the domain's responses into ``bot`` events (Rasa's templated NLG).

A response has variations; the ones for the output channel and whose slot
conditions hold are preferred, one is picked at random (the RNG is injectable so
tests are repeatable), then ``{slot}`` placeholders are filled from the slots.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Mapping
from typing import Any

from engine.domain import Domain
from engine.events import BotUttered

DATA_KEYS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
INTERPOLATED_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")
_PLACEHOLDER = re.compile(r"\{([^\n{}]+?)\}")


def bot_event(message: Mapping[str, Any]) -> BotUttered:
    """A ``bot`` event from a message dict: text, the rich ``data`` keys, the rest as metadata."""
    rest = dict(message)
    text = rest.pop("text", None)
    data = {key: rest.pop(key, None) for key in DATA_KEYS}
    return BotUttered(text, data, rest)


def interpolate(value: Any, values: Mapping[str, Any]) -> Any:
    """Fill ``{name}`` placeholders in strings, recursively through dicts and lists.

    As in Rasa, a text naming an unknown placeholder is left unchanged as a whole.
    """
    if isinstance(value, str):
        names = _PLACEHOLDER.findall(value)
        if not names or any(name not in values for name in names):
            return value
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, dict):
        return {key: interpolate(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, values) for item in value]
    return value


class ResponseRenderer:
    """Chooses and fills response variations of one domain."""

    def __init__(self, domain: Domain, rng: random.Random | None = None) -> None:
        self.domain = domain
        self.rng = rng or random.Random()

    def has(self, name: str) -> bool:
        return bool(self.domain.responses.get(name))

    def generate(
        self,
        name: str,
        slots: Mapping[str, Any],
        output_channel: str | None = None,
        **kwargs: Any,
    ) -> dict | None:
        """The filled message dict of response ``name`` (None when it has no usable variation)."""
        variations = self.suitable_variations(name, slots, output_channel)
        if not variations:
            return None
        chosen = copy.deepcopy(self.rng.choice(variations))
        values = {**slots, **kwargs}
        for key in INTERPOLATED_KEYS:
            if chosen.get(key) is not None:
                chosen[key] = interpolate(chosen[key], values)
        return chosen

    def render(
        self, name: str, slots: Mapping[str, Any], output_channel: str | None = None, **kwargs: Any
    ) -> BotUttered | None:
        """The ``bot`` event for response action ``name`` (metadata ``utter_action``)."""
        message = self.generate(name, slots, output_channel, **kwargs)
        if message is None:
            return None
        message["utter_action"] = name
        return bot_event(message)

    def suitable_variations(
        self, name: str, slots: Mapping[str, Any], output_channel: str | None
    ) -> list[dict]:
        """Rasa's preference order: conditional for the channel, plain for the channel,
        conditional without channel, plain without channel."""
        variations = self.domain.responses.get(name) or []
        conditional = [v for v in variations if v.get("condition")]
        plain = [v for v in variations if not v.get("condition")]
        for group, needs_conditions in (
            (_for_channel(conditional, output_channel), True),
            (_for_channel(plain, output_channel), False),
            (_for_channel(conditional, None), True),
            (_for_channel(plain, None), False),
        ):
            if needs_conditions:
                group = [v for v in group if _conditions_hold(v["condition"], slots)]
            if group:
                return group
        return []


def _for_channel(variations: list[dict], channel: str | None) -> list[dict]:
    if channel is None:
        return [v for v in variations if not v.get("channel")]
    return [v for v in variations if v.get("channel") == channel]


def _conditions_hold(conditions: Any, slots: Mapping[str, Any]) -> bool:
    if not isinstance(conditions, list):
        return False
    for condition in conditions:
        if not isinstance(condition, dict) or condition.get("type", "slot") != "slot":
            return False
        if slots.get(condition.get("name")) != condition.get("value"):
            return False
    return True
