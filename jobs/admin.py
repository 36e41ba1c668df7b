"""Jobs and their callback attempts, browsable read-only."""

from __future__ import annotations

from django.contrib import admin

from jobs.models import CallbackAttempt, Job


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
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
