from __future__ import annotations

from django.apps import AppConfig


class ServingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "serving"
    verbose_name = "Serving"

    def ready(self) -> None:
        from serving.archives import model_cache_check, model_storage_check
        from serving.work import register_job_kinds

        register_job_kinds()
        # A storage or cache that cannot work stops the start, not a request.
        model_storage_check()
        model_cache_check()
