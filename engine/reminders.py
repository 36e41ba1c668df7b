"""Whether a reminder still counts: the one rule, applied to a conversation's tracker.

The processor reports ``reminder`` / ``cancel_reminder`` events; whoever stores the
conversation keeps them and, when one is due, hands it back to
``MessageProcessor.handle_reminder`` on the tracker as it is at that moment (under the
conversation's lock), which asks ``reminder_outdated_reason``.
"""

from __future__ import annotations

from engine.events import ReminderCancelled, ReminderScheduled, UserUttered
from engine.tracker import Tracker


def cancels(cancellation: ReminderCancelled, reminder: ReminderScheduled) -> bool:
    """Whether a cancel event matches a reminder: every field it gives must be equal."""
    if cancellation.name is not None and cancellation.name != reminder.name:
        return False
    if cancellation.intent is not None and cancellation.intent != reminder.intent:
        return False
    return not (cancellation.entities is not None and cancellation.entities != reminder.entities)


def reminder_outdated_reason(tracker: Tracker, reminder: ReminderScheduled) -> str:
    """Why the conversation says this reminder no longer counts ("" while it does).

    It counts while the session still applies its ``reminder`` event (no restart, new
    session or undo since) and, with ``kill_on_user_message``, the user has not spoken
    after it was set.
    """
    if not any(_is_this(event, reminder) for event in tracker.applied_events()):
        return "cancelled by a restart or a new session"
    if reminder.kill_on_user_message:
        for event in reversed(tracker.session_events()):
            if _is_this(event, reminder):
                break
            if isinstance(event, UserUttered) and event.text:
                return "the user spoke after it was set"
    return ""


def _is_this(event: object, reminder: ReminderScheduled) -> bool:
    return isinstance(event, ReminderScheduled) and event.name == reminder.name
