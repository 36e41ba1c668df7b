"""Conversations and their append-only event log.

``Event`` rows are the truth. ``Conversation.state`` is a cache of the tracker state
derived from them, updated in the same transaction as every append, so that reading the
state or appending a turn costs the same at 10 events as at 100,000.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    sender_id = models.CharField(max_length=255, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    event_count = models.PositiveIntegerField(default=0)
    latest_event_time = models.FloatField(null=True, blank=True)
    latest_intent = models.CharField(max_length=255, blank=True, db_index=True)
    latest_input_channel = models.CharField(max_length=255, blank=True)
    # Sequence numbers of landmarks in the log (0 = none yet). They let a read load
    # only the events it needs: after the latest restart, since the latest reset
    # (restart or session_started), or since the latest session start.
    latest_restart_seq = models.PositiveIntegerField(default=0)
    latest_reset_seq = models.PositiveIntegerField(default=0)
    latest_session_seq = models.PositiveIntegerField(default=0)
    # The tracker snapshot and the slot layout it was computed with.
    state = models.JSONField(default=dict, blank=True)
    state_key = models.CharField(max_length=64, blank=True)
    # Figures the reviewer's list shows and filters on, kept up to date by the store in
    # the same transaction as every append (see ``trackers.store.events_append``), so
    # the list never aggregates the event log.
    user_turns = models.PositiveIntegerField(default=0)
    had_fallback = models.BooleanField(default=False, db_index=True)
    lowest_confidence = models.FloatField(null=True, blank=True, db_index=True)
    reviewed = models.BooleanField(default=False, db_index=True)
    # The start of the latest user message, the list's preview of where a conversation is.
    latest_user_text = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-updated"]
        indexes = [models.Index(fields=["-updated"], name="conversation_updated_idx")]

    def __str__(self) -> str:
        return self.sender_id


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change a stored event: the log is append-only."""


class Event(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type_name = models.CharField(max_length=40)
    timestamp = models.FloatField()
    data = models.JSONField()
    # Copies of what reviewers filter on, indexed; the JSON in ``data`` stays the truth.
    intent_name = models.CharField(max_length=255, blank=True, db_index=True)
    action_name = models.CharField(max_length=255, blank=True, db_index=True)
    text = models.TextField(blank=True)
    # A user message's intent confidence, or an action's prediction confidence.
    confidence = models.FloatField(null=True, blank=True)
    input_channel = models.CharField(max_length=255, blank=True)
    # Why a custom action failed (``ActionExecuted.failure``): kept here, never in ``data``,
    # so the tracker JSON stays Rasa's.
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="event_unique_seq")
        ]
        # The NLU inbox and the dashboard read events of one type in a time range, or of
        # one input channel.
        indexes = [
            models.Index(fields=["type_name", "timestamp"], name="event_type_time_idx"),
            models.Index(
                fields=["type_name", "input_channel", "timestamp"],
                name="event_type_channel_time_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} {self.type_name}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Stored events are never changed.")
        super().save(*args, **kwargs)


class Tag(models.Model):
    """A reviewer's label on conversations ("refund", "angry", "needs data")."""

    name = models.CharField(max_length=64, unique=True)
    conversations = models.ManyToManyField(Conversation, related_name="tags", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Correction(models.Model):
    """A reviewer's fix of one event, stored beside it: the event itself never changes.

    The newest correction of a kind for an event is the one that counts.
    """

    INTENT = "intent"
    ENTITIES = "entities"
    ACTION = "action"
    KINDS = [(INTENT, "intent"), (ENTITIES, "entities"), (ACTION, "action")]

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="corrections"
    )
    # DO_NOTHING keeps event deletes a single DELETE (no row-by-row cascade over a long
    # log); whoever deletes events deletes their corrections first, in the same
    # transaction (``store.events_replace``, ``review.conversation_delete``).
    event = models.ForeignKey(Event, on_delete=models.DO_NOTHING, related_name="corrections")
    kind = models.CharField(max_length=16, choices=KINDS)
    intent = models.CharField(max_length=255, blank=True)
    entities = models.JSONField(default=list, blank=True)
    action = models.CharField(max_length=255, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "created", "id"]

    def __str__(self) -> str:
        return f"{self.kind} correction of {self.event}"


class Note(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"note on {self.conversation}"


class DeletionRecord(models.Model):
    """Proof that a conversation was erased (GDPR), without keeping who it was about.

    Only a SHA-256 digest of the sender id is kept: it answers "was this id deleted?"
    for someone who knows the id, and reveals nothing to someone who does not.
    """

    sender_digest = models.CharField(max_length=64, db_index=True)
    event_count = models.PositiveIntegerField()
    deleted_by = models.CharField(max_length=255)
    via = models.CharField(max_length=16)
    deleted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deleted_at"]

    def __str__(self) -> str:
        return f"deletion {self.sender_digest[:12]} by {self.deleted_by}"


class Reminder(models.Model):
    """A ``reminder`` event waiting for its time: stored, so a worker restart loses nothing."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        FIRING = "firing"
        FIRED = "fired"
        CANCELLED = "cancelled"
        OUTDATED = "outdated"
        FAILED = "failed"

    sender_id = models.CharField(max_length=255, db_index=True)
    name = models.CharField(max_length=255)
    intent = models.CharField(max_length=255)
    entities = models.JSONField(null=True, blank=True)
    trigger_at = models.DateTimeField(db_index=True)
    kill_on_user_msg = models.BooleanField(default=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.SCHEDULED, db_index=True
    )
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["trigger_at"]

    def __str__(self) -> str:
        return f"{self.name} for {self.sender_id} at {self.trigger_at:%Y-%m-%d %H:%M:%S}"


class ConversationLock(models.Model):
    """A conversation's lock when the database is the lock store (no ``CONVAPI_LOCK_STORE``).

    A lease, not a row lock: taken and released in short transactions of their own, so no
    transaction stays open while a turn waits on an action server.
    """

    sender_id = models.CharField(max_length=255, primary_key=True)
    token = models.CharField(max_length=32)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.sender_id} until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class OutboxEvent(models.Model):
    """One event waiting for the event broker: the transactional outbox.

    Written by the store in the same transaction as the event it carries (so a turn that
    rolls back publishes nothing, and one that commits is never lost), only while
    ``endpoints.yml`` names an ``event_broker``. The relay (``trackers/relay.py``)
    publishes rows in ``id`` order and deletes each once the broker confirmed it; ``id`` is
    the message id consumers deduplicate on (delivery is at least once).
    """

    id = models.BigAutoField(primary_key=True)
    sender_id = models.CharField(max_length=255)
    seq = models.PositiveIntegerField()  # the event's seq in its conversation
    message = models.TextField()  # the exact JSON text published (Rasa's message)
    created_at = models.DateTimeField()
    # Set when the broker refused this message itself (not an outage): the relay leaves
    # it here, visible in the admin, and goes on with the next rows.
    failed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox event"

    def __str__(self) -> str:
        return f"#{self.id} {self.sender_id}#{self.seq}"
