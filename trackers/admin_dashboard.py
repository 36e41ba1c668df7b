"""The reviewer's dashboard in the admin: conversations, messages, intents, fallbacks and
failed actions over a range of days, drawn as SVG charts.

Behind the admin's login (``admin.site.admin_view``); reading needs the "view" (or, as
everywhere in the admin, "change") permission on conversations. The figures come from
``trackers.dashboard`` (a fixed handful of queries), the drawing from ``trackers.charts``.
"""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.safestring import mark_safe

from trackers import charts, store
from trackers.dashboard import Dashboard, dashboard_figures

app_name = "dashboard"

DEFAULT_DAYS = 30
# A year of daily bars is the most a chart shows legibly (and bounds the page's work).
MAX_DAYS = 366
FALLBACK_COLOR, ACTION_FALLBACK_COLOR, FAILURE_COLOR = "#c27c0e", "#7a4fa0", "#ba2121"


class RangeForm(forms.Form):
    """The range and channel, read from the query string."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    # Any name is accepted (one no conversation has shows zeros): the choices come from the
    # same pass over the conversations as the figures, after the form is read.
    channel = forms.CharField(required=False, label="Channel", widget=forms.Select)

    def offer_channels(self, channels: list[str]) -> None:
        chosen = self.data.get("channel", "")
        names = channels if chosen in channels or not chosen else [*channels, chosen]
        self.fields["channel"].widget.choices = [("", "all channels")] + [(c, c) for c in names]

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The range starts after it ends.")
        if start and end and (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        return cleaned


def _range_form(request: HttpRequest) -> RangeForm:
    """The form bound to the query string, the last DEFAULT_DAYS days filling what it lacks."""
    today = timezone.now().date()
    data = {
        "start": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "end": today.isoformat(),
        "channel": "",
    }
    data.update({key: request.GET[key] for key in data if request.GET.get(key)})
    return RangeForm(data)


def dashboard_view(request: HttpRequest) -> HttpResponse:
    if not any(
        request.user.has_perm(f"trackers.{codename}")
        for codename in ("view_conversation", "change_conversation")
    ):
        raise PermissionDenied
    form = _range_form(request)
    figures = None
    if form.is_valid():
        figures = dashboard_figures(
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            channel=form.cleaned_data["channel"],
        )
    form.offer_channels(figures.channels if figures else store.conversation_channels())
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "form": form,
        "figures": figures,
        "charts": _charts(figures) if figures else None,
        "totals": _totals(figures) if figures else None,
    }
    return TemplateResponse(request, "admin/trackers/dashboard/dashboard.html", context)


def _charts(figures: Dashboard) -> dict[str, str]:
    """The page's charts as SVG markup (built from escaped parts: safe to insert)."""
    days = [_day_label(day.day) for day in figures.days]
    drawn = {
        "conversations": charts.bar_chart(
            days, [day.conversations for day in figures.days], title="Conversations per day"
        ),
        "messages": charts.bar_chart(
            days, [day.user_messages for day in figures.days], title="User messages per day"
        ),
        "fallbacks": charts.line_chart(
            days,
            [
                charts.Series(
                    "NLU fallback", [d.nlu_fallback_rate for d in figures.days], FALLBACK_COLOR
                ),
                charts.Series(
                    "fallback action",
                    [d.fallback_action_rate for d in figures.days],
                    ACTION_FALLBACK_COLOR,
                ),
            ],
            title="Fallback rate per day (share of user messages)",
            value_label=charts.percent_label,
            whole=False,
        ),
        "failures": charts.bar_chart(
            days,
            [day.action_failures for day in figures.days],
            title="Failed custom actions per day",
            color=FAILURE_COLOR,
        ),
        "intents": charts.hbar_chart(
            [name for name, _ in figures.top_intents],
            [count for _, count in figures.top_intents],
            title="Top intents",
        ),
        "lengths": charts.bar_chart(
            [label for label, _ in figures.lengths],
            [count for _, count in figures.lengths],
            title="Conversations by length (user messages)",
            max_labels=len(figures.lengths),
        ),
    }
    return {name: mark_safe(svg) for name, svg in drawn.items()}  # noqa: S308 - escaped parts


def _totals(figures: Dashboard) -> list[tuple[str, str, str]]:
    """The range's headline figures: (id, value as shown, what it counts)."""

    def rate(value: float | None) -> str:
        return "–" if value is None else charts.percent_label(value)

    return [
        ("conversations", charts.count_label(figures.conversations), "conversations"),
        ("messages", charts.count_label(figures.user_messages), "user messages"),
        ("nlu-fallback", rate(figures.nlu_fallback_rate), "NLU fallback rate"),
        ("fallback-actions", rate(figures.fallback_action_rate), "fallback action rate"),
        ("failures", charts.count_label(figures.action_failures), "failed custom actions"),
    ]


def _day_label(day: date) -> str:
    return f"{day:%b} {day.day}"


urlpatterns = [path("", admin.site.admin_view(dashboard_view), name="dashboard")]
