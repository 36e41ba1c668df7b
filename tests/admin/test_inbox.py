"""The NLU inbox: user messages grouped by text, filtered, confirmed and relabelled."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.events import UserUttered
from serving.holder import assistant_set
from tests.admin.conftest import action_event, staff_user, user_event
from tests.admin.test_export import export
from tests.api.conftest import ApiClient
from trackers import store
from trackers.models import Conversation, Correction, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]

INBOX = "/admin/inbox/"
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC).timestamp()
DAY = 86_400.0
CITY = [{"entity": "city", "start": 10, "end": 16, "value": "Berlin"}]


def say(client, sender_id: str, *messages: tuple, channel: str | None = None) -> Conversation:
    """Store user messages of (text, intent, confidence, timestamp[, entities]) through the API."""
    events = []
    for text, intent, confidence, when, *entities in messages:
        extra = {"timestamp": when, **({"input_channel": channel} if channel else {})}
        user = user_event(text, intent, confidence, entities=(entities or [[]])[0], **extra)
        events += [user, {**action_event("action_listen"), "timestamp": when + 1}]
    response = client.post_json(f"/conversations/{sender_id}/tracker/events", events)
    assert response.status_code == 200, response.content
    return Conversation.objects.get(sender_id=sender_id)


def page(client, query: str = "") -> str:
    response = client.get(f"{INBOX}{query}")
    assert response.status_code == 200
    return response.content.decode()


def groups(html: str) -> list[str]:
    """The message texts of the page's groups, in order."""
    said = re.findall(r'<div class="said">(.*?)</div>', html, re.S)
    return [re.sub(r'<span class="entity-name">.*?</span>|<[^>]+>', "", text) for text in said]


def key_of(text: str, intent: str) -> int:
    """A group's key: its newest message's event id."""
    rows = Event.objects.filter(type_name="user", text=text, intent_name=intent)
    return rows.order_by("-id").values_list("id", flat=True)[0]


def review(client, *keys: int, query: str = "", **form):
    return client.post(f"{INBOX}review/", {"group": list(keys), "query": query, **form})


def intent_corrections() -> list[tuple[str, str, str]]:
    rows = Correction.objects.filter(kind="intent").select_related("event", "author")
    return sorted((c.event.text, c.intent, c.author.username) for c in rows)


@pytest.fixture
def messages() -> None:
    """Two conversations: identical texts said several times, on two channels and days."""
    api = ApiClient()
    say(
        api,
        "ann",
        ("hello", "greet", 0.97, T0),
        ("I live in Berlin now", "inform", 0.62, T0 + 60, CITY),
        ("I am sad", "mood_great", 0.31, T0 + 120),
        channel="rest",
    )
    say(
        api,
        "bob",
        ("hello", "greet", 0.91, T0 + DAY),
        ("I am sad", "mood_great", 0.44, T0 + DAY + 60),
        ("hello", "goodbye", 0.55, T0 + DAY + 120),
        channel="socketio",
    )


def test_it_groups_identical_texts_newest_first(reviewer, messages):
    html = page(reviewer)
    # "hello" predicted as goodbye is another group than "hello" predicted as greet.
    assert groups(html) == ["hello", "I am sad", "hello", "I live in Berlin now"]
    rows = re.findall(r'<tr class="group".*?</tr>', html, re.S)
    sad = rows[1]
    assert 'class="intent">mood_great<' in sad
    assert re.search(r'class="count">2<', sad)
    assert "0.31&ndash;0.44" in sad and 'class="low"' in sad  # below the 0.5 threshold
    assert 'class="count">2<' in rows[2] and "greet" in rows[2]
    assert "2026-11-21 09:02" in rows[0]


def test_it_marks_a_messages_entities(reviewer, messages):
    html = page(reviewer, "?intent=inform")
    assert (
        'I live in <span class="entity" title="city">Berlin<span class="entity-name">city' in html
    )
    assert "city=Berlin" in html


def test_it_links_a_group_to_its_newest_message_in_its_conversation(reviewer, messages):
    bob = Conversation.objects.get(sender_id="bob")
    seq = Event.objects.get(pk=key_of("I am sad", "mood_great")).seq
    html = page(reviewer, "?intent=mood_great")
    assert f'href="/admin/trackers/conversation/{bob.pk}/change/#event-{seq}"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?intent=greet", ["hello"]),
        ("?band=low", ["I am sad"]),
        ("?band=medium", ["hello", "I live in Berlin now"]),
        ("?band=high", ["hello"]),
        ("?channel=rest", ["I am sad", "I live in Berlin now", "hello"]),
        ("?date_from=2026-11-21", ["hello", "I am sad", "hello"]),
        ("?date_to=2026-11-20", ["I am sad", "I live in Berlin now", "hello"]),
        ("?date_from=2026-11-22", []),
        ("?intent=greet&channel=socketio&band=high", ["hello"]),
    ],
)
def test_it_filters(reviewer, messages, query, expected):
    assert groups(page(reviewer, query)) == expected


def test_it_counts_only_the_messages_a_filter_lets_through(reviewer, messages):
    html = page(reviewer, "?channel=rest&intent=greet")
    assert re.search(r'class="count">1<', html) and "0.97" in html


def test_it_ignores_a_filter_it_cannot_read(reviewer, messages):
    html = page(reviewer, "?date_from=yesterday&band=huge")
    assert len(groups(html)) == 4


def test_it_confirms_several_groups_at_once(reviewer, messages):
    keys = key_of("hello", "greet"), key_of("I am sad", "mood_great")
    response = review(reviewer, *keys, op="confirm")
    assert response.status_code == 302 and response["Location"] == INBOX
    assert intent_corrections() == [
        ("I am sad", "mood_great", "reviewer"),
        ("I am sad", "mood_great", "reviewer"),
        ("hello", "greet", "reviewer"),
        ("hello", "greet", "reviewer"),
    ]
    html = page(reviewer)
    assert html.count("&#10003; confirmed") == 2
    assert html.count('class="button confirm-one"') == 2  # none left on the confirmed ones
    assert "Confirmed the predicted intent of 4 message(s)." in html


def test_it_relabels_several_groups_at_once(reviewer, messages):
    keys = key_of("I am sad", "mood_great"), key_of("hello", "goodbye")
    review(reviewer, *keys, op="relabel", label="mood_unhappy")
    assert intent_corrections() == [
        ("I am sad", "mood_unhappy", "reviewer"),
        ("I am sad", "mood_unhappy", "reviewer"),
        ("hello", "mood_unhappy", "reviewer"),
    ]
    assert page(reviewer).count("&rarr; mood_unhappy") == 2


def test_it_confirms_one_group_with_its_own_button(reviewer, messages):
    review(reviewer, confirm_only=key_of("hello", "goodbye"))
    assert intent_corrections() == [("hello", "goodbye", "reviewer")]


def test_it_applies_an_action_to_the_group_as_the_filters_show_it(reviewer, messages):
    review(reviewer, key_of("hello", "greet"), op="confirm", query="channel=socketio")
    (correction,) = Correction.objects.all()
    assert correction.event.conversation.sender_id == "bob"
    html = page(reviewer, "?unreviewed=on")
    assert groups(html) == ["hello", "I am sad", "I live in Berlin now", "hello"]
    last = re.findall(r'<tr class="group".*?</tr>', html, re.S)[-1]
    assert 'class="count">1<' in last and "greet" in last


def test_it_shows_how_much_of_a_group_is_reviewed(reviewer, messages):
    review(reviewer, key_of("hello", "greet"), op="confirm", query="channel=rest")
    html = page(reviewer, "?intent=greet")
    assert "1 of 2 reviewed" in html and "not yet" in html


def test_it_rejects_an_intent_the_domain_does_not_know(reviewer, messages):
    response = review(reviewer, key_of("I am sad", "mood_great"), op="relabel", label="sadness")
    assert response.status_code == 302
    assert not Correction.objects.exists()
    assert "The intent &#x27;sadness&#x27; is not in the loaded assistant" in page(reviewer)


def test_it_refuses_to_confirm_what_the_domain_does_not_know(reviewer, messages):
    # "inform" is not one of initbot's intents: confirming it would teach an unknown intent.
    review(reviewer, key_of("I live in Berlin now", "inform"), op="confirm")
    assert not Correction.objects.exists()


def test_it_offers_the_domains_intents_to_relabel_with(reviewer, messages):
    html = page(reviewer)
    relabel = re.search(r'<select name="label".*?</select>', html, re.S)[0]
    options = re.findall(r'<option value="(\w+)">', relabel)
    assert "mood_unhappy" in options and "greet" in options and "inform" not in options


def test_it_asks_to_choose_messages_first(reviewer, messages):
    review(reviewer, op="confirm")
    assert "Choose the messages first." in page(reviewer)
    assert not Correction.objects.exists()


def test_it_exports_confirmed_and_relabelled_messages_as_nlu_yml(reviewer, messages):
    review(reviewer, key_of("hello", "greet"), op="confirm")
    review(reviewer, key_of("I am sad", "mood_great"), op="relabel", label="mood_unhappy")
    response = reviewer.get(f"{INBOX}nlu.yml")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="nlu.yml"'
    nlu = {item["intent"]: item["examples"] for item in yaml.safe_load(response.content)["nlu"]}
    assert nlu == {"greet": "- hello\n", "mood_unhappy": "- I am sad\n"}


def test_it_exports_only_the_reviewed_messages_under_the_filters(reviewer, messages):
    review(reviewer, key_of("hello", "greet"), op="confirm")
    review(reviewer, key_of("hello", "goodbye"), op="relabel", label="greet")
    review(reviewer, key_of("I am sad", "mood_great"), op="relabel", label="mood_unhappy")
    response = reviewer.get(f"{INBOX}nlu.yml?channel=rest")
    nlu = {item["intent"]: item["examples"] for item in yaml.safe_load(response.content)["nlu"]}
    assert nlu == {"greet": "- hello\n", "mood_unhappy": "- I am sad\n"}


def test_its_corrections_reach_the_conversation_export_too(reviewer, messages):
    review(reviewer, key_of("I am sad", "mood_great"), op="relabel", label="mood_unhappy")
    files = export(reviewer, Conversation.objects.filter(sender_id="ann"))
    nlu = {i["intent"]: i["examples"] for i in yaml.safe_load(files["data/nlu.yml"])["nlu"]}
    assert nlu["mood_unhappy"] == "- I am sad\n" and "mood_great" not in nlu


def test_it_pages_fifty_groups_at_a_time(reviewer):
    turns = [(f"message {n}", "greet", 0.9, T0 + n) for n in range(55)]
    say(reviewer, "many", *turns)
    first = page(reviewer)
    assert groups(first) == [f"message {n}" for n in range(54, 4, -1)]
    assert 'id="older"' in first and 'id="newer"' not in first
    second = page(reviewer, "?p=2")
    assert groups(second) == [f"message {n}" for n in range(4, -1, -1)]
    assert 'id="older"' not in second and 'href="?p=1" id="newer"' in second


def insert_messages(count: int) -> None:
    """``count`` user messages in one bulk insert, each text said twice."""
    conversation = Conversation.objects.create(sender_id=f"bulk-{count}")
    rows = [
        store.row_from_event(
            conversation,
            n + 1,
            UserUttered(
                f"text {n // 2}",
                {"name": "greet", "confidence": 0.5 + (n % 50) / 100},
                timestamp=T0 + n,
            ),
        )
        for n in range(count)
    ]
    Event.objects.bulk_create(rows)


def test_it_costs_the_same_queries_for_10_and_1000_messages(reviewer):
    def queries() -> list[int]:
        counts = []
        for query in ("", "?unreviewed=on&band=medium&intent=greet&date_from=2026-11-20"):
            with CaptureQueriesContext(connection) as captured:
                html = page(reviewer, query)
            counts.append(len(captured))
        assert len(groups(html)) == min(50, Event.objects.filter(type_name="user").count() // 2)
        return counts

    insert_messages(10)
    few = queries()
    insert_messages(1000)
    assert queries() == few


def test_it_answers_a_page_in_a_bounded_number_of_queries(reviewer, django_assert_max_num_queries):
    insert_messages(1000)
    with django_assert_max_num_queries(7):
        html = page(reviewer, "?date_from=2026-11-20&unreviewed=on")
    assert groups(html)[0] == "text 499"


# --- who may do what -----------------------------------------------------------------


@pytest.mark.parametrize("path", [INBOX, f"{INBOX}nlu.yml"])
def test_it_sends_anonymous_visitors_to_the_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/inbox/")


def test_it_sends_an_anonymous_review_to_the_login_and_stores_nothing(client, messages):
    response = review(client, key_of("hello", "greet"), op="confirm")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not Correction.objects.exists()


def test_it_turns_away_staff_without_the_view_permission(client):
    client.force_login(staff_user("nobody"))
    assert client.get(INBOX).status_code == 403
    assert client.get(f"{INBOX}nlu.yml").status_code == 403


def test_it_lets_a_reader_read_but_not_review(reader, messages):
    html = page(reader)
    assert len(groups(html)) == 4
    assert 'id="confirm-selected"' not in html and 'name="group"' not in html
    assert reader.get(f"{INBOX}nlu.yml").status_code == 200
    response = review(reader, key_of("hello", "greet"), op="confirm")
    assert response.status_code == 403
    assert not Correction.objects.exists()


def test_it_lets_staff_with_the_change_permission_review(client, messages):
    client.force_login(staff_user("editor", "view_conversation", "change_conversation"))
    assert 'id="confirm-selected"' in page(client)
    review(client, key_of("hello", "goodbye"), op="relabel", label="greet")
    assert intent_corrections() == [("hello", "greet", "editor")]


def test_it_refuses_a_get_on_the_review_route(reviewer, messages):
    assert reviewer.get(f"{INBOX}review/").status_code == 405


def test_it_links_the_inbox_from_the_index_for_readers_only(reader, client):
    assert 'href="/admin/inbox/"' in reader.get("/admin/").content.decode()
    client.force_login(staff_user("nobody"))
    assert 'href="/admin/inbox/"' not in client.get("/admin/").content.decode()
    client.force_login(staff_user("editor", "change_conversation"))  # change implies view
    assert 'href="/admin/inbox/"' in client.get("/admin/").content.decode()
    assert len(groups(page(client))) == 0


def test_without_a_served_model_it_takes_any_well_formed_intent(reviewer, messages):
    assistant_set(None)  # no model served (the fixtures reset the holder after the test)
    html = page(reviewer)
    assert '<input type="text" name="label"' in html
    review(reviewer, key_of("I am sad", "mood_great"), op="relabel", label="two words")
    assert not Correction.objects.exists()
    review(reviewer, key_of("I am sad", "mood_great"), op="relabel", label="sadness")
    assert intent_corrections() == [("I am sad", "sadness", "reviewer")] * 2
