"""The dashboard: its figures on a small known log, its filters, its query count, its page
and who may open it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import User

from tests.admin.conftest import PASSWORD, action_event, bot_event, staff_user, user_event
from tests.admin.test_transcript_failures import action_server_down, failed_turn  # noqa: F401
from trackers.dashboard import LENGTH_BUCKETS, dashboard_figures
from trackers.models import Event
from trackers.store import conversation_channels

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth")]

DASHBOARD = "/admin/dashboard/"
MAR_1, MAR_2, MAR_5 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 5)
ODD_INTENT = '<i>&"odd"'
CHART = '<svg xmlns="http://www.w3.org/2000/svg" class="chart"'


def at(day: date, hour: float) -> float:
    return datetime.combine(day, datetime.min.time(), UTC).timestamp() + hour * 3600


def said(client, sender: str, *turns: tuple, channel: str) -> None:
    """Store turns of (time, text, intent, action) through the API, at the given times."""
    events = []
    for when, text, intent, action in turns:
        user = user_event(text, intent, 0.9, input_channel=channel, timestamp=when)
        events += [user, {**action_event(action), "timestamp": when + 1}]
        events += [{**bot_event("ok"), "timestamp": when + 2}]
        events += [{**action_event("action_listen"), "timestamp": when + 3}]
    response = client.post_json(f"/conversations/{sender}/tracker/events", events)
    assert response.status_code == 200, response.content


@pytest.fixture
def log(client, initbot) -> None:
    """ann (rest) on March 1st, with an NLU fallback; bob (socketio) on the 1st and the 2nd,
    with a policy fallback; dee (socketio) with an odd intent name on the 2nd; cy (rest)
    on the 5th, outside the range the tests read."""
    said(
        client,
        "ann",
        (at(MAR_1, 10), "hi", "greet", "utter_greet"),
        (at(MAR_1, 10.1), "blah", "nlu_fallback", "action_default_fallback"),
        (at(MAR_1, 10.2), "bye", "goodbye", "utter_goodbye"),
        channel="rest",
    )
    said(
        client,
        "bob",
        (at(MAR_1, 23), "hello", "greet", "utter_greet"),
        (at(MAR_2, 9), "my order?", "order_status", "action_two_stage_fallback"),
        channel="socketio",
    )
    said(client, "dee", (at(MAR_2, 12), "<script>", ODD_INTENT, "utter_greet"), channel="socketio")
    said(client, "cy", (at(MAR_5, 12), "hey", "greet", "utter_greet"), channel="rest")


@pytest.mark.usefixtures("log")
def test_it_counts_each_day_of_the_range():
    figures = dashboard_figures(start=MAR_1, end=MAR_2)
    first, second = figures.days
    assert (first.day, second.day) == (MAR_1, MAR_2)
    assert (first.user_messages, first.nlu_fallbacks, first.fallback_actions) == (4, 1, 1)
    assert (second.user_messages, second.nlu_fallbacks, second.fallback_actions) == (2, 0, 1)
    # Each conversation once, on the day of its latest activity: ann's, then bob's and dee's.
    assert (first.conversations, second.conversations) == (1, 2)
    assert (first.nlu_fallback_rate, second.fallback_action_rate) == (0.25, 0.5)
    assert (figures.conversations, figures.user_messages, figures.action_failures) == (3, 6, 0)


@pytest.mark.usefixtures("log")
def test_it_ranks_intents_and_sorts_conversations_by_length():
    figures = dashboard_figures(start=MAR_1, end=MAR_2)
    assert figures.top_intents == [
        ("greet", 2),
        (ODD_INTENT, 1),
        ("goodbye", 1),
        ("nlu_fallback", 1),
        ("order_status", 1),
    ]
    lengths = dict(figures.lengths)
    assert list(lengths) == [label for label, _ in LENGTH_BUCKETS]
    assert (lengths["1"], lengths["2"], lengths["3"], sum(lengths.values())) == (1, 1, 1, 3)


@pytest.mark.usefixtures("log")
def test_it_narrows_to_a_channel():
    assert conversation_channels() == ["rest", "socketio"]
    figures = dashboard_figures(start=MAR_1, end=MAR_2, channel="socketio")
    # Every channel is offered, whatever the range and the channel chosen.
    assert figures.channels == ["rest", "socketio"]
    first, second = figures.days
    assert (first.user_messages, second.user_messages) == (1, 2)
    assert (first.fallback_actions, second.fallback_actions) == (0, 1)
    assert (first.nlu_fallbacks, first.conversations, second.conversations) == (0, 0, 2)
    assert dict(figures.lengths)["1"] == 1 and dict(figures.lengths)["2"] == 1
    assert figures.top_intents == [(ODD_INTENT, 1), ("greet", 1), ("order_status", 1)]


@pytest.mark.usefixtures("log")
def test_it_reads_only_the_days_asked_for():
    later = dashboard_figures(start=MAR_2, end=MAR_5)
    assert [day.day.day for day in later.days] == [2, 3, 4, 5]
    assert [day.user_messages for day in later.days] == [2, 0, 0, 1]
    assert [day.conversations for day in later.days] == [2, 0, 0, 1]
    # bob's first message (the 1st) is outside; his length counts his whole conversation.
    assert later.top_intents == [(ODD_INTENT, 1), ("greet", 1), ("order_status", 1)]
    assert dict(later.lengths)["2"] == 1
    quiet = dashboard_figures(start=date(2026, 4, 1), end=date(2026, 4, 3))
    assert quiet.user_messages == 0 and quiet.nlu_fallback_rate is None
    assert quiet.top_intents == [] and sum(count for _, count in quiet.lengths) == 0


@pytest.mark.usefixtures("action_server_down")
def test_it_counts_a_custom_action_that_failed(client):
    failed_turn(client, "down")
    stored = Event.objects.get(action_name="action_set_name")
    assert stored.failure
    day = datetime.fromtimestamp(stored.timestamp, UTC).date()
    figures = dashboard_figures(start=day, end=day)
    assert figures.action_failures == 1 and figures.days[0].action_failures == 1


def page_of(client, query: str = "") -> str:
    response = client.get(DASHBOARD + query)
    assert response.status_code == 200, response.content[:300]
    assert response.templates[0].name == "admin/trackers/dashboard/dashboard.html"
    return response.content.decode()


@pytest.mark.usefixtures("log")
def test_it_draws_the_range_as_parseable_svg_with_escaped_labels(reviewer):
    page = page_of(reviewer, "?start=2026-03-01&end=2026-03-02&channel=")
    charts = [
        page[start : page.index("</svg>", start) + 6]
        for start in range(len(page))
        if page.startswith(CHART, start)
    ]
    assert len(charts) == 6
    trees = [ET.fromstring(chart) for chart in charts]
    titles = [tree.find("{http://www.w3.org/2000/svg}title").text for tree in trees]
    assert titles[0] == "Conversations per day" and titles[4] == "Top intents"
    day_bars = trees[1].findall("{http://www.w3.org/2000/svg}rect")
    assert [bar.find("{http://www.w3.org/2000/svg}title").text for bar in day_bars] == [
        "Mar 1: 4",
        "Mar 2: 2",
    ]
    # The odd intent's name is text in the chart, never markup.
    assert ODD_INTENT not in page and "&lt;i&gt;&amp;&quot;odd&quot;" in charts[4]
    assert ODD_INTENT in "".join(trees[4].itertext())
    assert 'id="total-conversations">3<' in page and 'id="total-messages">6<' in page
    assert 'id="total-nlu-fallback">17%<' in page


@pytest.mark.usefixtures("log")
def test_it_filters_the_page_by_channel(reviewer):
    page = page_of(reviewer, "?start=2026-03-01&end=2026-03-02&channel=socketio")
    assert 'id="total-messages">3<' in page and 'id="total-conversations">2<' in page
    assert '<option value="socketio" selected>socketio</option>' in page


@pytest.mark.usefixtures("log")
def test_it_shows_nothing_for_a_channel_no_conversation_has(reviewer):
    page = page_of(reviewer, "?start=2026-03-01&end=2026-03-02&channel=%3Cfax%3E")
    assert 'id="total-messages">0<' in page and 'id="total-conversations">0<' in page
    assert '<option value="&lt;fax&gt;" selected>&lt;fax&gt;</option>' in page
    assert '<option value="rest">rest</option>' in page


def test_it_defaults_to_the_last_thirty_days(reviewer):
    page = page_of(reviewer)
    day_chart = page[page.index('id="chart-messages"') :]
    assert day_chart[: day_chart.index("</svg>")].count("<rect") == 30


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?start=2026-03-05&end=2026-03-01", "The range starts after it ends."),
        ("?start=2024-01-01&end=2026-03-01", "Choose at most 366 days."),
        ("?start=yesterday", "Enter a valid date."),
    ],
)
def test_it_refuses_a_bad_range_without_drawing(reviewer, query, error):
    page = page_of(reviewer, query)
    assert error in page and CHART not in page


@pytest.mark.usefixtures("log")
def test_it_costs_the_same_queries_whatever_the_range(reviewer, django_assert_max_num_queries):
    # session, user, the event pass, the conversation pass (which reads the channels too)
    with django_assert_max_num_queries(4):
        page_of(reviewer, "?start=2026-03-01&end=2026-03-01")
    with django_assert_max_num_queries(4):
        page_of(reviewer, "?start=2025-03-06&end=2026-03-05&channel=rest")


def test_it_lets_in_staff_who_may_read_conversations(client):
    client.force_login(staff_user("viewer", "view_conversation"))
    assert client.get(DASHBOARD).status_code == 200
    client.force_login(staff_user("changer", "change_conversation"))
    assert client.get(DASHBOARD).status_code == 200
    index = client.get("/admin/").content.decode()
    assert 'href="/admin/dashboard/"' in index


def test_it_keeps_out_staff_who_may_not_read_conversations(client):
    client.force_login(staff_user("jobs-only", "view_job"))
    assert client.get(DASHBOARD).status_code == 403
    assert 'href="/admin/dashboard/"' not in client.get("/admin/").content.decode()


def test_it_sends_anyone_else_to_the_login(client):
    assert client.get(DASHBOARD).url == "/admin/login/?next=/admin/dashboard/"
    client.force_login(User.objects.create_user("customer", "c@example.com", PASSWORD))
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
