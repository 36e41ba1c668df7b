"""The dashboard's figures: what the log says about a range of days and a channel.

Two queries whatever the range: one pass over the range's user messages and notable
actions (a failure or a fallback), grouped by day and intent; and one over the
conversations, grouped by channel, day and length. No rollup table is kept. The event pass is the
expensive one: it reads the table's rows in the range (the index ``(type_name, timestamp)``
finds them, but intents, conversations and failures are only in the rows), once, and
``bench/dashboard.py`` measures it at 1 million events. The conversation figures come from
the figures the store keeps on each conversation (``user_turns``, ``latest_event_time``,
``latest_input_channel``), so nothing here counts distinct conversations in the event log.

Days are UTC days (the project's ``TIME_ZONE``) of the events' own timestamps (float epoch
seconds: when it was said, not when it was stored), so the bucketing is the same arithmetic
on SQLite and PostgreSQL. A conversation counts once, on the day of its latest activity. A
channel narrows everything to the conversations whose latest message came through it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Value, When
from django.db.models.functions import Floor

from trackers.models import Conversation, Event
from trackers.store import FALLBACK_ACTIONS, FALLBACK_INTENTS

DAY_SECONDS = 86400
TOP_INTENTS = 10
# Conversation lengths (user messages), as (label, highest); the last bucket has no top.
LENGTH_BUCKETS = (
    ("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5", 5), ("6-10", 10), ("11-20", 20),
    ("21-50", 50), ("51+", None),
)  # fmt: skip
FAILED = ~Q(failure="")
FALLBACK_ACTION = Q(action_name__in=FALLBACK_ACTIONS)


@dataclass(frozen=True)
class DayFigures:
    day: date
    conversations: int = 0  # conversations whose latest activity was that day
    user_messages: int = 0
    nlu_fallbacks: int = 0  # user messages classified as a fallback intent
    fallback_actions: int = 0  # fallback actions run (the policies' fallback)
    action_failures: int = 0  # custom actions that failed (no server, timeout, error)

    @property
    def nlu_fallback_rate(self) -> float | None:
        return _share(self.nlu_fallbacks, self.user_messages)

    @property
    def fallback_action_rate(self) -> float | None:
        return _share(self.fallback_actions, self.user_messages)


@dataclass(frozen=True)
class Dashboard:
    start: date
    end: date
    channel: str
    days: list[DayFigures]  # every day of the range, in order, quiet days included
    top_intents: list[tuple[str, int]]  # the most frequent intents, most frequent first
    lengths: list[tuple[str, int]]  # conversations per LENGTH_BUCKETS label, in that order
    channels: list[str]  # every channel a conversation's latest message came through

    @property
    def conversations(self) -> int:
        return sum(day.conversations for day in self.days)

    @property
    def user_messages(self) -> int:
        return sum(day.user_messages for day in self.days)

    @property
    def action_failures(self) -> int:
        return sum(day.action_failures for day in self.days)

    @property
    def nlu_fallback_rate(self) -> float | None:
        return _share(sum(day.nlu_fallbacks for day in self.days), self.user_messages)

    @property
    def fallback_action_rate(self) -> float | None:
        return _share(sum(day.fallback_actions for day in self.days), self.user_messages)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def dashboard_figures(*, start: date, end: date, channel: str = "") -> Dashboard:
    """The figures for the days ``start`` to ``end`` (both included) and a channel ("" = all)."""
    per_day: defaultdict[int, Counter[str]] = defaultdict(Counter)
    intents = _event_figures(start, end, channel, into=per_day)
    lengths, channels = _conversation_figures(start, end, channel, into=per_day)
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        days.append(DayFigures(day, **per_day.get(_day_number(day), {})))
    return Dashboard(
        start=start,
        end=end,
        channel=channel,
        days=days,
        top_intents=sorted(intents.items(), key=lambda item: (-item[1], item[0]))[:TOP_INTENTS],
        lengths=[(label, lengths[index]) for index, (label, _) in enumerate(LENGTH_BUCKETS)],
        channels=channels,
    )


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _bounds(start: date, end: date) -> tuple[float, float]:
    """The range as epoch seconds, end excluded: the float columns' terms."""
    first = datetime.combine(start, datetime.min.time(), UTC).timestamp()
    return first, first + ((end - start).days + 1) * DAY_SECONDS


def _event_figures(
    start: date, end: date, channel: str, *, into: defaultdict[int, Counter[str]]
) -> Counter[str]:
    """Per day: user messages, fallback intents, fallback actions, failed actions (added to
    ``into``); the intents' counts over the range (returned). One query."""
    low, high = _bounds(start, end)
    events = Event.objects.filter(
        type_name__in=("user", "action"), timestamp__gte=low, timestamp__lt=high
    ).filter(Q(type_name="user") | FAILED | FALLBACK_ACTION)
    if channel:
        events = events.filter(conversation_id__in=_in_channel(channel))
    rows = (
        events.order_by()  # the model's ordering would add a sort to the aggregate
        .annotate(day=Floor(F("timestamp") / DAY_SECONDS))
        .values_list("day", "type_name", "intent_name")
        # Counting rows, or a column the index holds, never ``id``: a covering index (see
        # bench/dashboard.py --proposed) can then answer without reading the rows.
        .annotate(
            count=Count("*"),
            failures=Count("timestamp", filter=FAILED),
            fallbacks=Count("timestamp", filter=FALLBACK_ACTION),
        )
    )
    intents: Counter[str] = Counter()
    for day, type_name, intent, count, failures, fallbacks in rows:
        figures = into[int(day)]
        if type_name == "user":
            figures["user_messages"] += count
            figures["nlu_fallbacks"] += count if intent in FALLBACK_INTENTS else 0
            intents[intent or "(none)"] += count
        else:
            figures["action_failures"] += failures
            figures["fallback_actions"] += fallbacks
    return intents


def _conversation_figures(
    start: date, end: date, channel: str, *, into: defaultdict[int, Counter[str]]
) -> tuple[Counter[int], list[str]]:
    """Conversations per day of latest activity (added to ``into``), per length bucket and
    the channels (returned), counting those in which a user spoke. One pass over the
    conversations: the channels are read off all of them, the figures off the range's."""
    low, high = _bounds(start, end)
    in_range = Q(latest_event_time__gte=low, latest_event_time__lt=high)
    if channel:
        in_range &= Q(latest_input_channel=channel)
    # Outside the range both are NULL, so all those rows fold into one per channel.
    day = Floor(F("latest_event_time") / DAY_SECONDS)
    rows = (
        Conversation.objects.filter(user_turns__gt=0)
        .order_by()
        .annotate(
            day=Case(When(in_range, then=day), default=None, output_field=FloatField()),
            bucket=Case(When(in_range, then=_length_bucket()), default=None),
        )
        .values_list("latest_input_channel", "day", "bucket")
        .annotate(count=Count("*"))
    )
    lengths: Counter[int] = Counter()
    channels = set()
    for row_channel, row_day, bucket, count in rows:
        channels.add(row_channel)
        if row_day is not None:
            into[int(row_day)]["conversations"] += count
            lengths[bucket] += count
    return lengths, sorted(channels - {""})


def _in_channel(channel: str) -> QuerySet[Conversation]:
    return Conversation.objects.filter(latest_input_channel=channel).values("id")


def _length_bucket() -> Case:
    """The index of a conversation's LENGTH_BUCKETS entry, computed in the query."""
    whens = [
        When(user_turns__lte=highest, then=Value(index))
        for index, (_, highest) in enumerate(LENGTH_BUCKETS)
        if highest is not None
    ]
    return Case(*whens, default=Value(len(LENGTH_BUCKETS) - 1))
