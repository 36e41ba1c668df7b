"""The conversation list's filters: each one adds at most one query to the page.

Filters on what happened inside a conversation (an intent, an action, a slot value) are
``EXISTS`` subqueries over the indexed ``Event`` columns; per-conversation figures
(fallback, lowest confidence) are columns the store keeps current.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib import admin
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from trackers.models import Event, Tag


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a small form instead of picked from a list."""

    template = "admin/trackers/input_filter.html"
    placeholder = ""

    def __init__(self, request, params, model, model_admin) -> None:
        super().__init__(request, params, model, model_admin)
        self.other_params = [
            (key, value)
            for key, values in request.GET.lists()
            for value in values
            if key not in (self.parameter_name, "p")
        ]

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return []

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        return []


def _events_where(**conditions: Any) -> Exists:
    return Exists(Event.objects.filter(conversation=OuterRef("pk"), **conditions))


class UserMessagesFilter(admin.SimpleListFilter):
    """Conversations with no user message (a tracker read of an unknown id leaves one)
    say nothing to review: hidden unless asked for."""

    title = "user messages"
    parameter_name = "empty"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [("only", "with no user message"), ("all", "all, empty ones too")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "with a user message",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "all":
            return queryset
        if self.value() == "only":
            return queryset.filter(user_turns=0)
        return queryset.filter(user_turns__gt=0)


class DateRangeFilter(admin.ListFilter):
    """Conversations started between two dates (either end may be left open)."""

    title = "started"
    template = "admin/trackers/date_range_filter.html"
    parameters = ("started_from", "started_to")

    def __init__(self, request, params, model, model_admin) -> None:
        super().__init__(request, params, model, model_admin)
        self.values = {name: _one(params.pop(name, None)) for name in self.parameters}
        self.other_params = [
            (key, value)
            for key, values in request.GET.lists()
            for value in values
            if key not in (*self.parameters, "p")
        ]

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.parameters)

    def choices(self, changelist):
        return []

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        start, end = (_date(self.values[name]) for name in self.parameters)
        if start:
            queryset = queryset.filter(created__date__gte=start)
        if end:
            queryset = queryset.filter(created__date__lte=end)
        return queryset


def _one(value: Any) -> str:
    if isinstance(value, list):
        value = value[-1] if value else ""
    return value or ""


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None  # an unreadable date filters nothing rather than failing the page


def distinct_event_values(column: str) -> list[str]:
    """The distinct non-empty values of an indexed Event column, one index probe each.

    A plain ``SELECT DISTINCT`` reads the whole index (a million entries at a million
    events); this recursive "skip scan" jumps from one value to the next instead.
    """
    table = connection.ops.quote_name(Event._meta.db_table)
    name = connection.ops.quote_name(Event._meta.get_field(column).column)
    sql = f"""
        WITH RECURSIVE found(value) AS (
            SELECT (SELECT {name} FROM {table} WHERE {name} > '' ORDER BY {name} LIMIT 1)
            UNION ALL
            SELECT (SELECT {name} FROM {table} WHERE {name} > found.value ORDER BY {name} LIMIT 1)
            FROM found WHERE found.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL"""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


class _DistinctEventValueFilter(admin.SimpleListFilter):
    column = ""

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [(value, value) for value in distinct_event_values(self.column)]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(_events_where(**{self.column: self.value()}))
        return queryset


class IntentFilter(_DistinctEventValueFilter):
    title = "intent (any user message)"
    parameter_name = "intent"
    column = "intent_name"


class ActionFilter(_DistinctEventValueFilter):
    title = "action (any)"
    parameter_name = "action"
    column = "action_name"


class LowConfidenceFilter(InputFilter):
    title = "intent confidence below"
    parameter_name = "confidence_below"
    placeholder = "e.g. 0.5"

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        try:
            threshold = float(self.value()) if self.value() else None
        except ValueError:
            threshold = None
        if threshold is None:
            return queryset
        return queryset.filter(lowest_confidence__lt=threshold)


class SlotValueFilter(InputFilter):
    """``name=value``: some event set the slot to the value (JSON, else a string)."""

    title = "slot value"
    parameter_name = "slot"
    placeholder = "name=value"

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        name, sep, raw = (self.value() or "").partition("=")
        if not name.strip():
            return queryset
        conditions: dict[str, Any] = {"type_name": "slot", "data__name": name.strip()}
        if sep:
            conditions["data__value"] = _json_or_text(raw.strip())
        return queryset.filter(_events_where(**conditions))


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [(name, name) for name in Tag.objects.values_list("name", flat=True)]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(tags__name=self.value())
        return queryset
