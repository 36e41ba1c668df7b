"""The served-model row, readable by operators (its version is written only by the API)."""

from __future__ import annotations

from django.contrib import admin

from serving.models import ServedModel


@admin.register(ServedModel)
class ServedModelAdmin(admin.ModelAdmin):
    list_display = ["version", "path", "updated", "next_pull"]
    readonly_fields = ["version", "updated"]
