"""The first cut of the admin: conversations listed, searchable, events shown in order."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from trackers.models import Conversation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]

GREET = {
    "event": "user",
    "text": "hello bot",
    "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []},
}


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("reviewer", "r@example.com", "pw-123456"))
    return client


def test_it_lists_conversations_with_their_latest_intent(staff_client):
    staff_client.post_json("/conversations/listed-user/tracker/events", GREET)
    page = staff_client.get("/admin/trackers/conversation/").content.decode()
    assert "listed-user" in page
    assert "greet" in page


def test_it_searches_by_sender_id(staff_client):
    staff_client.post_json("/conversations/findme/tracker/events", GREET)
    staff_client.post_json("/conversations/other/tracker/events", GREET)
    page = staff_client.get("/admin/trackers/conversation/?q=findme").content.decode()
    assert "findme" in page
    assert ">other<" not in page


def test_it_shows_the_events_in_order_read_only(staff_client):
    staff_client.post_json("/conversations/detail/tracker/events", GREET)
    conversation = Conversation.objects.get(sender_id="detail")
    page = staff_client.get(
        f"/admin/trackers/conversation/{conversation.pk}/change/"
    ).content.decode()
    positions = [
        page.index(name) for name in ("action_session_start", "session started", "hello bot")
    ]
    assert positions == sorted(positions)
    assert 'name="events-0-seq"' not in page  # no editable inputs for events


def test_it_keeps_the_admin_for_staff_only(client):
    response = client.get("/admin/trackers/conversation/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
