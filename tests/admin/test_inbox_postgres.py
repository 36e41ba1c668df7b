"""The NLU inbox over 100,000 user messages on PostgreSQL: right answers, bounded queries,
and the indexes the planner picks.

Run with ``DATABASE_URL=postgres://...``; on SQLite these tests are skipped.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection

from tests.admin.test_inbox import INBOX, groups, page, review
from trackers import inbox
from trackers.models import Conversation, Correction

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db,
    pytest.mark.usefixtures("open_auth", "initbot"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]

MESSAGES = 100_000
CONVERSATIONS = 1_000
TEXTS = 5_000  # each text said 20 times, always with the same predicted intent
INTENTS = ["greet", "goodbye", "affirm", "deny", "mood_great", "mood_unhappy", "bot_challenge"]
T0 = dt.datetime(2026, 9, 1, tzinfo=dt.UTC).timestamp()
STEP = 60.0  # a message a minute: 100,000 of them span about 69 days

# Message n (0-based): text "message {n % TEXTS}", its intent INTENTS[(n % TEXTS) % 7],
# confidence (n % 100) / 100, channel rest (even n) or socketio (odd n), said at
# T0 + n * STEP, in conversation n % CONVERSATIONS, each followed by an action_listen.
INSERT_EVENTS = """
INSERT INTO trackers_event
    (conversation_id, seq, type_name, timestamp, data, intent_name, action_name, text,
     confidence, input_channel, failure)
SELECT c.id, m.seq, m.type_name, m.ts, m.data, m.intent, m.action, m.text, m.confidence,
       m.channel, ''
FROM (
    SELECT n, n %% %(conversations)s AS conv, 'message ' || (n %% %(texts)s) AS text,
           (%(intents)s::text[])[(n %% %(texts)s) %% 7 + 1] AS intent,
           (n %% 100) / 100.0 AS confidence,
           CASE WHEN n %% 2 = 0 THEN 'rest' ELSE 'socketio' END AS channel,
           %(t0)s + n * %(step)s AS ts
    FROM generate_series(0, %(messages)s - 1) AS n
) AS g
JOIN trackers_conversation c ON c.sender_id = 'bulk-' || g.conv
CROSS JOIN LATERAL (VALUES
    ('user', 2 * (g.n / %(conversations)s) + 1, g.ts, g.intent, '', g.text, g.confidence,
     g.channel,
     jsonb_build_object('event', 'user', 'timestamp', g.ts, 'text', g.text,
        'input_channel', g.channel,
        'parse_data', jsonb_build_object('text', g.text, 'entities', '[]'::jsonb,
            'intent', jsonb_build_object('name', g.intent, 'confidence', g.confidence)))),
    ('action', 2 * (g.n / %(conversations)s) + 2, g.ts + 1, '', 'action_listen', '', NULL,
     '', jsonb_build_object('event', 'action', 'timestamp', g.ts + 1, 'name', 'action_listen'))
) AS m(type_name, seq, ts, intent, action, text, confidence, channel, data)
"""


def message(n: int) -> dict:
    """What the insert above stores as message n."""
    text_number = n % TEXTS
    return {
        "text": f"message {text_number}",
        "intent": INTENTS[text_number % 7],
        "confidence": (n % 100) / 100,
        "channel": "rest" if n % 2 == 0 else "socketio",
        "time": T0 + n * STEP,
    }


@pytest.fixture
def hundred_thousand(db) -> None:
    Conversation.objects.bulk_create(
        Conversation(sender_id=f"bulk-{n}", event_count=2 * MESSAGES // CONVERSATIONS)
        for n in range(CONVERSATIONS)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_EVENTS,
            {
                "conversations": CONVERSATIONS,
                "texts": TEXTS,
                "intents": INTENTS,
                "t0": T0,
                "step": STEP,
                "messages": MESSAGES,
            },
        )
        cursor.execute("ANALYZE trackers_event")


def expected_groups(keep) -> list[tuple[str, int]]:
    """(text, count) of the first page, computed from the formula, not the database."""
    counts: dict[str, int] = {}
    newest: dict[str, float] = {}
    for n in range(MESSAGES):
        said = message(n)
        if keep(said):
            counts[said["text"]] = counts.get(said["text"], 0) + 1
            newest[said["text"]] = said["time"]
    order = sorted(counts, key=lambda text: newest[text], reverse=True)
    return [(text, counts[text]) for text in order[: inbox.PER_PAGE]]


def shown(html: str) -> list[tuple[str, int]]:
    counts = [int(c) for c in re.findall(r'class="count">(\d+)<', html)]
    return list(zip(groups(html), counts, strict=True))


def test_it_pages_100000_messages_in_a_bounded_number_of_queries(
    hundred_thousand, reviewer, django_assert_max_num_queries
):
    assert Correction.objects.count() == 0
    with django_assert_max_num_queries(7):
        html = page(reviewer)
    assert shown(html) == expected_groups(lambda said: True)
    assert shown(html)[0] == ("message 4999", 20) and 'id="older"' in html
    with django_assert_max_num_queries(7):
        last = page(reviewer, f"?p={TEXTS // inbox.PER_PAGE}")
    assert len(groups(last)) == inbox.PER_PAGE and 'id="older"' not in last


def test_it_filters_100000_messages(hundred_thousand, reviewer, django_assert_max_num_queries):
    query = "?intent=deny&band=low&channel=socketio&date_from=2026-10-01&date_to=2026-10-20"
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()
    end = dt.datetime(2026, 10, 21, tzinfo=dt.UTC).timestamp()

    def keep(said: dict) -> bool:
        return (
            said["intent"] == "deny"
            and said["confidence"] < 0.5
            and said["channel"] == "socketio"
            and start <= said["time"] < end
        )

    with django_assert_max_num_queries(7):
        html = page(reviewer, query)
    expected = expected_groups(keep)
    assert expected and shown(html) == expected


def test_it_confirms_a_group_among_100000_messages(hundred_thousand, reviewer):
    html = page(reviewer, "?intent=greet")
    first_key = re.search(r'name="group" value="(\d+)"', html)[1]
    text = groups(html)[0]
    review(reviewer, int(first_key), op="confirm")
    assert Correction.objects.filter(intent="greet", event__text=text).count() == 20
    assert Correction.objects.count() == 20
    assert text not in groups(page(reviewer, "?intent=greet&unreviewed=on"))
    assert groups(page(reviewer, "?intent=greet"))[0] == text
    response = reviewer.get(f"{INBOX}nlu.yml?intent=greet")
    assert (
        response.content.decode()
        == f'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - {text}\n'
    )


def plan(filters: inbox.InboxFilters) -> str:
    sql, params = inbox._grouped(inbox.user_messages(filters)).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_dates_and_intents_are_read_through_their_indexes(hundred_thousand):
    day = plan(inbox.InboxFilters(date_from=dt.date(2026, 10, 5), date_to=dt.date(2026, 10, 5)))
    assert "event_type_time_idx" in day
    assert "Seq Scan on trackers_event" not in day
    intent = plan(inbox.InboxFilters(intent="greet", unreviewed=True))
    assert "trackers_event_intent_name" in intent
    assert "Seq Scan on trackers_event" not in intent
