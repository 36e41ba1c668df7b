"""The NLU inbox in the admin: every user message, grouped by text, to confirm or relabel.

Behind the admin's login (``admin.site.admin_view``). Reading needs the "view" (or, as
everywhere in the admin, "change") permission on conversations; confirming and relabelling
need "change". The queries live in ``trackers.inbox``; the writes go through
``trackers.review`` as the transcript's corrections do.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from serving.holder import current_assistant
from trackers import inbox, review, store

app_name = "inbox"

BAND_CHOICES = [
    ("", "any"),
    ("low", "below 0.5"),
    ("medium", "0.5 to 0.8"),
    ("high", "0.8 and above"),
    (inbox.NO_CONFIDENCE, "none given"),
]


class FilterForm(forms.Form):
    """The inbox's filters, read from the query string; a bad value is ignored, not fatal."""

    intent = forms.ChoiceField(required=False, label="Predicted intent")
    band = forms.ChoiceField(required=False, choices=BAND_CHOICES, label="Confidence")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = forms.ChoiceField(required=False, label="Channel")
    unreviewed = forms.BooleanField(required=False, label="Not yet reviewed")

    def __init__(self, data: QueryDict, *, intents: list[str], channels: list[str]) -> None:
        super().__init__(data, label_suffix="")
        self.fields["intent"].choices = _choices(intents, data.get("intent"), "any")
        self.fields["channel"].choices = _choices(channels, data.get("channel"), "any")

    def filters(self) -> inbox.InboxFilters:
        self.is_valid()  # fields that fail stay out of cleaned_data: no filter on them
        given = {name: value for name, value in self.cleaned_data.items() if value}
        return inbox.InboxFilters(**given)


def _choices(names: list[str], current: str | None, empty: str) -> list[tuple[str, str]]:
    # The value in the query string stays selectable even when it is no longer offered
    # (an intent the served model dropped), so the page shows what it filters on.
    offered = sorted({*names, *([current] if current else [])})
    return [("", empty), *[(name, name) for name in offered]]


def _known_intents() -> list[str] | None:
    """The served domain's intents: relabels must name one (None: no model, any name)."""
    assistant = current_assistant()
    return None if assistant is None else list(assistant.domain.intents)


def _filter_form(query: QueryDict, known: list[str] | None) -> FilterForm:
    intents = [*(known or []), *store.FALLBACK_INTENTS]
    return FilterForm(query, intents=intents, channels=store.conversation_channels())


def _require(request: HttpRequest, *codenames: str) -> None:
    if not any(request.user.has_perm(f"trackers.{codename}") for codename in codenames):
        raise PermissionDenied


@require_GET
def inbox_view(request: HttpRequest) -> HttpResponse:
    """One page of message groups, the most recently said first, with the review tools."""
    _require(request, "view_conversation", "change_conversation")
    known = _known_intents()
    form = _filter_form(request.GET, known)
    number = _page_number(request.GET.get("p"))
    page = inbox.inbox_page(filters=form.filters(), number=number)
    query = request.GET.copy()
    query.pop("p", None)
    context = {
        **admin.site.each_context(request),
        "title": "NLU inbox",
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "relabel_intents": known,
        "can_change": request.user.has_perm("trackers.change_conversation"),
        "low_confidence": settings.CONVAPI_REVIEW_INTENT_THRESHOLD,
    }
    return TemplateResponse(request, "admin/trackers/inbox/messages.html", context)


@require_POST
def review_view(request: HttpRequest) -> HttpResponse:
    """Confirm or relabel the chosen groups: every message of each, under the page's filters."""
    _require(request, "change_conversation")
    query = QueryDict(request.POST.get("query", ""))
    known = _known_intents()
    filters = _filter_form(query, known).filters()
    try:
        message = _apply(request, filters, known)
    except review.ReviewError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, message)
    back = reverse("inbox:messages")
    return HttpResponseRedirect(f"{back}?{query.urlencode()}" if query else back)


def _apply(request: HttpRequest, filters: inbox.InboxFilters, known: list[str] | None) -> str:
    post = request.POST
    keys = [int(key) for key in post.getlist("group") if key.isdigit()]
    op = post.get("op", "")
    if post.get("confirm_only", "").isdigit():
        op, keys = "confirm", [int(post["confirm_only"])]
    if not keys:
        raise review.ReviewError("Choose the messages first.")
    if op == "confirm":
        count = inbox.groups_confirm(
            filters=filters, keys=keys, author=request.user, known_names=known
        )
        return f"Confirmed the predicted intent of {count} message(s)."
    if op == "relabel":
        intent = post.get("label", "").strip()
        if not intent:
            raise review.ReviewError("Choose the intent to relabel the messages with.")
        count = inbox.groups_relabel(
            filters=filters, keys=keys, intent=intent, author=request.user, known_names=known
        )
        return f"Relabelled {count} message(s) as {intent}."
    raise review.ReviewError(f"Unknown inbox operation '{op}'.")


@require_GET
def export_view(request: HttpRequest) -> HttpResponse:
    """``nlu.yml`` of the confirmed and relabelled messages under the page's filters."""
    _require(request, "view_conversation", "change_conversation")
    filters = _filter_form(request.GET, _known_intents()).filters()
    response = HttpResponse(inbox.reviewed_nlu(filters), content_type="application/x-yaml")
    response["Content-Disposition"] = 'attachment; filename="nlu.yml"'
    return response


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else 1


urlpatterns = [
    path("", admin.site.admin_view(inbox_view), name="messages"),
    path("review/", admin.site.admin_view(review_view), name="review"),
    path("nlu.yml", admin.site.admin_view(export_view), name="export"),
]
