"""The outbox's reads and writes, apart from the store's INSERT (``trackers/store.py``).

Pending rows are those the relay has still to publish (``failed_at`` unset); a published
row is deleted, so the table holds only the lag and the rows set aside.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.utils import timezone

from trackers.models import OutboxEvent


@dataclass(frozen=True)
class OutboxFigures:
    pending: int
    oldest_seconds: float  # age of the oldest pending row; 0 when none is
    set_aside: int


def outbox_figures() -> OutboxFigures:
    """What /metrics and the admin show: one aggregate query."""
    pending = Q(failed_at__isnull=True)
    figures = OutboxEvent.objects.aggregate(
        pending=Count("id", filter=pending),
        oldest=Min("created_at", filter=pending),
        set_aside=Count("id", filter=~pending),
    )
    oldest = figures["oldest"]
    age = max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0
    return OutboxFigures(figures["pending"], age, figures["set_aside"])


def outbox_pending(*, limit: int) -> list[tuple[int, str, str]]:
    """The next rows to publish, oldest first: (id, sender_id, message)."""
    rows = OutboxEvent.objects.filter(failed_at__isnull=True).order_by("id")
    return list(rows.values_list("id", "sender_id", "message")[:limit])


def outbox_published(*, ids: list[int]) -> None:
    if ids:
        OutboxEvent.objects.filter(id__in=ids).delete()


def outbox_set_aside(*, id: int, error: str) -> None:
    """The broker refused the row: keep it, out of the relay's way, for someone to look at."""
    OutboxEvent.objects.filter(id=id).update(failed_at=timezone.now(), error=error[:2000])
