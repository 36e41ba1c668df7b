"""Dashboard benchmark: does the admin's dashboard page stay under a second at 1M events?

Creates the PostgreSQL database ``convapi_bench_dashboard`` and migrates it, then fills it
in SQL (``generate_series``, inside PostgreSQL: no row crosses the wire) with about
1,000,000 events in 50,000 conversations spread over the 90 days before today (UTC): each
conversation a session start, then 1 to 8 turns of a user message, an action, a bot message
and ``action_listen``, stored in time order as a live server appends them; 5% of messages
are ``nlu_fallback`` (followed by ``action_default_fallback``), one call in five of the
custom action ``action_check_order`` failed; channels rest, socketio and callback. The
events' JSON is what the store writes for such events (a user message with its
twelve-intent ranking is about 1 KB); each conversation's snapshot is about 1.5 KB.

Then it times ``GET /admin/dashboard/`` through Django's test client (in-process: the view,
its queries, the SVG charts and the template), logged in as a superuser, for the last 30
and the last 90 days, for every channel and for one, and prints a Markdown table (p50, p95
and max over ``--runs`` runs after one warm-up, and the page's query count); with
``--proposed``, again after ``CREATE STATISTICS`` on the events' day, and again after two
covering indexes as well (``DAY_STATISTICS``, ``COVERING_INDEXES``: no migration makes them
yet).
The database is dropped at the end unless ``--keep``.

    .venv/bin/python bench/dashboard.py [--conversations 50000] [--runs 10]
        [--proposed] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "convapi_bench_dashboard"
PG = "postgresql://postgres@127.0.0.1:5432/"
DAYS = 90
INTENTS = (
    "greet", "goodbye", "affirm", "deny", "mood_great", "mood_unhappy", "bot_challenge",
    "order_status", "cancel_order", "opening_hours", "thanks", "chitchat",
)  # fmt: skip


# What no migration makes yet, measured with --proposed. The statistics tell the planner
# that a range's events fall on few days: without them it expects nearly one group per
# event and sorts them instead of hashing (and JIT-compiles). The covering indexes let
# both passes read indexes only, never the rows (476 MB of events at 1M).
DAY_STATISTICS = (
    "CREATE STATISTICS IF NOT EXISTS event_day_stats ON (floor(timestamp / 86400))"
    " FROM trackers_event"
)
COVERING_INDEXES = (
    "CREATE INDEX event_dashboard_idx ON trackers_event (type_name, timestamp)"
    " INCLUDE (intent_name, action_name, failure, conversation_id)",
    "CREATE INDEX conversation_activity_idx ON trackers_conversation (latest_event_time)"
    " INCLUDE (user_turns, latest_input_channel)",
)


def database_create() -> None:
    with psycopg.connect(PG + "postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        connection.execute(f"CREATE DATABASE {DB_NAME}")


def database_drop() -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(PG + "postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def _other_columns(model, own: set[str]) -> tuple[list[str], list]:
    """Columns the fill does not set, with their model defaults: a column added later
    (by another change's migration) does not break the fill."""
    from django.db import connection

    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.column not in own and not field.primary_key:
            columns.append(field.column)
            values.append(field.get_db_prep_save(field.get_default(), connection=connection))
    return columns, values


CONVERSATIONS_SQL = """
INSERT INTO trackers_conversation (id, sender_id, created, updated, event_count,
    latest_event_time, latest_input_channel, user_turns, state {other})
SELECT g, 'bench-' || g, to_timestamp(start_ts), to_timestamp(start_ts + 3 + 40 * turns),
    3 + 4 * turns, start_ts + 3 + 40 * turns, channel, turns, %(state)s::jsonb {placeholders}
FROM (
    SELECT g,
        %(first)s + (g - 1) * %(spacing)s + (g * 7919 %% 600) AS start_ts,
        1 + (g * 48271 %% 8) AS turns,
        CASE WHEN g %% 10 < 6 THEN 'rest' WHEN g %% 10 < 9 THEN 'socketio'
             ELSE 'callback' END AS channel
    FROM generate_series(1, %(count)s::bigint) AS g
) AS c
"""

# One row per event: k = 1..3 is the session start, then each turn k = 4 + 4 * turn + j
# is a user message (j = 0), an action (1), a bot message (2) and action_listen (3).
# ``pick`` is a stable pseudo-random number per turn (0..999) choosing intent and action.
EVENTS_SQL = """
INSERT INTO trackers_event (conversation_id, seq, type_name, timestamp, data, intent_name,
    action_name, text, confidence, input_channel, failure {other})
SELECT id, k, type_name, ts, data, intent_name, action_name, text, confidence,
    input_channel, failure {placeholders}
FROM (
    WITH ranking AS (SELECT jsonb_agg(jsonb_build_object('name', name, 'confidence', 0.05))
        AS intents FROM unnest(%(intents)s::text[]) AS name)
    SELECT c.id, k, ts,
        CASE WHEN k = 2 THEN 'session_started' WHEN k <= 3 OR j %% 2 = 1 THEN 'action'
             WHEN j = 0 THEN 'user' ELSE 'bot' END AS type_name,
        CASE WHEN j = 0 THEN intent ELSE '' END AS intent_name,
        CASE WHEN k = 1 THEN 'action_session_start' WHEN k = 3 OR j = 3 THEN 'action_listen'
             WHEN j = 1 THEN action ELSE '' END AS action_name,
        CASE WHEN j = 0 THEN 'message ' || pick WHEN j = 2 THEN 'answer ' || pick
             ELSE '' END AS text,
        CASE WHEN j = 0 THEN 0.3 + pick / 1500.0 WHEN j %% 2 = 1 OR k IN (1, 3) THEN 1.0
             END AS confidence,
        CASE WHEN j = 0 THEN c.latest_input_channel ELSE '' END AS input_channel,
        CASE WHEN j = 1 AND action = 'action_check_order' AND pick %% 5 = 0
             THEN 'the action server answered 500' ELSE '' END AS failure,
        CASE
            WHEN j = 0 THEN jsonb_build_object('event', 'user', 'timestamp', ts,
                'text', 'message ' || pick, 'input_channel', c.latest_input_channel,
                'message_id', md5(c.id || '-' || k), 'metadata', '{{}}'::jsonb,
                'parse_data', jsonb_build_object(
                    'intent', jsonb_build_object('name', intent, 'confidence', 0.3 + pick / 1500.0),
                    'entities', '[]'::jsonb, 'text', 'message ' || pick,
                    'message_id', md5(c.id || '-' || k), 'metadata', '{{}}'::jsonb,
                    'intent_ranking', ranking.intents))
            WHEN j = 2 THEN jsonb_build_object('event', 'bot', 'timestamp', ts,
                'text', 'answer ' || pick, 'data', '{{}}'::jsonb, 'metadata',
                jsonb_build_object('utter_action', action))
            WHEN k = 2 THEN jsonb_build_object('event', 'session_started', 'timestamp', ts)
            ELSE jsonb_build_object('event', 'action', 'timestamp', ts,
                'name', CASE WHEN k = 1 THEN 'action_session_start'
                             WHEN j = 1 THEN action ELSE 'action_listen' END,
                'policy', 'RulePolicy', 'confidence', 1.0, 'action_text', null,
                'hide_rule_turn', false)
        END AS data
    FROM trackers_conversation AS c
    CROSS JOIN LATERAL generate_series(1, c.event_count) AS k
    CROSS JOIN ranking
    CROSS JOIN LATERAL (SELECT CASE WHEN k > 3 THEN (k - 4) %% 4 ELSE -1 END AS j,
        GREATEST(k - 4, 0) / 4 AS turn) AS position
    CROSS JOIN LATERAL (SELECT extract(epoch FROM c.created) + k + 40 * turn AS ts,
        (c.id * 2654435761 + turn * 40503) %% 1000 AS pick) AS moment
    CROSS JOIN LATERAL (SELECT
        CASE WHEN pick < 50 THEN 'nlu_fallback'
             ELSE (%(intents)s::text[])[1 + pick %% 12] END AS intent,
        CASE WHEN pick < 50 THEN 'action_default_fallback'
             WHEN pick %% 12 = 7 THEN 'action_check_order'
             ELSE 'utter_' || (%(intents)s::text[])[1 + pick %% 12] END AS action) AS choice
) AS e
ORDER BY ts
"""


def snapshot_like() -> str:
    """A stand-in for a conversation's stored tracker snapshot, of a real one's size (about
    1.5 KB: the latest message with its intent ranking, the latest bot message, the state),
    so that reading the conversations costs what it would."""
    ranking = [{"name": name, "confidence": 0.05} for name in INTENTS]
    message = {
        "event": "user", "text": "where is my order", "input_channel": "rest",
        "parse_data": {"intent": ranking[7], "entities": [], "intent_ranking": ranking},
        "message_id": "0" * 32, "metadata": {}, "timestamp": 1.0,
    }  # fmt: skip
    state = {
        "version": 1, "latest_message": message, "latest_action": {"action_name": "action_listen"},
        "latest_bot_utterance": {"event": "bot", "text": "It ships tomorrow.", "data": {}},
        "slots_set": {"order_id": "A-1234"}, "state_turns": [[f"intent_{n}", "action_listen"]
        for n in INTENTS], "events_since_reset": 20, "paused": False, "active_loop": {},
    }  # fmt: skip
    return json.dumps(state)


def fill(cursor, conversations: int, today: date) -> int:
    """Conversations and their events, in SQL; how many events were stored."""
    from trackers.models import Conversation, Event

    first = datetime.combine(today - timedelta(days=DAYS - 1), datetime.min.time(), UTC).timestamp()
    spacing = DAYS * 86400 / conversations
    for model, sql, own in (
        (Conversation, CONVERSATIONS_SQL, {"sender_id", "created", "updated", "event_count",
            "latest_event_time", "latest_input_channel", "user_turns", "state"}),
        (Event, EVENTS_SQL, {"conversation_id", "seq", "type_name", "timestamp", "data",
            "intent_name", "action_name", "text", "confidence", "input_channel", "failure"}),
    ):  # fmt: skip
        columns, values = _other_columns(model, own)
        other = "".join(f", {column}" for column in columns)
        placeholders = "".join(f", %(default_{n})s" for n in range(len(values)))
        params = {f"default_{n}": value for n, value in enumerate(values)}
        params.update(first=first, spacing=spacing, count=conversations, intents=list(INTENTS))
        params.update(state=snapshot_like())
        cursor.execute(sql.format(other=other, placeholders=placeholders), params)
    cursor.execute(
        "UPDATE trackers_conversation AS c SET had_fallback = true FROM trackers_event AS e"
        " WHERE e.conversation_id = c.id AND e.type_name = 'user'"
        " AND e.intent_name = 'nlu_fallback'"
    )
    cursor.execute("SELECT count(*) FROM trackers_event")
    return cursor.fetchone()[0]


def measure(client, path: str, runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm-up: the first request also imports and compiles templates
    samples = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        assert b"<svg" in response.content
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p95": samples[max(0, round(len(samples) * 0.95) - 1)],
        "max": samples[-1],
        "queries": len(queries),
    }


def rows(client, today: date, runs: int, note: str) -> None:
    for days in (30, 90):
        for channel in ("", "socketio"):
            start = (today - timedelta(days=days - 1)).isoformat()
            path = f"/admin/dashboard/?start={start}&end={today.isoformat()}&channel={channel}"
            row = measure(client, path, runs)
            print(
                f"| {days} days{note} | {channel or 'all'} | {row['p50']:.0f} | {row['p95']:.0f}"
                f" | {row['max']:.0f} | {row['queries']} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the database a --keep left")
    parser.add_argument(
        "--proposed",
        action="store_true",
        help="then again with statistics, then indexes, that no migration makes yet",
    )
    args = parser.parse_args()
    if not args.reuse:
        database_create()
    os.environ["DATABASE_URL"] = PG + DB_NAME
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CONVAPI_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    today = datetime.now(UTC).date()
    try:
        if not args.reuse:
            call_command("migrate", verbosity=0)
            started = time.perf_counter()
            with connection.cursor() as cursor:
                events = fill(cursor, args.conversations, today)
                cursor.execute("VACUUM ANALYZE")
            print(f"filled {events:,} events in {time.perf_counter() - started:.0f} s")
            User.objects.create_superuser("bench", "bench@example.com", "bench-pw-1")
        client = Client()
        client.force_login(User.objects.get(username="bench"))
        load = os.getloadavg()[0]
        print(f"\n{date.today().isoformat()}, {platform.node()}, {os.cpu_count()} cores\n")
        print("| range | channel | p50 ms | p95 ms | max ms | queries |")
        print("|---|---|---:|---:|---:|---:|")
        rows(client, today, args.runs, "")
        if args.proposed:
            with connection.cursor() as cursor:
                cursor.execute(DAY_STATISTICS)
                cursor.execute("ANALYZE trackers_event")
            rows(client, today, args.runs, ", day statistics")
            with connection.cursor() as cursor:
                for statement in COVERING_INDEXES:
                    cursor.execute(statement)
                cursor.execute("VACUUM ANALYZE")
            rows(client, today, args.runs, ", day statistics, covering indexes")
        print(f"\nload average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    finally:
        if not args.keep:
            database_drop()


if __name__ == "__main__":
    main()
