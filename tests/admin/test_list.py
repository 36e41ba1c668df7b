"""The conversation list: its columns, filters and search, at a bounded query count."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.admin.conftest import CHANGELIST, action_event, chat, greeting
from trackers.admin import compact_time
from trackers.models import Conversation, Tag

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]


def rows(client, query: str = "") -> str:
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return response.content.decode()


def test_it_lists_the_figures_a_reviewer_needs(reviewer):
    chat(
        reviewer,
        "figures",
        ("hi", "greet", 0.9, "utter_greet", "Hey!"),
        ("blorp", "nlu_fallback", 0.2, "action_default_fallback", None),
        channel="rest",
    )
    conversation = Conversation.objects.get(sender_id="figures")
    assert conversation.user_turns == 2
    assert conversation.had_fallback is True
    assert conversation.lowest_confidence == pytest.approx(0.2)
    page = rows(reviewer)
    for column in ("started", "latest activity", "user turns", "latest intent", "channel", "tags"):
        assert column in page.lower()
    assert "figures" in page and "nlu_fallback" in page and ">rest<" in page


def test_it_filters_by_intent_and_action(reviewer):
    greeting(reviewer, "greeter")
    chat(reviewer, "sad", ("meh", "mood_unhappy", 0.9, "utter_cheer_up", "Here is something"))
    choices = rows(reviewer)
    for choice in ("?intent=greet", "?intent=mood_unhappy", "?action=utter_cheer_up"):
        assert f'href="{choice}"' in choices
    page = rows(reviewer, "?intent=mood_unhappy")
    assert "sad" in page and "greeter" not in page
    page = rows(reviewer, "?action=utter_greet")
    assert "greeter" in page and ">sad<" not in page


def test_it_filters_by_channel_fallback_and_confidence(reviewer):
    greeting(reviewer, "on-rest", channel="rest")
    chat(reviewer, "lost", ("blorp", "nlu_fallback", 0.3, "action_default_fallback", None))
    chat(reviewer, "unsure", ("hm", "greet", 0.45, "utter_greet", None), channel="slack")
    assert "on-rest" in rows(reviewer, "?latest_input_channel=rest")
    assert "unsure" not in rows(reviewer, "?latest_input_channel=rest")
    fallback = rows(reviewer, "?had_fallback__exact=1")
    assert "lost" in fallback and "unsure" not in fallback
    low = rows(reviewer, "?confidence_below=0.5")
    assert "lost" in low and "unsure" in low and "on-rest" not in low


def test_it_filters_by_slot_value(reviewer):
    greeting(reviewer, "with-slot")
    greeting(reviewer, "without-slot")
    slot = {"event": "slot", "name": "session_started_metadata", "value": {"plan": "pro"}}
    reviewer.post_json("/conversations/with-slot/tracker/events", slot)
    page = rows(reviewer, '?slot=session_started_metadata={"plan": "pro"}')
    assert "with-slot" in page and "without-slot" not in page
    assert "without-slot" not in rows(reviewer, "?slot=session_started_metadata")


def test_it_filters_by_date_range_tag_and_reviewed(reviewer):
    greeting(reviewer, "tagged-one")
    greeting(reviewer, "plain-one")
    Tag.objects.create(name="angry").conversations.add(
        Conversation.objects.get(sender_id="tagged-one")
    )
    Conversation.objects.filter(sender_id="plain-one").update(reviewed=True)
    assert "plain-one" not in rows(reviewer, "?tag=angry")
    assert "tagged-one" not in rows(reviewer, "?reviewed__exact=1")
    assert "tagged-one" in rows(reviewer, "?started_from=2000-01-01&started_to=2999-01-01")
    assert "tagged-one" not in rows(reviewer, "?started_to=2000-01-01")


def test_it_searches_sender_ids_and_message_texts(reviewer):
    greeting(reviewer, "alice", text="where is my parcel")
    greeting(reviewer, "bob", text="hello")
    reviewer.post_json("/conversations/carol/tracker/events", [action_event("utter_greet")])
    reviewer.post_json(
        "/conversations/carol/tracker/events", {"event": "bot", "text": "Your PARCEL is late"}
    )
    page = rows(reviewer, "?q=parcel&empty=all")  # carol said nothing: an empty conversation
    assert "alice" in page and "carol" in page and ">bob<" not in page
    assert ">alice<" not in rows(reviewer, "?q=bob") and "bob" in rows(reviewer, "?q=bob")


@pytest.mark.parametrize("count", [3, 30])
def test_it_makes_a_bounded_number_of_queries_whatever_the_page_size(
    reviewer, django_assert_max_num_queries, count
):
    tag = Tag.objects.create(name="bulk")
    for number in range(count):
        tag.conversations.add(greeting(reviewer, f"user-{number}"))
    with django_assert_max_num_queries(14):
        page = rows(reviewer, "?q=user&confidence_below=0.99&tag=bulk")
    assert page.count('class="review-tag"') == count


def test_it_counts_the_same_queries_for_3_and_30_rows(reviewer):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            rows(reviewer)
        return len(captured)

    for number in range(3):
        greeting(reviewer, f"few-{number}")
    few = queries()
    for number in range(27):
        greeting(reviewer, f"many-{number}")
    assert queries() == few


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL")
def test_it_searches_message_texts_through_the_trigram_index(reviewer):
    from django.contrib import admin

    from trackers.admin import ConversationAdmin

    greeting(reviewer, "indexed", text="where is my parcel")
    model_admin = ConversationAdmin(Conversation, admin.site)
    queryset, _ = model_admin.get_search_results(None, Conversation.objects.all(), "parcel")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables would be scanned anyway
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "event_text_trgm_idx" in plan
    assert [c.sender_id for c in queryset] == ["indexed"]


def test_it_hides_conversations_with_no_user_message_unless_asked(reviewer):
    greeting(reviewer, "talker")
    assert reviewer.get("/conversations/silent/tracker").status_code == 200
    assert Conversation.objects.get(sender_id="silent").user_turns == 0
    default = rows(reviewer)
    assert ">talker<" in default and "silent" not in default
    assert 'href="?empty=only"' in default and 'href="?empty=all"' in default
    only = rows(reviewer, "?empty=only")
    assert ">silent<" in only and "talker" not in only
    both = rows(reviewer, "?empty=all")
    assert ">silent<" in both and ">talker<" in both


def test_it_previews_the_latest_user_message_kept_by_the_store(reviewer):
    chat(
        reviewer,
        "previewed",
        ("first words", "greet", 0.9, "utter_greet", "Hey"),
        ("where is <b>my</b> parcel", "greet", 0.9, "utter_greet", "Here"),
    )
    reviewer.post_json("/conversations/previewed/tracker/events", [action_event("utter_greet")])
    conversation = Conversation.objects.get(sender_id="previewed")
    assert conversation.latest_user_text == "where is <b>my</b> parcel"
    page = rows(reviewer)
    assert 'title="where is &lt;b&gt;my&lt;/b&gt; parcel">where is &lt;b&gt;my' in page
    assert "first words" not in page


def test_it_keeps_only_the_start_of_a_long_message_and_forgets_a_replaced_log(reviewer):
    long_text = "x" * 1000
    chat(reviewer, "long", (long_text, "greet", 0.9, "utter_greet", None))
    assert Conversation.objects.get(sender_id="long").latest_user_text == "x" * 255
    reviewer.put_json("/conversations/long/tracker/events", [action_event("utter_greet")])
    assert Conversation.objects.get(sender_id="long").latest_user_text == ""


def test_the_migration_backfills_the_latest_user_message(reviewer):
    migration = importlib.import_module("trackers.migrations.0009_latest_user_text")
    turns = [("one", "greet", 0.9, "utter_greet", None), ("two", "greet", 0.9, "utter_greet", None)]
    chat(reviewer, "old", *turns)
    greeting(reviewer, "older", text="y" * 300)
    Conversation.objects.update(latest_user_text="")
    migration.backfill(apps, None)
    kept = dict(Conversation.objects.values_list("sender_id", "latest_user_text"))
    assert kept == {"old": "two", "older": "y" * 255}


def test_it_shows_times_compactly_with_the_full_time_in_the_title():
    now = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
    today = compact_time(dt.datetime(2026, 12, 1, 9, 5, tzinfo=dt.UTC), now=now)
    assert ">09:05</time>" in today and 'title="2026-12-01 09:05 UTC"' in today
    assert ">Nov 29</time>" in compact_time(now - dt.timedelta(days=2), now=now)
    assert ">2025-10-27</time>" in compact_time(dt.datetime(2025, 10, 27, tzinfo=dt.UTC), now=now)
