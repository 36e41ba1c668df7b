"""The served-model row and the stored archives, readable by operators (written by the API).

The served archive is read-only here: a change must come with a new choice token, which only
``PUT``/``DELETE /model`` give, or no process would follow it.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from serving.archives import archive_delete
from serving.models import ModelArchive, ServedModel


@admin.register(ServedModel)
class ServedModelAdmin(admin.ModelAdmin):
    list_display = ["version", "archive", "updated", "next_pull"]
    readonly_fields = ["archive", "version", "choice", "updated"]


@admin.register(ModelArchive)
class ModelArchiveAdmin(admin.ModelAdmin):
    """Archives come only from trainings, uploads and pulls; an unserved one may be deleted."""

    list_display = ["name", "sha256", "model_id", "size", "storage", "created"]
    search_fields = ["name", "sha256", "model_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ModelArchive | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ModelArchive) -> None:
        archive_delete(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ModelArchive]) -> None:
        for archive in queryset:
            archive_delete(archive)
