"""Retention of conversation data: finished reminders, outbox rows the event broker refused,
and inactive conversations (published outbox rows are deleted by the relay at once).

An inactive conversation is erased exactly as a GDPR request erases one
(``trackers.review.conversation_delete``: a ``DeletionRecord``, one transaction), under
the conversation's lock, so a turn arriving meanwhile either finishes first (and the
conversation is no longer inactive) or waits and starts a new conversation afterwards.
"""

from __future__ import annotations

from datetime import datetime

from engine.errors import ServiceError
from jobs.retention import rows_delete_in_batches
from trackers.locks import conversation_locked
from trackers.models import Conversation, OutboxEvent, Reminder
from trackers.review import conversation_delete

# Who and what the DeletionRecord of a conversation erased for its age names.
ERASED_BY = "retention (CONVAPI_CONVERSATION_RETENTION_DAYS)"
ERASED_VIA = "retention"

FINISHED_REMINDERS = [
    Reminder.Status.FIRED,
    Reminder.Status.CANCELLED,
    Reminder.Status.OUTDATED,
    Reminder.Status.FAILED,
]


def reminders_prune(*, finished_before: datetime, batch_size: int) -> int:
    """Delete reminders that fired or ended before the cutoff; how many."""
    rows = Reminder.objects.filter(status__in=FINISHED_REMINDERS, finished__lt=finished_before)
    return rows_delete_in_batches(rows, batch_size=batch_size)[Reminder._meta.label]


def outbox_set_aside_prune(*, failed_before: datetime, batch_size: int) -> int:
    """Delete outbox rows the broker refused before the cutoff; how many."""
    rows = OutboxEvent.objects.filter(failed_at__lt=failed_before)
    return rows_delete_in_batches(rows, batch_size=batch_size)[OutboxEvent._meta.label]


def conversations_erase_inactive(*, updated_before: datetime, batch_size: int) -> tuple[int, int]:
    """Erase conversations with no activity since the cutoff; (erased, kept because busy).

    Walks the candidates by primary key, ``batch_size`` at a time, so a busy conversation
    that is kept is never looked at twice and no query holds more than a batch.
    """
    erased = busy = 0
    after = 0
    while batch := _inactive_after(after, updated_before, batch_size):
        for sender_id in batch.values():
            outcome = conversation_erase_if_inactive(
                sender_id=sender_id, updated_before=updated_before
            )
            if outcome is None:
                busy += 1
            elif outcome:
                erased += 1
        after = max(batch)
    return erased, busy


def _inactive_after(after: int, updated_before: datetime, batch_size: int) -> dict[int, str]:
    rows = Conversation.objects.filter(pk__gt=after, updated__lt=updated_before).order_by("pk")
    return dict(rows.values_list("pk", "sender_id")[:batch_size])


def conversation_erase_if_inactive(*, sender_id: str, updated_before: datetime) -> bool | None:
    """Erase the conversation if it is still inactive under its lock.

    True when erased, False when it was active again (or gone) by then, None when a turn
    held it past the lock timeout. A lock store that cannot be reached stops the pruning.
    """
    try:
        with conversation_locked(sender_id):
            # Read again under the lock: a turn may have landed since the batch was listed.
            conversation = Conversation.objects.filter(
                sender_id=sender_id, updated__lt=updated_before
            ).first()
            if conversation is None:
                return False
            conversation_delete(conversation=conversation, deleted_by=ERASED_BY, via=ERASED_VIA)
            return True
    except ServiceError as exc:
        if exc.status != 409:
            raise
        return None
