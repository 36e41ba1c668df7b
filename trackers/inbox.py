"""The NLU inbox's reads and writes: user messages grouped by text, filtered, reviewed.

A page is one GROUP BY over the indexed copies on ``Event`` (text, predicted intent,
confidence, channel, time) plus two lookups keyed by the page's own rows, so it costs
the same number of queries at 10 messages as at 100,000. A group stands for every
message with its text and predicted intent that passes the filters; confirming or
relabelling it writes one intent ``Correction`` per message through ``trackers.review``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet

from engine.story_writer import dump_training_data, nlu_examples, nlu_section
from trackers import review, store
from trackers.models import Correction, Event

PER_PAGE = 50
# Confidence bands a reviewer filters on: [low, high) of the predicted intent's confidence.
BANDS: dict[str, tuple[float | None, float | None]] = {
    "low": (None, 0.5),
    "medium": (0.5, 0.8),
    "high": (0.8, None),
}
NO_CONFIDENCE = "none"
EXPORT_CHUNK = 2_000


@dataclass(frozen=True)
class InboxFilters:
    """What the reviewer narrowed the inbox to; every field may be left empty."""

    intent: str = ""
    band: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    channel: str = ""
    unreviewed: bool = False


@dataclass(frozen=True)
class MessageGroup:
    """Identical texts with the same predicted intent; ``key`` (the event id of its message
    stored last) stands for the whole group in the page's forms."""

    key: int
    text: str
    intent: str
    count: int
    reviewed: int
    newest: dt.datetime
    confidence_low: float | None
    confidence_high: float | None
    conversation_id: int
    seq: int
    entities: list[dict] = field(default_factory=list)
    # What the reviewer said about the newest message: its intent correction, if any.
    label: str = ""

    @property
    def confirmed(self) -> bool:
        return bool(self.label) and self.label == self.intent

    @property
    def parts(self) -> list[tuple[str, str]]:
        """The text cut at its entities, as (words, entity name or "") for the page to mark."""
        parts, position = [], 0
        for entity in sorted(self.entities, key=lambda e: e.get("start") or 0):
            start, end, name = entity.get("start"), entity.get("end"), entity.get("entity")
            if not (isinstance(start, int) and isinstance(end, int) and isinstance(name, str)):
                continue
            if start < position or end > len(self.text) or end <= start:
                continue  # overlapping or outside the text: shown in the list, not marked
            parts += [(self.text[position:start], ""), (self.text[start:end], name)]
            position = end
        parts.append((self.text[position:], ""))
        return [(words, name) for words, name in parts if words]


@dataclass(frozen=True)
class InboxPage:
    groups: list[MessageGroup]
    number: int
    has_next: bool


def user_messages(filters: InboxFilters) -> QuerySet[Event]:
    """The user messages that pass the filters (the unreviewed one included)."""
    messages = Event.objects.filter(type_name="user")
    if filters.date_from:
        messages = messages.filter(timestamp__gte=_epoch(filters.date_from))
    if filters.date_to:
        messages = messages.filter(timestamp__lt=_epoch(filters.date_to + dt.timedelta(days=1)))
    if filters.intent:
        messages = messages.filter(intent_name=filters.intent)
    if filters.channel:
        messages = messages.filter(input_channel=filters.channel)
    if filters.band == NO_CONFIDENCE:
        messages = messages.filter(confidence__isnull=True)
    elif filters.band in BANDS:
        low, high = BANDS[filters.band]
        if low is not None:
            messages = messages.filter(confidence__gte=low)
        if high is not None:
            messages = messages.filter(confidence__lt=high)
    if filters.unreviewed:
        messages = messages.exclude(_intent_corrected())
    return messages


def inbox_page(*, filters: InboxFilters, number: int = 1, per_page: int = PER_PAGE) -> InboxPage:
    """One page of message groups, the group said most recently first.

    One row more than the page is read to know whether another page follows, so no
    COUNT over the whole log is needed.
    """
    number = max(number, 1)
    start = (number - 1) * per_page
    rows = list(_grouped(user_messages(filters))[start : start + per_page + 1])
    shown = rows[:per_page]
    keys = [row["key"] for row in shown]
    newest = {
        e.id: e
        for e in Event.objects.filter(id__in=keys).order_by().only("conversation", "seq", "data")
    }
    corrections = review.event_corrections(keys)
    groups = [
        _group(row, newest[row["key"]], _intent_label(corrections.get(row["key"], {})))
        for row in shown
    ]
    return InboxPage(groups=groups, number=number, has_next=len(rows) > per_page)


def _grouped(messages: QuerySet[Event]) -> QuerySet:
    # ``IN`` (one hashed set of corrected ids), not a correlated EXISTS per message: the
    # planner costs the EXISTS per row, and at 100,000 rows that estimate alone makes
    # PostgreSQL spend longer compiling the query (JIT) than running it.
    corrected = Correction.objects.filter(kind=Correction.INTENT).values("event_id")
    reviewed = Count("id", filter=Q(id__in=corrected))
    return (
        messages.values("text", "intent_name")
        .annotate(
            count=Count("id"),
            reviewed=reviewed,
            newest=Max("timestamp"),
            key=Max("id"),
            low=Min("confidence"),
            high=Max("confidence"),
        )
        .order_by("-newest", "-key")
    )


def _intent_corrected() -> Exists:
    return Exists(Correction.objects.filter(event=OuterRef("pk"), kind=Correction.INTENT))


def _intent_label(corrections: dict[str, Correction]) -> str:
    fix = corrections.get(Correction.INTENT)
    return fix.intent if fix else ""


def _group(row: dict[str, Any], newest: Event, label: str) -> MessageGroup:
    parse_data = (newest.data or {}).get("parse_data") or {}
    entities = parse_data.get("entities") if isinstance(parse_data, dict) else None
    return MessageGroup(
        key=row["key"],
        text=row["text"],
        intent=row["intent_name"],
        count=row["count"],
        reviewed=row["reviewed"],
        newest=dt.datetime.fromtimestamp(row["newest"], tz=dt.UTC),
        confidence_low=row["low"],
        confidence_high=row["high"],
        conversation_id=newest.conversation_id,
        seq=newest.seq,
        entities=[e for e in entities or [] if isinstance(e, dict)],
        label=label,
    )


def group_members(*, filters: InboxFilters, keys: Iterable[int]) -> QuerySet[Event]:
    """Every message of the groups these keys stand for, under the same filters."""
    pairs = Event.objects.filter(id__in=list(keys), type_name="user")
    conditions = [
        Q(text=text, intent_name=intent)
        for text, intent in pairs.values_list("text", "intent_name")
    ]
    if not conditions:
        return Event.objects.none()
    return user_messages(filters).filter(reduce(or_, conditions))


def groups_confirm(
    *, filters: InboxFilters, keys: Iterable[int], author: Any, known_names: Iterable[str] | None
) -> int:
    """Confirm each message's predicted intent; the number of messages confirmed."""
    members = group_members(filters=filters, keys=keys)
    return review.intent_corrections_add(events=members, author=author, known_names=known_names)


def groups_relabel(
    *,
    filters: InboxFilters,
    keys: Iterable[int],
    intent: str,
    author: Any,
    known_names: Iterable[str] | None,
) -> int:
    """Label every message of the groups with another intent; the number relabelled."""
    members = group_members(filters=filters, keys=keys)
    return review.intent_corrections_add(
        events=members, author=author, intent=intent, known_names=known_names
    )


def reviewed_nlu(filters: InboxFilters) -> str:
    """``nlu.yml`` of the confirmed and relabelled messages under the filters, corrections
    applied as the conversation export applies them (the engine's one writer)."""
    reviewed = user_messages(replace(filters, unreviewed=False)).filter(_intent_corrected())
    rows = reviewed.order_by("timestamp", "id").only("id", "data")
    examples: dict[str, list[str]] = {}
    for chunk in _chunks(rows.iterator(chunk_size=EXPORT_CHUNK), EXPORT_CHUNK):
        corrections = review.event_corrections([row.id for row in chunk])
        events = [
            review.corrected_event(store.event_from_row(row), corrections.get(row.id, {}))
            for row in chunk
        ]
        nlu_examples(events, excluded_intents=store.FALLBACK_INTENTS, into=examples)
    return dump_training_data(nlu=nlu_section(examples))


def _chunks(rows: Iterable[Event], size: int) -> Iterable[list[Event]]:
    chunk: list[Event] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _epoch(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()
