"""Property: any event list valid against the events schema can be stored and read back.

Generated lists are appended (POST) or replace the conversation (PUT); then every view of
it is read: the tracker at each verbosity, the story of the last or of all sessions, and
the admin's transcript. No view may fail. Broken lists are refused with a 400 that stores
nothing. Example counts stay small so this runs in seconds in CI.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.event_strategies import EVENT_LISTS, broken_event_lists
from trackers.models import Conversation, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "trained_initbot")]

FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
VERBOSITIES = ["ALL", "AFTER_RESTART", "APPLIED", "NONE"]
_ids = itertools.count()


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def new_id() -> str:
    return f"prop-{next(_ids)}"


def assert_every_view_reads(client, sender: str) -> None:
    for verbosity in VERBOSITIES:
        response = client.get(f"/conversations/{sender}/tracker?include_events={verbosity}")
        assert response.status_code == 200, (verbosity, response.content[:500])
    for all_sessions in ("true", "false"):
        response = client.get(f"/conversations/{sender}/story?all_sessions={all_sessions}")
        assert response.status_code == 200, (all_sessions, response.content[:500])
    pk = Conversation.objects.get(sender_id=sender).pk
    response = client.get(f"/admin/trackers/conversation/{pk}/change/")
    assert response.status_code == 200, response.content[:500]


def store(client, method: str, sender: str, events: list) -> None:
    """Every generated list is valid: the server must store it, whole."""
    path = f"/conversations/{sender}/tracker/events"
    response = getattr(client, f"{method}_json")(path, events)
    assert response.status_code == 200, (events, response.content[:500])


# Legacy event types Rasa reads and writes back under their current name.
RENAMED = {"form": "active_loop", "form_validation": "loop_interrupted"}
# What Rasa adds before the first events of a conversation (a session start).
SESSION_START = [("action", "action_session_start"), ("session_started", None)]


def contains(posted, read) -> bool:
    """``read`` holds everything ``posted`` said: the same scalars and lists, objects with
    at least the posted keys. A posted ``None`` is "not given": the server may fill it in
    (a timestamp, a reminder's name, a bot event's data, parse_data's defaults). Empty
    ``metadata`` is left out, as Rasa's ``Event.as_dict`` does."""
    if isinstance(posted, dict):
        return isinstance(read, dict) and all(
            value is None
            or (key == "metadata" and value == {} and key not in read)
            or (key in read and contains(value, read[key]))
            for key, value in posted.items()
        )
    if isinstance(posted, list):
        return (
            isinstance(read, list)
            and len(read) == len(posted)
            and all(contains(p, r) for p, r in zip(posted, read, strict=True))
        )
    if isinstance(posted, float) or isinstance(read, float):
        # The same JSON number: PostgreSQL's jsonb writes 1.5e+22 back as
        # 15000000000000000000000, which Python reads as an int.
        numbers = all(type(v) in (int, float) for v in (posted, read))
        return numbers and float(posted) == float(read)
    return type(posted) is type(read) and posted == read


def assert_read_back(client, sender: str, posted: list) -> None:
    """The stored log is the posted events, in order, each with every field it was sent."""
    read = client.get(f"/conversations/{sender}/tracker?include_events=ALL").json()["events"]
    extra = len(read) - len(posted)
    assert extra >= 0, (len(read), len(posted))
    prefix = [(e["event"], e.get("name")) for e in read[:extra]]
    assert prefix in ([], [*SESSION_START, ("action", "action_listen")]), prefix
    for number, (sent, got) in enumerate(zip(posted, read[extra:], strict=True)):
        kind = sent["event"]
        if kind in RENAMED:
            assert got["event"] == RENAMED[kind], (number, sent, got)
            if kind == "form":
                assert got.get("name") == sent.get("name"), (number, sent, got)
            continue
        assert contains(sent, got), (number, sent, got)


@FUZZ
@given(first=EVENT_LISTS, second=EVENT_LISTS)
def test_it_reads_back_every_valid_append(admin_client, first, second):
    sender = new_id()
    store(admin_client, "post", sender, first)
    store(admin_client, "post", sender, second)
    assert_read_back(admin_client, sender, first + second)
    assert_every_view_reads(admin_client, sender)


@FUZZ
@given(events=EVENT_LISTS, more=EVENT_LISTS)
def test_it_reads_back_every_valid_replacement(admin_client, events, more):
    sender = new_id()
    store(admin_client, "post", sender, [{"event": "bot", "text": "replaced"}])
    store(admin_client, "put", sender, events)
    store(admin_client, "post", sender, more)
    read = admin_client.get(f"/conversations/{sender}/tracker?include_events=ALL").json()
    assert "replaced" not in [e.get("text") for e in read["events"]]
    assert_read_back(admin_client, sender, events + more)
    assert_every_view_reads(admin_client, sender)


@FUZZ
@given(valid=EVENT_LISTS, broken=broken_event_lists())
@pytest.mark.parametrize("method", ["post", "put"])
def test_it_refuses_a_broken_list_and_stores_nothing(admin_client, method, valid, broken):
    sender = new_id()
    store(admin_client, "post", sender, valid)
    before = Event.objects.filter(conversation__sender_id=sender).count()
    response = getattr(admin_client, f"{method}_json")(
        f"/conversations/{sender}/tracker/events", broken
    )
    assert response.status_code == 400, response.content[:500]
    assert response.json()["code"] == 400
    assert Event.objects.filter(conversation__sender_id=sender).count() == before
