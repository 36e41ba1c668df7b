"""The reviewer's dashboard page in the admin (filled in by its own change)."""

from __future__ import annotations

urlpatterns: list = []
