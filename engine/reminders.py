"""Reminder scheduling: a small interface, and an in-process scheduler with an injectable clock.

The processor only reports ``reminder`` / ``cancel_reminder`` events; whoever owns the
process (tests, a management command, later Celery) schedules them here and, when one is
due, hands it back to ``MessageProcessor.handle_reminder``, which decides if it still counts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from engine.events import ReminderCancelled, ReminderScheduled


class ReminderScheduler(Protocol):
    def schedule(self, sender_id: str, reminder: ReminderScheduled) -> None: ...

    def cancel(self, sender_id: str, cancellation: ReminderCancelled) -> None: ...


@dataclass
class ScheduledReminder:
    sender_id: str
    reminder: ReminderScheduled
    due_at: float


def cancels(cancellation: ReminderCancelled, reminder: ReminderScheduled) -> bool:
    """Whether a cancel event matches a reminder: every field it gives must be equal."""
    if cancellation.name is not None and cancellation.name != reminder.name:
        return False
    if cancellation.intent is not None and cancellation.intent != reminder.intent:
        return False
    return not (cancellation.entities is not None and cancellation.entities != reminder.entities)


class InProcessReminderScheduler:
    """Keeps jobs in memory; ``run_due`` fires those whose time has come (no thread of its own)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._jobs: dict[tuple[str, str], ScheduledReminder] = {}
        self._lock = threading.Lock()

    def schedule(self, sender_id: str, reminder: ReminderScheduled) -> None:
        # The same name replaces the earlier job, as Rasa's replace_existing does.
        due_at = reminder.trigger_date_time.timestamp()
        with self._lock:
            self._jobs[(sender_id, reminder.name)] = ScheduledReminder(sender_id, reminder, due_at)

    def cancel(self, sender_id: str, cancellation: ReminderCancelled) -> None:
        with self._lock:
            for key, job in list(self._jobs.items()):
                if job.sender_id == sender_id and cancels(cancellation, job.reminder):
                    del self._jobs[key]

    def pending(self, sender_id: str | None = None) -> list[ScheduledReminder]:
        with self._lock:
            jobs = list(self._jobs.values())
        return sorted(
            (job for job in jobs if sender_id is None or job.sender_id == sender_id),
            key=lambda job: job.due_at,
        )

    def pop_due(self) -> list[ScheduledReminder]:
        """Remove and return the jobs due at the clock's current time, earliest first."""
        now = self.clock()
        with self._lock:
            due = [key for key, job in self._jobs.items() if job.due_at <= now]
            jobs = [self._jobs.pop(key) for key in due]
        return sorted(jobs, key=lambda job: job.due_at)

    def run_due(self, fire: Callable[[str, ReminderScheduled], object]) -> int:
        """Call ``fire(sender_id, reminder)`` for every due job; returns how many fired."""
        jobs = self.pop_due()
        for job in jobs:
            fire(job.sender_id, job.reminder)
        return len(jobs)


def apply_reminder_events(
    scheduler: ReminderScheduler,
    sender_id: str,
    reminders: list[ReminderScheduled],
    cancellations: list[ReminderCancelled],
) -> None:
    """Schedule and cancel what a turn produced, in Rasa's order (schedule, then cancel)."""
    for reminder in reminders:
        scheduler.schedule(sender_id, reminder)
    for cancellation in cancellations:
        scheduler.cancel(sender_id, cancellation)
