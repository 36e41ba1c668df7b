"""Jobs and their callback attempts, browsable read-only.

A finished model test (``/model/test/intents``, ``/model/test/stories``) shows its report on
its page: the key figures, the per-intent table or the wrong predictions, and the pictures
``rasa test`` draws. The pictures are drawn from the stored report when asked for, by a view
that needs the permission to view jobs, so every host can serve them and none stores them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.safestring import SafeString

from engine.reports import (
    MISSING_MATPLOTLIB,
    FiguresUnavailable,
    figures_available,
    report_figure,
    report_figure_names,
)
from jobs.models import CallbackAttempt, Job

# Rows of sklearn's classification report that are summaries, not labels.
SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg", "micro avg", "conversation_accuracy")


class CallbackAttemptInline(admin.TabularInline):
    model = CallbackAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "created", "status_code", "delivered", "duration_ms", "error"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "progress", "created", "finished", "callback_status"]
    list_filter = ["kind", "status", "callback_status"]
    search_fields = ["id", "callback_url"]
    date_hierarchy = "created"
    inlines = [CallbackAttemptInline]
    readonly_fields = [f.name for f in Job._meta.fields] + ["test_report"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        """A job is a record of what ran: its page has nothing to save."""
        return False

    def get_fieldsets(self, request: HttpRequest, obj: Job | None = None) -> list:
        fields = [f.name for f in Job._meta.fields]
        if obj is not None and test_report_context(obj) is not None:
            return [("Test report", {"fields": ["test_report"]}), (None, {"fields": fields})]
        return [(None, {"fields": fields})]

    @admin.display(description="Report")
    def test_report(self, obj: Job) -> SafeString:
        context = test_report_context(obj) or {}
        figures = context.pop("figure_names", [])
        context["figures"] = [
            (name, reverse("admin:jobs_job_figure", args=[obj.pk, name])) for name in figures
        ]
        return render_to_string("admin/jobs/job/test_report.html", context)

    def get_urls(self) -> list[URLPattern]:
        figure = path(
            "<path:object_id>/figure/<str:name>",
            self.admin_site.admin_view(self.figure_view),
            name="jobs_job_figure",
        )
        return [figure, *super().get_urls()]

    def figure_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """One of a finished test's pictures as PNG, for whoever may view the job."""
        job = self.get_object(request, unquote(object_id))
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        if job is None or test_report_context(job) is None:
            raise Http404("No finished model test has this id.")
        try:
            png = report_figure(job.result, name)
        except KeyError:
            raise Http404(f"This report has no figure {name}.") from None
        except FiguresUnavailable as exc:
            return HttpResponse(str(exc), status=503, content_type="text/plain")
        response = HttpResponse(png, content_type="image/png")
        # A finished job's report never changes: the browser may keep the picture.
        response["Cache-Control"] = "private, max-age=86400"
        return response


def test_report_context(job: Job) -> dict[str, Any] | None:
    """What the page shows of a succeeded model test, by the report's shape; None otherwise.

    The shape, not the kind, tells a test apart: ``jobs`` knows no kind of work by name.
    """
    result = job.result if job.status == Job.Status.SUCCEEDED else None
    if not isinstance(result, dict):
        return None
    if "actions" in result and "report" in result:
        context = _stories_context(result)
    elif isinstance(result.get("intent_evaluation"), dict):
        context = _intents_context(result["intent_evaluation"])
    else:
        return None
    names = report_figure_names(result)
    available = figures_available()
    context["figure_names"] = names if available else []
    context["figures_missing"] = MISSING_MATPLOTLIB if names and not available else ""
    return context


def _label_rows(report: Any) -> list[dict[str, Any]]:
    if not isinstance(report, dict):  # a cross-validation keeps one report per fold
        return []
    # "f1-score" cannot be read in a template: the rows are renamed.
    return [
        {
            "label": name,
            "precision": row["precision"],
            "recall": row["recall"],
            "f1": row["f1-score"],
            "support": row["support"],
        }
        for name, row in report.items()
        if name not in SUMMARY_ROWS and isinstance(row, dict) and "f1-score" in row
    ]


def _intents_context(evaluation: dict[str, Any]) -> dict[str, Any]:
    folds = evaluation["report"] if isinstance(evaluation.get("report"), list) else []
    return {
        "what": "Intents",
        "scores": [
            ("Accuracy", evaluation.get("accuracy", 0.0)),
            ("F1 score", evaluation.get("f1_score", 0.0)),
            ("Precision", evaluation.get("precision", 0.0)),
        ],
        "folds": len(folds),
        "errors": len(evaluation.get("errors", [])),
        "rows": _label_rows(evaluation.get("report")),
        "wrong": [],
    }


def _stories_context(result: dict[str, Any]) -> dict[str, Any]:
    stories = result["report"].get("conversation_accuracy", {})
    wrong = [a for a in result["actions"] if str(a["predicted"]) != str(a["action"])]
    return {
        "what": "Actions",
        "scores": [
            ("Accuracy", result.get("accuracy", 0.0)),
            ("F1 score", result.get("f1", 0.0)),
            ("Precision", result.get("precision", 0.0)),
        ],
        "stories": {"correct": stories.get("correct", 0), "total": stories.get("total", 0)},
        "errors": len(wrong),
        "rows": _label_rows(result["report"]),
        "wrong": wrong,
    }
