"""``Conversation.latest_user_text``: the list's preview of the latest user message.

Existing conversations get it from their log in one UPDATE: the text of the user event
with the highest ``seq`` (the ``(conversation, seq)`` unique index finds it).
"""

from __future__ import annotations

from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Substr

PREVIEW_CHARS = 255


def backfill(apps, schema_editor) -> None:
    Conversation = apps.get_model("trackers", "Conversation")
    Event = apps.get_model("trackers", "Event")
    latest = Event.objects.filter(conversation=OuterRef("pk"), type_name="user").order_by("-seq")
    text = Substr(Subquery(latest.values("text")[:1]), 1, PREVIEW_CHARS)
    Conversation.objects.filter(user_turns__gt=0).update(latest_user_text=Coalesce(text, Value("")))


class Migration(migrations.Migration):
    dependencies = [("trackers", "0008_event_review_columns")]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="latest_user_text",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
