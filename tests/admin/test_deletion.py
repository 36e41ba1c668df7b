"""Erasing a conversation (GDPR) from the admin and from the API, logged without the id."""

from __future__ import annotations

import pytest

from tests.admin.conftest import CHANGELIST, greeting
from tests.conftest import admin_jwt, user_jwt
from trackers.models import Conversation, Correction, DeletionRecord, Event, Note, Tag
from trackers.review import sender_digest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("initbot")]


def reviewed_conversation(client, sender_id: str) -> Conversation:
    conversation = greeting(client, sender_id)
    user = conversation.events.get(type_name="user")
    Correction.objects.create(conversation=conversation, event=user, kind="intent", intent="deny")
    Note.objects.create(conversation=conversation, text="personal details inside")
    Tag.objects.create(name="gdpr").conversations.add(conversation)
    return conversation


def assert_erased(sender_id: str, via: str) -> DeletionRecord:
    assert not Conversation.objects.filter(sender_id=sender_id).exists()
    assert Event.objects.count() == Correction.objects.count() == Note.objects.count() == 0
    assert Tag.objects.get(name="gdpr").conversations.count() == 0
    record = DeletionRecord.objects.get()
    assert record.sender_digest == sender_digest(sender_id) and record.via == via
    assert sender_id not in record.deleted_by
    return record


@pytest.mark.usefixtures("open_auth")
def test_it_erases_everything_from_the_admin_and_logs_it(reviewer):
    conversation = reviewed_conversation(reviewer, "erase-me")
    confirm = reviewer.get(f"{CHANGELIST}{conversation.pk}/delete/")
    assert confirm.status_code == 200 and "erase-me" in confirm.content.decode()
    response = reviewer.post(f"{CHANGELIST}{conversation.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert assert_erased("erase-me", "admin").deleted_by == "admin:reviewer"


@pytest.mark.usefixtures("open_auth")
def test_it_erases_in_bulk_from_the_list(reviewer):
    conversation = reviewed_conversation(reviewer, "bulk-erase")
    form = {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"}
    assert reviewer.post(CHANGELIST, form).status_code == 302
    assert_erased("bulk-erase", "admin")


@pytest.mark.usefixtures("token_auth")
def test_it_erases_through_the_api_with_the_token(client):
    reviewed_conversation_via_token(client, "api-erase")
    assert client.delete("/conversations/api-erase?token=rasa").status_code == 204
    assert assert_erased("api-erase", "api").deleted_by == "api:token"


def reviewed_conversation_via_token(client, sender_id: str) -> None:
    events = [{"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}}]
    client.post_json(f"/conversations/{sender_id}/tracker/events?token=rasa", events)
    conversation = Conversation.objects.get(sender_id=sender_id)
    user = conversation.events.get(type_name="user")
    Correction.objects.create(conversation=conversation, event=user, kind="intent", intent="deny")
    Note.objects.create(conversation=conversation, text="personal details inside")
    Tag.objects.get_or_create(name="gdpr")[0].conversations.add(conversation)


@pytest.mark.usefixtures("token_auth")
def test_it_lets_an_admin_jwt_erase_any_conversation(client):
    reviewed_conversation_via_token(client, "a/b+-_\\=c")
    headers = {"Authorization": f"Bearer {admin_jwt()}"}
    assert client.delete("/conversations/a/b+-_\\=c", headers=headers).status_code == 204
    assert assert_erased("a/b+-_\\=c", "api").deleted_by == "jwt:admin (admin)"


@pytest.mark.usefixtures("token_auth")
def test_it_lets_a_user_jwt_erase_only_its_own_conversation(client):
    reviewed_conversation_via_token(client, "alice")
    reviewed_conversation_via_token(client, "bob")
    headers = {"Authorization": f"Bearer {user_jwt('alice')}"}
    refused = client.delete("/conversations/bob", headers=headers)
    assert refused.status_code == 403 and refused.json()["reason"] == "NotAuthorized"
    assert client.delete("/conversations/alice", headers=headers).status_code == 204
    assert list(Conversation.objects.values_list("sender_id", flat=True)) == ["bob"]


@pytest.mark.usefixtures("token_auth")
def test_it_refuses_strangers_and_reports_unknown_ids(client):
    reviewed_conversation_via_token(client, "kept")
    assert client.delete("/conversations/kept").status_code == 401
    assert client.delete("/conversations/kept?token=wrong").status_code == 401
    missing = client.delete("/conversations/nobody?token=rasa")
    assert missing.status_code == 404 and missing.json()["message"] == "Conversation ID not found."
    assert Conversation.objects.filter(sender_id="kept").exists()
    assert DeletionRecord.objects.count() == 0


@pytest.mark.usefixtures("token_auth")
def test_it_leaves_the_other_conversation_routes_alone(client):
    reviewed_conversation_via_token(client, "still-here")
    assert client.get("/conversations?token=rasa").json() == ["still-here"]
    tracker = client.get("/conversations/still-here/tracker?token=rasa")
    assert tracker.status_code == 200 and tracker.json()["sender_id"] == "still-here"
    assert client.delete("/conversations/still-here/tracker?token=rasa").status_code == 405


@pytest.mark.usefixtures("open_auth")
def test_it_keeps_deletion_from_staff_without_the_delete_permission(reader, client):
    conversation = greeting(client, "protected")
    assert reader.post(f"{CHANGELIST}{conversation.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


@pytest.mark.usefixtures("open_auth")
def test_it_drops_corrections_and_figures_when_a_put_replaces_the_log(client):
    reviewed_conversation(client, "replaced")
    events = [{"event": "action", "name": "action_listen"}]
    assert client.put_json("/conversations/replaced/tracker/events", events).status_code == 200
    conversation = Conversation.objects.get(sender_id="replaced")
    assert Correction.objects.count() == 0
    assert (conversation.user_turns, conversation.had_fallback) == (0, False)
    assert conversation.lowest_confidence is None and conversation.event_count == 1


@pytest.mark.usefixtures("open_auth")
def test_it_cascades_a_plain_orm_delete(client):
    reviewed_conversation(client, "orm-delete").delete()
    assert Event.objects.count() == Correction.objects.count() == Note.objects.count() == 0
