"""URL configuration: the admin, the Rasa API, and JSON for every unknown route."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from convapi.errors import handler404 as json_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("convapi.urls")),
    # Anything else is a JSON 404 (never Django's HTML page, even with DEBUG on).
    re_path(r"^.*$", json_not_found),
]

handler400 = "convapi.errors.handler400"
handler403 = "convapi.errors.handler403"
handler404 = "convapi.errors.handler404"
handler500 = "convapi.errors.handler500"
