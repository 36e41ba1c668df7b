"""The ``/intent{"entity": "value"}@confidence`` shortcut that skips the NLU pipeline."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from typing import Any

logger = logging.getLogger(__name__)

_SHORTCUT = re.compile(
    r"^\s*/(?P<intent>[^{@]+?)(?P<confidence>@[-+]?[0-9]*\.?[0-9]+)?(?P<entities>\{.*\})?\s*$",
    re.DOTALL,
)


def parse_intent_shortcut(
    text: str, known_intents: Collection[str] | None = None
) -> dict[str, Any] | None:
    """Rasa's NLU result for a ``/intent`` message, or None when ``text`` is not one.

    With ``known_intents`` given, an unknown intent is not a shortcut (the text goes to the
    pipeline). Bad entity JSON or a bad confidence are ignored with a warning, as Rasa does.
    """
    match = _SHORTCUT.match(text or "")
    if not match:
        return None
    intent = match.group("intent").strip()
    if not intent or (known_intents is not None and intent not in known_intents):
        return None
    confidence = _confidence(match.group("confidence"), text)
    entities = _entities(match, text)
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": entities,
    }


def _confidence(raw: str | None, text: str) -> float:
    if raw is None:
        return 1.0
    value = float(raw[1:])
    if not 0.0 <= value <= 1.0:
        logger.warning("Confidence in %r is outside [0, 1]; using 1.0.", text)
        return 1.0
    return value


def _entities(match: re.Match[str], text: str) -> list[dict[str, Any]]:
    raw = match.group("entities")
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        logger.warning("Entities in %r are not valid JSON; ignoring them.", text)
        return []
    if not isinstance(parsed, dict):
        logger.warning("Entities in %r must be a JSON object; ignoring them.", text)
        return []
    start, end = match.start("entities"), match.end("entities")
    entities = []
    for name, value in parsed.items():
        for item in value if isinstance(value, list) else [value]:
            entities.append({"entity": name, "start": start, "end": end, "value": item})
    return entities
