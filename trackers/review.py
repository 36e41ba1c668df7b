"""The reviewer's writes: corrections, tags, notes, the reviewed flag, erasure, export.

Corrections are new rows beside the events they fix; the event log itself is never
edited. Export reads the log through ``trackers.store`` and applies the corrections on
the engine objects, so the training data says what the reviewer meant.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import QuerySet

from engine.events import ActionExecuted, Event, UserUttered
from engine.story_writer import dump_training_data, nlu_examples, nlu_section, training_stories
from trackers import store
from trackers.models import (
    Conversation,
    Correction,
    DeletionRecord,
    Note,
    OutboxEvent,
    Reminder,
    Tag,
)
from trackers.models import Event as EventRow

NAME_PATTERN = re.compile(r"^[^\s/]\S*$")
# ``[surface](entity)`` or ``[surface]{"entity": ..., "value": ..., "role": ...}``.
ANNOTATION = re.compile(r"\[(?P<surface>[^\]]+)\](?:\((?P<entity>[^)\s]+)\)|(?P<json>\{[^}]*\}))")


class ReviewError(ValueError):
    """A reviewer's input that cannot be stored; the message is shown to the reviewer."""


# --- corrections ----------------------------------------------------------------------


def correction_add(
    *,
    event: EventRow,
    author: Any,
    kind: str,
    value: str,
    known_names: Iterable[str] | None = None,
) -> Correction:
    """Store a reviewer's fix of one event: an intent, the entities, or the right action."""
    value = value.strip()
    fields: dict[str, Any] = {}
    if kind == Correction.INTENT and event.type_name == "user":
        fields["intent"] = _checked_name(value, known_names, "intent")
    elif kind == Correction.ENTITIES and event.type_name == "user":
        fields["entities"] = entities_from_annotation(value, event.text)
    elif kind == Correction.ACTION and event.type_name == "action":
        fields["action"] = _checked_name(value, known_names, "action")
    else:
        raise ReviewError(f"A {event.type_name} event has no {kind} to correct.")
    return Correction.objects.create(
        conversation_id=event.conversation_id, event=event, kind=kind, author=author, **fields
    )


# Rows a bulk confirm or relabel inserts per statement.
CORRECTION_BATCH = 1_000


def intent_corrections_add(
    *,
    events: QuerySet[EventRow],
    author: Any,
    intent: str | None = None,
    known_names: Iterable[str] | None = None,
) -> int:
    """Confirm (``intent`` None: each message's own predicted intent) or relabel many user
    messages at once, as the NLU inbox does for a group of identical texts.

    One intent ``Correction`` per message, inserted in batches: a group may hold thousands.
    """
    known = None if known_names is None else set(known_names)
    checked: dict[str, str] = {}  # each predicted intent is checked once, not per message

    def label_of(event: EventRow) -> str:
        name = intent if intent is not None else event.intent_name
        if not name:
            raise ReviewError("A message without a predicted intent can only be relabelled.")
        if name not in checked:
            checked[name] = _checked_name(name.strip(), known, "intent")
        return checked[name]

    rows = events.filter(type_name="user").order_by("id").only("conversation", "intent_name")
    stored, batch = 0, []
    with transaction.atomic():
        for event in rows.iterator(chunk_size=CORRECTION_BATCH):
            batch.append(_intent_correction(event, author, label_of(event)))
            if len(batch) == CORRECTION_BATCH:
                stored += len(Correction.objects.bulk_create(batch))
                batch = []
        stored += len(Correction.objects.bulk_create(batch))
    return stored


def _intent_correction(event: EventRow, author: Any, intent: str) -> Correction:
    return Correction(
        conversation_id=event.conversation_id,
        event=event,
        kind=Correction.INTENT,
        intent=intent,
        author=author,
    )


def event_corrections(event_ids: QuerySet | Iterable[int]) -> dict[int, dict[str, Correction]]:
    """The newest correction of each kind for each of these events (as
    ``effective_corrections`` gives them for one conversation)."""
    return _newest_of_each_kind(Correction.objects.filter(event_id__in=event_ids))


def _checked_name(value: str, known: Iterable[str] | None, what: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ReviewError(f"'{value}' is not a valid {what} name.")
    if known is not None and value not in set(known):
        raise ReviewError(f"The {what} '{value}' is not in the loaded assistant's domain.")
    return value[:255]


def entities_from_annotation(annotated: str, text: str) -> list[dict]:
    """Entities read from inline markup; the words around them must stay the message's."""
    entities, plain, position = [], [], 0
    for match in ANNOTATION.finditer(annotated):
        plain.append(annotated[position : match.start()])
        start = sum(len(part) for part in plain)
        surface = match["surface"]
        entity = {"entity": match["entity"], "start": start, "end": start + len(surface)}
        if match["json"]:
            entity = {**_annotation_details(match["json"]), **entity}
        entity.setdefault("value", surface)
        entities.append(entity)
        plain.append(surface)
        position = match.end()
    plain.append(annotated[position:])
    if "".join(plain) != (text or ""):
        raise ReviewError("Annotate the message's own words: the text itself must not change.")
    return entities


def _annotation_details(raw: str) -> dict:
    try:
        details = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ReviewError(f"Cannot read the entity annotation {raw}.") from error
    if not isinstance(details, dict) or not isinstance(details.get("entity"), str):
        raise ReviewError(f'An annotation needs an "entity" name: {raw}.')
    known = ("entity", "value", "role", "group")
    return {key: details[key] for key in known if details.get(key) is not None}


def effective_corrections(conversation: Conversation) -> dict[int, dict[str, Correction]]:
    """For each corrected event id, the newest correction of each kind."""
    return _newest_of_each_kind(conversation.corrections.select_related("author"))


def _newest_of_each_kind(corrections: QuerySet[Correction]) -> dict[int, dict[str, Correction]]:
    """Per event id, per kind, the correction that counts: the newest."""
    latest: dict[int, dict[str, Correction]] = {}
    for correction in corrections.order_by("created", "id"):
        latest.setdefault(correction.event_id, {})[correction.kind] = correction
    return latest


def corrected_event(event: Event, corrections: dict[str, Correction]) -> Event:
    """A copy of the engine event with the reviewer's corrections applied."""
    if isinstance(event, UserUttered):
        fixed = event.copy()
        if Correction.INTENT in corrections:
            fixed.intent = {"name": corrections[Correction.INTENT].intent, "confidence": 1.0}
        if Correction.ENTITIES in corrections:
            fixed.entities = list(corrections[Correction.ENTITIES].entities)
        fixed.parse_data.update(intent=fixed.intent, entities=list(fixed.entities))
        return fixed
    if isinstance(event, ActionExecuted) and Correction.ACTION in corrections:
        right = corrections[Correction.ACTION].action
        return ActionExecuted(right, timestamp=event.timestamp, metadata=event.metadata)
    return event


# --- tags, notes, reviewed ------------------------------------------------------------


def tag_add(*, conversations: QuerySet[Conversation], name: str) -> Tag:
    """Tag the conversations, creating the tag on first use."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ReviewError("A tag name has 1 to 64 characters.")
    tag, _ = Tag.objects.get_or_create(name=name)
    tag.conversations.add(*conversations)
    return tag


def tag_remove(*, conversations: QuerySet[Conversation], name: str) -> int:
    tag = Tag.objects.filter(name=name.strip()).first()
    if tag is None:
        return 0
    links = Tag.conversations.through.objects.filter(tag=tag, conversation__in=conversations)
    removed, _ = links.delete()
    return removed


def conversations_mark_reviewed(*, conversations: QuerySet[Conversation], reviewed: bool) -> int:
    # ``update`` skips ``auto_now``: marking reviewed is not conversation activity.
    return conversations.update(reviewed=reviewed)


def note_add(*, conversation: Conversation, author: Any, text: str) -> Note:
    text = text.strip()
    if not text:
        raise ReviewError("A note needs some text.")
    return Note.objects.create(conversation=conversation, author=author, text=text)


# --- erasure --------------------------------------------------------------------------


def sender_digest(sender_id: str) -> str:
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()


def conversation_delete(*, conversation: Conversation, deleted_by: str, via: str) -> DeletionRecord:
    """Erase a conversation (GDPR): events, corrections, tags, notes, reminders and unpublished
    outbox events (they name the sender too) go in one transaction."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        record = DeletionRecord.objects.create(
            sender_digest=sender_digest(locked.sender_id),
            event_count=locked.event_count,
            deleted_by=deleted_by[:255],
            via=via,
        )
        # Children explicitly first: the cascade would do it too, but the order makes
        # the guarantee visible (corrections point at events, so they go before them).
        locked.corrections.all().delete()
        locked.notes.all().delete()
        locked.tags.clear()
        EventRow.objects.filter(conversation=locked).delete()
        _admin_log_of(locked).delete()  # the admin's history names the sender id too
        Reminder.objects.filter(sender_id=locked.sender_id).delete()
        # Events the relay has not published yet are not published any more (those it
        # has are the broker's consumers' to erase).
        OutboxEvent.objects.filter(sender_id=locked.sender_id).delete()
        locked.delete()
    return record


def conversation_erase(*, sender_id: str, deleted_by: str, via: str) -> DeletionRecord | None:
    """Erase by sender id; None when there is no such conversation."""
    conversation = store.conversation_get(sender_id=sender_id)
    if conversation is None:
        return None
    return conversation_delete(conversation=conversation, deleted_by=deleted_by, via=via)


def _admin_log_of(conversation: Conversation) -> QuerySet[LogEntry]:
    kind = ContentType.objects.get_for_model(Conversation)
    return LogEntry.objects.filter(content_type=kind, object_id=str(conversation.pk))


# --- export as training data ----------------------------------------------------------


def training_data(conversations: Iterable[Conversation]) -> dict[str, str]:
    """``nlu.yml`` and ``stories.yml`` from conversations, corrections applied."""
    examples: dict[str, list[str]] = {}
    stories: list[dict] = []
    for conversation in conversations:
        events = _corrected_log(conversation)
        # Fallbacks teach the classifier nothing; every example said counts, even undone.
        nlu_examples(events, excluded_intents=store.FALLBACK_INTENTS, into=examples)
        stories.extend(training_stories(conversation.sender_id, events))
    return {
        "nlu.yml": dump_training_data(nlu=nlu_section(examples)),
        "stories.yml": dump_training_data(stories=stories),
    }


def training_data_zip(conversations: Iterable[Conversation]) -> bytes:
    """The export as a zip holding ``data/nlu.yml`` and ``data/stories.yml``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in training_data(conversations).items():
            archive.writestr(f"data/{name}", text)
    return buffer.getvalue()


def _corrected_log(conversation: Conversation) -> list[Event]:
    corrections = effective_corrections(conversation)
    rows = store.iter_event_rows(conversation).only("id", "data")
    return [corrected_event(store.event_from_row(row), corrections.get(row.id, {})) for row in rows]
