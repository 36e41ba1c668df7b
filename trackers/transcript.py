"""A conversation's log as the items of a chat transcript, corrections beside the originals.

Pure presentation: the template draws user items right, bot items left, actions and slots
small in between, session starts and restarts as separators, and every other event
(``user_featurization``, ``rewind``, loops, reminders...) as metadata the page folds away
behind one toggle. Confidences under the review thresholds (``CONVAPI_REVIEW_*_THRESHOLD``)
and failed custom actions are flagged for the template to highlight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from engine.story_writer import annotate_entities
from trackers.models import Conversation, Correction
from trackers.models import Event as EventRow
from trackers.review import effective_corrections

# A page shows this many events, the latest first; links page back through the rest, and
# the downloads always hold the whole log.
MAX_EVENTS_SHOWN = 2000
SEPARATORS = {"session_started": "session started", "restart": "conversation restarted"}
# A message longer than this, or of more lines, is shown shortened with a way to expand it.
LONG_TEXT_CHARS = 500
LONG_TEXT_LINES = 8


@dataclass
class Item:
    kind: str  # user, bot, action, slot, separator, meta
    row: EventRow
    label: str = ""
    text: str = ""
    detail: str = ""
    buttons: list[dict] = field(default_factory=list)
    image: str = ""
    corrections: dict[str, Correction] = field(default_factory=dict)
    annotated: str = ""
    low_confidence: bool = False
    failure: str = ""

    @property
    def long(self) -> bool:
        """Whether the page shortens the message (it can be expanded in place)."""
        return len(self.text) > LONG_TEXT_CHARS or self.text.count("\n") >= LONG_TEXT_LINES

    @property
    def corrected_annotation(self) -> str:
        fix = self.corrections.get(Correction.ENTITIES)
        return annotate_entities(self.text, fix.entities) if fix else ""

    @property
    def time(self) -> str:
        return datetime.fromtimestamp(self.row.timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class TranscriptPage:
    """Events ``first``..``last`` of the log as items; ``earlier``/``later`` are the ``upto``
    of the neighbouring pages (None at either end of the log)."""

    items: list[Item]
    first: int
    last: int
    earlier: int | None
    later: int | None

    @property
    def meta_count(self) -> int:
        """How many metadata events the "details" toggle shows."""
        return sum(1 for item in self.items if item.kind == "meta")


def transcript(conversation: Conversation, *, upto: int | None = None) -> TranscriptPage:
    """The page of at most ``MAX_EVENTS_SHOWN`` events that ends at event ``upto`` (the
    latest when None), so a conversation of any length stays readable page by page."""
    count = conversation.event_count
    last = count if upto is None else min(max(upto, 1), count)
    first = max(last - MAX_EVENTS_SHOWN + 1, 1)
    rows = conversation.events.filter(seq__gte=first, seq__lte=last).order_by("seq")
    corrections = effective_corrections(conversation)
    items = [_item(row, corrections.get(row.id, {})) for row in rows]
    return TranscriptPage(
        items=items,
        first=first,
        last=last,
        earlier=first - 1 if first > 1 else None,
        later=min(last + MAX_EVENTS_SHOWN, count) if last < count else None,
    )


def _item(row: EventRow, corrections: dict[str, Correction]) -> Item:
    data = row.data
    builder = _BUILDERS.get(row.type_name)
    if builder is not None:
        item = builder(row, data)
    elif row.type_name in SEPARATORS:
        item = Item("separator", row, text=SEPARATORS[row.type_name])
    else:
        item = Item("meta", row, label=row.type_name, detail=_compact(data))
    item.corrections = corrections
    return item


def _user(row: EventRow, data: dict) -> Item:
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    entities = [e for e in parse.get("entities") or [] if isinstance(e, dict)]
    text = data.get("text") or ""
    confidence = row.confidence
    return Item(
        "user",
        row,
        label=intent.get("name") or "",
        text=text,
        detail="" if confidence is None else f"{confidence:.2f}",
        annotated=annotate_entities(text, entities),
        low_confidence=_below(confidence, settings.CONVAPI_REVIEW_INTENT_THRESHOLD),
    )


def _bot(row: EventRow, data: dict) -> Item:
    extra = data.get("data") or {}
    buttons = [b for b in (extra.get("buttons") or extra.get("quick_replies") or []) if b]
    custom = extra.get("custom")
    return Item(
        "bot",
        row,
        text=data.get("text") or "",
        buttons=[b for b in buttons if isinstance(b, dict)],
        image=extra.get("image") or extra.get("attachment") or "",
        detail=json.dumps(custom, ensure_ascii=False) if custom else "",
    )


def _action(row: EventRow, data: dict) -> Item:
    name = data.get("name") or data.get("action_text") or ""
    confidence = row.confidence
    policy = data.get("policy") or ""
    detail = policy if confidence is None else f"{policy} {confidence:.2f}"
    return Item(
        "action",
        row,
        label=name,
        detail=detail.strip(),
        low_confidence=_below(confidence, settings.CONVAPI_REVIEW_ACTION_THRESHOLD),
        failure=row.failure,
    )


def _below(confidence: float | None, threshold: float) -> bool:
    return confidence is not None and confidence < threshold


def _slot(row: EventRow, data: dict) -> Item:
    value = json.dumps(data.get("value"), ensure_ascii=False)
    return Item("slot", row, label=str(data.get("name")), text=value)


def _compact(data: dict) -> str:
    rest = {
        k: v for k, v in data.items() if k not in ("event", "timestamp") and v not in ({}, None)
    }
    return json.dumps(rest, ensure_ascii=False)[:300] if rest else ""


_BUILDERS = {"user": _user, "bot": _bot, "action": _action, "slot": _slot}
