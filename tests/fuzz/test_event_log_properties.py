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


def store(client, method: str, sender: str, events: list) -> int:
    path = f"/conversations/{sender}/tracker/events"
    response = getattr(client, f"{method}_json")(path, events)
    assert response.status_code in (200, 400), response.content[:500]
    return response.status_code


@FUZZ
@given(first=EVENT_LISTS, second=EVENT_LISTS)
def test_it_reads_back_every_valid_append(admin_client, first, second):
    sender = new_id()
    store(admin_client, "post", sender, first)
    store(admin_client, "post", sender, second)
    if Conversation.objects.filter(sender_id=sender).exists():
        assert_every_view_reads(admin_client, sender)


@FUZZ
@given(events=EVENT_LISTS, more=EVENT_LISTS)
def test_it_reads_back_every_valid_replacement(admin_client, events, more):
    sender = new_id()
    store(admin_client, "put", sender, events)
    store(admin_client, "post", sender, more)
    if Conversation.objects.filter(sender_id=sender).exists():
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
