"""Reminders (API.md section 7, ``reminder`` / ``cancel_reminder``): stored, fired by Celery.

A turn that produced ``reminder`` events calls ``reminders_schedule`` inside its
transaction: each becomes a ``Reminder`` row and, on commit, a task with ``eta`` at its
time. A beat task also fires overdue rows, so a lost message or a restarted worker
delays a reminder but never drops it. It fires through a locked turn
(``trackers.turns.conversation_reminder``): the engine's one rule decides, on the log as
it stands under the conversation's lock, whether it still counts (not cancelled, no
restart or new session since, and with ``kill_on_user_msg`` no user message since), and
only then triggers its intent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from engine.errors import EngineError, ServiceError
from engine.events import Event, ReminderCancelled, ReminderScheduled, Restarted
from engine.reminders import cancels
from jobs.metrics import REMINDERS
from serving.holder import current_assistant
from trackers import store
from trackers.models import Reminder
from trackers.outputs import messages_push

logger = logging.getLogger(__name__)

# The eta task normally fires a reminder; the beat sweep takes those this late.
OVERDUE_AFTER = timedelta(seconds=30)


def reminders_touched(events: Sequence[Event]) -> bool:
    """Whether ``reminders_schedule`` has anything to do for these events."""
    return any(isinstance(event, _REMINDER_EVENTS) for event in events)


def reminders_schedule(*, sender_id: str, events: Sequence[Event]) -> None:
    """Schedule and cancel what a turn's events ask for, in their order."""
    for event in events:
        if isinstance(event, ReminderScheduled):
            reminder_schedule(sender_id=sender_id, reminder=event)
        elif isinstance(event, ReminderCancelled):
            reminder_cancel(sender_id=sender_id, cancellation=event)
        elif isinstance(event, Restarted):
            reminder_cancel(sender_id=sender_id, cancellation=ReminderCancelled())


_REMINDER_EVENTS = (ReminderScheduled, ReminderCancelled, Restarted)


def reminder_schedule(*, sender_id: str, reminder: ReminderScheduled) -> Reminder:
    """Store the reminder (one of the same name replaces the earlier) and queue its task."""
    trigger_at = reminder.trigger_date_time
    if trigger_at.tzinfo is None:
        trigger_at = trigger_at.replace(tzinfo=UTC)
    _pending(sender_id).filter(name=reminder.name).update(
        status=Reminder.Status.CANCELLED, finished=timezone.now(), outcome="replaced"
    )
    row = Reminder.objects.create(
        sender_id=sender_id,
        name=reminder.name,
        intent=reminder.intent,
        entities=reminder.entities,
        trigger_at=trigger_at,
        kill_on_user_msg=reminder.kill_on_user_message,
    )
    _enqueue(row)
    return row


def reminder_cancel(*, sender_id: str, cancellation: ReminderCancelled) -> int:
    """Cancel the pending reminders the event matches; how many."""
    matched = [row.pk for row in _pending(sender_id) if cancels(cancellation, _as_event(row))]
    return Reminder.objects.filter(pk__in=matched, status=Reminder.Status.SCHEDULED).update(
        status=Reminder.Status.CANCELLED, finished=timezone.now(), outcome="cancelled"
    )


def reminder_fire(*, reminder_id: int) -> str:
    """Fire one reminder if it is due and still scheduled; the outcome recorded on it."""
    now = timezone.now()
    row = Reminder.objects.filter(pk=reminder_id).first()
    if row is None or row.status != Reminder.Status.SCHEDULED:
        return "nothing to do"
    if row.trigger_at > now + timedelta(seconds=1):
        _enqueue(row)  # delivered early (a redelivered eta message): wait for its time
        return "not yet"
    claimed = Reminder.objects.filter(pk=row.pk, status=Reminder.Status.SCHEDULED).update(
        status=Reminder.Status.FIRING
    )
    if not claimed:
        return "nothing to do"
    status, outcome = _fire(row)
    Reminder.objects.filter(pk=row.pk).update(
        status=status, outcome=outcome, finished=timezone.now()
    )
    REMINDERS.labels(status).inc()
    return outcome


def reminders_overdue() -> int:
    """Queue reminders whose time passed without their task running; how many."""
    rows = Reminder.objects.filter(
        status=Reminder.Status.SCHEDULED, trigger_at__lte=timezone.now() - OVERDUE_AFTER
    )
    count = 0
    for row in rows:
        _enqueue(row)
        count += 1
    return count


def _fire(row: Reminder) -> tuple[str, str]:
    from trackers.turns import conversation_reminder  # turns schedule reminders: one cycle

    if store.conversation_get(sender_id=row.sender_id) is None:
        return Reminder.Status.OUTDATED, "the conversation no longer exists"
    assistant = current_assistant()
    if assistant is None or assistant.model is None:
        return Reminder.Status.FAILED, "no model loaded"
    try:
        turn = conversation_reminder(
            sender_id=row.sender_id, reminder=_as_event(row), assistant=assistant
        )
    except (ServiceError, EngineError) as exc:
        return Reminder.Status.FAILED, str(exc)
    except Exception as exc:  # noqa: BLE001 - recorded on the row
        logger.exception("Reminder %s failed", row.pk)
        return Reminder.Status.FAILED, f"{type(exc).__name__}: {exc}"
    if turn.result.skipped:
        return Reminder.Status.OUTDATED, turn.result.skipped
    # Nobody's request waits for these messages: the channel the user last wrote from
    # delivers them if it can push (socket.io, callback); over REST they stay in the tracker.
    messages_push(
        sender_id=row.sender_id, input_channel=turn.latest_channel, messages=turn.messages
    )
    return Reminder.Status.FIRED, f"triggered intent '{row.intent}'"


def _pending(sender_id: str):
    return Reminder.objects.filter(sender_id=sender_id, status=Reminder.Status.SCHEDULED)


def _as_event(row: Reminder) -> ReminderScheduled:
    return ReminderScheduled(
        row.intent,
        row.trigger_at,
        row.entities,
        row.name,
        kill_on_user_message=row.kill_on_user_msg,
    )


def _enqueue(row: Reminder) -> None:
    reminder_id, eta = row.pk, row.trigger_at
    transaction.on_commit(lambda: _send(reminder_id, eta))


# The broker-less timers not yet fired, so that they can be stopped together.
_waiting_timers: set[threading.Timer] = set()


def _send(reminder_id: int, eta: datetime) -> None:
    from trackers.tasks import fire_reminder

    delay = (eta - timezone.now()).total_seconds()
    if settings.CELERY_TASK_ALWAYS_EAGER and delay > 0:
        # Eager Celery ignores eta; without a broker a timer in this process waits instead
        # (the row stays stored: a restart of a broker-less server does not fire it).
        timer = threading.Timer(delay, _fire_in_thread, args=(reminder_id,))
        timer.daemon = True
        _waiting_timers.add(timer)
        timer.start()
        return
    try:
        fire_reminder.apply_async((reminder_id,), eta=eta)
    except Exception:  # noqa: BLE001 - the broker is down: the stored row is not lost
        # The periodic sweep of overdue reminders sends it once the broker is back.
        logger.warning("Broker unreachable: reminder %s waits for the periodic sweep", reminder_id)


def _fire_in_thread(reminder_id: int) -> None:
    _waiting_timers.discard(threading.current_thread())
    try:
        reminder_fire(reminder_id=reminder_id)
    finally:
        connection.close()


def reminder_timers_cancel() -> int:
    """Stop this process's broker-less reminder timers (their rows stay stored); how many.

    For a process that hands its database over, such as a test that is ending: a timer
    firing later would act on a database that is no longer the one it was set for.
    """
    timers = list(_waiting_timers)
    for timer in timers:
        timer.cancel()
        _waiting_timers.discard(timer)
    return len(timers)
