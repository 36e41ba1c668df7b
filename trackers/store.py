"""The tracker store: the ONE module that turns rows into engine objects and back.

A conversation's state is restored from its snapshot (``Conversation.state``) plus,
when asked, a window of its latest events; the full log is read only by the views that
return it. Callers hold the conversation row lock (see ``trackers.services``) while
they append.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.backends.postgresql.psycopg_any import Jsonb
from django.db.models import JSONField, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from engine.errors import conversation_busy
from engine.event_brokers import event_message
from engine.events import (
    ActionExecuted,
    Event,
    Restarted,
    SessionStarted,
    UserUttered,
    event_from_dict,
)
from engine.json_text import json_text
from engine.session import ACTION_SESSION_START
from engine.tracker import Tracker
from jobs.stages import stage
from serving.holder import configured_event_broker
from trackers.models import Conversation, OutboxEvent
from trackers.models import Event as EventRow

SlotDefaults = Mapping[str, Any] | None


def slot_layout_key(slot_defaults: SlotDefaults) -> str:
    """Identifies the slot layout a snapshot was computed with; another layout rebuilds it."""
    layout = json.dumps(slot_defaults, sort_keys=True, default=str)
    return hashlib.sha256(layout.encode()).hexdigest()[:32]


def event_from_data(data: dict) -> Event:
    event = event_from_dict(data)
    if event is None:  # only legacy ``topic`` parses to nothing, and it is never stored
        raise ValueError(f"Stored event {data!r} cannot be read.")
    return event


def event_from_row(row: EventRow) -> Event:
    return event_from_data(row.data)


def row_from_event(conversation: Conversation, seq: int, event: Event) -> EventRow:
    data = event.to_dict()
    return EventRow(
        conversation=conversation,
        seq=seq,
        type_name=event.type_name,
        timestamp=event.timestamp,
        data=data,
        intent_name=_indexed_intent(event),
        action_name=_indexed_action(event),
        text=_indexed_text(event),
        confidence=indexed_confidence(event),
        input_channel=_indexed_channel(event),
        failure=_indexed_failure(event),
    )


def indexed_confidence(event: Event) -> float | None:
    """A user message's intent confidence, or an action's prediction confidence."""
    if isinstance(event, UserUttered):
        confidence = event.intent.get("confidence")
    elif isinstance(event, ActionExecuted):
        confidence = event.confidence
    else:
        return None
    if isinstance(confidence, int | float) and not isinstance(confidence, bool):
        return float(confidence)
    return None


def _indexed_failure(event: Event) -> str:
    return (event.failure or "") if isinstance(event, ActionExecuted) else ""


def _indexed_channel(event: Event) -> str:
    channel = event.input_channel if isinstance(event, UserUttered) else None
    return channel[:255] if isinstance(channel, str) else ""


def _indexed_intent(event: Event) -> str:
    return (event.intent_name or "")[:255] if isinstance(event, UserUttered) else ""


def _indexed_action(event: Event) -> str:
    return (event.action_name or "")[:255] if isinstance(event, ActionExecuted) else ""


def _indexed_text(event: Event) -> str:
    text = getattr(event, "text", None) if event.type_name in ("user", "bot") else None
    return text if isinstance(text, str) else ""


def conversation_get(*, sender_id: str) -> Conversation | None:
    """The conversation's row, or None.

    One plain SELECT by the unique sender id, its values converted as the ORM converts
    them: every turn reads it, and building the ORM's query cost more than the read
    (``bench/turns.py --profile``).
    """
    with connection.cursor() as cursor:
        cursor.execute(_conversation_select_sql(), [sender_id])
        row = cursor.fetchone()
    return None if row is None else _conversation_from_row(row)


def conversation_for_turn(*, sender_id: str) -> tuple[Conversation | None, list[Event] | None]:
    """The conversation's row and its last ``RECENT_EVENTS`` events (None where they were
    not read: ``tracker_restore`` reads them), in one statement.

    When this process wrote the conversation last, its snapshot and latest events are
    taken from what it wrote (``_written``), and the statement sends neither: it leaves
    them out where the row is still the version written (its id, event count, update
    time and slot layout). Otherwise it sends the snapshot and, on PostgreSQL, the events.
    """
    written = _recall_written(sender_id)
    expected = [None] * len(_VERSION)
    if written is not None:
        fields = [Conversation._meta.get_field(name) for name in _VERSION]
        expected = [
            field.get_db_prep_value(value, connection)
            for field, value in zip(fields, written.version, strict=True)
        ]
    recent_read = connection.vendor == "postgresql"
    params = [*expected, *([*expected, RECENT_EVENTS] if recent_read else []), sender_id]
    with connection.cursor() as cursor:
        cursor.execute(_conversation_for_turn_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    if recent_read:
        *row, recent_text = row
    conversation = _conversation_from_row(row)
    if written is not None and _version(conversation) == written.version:
        conversation.state = written.state
        conversation._session_texts = written.session_texts
        return conversation, written.recent
    if conversation.state is None:  # matched in SQL, not here: read it all again
        return conversation_get(sender_id=sender_id), None
    if not recent_read:
        return conversation, None
    return conversation, [event_from_data(data) for data in json.loads(recent_text or "[]")]


def _conversation_from_row(row: Sequence[Any]) -> Conversation:
    fields = Conversation._meta.concrete_fields
    database = connections[DEFAULT_DB_ALIAS]
    values = []
    for converters, value in zip(_conversation_converters(database), row, strict=True):
        for convert, column in converters:
            value = convert(value, column, database)
        values.append(value)
    return Conversation.from_db(connection.alias, [field.attname for field in fields], values)


_converters_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _conversation_converters(database: Any) -> list[list[tuple[Any, Any]]]:
    """Each conversation column's converters on this connection, found once: looking
    them up for every read cost more than the read."""
    found = _converters_of.get(database)
    if found is None:
        found = []
        for field in Conversation._meta.concrete_fields:
            column = field.get_col(Conversation._meta.db_table)
            converters = [
                *database.ops.get_db_converters(column),
                *field.get_db_converters(database),
            ]
            found.append([(convert, column) for convert in converters])
        _converters_of[database] = found
    return found


def _plain_json(field: Any) -> bool:
    return isinstance(field, JSONField) and field.encoder is None and field.decoder is None


@cache
def _conversation_select_sql() -> str:
    quote = connection.ops.quote_name
    meta = Conversation._meta
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    sender = quote(meta.get_field("sender_id").column)
    return f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {sender} = %s"


@cache
def _conversation_for_turn_sql(vendor: str) -> str:
    """The row by sender id, its snapshot NULL where the row is the version given as the
    first parameters; on PostgreSQL also its events after ``event_count - window`` as one
    JSON array in log order (NULL likewise; the window is the parameter after the second
    version's)."""
    quote = connection.ops.quote_name
    meta, events = Conversation._meta, EventRow._meta
    written = " AND ".join(f"c.{quote(meta.get_field(name).column)} = %s" for name in _VERSION)
    columns = ", ".join(
        f"CASE WHEN {written} THEN NULL ELSE c.{quote(field.column)} END"
        if field.name == "state"
        else f"c.{quote(field.column)}"
        for field in meta.concrete_fields
    )
    sql = f"SELECT {columns}"
    if vendor == "postgresql":
        data, seq = (quote(events.get_field(name).column) for name in ("data", "seq"))
        owner = quote(events.get_field("conversation").column)
        key, count = quote(meta.pk.column), quote(meta.get_field("event_count").column)
        recent = (
            f"SELECT json_agg(e.{data} ORDER BY e.{seq})::text FROM {quote(events.db_table)} e "
            f"WHERE e.{owner} = c.{key} AND e.{seq} > c.{count} - %s"
        )
        sql += f", CASE WHEN {written} THEN NULL ELSE ({recent}) END"
    sender = quote(meta.get_field("sender_id").column)
    return f"{sql} FROM {quote(meta.db_table)} c WHERE c.{sender} = %s"


# -- the states this process wrote ----------------------------------------------------
# Events kept with a written snapshot: a turn's window of events restored with it.
RECENT_EVENTS = 20
# What identifies a written snapshot: every write of one sets a new update time, and an
# append (by any process, or code of any version) a new event count.
_VERSION = ("id", "event_count", "updated", "state_key")


# What the session texts kept with written snapshots may add up to in one process: a
# session's texts are what its action server calls send, so they are kept only for the
# conversations that call one, and the least recent are forgotten first past this.
WRITTEN_TEXTS_BYTES = 32 * 1024 * 1024


class _Written(NamedTuple):
    version: tuple
    state: dict
    recent: list[Event]
    session_texts: list[str] | None  # the stored session's events as JSON texts, if known
    text_bytes: int


_written: OrderedDict[tuple[str, str], _Written] = OrderedDict()
_written_lock = threading.Lock()
_written_text_bytes = 0


def _version(conversation: Conversation) -> tuple:
    return tuple(getattr(conversation, name) for name in _VERSION)


def _written_key(sender_id: str) -> tuple[str, str]:
    return connection.settings_dict["NAME"], sender_id


def _remember_written(conversation: Conversation, tracker: Tracker) -> None:
    """Keep the snapshot just written and the latest events, for this conversation's next
    turn in this process (``CONVAPI_WRITTEN_STATES`` conversations, the least recent
    forgotten first): it reads neither back. Only a tracker that holds the whole window
    (a turn's, not an append's) gives them. The session's texts go with them when a turn
    had them (its action server calls send them), within ``WRITTEN_TEXTS_BYTES``."""
    global _written_text_bytes
    key = _written_key(conversation.sender_id)
    limit = settings.CONVAPI_WRITTEN_STATES
    held = len(tracker.events) >= min(RECENT_EVENTS, conversation.event_count)
    kept = limit > 0 and held
    texts = _session_texts_known(conversation) if kept else None
    size = sum(map(len, texts)) if texts is not None else 0
    if size > WRITTEN_TEXTS_BYTES // 16:  # one long session may not crowd out the others
        texts, size = None, 0
    with _written_lock:
        _forget_written(key)
        if kept:
            recent = tracker.events[-RECENT_EVENTS:]
            version = _version(conversation)
            _written[key] = _Written(version, conversation.state, recent, texts, size)
            _written_text_bytes += size
            while len(_written) > limit or _written_text_bytes > WRITTEN_TEXTS_BYTES:
                _forget_written(next(iter(_written)))


def _forget_written(key: tuple[str, str]) -> _Written | None:
    """Take a conversation's entry out (the caller holds ``_written_lock``)."""
    global _written_text_bytes
    written = _written.pop(key, None)
    if written is not None:
        _written_text_bytes -= written.text_bytes
    return written


def written_forget() -> None:
    """Forget every state this process wrote (their conversations' next turns read them)."""
    global _written_text_bytes
    with _written_lock:
        _written.clear()
        _written_text_bytes = 0


def _recall_written(sender_id: str) -> _Written | None:
    """What this process wrote last for the conversation, taken out: the turn holding its
    lock uses it, and remembers its own write instead."""
    with _written_lock:
        return _forget_written(_written_key(sender_id))


def _session_texts_known(conversation: Conversation) -> list[str] | None:
    """The JSON texts of the conversation's stored session events (after its latest
    reset), when a turn read them or this process wrote them; None when not known."""
    texts = conversation.__dict__.get("_session_texts")
    if texts is None or len(texts) != conversation.event_count - conversation.latest_reset_seq:
        return None
    return texts


def conversation_ids() -> list[str]:
    return list(Conversation.objects.order_by("id").values_list("sender_id", flat=True))


def conversation_get_or_create(*, sender_id: str) -> Conversation:
    conversation = conversation_get(sender_id=sender_id)
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            return Conversation.objects.create(sender_id=sender_id)
    except IntegrityError:  # created meanwhile by a concurrent request
        return Conversation.objects.get(sender_id=sender_id)


def conversation_new(*, sender_id: str) -> Conversation:
    """A conversation not stored yet: its first append stores it, so a turn that fails
    before appending leaves nothing behind."""
    return Conversation(sender_id=sender_id)


def conversation_channels() -> list[str]:
    """Every channel a conversation's latest message came through, sorted: what the
    reviewer's pages offer to filter on."""
    channels = (
        Conversation.objects.exclude(latest_input_channel="")
        .order_by("latest_input_channel")  # not the model's ordering: DISTINCT would add it
        .values_list("latest_input_channel", flat=True)
        .distinct()
    )
    return list(channels)


def events_load(
    conversation: Conversation, *, since_seq: int = 1, until: float | None = None
) -> list[Event]:
    """Stored events from ``since_seq`` on (inclusive), in log order.

    One plain SELECT of the JSON column: on a turn's 20 events the ORM's query building and
    per-value conversion cost more than the read itself (``bench/turns.py --profile``).
    """
    if conversation.pk is None:
        return []
    column = {name: connection.ops.quote_name(EventRow._meta.get_field(name).column)
              for name in ("conversation", "seq", "timestamp", "data")}  # fmt: skip
    sql = (
        f"SELECT {column['data']} FROM {connection.ops.quote_name(EventRow._meta.db_table)} "
        f"WHERE {column['conversation']} = %s AND {column['seq']} >= %s"
    )
    params: list[Any] = [conversation.pk, max(since_seq, 1)]
    if until is not None:
        sql += f" AND {column['timestamp']} <= %s"
        params.append(until)
    with connection.cursor() as cursor:
        cursor.execute(sql + f" ORDER BY {column['seq']}", params)
        values = cursor.fetchall()
    decode = EventRow._meta.get_field("data").from_db_value
    return [event_from_data(decode(value, None, connection)) for (value,) in values]


def event_texts_load(conversation: Conversation, *, after_seq: int) -> list[str]:
    """Stored events after ``after_seq`` as their JSON texts, in log order, unparsed: an
    action server call sends them on as they are."""
    if conversation.pk is None:
        return []
    rows = EventRow.objects.filter(conversation_id=conversation.pk, seq__gt=after_seq)
    texts = rows.order_by("seq").annotate(data_text=Cast("data", TextField()))
    return list(texts.values_list("data_text", flat=True))


def tracker_restore(
    conversation: Conversation,
    slot_defaults: SlotDefaults,
    *,
    window: int = 0,
    recent: list[Event] | None = None,
) -> Tracker:
    """The conversation's tracker from its snapshot and its last ``window`` events.

    ``recent``, when given, are those events as read with the row
    (``conversation_for_turn``). A missing snapshot, or one computed for another slot
    layout (a new model), is rebuilt from the whole log: a few fields (the latest input
    channel, loops seen) outlive resets, so only a full replay is exact. That happens
    once per layout change.
    """

    def load_session() -> list[Event]:
        return events_load(conversation, since_seq=conversation.latest_reset_seq)

    def load_session_texts() -> list[str]:
        texts = _session_texts_known(conversation)
        if texts is None:
            texts = event_texts_load(conversation, after_seq=conversation.latest_reset_seq)
            conversation._session_texts = texts  # kept up to date by the turn's writes
        return list(texts)

    if conversation.state and conversation.state_key == slot_layout_key(slot_defaults):
        if recent is None:
            first_seq = conversation.event_count - window + 1
            recent = events_load(conversation, since_seq=first_seq) if window > 0 else []
        return Tracker.from_snapshot(
            conversation.sender_id,
            conversation.state,
            slot_defaults,
            recent_events=recent,
            session_events_loader=load_session,
            session_texts_loader=load_session_texts,
        )
    return Tracker.from_events(conversation.sender_id, events_load(conversation), slot_defaults)


def events_append(
    conversation: Conversation,
    tracker: Tracker,
    events: Sequence[Event],
    slot_defaults: SlotDefaults,
    *,
    fence: int | None = None,
) -> None:
    """Apply events to the tracker, then append them to the log with the new snapshot."""
    for event in events:
        tracker.update(event)
    events_persist(conversation, tracker, events, slot_defaults, fence=fence)


def events_persist(
    conversation: Conversation,
    tracker: Tracker,
    events: Sequence[Event],
    slot_defaults: SlotDefaults,
    *,
    fence: int | None = None,
) -> None:
    """Append events the tracker has already applied (a turn's), and its snapshot.

    Fenced: the snapshot's UPDATE, made first, matches only while the stored event count
    is ``fence`` (by default the count this conversation was read with). Once it matched,
    the row stays locked until the transaction ends, so the INSERT that follows cannot
    interleave with another writer's. Atomic by itself, or part of the caller's
    transaction: on PostgreSQL one statement (``_persist_in_one_statement``), elsewhere
    the UPDATE and the INSERTs in a transaction.

    With an event broker configured, the same transaction writes each event's message to
    the outbox (``OutboxEvent``), for the relay to publish; without one, nothing more.
    """
    if fence is None:
        fence = conversation.event_count
    broker = configured_event_broker()
    one_statement = connection.vendor == "postgresql" and _fits_one_statement(
        len(events), len(events) if broker is not None else 0
    )
    if conversation.pk is None and not one_statement:
        try:
            with transaction.atomic():
                conversation.save(force_insert=True)
        except IntegrityError:  # stored meanwhile by a writer that did not hold the lock
            raise conversation_busy() from None
    session_texts = _session_texts_known(conversation)
    rows = []
    for event in events:
        seq = conversation.event_count + 1
        with stage("serialise"):
            rows.append(row_from_event(conversation, seq, event))
        _note_landmarks(conversation, seq, event)
        _note_review_figures(conversation, event)
        conversation.event_count = seq
    _snapshot_take(conversation, tracker, slot_defaults)
    outbox = []
    if rows and broker is not None:
        outbox = _outbox_rows(conversation.sender_id, rows)
    if one_statement:
        _persist_in_one_statement(conversation, rows, outbox, fence=fence)
    else:
        with timed_transaction(savepoint=False):
            _update_row(conversation, _SNAPSHOT_COLUMNS, fence=fence)
            _insert_rows(EventRow, _EVENT_COLUMNS, rows)
            _insert_rows(OutboxEvent, _OUTBOX_COLUMNS, outbox)
    if session_texts is not None:  # the session as stored now: what it was, and these
        session = conversation.event_count - conversation.latest_reset_seq
        texts = [*session_texts, *(json_text(row.data) for row in rows)]
        conversation._session_texts = texts[len(texts) - session :]
    _remember_written(conversation, tracker)


@contextmanager
def timed_transaction(*, savepoint: bool = True) -> Iterator[None]:
    """``transaction.atomic()``, its statements counted as the "write" stage and its
    commit as "commit" (``jobs.stages``)."""
    with stage("commit"), transaction.atomic(savepoint=savepoint), stage("write"):
        yield


# PostgreSQL numbers a statement's parameters with 16 bits.
POSTGRES_MAX_PARAMETERS = 65_535


def _fits_one_statement(events: int, messages: int) -> bool:
    """Whether there are events, few enough (with their outbox messages) for one
    statement's parameters: a turn's always are, a long PUT's may not be."""
    parameters = (
        len(_NEW_CONVERSATION_COLUMNS)
        + events * (len(_EVENT_COLUMNS) - 1)
        + messages * len(_OUTBOX_COLUMNS)
    )  # fmt: skip
    return events > 0 and parameters <= POSTGRES_MAX_PARAMETERS


def _persist_in_one_statement(
    conversation: Conversation,
    rows: Sequence[EventRow],
    outbox: Sequence[OutboxEvent],
    *,
    fence: int,
) -> None:
    """The fenced UPDATE and the INSERTs as ONE statement: one round trip, atomic by
    itself, so a turn outside a transaction needs no BEGIN and no COMMIT of its own.

    Each event row takes its conversation id from the UPDATE's RETURNING: when the fence
    fails the UPDATE returns nothing, the id is NULL, the NOT NULL column refuses the
    row, and the whole statement (the UPDATE included) is undone. A conversation not
    stored yet is INSERTed instead, by the same statement; one stored meanwhile by
    another writer breaks the unique sender id and, again, nothing is stored.
    """
    key = connection.ops.quote_name(Conversation._meta.pk.column)
    new = conversation.pk is None
    with stage("serialise"):
        if new:
            conversation.created = conversation.updated
            head, params = _insert_sql(Conversation, _NEW_CONVERSATION_COLUMNS, [conversation])
        else:
            head, params = _fenced_update_sql(conversation, _SNAPSHOT_COLUMNS, fence=fence)
        sql = f"WITH fenced AS ({head} RETURNING {key})"
        if outbox:
            insert, values = _insert_sql(OutboxEvent, _OUTBOX_COLUMNS, outbox)
            sql += f", outbox AS ({insert})"
            params += values
        insert, value = _recordset_insert_sql(
            EventRow, _EVENT_COLUMNS, rows, first=f"(SELECT {key} FROM fenced)"
        )
        conversation_column = EventRow._meta.get_field("conversation").column
        sql += f" {insert} RETURNING {connection.ops.quote_name(conversation_column)}"
        params.append(value)
    try:
        with stage("write"), connection.cursor() as cursor:
            cursor.execute(sql, params)
            stored_id = cursor.fetchone()[0]
    except IntegrityError:  # the fence failed: another writer appended, or erased it
        raise conversation_busy() from None
    if new:  # stored now, as the ORM's save() would have left it
        conversation.pk = stored_id
        conversation._state.adding = False
        conversation._state.db = connection.alias


def _insert_sql(
    model: type[Any], names: Sequence[str], rows: Sequence[Any]
) -> tuple[str, list[Any]]:
    """An INSERT of ``rows`` and its parameters."""
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = ", ".join([f"({placeholders})"] * len(rows))
    params = [value for row in rows for value in _column_values(row, fields)]
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values}", params


def _recordset_insert_sql(
    model: type[Any], names: Sequence[str], rows: Sequence[Any], *, first: str
) -> tuple[str, str]:
    """PostgreSQL: an INSERT of ``rows`` passed as ONE ``jsonb`` array, expanded by
    ``jsonb_to_recordset``; ``first`` is the SQL of the first column's value (the same
    for every row). Its text is the same for any number of rows, and the one parameter
    is a single JSON text: per-value literals of a turn's ~70 values were most of the
    client's cost of the write."""
    valued = [model._meta.get_field(name) for name in names[1:]]
    value = json_text(
        [{field.column: getattr(row, field.attname) for field in valued} for row in rows]
    )
    return _recordset_insert_text(model, tuple(names), first, connection.vendor), value


@cache
def _recordset_insert_text(
    model: type[Any], names: tuple[str, ...], first: str, vendor: str
) -> str:
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    columns = ", ".join(quote(field.column) for field in fields)
    valued = fields[1:]
    record = ", ".join(f"{quote(field.column)} {field.db_type(connection)}" for field in valued)
    picked = ", ".join(f"x.{quote(field.column)}" for field in valued)
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {first}, {picked} "
        f"FROM jsonb_to_recordset(%s::jsonb) AS x({record})"
    )


def _fenced_update_sql(
    conversation: Conversation, names: Sequence[str], *, fence: int
) -> tuple[str, list[Any]]:
    """The UPDATE of the conversation's ``names`` columns that matches only while its log
    is at ``fence``, and its parameters."""
    fields = [Conversation._meta.get_field(name) for name in names]
    sql = _fenced_update_text(tuple(names), connection.vendor)
    return sql, [*_column_values(conversation, fields), conversation.pk, fence]


@cache
def _fenced_update_text(names: tuple[str, ...], vendor: str) -> str:
    quote = connection.ops.quote_name
    meta = Conversation._meta
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    key, count = quote(meta.pk.column), quote(meta.get_field("event_count").column)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {key} = %s AND {count} = %s"


# Written with one plain INSERT and one UPDATE naming only these columns: inside the
# conversation's lock, the ORM's per-object machinery (bulk_create, save) cost more
# than the database did.
_EVENT_COLUMNS = (
    "conversation", "seq", "type_name", "timestamp", "data", "intent_name", "action_name", "text",
    "confidence", "input_channel", "failure",
)  # fmt: skip
_OUTBOX_COLUMNS = ("sender_id", "seq", "message", "created_at", "error")
# A conversation stored with its first events: every column but the id.
_NEW_CONVERSATION_COLUMNS = tuple(
    field.name for field in Conversation._meta.concrete_fields if not field.primary_key
)
_SNAPSHOT_COLUMNS = (
    "updated", "event_count", "latest_event_time", "latest_intent", "latest_input_channel",
    "latest_restart_seq", "latest_reset_seq", "latest_session_seq", "state", "state_key",
    "user_turns", "had_fallback", "lowest_confidence", "latest_user_text",
)  # fmt: skip


def _outbox_rows(sender_id: str, rows: Sequence[EventRow]) -> list[OutboxEvent]:
    """Each event's message as Rasa publishes it; ids (the consumers' dedup key) are the
    database's, so they grow in commit order within a conversation (its row is locked)."""
    now = timezone.now()
    return [
        OutboxEvent(
            sender_id=sender_id,
            seq=row.seq,
            message=event_message(sender_id, row.data),
            created_at=now,
        )
        for row in rows
    ]


def _insert_rows(model: type[Any], names: Sequence[str], rows: Sequence[Any]) -> None:
    """``bulk_create`` without its per-object work, in batches the database accepts."""
    fields = [model._meta.get_field(name) for name in names]
    batch = max(connection.ops.bulk_batch_size(fields, rows), 1)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            with stage("serialise"):
                sql, params = _insert_sql(model, names, rows[start : start + batch])
            cursor.execute(sql, params)


def _column_values(instance: Any, fields: Sequence[Any]) -> list[Any]:
    """The instance's values of ``fields`` as the database takes them (JSON adapted, ...)."""
    return [_column_value(field, getattr(instance, field.attname)) for field in fields]


def _column_value(field: Any, value: Any) -> Any:
    if value is not None and _plain_json(field):  # JSON as the ORM would store it, faster
        return (
            Jsonb(value, dumps=json_text) if connection.vendor == "postgresql" else json_text(value)
        )
    return field.get_db_prep_save(value, connection)


def _update_row(conversation: Conversation, names: Sequence[str], *, fence: int) -> None:
    """``save(update_fields=names)`` without its per-object work, where the log is at ``fence``."""
    with stage("serialise"):
        sql, params = _fenced_update_sql(conversation, names, fence=fence)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            # Another writer appended (or erased the conversation) since it was read.
            raise conversation_busy()


def events_replace(
    conversation: Conversation, events: Sequence[Event], slot_defaults: SlotDefaults
) -> Tracker:
    """Replace the whole log (PUT): the one place events are deleted, in one transaction."""
    fence = conversation.event_count
    conversation.corrections.all().delete()  # they point at the events being replaced
    conversation.events.all().delete()
    for name in ("event_count", "latest_restart_seq", "latest_reset_seq", "latest_session_seq"):
        setattr(conversation, name, 0)
    conversation.user_turns, conversation.had_fallback = 0, False
    conversation.lowest_confidence, conversation.latest_user_text = None, ""
    tracker = Tracker(conversation.sender_id, slot_defaults)
    events_append(conversation, tracker, events, slot_defaults, fence=fence)
    return tracker


def _note_landmarks(conversation: Conversation, seq: int, event: Event) -> None:
    if isinstance(event, Restarted):
        conversation.latest_restart_seq = seq
        conversation.latest_reset_seq = seq
    elif isinstance(event, SessionStarted):
        conversation.latest_reset_seq = seq
    elif isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START:
        conversation.latest_session_seq = seq


FALLBACK_INTENTS = ("nlu_fallback",)
FALLBACK_ACTIONS = ("action_default_fallback", "action_two_stage_fallback")


PREVIEW_CHARS = 255  # ``Conversation.latest_user_text``'s length


def _note_review_figures(conversation: Conversation, event: Event) -> None:
    """Keep the reviewer's per-conversation figures current, so the list never aggregates."""
    if isinstance(event, UserUttered):
        conversation.user_turns += 1
        conversation.latest_user_text = _indexed_text(event)[:PREVIEW_CHARS]
        conversation.had_fallback |= event.intent_name in FALLBACK_INTENTS
        confidence = indexed_confidence(event)
        if confidence is not None:
            lowest = conversation.lowest_confidence
            conversation.lowest_confidence = (
                confidence if lowest is None else min(lowest, confidence)
            )
    elif isinstance(event, ActionExecuted):
        conversation.had_fallback |= event.action_name in FALLBACK_ACTIONS


def _snapshot_take(
    conversation: Conversation, tracker: Tracker, slot_defaults: SlotDefaults
) -> None:
    """Set the conversation's snapshot columns from the tracker (written by the caller)."""
    with stage("serialise"):
        conversation.state = tracker.to_snapshot()
    conversation.state_key = slot_layout_key(slot_defaults)
    conversation.latest_event_time = tracker.latest_event_time
    latest = tracker.latest_message
    conversation.latest_intent = ((latest.intent_name if latest else None) or "")[:255]
    conversation.latest_input_channel = ((latest.input_channel if latest else None) or "")[:255]
    conversation.updated = timezone.now()


def snapshot_rebuild(conversation: Conversation, slot_defaults: SlotDefaults) -> dict:
    """Recompute the snapshot from the whole log (the cache's proof of correctness)."""
    tracker = Tracker.from_events(conversation.sender_id, events_load(conversation), slot_defaults)
    _snapshot_take(conversation, tracker, slot_defaults)
    _update_row(conversation, _SNAPSHOT_COLUMNS, fence=conversation.event_count)
    return conversation.state


def events_after(conversation: Conversation, seq: int) -> list[Event]:
    return events_load(conversation, since_seq=seq + 1)


def iter_event_rows(conversation: Conversation) -> Iterable[EventRow]:
    return conversation.events.order_by("seq")
