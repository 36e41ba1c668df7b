"""Backfill the review figures of existing conversations; trigram search on PostgreSQL.

The trigram indexes cover ``UPPER(column)`` because that is the expression Django's
``icontains`` compares on PostgreSQL, so the admin's search uses them as written.
SQLite gets neither the extension nor the indexes: its search is a plain scan.
"""

from __future__ import annotations

from django.db import migrations

FALLBACK_INTENTS = ("nlu_fallback",)
FALLBACK_ACTIONS = ("action_default_fallback", "action_two_stage_fallback")

TRIGRAM_SQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS event_text_trgm_idx"
    " ON trackers_event USING gin (UPPER(text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS conversation_sender_trgm_idx"
    " ON trackers_conversation USING gin (UPPER(sender_id) gin_trgm_ops)",
]
DROP_TRIGRAM_SQL = [
    "DROP INDEX IF EXISTS event_text_trgm_idx",
    "DROP INDEX IF EXISTS conversation_sender_trgm_idx",
]


def _figures(rows) -> tuple[int, bool, float | None]:
    turns, fallback, lowest = 0, False, None
    for type_name, intent_name, action_name, data in rows:
        if type_name == "user":
            turns += 1
            fallback |= intent_name in FALLBACK_INTENTS
            intent = (data.get("parse_data") or {}).get("intent") or {}
            confidence = intent.get("confidence") if isinstance(intent, dict) else None
            if isinstance(confidence, int | float) and not isinstance(confidence, bool):
                lowest = confidence if lowest is None else min(lowest, confidence)
        elif type_name == "action":
            fallback |= action_name in FALLBACK_ACTIONS
    return turns, fallback, lowest


def backfill(apps, schema_editor) -> None:
    Conversation = apps.get_model("trackers", "Conversation")
    Event = apps.get_model("trackers", "Event")
    for conversation in Conversation.objects.filter(event_count__gt=0).iterator():
        rows = Event.objects.filter(conversation=conversation).order_by("seq")
        fields = ("type_name", "intent_name", "action_name", "data")
        turns, fallback, lowest = _figures(rows.values_list(*fields).iterator())
        Conversation.objects.filter(pk=conversation.pk).update(
            user_turns=turns, had_fallback=fallback, lowest_confidence=lowest
        )


def trigram_on(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in TRIGRAM_SQL:
            schema_editor.execute(statement)


def trigram_off(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP_TRIGRAM_SQL:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("trackers", "0002_review")]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(trigram_on, trigram_off),
    ]
