"""Jobs, their callback attempts, reminders and the served model, browsable read-only."""

from __future__ import annotations

from django.contrib import admin

from jobs.models import CallbackAttempt, Job, Reminder, ServedModel


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


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["name", "sender_id", "intent", "trigger_at", "status", "finished"]
    list_filter = ["status", "kill_on_user_msg"]
    search_fields = ["sender_id", "name", "intent"]


@admin.register(ServedModel)
class ServedModelAdmin(admin.ModelAdmin):
    list_display = ["version", "path", "updated", "next_pull"]
    readonly_fields = ["version", "updated"]
