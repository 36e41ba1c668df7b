"""The reviewer's admin: find conversations, read them as a chat, correct, tag, export, erase.

Reading needs the "view" permission; every write (corrections, tags, notes, the reviewed
flag) needs "change", and erasing needs "delete". Writes go through ``trackers.review``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from engine.story_writer import write_test_stories
from serving.holder import current_assistant
from trackers import admin_filters as filters
from trackers import review, store
from trackers.models import (
    Conversation,
    Correction,
    DeletionRecord,
    Event,
    OutboxEvent,
    Reminder,
    Tag,
)
from trackers.outbox import outbox_figures
from trackers.transcript import transcript

TIME_FORMAT = "%Y-%m-%d %H:%M"


class TagActionForm(helpers.ActionForm):
    tag = forms.CharField(required=False, label="Tag", help_text="(for the tag actions)")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows kept as a record: shown, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = (
        "sender",
        "started",
        "latest_activity",
        "turns",
        "intent",
        "preview",
        "fallback",
        "channel",
        "tag_list",
        "reviewed",
    )
    list_display_links = ("sender",)
    list_filter = (
        filters.UserMessagesFilter,
        filters.DateRangeFilter,
        filters.IntentFilter,
        filters.ActionFilter,
        ("latest_input_channel", admin.AllValuesFieldListFilter),
        "had_fallback",
        filters.LowConfidenceFilter,
        filters.SlotValueFilter,
        filters.TagFilter,
        "reviewed",
    )
    search_fields = ("sender_id",)
    search_help_text = "Sender id, or words the user or the bot said."
    list_per_page = 50
    list_max_show_all = 500
    # The unfiltered total would be one more COUNT over the whole table on every page.
    show_full_result_count = False
    # Facet counts would run one COUNT per filter choice, each an EXISTS over the log.
    show_facets = admin.ShowFacets.NEVER
    action_form = TagActionForm
    actions = ("add_tag", "remove_tag", "mark_reviewed", "mark_unreviewed", "export_training_data")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("state").prefetch_related("tags")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # --- columns ----------------------------------------------------------------------
    # Long values (sender ids, messages) are cut to the column's width by CSS, whole in
    # their title, so the list fits a 1366 px screen beside the filters.

    @admin.display(description="sender id", ordering="sender_id")
    def sender(self, obj: Conversation) -> str:
        return _clipped(obj.sender_id)

    @admin.display(description="started", ordering="created")
    def started(self, obj: Conversation) -> str:
        return compact_time(obj.created, now=timezone.now())

    @admin.display(description="latest activity", ordering="latest_event_time")
    def latest_activity(self, obj: Conversation) -> str:
        if obj.latest_event_time is None:
            return "-"
        moment = datetime.fromtimestamp(obj.latest_event_time, tz=UTC)
        return compact_time(moment, now=timezone.now())

    @admin.display(description="latest intent", ordering="latest_intent")
    def intent(self, obj: Conversation) -> str:
        return _clipped(obj.latest_intent) if obj.latest_intent else "-"

    @admin.display(description="latest user message")
    def preview(self, obj: Conversation) -> str:
        return _clipped(obj.latest_user_text) if obj.latest_user_text else "-"

    @admin.display(description="user turns", ordering="user_turns")
    def turns(self, obj: Conversation) -> int:
        return obj.user_turns

    @admin.display(description="fallback", ordering="had_fallback", boolean=True)
    def fallback(self, obj: Conversation) -> bool:
        return obj.had_fallback

    @admin.display(description="channel", ordering="latest_input_channel")
    def channel(self, obj: Conversation) -> str:
        return _clipped(obj.latest_input_channel) if obj.latest_input_channel else "-"

    @admin.display(description="tags")
    def tag_list(self, obj: Conversation) -> str:
        names = [(tag.name,) for tag in obj.tags.all()]
        return format_html_join(" ", '<span class="review-tag">{}</span>', names) or "-"

    # --- search -----------------------------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """Sender ids and message texts; on PostgreSQL both use trigram indexes."""
        term = search_term.strip()
        if not term:
            return queryset, False
        said = Event.objects.filter(text__icontains=term).values("conversation_id")
        return queryset.filter(Q(sender_id__icontains=term) | Q(pk__in=said)), False

    # --- bulk actions -----------------------------------------------------------------

    @admin.action(description="Add the tag (typed beside) to the selected", permissions=["change"])
    def add_tag(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            tag = review.tag_add(conversations=queryset, name=request.POST.get("tag", ""))
        except review.ReviewError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(request, f"Tagged {len(queryset)} conversation(s) '{tag.name}'.")

    @admin.action(
        description="Remove the tag (typed beside) from the selected", permissions=["change"]
    )
    def remove_tag(self, request: HttpRequest, queryset: QuerySet) -> None:
        name = request.POST.get("tag", "")
        removed = review.tag_remove(conversations=queryset, name=name)
        self.message_user(request, f"Removed '{name}' from {removed} conversation(s).")

    @admin.action(description="Mark the selected reviewed", permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = review.conversations_mark_reviewed(conversations=queryset, reviewed=True)
        self.message_user(request, f"Marked {count} conversation(s) reviewed.")

    @admin.action(description="Mark the selected not reviewed", permissions=["change"])
    def mark_unreviewed(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = review.conversations_mark_reviewed(conversations=queryset, reviewed=False)
        self.message_user(request, f"Marked {count} conversation(s) not reviewed.")

    @admin.action(description="Export the selected as training data", permissions=["view"])
    def export_training_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        content = review.training_data_zip(queryset.order_by("sender_id"))
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="training-data.zip"'
        return response

    # --- erasure ----------------------------------------------------------------------

    def delete_model(self, request: HttpRequest, obj: Conversation) -> None:
        review.conversation_delete(conversation=obj, deleted_by=_who(request), via="admin")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for conversation in queryset:
            self.delete_model(request, conversation)

    def log_deletions(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Erasure is recorded as a ``DeletionRecord``; an admin log entry would keep the id."""

    def get_deleted_objects(self, objs, request: HttpRequest):
        """A summary instead of every event: the log may hold 100,000 rows."""
        objs = list(objs)
        summary = [
            f"{o.sender_id}: {o.event_count} events, with corrections, notes, tags" for o in objs
        ]
        counts = {"conversations": len(objs), "events": sum(o.event_count for o in objs)}
        return summary, counts, set(), []

    # --- the conversation page --------------------------------------------------------

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        name = "trackers_conversation"
        return [
            path("<int:object_id>/story.yml", wrap(self.story_view), name=f"{name}_story"),
            path("<int:object_id>/events.json", wrap(self.events_view), name=f"{name}_events"),
            path("<int:object_id>/review/", wrap(self.review_view), name=f"{name}_review"),
        ] + super().get_urls()

    def _readable(self, request: HttpRequest, object_id) -> Conversation:
        conversation = Conversation.objects.filter(pk=object_id).first()
        if conversation is None:
            raise Http404("No such conversation.")
        if not self.has_view_or_change_permission(request, conversation):
            raise PermissionDenied
        return conversation

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        """The conversation as a chat transcript with the reviewer's tools beside it."""
        conversation = self._readable(request, object_id)
        if request.method != "GET":
            return self.review_view(request, conversation.pk)
        page = transcript(conversation, upto=_positive_int(request.GET.get("upto")))
        names = _domain_names()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Conversation {conversation.sender_id}",
            "conversation": conversation,
            "page": page,
            "tags": conversation.tags.all(),
            "all_tags": Tag.objects.values_list("name", flat=True),
            "notes": conversation.notes.select_related("author"),
            "can_change": self.has_change_permission(request, conversation),
            "can_delete": self.has_delete_permission(request, conversation),
            "known_intents": names.intents or [],
            "known_entities": names.entities or [],
            "known_actions": names.actions or [],
            "intent_threshold": settings.CONVAPI_REVIEW_INTENT_THRESHOLD,
            "action_threshold": settings.CONVAPI_REVIEW_ACTION_THRESHOLD,
        }
        template = "admin/trackers/conversation/transcript.html"
        return TemplateResponse(request, template, context)

    def story_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        conversation = self._readable(request, object_id)
        events = store.events_load(conversation)
        text = write_test_stories(conversation.sender_id, events, all_sessions=True)
        return _download(text, "application/x-yaml", f"conversation-{conversation.pk}.yml")

    def events_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        conversation = self._readable(request, object_id)
        events = [event.to_dict() for event in store.events_load(conversation)]
        text = json.dumps(events, ensure_ascii=False, indent=2)
        return _download(text, "application/json", f"conversation-{conversation.pk}.json")

    def review_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """One POST endpoint for the page's forms: correct, tag, untag, note, reviewed."""
        conversation = self._readable(request, object_id)
        if request.method != "POST" or not self.has_change_permission(request, conversation):
            raise PermissionDenied
        try:
            message = _apply_review(request, conversation)
        except review.ReviewError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, message)
        url = reverse("admin:trackers_conversation_change", args=[conversation.pk])
        return HttpResponseRedirect(url)


def _apply_review(request: HttpRequest, conversation: Conversation) -> str:
    op, post = request.POST.get("op", ""), request.POST
    single = Conversation.objects.filter(pk=conversation.pk)
    if op == "correct":
        event = conversation.events.filter(pk=post.get("event_id") or 0).first()
        if event is None:
            raise review.ReviewError("That event is not part of this conversation.")
        kind = post.get("kind", "")
        names = _domain_names()
        known = names.intents if kind == Correction.INTENT else names.actions
        review.correction_add(
            event=event,
            author=request.user,
            kind=kind,
            value=post.get("value", ""),
            known_names=known,
        )
        return f"Stored the {kind} correction of event {event.seq}."
    if op == "tag":
        return f"Tagged '{review.tag_add(conversations=single, name=post.get('tag', '')).name}'."
    if op == "untag":
        review.tag_remove(conversations=single, name=post.get("tag", ""))
        return f"Removed the tag '{post.get('tag', '')}'."
    if op == "note":
        review.note_add(conversation=conversation, author=request.user, text=post.get("text", ""))
        return "Added the note."
    if op == "reviewed":
        reviewed = post.get("reviewed") == "true"
        review.conversations_mark_reviewed(conversations=single, reviewed=reviewed)
        return "Marked reviewed." if reviewed else "Marked not reviewed."
    raise review.ReviewError(f"Unknown review operation '{op}'.")


@dataclass(frozen=True)
class DomainNames:
    """What a correction may name; ``None`` when no model is served (nothing to check)."""

    intents: list[str] | None = None
    entities: list[str] | None = None
    actions: list[str] | None = None


def _domain_names() -> DomainNames:
    """The served domain's intents, entities and actions: the page offers them as choices,
    and an intent or action correction must name one of them."""
    assistant = current_assistant()
    if assistant is None:
        return DomainNames()
    domain = assistant.domain
    return DomainNames(
        intents=list(domain.intents),
        entities=list(domain.entities),
        actions=list(domain.action_names_or_texts),
    )


def compact_time(moment: datetime, *, now: datetime) -> str:
    """A time on one short line: the time of day today, the day this year, else the date; the
    full time (UTC) in its title."""
    moment, now = moment.astimezone(UTC), now.astimezone(UTC)
    if moment.date() == now.date():
        short = moment.strftime("%H:%M")
    elif moment.year == now.year:
        short = moment.strftime("%b %d")
    else:
        short = moment.strftime("%Y-%m-%d")
    full = moment.strftime(TIME_FORMAT) + " UTC"
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(), full, short)


def _clipped(text: str) -> str:
    return format_html('<span class="clip" title="{}">{}</span>', text, text)


def _who(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def _download(text: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "conversation_count")
    search_fields = ("name",)
    fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(tagged=Count("conversations"))

    @admin.display(description="conversations", ordering="tagged")
    def conversation_count(self, obj: Tag) -> int:
        return obj.tagged


@admin.register(Correction)
class CorrectionAdmin(admin.ModelAdmin):
    """Read-only history of corrections: they are made on the conversation page."""

    list_display = ("conversation", "event", "kind", "intent", "action", "author", "created")
    list_filter = ("kind",)
    list_select_related = ("conversation", "event", "author")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(DeletionRecord)
class DeletionRecordAdmin(ReadOnlyAdmin):
    list_display = ("deleted_at", "sender_digest", "event_count", "deleted_by", "via")
    search_fields = ("sender_digest",)

    def get_search_results(self, request, queryset, search_term):
        """Search by the sender id itself: only its digest is stored."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(sender_digest__in=[term, review.sender_digest(term)]), False


def _positive_int(value: str | None) -> int | None:
    """A page number from the query string; anything else means the default page."""
    number = int(value) if value and value.isdigit() else 0
    return number or None


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["name", "sender_id", "intent", "trigger_at", "status", "finished"]
    list_filter = ["status", "kill_on_user_msg"]
    search_fields = ["sender_id", "name", "intent"]


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    """Read-only: the events waiting for the event broker, and those it refused."""

    list_display = ("id", "sender_id", "seq", "created_at", "failed_at", "error")
    list_filter = (("failed_at", admin.EmptyFieldListFilter),)
    search_fields = ("sender_id",)
    readonly_fields = ("id", "sender_id", "seq", "message", "created_at", "failed_at", "error")

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        figures = outbox_figures()
        title = (
            f"Event outbox: {figures.pending} pending, the oldest {figures.oldest_seconds:.0f} s "
            f"old; {figures.set_aside} refused by the broker"
        )
        return super().changelist_view(request, {**(extra_context or {}), "title": title})
