"""Tags, the reviewed flag and notes: on the conversation page and as bulk list actions."""

from __future__ import annotations

import pytest

from tests.admin.conftest import CHANGELIST, greeting
from trackers.models import Conversation, Note, Tag

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]


def on_page(client, conversation, **form):
    return client.post(f"{CHANGELIST}{conversation.pk}/review/", form)


def bulk(client, action: str, conversations, **form):
    selected = [str(c.pk) for c in conversations]
    return client.post(CHANGELIST, {"action": action, "_selected_action": selected, **form})


def test_it_adds_and_removes_tags_on_the_page(reviewer):
    conversation = greeting(reviewer, "tag-me")
    on_page(reviewer, conversation, op="tag", tag="refund")
    assert list(conversation.tags.values_list("name", flat=True)) == ["refund"]
    on_page(reviewer, conversation, op="untag", tag="refund")
    assert conversation.tags.count() == 0
    assert Tag.objects.filter(name="refund").exists()  # the tag stays for other conversations


def test_it_tags_and_untags_in_bulk(reviewer):
    chosen = [greeting(reviewer, "bulk-1"), greeting(reviewer, "bulk-2")]
    other = greeting(reviewer, "bulk-3")
    bulk(reviewer, "add_tag", chosen, tag="angry")
    assert set(Tag.objects.get(name="angry").conversations.all()) == set(chosen)
    bulk(reviewer, "remove_tag", chosen[:1], tag="angry")
    assert list(Tag.objects.get(name="angry").conversations.all()) == [chosen[1]]
    assert other.tags.count() == 0


def test_it_marks_reviewed_on_the_page_and_in_bulk(reviewer):
    one, two = greeting(reviewer, "rev-1"), greeting(reviewer, "rev-2")
    on_page(reviewer, one, op="reviewed", reviewed="true")
    assert Conversation.objects.get(pk=one.pk).reviewed is True
    bulk(reviewer, "mark_reviewed", [two])
    assert Conversation.objects.filter(reviewed=True).count() == 2
    bulk(reviewer, "mark_unreviewed", [one, two])
    assert Conversation.objects.filter(reviewed=True).count() == 0


def test_it_keeps_notes_with_their_author(reviewer):
    conversation = greeting(reviewer, "noted")
    on_page(reviewer, conversation, op="note", text="User wanted a refund, bot missed it.")
    note = Note.objects.get()
    assert note.author.username == "reviewer"
    page = reviewer.get(f"{CHANGELIST}{conversation.pk}/change/").content.decode()
    assert "User wanted a refund, bot missed it." in page


def test_it_creates_tags_in_the_tag_admin(reviewer):
    reviewer.post("/admin/trackers/tag/add/", {"name": "billing"})
    assert Tag.objects.filter(name="billing").exists()


def test_it_keeps_the_write_actions_from_readers(reader, client):
    conversation = greeting(client, "not-yours")
    assert on_page(reader, conversation, op="tag", tag="x").status_code == 403
    assert on_page(reader, conversation, op="note", text="x").status_code == 403
    page = reader.get(CHANGELIST).content.decode()
    assert "export_training_data" in page and "mark_reviewed" not in page
    bulk(reader, "mark_reviewed", [conversation])
    assert Conversation.objects.get(pk=conversation.pk).reviewed is False
    assert Tag.objects.count() == 0 and Note.objects.count() == 0
