"""Retention: ``manage.py prune`` (and its periodic task) deletes what is past its time.

No test waits on the clock: rows are created now and made old by moving their stored
times back, as the days passing would.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.settings import env_days
from convapi.models import IdempotentRequest
from convapi.tasks import prune
from jobs.models import CallbackAttempt, Job
from trackers.locks import conversation_locked
from trackers.models import Conversation, DeletionRecord, Event, Note, Reminder, Tag
from trackers.retention import ERASED_VIA, conversation_erase_if_inactive
from trackers.review import sender_digest

pytestmark = pytest.mark.django_db


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def run_prune(*args: str) -> dict[str, str]:
    out = io.StringIO()
    call_command("prune", *args, stdout=out)
    return dict(line.split(": ", 1) for line in out.getvalue().splitlines())


def deletes_from(queries, model) -> int:
    table = model._meta.db_table
    return sum(query["sql"].startswith(f'DELETE FROM "{table}"') for query in queries)


def old_jobs(count: int, *, status: str = "succeeded") -> list[Job]:
    jobs = Job.objects.bulk_create(
        Job(kind="train", status=status, body="x" * 100) for _ in range(count)
    )
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(created=days_ago(31))
    return jobs


def test_it_deletes_old_finished_jobs_and_their_callback_attempts_in_batches():
    finished = old_jobs(240) + old_jobs(10, status="failed")
    CallbackAttempt.objects.bulk_create(
        CallbackAttempt(job=job, number=number) for job in finished for number in (1, 2)
    )
    running = old_jobs(1, status="running")[0]  # the reaper's, not retention's, to settle
    recent = Job.objects.create(kind="train", status="succeeded")
    CallbackAttempt.objects.create(job=recent, number=1)

    with CaptureQueriesContext(connection) as queries:
        counts = run_prune("--batch-size", "40")

    assert (counts["jobs"], counts["callback attempts"]) == ("250", "500")
    assert set(Job.objects.values_list("pk", flat=True)) == {running.pk, recent.pk}
    assert list(CallbackAttempt.objects.values_list("job_id", flat=True)) == [recent.pk]
    assert deletes_from(queries.captured_queries, Job) == 7  # 250 rows, 40 at a time


def test_it_deletes_expired_idempotency_keys_and_keeps_the_others(settings):
    settings.CONVAPI_IDEMPOTENCY_TTL_SECONDS = 3600
    IdempotentRequest.objects.bulk_create(
        IdempotentRequest(scope="s", key=f"k{n}", body_hash="h", status=200) for n in range(300)
    )
    IdempotentRequest.objects.filter(key__in=[f"k{n}" for n in range(260)]).update(
        created=timezone.now() - timedelta(seconds=3601)
    )
    with CaptureQueriesContext(connection) as queries:
        counts = run_prune("--batch-size", "100")
    assert counts["idempotency keys"] == "260"
    assert sorted(IdempotentRequest.objects.values_list("key", flat=True)) == sorted(
        f"k{n}" for n in range(260, 300)
    )
    assert deletes_from(queries.captured_queries, IdempotentRequest) == 3


def test_it_deletes_finished_reminders_older_than_the_job_retention(settings):
    settings.CONVAPI_JOB_RETENTION_DAYS = 10
    now = timezone.now()

    def reminders(status: str, count: int, finished) -> None:
        Reminder.objects.bulk_create(
            Reminder(
                sender_id="ann",
                name=f"{status}-{n}",
                intent="greet",
                trigger_at=now,
                status=status,
                finished=finished,
            )
            for n in range(count)
        )

    for status in ("fired", "cancelled", "outdated", "failed"):
        reminders(status, 50, days_ago(11))
    reminders("fired", 3, days_ago(9))
    reminders("scheduled", 2, None)  # waiting for its time, however long: kept

    assert run_prune("--batch-size", "30")["reminders"] == "200"
    assert sorted(Reminder.objects.values_list("status", flat=True)) == [
        "fired", "fired", "fired", "scheduled", "scheduled",
    ]  # fmt: skip


def test_it_deletes_old_login_attempts_and_logs(settings):
    settings.CONVAPI_LOGIN_RETENTION_DAYS = 7
    for model, extra in (
        (AccessAttempt, {"get_data": "", "post_data": "", "failures_since_start": 1}),
        (AccessLog, {}),
        (AccessFailureLog, {}),
    ):
        model.objects.bulk_create(
            model(user_agent=f"agent {n}", ip_address="10.0.0.1", username="eve", **extra)
            for n in range(60)
        )
        model.objects.filter(user_agent__in=[f"agent {n}" for n in range(50)]).update(
            attempt_time=days_ago(8)
        )
    assert run_prune("--batch-size", "20")["login records"] == "150"
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        assert model.objects.count() == 10
        assert not model.objects.filter(attempt_time__lt=days_ago(7)).exists()


def inactive_conversations(count: int, *, days: float = 100) -> list[Conversation]:
    """Stored conversations, each with two events, a note and a tag, inactive for ``days``."""
    conversations = Conversation.objects.bulk_create(
        Conversation(sender_id=f"old-{n}", event_count=2) for n in range(count)
    )
    Event.objects.bulk_create(
        Event(conversation=c, seq=seq, type_name="bot", timestamp=1.0, data={"event": "bot"})
        for c in conversations
        for seq in (1, 2)
    )
    Note.objects.bulk_create(Note(conversation=c, text="private") for c in conversations)
    Tag.objects.create(name="kept").conversations.add(*conversations)
    Conversation.objects.filter(pk__in=[c.pk for c in conversations]).update(updated=days_ago(days))
    return conversations


def test_it_keeps_every_conversation_when_no_retention_is_set(settings):
    settings.CONVAPI_CONVERSATION_RETENTION_DAYS = None
    inactive_conversations(3, days=3650)
    counts = run_prune()
    assert "conversations erased" not in counts
    assert counts["conversations"] == "all kept (CONVAPI_CONVERSATION_RETENTION_DAYS unset)"
    assert Conversation.objects.count() == 3 and Event.objects.count() == 6


def test_it_erases_inactive_conversations_as_a_gdpr_request_would(settings):
    settings.CONVAPI_CONVERSATION_RETENTION_DAYS = 90
    old = inactive_conversations(210)
    recent = Conversation.objects.create(sender_id="recent")
    Conversation.objects.filter(pk=old[0].pk).update(updated=days_ago(89))  # active lately

    counts = run_prune("--batch-size", "25")

    assert (counts["conversations erased"], counts["conversations kept (busy)"]) == ("209", "0")
    assert set(Conversation.objects.values_list("sender_id", flat=True)) == {"old-0", "recent"}
    assert Event.objects.exclude(conversation_id=old[0].pk).count() == 0
    assert Note.objects.count() == 1 and Tag.objects.get().conversations.count() == 1
    records = DeletionRecord.objects.all()
    assert len(records) == 209
    assert {record.sender_digest for record in records} == {
        sender_digest(f"old-{n}") for n in range(1, 210)
    }
    assert {(record.via, record.event_count) for record in records} == {(ERASED_VIA, 2)}
    assert recent.pk in Conversation.objects.values_list("pk", flat=True)


def test_it_keeps_a_conversation_whose_lock_a_turn_holds(settings):
    settings.CONVAPI_CONVERSATION_RETENTION_DAYS = 90
    settings.CONVAPI_LOCK_TIMEOUT_SECONDS = 0  # a held lock is not waited for
    inactive_conversations(5)
    with conversation_locked("old-3"):
        counts = run_prune("--batch-size", "2")
    assert (counts["conversations erased"], counts["conversations kept (busy)"]) == ("4", "1")
    assert list(Conversation.objects.values_list("sender_id", flat=True)) == ["old-3"]
    assert Event.objects.count() == 2


def test_it_does_not_erase_a_conversation_that_came_back_to_life_meanwhile():
    """Listed as inactive, then a turn landed before the lock was taken: it stays."""
    conversation = inactive_conversations(1)[0]
    cutoff = days_ago(90)
    Conversation.objects.filter(pk=conversation.pk).update(updated=timezone.now())
    assert conversation_erase_if_inactive(sender_id="old-0", updated_before=cutoff) is False
    assert Conversation.objects.filter(pk=conversation.pk).exists()
    assert not DeletionRecord.objects.exists()


def test_the_periodic_task_prunes_as_the_command_does(settings):
    settings.CONVAPI_CONVERSATION_RETENTION_DAYS = 90
    old_jobs(3)
    inactive_conversations(2)
    counts = prune.apply().get()
    assert counts["jobs"] == 3 and counts["conversations erased"] == 2
    assert not Job.objects.exists() and not Conversation.objects.exists()


def test_it_refuses_a_batch_size_below_one():
    with pytest.raises(CommandError, match="--batch-size: use 1 or more"):
        call_command("prune", "--batch-size", "0")


@pytest.mark.parametrize("value", ["0", "-3", "thirty"])
def test_a_retention_that_is_not_a_positive_number_of_days_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("CONVAPI_JOB_RETENTION_DAYS", value)
    with pytest.raises(ValueError, match="CONVAPI_JOB_RETENTION_DAYS"):
        env_days("CONVAPI_JOB_RETENTION_DAYS", 30)


def test_an_unset_conversation_retention_keeps_conversations_forever(monkeypatch):
    monkeypatch.delenv("CONVAPI_CONVERSATION_RETENTION_DAYS", raising=False)
    assert env_days("CONVAPI_CONVERSATION_RETENTION_DAYS", None) is None
    monkeypatch.setenv("CONVAPI_CONVERSATION_RETENTION_DAYS", "400")
    assert env_days("CONVAPI_CONVERSATION_RETENTION_DAYS", None) == 400
