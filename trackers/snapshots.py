"""Rebuilding the tracker snapshots from the event log, the truth they cache.

Each conversation is replayed under its lock, so no turn appends while its log is read
and its snapshot replaced. Only a snapshot that differs from the replay is written: an
unchanged conversation keeps its ``updated`` time, which retention reads as activity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import transaction

from engine.errors import ServiceError
from engine.tracker import Tracker
from trackers import store
from trackers.locks import conversation_locked
from trackers.models import Conversation


@dataclass
class SnapshotsRebuilt:
    """What a rebuild found: conversations looked at, differing (rewritten), busy (skipped)."""

    checked: int = 0
    differed: int = 0
    busy: int = 0
    # The sender ids of the first differing conversations, up to the limit asked for.
    differed_ids: list[str] = field(default_factory=list)


def snapshots_rebuild(
    *, slot_defaults: store.SlotDefaults, batch_size: int, ids_limit: int = 20
) -> SnapshotsRebuilt:
    """Replay every conversation, ``batch_size`` listed at a time, and fix the differing."""
    if batch_size < 1:
        raise ValueError("batch_size: use 1 or more")
    report = SnapshotsRebuilt()
    after = 0
    while batch := _conversations_after(after, batch_size):
        for sender_id in batch.values():
            outcome = snapshot_rebuild_locked(sender_id=sender_id, slot_defaults=slot_defaults)
            report.checked += 1
            if outcome is None:
                report.busy += 1
            elif outcome:
                report.differed += 1
                if len(report.differed_ids) < ids_limit:
                    report.differed_ids.append(sender_id)
        after = max(batch)
    return report


def _conversations_after(after: int, batch_size: int) -> dict[int, str]:
    rows = Conversation.objects.filter(pk__gt=after).order_by("pk")
    return dict(rows.values_list("pk", "sender_id")[:batch_size])


def snapshot_rebuild_locked(*, sender_id: str, slot_defaults: store.SlotDefaults) -> bool | None:
    """True if the stored snapshot differed from the log's replay and was replaced, False
    if it matched (or the conversation is gone), None if a turn held it past the timeout."""
    try:
        with conversation_locked(sender_id):
            conversation = store.conversation_get(sender_id=sender_id)
            if conversation is None or snapshot_matches_log(conversation, slot_defaults):
                return False
            with transaction.atomic():
                store.snapshot_rebuild(conversation, slot_defaults)
            return True
    except ServiceError as exc:
        if exc.status != 409:
            raise  # the lock store is down: no conversation can be rebuilt safely
        return None


def snapshot_matches_log(conversation: Conversation, slot_defaults: store.SlotDefaults) -> bool:
    """Whether the stored snapshot is what replaying the whole log gives, compared as stored."""
    if conversation.state_key != store.slot_layout_key(slot_defaults):
        return False
    events = store.events_load(conversation)
    replayed = Tracker.from_events(conversation.sender_id, events, slot_defaults).to_snapshot()
    # Through JSON, as the column stores it (tuples become lists...).
    return json.loads(json.dumps(replayed)) == conversation.state
