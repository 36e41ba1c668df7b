"""URL configuration: the admin, the chat page, the Rasa API, and JSON for every unknown route."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from convapi.errors import handler404 as json_not_found
from convapi.views.chat import chat_page

urlpatterns = [
    # The reviewer's own pages inside the admin (its login, its look): before the admin's
    # catch-all routes.
    path("admin/inbox/", include("trackers.admin_inbox")),
    path("admin/dashboard/", include("trackers.admin_dashboard")),
    path("admin/", admin.site.urls),
    # The "try the bot" page (CONVAPI_CHAT_PAGE): a browser's chat over the socket.io channel.
    path("chat/", chat_page, name="chat"),
    path("chat", RedirectView.as_view(pattern_name="chat")),
    path("", include("convapi.urls")),
    # Anything else is a JSON 404 (never Django's HTML page, even with DEBUG on).
    re_path(r"^.*$", json_not_found),
]

handler400 = "convapi.errors.handler400"
handler403 = "convapi.errors.handler403"
handler404 = "convapi.errors.handler404"
handler500 = "convapi.errors.handler500"
