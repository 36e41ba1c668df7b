"""Conversation tasks: fire a reminder at its time, and sweep the overdue ones."""

from __future__ import annotations

from celery import shared_task

from trackers.reminders import reminder_fire, reminders_overdue


@shared_task(soft_time_limit=60, time_limit=90)
def fire_due_reminders() -> int:
    return reminders_overdue()


@shared_task(bind=True, soft_time_limit=120, time_limit=150, max_retries=3)
def fire_reminder(self, reminder_id: int) -> str:
    return reminder_fire(reminder_id=reminder_id)
